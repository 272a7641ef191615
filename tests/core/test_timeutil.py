"""Instants given by users (``--as-of``, ``?as_of=``): Asia/Shanghai, and never in the future."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.exceptions import BadValue
from core.timeutil import (
    DATE_PATTERN,
    INSTANT_PATTERN,
    MONTH_PATTERN,
    TZ,
    month_is_over,
    parse_date,
    parse_instant,
    parse_month,
    prev_month,
    resolve_as_of,
)

NOW = datetime(2024, 12, 1, 12, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, NOW, id="absent-is-now"),
        pytest.param("  ", NOW, id="blank-is-now"),
        pytest.param("2023-06-10", datetime(2023, 6, 10, tzinfo=TZ), id="date"),
        pytest.param("2023-06-10T00:00:00", datetime(2023, 6, 10, tzinfo=TZ), id="naive"),
        pytest.param("2023-06-09T16:00:00Z", datetime(2023, 6, 10, tzinfo=TZ), id="utc"),
        pytest.param("2024-12-02T12:00:00+08:00", NOW + timedelta(days=1), id="a-day-ahead"),
    ],
)
def test_readable_instants_up_to_a_day_ahead(text: str | None, expected: datetime) -> None:
    value = resolve_as_of(text, NOW)
    assert value == expected and value.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("2024-12-02T12:00:00.000001+08:00", "lies in the future", id="a-day-and-1us"),
        pytest.param("2199-12-31", "lies in the future", id="far-future"),
        pytest.param("1969-12-31T15:59:59Z", "before 1971", id="before-1971"),
        pytest.param("0001-01-01T00:00:00+14:00", "before 1971", id="year-1-would-overflow"),
        pytest.param("yesterday", "not an ISO 8601 time", id="words"),
    ],
)
def test_unreadable_past_1970_or_future_instants_are_refused(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        resolve_as_of(text, NOW.astimezone(UTC))


def test_prev_month_crosses_the_year() -> None:
    assert (prev_month("2024-01"), prev_month("2024-03")) == ("2023-12", "2024-02")


def test_a_month_is_over_from_the_first_instant_of_the_next_in_shanghai() -> None:
    """May 2023 ends at 2023-06-01 00:00 Asia/Shanghai, which is 2023-05-31 16:00 UTC."""
    assert not month_is_over("2023-05", datetime(2023, 5, 31, 15, 59, 59, 999999, tzinfo=UTC))
    assert month_is_over("2023-05", datetime(2023, 5, 31, 16, 0, tzinfo=UTC))


#: Digits that Python's ``\\d``, ``int()`` and ``fromisoformat`` take but a user never means.
NOT_ASCII = {
    "full-width": str.maketrans("0123456789", "０１２３４５６７８９"),
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "devanagari": str.maketrans("0123456789", "०१२३४५६७८९"),
}


@pytest.mark.parametrize("digits", NOT_ASCII.values(), ids=NOT_ASCII.keys())
@pytest.mark.parametrize(
    ("parse", "text", "code"),
    [
        pytest.param(parse_month, "2024-07", "bad_month", id="month"),
        pytest.param(parse_date, "2024-07-01", "bad_date", id="date"),
        pytest.param(parse_instant, "2024-07-01", "bad_instant", id="instant-date"),
        pytest.param(parse_instant, "2024-07-01T08:00:00+08:00", "bad_instant", id="instant"),
    ],
)
def test_only_ascii_digits_are_digits(parse: Any, text: str, code: str, digits: Any) -> None:
    """The ASCII value parses; the same value in other digits is refused with its code."""
    parse(text)
    with pytest.raises(BadValue) as refused:
        parse(text.translate(digits))
    assert refused.value.code == code and refused.value.params["value"] == text.translate(digits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-07", (2024, 7), id="plain"),
        pytest.param("1900-01", (1900, 1), id="first-year"),
        pytest.param("2999-12", (2999, 12), id="last-year"),
    ],
)
def test_months(text: str, expected: tuple[int, int]) -> None:
    assert parse_month(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2024-13", "2024-00", "1899-12", "3000-01", "2024-7", " 2024-07", "2024-07\n", "202407", ""],
)
def test_not_months(text: str) -> None:
    with pytest.raises(BadValue, match="not a month"):
        parse_month(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        pytest.param("2024-02-29", True, id="leap-day"),
        pytest.param("2000-02-29", True, id="leap-day-400"),
        pytest.param("2023-02-29", False, id="no-leap-day"),
        pytest.param("2100-02-29", False, id="no-leap-day-100"),
        pytest.param("2023-04-31", False, id="april-31"),
        pytest.param("2023-12-31", True, id="december-31"),
        pytest.param("2023-6-1", False, id="unpadded"),
        pytest.param("1686355200", False, id="epoch-seconds"),
        pytest.param("2023-06-10T00:00:00", False, id="a-time"),
    ],
)
def test_dates_are_real_calendar_days(text: str, ok: bool) -> None:
    if ok:
        assert parse_date(text).isoformat() == text
    else:
        with pytest.raises(BadValue, match="not a date"):
            parse_date(text)


@pytest.mark.parametrize(
    ("pattern", "parse"),
    [(MONTH_PATTERN, parse_month), (DATE_PATTERN, parse_date), (INSTANT_PATTERN, parse_instant)],
    ids=["month", "date", "instant"],
)
def test_what_the_documented_pattern_matches_the_parser_accepts(pattern: str, parse: Any) -> None:
    """The API documents these patterns: every string matching one parses, and the pattern
    refuses what the parser refuses (checked on generated strings, both ways)."""
    compiled = re.compile(pattern)
    for text in _samples(pattern):
        parse(text)
    for text in ["", "x", "２０２４-07", "2024-07-01T25:00", "2024-02-30", "2024-07 ", "9999-12"]:
        assert compiled.fullmatch(text) is None
        with pytest.raises(BadValue):
            parse(text)


def _samples(pattern: str) -> list[str]:
    """300 strings the pattern matches (hypothesis' regex strategy, derandomized)."""
    found: list[str] = []

    @given(st.from_regex(pattern, fullmatch=True))
    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    def collect(text: str) -> None:
        found.append(text)

    collect()
    return found

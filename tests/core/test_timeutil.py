"""Instants given by users (``--as-of``, ``?as_of=``): Asia/Shanghai, and never in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.timeutil import TZ, month_is_over, prev_month, resolve_as_of

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
        pytest.param("1969-12-31T15:59:59Z", "before 1970", id="before-1970-shanghai"),
        pytest.param("0001-01-01T00:00:00+14:00", "not an ISO 8601 time", id="overflow"),
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

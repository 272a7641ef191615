"""Amounts in Chinese capital numerals (大写): examples and a round trip over random fen."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.settlement.capitals import DIGITS, capitals

_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_BIG = {"万": 10**4, "亿": 10**8}


def parse(text: str) -> int:
    """Read capital numerals back into fen (the test's own, independent reader)."""
    sign = -1 if text.startswith("负") else 1
    text = text.removeprefix("负")
    yuan_part, _, rest = text.partition("元") if "元" in text else ("", "", text)
    total = section = digit = 0
    for ch in yuan_part:
        if ch in DIGITS:
            digit = DIGITS.index(ch)
        elif ch in _UNITS:
            section += digit * _UNITS[ch]
            digit = 0
        elif ch in _BIG:
            if ch == "亿":
                total = (total + section + digit) * _BIG[ch]
            else:
                total += (section + digit) * _BIG[ch]
            section = digit = 0
    yuan = total + section + digit
    jiao = fen = 0
    if m := re.search(r"(.)角", rest):
        jiao = DIGITS.index(m.group(1))
    if m := re.search(r"(.)分", rest):
        fen = DIGITS.index(m.group(1))
    return sign * (yuan * 100 + jiao * 10 + fen)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "零元整"),
        (5, "伍分"),
        (50, "伍角整"),
        (15, "壹角伍分"),
        (100, "壹元整"),
        (1000, "壹拾元整"),
        (100005, "壹仟元零伍分"),
        (100500, "壹仟零伍元整"),
        (105000, "壹仟零伍拾元整"),
        (123456, "壹仟贰佰叁拾肆元伍角陆分"),
        (1000000, "壹万元整"),
        (1000100, "壹万零壹元整"),
        (10010000, "壹拾万零壹佰元整"),
        (50000000, "伍拾万元整"),
        (48110060, "肆拾捌万壹仟壹佰元陆角整"),
        (10000000000, "壹亿元整"),
        (10001000000, "壹亿零壹万元整"),
        (-2050, "负贰拾元伍角整"),
    ],
)
def test_examples(fen: int, text: str) -> None:
    assert capitals(fen) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_round_trip_and_form(fen: int) -> None:
    """Every amount reads back to itself; no doubled or trailing 零; 整 only without 分."""
    text = capitals(fen)
    assert parse(text) == fen
    assert set(text) <= set(DIGITS + "拾佰仟万亿元角分整负")
    assert "零零" not in text and not text.endswith("零")
    assert text.endswith("整") == (abs(fen) % 10 == 0)


def test_refuses_floats() -> None:
    with pytest.raises(TypeError):
        capitals(1.5)  # type: ignore[arg-type]

"""Money is integer fen; yuan exist only as exactly formatted strings (SPEC §2)."""

from __future__ import annotations

import pytest

from core.money import fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [
        pytest.param(0, "0.00", id="zero"),
        pytest.param(5, "0.05", id="5-fen"),
        pytest.param(20, "0.20", id="one-parcel"),
        pytest.param(100, "1.00", id="one-yuan"),
        pytest.param(2460, "24.60", id="trailing-zero"),
        pytest.param(50_000_000, "500000.00", id="center-award-cap"),
        pytest.param(-5, "-0.05", id="negative-below-one-yuan"),
        pytest.param(-2460, "-24.60", id="negative-adjustment"),
        pytest.param(10**20 + 1, "1000000000000000000.01", id="beyond-float-precision"),
    ],
)
def test_fen_to_yuan_formats_exactly(fen: int, yuan: str) -> None:
    assert fen_to_yuan(fen) == yuan


@pytest.mark.parametrize(
    "value",
    [pytest.param(0.2, id="float"), pytest.param(True, id="bool"), pytest.param("20", id="str")],
)
def test_fen_to_yuan_refuses_anything_but_int(value: object) -> None:
    with pytest.raises(TypeError, match="integer fen"):
        fen_to_yuan(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        pytest.param("0.20", 20, id="rate"),
        pytest.param("500000", 50_000_000, id="whole-yuan"),
        pytest.param("24.6", 2460, id="one-decimal"),
        pytest.param(" 1.05 ", 105, id="spaces"),
        pytest.param("-0.05", -5, id="negative"),
    ],
)
def test_yuan_to_fen_parses_exactly(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("0.205", id="sub-fen"),
        pytest.param("abc", id="not-a-number"),
        pytest.param("1e3", id="exponent"),
        pytest.param("", id="empty"),
    ],
)
def test_yuan_to_fen_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError, match="not a yuan amount"):
        yuan_to_fen(text)


def test_sums_of_fen_are_exact_where_floats_drift() -> None:
    """Ten thousand parcels at 0.20 yuan: 2000.00 exactly (a float sum of 0.1s would drift)."""
    assert sum(0.1 for _ in range(10)) != 1.0  # the trap integer fen avoids
    total = sum([20] * 10_000)
    assert total == 200_000
    assert fen_to_yuan(total) == "2000.00"


@pytest.mark.parametrize("fen", [0, 1, 7, 20, 99, 100, 101, 2460, 123_456_789])
def test_yuan_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen
    assert yuan_to_fen(fen_to_yuan(-fen)) == -fen

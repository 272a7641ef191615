"""Pro-rating to the fen (SPEC §11): properties over random claims and budgets."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy.settlement.prorate import allocate, claim_of

CARRIERS = ("DEPPON", "EMS", "JD", "JT", "SF", "STO", "YTO", "YUNDA", "ZTO")
claims_st = st.dictionaries(
    st.sampled_from(CARRIERS), st.integers(min_value=-50_000, max_value=10**9), min_size=1
)


@given(claims_st, st.integers(min_value=0, max_value=2 * 10**9))
def test_payables_fit_the_budget_exactly(claims: dict[str, int], remaining: int) -> None:
    """Σ payable = min(remaining, Σ positive claims); no payable above its claim; each within
    one fen of its exact share; a negative claim pays 0 and is carried as it is."""
    result = allocate(claims, remaining)
    total = sum(c for c in claims.values() if c > 0)
    assert result.total_claim == total
    assert sum(result.payable.values()) == min(remaining, total)
    assert result.prorated == (total > remaining)
    for code, claim in claims.items():
        pay = result.payable[code]
        assert 0 <= pay <= max(claim, 0)
        assert result.carried[code] == min(claim, 0)
        if claim > 0 and result.prorated:
            exact = Fraction(claim * remaining, total)
            assert abs(pay - exact) < 1
        elif claim > 0:
            assert pay == claim


@given(claims_st, st.integers(min_value=0, max_value=2 * 10**9))
def test_leftover_fen_go_to_the_largest_fractions_then_carrier_code(
    claims: dict[str, int], remaining: int
) -> None:
    """A carrier that got the extra fen has a fractional part at least as large as one that
    did not (equal: the earlier carrier code)."""
    result = allocate(claims, remaining)
    positive = {c: v for c, v in claims.items() if v > 0}
    if not result.prorated:
        return
    total = result.total_claim
    frac = {c: (v * remaining) % total for c, v in positive.items()}
    extra = {c for c, v in positive.items() if result.payable[c] > v * remaining // total}
    for got in extra:
        for other in set(positive) - extra:
            assert (frac[got], other) > (frac[other], got) or frac[got] > frac[other]


@pytest.mark.parametrize(
    ("claims", "remaining", "payable"),
    [
        pytest.param({"ZTO": 60, "YTO": 60}, 101, {"ZTO": 50, "YTO": 51}, id="tie-by-code"),
        pytest.param({"A": 1, "B": 1, "C": 1}, 2, {"A": 1, "B": 1, "C": 0}, id="three-way-tie"),
        pytest.param({"A": 300, "B": 100}, 0, {"A": 0, "B": 0}, id="budget-spent"),
        pytest.param({"A": 300, "B": -50}, 100, {"A": 100, "B": 0}, id="negative-not-counted"),
        pytest.param({"A": 300, "B": 100}, None, {"A": 300, "B": 100}, id="no-budget"),
        pytest.param({"A": 2, "B": 1}, 2, {"A": 1, "B": 1}, id="remainders-two-thirds"),
    ],
)
def test_examples(claims: dict[str, int], remaining: int | None, payable: dict[str, int]) -> None:
    assert allocate(claims, remaining).payable == payable


def test_claim_is_claimed_minus_held_plus_adjustment() -> None:
    assert claim_of(1000, 200, -900) == -100
    carried = allocate({"ZTO": claim_of(1000, 200, -900)}, None)
    assert (carried.payable, carried.carried) == ({"ZTO": 0}, {"ZTO": -100})


def test_a_negative_remaining_budget_is_a_bug() -> None:
    with pytest.raises(ValueError, match="remaining"):
        allocate({"A": 1}, -1)

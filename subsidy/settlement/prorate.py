"""A carrier's claim and the exact pro-rating of a month's claims to a budget (SPEC §11).

Pure functions of integers (fen). ``claim = claimed − held + adjustment``. A negative claim
pays 0 and is carried, as it is, into the carrier's next statement. When the month's total
claim (the sum of the positive claims) exceeds what is left of the year's budget, each
payable is ``floor(claim × remaining / total)`` and the fen left over go one each to the
largest fractional parts (ties: carrier code, ascending), so the payables add up to the
remaining budget exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def claim_of(claimed_fen: int, held_fen: int, adjustment_fen: int) -> int:
    """``claimed − held + adjustment`` in fen (may be negative)."""
    return claimed_fen - held_fen + adjustment_fen


@dataclass(frozen=True)
class Allocation:
    """The outcome of pro-rating one month: payables per carrier and what was carried."""

    payable: dict[str, int]
    #: per carrier, the negative claim carried into its next statement (0 or less)
    carried: dict[str, int]
    #: the sum of the positive claims
    total_claim: int
    #: whether the payables were scaled down to fit the remaining budget
    prorated: bool


def allocate(claims: Mapping[str, int], remaining: int | None) -> Allocation:
    """Payables for ``claims`` (carrier -> claim, fen) within ``remaining`` fen of budget.

    ``remaining`` ``None`` means no budget was set: every positive claim is paid in full.
    A claim of 0 or less pays 0; a negative one is carried (``carried``).
    """
    if remaining is not None and remaining < 0:
        raise ValueError(f"remaining budget must be >= 0 fen, got {remaining}")
    positive = {c: v for c, v in claims.items() if v > 0}
    total = sum(positive.values())
    carried = {c: min(v, 0) for c, v in claims.items()}
    if remaining is None or total <= remaining:
        payable = {c: max(v, 0) for c, v in claims.items()}
        return Allocation(payable, carried, total, prorated=False)
    payable = dict.fromkeys(claims, 0)
    fractions: dict[str, int] = {}
    for code, claim in positive.items():
        payable[code], fractions[code] = divmod(claim * remaining, total)
    left = remaining - sum(payable.values())
    for code in sorted(positive, key=lambda c: (-fractions[c], c))[:left]:
        payable[code] += 1
    return Allocation(payable, carried, total, prorated=True)

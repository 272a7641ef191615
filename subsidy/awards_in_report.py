"""Which center awards count in which program total (SPEC §7, "counted once").

An award counts once: in the program total of the month of its accreditation, and of every
summary containing that month. When it was recorded after that month was closed (the closed
report cannot change), it counts in the first month after it that was still open when the
award was recorded, as a prior-period line. Reports of later months list it as accredited
earlier without adding it; reports of earlier months do not list it.

Pure functions of plain data: the award's accreditation date and recording time, and the
closing time of each closed month (ISO 8601 text, Asia/Shanghai, as the store writes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.timeutil import next_month


def counting_month(accredited_on: str, recorded_at: str, closed_at: Mapping[str, str]) -> str:
    """The month (``YYYY-MM``) whose program total an award counts in.

    ``closed_at`` maps each closed month to its closing time; a month closed before (or at the
    second of) the award's recording is skipped.
    """
    month = accredited_on[:7]
    while month in closed_at and closed_at[month] <= recorded_at:
        month = next_month(month)
    return month


def awards_in_month(awards: Iterable[Mapping[str, Any]], month: str) -> list[dict[str, Any]]:
    """The awards a report of ``month`` lists, each marked.

    ``awards`` carry ``counted_in`` (:func:`counting_month`). Those counted in a later month
    are left out; the others get ``counted`` (adds to this month's program total) and
    ``prior_period`` (counted here, though accredited in an earlier, closed month).
    """
    out = []
    for award in awards:
        counted_in = award["counted_in"]
        if counted_in > month:
            continue
        out.append(
            {
                **award,
                "counted": counted_in == month,
                "prior_period": counted_in == month and award["accredited_on"][:7] != month,
            }
        )
    return out


def counted_fen(awards: Iterable[Mapping[str, Any]], first: str, last: str) -> int:
    """The fen of the awards counted in a program total of ``first``..``last`` (inclusive)."""
    return sum(a["award_fen"] for a in awards if first <= a["counted_in"] <= last)

"""Which center awards count in which program total (SPEC §7, "counted once").

An award counts once: in the program total of the month of its accreditation, and of every
summary containing that month. When it was recorded after that month was closed (the closed
report cannot change), it counts in the first month after it that was still open when the
award was recorded, as a prior-period line. Reports of later months list it as accredited
earlier without adding it; reports of earlier months do not list it.

Pure functions of the awards (:class:`subsidy.models.ReportAward`), their recording time and
the closing time of each closed month (ISO 8601 text, Asia/Shanghai, as the store writes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from core.timeutil import next_month
from subsidy.models import ReportAward


def counting_month(
    accredited_on: date | str, recorded_at: str, closed_at: Mapping[str, str]
) -> str:
    """The month (``YYYY-MM``) whose program total an award counts in.

    ``closed_at`` maps each closed month to its closing time; a month closed before (or at the
    second of) the award's recording is skipped.
    """
    month = str(accredited_on)[:7]
    while month in closed_at and closed_at[month] <= recorded_at:
        month = next_month(month)
    return month


def _counted_in(award: ReportAward) -> str:
    return award.counted_in or str(award.accredited_on)[:7]


def awards_in_month(awards: Iterable[ReportAward], month: str) -> list[ReportAward]:
    """The awards a report of ``month`` lists, each marked.

    Those counted in a later month (:func:`counting_month`, ``counted_in``) are left out; the
    others get ``counted`` (adds to this month's program total) and ``prior_period`` (counted
    here, though accredited in an earlier, closed month).
    """
    out = []
    for award in awards:
        counted_in = _counted_in(award)
        if counted_in > month:
            continue
        here = counted_in == month
        prior = here and str(award.accredited_on)[:7] != month
        out.append(award.model_copy(update={"counted": here, "prior_period": prior}))
    return out


def counted_fen(awards: Iterable[ReportAward], first: str, last: str) -> int:
    """The fen of the awards counted in a program total of ``first``..``last`` (inclusive)."""
    return sum(a.award_fen for a in awards if first <= _counted_in(a) <= last)

"""What closing a month left in the store, and the prior-period adjustments it gives (SPEC §6).

A closed month has, in SQLite: its freeze record (:class:`subsidy.models.ClosedMonth`), its
report as frozen (served ever after, whatever ``as_of`` is asked: :func:`frozen_report`), and
its figures per carrier plus the adjustment lines it carried (``closed_month_figures``).

Events that arrive later for a closed month ``C`` change nothing in ``C``. They show up as a
*prior-period adjustment* line, per carrier, in the report of the next month that is still
open: for every closed month ``C`` in the run of closed months just before an open month
``M`` (:func:`adjustment_sources`)::

    adjustment(C, carrier) = figures of C now  -  (frozen figures of C
                                                    + adjustments for C frozen in later closes)

so a difference is reported exactly once, in the first open report after it appeared. When
``M`` is closed in turn, its adjustment lines are frozen with it. Every count is a signed
difference (an adjustment may be negative, e.g. a parcel pending at the close that later ran
out of time).
"""

from __future__ import annotations

import json

import polars as pl

from core.policy import Policy
from core.store import Store
from core.timeutil import prev_month
from subsidy.models import Adjustment, ClosedMonth, Figures, MonthlyReport

CLOSED_COLUMNS = ", ".join(ClosedMonth.model_fields)


def closed_months(store: Store) -> list[ClosedMonth]:
    """Every closed month, oldest first."""
    with store.connect() as db:
        rows = db.execute(f"SELECT {CLOSED_COLUMNS} FROM closed_months ORDER BY month")
        return [ClosedMonth(**dict(r)) for r in rows]


def closed_set(store: Store) -> set[str]:
    """The closed months (``YYYY-MM``)."""
    with store.connect() as db:
        return {r[0] for r in db.execute("SELECT month FROM closed_months")}


def frozen_report(store: Store, month: str) -> MonthlyReport | None:
    """The report of a closed month as it was frozen; ``None`` while the month is open."""
    with store.connect() as db:
        row = db.execute("SELECT report_json FROM closed_months WHERE month=?", (month,)).fetchone()
    return None if row is None else MonthlyReport.model_validate_json(row[0])


def adjustment_sources(closed: set[str], month: str) -> list[str]:
    """The closed months whose later changes are reported in ``month``'s report.

    That is the run of closed months immediately before ``month`` (newest first); ``month``
    is then their next open month.
    """
    out: list[str] = []
    cur = prev_month(month)
    while cur in closed:
        out.append(cur)
        cur = prev_month(cur)
    return out


def baselines(store: Store, periods: list[str]) -> dict[tuple[str, str], Figures]:
    """Per ``(period, carrier)``: frozen figures plus adjustments for it frozen since."""
    out: dict[tuple[str, str], Figures] = {}
    if not periods:
        return out
    with store.connect() as db:
        rows = db.execute(
            "SELECT period, carrier, eligible_parcels, subsidy_fen, pending_parcels, ineligible"
            f" FROM closed_month_figures WHERE period IN ({','.join('?' * len(periods))})",
            periods,
        ).fetchall()
    for r in rows:
        key = (r["period"], r["carrier"])
        out[key] = out.get(key, Figures()) + Figures.of_counts(dict(r), json.loads(r["ineligible"]))
    return out


def adjustment_lines(
    counts: pl.DataFrame,
    policy: Policy,
    sources: list[str],
    frozen: dict[tuple[str, str], Figures],
    carrier: str | None,
) -> list[Adjustment]:
    """The adjustment lines of a report whose adjustment sources are ``sources``: per closed
    period and carrier (``carrier``'s only when given), the figures now (``counts``, per
    ``(month, carrier)``) minus ``frozen`` (:func:`baselines`); lines of zeros are left out."""
    lines: list[Adjustment] = []
    for period in sorted(sources):
        live = {
            rec["carrier"]: Figures.of_counts(rec)
            for rec in counts.filter(pl.col("month") == period).iter_rows(named=True)
        }
        before = {c: fig for (p, c), fig in frozen.items() if p == period}
        for code in sorted(set(live) | set(before)):
            if carrier is not None and code != carrier:
                continue
            delta = live.get(code, Figures()) - before.get(code, Figures())
            if delta:
                lines.append(delta.adjustment(code, policy.carriers.get(code, ""), period))
    return lines

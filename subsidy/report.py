"""Monthly per-carrier reports (SPEC §6, §8) built from parcel statuses.

Everything is integer fen; yuan appear only as formatted strings. A carrier with no in-scope
parcel in the month is omitted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store
from core.timeutil import month_bounds, to_local
from subsidy.awards_in_report import awards_in_month, counted_fen, counting_month
from subsidy.results import month_counts
from subsidy.rule import INELIGIBLE_REASONS, parcel_statuses
from subsidy.sites import load_sites


def rates_in_month(policy: Policy, month: str) -> list[int]:
    """The distinct rates (fen) in force on the month's days that lie in the policy window."""
    start, end = month_bounds(month)
    lo, hi = max(start, policy.window_start), min(end, policy.window_end)
    if lo >= hi:
        return []
    rates = []
    day: date = lo.date()
    last = (hi - timedelta(microseconds=1)).date()
    while day <= last:
        rate = policy.rate_on(day)
        if rate is not None and rate not in rates:
            rates.append(rate)
        day += timedelta(days=1)
    return rates


def carrier_month_counts(statuses: pl.LazyFrame) -> pl.LazyFrame:
    """Per ``(month, carrier)``: eligible, subsidy, pending and ineligible per reason."""
    return (
        statuses.group_by("month", "carrier")
        .agg(
            (pl.col("status") == "eligible").sum().cast(pl.Int64).alias("eligible_parcels"),
            pl.col("subsidy_fen").sum().cast(pl.Int64).alias("subsidy_fen"),
            (pl.col("status") == "pending").sum().cast(pl.Int64).alias("pending_parcels"),
            *((pl.col("reason") == r).sum().cast(pl.Int64).alias(r) for r in INELIGIBLE_REASONS),
        )
        .sort("month", "carrier")
    )


def carrier_rows(counts: pl.DataFrame, policy: Policy, month: str) -> list[dict[str, Any]]:
    """The ``carriers`` list of the report JSON from :func:`carrier_month_counts` rows."""
    rates = rates_in_month(policy, month)
    rows = []
    for rec in counts.filter(pl.col("month") == month).sort("carrier").iter_rows(named=True):
        rows.append(
            {
                "carrier": rec["carrier"],
                "carrier_name": policy.carriers.get(rec["carrier"], ""),
                "eligible_parcels": rec["eligible_parcels"],
                "rate_fen": rates[0] if len(rates) == 1 else None,
                "rates_fen": rates,
                "subsidy_fen": rec["subsidy_fen"],
                "subsidy_yuan": fen_to_yuan(rec["subsidy_fen"]),
                "pending_parcels": rec["pending_parcels"],
                "ineligible": {r: rec[r] for r in INELIGIBLE_REASONS},
            }
        )
    return rows


def totals_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over carrier rows."""
    subsidy = sum(r["subsidy_fen"] for r in rows)
    return {
        "eligible_parcels": sum(r["eligible_parcels"] for r in rows),
        "subsidy_fen": subsidy,
        "subsidy_yuan": fen_to_yuan(subsidy),
        "pending_parcels": sum(r["pending_parcels"] for r in rows),
        "ineligible": {r: sum(row["ineligible"][r] for row in rows) for r in INELIGIBLE_REASONS},
    }


def center_awards(store: Store, as_of: datetime) -> list[dict[str, Any]]:
    """The center awards (SPEC §7) accredited by ``as_of``'s Asia/Shanghai date, in fen and
    yuan (a look back shows no award accredited after it), each with the month it counts in
    (``counted_in``, :func:`subsidy.awards_in_report.counting_month`)."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT a.site_code, s.name AS site_name, a.accredited_on, a.document_no,"
            " a.award_fen, a.status, a.created_at FROM center_awards a"
            " LEFT JOIN sites s ON s.site_code = a.site_code"
            " WHERE a.accredited_on <= ? ORDER BY a.id",
            (to_local(as_of).date().isoformat(),),
        ).fetchall()
        closed = dict(db.execute("SELECT month, closed_at FROM closed_months").fetchall())
    return [
        {
            **{k: r[k] for k in r.keys() if k != "created_at"},  # noqa: SIM118 (a Row iterates values)
            "award_yuan": fen_to_yuan(r["award_fen"]),
            "counted_in": counting_month(r["accredited_on"], r["created_at"], closed),
        }
        for r in rows
    ]


def store_statuses(store: Store, policy: Policy, as_of: datetime) -> pl.LazyFrame:
    """The rule applied to everything in the store, as of ``as_of``."""
    return parcel_statuses(store.scan_events(), load_sites(store).lazy(), policy, as_of)


def assemble_report(
    counts: pl.DataFrame,
    policy: Policy,
    month: str,
    as_of: datetime,
    awards: list[dict[str, Any]],
    *,
    adjustments_fen: int = 0,
) -> dict[str, Any]:
    """The SPEC §8 report document from per-(month, carrier) counts.

    ``program_total_fen`` is the month's parcel subsidies, plus ``adjustments_fen`` (prior-period
    adjustments, see :mod:`subsidy.closing`), plus the center awards counted in this month
    (:mod:`subsidy.awards_in_report`; the others are listed, marked not counted).
    """
    rows = carrier_rows(counts, policy, month)
    totals = totals_of(rows)
    awards = awards_in_month(awards, month)  # SPEC §7: an award counts once
    program = totals["subsidy_fen"] + adjustments_fen + counted_fen(awards, month, month)
    return {
        "month": month,
        "as_of": to_local(as_of).isoformat(),
        "policy": policy.name,
        "carriers": rows,
        "totals": totals,
        "center_awards": awards,
        "program_total_fen": program,
        "program_total_yuan": fen_to_yuan(program),
    }


def monthly_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> dict[str, Any]:
    """The SPEC §8 report of ``month`` as of ``as_of`` (only ``carrier``'s row if given).

    Computed from the events, ignoring month closing; what users are served (frozen figures
    of closed months, prior-period adjustments) is :func:`subsidy.closing.served_report`.
    """
    month_bounds(month)  # validates the text
    # served from the stored results when they answer as_of (subsidy.results)
    counts = month_counts(store, policy, [month], as_of, carrier=carrier)
    return assemble_report(counts, policy, month, as_of, center_awards(store, as_of))

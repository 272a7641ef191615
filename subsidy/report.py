"""The monthly report (SPEC §8, with §6's adjustments and §7's awards): built and served.

The way of a report, top to bottom::

    served_report      a closed month: its frozen report (subsidy.closed.frozen_report);
                       an open one: live_report; with ``carrier``, that carrier's view
    live_report        the month's counts and its adjustment sources' counts, from the
                       published results (subsidy.refresh.month_counts: never waiting for a
                       publication; the rule of subsidy.rule runs only where nothing is
                       published), the adjustment lines (subsidy.closed) and the center
                       awards, put together by build_report
    build_report       the one place a MonthlyReport (subsidy.models) is assembled

Everything is integer fen; yuan appear only as formatted strings. A carrier with no in-scope
parcel in the month is omitted. ``as_of`` is an aware instant, resolved once at the edge
(:func:`core.timeutil.resolve_as_of`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store
from core.timeutil import month_bounds, to_local
from subsidy.awards_in_report import awards_in_month, counted_fen, counting_month
from subsidy.closed import (
    adjustment_lines,
    adjustment_sources,
    baselines,
    closed_set,
    frozen_report,
)
from subsidy.exceptions import InvalidValueError
from subsidy.models import Adjustment, CarrierRow, Figures, MonthlyReport, ReportAward, added_up
from subsidy.refresh import month_counts


def served_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> MonthlyReport:
    """The report users are served: a closed month's frozen report (whatever ``as_of``), else
    the live report as of ``as_of``; with ``carrier``, that carrier's view of either."""
    frozen = frozen_report(store, month)
    if frozen is None:
        return live_report(store, policy, month, as_of, carrier=carrier)
    return frozen if carrier is None else frozen.carrier_view(carrier)


def live_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
    counts: pl.DataFrame | None = None,
    latest: bool = False,
) -> MonthlyReport:
    """The report of ``month`` as of ``as_of`` from the events, with the prior-period
    adjustments of the closed months just before it; with ``carrier``, that carrier's view.

    ``counts`` (per (month, carrier), :data:`subsidy.counts.COUNTS_SCHEMA`, covering the month
    and its adjustment sources) replaces the stored results: Spark's (subsidy.spark_report).
    Without them, the published results are served (:func:`subsidy.refresh.month_counts`);
    ``latest``: the figures of the store as it is now, published first (closing a month).
    """
    month_bounds(month)  # validates the text
    sources = adjustment_sources(closed_set(store), month)
    if counts is None:
        counts = month_counts(
            store, policy, [month, *sources], as_of, carrier=carrier, latest=latest
        )
    adjustments = adjustment_lines(counts, policy, sources, baselines(store, sources), carrier)
    report = build_report(counts, policy, month, as_of, center_awards(store, as_of), adjustments)
    return report if carrier is None else report.carrier_view(carrier)


def report_from_counts(
    store: Store, policy: Policy, month: str, as_of: datetime, counts: pl.DataFrame
) -> MonthlyReport:
    """The report :func:`served_report` serves for ``month``, its carrier figures taken from
    ``counts`` (per (month, carrier), :data:`subsidy.counts.COUNTS_SCHEMA`) computed elsewhere:
    Spark's (:mod:`subsidy.spark_report`). An open month: :func:`live_report` as of ``as_of``.
    A closed month: its frozen report with the carrier rows, totals and program total rebuilt
    from ``counts`` (computed at the close's store version and ``as_of``, which ``as_of`` must
    then be); the awards, adjustments and freeze record as frozen.
    """
    frozen = frozen_report(store, month)
    if frozen is None:
        return live_report(store, policy, month, as_of, counts=counts)
    rebuilt = build_report(
        counts, policy, month, as_of, frozen.center_awards, frozen.prior_period_adjustments
    )
    return rebuilt.model_copy(update={"closed": frozen.closed})


def monthly_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> MonthlyReport:
    """The SPEC §8 report of ``month`` as of ``as_of`` from the events, ignoring month closing
    (no adjustment lines; only ``carrier``'s row if given): the reference the served report
    equals while nothing is closed."""
    month_bounds(month)
    counts = month_counts(store, policy, [month], as_of, carrier=carrier)
    return build_report(counts, policy, month, as_of, center_awards(store, as_of), [])


def build_report(
    counts: pl.DataFrame,
    policy: Policy,
    month: str,
    as_of: datetime,
    awards: list[ReportAward],
    adjustments: list[Adjustment],
) -> MonthlyReport:
    """The report of ``month`` from per-(month, carrier) counts (open: ``closed`` is null).

    ``program_total_fen`` is the month's parcel subsidies, plus the adjustments, plus the
    center awards counted in this month (:mod:`subsidy.awards_in_report`; the others are
    listed, marked not counted).
    """
    rows = carrier_rows(counts, policy, month)
    subsidy, adjusted = added_up(rows), added_up(adjustments)
    awards = awards_in_month(awards, month)  # SPEC §7: an award counts once
    program = subsidy.subsidy_fen + adjusted.subsidy_fen + counted_fen(awards, month, month)
    return MonthlyReport(
        month=month,
        as_of=as_of,
        policy=policy.name,
        carriers=rows,
        totals=subsidy.totals(),
        center_awards=awards,
        program_total_fen=program,
        program_total_yuan=fen_to_yuan(program),
        prior_period_adjustments=adjustments,
        adjustments_total=adjusted.totals(),
        closed=None,
    )


def carrier_rows(counts: pl.DataFrame, policy: Policy, month: str) -> list[CarrierRow]:
    """The month's carrier rows from per-(month, carrier) counts, by carrier code."""
    rates = rates_in_month(policy, month)
    records = sorted(
        (rec for rec in counts.iter_rows(named=True) if rec["month"] == month),
        key=lambda rec: rec["carrier"],
    )  # a few rows: plain Python is faster than a frame operation
    return [
        Figures.of_counts(rec).carrier_row(
            rec["carrier"], policy.carriers.get(rec["carrier"], ""), rates
        )
        for rec in records
    ]


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


def center_awards(store: Store, as_of: datetime) -> list[ReportAward]:
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
        ReportAward(
            **{k: r[k] for k in r.keys() if k != "created_at"},  # noqa: SIM118 (Row)
            award_yuan=fen_to_yuan(r["award_fen"]),
            counted_in=counting_month(r["accredited_on"], r["created_at"], closed),
        )
        for r in rows
    ]


def check_reportable(month: str, now: datetime) -> None:
    """Refuse a month that has not begun yet (:class:`InvalidValueError`)."""
    start, _ = month_bounds(month)
    if start > to_local(now):
        raise InvalidValueError(
            f"month {month} has not begun yet (now is {to_local(now):%Y-%m-%d %H:%M} "
            "Asia/Shanghai); ask for a month up to the current one",
            code="month_not_begun",
            month=month,
            now=f"{to_local(now):%Y-%m-%d %H:%M}",
        )

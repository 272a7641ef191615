"""The summary of a range of months: their served reports added up per carrier."""

from __future__ import annotations

from datetime import datetime

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store
from core.timeutil import months_between, parse_month
from subsidy.awards_in_report import counted_fen  # SPEC §7: each award once
from subsidy.closed import (
    adjustment_lines,
    adjustment_sources,
    baselines,
    closed_set,
    frozen_report,
)
from subsidy.exceptions import InvalidValueError
from subsidy.models import (
    Figures,
    MonthlyReport,
    ReportAward,
    Summary,
    SummaryMonth,
    added_up,
)
from subsidy.refresh import month_counts
from subsidy.report import build_report, center_awards, check_reportable

#: The longest range a summary covers (ten years of months).
MAX_SUMMARY_MONTHS = 120


def summary(
    store: Store,
    policy: Policy,
    first: str,
    last: str,
    as_of: datetime,
    *,
    now: datetime,
    carrier: str | None = None,
) -> Summary:
    """The reports of ``first``..``last`` (both inclusive) added up, per carrier.

    Each month counts as it is served: closed months with their frozen figures, open ones as
    of ``as_of`` with their adjustments; the center awards count once. With ``carrier``, that
    carrier's figures only, without awards or program total.
    """
    parse_month(first)
    parse_month(last)
    if first > last:
        raise InvalidValueError(
            f"from {first} is after to {last}; give from <= to",
            code="bad_range",
            first=first,
            last=last,
        )
    check_reportable(last, now)
    months = months_between(first, last)
    if len(months) > MAX_SUMMARY_MONTHS:
        raise InvalidValueError(
            f"{len(months)} months asked; a summary covers at most {MAX_SUMMARY_MONTHS}",
            code="too_many_months",
            count=len(months),
            limit=MAX_SUMMARY_MONTHS,
        )
    reports = _served_reports(store, policy, months, as_of, carrier)
    awards = center_awards(store, as_of) if carrier is None else []
    return _added_up(reports, policy, first, last, as_of, awards, carrier)


def _served_reports(
    store: Store, policy: Policy, months: list[str], as_of: datetime, carrier: str | None
) -> list[MonthlyReport]:
    """Each month's report as :func:`subsidy.report.served_report` serves it, with the counts
    of every open month and adjustment source fetched at once."""
    closed = closed_set(store)
    sources = {m: adjustment_sources(closed, m) for m in months if m not in closed}
    periods = sorted({s for src in sources.values() for s in src})
    needed = sorted({*sources, *periods})
    counts = month_counts(store, policy, needed, as_of, carrier=carrier) if needed else None
    frozen_figures = baselines(store, periods)
    reports = []
    for m in months:
        report = frozen_report(store, m) if m in closed else None
        if report is None:
            assert counts is not None
            lines = adjustment_lines(counts, policy, sources[m], frozen_figures, carrier)
            report = build_report(counts, policy, m, as_of, [], lines)
        reports.append(report if carrier is None else report.carrier_view(carrier))
    return reports


def _added_up(
    reports: list[MonthlyReport],
    policy: Policy,
    first: str,
    last: str,
    as_of: datetime,
    awards: list[ReportAward],
    carrier: str | None,
) -> Summary:
    per_carrier: dict[str, Figures] = {}
    rates: dict[str, list[int]] = {}
    adjust: dict[str, Figures] = {}
    for report in reports:
        for row in report.carriers:
            per_carrier[row.carrier] = per_carrier.get(row.carrier, Figures()) + Figures.of(row)
            known = rates.setdefault(row.carrier, [])
            known.extend(r for r in row.rates_fen if r not in known)
        for line in report.prior_period_adjustments:
            adjust[line.carrier] = adjust.get(line.carrier, Figures()) + Figures.of(line)
    rows = [
        fig.carrier_row(code, policy.carriers.get(code, ""), rates[code])
        for code, fig in sorted(per_carrier.items())
    ]
    adjustments = [
        fig.adjustment(code, policy.carriers.get(code, ""), None)
        for code, fig in sorted(adjust.items())
    ]
    totals, adjusted = added_up(rows), added_up(adjustments)
    program = totals.subsidy_fen + adjusted.subsidy_fen + counted_fen(awards, first, last)
    return Summary(
        from_=first,
        to=last,
        as_of=as_of,
        policy=policy.name,
        months=[
            SummaryMonth(
                month=r.month,
                closed=r.closed is not None,
                subsidy_fen=r.totals.subsidy_fen,
                subsidy_yuan=r.totals.subsidy_yuan,
                eligible_parcels=r.totals.eligible_parcels,
                adjustments_fen=r.adjustments_total.subsidy_fen,
            )
            for r in reports
        ],
        carriers=rows,
        totals=totals.totals(),
        center_awards=awards,
        program_total_fen=None if carrier is not None else program,
        program_total_yuan=None if carrier is not None else fen_to_yuan(program),
        prior_period_adjustments=adjustments,
        adjustments_total=adjusted.totals(),
    )

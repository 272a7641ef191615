"""Month closing (月结, SPEC §6): how finance closes a month.

Finance closes a month once it is over. Closing computes the month's live report as of that
moment (every carrier, the center awards and the adjustments it carries: see
:mod:`subsidy.closed`) once, and freezes three things in SQLite, in one transaction: the
report itself (served ever after, whatever ``as_of`` is asked), the store version it was
computed at, and the digest of the policy file it came from. Closed figures never change.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from core.policy import Policy
from core.store import Store, timestamp
from core.timeutil import month_bounds, month_is_over
from subsidy.anomalies import Flags, flags_for_month, save_flags
from subsidy.closed import CLOSED_COLUMNS
from subsidy.exceptions import ConflictError, InvalidValueError
from subsidy.frozen import freeze_parcels
from subsidy.models import ClosedMonth, Closing, MonthlyReport
from subsidy.report import live_report
from subsidy.settlement.statements import create_statements

log = logging.getLogger(__name__)


class FiguresChanged(ConflictError):
    """The month's figures are no longer those the caller confirmed; nothing was closed.

    ``report`` holds the figures as they are now, for a new confirmation.
    """

    code = "figures_changed"

    def __init__(self, month: str, report: MonthlyReport) -> None:
        super().__init__(
            f"the figures of {month} changed since they were confirmed; confirm them again",
            month=month,
        )
        self.report = report


def close_month(
    store: Store,
    policy: Policy,
    month: str,
    *,
    actor: str,
    now: datetime,
    expect: str | None = None,
) -> ClosedMonth:
    """Close ``month`` as of ``now``: freeze its report, the store version and policy digest.

    Runs under the store's writer lock, so no ingest commits while the figures are computed;
    they are computed once. With ``expect`` (a :meth:`MonthlyReport.figures_digest` the caller
    confirmed), :class:`FiguresChanged` if the figures are no longer those.
    :class:`InvalidValueError` if the month is not over yet; :class:`ConflictError` if it is
    already closed.
    """
    with store.writer_lock():
        check_closable(store, month, now)
        version = store.version()
        report = live_report(store, policy, month, now, latest=True)  # not the published set
        if expect is not None and report.figures_digest() != expect:
            raise FiguresChanged(month, report)
        closing = Closing(
            closed_at=timestamp(),
            closed_by=actor,
            store_version=version,
            policy_digest=policy.digest,
        )
        frozen = report.model_copy(update={"closed": closing})
        record = ClosedMonth(
            month=month,
            closed_at=closing.closed_at,
            closed_by=actor,
            as_of=report.as_of.isoformat(),
            store_version=version,
            policy_digest=policy.digest,
            policy_name=policy.name,
        )
        flags = flags_for_month(store, policy, month, report.as_of, version)  # SPEC §12
        _freeze(store, record, frozen, actor, flags, policy)
        try:  # SPEC §12: the parcel list as of the close, read ever after without the rule
            freeze_parcels(store, policy, month, rule=False)
        except Exception:  # the month is closed whatever failed here: its list is the rule's
            log.exception("the frozen parcel list of %s was not written", month)  # until upkeep
    return record


def _freeze(
    store: Store,
    record: ClosedMonth,
    report: MonthlyReport,
    actor: str,
    flags: Flags,
    policy: Policy,
) -> None:
    """Store the record, the report and its figures (per carrier, and the adjustment lines
    it carries, per period and carrier), and audit the close, in one transaction."""
    month = record.month
    figures = [(month, r.carrier, r) for r in report.carriers] + [
        (a.period, a.carrier, a) for a in report.prior_period_adjustments
    ]
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM closed_months WHERE month=?", (month,)).fetchone():
            raise ConflictError(
                f"month {month} is already closed", code="month_already_closed", month=month
            )
        db.execute(
            f"INSERT INTO closed_months ({CLOSED_COLUMNS}, report_json) VALUES (?,?,?,?,?,?,?,?)",
            (*record.model_dump().values(), report.model_dump_json()),
        )
        db.executemany(
            "INSERT INTO closed_month_figures (month, period, carrier, eligible_parcels,"
            " subsidy_fen, pending_parcels, ineligible) VALUES (?,?,?,?,?,?,?)",
            [
                (
                    month,
                    period,
                    code,
                    f.eligible_parcels,
                    f.subsidy_fen,
                    f.pending_parcels,
                    json.dumps(f.ineligible.model_dump()),
                )
                for period, code, f in figures
            ],
        )
        save_flags(store, db, flags, policy)  # SPEC §12: the flags as of the close hold
        create_statements(store, db, month, actor=actor)  # SPEC §11, same transaction
        store.audit(
            db,
            actor,
            "month.closed",
            f"month:{month}",
            new={
                "store_version": record.store_version,
                "policy_digest": record.policy_digest,
                "as_of": record.as_of,
                "subsidy_fen": report.totals.subsidy_fen,
                "adjustments_fen": report.adjustments_total.subsidy_fen,
                "program_total_fen": report.program_total_fen,
            },
        )


def check_closable(store: Store, month: str, now: datetime) -> None:
    """Refuse a month that cannot be closed at ``now``: :class:`InvalidValueError` while it is
    not over, :class:`ConflictError` once it is closed."""
    if not month_is_over(month, now):
        _, end = month_bounds(month)
        raise InvalidValueError(
            f"month {month} is not over yet; it can be closed from "
            f"{end:%Y-%m-%d %H:%M} Asia/Shanghai",
            code="month_not_over",
            month=month,
            closes_at=f"{end:%Y-%m-%d %H:%M}",
        )
    _refuse_if_closed(store, month)


def _refuse_if_closed(store: Store, month: str) -> None:
    with store.connect() as db:
        row = db.execute(
            "SELECT closed_at, closed_by FROM closed_months WHERE month=?", (month,)
        ).fetchone()
    if row is not None:
        raise ConflictError(
            f"month {month} is already closed (by {row['closed_by']} at {row['closed_at']}); "
            "its figures are frozen, later changes appear as adjustments in the next open month",
            code="month_closed",
            month=month,
            closed_by=row["closed_by"],
            closed_at=row["closed_at"],
        )

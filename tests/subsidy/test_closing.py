"""Month closing and prior-period adjustments (subsidy.closing, subsidy.closed)."""

from __future__ import annotations

import sqlite3

import pytest

from core.policy import Policy
from core.store import Store
from subsidy.closed import adjustment_sources, closed_months, frozen_report
from subsidy.closing import FiguresChanged, close_month
from subsidy.exceptions import ConflictError, InvalidValueError
from subsidy.models import MonthlyReport
from subsidy.report import live_report, monthly_report, served_report
from subsidy.summary import summary
from tests.factories import DAY, cst, ingest_rows, parcel

JULY = cst(2023, 7, 1)


def _may(store: Store) -> None:
    rows = parcel("ZT0000001", cst(2023, 5, 3, 10)) + parcel("ZT0000002", cst(2023, 5, 4, 10))
    rows += parcel("ZT0000003", cst(2023, 5, 30, 10), transit=None)  # pending until June 6
    ingest_rows(store, rows, name="zto-may.parquet")
    ingest_rows(store, parcel("YT0000001", cst(2023, 5, 5, 10)), name="yto.parquet", carrier="YTO")


@pytest.mark.parametrize(
    ("closed", "month", "expected"),
    [
        pytest.param(set(), "2023-05", [], id="nothing-closed"),
        pytest.param({"2023-04"}, "2023-05", ["2023-04"], id="previous-closed"),
        pytest.param({"2023-03", "2023-04"}, "2023-05", ["2023-04", "2023-03"], id="run"),
        pytest.param({"2023-02", "2023-04"}, "2023-03", ["2023-02"], id="gap"),
        pytest.param({"2022-12"}, "2023-01", ["2022-12"], id="year-boundary"),
        pytest.param({"2023-03"}, "2023-05", [], id="not-adjacent"),
    ],
)
def test_adjustment_sources_are_the_closed_run_before_the_month(
    closed: set[str], month: str, expected: list[str]
) -> None:
    """A closed month's changes go to the next month still open, and only there."""
    assert adjustment_sources(closed, month) == expected


def test_live_report_without_closes_is_the_spec_report(store: Store, policy: Policy) -> None:
    """With nothing closed, the live report is monthly_report's: no adjustment, not closed."""
    _may(store)
    live = live_report(store, policy, "2023-05", JULY)
    assert live == monthly_report(store, policy, "2023-05", JULY)
    assert live.prior_period_adjustments == [] and live.closed is None
    assert live.totals.eligible_parcels == 3


def test_close_freezes_report_version_and_policy(store: Store, policy: Policy) -> None:
    """The closed report is stored with the store version and policy digest, and served
    unchanged after late events, whatever as_of is asked."""
    _may(store)
    record = close_month(store, policy, "2023-05", actor="finance", now=JULY)
    assert (record.store_version, record.policy_digest) == (store.version(), policy.digest)
    frozen = served_report(store, policy, "2023-05", JULY)
    assert frozen.closed is not None
    assert (frozen.closed.store_version, frozen.closed.closed_by) == (2, "finance")
    assert frozen.totals.eligible_parcels == 3 and frozen.as_of == JULY
    ingest_rows(store, parcel("ZT0000009", cst(2023, 5, 31, 10)), name="late.parquet")
    assert served_report(store, policy, "2023-05", JULY) == frozen
    assert served_report(store, policy, "2023-05", cst(2030, 1, 1)) == frozen
    assert [m.month for m in closed_months(store)] == ["2023-05"]


def test_late_events_show_as_adjustment_in_the_next_open_month(
    store: Store, policy: Policy
) -> None:
    """A parcel pending at the close that then runs out of time, and a late parcel, give
    ZTO's adjustment for May in June's report: signed differences, per carrier."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=cst(2023, 6, 3))
    ingest_rows(store, parcel("ZT0000009", cst(2023, 5, 31, 10)), name="late.parquet")
    june = live_report(store, policy, "2023-06", JULY)
    [line] = june.prior_period_adjustments
    assert (line.carrier, line.period) == ("ZTO", "2023-05")
    assert line.eligible_parcels == 1 and line.subsidy_fen == 20
    assert line.pending_parcels == -1
    assert line.ineligible.no_hub_arrival == 1
    assert june.adjustments_total.subsidy_fen == 20
    assert june.program_total_fen == june.totals.subsidy_fen + 20


def test_a_negative_adjustment_keeps_its_sign(store: Store, policy: Policy) -> None:
    """An earlier departure scan that moves a parcel out of May lowers May's figures: the
    adjustment is negative fen, formatted with its sign."""
    ingest_rows(store, parcel("ZT0000001", cst(2023, 5, 3, 10)), name="may.parquet")
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    earlier = parcel("ZT0000001", cst(2023, 4, 28, 10), transit=None)
    ingest_rows(store, earlier, name="april-scan.parquet")
    june = live_report(store, policy, "2023-06", JULY)
    [line] = june.prior_period_adjustments
    assert (line.subsidy_fen, line.subsidy_yuan, line.eligible_parcels) == (
        -20,
        "-0.20",
        -1,
    )


def test_an_adjustment_is_frozen_with_the_month_that_carries_it(
    store: Store, policy: Policy
) -> None:
    """June, closed with May's adjustment, freezes it; July then shows only later changes."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    ingest_rows(store, parcel("ZT0000008", cst(2023, 5, 31, 10)), name="a.parquet")
    close_month(store, policy, "2023-06", actor="finance", now=JULY + DAY)
    june = served_report(store, policy, "2023-06", JULY)
    assert [a.subsidy_fen for a in june.prior_period_adjustments] == [20]
    assert live_report(store, policy, "2023-07", JULY + DAY).prior_period_adjustments == []
    ingest_rows(store, parcel("ZT0000009", cst(2023, 5, 31, 11)), name="b.parquet")
    july = live_report(store, policy, "2023-07", JULY + DAY)
    assert [(a.period, a.subsidy_fen) for a in july.prior_period_adjustments] == [("2023-05", 20)]


def test_closing_twice_or_too_early_is_refused(store: Store, policy: Policy) -> None:
    """A closed month cannot be closed again; a month not over cannot be closed."""
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    with pytest.raises(ConflictError, match="already closed"):
        close_month(store, policy, "2023-05", actor="finance", now=JULY)
    with pytest.raises(InvalidValueError, match="not over yet"):
        close_month(store, policy, "2023-07", actor="finance", now=cst(2023, 7, 31, 23, 59))


def test_frozen_rows_cannot_be_changed(store: Store, policy: Policy) -> None:
    """The store itself refuses to update or delete a closed month."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    with store.connect() as db, pytest.raises(sqlite3.IntegrityError, match="frozen"):
        db.execute("UPDATE closed_month_figures SET subsidy_fen = 0")
    with store.connect() as db, pytest.raises(sqlite3.IntegrityError, match="frozen"):
        db.execute("DELETE FROM closed_months")


def test_carrier_view_keeps_only_that_carrier(store: Store, policy: Policy) -> None:
    """The operator's view: its row, its totals, no award, no program total."""
    _may(store)
    report = live_report(store, policy, "2023-05", JULY)
    view = report.carrier_view("YTO")
    assert [r.carrier for r in view.carriers] == ["YTO"]
    assert view.totals.subsidy_fen == 20
    assert view.program_total_fen is None and view.center_awards == []
    direct = live_report(store, policy, "2023-05", JULY, carrier="YTO")
    assert direct == view


def test_summary_counts_closed_months_frozen_and_adjustments_once(
    store: Store, policy: Policy
) -> None:
    """May closed, a late May parcel, June open: the summary's totals are May's frozen
    figures plus June's, and the late parcel counts once, as June's adjustment."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    ingest_rows(store, parcel("ZT0000009", cst(2023, 5, 31, 10)), name="late.parquet")
    ingest_rows(store, parcel("ZT0000010", cst(2023, 6, 2, 10)), name="june.parquet")
    out = summary(store, policy, "2023-05", "2023-06", JULY, now=JULY)
    assert [(m.month, m.closed) for m in out.months] == [
        ("2023-05", True),
        ("2023-06", False),
    ]
    assert out.totals.subsidy_fen == 60 + 20
    assert out.adjustments_total.subsidy_fen == 20
    zto = next(r for r in out.carriers if r.carrier == "ZTO")
    assert zto.eligible_parcels == 3
    with pytest.raises(InvalidValueError, match="after"):
        summary(store, policy, "2023-06", "2023-05", JULY, now=JULY)
    with pytest.raises(InvalidValueError, match="not begun"):
        summary(store, policy, "2023-06", "2023-09", JULY, now=JULY)


def test_a_frozen_report_reloads_into_the_bytes_that_were_stored(
    store: Store, policy: Policy
) -> None:
    """The report_json kept in SQLite loads into the model and renders to the same bytes, so
    a closed month's JSON never changes."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=JULY)
    with store.connect() as db:
        (stored,) = db.execute("SELECT report_json FROM closed_months").fetchone()
    frozen = frozen_report(store, "2023-05")
    assert isinstance(frozen, MonthlyReport)
    assert frozen.model_dump_json() == stored
    assert frozen_report(store, "2023-06") is None


def test_a_close_computes_the_live_report_once(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing runs the live report once, and freezes exactly what it computed."""
    import subsidy.closing

    _may(store)
    calls: list[str] = []

    def counted(*args: object, **kwargs: object) -> MonthlyReport:
        calls.append("live")
        return live_report(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(subsidy.closing, "live_report", counted)
    confirmed = live_report(store, policy, "2023-05", JULY).figures_digest()
    close_month(store, policy, "2023-05", actor="finance", now=JULY, expect=confirmed)
    assert calls == ["live"]
    frozen = frozen_report(store, "2023-05")
    assert frozen is not None and frozen.figures_digest() == confirmed


def test_a_close_refuses_figures_that_changed_since_they_were_confirmed(
    store: Store, policy: Policy
) -> None:
    """A late parcel between the confirmation and the close: nothing is closed, and the error
    carries the figures as they are now, for the next confirmation."""
    _may(store)
    confirmed = live_report(store, policy, "2023-05", JULY).figures_digest()
    ingest_rows(store, parcel("ZT0000009", cst(2023, 5, 31, 10)), name="late.parquet")
    with pytest.raises(FiguresChanged) as refused:
        close_month(store, policy, "2023-05", actor="finance", now=JULY, expect=confirmed)
    assert closed_months(store) == []
    assert refused.value.report.totals.eligible_parcels == 4
    assert isinstance(refused.value, ConflictError) and refused.value.code == "figures_changed"
    now = refused.value.report.figures_digest()
    close_month(store, policy, "2023-05", actor="finance", now=JULY, expect=now)
    assert [m.month for m in closed_months(store)] == ["2023-05"]

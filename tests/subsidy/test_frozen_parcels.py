"""The frozen parcel list of a closed month (subsidy.frozen; SPEC §12 ``GET /v1/parcels``).

- the close writes the month's per-parcel rows; the list read from them equals the rule's list
  on the pinned version as of the close, for every cell, after later uploads for the month;
- a month closed without one (an older close) is listed by the rule, and the upkeep step
  writes its file, which lists the same parcels;
- a statement's parcel list (SPEC §11) reads the same file;
- a process killed while writing the file leaves the month closed, no file named, and the
  list computed by the rule; the upkeep step then writes the file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from core.policy import Policy
from core.store import Store
from subsidy import drilldown, frozen
from subsidy.closing import close_month
from subsidy.drilldown import STATUSES, parcels_frame
from subsidy.frozen import freeze_closed, frozen_path
from subsidy.report import served_report
from subsidy.rule import INELIGIBLE_REASONS
from subsidy.settlement import parcel_list
from subsidy.settlement.statements import list_statements
from tests.factories import DAY, HUB, SHORT_HUB, cst, ingest_rows, parcel

JULY = cst(2023, 7, 1)
CLOSE = cst(2023, 6, 3)
ROOT = Path(__file__).resolve().parents[2]


def _may(store: Store) -> None:
    rows = parcel("ZT0000001", cst(2023, 5, 3, 10)) + parcel("ZT0000002", cst(2023, 5, 4, 10))
    rows += parcel("ZT0000003", cst(2023, 5, 30, 10), transit=None)  # pending at the close
    rows += parcel("ZT0000004", cst(2023, 5, 6, 10), transit=9 * DAY)  # too late
    rows += parcel("ZT0000005", cst(2023, 5, 25, 10), hub=SHORT_HUB)  # hub no longer active
    ingest_rows(store, rows, name="zto-may.parquet")
    ingest_rows(store, parcel("YT0000001", cst(2023, 5, 5, 10)), name="yto.parquet", carrier="YTO")


def _later(store: Store) -> None:
    """Uploads after the close: a late May parcel, the pending one's arrival, a YTO parcel."""
    late = parcel("ZT0000009", cst(2023, 5, 31, 10))
    late += [
        r for r in parcel("ZT0000003", cst(2023, 5, 30, 10), hub=HUB) if r["scan_type"] != "depart"
    ]
    ingest_rows(store, late, name="late.parquet")
    ingest_rows(
        store, parcel("YT0000002", cst(2023, 5, 20, 10)), name="yto2.parquet", carrier="YTO"
    )


def _cells() -> list[tuple[str | None, str | None, str | None]]:
    cells: list[tuple[str | None, str | None, str | None]] = [(None, None, None)]
    for carrier in (None, "ZTO", "YTO"):
        cells += [(carrier, s, None) for s in STATUSES]
        cells += [(carrier, "ineligible", r) for r in INELIGIBLE_REASONS]
    return cells


def _lists(store: Store, policy: Policy) -> dict[tuple[str | None, ...], pl.DataFrame]:
    return {
        cell: parcels_frame(
            store, policy, "2023-05", JULY, carrier=cell[0], status=cell[1], reason=cell[2]
        ).collect()
        for cell in _cells()
    }


def _rule_lists(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> dict[tuple[str | None, ...], pl.DataFrame]:
    """The lists as the rule gives them (the frozen file set aside)."""
    with monkeypatch.context() as m:
        m.setattr(drilldown, "frozen_path", lambda *_: None)
        return _lists(store, policy)


def _no_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the rule ran")

    monkeypatch.setattr(drilldown, "parcel_statuses", refused)
    monkeypatch.setattr(drilldown, "answering_set", refused)


def test_the_frozen_list_is_the_rules_list_at_the_close_after_later_uploads(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=CLOSE)
    path = frozen_path(store, "2023-05")
    assert path is not None and path.parent.name == "closed"
    _later(store)
    expected = _rule_lists(store, policy, monkeypatch)
    _no_rule(monkeypatch)
    frozen = _lists(store, policy)
    for cell, rows in expected.items():
        assert frozen[cell].equals(rows), cell
    listed = frozen[(None, None, None)]
    assert "ZT0000009" not in listed["waybill_no"].to_list()  # uploaded after the close
    assert listed.filter(pl.col("waybill_no") == "ZT0000003")["status"].to_list() == ["pending"]
    assert set(listed["status"]) == {"eligible", "pending", "ineligible"}
    report = served_report(store, policy, "2023-05", JULY)
    for fig in report.carriers:  # every cell of the frozen report, its parcels
        assert frozen[(fig.carrier, "eligible", None)].height == fig.eligible_parcels
        assert frozen[(fig.carrier, "pending", None)].height == fig.pending_parcels
        for reason, count in fig.ineligible.model_dump().items():
            assert frozen[(fig.carrier, "ineligible", reason)].height == count


def test_a_month_closed_without_its_file_is_listed_by_the_rule_until_upkeep_writes_it(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _may(store)
    with monkeypatch.context() as m:  # a close from before the frozen lists
        m.setattr("subsidy.closing.freeze_parcels", lambda *_a, **_k: None)
        close_month(store, policy, "2023-05", actor="finance", now=CLOSE)
    _later(store)
    assert frozen_path(store, "2023-05") is None
    expected = _lists(store, policy)  # the rule's: no result set answers the old version
    assert freeze_closed(store, policy) == ["2023-05"]
    assert freeze_closed(store, policy) == []  # written once
    _no_rule(monkeypatch)
    frozen = _lists(store, policy)
    for cell, rows in expected.items():
        assert frozen[cell].equals(rows), cell


CHILD = """
import sys, time
from datetime import datetime
from pathlib import Path
from core.policy import load_policy
from core.store import Store
import subsidy.frozen as frozen
from subsidy.closing import close_month

fsync = frozen.fsync_file
def stalled(path, **kwargs):
    fsync(path, **kwargs)
    Path(sys.argv[1]).write_text("writing")  # the file is written, not yet in place
    time.sleep(600)

frozen.fsync_file = stalled
close_month(Store(Path(sys.argv[2])), load_policy(), "2023-05", actor="finance",
            now=datetime.fromisoformat(sys.argv[3]))
"""


def test_a_process_killed_writing_the_file_leaves_the_month_closed_and_listed(
    tmp_path: Path, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _may(store)
    marker = tmp_path / "writing"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), str(store.root), CLOSE.isoformat()],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the write"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    report = served_report(store, policy, "2023-05", JULY)
    assert report.closed is not None  # the month is closed
    assert frozen_path(store, "2023-05") is None
    assert not (store.root / "closed" / "parcels-2023-05.parquet").exists()
    assert list(store.tmp_dir.glob("*.part"))  # debris for clean_store, named by nothing
    _later(store)
    expected = _lists(store, policy)  # the rule's list
    zto = next(f for f in report.carriers if f.carrier == "ZTO")
    assert expected[("ZTO", "eligible", None)].height == zto.eligible_parcels
    assert freeze_closed(store, policy) == ["2023-05"]
    _no_rule(monkeypatch)
    frozen = _lists(store, policy)
    for cell, rows in expected.items():
        assert frozen[cell].equals(rows), cell


def test_a_statements_parcel_list_reads_the_frozen_list(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPEC §11: a statement's parcels are the same from the frozen list as by the rule."""
    _may(store)
    close_month(store, policy, "2023-05", actor="finance", now=CLOSE)
    _later(store)
    statements = list_statements(store)
    assert {s.carrier for s in statements} == {"ZTO", "YTO"}
    with monkeypatch.context() as m:
        m.setattr(parcel_list, "frozen_path", lambda *_: None)
        expected = {s.id: parcel_list.parcels(store, policy, s) for s in statements}
    monkeypatch.setattr(parcel_list, "parcel_statuses", None)  # the rule would fail
    for s in statements:
        listed = parcel_list.parcels(store, policy, s)
        assert listed.equals(expected[s.id]) and listed.height == s.eligible_parcels


def test_a_failed_write_at_the_close_leaves_the_month_closed_and_listed_by_the_rule(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _may(store)

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(frozen, "fsync_file", full_disk)
        record = close_month(store, policy, "2023-05", actor="finance", now=CLOSE)
    assert record.month == "2023-05" and served_report(store, policy, "2023-05", JULY).closed
    assert frozen_path(store, "2023-05") is None and not list(store.tmp_dir.glob("*.part"))
    report = served_report(store, policy, "2023-05", JULY)
    lists = _lists(store, policy)
    for fig in report.carriers:
        assert lists[(fig.carrier, "eligible", None)].height == fig.eligible_parcels

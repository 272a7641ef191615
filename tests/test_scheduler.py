"""The scheduled jobs (SPEC §10): they never overlap themselves, a missed run runs once at
start-up, every run is recorded (a failed one with its error) and the schedule goes on."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import scheduler
from core.policy import Policy
from core.store import Store
from core.timeutil import TZ
from ingest.inbox import inbox_dir
from subsidy import results
from subsidy.drafts import reports_dir
from subsidy.exports import report_csv, report_json, report_xlsx
from subsidy.report import monthly_report, served_report
from tests.factories import NOW, cst, ingest_rows, parcel, write_parquet

JUNE_1ST_2AM = cst(2023, 6, 1, 2)


def history(store: Store, job: str) -> list[dict[str, Any]]:
    with store.connect() as db:
        rows = db.execute("SELECT * FROM job_runs WHERE job=? ORDER BY id", (job,)).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def drop_files(store: Store, count: int) -> None:
    """``count`` settled exports of 50 parcels each in ``inbox/ZTO/``, written before ``NOW``."""
    folder = inbox_dir(store) / "ZTO"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rows = [r for n in range(50) for r in parcel(f"ZT7{i:04d}{n:05d}", cst(2023, 5, 3, 10))]
        path = write_parquet(folder / f"export-{i}.parquet", rows)
        stamp = (NOW - timedelta(minutes=1)).timestamp()
        os.utime(path, (stamp, stamp))


@pytest.fixture
def running() -> Iterator[list[scheduler.ServiceScheduler]]:
    """Handles started by a test; shut down at its end whatever happens."""
    handles: list[scheduler.ServiceScheduler] = []
    yield handles
    for handle in handles:
        handle.shutdown(wait=True)


# -- never overlapping --------------------------------------------------------------------


def test_two_overlapping_ingest_triggers_run_one_after_the_other(
    store: Store, policy: Policy
) -> None:
    drop_files(store, 6)
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def trigger() -> None:
        barrier.wait()
        results.append(
            scheduler.run_job(store, policy, scheduler.INBOX_INGEST, now=NOW, settle=timedelta(0))
        )

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    first, second = sorted(history(store, scheduler.INBOX_INGEST), key=lambda r: r["started_at"])
    assert first["finished_at"] <= second["started_at"]
    assert [r["outcome"] for r in (first, second)] == ["ok", "ok"]
    assert first["detail"]["ingested"] == 6 and second["detail"]["files"] == []
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 6


# -- the monthly draft --------------------------------------------------------------------


def test_monthly_job_writes_the_previous_months_draft_with_the_reports_figures(
    store: Store, policy: Policy
) -> None:
    """Driven by a direct trigger at 02:00 on June 1st: May's JSON, CSV and XLSX are written,
    with the figures of the monthly report and the bytes the API serves and exports."""
    drop_files(store, 2)
    scheduler.run_job(store, policy, scheduler.INBOX_INGEST, now=NOW, settle=timedelta(0))
    run = scheduler.run_job(store, policy, scheduler.MONTHLY_DRAFT, now=JUNE_1ST_2AM)
    assert run["outcome"] == "ok", run["error"]
    expected = monthly_report(store, policy, "2023-05", JUNE_1ST_2AM)
    assert expected.totals.eligible_parcels == 100
    folder = reports_dir(store, "2023-05")
    assert sorted(p.name for p in folder.iterdir()) == [
        "monthly-2023-05-draft.csv",
        "monthly-2023-05-draft.json",
        "monthly-2023-05-draft.xlsx",
    ]
    served = served_report(store, policy, "2023-05", JUNE_1ST_2AM)
    written = (folder / "monthly-2023-05-draft.json").read_bytes()
    assert written == report_json(served)
    doc = json.loads(written)
    assert (served.carriers, served.totals) == (expected.carriers, expected.totals)
    assert doc["as_of"] == expected.as_of.isoformat() == "2023-06-01T02:00:00+08:00"
    assert (folder / "monthly-2023-05-draft.csv").read_bytes() == report_csv(served)
    assert (folder / "monthly-2023-05-draft.xlsx").read_bytes() == report_xlsx(served)
    csv_total = next(
        line
        for line in (folder / "monthly-2023-05-draft.csv").read_text().splitlines()
        if line.startswith("total,")
    )
    assert ",100,," in csv_total and ",2000,20.00," in csv_total
    assert run["detail"]["month"] == "2023-05" and run["detail"]["closed"] is False
    assert run["detail"]["totals"] == expected.totals.model_dump()
    assert sorted(run["detail"]["files"]) == [
        f"reports/2023-05/{p.name}" for p in sorted(folder.iterdir())
    ]


# -- failures and the history -------------------------------------------------------------


def test_failed_run_is_recorded_with_its_error_and_the_next_run_goes_on(
    store: Store, policy: Policy
) -> None:
    (store.root / "reports").write_text("a file where the reports folder should be")
    failed = scheduler.run_job(store, policy, scheduler.MONTHLY_DRAFT, now=JUNE_1ST_2AM)
    assert failed["outcome"] == "failed"
    assert failed["error"].startswith(("FileExistsError", "NotADirectoryError"))
    (store.root / "reports").unlink()
    again = scheduler.run_job(store, policy, scheduler.MONTHLY_DRAFT, now=JUNE_1ST_2AM)
    assert again["outcome"] == "ok"
    runs = history(store, scheduler.MONTHLY_DRAFT)
    assert [(r["outcome"], r["error"] is None) for r in runs] == [("failed", False), ("ok", True)]
    assert all(r["finished_at"] >= r["started_at"] for r in runs)


def test_a_run_whose_job_reports_errors_is_failed(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inbox file left in place by an error makes the run ``failed``, with its error."""
    report = {"ingested": 1, "errors": ["ZTO/a.parquet: OSError: disk full"]}
    monkeypatch.setitem(scheduler.JOBS, scheduler.INBOX_INGEST, (lambda ctx: report, "test"))
    run = scheduler.run_job(store, policy, scheduler.INBOX_INGEST, now=NOW)
    assert (run["outcome"], run["error"]) == ("failed", "ZTO/a.parquet: OSError: disk full")
    assert history(store, scheduler.INBOX_INGEST)[0]["detail"] == report


def test_run_left_running_by_a_dead_process_is_marked_interrupted(
    store: Store, policy: Policy
) -> None:
    with store.connect() as db:
        db.execute(
            "INSERT INTO job_runs (job, started_at, outcome) VALUES (?, ?, 'running')",
            (scheduler.STORE_UPKEEP, "2024-11-30T03:30:00.000+08:00"),
        )
    scheduler.run_job(store, policy, scheduler.STORE_UPKEEP, now=NOW)
    runs = history(store, scheduler.STORE_UPKEEP)
    assert [r["outcome"] for r in runs] == ["interrupted", "ok"]
    assert runs[0]["error"] == "the process stopped during the run"


def test_each_run_logs_one_json_line(store: Store, policy: Policy) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    scheduler.log.addHandler(handler)
    old_level = scheduler.log.level
    scheduler.log.setLevel(logging.INFO)
    try:
        run = scheduler.run_job(store, policy, scheduler.STORE_UPKEEP, now=NOW)
    finally:
        scheduler.log.removeHandler(handler)
        scheduler.log.setLevel(old_level)
    assert len(records) == 1
    line = json.loads(records[0].getMessage())
    assert line["event"] == "job_run"
    assert (line["job"], line["run_id"], line["outcome"]) == ("store_upkeep", run["id"], "ok")
    assert line["started_at"] == run["started_at"] and line["seconds"] >= 0


def test_upkeep_drops_history_older_than_the_kept_days(store: Store, policy: Policy) -> None:
    old = NOW - timedelta(days=scheduler.HISTORY_DAYS + 1)
    with store.connect() as db:
        db.execute(
            "INSERT INTO job_runs (job, started_at, finished_at, outcome) VALUES (?,?,?,'ok')",
            (scheduler.INBOX_INGEST, old.isoformat(timespec="milliseconds"), None),
        )
    run = scheduler.run_job(store, policy, scheduler.STORE_UPKEEP, now=NOW)
    assert run["detail"]["job_runs_dropped"] == 1
    assert history(store, scheduler.INBOX_INGEST) == []


def test_upkeep_compacts_daily_files_and_keeps_the_stored_results(
    store: Store, policy: Policy
) -> None:
    """Nine daily exports of May become one file; the stored results carry over to the new
    store version (the next report is served, not rebuilt) with the same figures."""
    for day in range(1, 10):
        ingest_rows(store, parcel(f"ZT80000{day:05d}", cst(2023, 5, day, 10)), name=f"{day}.pq")
    may = monthly_report(store, policy, "2023-05", NOW)
    served = results.current(store)
    assert served is not None

    run = scheduler.run_job(store, policy, scheduler.STORE_UPKEEP, now=NOW)

    assert run["outcome"] == "ok" and run["detail"]["results_carried_over"] is True
    assert run["detail"]["compacted"] == [
        {"carrier": "ZTO", "month": "2023-05", "files": 9, "rows": 27}
    ]
    assert len(store.event_files()) == 1
    carried = results.current(store)
    assert carried is not None
    assert (carried.store_version, carried.seq) == (store.version(), served.seq)
    assert monthly_report(store, policy, "2023-05", NOW) == may
    assert results.current(store).seq == served.seq  # type: ignore[union-attr]


def test_unknown_job_is_refused_with_the_known_ones(store: Store, policy: Policy) -> None:
    with pytest.raises(ValueError, match="inbox_ingest, monthly_draft, store_upkeep"):
        scheduler.run_job(store, policy, "nightly")


# -- missed runs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due"),
    [
        pytest.param(cst(2023, 6, 1, 2), cst(2023, 6, 1, 2), id="exactly-at-the-fire-time"),
        pytest.param(cst(2023, 6, 1, 1, 59), cst(2023, 5, 1, 2), id="a-minute-before"),
        pytest.param(cst(2023, 6, 30, 23), cst(2023, 6, 1, 2), id="end-of-month"),
        pytest.param(cst(2024, 1, 1, 2, 0, 1), cst(2024, 1, 1, 2), id="new-year"),
    ],
)
def test_last_due_time_of_the_monthly_draft(now: datetime, due: datetime) -> None:
    trigger, _ = scheduler.triggers(300)[scheduler.MONTHLY_DRAFT]
    assert scheduler.last_due(trigger, now, timedelta(days=62)) == due


def test_monthly_draft_is_missed_until_a_run_succeeds_after_it_was_due(
    store: Store, policy: Policy
) -> None:
    trigger, _ = scheduler.triggers(300)[scheduler.MONTHLY_DRAFT]
    with store.connect() as db:
        db.execute(
            "INSERT INTO job_runs (job, started_at, finished_at, outcome) VALUES (?,?,?,'ok')",
            (scheduler.MONTHLY_DRAFT, "2023-05-01T02:00:00.004+08:00", None),
        )
    assert not scheduler.missed(store, scheduler.MONTHLY_DRAFT, trigger, cst(2023, 5, 31))
    assert scheduler.missed(store, scheduler.MONTHLY_DRAFT, trigger, cst(2023, 6, 1, 2))
    scheduler.run_job(store, policy, scheduler.MONTHLY_DRAFT)  # the real clock: after June 2023
    assert not scheduler.missed(store, scheduler.MONTHLY_DRAFT, trigger, datetime.now(TZ))


def test_start_runs_the_ingest_and_missed_jobs_at_once_and_only_once(
    store: Store, running: list[scheduler.ServiceScheduler]
) -> None:
    running.append(scheduler.start(store, None, ingest_every=3600))
    jobs = (scheduler.INBOX_INGEST, scheduler.MONTHLY_DRAFT, scheduler.STORE_UPKEEP)
    wait_for(lambda: all([r["outcome"] for r in history(store, j)] == ["ok"] for j in jobs))
    status = {j["id"]: j for j in scheduler.jobs_status(store)}
    monthly = status[scheduler.MONTHLY_DRAFT]
    assert monthly["scheduled"] and monthly["schedule"].startswith("the 1st of each month")
    nxt = datetime.fromisoformat(monthly["next_run_time"])
    assert (nxt.day, nxt.hour, nxt.minute, nxt.utcoffset()) == (1, 2, 0, timedelta(hours=8))
    assert status[scheduler.INBOX_INGEST]["schedule"] == "every 3600 s, and at start-up"
    assert [r["outcome"] for j in jobs for r in status[j]["last_runs"]] == ["ok"] * 3
    running.pop().shutdown(wait=True)

    running.append(scheduler.start(store, None, ingest_every=3600))
    wait_for(lambda: len(history(store, scheduler.INBOX_INGEST)) == 2)
    time.sleep(0.2)  # a wrongly scheduled catch-up would have been submitted with the ingest
    assert len(history(store, scheduler.MONTHLY_DRAFT)) == 1
    assert len(history(store, scheduler.STORE_UPKEEP)) == 1


def test_jobs_status_without_a_scheduler_shows_schedules_and_history(
    store: Store, policy: Policy
) -> None:
    scheduler.run_job(store, policy, scheduler.STORE_UPKEEP, now=NOW)
    status = scheduler.jobs_status(store)
    assert [j["id"] for j in status] == ["inbox_ingest", "monthly_draft", "store_upkeep"]
    assert all(j["next_run_time"] is None and not j["scheduled"] for j in status)
    upkeep = status[2]
    assert upkeep["schedule"] == "daily at 03:30 Asia/Shanghai"
    (last,) = upkeep["last_runs"]
    assert set(last) == {"id", "started_at", "finished_at", "outcome", "detail", "error"}
    assert last["detail"]["unlisted_event_files"] == []


def test_start_refuses_a_non_positive_interval(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        scheduler.start(store, None, ingest_every=0)

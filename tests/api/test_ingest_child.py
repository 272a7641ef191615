"""The service's background ingests in a niced child process (``subsidy.ingest_child``): an
upload through the API and the scheduler's inbox ingest job are ingested and published there;
a child killed mid-ingest leaves the store as it was and the retry ingests the file once."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from core.timeutil import TZ
from scheduler import INBOX_INGEST, run_job
from subsidy import ingest_child
from tests.api.conftest import LIMIT, bearer, make_tokens, may_rows, upload
from tests.factories import make_store, write_parquet

REPORT = "/v1/reports/monthly?month=2023-05&as_of=2023-07-01T00:00:00%2B08:00"


def _client(store: Store, **settings: Any) -> TestClient:
    return TestClient(create_app(store.root, settings=Settings(max_upload_bytes=LIMIT, **settings)))


def _upload_and_report(store: Store, policy: Policy, path: Path, **settings: Any) -> Any:
    """Upload ``path`` as ZTO's operator; the upload's row and May's report afterwards."""
    with _client(store, **settings) as client:
        tokens = make_tokens(store, policy)
        resp = upload(client, tokens["operator"], path)
        assert resp.status_code == 202, resp.text
        row = client.get(f"/v1/uploads/{resp.json()['id']}", headers=bearer(tokens["operator"]))
        report = client.get(REPORT, headers=bearer(tokens["auditor"]))
        assert report.status_code == 200, report.text
        return row.json(), report.json()


def _report(store: Store, policy: Policy) -> Any:
    with _client(store, ingest_in_child=False) as client:
        tokens = make_tokens(store, policy)
        return client.get(REPORT, headers=bearer(tokens["auditor"])).json()


def _events(store: Store) -> tuple[int, int, list[Path]]:
    """(manifest rows, rows the manifest lists, event files on disk)."""
    with sqlite3.connect(store.db_path) as db:
        files, rows = db.execute(
            "SELECT count(*), coalesce(sum(rows), 0) FROM event_files"
        ).fetchone()
    return files, rows, sorted(store.events_dir.rglob("*.parquet"))


@pytest.fixture
def reference(tmp_path: Path, policy: Policy, zto_may: Path) -> tuple[Any, Any]:
    """The upload's row and May's report when the same file is ingested in a thread."""
    return _upload_and_report(make_store(tmp_path / "ref"), policy, zto_may, ingest_in_child=False)


def test_an_upload_is_ingested_and_published_by_a_child_process(
    store: Store,
    policy: Policy,
    zto_may: Path,
    reference: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The background task runs ``python -m subsidy.ingest_child`` with the data dir, the
    policy location, the upload id and the time only; its figures are served at once."""
    commands: list[list[str]] = []
    real = ingest_child._command

    def spy(data_dir: Path, policy_path: Path | None, task: list[str]) -> list[str]:
        commands.append(real(data_dir, policy_path, task))
        return commands[-1]

    monkeypatch.setattr(ingest_child, "_command", spy)
    row, report = _upload_and_report(store, policy, zto_may)
    assert len(commands) == 1
    assert commands[0][:5] == [
        sys.executable,
        "-m",
        "subsidy.ingest_child",
        "--data-dir",
        str(store.root),
    ]
    assert commands[0][5:7] == ["upload", str(row["id"])] and commands[0][7] == "--now"
    assert row["status"] == "ingested"
    assert (row["accepted"], row["rejected"]) == (
        reference[0]["accepted"],
        reference[0]["rejected"],
    )
    assert report == reference[1]
    assert report["totals"]["eligible_parcels"] == 3, "May has figures"


def test_a_child_killed_mid_ingest_leaves_the_store_and_the_retry_ingests_once(
    store: Store,
    policy: Policy,
    zto_may: Path,
    tmp_path: Path,
    reference: tuple[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL after the event files are written, before the commit: the upload is back to
    ``received`` with no event file left; the scheduler's ingest job (in a child too) then
    ingests it exactly once, with the figures of an ingest that was never interrupted."""
    nice_file = tmp_path / "niceness"
    real = ingest_child._command

    def killed(data_dir: Path, policy_path: Path | None, task: list[str]) -> list[str]:
        command = real(data_dir, policy_path, task)
        return [*command[:2], "tests.killed_child", "files_written", str(nice_file), *command[3:]]

    monkeypatch.setattr(ingest_child, "_command", killed)
    row, _ = _upload_and_report(store, policy, zto_may)
    assert int(nice_file.read_text()) >= min(19, ingest_child.NICE), "the child ran niced"
    assert row["status"] == "received" and row["accepted"] == 0
    assert _events(store) == (0, 0, [])

    monkeypatch.setattr(ingest_child, "_command", real)
    run = run_job(store, policy, INBOX_INGEST, in_child=True)
    assert run["outcome"] == "ok", run
    assert run["detail"]["uploads"] == [
        {"upload_id": row["id"], "status": "ingested", "accepted": reference[0]["accepted"]}
    ]
    files, rows, on_disk = _events(store)
    assert rows == reference[0]["accepted"] and len(on_disk) == files
    assert _report(store, policy) == reference[1]
    again = run_job(store, policy, INBOX_INGEST, in_child=True)
    assert again["outcome"] == "ok" and again["detail"]["uploads"] == []
    assert _events(store)[:2] == (files, rows)


def test_a_child_over_its_time_is_killed_and_the_upload_stays_received(
    store: Store, policy: Policy, zto_may: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The timeout guard: the child is killed, the failure logged, the store unchanged."""
    with caplog.at_level(logging.ERROR, logger=ingest_child.__name__):
        row, _ = _upload_and_report(store, policy, zto_may, ingest_child_timeout=0.01)
    assert row["status"] == "received"
    assert _events(store) == (0, 0, [])
    assert "ran longer than 0.01 s and was killed" in caplog.text


def test_a_failed_inbox_child_fails_the_run(store: Store, policy: Policy, tmp_path: Path) -> None:
    """A child that cannot do the job (here: no store in its data dir) is a failed run."""
    run = run_job(store, policy, INBOX_INGEST, in_child=True, policy_path=tmp_path / "none.toml")
    assert run["outcome"] == "failed" and "ingest child" in run["error"]


def test_the_inbox_child_stops_between_files_when_the_service_stops(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """The service stopping (its stop flag) ends the child's pass before the next file; the
    files not taken stay in the inbox for the next run."""
    folder = store.root / "inbox" / "ZTO"
    folder.mkdir(parents=True)
    export = write_parquet(folder / "export.parquet", may_rows())
    stamp = export.stat().st_mtime - 3600
    os.utime(export, (stamp, stamp))
    stopped = ingest_child.inbox_pass_in_child(
        store, None, now=datetime.now(TZ), settle=timedelta(0), stop=lambda: True
    )
    assert stopped["errors"] == [] and stopped["files"] == [] and export.exists()
    done = ingest_child.inbox_pass_in_child(
        store, None, now=datetime.now(TZ), settle=timedelta(0), stop=lambda: False
    )
    assert done["errors"] == [] and not export.exists()
    assert done["ingested"] == 1 and _events(store)[1] > 0

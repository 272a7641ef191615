"""The service as operators run it (SPEC §10): ``parcel-subsidy serve`` in a real process, with
its scheduler. Files dropped into the inbox end in the report, exactly once, whatever signal
stops the service in the middle of an ingest."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from core.store import DB_NAME
from tests.factories import CENTER, HUB, NOW, SITES, cst, parcel, write_parquet, write_sites_csv

AS_OF = NOW.isoformat()
INBOX = "inbox_ingest"


def command() -> list[str]:
    """The installed ``parcel-subsidy`` script beside this Python, else ``python -m cli``."""
    script = Path(sys.executable).with_name("parcel-subsidy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One ``serve`` process on a data dir; its output goes to a log file."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data, self.log = data, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--data-dir", str(data), "serve", "--port", str(self.port), "--ingest-every", "1"]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*command(), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.healthy, what=f"/healthz of the service (log: {self.log_text()[-2000:]})")

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the service exited: {self.log_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def job_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_text().split("\n")[:-1]:  # the last one may be half-written
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == "job_run":
                    lines.append(record)
        return lines


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with the test sites registry, imported through the CLI."""
    root = tmp_path / "data"
    result = cli(root, "sites", "import", str(write_sites_csv(tmp_path / "sites.csv", SITES)))
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services started by a test; killed at its end if still running."""
    started: list[Service] = []
    yield started
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(timeout=10)


def drop(data: Path, carrier: str, name: str, source: Path) -> Path:
    """Put a file into the inbox as a careful operator does: written under a dot name, then
    renamed into place (its last write a minute old, so the settle period is over)."""
    folder = data / "inbox" / carrier
    folder.mkdir(parents=True, exist_ok=True)
    hidden = folder / f".{name}"
    hidden.write_bytes(source.read_bytes())
    stamp = time.time() - 60
    os.utime(hidden, (stamp, stamp))
    return hidden.rename(folder / name)


def eligible(data: Path, carrier: str, month: str = "2023-05") -> int:
    result = cli(data, "report", "--month", month, "--as-of", AS_OF, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout)["carriers"] if r["carrier"] == carrier]
    return rows[0]["eligible_parcels"] if rows else 0


def uploads(data: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / DB_NAME, timeout=30) as db:
        return db.execute(
            "SELECT id, carrier, status, accepted FROM uploads ORDER BY id"
        ).fetchall()


def upload_status(data: Path) -> str | None:
    rows = uploads(data)
    return rows[-1][2] if rows else None


def test_inbox_files_end_in_the_report_or_refused_and_count_once(
    data: Path, tmp_path: Path, services: list[Service]
) -> None:
    rows = [r for i in range(5) for r in parcel(f"ZT71000000{i:02d}", cst(2023, 5, 3, 10))]
    export = write_parquet(tmp_path / "ZTO-2023-05-03.parquet", rows)
    corrupt = tmp_path / "broken.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet")
    service = Service(data, tmp_path / "service.log")
    services.append(service)
    started = time.monotonic()

    drop(data, "ZTO", "ZTO-2023-05-03.parquet", export)
    drop(data, "ZTO", "broken.parquet", corrupt)
    done, refused = data / "inbox/ZTO/done", data / "inbox/ZTO/refused"
    wait_for(lambda: (done / "ZTO-2023-05-03.parquet").exists(), what="the export in done/")
    wait_for(lambda: (refused / "broken.parquet.reason.txt").exists(), what="the reason file")
    assert time.monotonic() - started < 15  # picked up at the next 1-second run
    assert eligible(data, "ZTO") == 5
    assert (refused / "broken.parquet").read_bytes() == corrupt.read_bytes()
    with sqlite3.connect(data / DB_NAME) as db:
        (error,) = db.execute("SELECT error FROM uploads WHERE status='refused'").fetchone()
    assert error and (refused / "broken.parquet.reason.txt").read_text() == f"{error}\n"

    drop(data, "ZTO", "ZTO-2023-05-03-again.parquet", export)
    wait_for(lambda: (done / "ZTO-2023-05-03-again.parquet").exists(), what="the copy in done/")
    assert eligible(data, "ZTO") == 5
    assert [(u[1], u[2]) for u in uploads(data)] == [("ZTO", "ingested"), ("ZTO", "refused")]

    token = cli(data, "tokens", "create", "--role", "auditor", "--name", "test")
    if token.returncode == 0:  # GET /v1/jobs shows what the runs did
        bearer = token.stdout.strip().split()[-1]
        jobs = httpx.get(
            f"{service.url}/v1/jobs", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        )
        assert jobs.status_code == 200, jobs.text
        body = jobs.json()
        listed = body["jobs"] if isinstance(body, dict) else body
        inbox = next(j for j in listed if j["id"] == "inbox_ingest")
        assert inbox["next_run_time"] is not None
        assert any(r["outcome"] == "ok" for r in inbox["last_runs"])

    assert service.stop(signal.SIGINT) == 0
    runs = service.job_lines()
    assert {"inbox_ingest", "monthly_draft", "store_upkeep"} <= {r["job"] for r in runs}
    taken = [r for r in runs if r["job"] == "inbox_ingest" and r["detail"]["files"]]
    assert sum(r["detail"]["ingested"] for r in taken) == 1
    assert sum(r["detail"]["refused"] for r in taken) == 1
    assert sum(r["detail"]["duplicate"] for r in taken) == 1


def big_export(path: Path, prefix: str, parcels: int) -> Path:
    """An export of ``parcels`` eligible parcels (two scans each) that takes a while to ingest."""
    start = datetime(2023, 5, 3, 8)
    waybills = pl.Series([f"{prefix}{i:09d}" for i in range(parcels)])
    departs = pl.datetime_range(start, start + timedelta(seconds=parcels - 1), "1s", eager=True)
    pl.DataFrame(
        {
            "waybill_no": pl.concat([waybills, waybills]),
            "scan_type": ["depart"] * parcels + ["arrive"] * parcels,
            "site_code": [CENTER] * parcels + [HUB] * parcels,
            "scan_time": pl.concat([departs, departs + timedelta(days=1)]),
        }
    ).write_parquet(path)
    return path


def test_stopped_during_an_ingest_each_file_counts_exactly_once_after_restart(
    data: Path, tmp_path: Path, services: list[Service]
) -> None:
    """SIGKILL in the middle of an ingest rolls it back; SIGTERM lets the running ingest
    finish before the process exits. After a restart each file is in the store once."""
    parcels = 150_000
    first = big_export(tmp_path / "first.parquet", "ZT8", parcels)
    second = big_export(tmp_path / "second.parquet", "ZT9", parcels)
    done = data / "inbox/ZTO/done"

    killed = Service(data, tmp_path / "killed.log")
    services.append(killed)
    drop(data, "ZTO", "first.parquet", first)
    wait_for(lambda: upload_status(data) == "ingesting", what="the first ingest to start")
    assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
    assert [u[2] for u in uploads(data)] == ["ingesting"]  # nothing of it committed
    assert (data / "inbox/ZTO/first.parquet").exists()

    restarted = Service(data, tmp_path / "restarted.log")
    services.append(restarted)
    wait_for(lambda: (done / "first.parquet").exists(), what="the first file in done/")
    drop(data, "ZTO", "second.parquet", second)
    wait_for(lambda: upload_status(data) == "ingesting", what="the second ingest to start")
    assert restarted.stop(signal.SIGTERM) == 0
    assert [u[2:] for u in uploads(data)] == [("ingested", 2 * parcels)] * 2
    assert (done / "second.parquet").exists()

    again = Service(data, tmp_path / "again.log")
    services.append(again)
    wait_for(lambda: again.job_lines(), what="the ingest run at start-up")
    assert again.stop(signal.SIGTERM) == 0
    assert [run["detail"]["files"] for run in again.job_lines() if run["job"] == INBOX] == [0]
    assert uploads(data) == [
        (1, "ZTO", "ingested", 2 * parcels),
        (2, "ZTO", "ingested", 2 * parcels),
    ]
    events = pl.scan_parquet(str(data / "events/**/*.parquet")).select(pl.len()).collect().item()
    assert events == 4 * parcels
    assert eligible(data, "ZTO") == 2 * parcels


def test_demo_fills_a_fresh_data_folder_and_only_a_fresh_one(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = cli(data, "demo", "--parcels", "2000", "--months", "1", "--start", "2024-05")
    assert result.returncode == 0, result.stderr
    assert "report --month 2024-05" in result.stdout
    report = json.loads(cli(data, "report", "--month", "2024-05", "--format", "json").stdout)
    assert len(report["carriers"]) >= 5
    assert report["totals"]["eligible_parcels"] > 1000
    assert sum(report["totals"]["ineligible"].values()) > 0
    again = cli(data, "demo", "--parcels", "2000", "--months", "1")
    assert again.returncode == 2 and "fresh data folder" in again.stderr

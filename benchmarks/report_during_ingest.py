"""The monthly report route's latency while uploads are ingested by the same live service.

Usage::

    python -m benchmarks.report_during_ingest --store DIR [--work DIR] [--month 2023-05]
        [--as-of ISO] [--rows 2000000] [--uploads 2] [--concurrency 8] [--code DIR]

Copies the store ``--store`` (a benchmark store, e.g. ``benchmarks.run full``'s) to ``--work``,
writes ``--uploads`` ZTO exports of ``--rows`` rows each (new parcels of May-June 2023: a
departure at a district center of the store's registry, a hub arrival two hours later, a
pickup and a signature; a few repeats and bad waybills), starts ``parcel-subsidy serve
--no-scheduler`` (uvicorn, a child process; ``--code DIR`` runs another checkout's code, e.g.
``git archive`` of an older commit) and:

1. ``--concurrency`` reader threads (an auditor's token, one keep-alive client each) ask
   ``GET /v1/reports/monthly`` without pause;
2. after a few seconds the uploads are sent (``POST /v1/uploads`` as a ZTO operator), one
   after the other; the service ingests each in the background;
3. the run waits until every upload is ``ingested`` and a report shows the figures of the
   last commit, then lets the readers run a few seconds more.

It prints one JSON line: p50/p90/p99/max of the requests *started while the uploads were
being ingested and published* (from the first upload to the new figures being served), the
same for the quiet seconds before, the slowest requests with their start time relative to
each commit, and whether the figures served at the end equal a full rebuild of the store
(``benchmarks.worker rebuild``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from benchmarks.api_latency import _free_port, _percentile
from core.policy import resolve_policy
from core.store import Store
from subsidy.tokens import create_token

REPO = Path(__file__).resolve().parents[1]
CENTER = "JY-DC-01"
HUBS = ("JY-VH-JY01", "JY-VH-JY02", "JY-VH-JY03", "JY-VH-JY04")


def write_upload(path: Path, first: int, rows: int, hubs: list[str]) -> Path:
    """``rows`` scan rows of new ZTO parcels (four scans each, parcel numbers from
    ``first // 4``) in May-June 2023, as a ZTO export."""
    i = pl.col("i")
    src = pl.when((i % 200 == 199) & (i >= 100)).then(i - 100).otherwise(i)  # 0.5% repeats
    parcel = src // 4
    kind = src % 4  # pickup, depart, arrive, sign
    waybill = pl.format("ZS{}", parcel.cast(pl.String).str.zfill(11))
    seconds = parcel * 7 % (60 * 86_400) + kind * 3_600
    site = (
        pl.when(kind == 1)
        .then(pl.lit(CENTER))
        .when(kind == 0)
        .then(pl.lit("JN-SC-01"))
        .otherwise(pl.lit(pl.Series(hubs)).gather(parcel % len(hubs)))
    )
    frame = pl.DataFrame({"i": range(first, first + rows)}, schema={"i": pl.Int64}).select(
        pl.when(i % 1000 == 7).then(pl.lit("bad#")).otherwise(waybill).alias("waybill_no"),
        pl.lit(pl.Series(["pickup", "depart", "arrive", "sign"])).gather(kind).alias("scan_type"),
        site.alias("site_code"),
        (pl.lit(datetime(2023, 5, 1)) + pl.duration(seconds=seconds)).alias("scan_time"),
    )
    frame.write_parquet(path, compression="zstd", row_group_size=500_000)
    return path


class Readers:
    """``n`` threads asking for the report until stopped; each request's start and latency."""

    def __init__(self, base: str, token: str, params: dict[str, str], n: int) -> None:
        self.samples: list[tuple[float, float]] = []
        self.last: dict[str, Any] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(base, token, params)) for _ in range(n)
        ]

    def _run(self, base: str, token: str, params: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
            while not self._stop.is_set():
                start = time.monotonic()
                resp = client.get("/v1/reports/monthly", params=params)
                elapsed = time.monotonic() - start
                with self._lock:
                    if resp.status_code != 200:
                        self.errors.append(f"{resp.status_code} {resp.text[:200]}")
                        continue
                    self.samples.append((start, elapsed * 1000))
                    self.last = resp.json()

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def _stats(ms: list[float]) -> dict[str, Any]:
    ordered = sorted(ms)
    return {
        "requests": len(ordered),
        "p50_ms": round(_percentile(ordered, 0.50), 1),
        "p90_ms": round(_percentile(ordered, 0.90), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else None,
    }


def _figures(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            c["carrier"],
            c["eligible_parcels"],
            c["subsidy_fen"],
            c["pending_parcels"],
            *sorted(c["ineligible"].items()),
        )
        for c in report["carriers"]
    )


def run(a: argparse.Namespace) -> dict[str, Any]:
    work = a.work
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(a.store, work)
    store = Store(work)
    uploads_dir = a.store.parent / f"during-uploads-{a.rows}"
    uploads_dir.mkdir(exist_ok=True)
    hubs = [h for h in HUBS if h in {r[0] for r in _site_codes(store)}] or [HUBS[0]]
    files = []
    for n in range(a.uploads):
        path = uploads_dir / f"ZTO-upload-{n}.parquet"
        if not path.exists():
            write_upload(path, (n + 1) * 100_000_000, a.rows, hubs)
        files.append(path)
    carriers = resolve_policy(work).carriers
    reader, _ = create_token(
        store, role="auditor", name="bench-reader", actor="benchmark", carriers=carriers
    )
    operator, _ = create_token(
        store,
        role="operator",
        carrier="ZTO",
        name="bench-operator",
        actor="benchmark",
        carriers=carriers,
    )
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(work), "serve", "--no-scheduler",
         "--port", str(port), "--log-level", "warning"],
        cwd=a.code,
        env={**os.environ, "PYTHONPATH": str(a.code)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    params = {"month": a.month, "as_of": a.as_of}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {reader}"}
        with httpx.Client(base_url=base, timeout=600, headers=auth) as client:
            for _ in range(3):  # warm-up (and the results built if the store has none)
                before = client.get("/v1/reports/monthly", params=params).raise_for_status()
        readers = Readers(base, reader, params, a.concurrency)
        readers.start()
        time.sleep(a.quiet)
        began = time.monotonic()
        commits: list[float] = []
        ids = []
        op = {"Authorization": f"Bearer {operator}"}
        with httpx.Client(base_url=base, timeout=600, headers=op) as client:
            for path in files:
                with path.open("rb") as fh:
                    resp = client.post("/v1/uploads", files={"file": (path.name, fh)})
                resp.raise_for_status()
                ids.append(resp.json()["id"])
            pending = set(ids)
            while pending:
                for upload_id in sorted(pending):
                    doc = client.get(f"/v1/uploads/{upload_id}").raise_for_status().json()
                    if doc["status"] in ("ingested", "refused"):
                        if doc["status"] == "refused":
                            raise SystemExit(f"upload {upload_id} refused: {doc['error']}")
                        pending.discard(upload_id)
                        commits.append(time.monotonic())
                time.sleep(0.05)
        version = store.version()
        while True:  # the new figures served: the published set is the last commit's
            doc = json.loads((work / "results" / "current.json").read_text(encoding="utf-8"))
            if doc["store_version"] >= version and readers.last:
                break
            if time.monotonic() - began > 1800:
                raise SystemExit("the figures were never published")
            time.sleep(0.05)
        published = time.monotonic()
        time.sleep(a.quiet)
        readers.stop()
        final = _figures(readers.last)
    finally:
        server.terminate()
        server.wait(30)
    quiet = [ms for start, ms in readers.samples if start < began]
    during = [ms for start, ms in readers.samples if began <= start <= published]
    slowest = sorted(
        ((ms, start) for start, ms in readers.samples if began <= start <= published),
        reverse=True,
    )[:5]
    check = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", "rebuild", "--data-dir", str(work),
         "--as-of", a.as_of],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    rebuilt = [
        r for r in json.loads(check.stdout.strip().splitlines()[-1])["counts"]
        if r["month"] == a.month
    ]  # fmt: skip
    rebuilt_figures = sorted(
        (
            r["carrier"],
            r["eligible_parcels"],
            r["subsidy_fen"],
            r["pending_parcels"],
            *sorted(
                (k, r[k]) for k in ("late_hub_arrival", "no_hub_arrival", "outside_policy_window")
            ),
        )
        for r in rebuilt
        if any(
            r[k]
            for k in (
                "eligible_parcels",
                "pending_parcels",
                "late_hub_arrival",
                "no_hub_arrival",
                "outside_policy_window",
            )
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    return {
        "route": "GET /v1/reports/monthly",
        "params": params,
        "code": str(a.code),
        "store": str(a.store),
        "uploads": a.uploads,
        "rows_per_upload": a.rows,
        "concurrency": a.concurrency,
        "quiet": _stats(quiet),
        "during_ingest": _stats(during),
        "ingest_and_publish_seconds": round(published - began, 2),
        "commits_after_s": [round(c - began, 2) for c in commits],
        "slowest_during": [
            {"ms": round(ms, 1), "started_after_s": round(start - began, 2)}
            for ms, start in slowest
        ],
        "errors": readers.errors[:5],
        "figures_changed": _figures(before.json()) != final,
        "equals_full_rebuild": final == rebuilt_figures,
    }


def _site_codes(store: Store) -> list[tuple[str]]:
    with store.connect() as db:
        return [tuple(r) for r in db.execute("SELECT site_code FROM sites").fetchall()]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.report_during_ingest")
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--month", default="2023-05")
    p.add_argument("--as-of", default="2023-07-01T00:00:00+08:00")
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--uploads", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--quiet", type=float, default=5.0, help="seconds of reading before/after")
    p.add_argument("--code", type=Path, default=REPO, help="the checkout whose serve runs")
    a = p.parse_args(argv)
    a.work = a.work or a.store.parent / f"{a.store.name}-during"
    line = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **run(a)}
    out = REPO / "benchmarks" / "results" / "report_during_ingest.jsonl"
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Latency and throughput of one API route over real HTTP (uvicorn in a child process).

Usage::

    python -m benchmarks.api_latency --data-dir DIR [--month 2023-05] [--role auditor]
        [--carrier ZTO] [--requests 40] [--concurrency 1] [--as-of ISO] [--format json]
        [--warmup 2] [--port 0]

Creates a token of ``--role`` in the store (revoked afterwards), starts
``parcel-subsidy --data-dir DIR serve --no-scheduler`` on a free loopback port, waits for
``/healthz``, sends ``--warmup`` untimed requests, then ``--requests`` timed ones from
``--concurrency`` threads (one keep-alive httpx client each), and prints one JSON line:
p50/p90/p99/max latency in ms, requests per second, bytes of the answer. The server is
stopped afterwards. Build the store first, e.g. with ``ingest.synthetic`` and the CLI's
``ingest``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from core.policy import resolve_policy
from core.store import Store
from subsidy.tokens import create_token, revoke_token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = (len(sorted_ms) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (k - lo)


def run(args: argparse.Namespace) -> dict[str, Any]:
    store = Store(args.data_dir).init()
    policy = resolve_policy(store.root)
    token, info = create_token(
        store,
        role=args.role,
        carrier=args.carrier,
        name="benchmark",
        actor="benchmark",
        carriers=policy.carriers,
    )
    port = args.port or _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "--data-dir",
            str(store.root),
            "serve",
            "--no-scheduler",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).resolve().parents[1],
    )
    base = f"http://127.0.0.1:{port}"
    params = {"month": args.month, "format": args.format}
    if args.as_of:
        params["as_of"] = args.as_of
    headers = {"Authorization": f"Bearer {token}"}
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
        with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
            for _ in range(args.warmup):
                client.get("/v1/reports/monthly", params=params).raise_for_status()
        latencies: list[float] = []
        sizes: list[int] = []
        lock = threading.Lock()
        remaining = [args.requests]

        def worker() -> None:
            with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
                while True:
                    with lock:
                        if remaining[0] == 0:
                            return
                        remaining[0] -= 1
                    start = time.perf_counter()
                    resp = client.get("/v1/reports/monthly", params=params)
                    elapsed = (time.perf_counter() - start) * 1000
                    resp.raise_for_status()
                    with lock:
                        latencies.append(elapsed)
                        sizes.append(len(resp.content))

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(30)
        revoke_token(store, info.id, actor="benchmark")
    ordered = sorted(latencies)
    with store.connect() as db:
        events = db.execute("SELECT COALESCE(SUM(rows), 0) FROM event_files").fetchone()[0]
    return {
        "route": "GET /v1/reports/monthly",
        "params": params,
        "role": args.role,
        "carrier": args.carrier,
        "events": events,
        "requests": len(latencies),
        "concurrency": args.concurrency,
        "p50_ms": round(_percentile(ordered, 0.50), 1),
        "p90_ms": round(_percentile(ordered, 0.90), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else None,
        "requests_per_s": round(len(latencies) / wall, 2) if wall else None,
        "answer_bytes": sizes[0] if sizes else None,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--month", default="2023-05")
    parser.add_argument("--role", default="auditor")
    parser.add_argument("--carrier", help="the operator's carrier (with --role operator)")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--as-of", help="ISO 8601 as_of (default: the server's now)")
    parser.add_argument("--format", default="json", choices=("json", "csv", "xlsx"))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    print(json.dumps(run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()

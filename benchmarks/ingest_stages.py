"""Where the CPU time of an ingest goes: the product's ingest of every file of a generated
set, with CPU timers (``time.process_time``: all threads of this process) around its steps.

Usage::

    python -m benchmarks.ingest_stages --input /tmp/parcel-bench/input-p2000000-month
        [--data-dir /tmp/parcel-bench/stages] [--batch-rows 131072]

Prints one line per step (CPU seconds) and the total; the store is made afresh. Steps nest:
``within-file de-duplication`` and ``parquet write`` are inside ``write_partitions``, the
validation's collect inside ``read + validate + partition``; SQLite opens are anywhere.
``--files N`` takes the first N files (sorted by path).
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

import ingest.stream as stream
import ingest.uploads as uploads
from core.policy import load_policy
from core.store import Store
from core.timeutil import now_local

CPU: dict[str, float] = defaultdict(float)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[name] += time.process_time() - t0

    return wrapper


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest_stages")
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/parcel-bench/stages"))
    p.add_argument("--batch-rows", type=int, default=stream.IngestLimits().batch_rows)
    p.add_argument("--files", type=int, default=None, help="only the first N files")
    a = p.parse_args(argv)
    stream.unique_events = _timed("within-file de-duplication (hash)", stream.unique_events)
    uploads.spill_upload = _timed("read + validate + partition", uploads.spill_upload)
    uploads.register_upload = _timed("register (SHA-256, keep, fsync)", uploads.register_upload)
    uploads.write_partitions = _timed("write_partitions (all of it)", uploads.write_partitions)
    pl.collect_all = _timed("validation (the plan's collect)", pl.collect_all)
    Store._open = _timed("SQLite opens", Store._open)  # type: ignore[method-assign]  # a timer around the method
    pq.ParquetWriter.write_table = _timed("parquet write", pq.ParquetWriter.write_table)  # type: ignore[method-assign]  # a timer around the method
    shutil.rmtree(a.data_dir, ignore_errors=True)
    store = Store(a.data_dir).init()
    policy = load_policy()
    limits = stream.IngestLimits(batch_rows=a.batch_rows)
    files = sorted((a.input / "scans").glob("*/*.parquet"))[: a.files]
    t0, w0 = time.process_time(), time.perf_counter()
    rows = 0
    for path in files:
        up = uploads.ingest_file(
            store, path, policy, carrier=path.parent.name, now=now_local(), limits=limits
        )
        rows += up.rows_read
    total, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"{len(files)} files, {rows} rows: {total:.2f} s of CPU, {wall:.2f} s wall")
    for name, seconds in sorted(CPU.items(), key=lambda item: -item[1]):
        print(f"{seconds:8.2f}  {name}  ({seconds / len(files) * 1000:.1f} ms a file)")
    shutil.rmtree(a.data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

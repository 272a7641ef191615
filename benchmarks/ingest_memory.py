"""Peak memory of ingesting ONE file, per size and shape of the file.

Usage::

    python -m benchmarks.ingest_memory --rows 5000000 [--shapes many,one,multi,csv,expands]
        [--root /tmp/parcel-bench/memory] [--code DIR] [--check]

Each shape is generated once (``ingest.synthetic.write_flat``) under ``ROOT/input``, then
ingested by a child ``parcel-subsidy ingest`` (``python -m cli``) into a fresh data dir; the
child reports its own ``VmHWM`` (peak resident memory) and the wall time is taken around it.
``--code DIR`` runs the CLI of another checkout of the project (``git archive main``: the
figures before a change), with this one's Python. ``--check`` runs the preview
(``ingest --check``) instead of the ingest: same file, same child, nothing stored.

Shapes: ``many`` Parquet in row groups of 1M rows, uploaded for ZTO; ``one`` the same rows in
ONE row group; ``multi`` three carriers in one file, ingested without a carrier (an admin);
``csv`` the rows as CSV text; ``expands`` a small zstd Parquet file of 4M rows whose pages
decode to ~3.9 GiB (one 1,000-character waybill repeated), which the default limits allow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.run import RESULTS, machine
from ingest.synthetic import write_flat

SHAPES = ("many", "one", "multi", "csv", "expands")
_CHILD = (
    "import sys, cli\n"
    "rc = cli.main(sys.argv[1:])\n"
    "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "print('VMHWM', int(hwm.split()[1]) * 1024, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def make_input(root: Path, shape: str, rows: int) -> tuple[Path, list[str]]:
    """The file of ``shape`` (generated once) and the CLI arguments that ingest it."""
    root.mkdir(parents=True, exist_ok=True)
    suffix = "csv" if shape == "csv" else "parquet"
    path = root / f"{shape}-{rows}.{suffix}"
    carrier = ["--carrier", "ZTO"]
    if shape == "multi":
        carrier = []
    if not path.exists():
        partial = path.with_name(f".{path.name}.part{path.suffix}")
        if shape == "expands":
            wide = pl.DataFrame(
                {
                    "waybill_no": ["W" * 1000] * rows,
                    "scan_type": ["depart"] * rows,
                    "site_code": ["JY-C01"] * rows,
                    "scan_time": ["2023-05-01 10:00:00"] * rows,
                }
            )
            wide.write_parquet(partial, compression="zstd", row_group_size=1_000_000)
        else:
            carriers = ("ZTO", "YTO", "STO") if shape == "multi" else ("ZTO",)
            write_flat(
                partial,
                rows,
                carriers=carriers,
                row_group_rows=None if shape == "one" else 1_000_000,
            )
        os.replace(partial, path)
    return path, carrier


def run_ingest(
    code: Path, data_dir: Path, path: Path, carrier: list[str], *, check: bool = False
) -> dict[str, Any]:
    """``parcel-subsidy ingest [--check]`` in a child process: seconds, peak RSS, its JSON
    answer."""
    shutil.rmtree(data_dir, ignore_errors=True)
    cmd = [sys.executable, "-B", "-c", _CHILD, "--data-dir", str(data_dir), "ingest"]
    cmd += ["--check"] if check else []
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--format", "json", str(path), *carrier],
        cwd=code,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    peak = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VMHWM")]
    answer: Any = None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = done.stdout[-300:] or done.stderr[-300:]
    if isinstance(answer, dict) and answer.get("files"):
        answer = answer["files"]
    first = answer[0] if isinstance(answer, list) and answer else answer
    keys = ("status", "rows_read", "accepted", "rejected", "duplicates", "error", "refusal")
    outcome = {k: first.get(k) for k in keys} if isinstance(first, dict) else {"raw": first}
    if isinstance(outcome.get("rejected"), dict):  # a preview's: {reason: {count, examples}}
        outcome["rejected"] = sum(r["count"] for r in outcome["rejected"].values())
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_gib": round(peak[0] / 2**30, 3) if peak else None,
        "exit": done.returncode,
        **outcome,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest_memory")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--root", type=Path, default=Path("/tmp/parcel-bench/memory"))
    p.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent)
    p.add_argument("--check", action="store_true", help="measure the preview, not the ingest")
    a = p.parse_args(argv)
    figures = {}
    for shape in a.shapes.split(","):
        path, carrier = make_input(a.root / "input", shape, a.rows)
        result = run_ingest(a.code, a.root / "data", path, carrier, check=a.check)
        result["file_mib"] = round(path.stat().st_size / 2**20, 1)
        figures[shape] = result
        print(json.dumps({"shape": shape, "rows": a.rows, "check": a.check, **result}), flush=True)
    kind = "preview_memory" if a.check else "ingest_memory"
    line = {"kind": kind, "rows": a.rows, "code": str(a.code), "figures": figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**line, "machine": machine()}) + "\n")


if __name__ == "__main__":
    main()

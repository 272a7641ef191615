"""Peak memory and time of ingesting ONE Excel workbook (SPEC §3a; target: a 1M-row ``.xlsx``
under 1 GiB of peak RSS).

Usage::

    python -m benchmarks.excel_memory --rows 1000000 [--root /tmp/parcel-bench/excel]

The workbook is written once by xlsxwriter (constant-memory mode, as export tools write
large sheets) under ``ROOT/input``: a title line, then the header 运单号, 扫描类型, 扫描网点,
扫描时间, 下一站; waybills as number cells, scan types in J&T's words, times as date-time
cells. A child ``parcel-subsidy ingest`` (``python -m cli``) ingests it into a fresh data
dir and reports its own ``VmHWM``; the wall time and the child's CPU seconds are taken around
it. One JSON line is appended to ``benchmarks/results/results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.ingest_memory import _CHILD
from benchmarks.run import RESULTS, machine

WORDS = ("快件揽收", "发件扫描", "到件扫描", "派件扫描", "快件签收", "装袋")
SITES = ("JY-C01", "JY-H01", "JY-H02", "JY-O01")


def write_workbook(path: Path, rows: int) -> None:
    """``rows`` scan rows in one sheet (Excel holds at most 1,048,575 below a header)."""
    import xlsxwriter

    partial = path.with_name(f".{path.name}.part.xlsx")
    book = xlsxwriter.Workbook(partial, {"constant_memory": True})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet("扫描明细")
    sheet.write_row(0, 0, ["极兔速递扫描明细 2023-05"])
    sheet.write_row(1, 0, ["运单号", "扫描类型", "扫描网点", "扫描时间", "下一站"])
    start = datetime(2023, 5, 1, 6)
    for i in range(rows):
        r = i + 2
        sheet.write_number(r, 0, 780_000_000_000 + i // 3)
        sheet.write_string(r, 1, WORDS[i % len(WORDS)])
        sheet.write_string(r, 2, SITES[i % len(SITES)])
        sheet.write_datetime(r, 3, start + timedelta(seconds=2 * i), stamp)
        sheet.write_string(r, 4, SITES[(i + 1) % len(SITES)])
    book.close()
    partial.rename(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/parcel-bench/excel"))
    args = parser.parse_args(argv)
    source = args.root / "input" / f"jt-{args.rows}.xlsx"
    source.parent.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        began = time.perf_counter()
        write_workbook(source, args.rows)
        print(f"wrote {source} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    data = args.root / "data"
    shutil.rmtree(data, ignore_errors=True)
    command = [sys.executable, "-c", _CHILD, "--data-dir", str(data), "ingest", str(source)]
    began = time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([*command, "--carrier", "JT"], capture_output=True, text=True)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    peak = next(
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("VMHWM")
    )
    result = {
        "benchmark": "excel_memory",
        "rows": args.rows,
        "bytes": source.stat().st_size,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),  # steadier than wall time on a shared machine
        "peak_rss_gib": round(peak / (1 << 30), 3),
        "exit": done.returncode,
        "output": done.stdout.strip().splitlines()[-1:],
        "machine": machine(),
    }
    print(json.dumps(result, ensure_ascii=False))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

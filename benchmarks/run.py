"""Benchmark runs of the product's pipelines, side by side with DuckDB and the I/O floor.

Usage (see ``benchmarks/README.md``)::

    python -m benchmarks.run generate    --parcels N [--layout month|day] [--shapes mixed]
    python -m benchmarks.run full        --parcels N   # fresh store: ingest all, every report
    python -m benchmarks.run peer        --parcels N   # our report rebuild, then DuckDB's over
                                                       # the store's files and the raw uploads
    python -m benchmarks.run floor       --parcels N   # scan_parquet(...).sink_parquet(...)
    python -m benchmarks.run incremental --parcels N   # one more day into the full store
    python -m benchmarks.run all         --parcels N   # the five above, in that order

Every measured step runs in a child process; its wall time is measured here and its peak RSS
read from ``os.wait4`` (the child's own ``ru_maxrss``). Each run appends one JSON line to
``benchmarks/results/results.jsonl``: machine, library versions, N, figures and ratios.
Data lives under ``--root`` (default ``$PARCEL_BENCH_DIR`` or ``/tmp/parcel-bench``).
``--shapes mixed`` generates (and ``full`` ingests) a set where every other export of each
carrier comes in its own words and format (``ingest.synthetic``, ``ingest.shapes``);
``--shapes canonical`` the same rows as Parquet, to compare with.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results") / "results.jsonl"
FIGURES = (
    "eligible_parcels",
    "subsidy_fen",
    "pending_parcels",
    "no_hub_arrival",
    "late_hub_arrival",
    "outside_policy_window",
)
PY = sys.executable


# -- measuring children -------------------------------------------------------------------------
@dataclass
class Measured:
    """One child process: wall seconds, peak RSS (bytes), exit code and its output."""

    seconds: float
    peak_rss: int
    stdout: str
    stderr: str
    #: CPU seconds (user + system, all threads): steadier than wall time on a shared machine
    cpu_seconds: float = 0.0

    def json(self) -> Any:
        """The child's stdout as JSON (its last line)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def measure(cmd: list[str], *, label: str) -> Measured:
    """Run ``cmd``; its wall time and its own peak RSS, or raise with its stderr.

    The peak is the one the child reports (``peak_rss_bytes`` in its JSON line, see
    :mod:`benchmarks.peak`), else ``wait4``'s ``ru_maxrss``.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Measured(
            seconds,
            usage.ru_maxrss * 1024,
            out.read(),
            err.read(),
            usage.ru_utime + usage.ru_stime,
        )
    # The child's own high-water mark when it reports one (benchmarks.worker.own_peak_rss):
    # wait4's ru_maxrss carries this (large) parent's peak into the child across exec.
    with contextlib.suppress(ValueError, IndexError, KeyError, AttributeError, TypeError):
        result.peak_rss = int(result.json()["peak_rss_bytes"])
    print(
        f"[bench] {label}: {seconds:.2f} s ({result.cpu_seconds:.2f} s of CPU), "
        f"peak RSS {result.peak_rss / 2**30:.2f} GiB",
        file=sys.stderr,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {proc.returncode}): {result.stderr[-3000:]}")
    return result


def machine() -> dict[str, Any]:
    """Where the run happened: CPUs, memory, versions."""
    import duckdb
    import polars as pl
    import pyarrow as pa

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
    }


def record(kind: str, args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    """Append one JSON line to the results file and return it."""
    line = {
        "run": kind,
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "parcels": args.parcels,
        "layout": args.layout,
        "shapes": args.shapes,
        "machine": machine(),
        **figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(json.dumps(line, ensure_ascii=False, indent=1))
    return line


def latest(kind: str, parcels: int, layout: str, shapes: str = "parquet") -> dict[str, Any] | None:
    """The last recorded run of ``kind`` at this size, if any."""
    if not RESULTS.exists():
        return None
    found = None
    for text in RESULTS.read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        key = (line.get("run"), line.get("parcels"), line.get("layout"))
        if key == (kind, parcels, layout) and line.get("shapes", "parquet") == shapes:
            found = line
    return found


# -- locations ------------------------------------------------------------------------------
def _suffix(a: argparse.Namespace) -> str:
    return "" if a.shapes == "parquet" else f"-{a.shapes}"


def input_dir(a: argparse.Namespace) -> Path:
    return a.input or a.root / f"input-p{a.parcels}-{a.layout}{_suffix(a)}"


def store_dir(a: argparse.Namespace) -> Path:
    return a.root / f"store-p{a.parcels}-{a.layout}{_suffix(a)}"


def input_files(a: argparse.Namespace) -> list[Path]:
    """Every export of the set: Parquet, and with ``--shapes mixed`` workbooks, CSV, TSV."""
    return sorted(p for p in (input_dir(a) / "scans").glob("*/*") if p.is_file())


def period(a: argparse.Namespace) -> tuple[list[str], datetime]:
    """The months of the generated period and its end (the default ``as_of``)."""
    params = json.loads((input_dir(a) / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    start = date.fromisoformat(params["start"])
    months = []
    for i in range(params["months"]):
        y, m = divmod(start.month - 1 + i, 12)
        months.append(f"{start.year + y:04d}-{m + 1:02d}")
    end = date.fromisoformat(params["end_exclusive"])
    return months, datetime(end.year, end.month, end.day)


def as_of_text(a: argparse.Namespace) -> str:
    return a.as_of or period(a)[1].isoformat() + "+08:00"


def _figures_equal(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> bool:
    def key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (r["month"], r["carrier"], *(int(r[f]) for f in FIGURES))
            for r in rows
            if any(int(r[f]) for f in FIGURES)
        )

    return key(ours) == key(theirs)


def _rows(m: Measured) -> list[dict[str, Any]]:
    return m.json()["counts"]


# -- steps ----------------------------------------------------------------------------------
def cmd_generate(a: argparse.Namespace) -> dict[str, Any]:
    target = input_dir(a)
    if (target / "manifest.json").exists():
        print(f"[bench] {target} exists; not generating again", file=sys.stderr)
        return json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    m = measure(
        [PY, "-m", "ingest.synthetic", "--parcels", str(a.parcels), "--out", str(target),
         "--layout", a.layout, "--shapes", a.shapes],
        label="generate",
    )  # fmt: skip
    if a.shapes != "parquet":
        record("generate", a, {"generate_seconds": round(m.seconds, 3),
                               "generate_peak_rss_gib": round(m.peak_rss / 2**30, 3),
                               "counts": m.json()})  # fmt: skip
    return m.json()


def cmd_full(a: argparse.Namespace) -> dict[str, Any]:
    cmd_generate(a)
    store = store_dir(a)
    shutil.rmtree(store, ignore_errors=True)
    files = input_files(a)
    months, _ = period(a)
    sites = measure(
        [PY, "-m", "cli", "--data-dir", str(store), "sites", "import",
         str(input_dir(a) / "sites.csv")],
        label="sites import",
    )  # fmt: skip
    ingest = measure(
        [PY, "-m", "benchmarks.worker", "ingest", "--data-dir", str(store),
         *map(str, files)],
        label=f"ingest {len(files)} files",
    )  # fmt: skip
    stats = ingest.json()
    reports = measure(
        [PY, "-m", "benchmarks.worker", "reports", "--data-dir", str(store),
         "--as-of", as_of_text(a), *months],
        label=f"reports of {len(months)} months",
    )  # fmt: skip
    input_bytes = sum(f.stat().st_size for f in files)
    return record(
        "full",
        a,
        {
            "rows": stats["rows_read"],
            "input_files": len(files),
            "input_files_by_format": {
                suffix: sum(1 for f in files if f.suffix == suffix)
                for suffix in sorted({f.suffix for f in files})
            },
            "input_mib": round(input_bytes / 2**20, 1),
            "as_of": as_of_text(a),
            "ingest": stats,
            "sites_import_seconds": round(sites.seconds, 3),
            "ingest_seconds": round(ingest.seconds, 3),
            "ingest_cpu_seconds": round(ingest.cpu_seconds, 3),
            "ingest_rows_per_s": round(stats["rows_read"] / ingest.seconds),
            "ingest_peak_rss_gib": round(ingest.peak_rss / 2**30, 3),
            "report_seconds": round(reports.seconds, 3),
            "report_peak_rss_gib": round(reports.peak_rss / 2**30, 3),
            "full_seconds": round(sites.seconds + ingest.seconds + reports.seconds, 3),
            "full_cpu_seconds": round(
                sites.cpu_seconds + ingest.cpu_seconds + reports.cpu_seconds, 3
            ),
            "report_months": months,
            "counts": _rows(reports),
        },
    )


def _ensure_full(a: argparse.Namespace) -> dict[str, Any]:
    done = latest("full", a.parcels, a.layout, a.shapes)
    if done is None or not (store_dir(a) / "parcel_subsidy.sqlite").exists():
        done = cmd_full(a)
    return done


def cmd_peer(a: argparse.Namespace) -> dict[str, Any]:
    full = _ensure_full(a)
    ours = measure(
        [PY, "-m", "benchmarks.worker", "rebuild", "--data-dir", str(store_dir(a)),
         "--as-of", full["as_of"]],
        label="our full rebuild of every report (from the store)",
    )  # fmt: skip
    stored = measure(
        [PY, "-m", "benchmarks.peer_duckdb", "--store", str(store_dir(a)),
         "--as-of", full["as_of"]],
        label="DuckDB peer (from the store's own event files)",
    )  # fmt: skip
    peer = measure(
        [PY, "-m", "benchmarks.peer_duckdb", "--input", str(input_dir(a)),
         "--as-of", full["as_of"]],
        label="DuckDB peer (from the input files)",
    )  # fmt: skip
    same = _figures_equal(_rows(ours), _rows(peer))
    same_stored = _figures_equal(_rows(ours), _rows(stored))
    return record(
        "peer",
        a,
        {
            "rows": full["rows"],
            "as_of": full["as_of"],
            "ours_seconds": round(ours.seconds, 3),
            "ours_cpu_seconds": round(ours.cpu_seconds, 3),
            "ours_peak_rss_gib": round(ours.peak_rss / 2**30, 3),
            # the yardstick over the same stored files (what the rule itself is worth)
            "duckdb_store_seconds": round(stored.seconds, 3),
            "duckdb_store_cpu_seconds": round(stored.cpu_seconds, 3),
            "duckdb_store_peak_rss_gib": round(stored.peak_rss / 2**30, 3),
            "time_ratio_store": round(ours.seconds / stored.seconds, 3),
            "cpu_ratio_store": round(ours.cpu_seconds / stored.cpu_seconds, 3),
            "rss_ratio_store": round(ours.peak_rss / stored.peak_rss, 3),
            "figures_identical_store": same_stored,
            # the yardstick over the raw uploads (DuckDB validates the rows it uses)
            "duckdb_seconds": round(peer.seconds, 3),
            "duckdb_peak_rss_gib": round(peer.peak_rss / 2**30, 3),
            "time_ratio": round(ours.seconds / peer.seconds, 3),
            "rss_ratio": round(ours.peak_rss / peer.peak_rss, 3),
            "ingest_plus_reports_vs_duckdb": round(
                (full["ingest_seconds"] + full["report_seconds"]) / peer.seconds, 3
            ),
            "figures_identical": same,
            "carrier_months": len(_rows(peer)),
        },
    )


def cmd_floor(a: argparse.Namespace) -> dict[str, Any]:
    full = _ensure_full(a)
    out = a.root / f"floor-p{a.parcels}-{a.layout}.parquet"
    floor = measure(
        [PY, "-m", "benchmarks.worker", "floor", "--out", str(out), *map(str, input_files(a))],
        label="floor copy",
    )  # fmt: skip
    out.unlink(missing_ok=True)
    return record(
        "floor",
        a,
        {
            "rows": full["rows"],
            "floor_seconds": round(floor.seconds, 3),
            "floor_cpu_seconds": round(floor.cpu_seconds, 3),
            "floor_peak_rss_gib": round(floor.peak_rss / 2**30, 3),
            "ingest_seconds": full["ingest_seconds"],
            "ingest_vs_floor": round(full["ingest_seconds"] / floor.seconds, 3),
            "ingest_vs_floor_cpu": (
                round(full["ingest_cpu_seconds"] / floor.cpu_seconds, 3)
                if full.get("ingest_cpu_seconds")
                else None
            ),
        },
    )


def cmd_incremental(a: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.nextday import make_next_day

    full = _ensure_full(a)
    day_dir = a.root / f"nextday-p{a.parcels}-{a.layout}"
    shutil.rmtree(day_dir, ignore_errors=True)
    made = make_next_day(input_dir(a), day_dir, rows_target=max(1_500, full["rows"] // 650))
    work = a.root / f"store-p{a.parcels}-{a.layout}-incremental"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(store_dir(a), work)  # the full store stays as it was, for re-runs
    as_of = (datetime.fromisoformat(full["as_of"]) + timedelta(days=1)).isoformat()
    files = sorted((day_dir / "scans").glob("*/*.parquet"))
    inc = measure(
        [PY, "-m", "benchmarks.worker", "ingest", "--data-dir", str(work), "--refresh-as-of",
         as_of, *map(str, files)],
        label=f"incremental: ingest {made['rows']} rows and refresh the reports",
    )  # fmt: skip
    check = measure(
        [PY, "-m", "benchmarks.worker", "rebuild", "--data-dir", str(work), "--as-of", as_of],
        label="check: full rebuild of the same store",
    )  # fmt: skip
    stats = inc.json()
    same = _figures_equal(stats["counts"], _rows(check))
    shutil.rmtree(work, ignore_errors=True)
    return record(
        "incremental",
        a,
        {
            "rows": full["rows"],
            "as_of": as_of,
            "day": made,
            "ingest": {k: v for k, v in stats.items() if k != "counts"},
            "incremental_seconds": round(inc.seconds, 3),
            "incremental_peak_rss_gib": round(inc.peak_rss / 2**30, 3),
            "full_seconds": full["full_seconds"],
            "incremental_vs_full": round(inc.seconds / full["full_seconds"], 4),
            "incremental_cpu_seconds": round(inc.cpu_seconds, 3),
            "incremental_vs_full_cpu": (
                round(inc.cpu_seconds / full["full_cpu_seconds"], 4)
                if full.get("full_cpu_seconds")
                else None
            ),
            "rebuild_seconds": round(check.seconds, 3),
            "equals_full_rebuild": same,
        },
    )


def cmd_all(a: argparse.Namespace) -> dict[str, Any]:
    cmd_generate(a)
    out = {"full": cmd_full(a)}
    out["peer"] = cmd_peer(a)
    out["floor"] = cmd_floor(a)
    out["incremental"] = cmd_incremental(a)
    return out


COMMANDS = {
    "generate": cmd_generate,
    "full": cmd_full,
    "peer": cmd_peer,
    "floor": cmd_floor,
    "incremental": cmd_incremental,
    "all": cmd_all,
}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--parcels", type=int, required=True, help="20M parcels = about 100M rows")
    p.add_argument("--layout", choices=("month", "day"), default="month")
    p.add_argument(
        "--root", type=Path, default=Path(os.environ.get("PARCEL_BENCH_DIR", "/tmp/parcel-bench"))
    )
    p.add_argument("--input", type=Path, default=None, help="an existing generated data set")
    p.add_argument("--as-of", default=None, help="default: the end of the generated period")
    p.add_argument(
        "--shapes",
        choices=("parquet", "mixed", "canonical"),
        default="parquet",
        help="mixed: every other export of each carrier in its own words and format; "
        "canonical: the same rows, all Parquet (ingest.synthetic --shapes)",
    )
    a = p.parse_args(argv)
    if a.shapes == "mixed" and a.command not in ("generate", "full"):
        p.error(
            "--shapes mixed is measured by generate and full (the DuckDB peer, the floor and "
            "the next day read Parquet); use --shapes canonical for the same rows"
        )
    a.root.mkdir(parents=True, exist_ok=True)
    COMMANDS[a.command](a)


if __name__ == "__main__":
    main()

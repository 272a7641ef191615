"""``spark-report``'s engine beside the single-process rule (SPEC §13): the same figures, and
how the cost grows with the number of districts.

Usage (see ``benchmarks/README.md``, section "Spark")::

    python -m benchmarks.spark_bench single --parcels N [--master local[2]]
        one district store (seed 42): the single-process rebuild of every month's figures
        (benchmarks.worker rebuild: subsidy.counts.compute_counts) against Spark's
        (subsidy.spark_report.spark_counts), figures compared
    python -m benchmarks.spark_bench districts --parcels N --districts 1,5,10
        K district stores of N parcels each (seeds 1..K, each generated and ingested once),
        one Spark job over the first K for each K; the single-process rebuild of each store
        beside it; every district's figures compared
    python -m benchmarks.spark_bench counts --as-of T [--master M] DIR...   (a measured child)

Stores live under ``--root`` (default ``$PARCEL_BENCH_DIR`` or ``/tmp/parcel-bench``). Each
run appends a JSON line to ``benchmarks/results/results.jsonl``. A Spark child's wall time
includes starting the JVM and a warm-up query on one file; ``job_seconds`` is the job alone
(read, shuffle, rule, sums), warm.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.run import PY, _figures_equal, measure, record

AS_OF = "2023-07-01T00:00:00+08:00"  # the end of the generator's default period (6 months)


def district_store(root: Path, parcels: int, seed: int) -> tuple[Path, int]:
    """A store of ``parcels`` generated parcels (seed ``seed``), made once; its rows."""
    store = root / f"spark-store-p{parcels}-s{seed}"
    ready = store / "ready.json"
    if ready.exists():
        return store, int(json.loads(ready.read_text())["rows"])
    gen = root / f"spark-input-p{parcels}-s{seed}"
    if not (gen / "manifest.json").exists():
        measure(
            [PY, "-m", "ingest.synthetic", "--parcels", str(parcels), "--out", str(gen),
             "--seed", str(seed), "--layout", "month", "--overwrite"],
            label=f"generate seed {seed}",
        )  # fmt: skip
    measure(
        [PY, "-m", "cli", "--data-dir", str(store), "sites", "import", str(gen / "sites.csv")],
        label="sites import",
    )
    files = sorted((gen / "scans").glob("*/*.parquet"))
    done = measure(
        [PY, "-m", "benchmarks.worker", "ingest", "--data-dir", str(store), *map(str, files)],
        label=f"ingest seed {seed}",
    ).json()
    ready.write_text(json.dumps({"rows": done["accepted"]}))
    return store, int(done["accepted"])


def _spark(stores: list[Path], master: str, driver_memory: str) -> Any:
    return measure(
        [PY, "-m", "benchmarks.spark_bench", "counts", "--as-of", AS_OF, "--master", master,
         "--driver-memory", driver_memory, *map(str, stores)],
        label=f"Spark {master}, {len(stores)} district(s)",
    )  # fmt: skip


def _polars(store: Path) -> Any:
    return measure(
        [PY, "-m", "benchmarks.worker", "rebuild", "--data-dir", str(store), "--as-of", AS_OF],
        label=f"single-process rebuild {store.name}",
    )


def cmd_single(a: argparse.Namespace) -> dict[str, Any]:
    store, rows = district_store(a.root, a.parcels, 42)
    polars = _polars(store)
    spark = _spark([store], a.master, a.driver_memory)
    answer = spark.json()
    same = _figures_equal(polars.json()["counts"], answer["districts"][0]["counts"])
    return record(
        "spark-single",
        a,
        {
            "rows": rows,
            "as_of": AS_OF,
            "master": a.master,
            "driver_memory": a.driver_memory,
            "load_average_at_start": os.getloadavg(),
            "polars_seconds": round(polars.seconds, 3),
            "polars_peak_rss_gib": round(polars.peak_rss / 2**30, 3),
            "spark_wall_seconds": round(spark.seconds, 3),
            "spark_session_seconds": answer["session_seconds"],
            "spark_warm_up_seconds": answer["warm_up_seconds"],
            "spark_job_seconds": answer["job_seconds"],
            "spark_partitions": answer["partitions"],
            "spark_job_vs_polars": round(answer["job_seconds"] / polars.seconds, 2),
            "events_read": answer["districts"][0]["events_read"],
            "figures_identical": same,
        },
    )


def cmd_districts(a: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()
    sizes = sorted({int(k) for k in a.districts.split(",")})
    made = [district_store(a.root, a.parcels, seed) for seed in range(1, max(sizes) + 1)]
    stores, rows = [s for s, _ in made], [r for _, r in made]
    polars = [_polars(s) for s in stores]
    runs = []
    for k in sizes:
        spark = _spark(stores[:k], a.master, a.driver_memory)
        answer = spark.json()
        same = all(
            _figures_equal(polars[i].json()["counts"], answer["districts"][i]["counts"])
            for i in range(k)
        )
        runs.append(
            {
                "districts": k,
                "rows": sum(rows[:k]),
                "spark_wall_seconds": round(spark.seconds, 3),
                "spark_job_seconds": answer["job_seconds"],
                "spark_partitions": answer["partitions"],
                "job_seconds_per_million_rows": round(
                    answer["job_seconds"] / (sum(rows[:k]) / 1e6), 3
                ),
                "polars_seconds_sum": round(sum(p.seconds for p in polars[:k]), 3),
                "figures_identical": same,
            }
        )
    return record(
        "spark-districts",
        a,
        {
            "as_of": AS_OF,
            "master": a.master,
            "driver_memory": a.driver_memory,
            "load_average_at_start": load,
            "rows_per_district": rows,
            "runs": runs,
        },
    )


def cmd_counts(a: argparse.Namespace) -> dict[str, Any]:
    """The measured Spark child: per district, the counts Spark gives (one job for all)."""
    from core.policy import resolve_policy
    from core.store import Store
    from subsidy.spark_report import partitions_for, snapshot, spark_counts, spark_session

    as_of = datetime.fromisoformat(a.as_of)
    # local mode: the driver JVM is also the executor; its heap holds the shuffle's buffers
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {a.driver_memory} pyspark-shell")
    t0 = time.perf_counter()
    spark = spark_session(a.master)
    t1 = time.perf_counter()
    snaps = [  # every month's figures (as the single-process rebuild computes them)
        dataclasses.replace(
            snapshot(Store(Path(d)), resolve_policy(Path(d)), as_of.strftime("%Y-%m"), as_of),
            from_month=None,
            departs_only=(),
        )
        for d in a.dirs
    ]
    # warm-up on one file: the JVM's first query (class loading, code generation) and the
    # Python workers' start cost ~10 s here whatever the size; the measured job runs warm
    spark_counts(spark, [dataclasses.replace(snaps[0], files=snaps[0].files[:1])])
    t2 = time.perf_counter()
    answers = spark_counts(spark, snaps)
    t3 = time.perf_counter()
    partitions = partitions_for(snaps, spark.sparkContext.defaultParallelism)
    spark.stop()
    return {
        "session_seconds": round(t1 - t0, 3),
        "warm_up_seconds": round(t2 - t1, 3),
        "job_seconds": round(t3 - t2, 3),
        "partitions": partitions,
        "districts": [
            {"events_read": d.events_read, "counts": d.counts.to_dicts()} for d in answers
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.spark_bench", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("command", choices=("single", "districts", "counts"))
    p.add_argument("--parcels", type=int, default=0, help="parcels per district store")
    p.add_argument("--districts", default="1,5,10", help="numbers of districts to run")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="2g", help="the driver JVM's heap (local mode)")
    p.add_argument("--as-of", default=AS_OF)
    p.add_argument(
        "--root", type=Path, default=Path(os.environ.get("PARCEL_BENCH_DIR", "/tmp/parcel-bench"))
    )
    p.add_argument("dirs", nargs="*")
    a = p.parse_intermixed_args(argv)
    a.layout = "month"
    if a.command == "counts":
        sys.stdout.write(json.dumps(cmd_counts(a), default=str) + "\n")
        return
    a.root.mkdir(parents=True, exist_ok=True)
    {"single": cmd_single, "districts": cmd_districts}[a.command](a)


if __name__ == "__main__":
    main()

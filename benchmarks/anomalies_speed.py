"""One month's anomaly flags against that month's report rebuild, and a carrier-month's parcel
list as CSV, on an existing store (SPEC §12 speed targets).

    python -m benchmarks.anomalies_speed --data-dir STORE --month M [--as-of ISO]
        [--carrier C] [--reference]

Each step is its own child process (wall time, CPU time and its own peak RSS, as
``benchmarks.run`` measures them; ``inner_seconds`` is the step itself, after the imports, as
a running service would spend it):

- ``report``: the month's figures rebuilt from the events, nothing stored or reused
  (``subsidy.counts.compute_counts(months=[M])``, the rule over every event, shard by shard);
- ``flags``: the month's flags as the service computes them (``subsidy.anomalies.
  flags_for_month``: the stored result set's rows plus the scans two codes need), nothing
  saved; says whether the stored result set answered (``fast``);
- ``csv``: ``GET /v1/parcels?month=M&carrier=C&format=csv`` without HTTP
  (``subsidy.drilldown.parcels_frame`` then every ``csv_chunks`` chunk), for the carrier with
  the most parcels that month unless ``--carrier``; ``csv_ineligible`` the same with
  ``&status=ineligible`` (one cell of the report);
- with ``--reference``: ``subsidy.anomalies.compute_flags`` over every event (what the flags
  cost before; it holds the whole store's rule output in memory: not for 100M rows), and
  whether its flags equal the ``flags`` step's.

``--as-of`` defaults to the stored result set's instant (the month's report). Prints one JSON
line and appends it to ``benchmarks/results/anomalies_speed.jsonl``.

    python -m benchmarks.anomalies_speed --data-dir STORE --next-day GENERATED_INPUT

instead copies the store, stores every month's flags, ingests the next day's exports
(``benchmarks.nextday``, as ``benchmarks.run incremental`` does) and times bringing each
month's flags up to date (``subsidy.anomalies.refresh_flags``): which months were recomputed,
which carried over, and whether every month's stored flags equal flags from scratch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.peak import own_peak_rss
from benchmarks.run import PY, machine, measure

RESULTS = Path(__file__).parent / "results" / "anomalies_speed.jsonl"


def _child(a: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    from core.policy import resolve_policy
    from core.store import Store
    from core.timeutil import parse_instant
    from subsidy import anomalies, drilldown
    from subsidy.counts import compute_counts
    from subsidy.sites import load_sites

    store = Store(a.data_dir).open_existing()
    policy = resolve_policy(a.data_dir)
    as_of = parse_instant(a.as_of)
    if a.step == "report":
        counts = compute_counts(store, policy, as_of, months=[a.month])
        return {
            "parcels": int(
                sum(
                    counts[c].sum()
                    for c in (
                        "eligible_parcels",
                        "pending_parcels",
                        "no_hub_arrival",
                        "late_hub_arrival",
                        "outside_policy_window",
                    )
                )
            )
        }
    if a.step == "flags":
        sites = load_sites(store)
        fast = anomalies.answering_set(store, policy, sites, as_of, None) is not None
        computed = anomalies.flags_for_month(store, policy, a.month, as_of)
        computed.flags.write_parquet(a.out)
        return {
            "fast": fast,
            "flags": computed.flags.height,
            "held": computed.held.height,
            "per_code": dict(computed.flags.group_by("code").len().iter_rows()),
        }
    if a.step == "reference":
        flags, _ = anomalies.compute_flags(
            store.scan_events(), load_sites(store).lazy(), policy, as_of, a.month
        )
        cols = sorted(flags.columns)
        served = pl.read_parquet(a.out).select(cols).sort(cols, nulls_last=True)
        return {
            "flags": flags.height,
            "equal": served.equals(flags.select(cols).sort(cols, nulls_last=True)),
        }
    if a.step in ("csv", "csv_ineligible"):
        status = "ineligible" if a.step == "csv_ineligible" else None
        frame = drilldown.parcels_frame(
            store, policy, a.month, as_of, carrier=a.carrier, status=status
        )
        size = lines = 0
        for chunk in drilldown.csv_chunks(frame):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return {"bytes": size, "rows": lines - 1}
    raise SystemExit(f"unknown step {a.step}")


def _busiest(data_dir: Path, month: str, as_of: str) -> str:
    import polars as pl

    from core.policy import resolve_policy
    from core.store import Store
    from core.timeutil import parse_instant
    from subsidy.refresh import month_counts

    store = Store(data_dir).open_existing()
    counts = month_counts(store, resolve_policy(data_dir), [month], parse_instant(as_of))
    parcels = [c for c in counts.columns if c not in ("month", "carrier", "subsidy_fen")]
    return str(
        counts.with_columns(pl.sum_horizontal(parcels).alias("n")).sort("n", descending=True)[
            "carrier"
        ][0]
    )


def next_day(data_dir: Path, generated: Path) -> dict[str, Any]:
    """See the module doc (in this process: the figures are per month, after the imports)."""
    import shutil
    from datetime import timedelta

    from benchmarks.nextday import make_next_day
    from core.policy import resolve_policy
    from core.store import Store
    from core.timeutil import parse_instant
    from ingest.uploads import ingest_file
    from subsidy import anomalies
    from subsidy.sites import load_sites

    work = data_dir.with_name(data_dir.name + "-flags-nextday")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data_dir, work)
    store = Store(work).open_existing()
    policy = resolve_policy(work)
    doc = json.loads((work / "results" / "current.json").read_text(encoding="utf-8"))
    as_of = parse_instant(doc["as_of"])
    with store.connect() as db:
        months = [r[0] for r in db.execute("SELECT DISTINCT month FROM event_files ORDER BY 1")]
    first: dict[str, float] = {}
    for month in months:
        t0 = time.perf_counter()
        anomalies.refresh_flags(store, policy, month, as_of)
        first[month] = round(time.perf_counter() - t0, 3)
    rows = sum(store.carrier_rows().values())
    day_dir = work.with_name(work.name + "-input")
    shutil.rmtree(day_dir, ignore_errors=True)
    made = make_next_day(generated, day_dir, rows_target=max(1_500, rows // 650))
    later = as_of + timedelta(days=1)
    t0 = time.perf_counter()
    for path in sorted((day_dir / "scans").glob("*/*.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=later)
    ingest_s = round(time.perf_counter() - t0, 3)
    recomputed: list[str] = []
    real = anomalies.flags_for_month

    def counting(*args: Any, **kwargs: Any) -> Any:
        recomputed.append(args[2])
        return real(*args, **kwargs)

    anomalies.flags_for_month = counting  # type: ignore[assignment]
    after: dict[str, float] = {}
    for month in months:
        t0 = time.perf_counter()
        anomalies.refresh_flags(store, policy, month, later)
        after[month] = round(time.perf_counter() - t0, 3)
    anomalies.flags_for_month = real  # type: ignore[assignment]
    equal = {}
    for month in months:
        scratch, _ = anomalies.compute_flags(
            store.scan_events(), load_sites(store).lazy(), policy, later, month
        )
        listed = anomalies.list_flags(store, policy, month, later)
        equal[month] = sorted(
            (f["code"], f["carrier"], f["waybill_no"], f["site_code"], str(f["day"]))
            for f in listed
        ) == sorted(
            (r["code"], r["carrier"], r["waybill_no"], r["site_code"], str(r["day"]))
            for r in scratch.iter_rows(named=True)
        )
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(day_dir, ignore_errors=True)
    return {
        "kind": "anomalies_next_day",
        "data_dir": str(data_dir),
        "store_rows": rows,
        "upload_rows": made["rows"],
        "ingest_seconds": ingest_s,
        "first_seconds": first,
        "after_upload_seconds": after,
        "recomputed": recomputed,
        "equal_to_scratch": equal,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.anomalies_speed")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--month", default=None)
    p.add_argument("--next-day", type=Path, default=None, help="a generated input folder")
    p.add_argument("--as-of", default=None)
    p.add_argument("--carrier", default=None)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--step", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step is not None:
        import polars  # noqa: F401  (imports are not part of what is measured inside)

        import subsidy.drilldown  # noqa: F401

        wall, cpu = time.perf_counter(), time.process_time()
        out = _child(a)
        inner = {
            "inner_seconds": round(time.perf_counter() - wall, 3),
            "inner_cpu_seconds": round(time.process_time() - cpu, 3),
        }
        print(json.dumps({**out, **inner, "peak_rss_bytes": own_peak_rss()}))
        return
    if a.next_day is not None:
        line = {
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
            **next_day(a.data_dir, a.next_day),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        json.dump(line, sys.stdout)
        print()
        return
    if a.month is None:
        p.error("--month is required")
    if a.as_of is None:
        doc = json.loads((a.data_dir / "results" / "current.json").read_text(encoding="utf-8"))
        a.as_of = doc["as_of"]
    if a.carrier is None:
        a.carrier = _busiest(a.data_dir, a.month, a.as_of)
    flags_out = a.data_dir / "tmp" / f"bench-flags-{a.month}.parquet"
    base = [PY, "-m", "benchmarks.anomalies_speed", "--data-dir", str(a.data_dir),
            "--month", a.month, "--as-of", a.as_of, "--carrier", a.carrier,
            "--out", str(flags_out)]  # fmt: skip
    steps = ["report", "flags", "csv", "csv_ineligible"] + (["reference"] if a.reference else [])
    figures: dict[str, Any] = {}
    for step in steps:
        m = measure([*base, "--step", step], label=f"{step} {a.month}")
        figures[step] = {
            "seconds": round(m.seconds, 3),
            "cpu_seconds": round(m.cpu_seconds, 3),
            "peak_rss_gib": round(m.peak_rss / 2**30, 3),
            **{k: v for k, v in m.json().items() if k != "peak_rss_bytes"},
        }
    flags_out.unlink(missing_ok=True)
    line = {
        "kind": "anomalies_speed",
        "at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "data_dir": str(a.data_dir),
        "month": a.month,
        "as_of": a.as_of,
        "carrier": a.carrier,
        **figures,
        "flags_vs_report": round(figures["flags"]["seconds"] / figures["report"]["seconds"], 3),
        "flags_vs_report_inner": round(
            figures["flags"]["inner_seconds"] / figures["report"]["inner_seconds"], 3
        ),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
    json.dump(line, sys.stdout)
    print()


if __name__ == "__main__":
    main()

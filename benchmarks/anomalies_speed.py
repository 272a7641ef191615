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

    python -m benchmarks.anomalies_speed --data-dir STORE --closed M --next-day GENERATED_INPUT
        [--carrier C]

closes ``M`` in STORE itself (``subsidy.closing.close_month`` as of the stored result set's
instant, as ``POST /v1/months/M/close`` does: work on a copy), timed with the frozen parcel
list it writes; ingests the next day's exports (the store moves past the closed version, as
it does after any later upload); then times the closed carrier-month's CSV and its
``status=ineligible`` CSV twice each: ``*_rule`` with the frozen list set aside (the rule over
the carrier's events on the pinned version: the path before frozen lists, and of a month
closed without one) and from the frozen list, and says whether both CSVs are byte-equal.
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
    if a.step == "close":
        from subsidy.closing import close_month
        from subsidy.frozen import frozen_path

        close_month(store, policy, a.month, actor="benchmark", now=as_of)
        return {"frozen_file": frozen_path(store, a.month) is not None}
    if a.step.startswith("csv"):
        import hashlib

        if a.step.endswith("_rule"):  # the closed month's frozen list set aside: the rule's
            drilldown.frozen_path = lambda *_: None  # type: ignore[assignment]
        status = "ineligible" if a.step.startswith("csv_ineligible") else None
        frame = drilldown.parcels_frame(
            store, policy, a.month, as_of, carrier=a.carrier, status=status
        )
        size = lines = 0
        digest = hashlib.sha256()
        for chunk in drilldown.csv_chunks(frame):
            size += len(chunk)
            lines += chunk.count(b"\n")
            digest.update(chunk)
        return {"bytes": size, "rows": lines - 1, "sha256": digest.hexdigest()}
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


def _timed(cmd: list[str], label: str) -> dict[str, Any]:
    m = measure(cmd, label=label)
    return {
        "seconds": round(m.seconds, 3),
        "cpu_seconds": round(m.cpu_seconds, 3),
        "peak_rss_gib": round(m.peak_rss / 2**30, 3),
        **{k: v for k, v in m.json().items() if k != "peak_rss_bytes"},
    }


def closed(data_dir: Path, month: str, generated: Path, carrier: str | None) -> dict[str, Any]:
    """See the module doc: close ``month`` in ``data_dir`` (changed in place), upload the next
    day, then time the carrier-month's CSV of the closed month by the rule and frozen."""
    import shutil
    from datetime import timedelta

    from benchmarks.nextday import make_next_day
    from core.policy import resolve_policy
    from core.store import Store
    from core.timeutil import parse_instant
    from ingest.uploads import ingest_file

    doc = json.loads((data_dir / "results" / "current.json").read_text(encoding="utf-8"))
    as_of = doc["as_of"]
    carrier = carrier or _busiest(data_dir, month, as_of)
    base = [PY, "-m", "benchmarks.anomalies_speed", "--data-dir", str(data_dir),
            "--month", month, "--carrier", carrier]  # fmt: skip
    figures: dict[str, Any] = {
        "close": _timed([*base, "--as-of", as_of, "--step", "close"], f"close {month}")
    }
    store = Store(data_dir).open_existing()
    policy = resolve_policy(data_dir)
    rows = sum(store.carrier_rows().values())
    day_dir = data_dir.with_name(data_dir.name + "-input")
    shutil.rmtree(day_dir, ignore_errors=True)
    made = make_next_day(generated, day_dir, rows_target=max(1_500, rows // 650))
    later = parse_instant(as_of) + timedelta(days=1)
    for path in sorted((day_dir / "scans").glob("*/*.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=later)
    shutil.rmtree(day_dir, ignore_errors=True)
    for step in ("csv_rule", "csv", "csv_ineligible_rule", "csv_ineligible"):
        cmd = [*base, "--as-of", later.isoformat(), "--step", step]
        figures[step] = _timed(cmd, f"{step} {month}")
    return {
        "kind": "closed_parcel_list",
        "data_dir": str(data_dir),
        "store_rows": rows,
        "month": month,
        "carrier": carrier,
        "closed_as_of": as_of,
        "later_upload_rows": made["rows"],
        **figures,
        "equal": all(
            figures[f"{s}_rule"]["sha256"] == figures[s]["sha256"]
            for s in ("csv", "csv_ineligible")
        ),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.anomalies_speed")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--month", default=None)
    p.add_argument("--next-day", type=Path, default=None, help="a generated input folder")
    p.add_argument("--as-of", default=None)
    p.add_argument("--carrier", default=None)
    p.add_argument("--reference", action="store_true")
    p.add_argument("--closed", default=None, metavar="MONTH", help="close MONTH (in place)")
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
    if a.closed is not None:
        if a.next_day is None:
            p.error("--closed needs --next-day (the later upload after the close)")
        line = {
            "at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": machine(),
            **closed(a.data_dir, a.closed, a.next_day, a.carrier),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        json.dump(line, sys.stdout)
        print()
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

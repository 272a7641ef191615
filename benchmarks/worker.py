"""The measured steps of ``benchmarks.run``, each run as its own child process.

``python -m benchmarks.worker ingest --data-dir DIR FILE...``  ingest through the product's
    path (``ingest.uploads.ingest_file``), each file as an upload of the carrier named by its
    folder, each commit followed by the publication of the figures when a result set exists
    (``subsidy.refresh.publish``, as in the CLI); with ``--refresh-as-of`` the stored results
    are then refreshed and every month's report built from them (the incremental benchmark)
``python -m benchmarks.worker reports --data-dir DIR --as-of T MONTH...``  the reports, as the
    CLI and the API build them (``subsidy.report.monthly_report``)
``python -m benchmarks.worker rebuild --data-dir DIR --as-of T``  every month's figures
    straight from the events, nothing stored or reused (``subsidy.counts.compute_counts``)
``python -m benchmarks.worker floor --out FILE FILE...``  ``scan_parquet(...).sink_parquet(...)``

Each prints one JSON line; figures as ``counts``: rows of (month, carrier, figures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from benchmarks.peak import own_peak_rss
from core.policy import resolve_policy
from core.store import Store
from core.timeutil import now_local, parse_instant
from ingest.uploads import ingest_file, one_publication
from subsidy import refresh as _publishes  # noqa: F401  (publishes after commits, as the CLI)

if TYPE_CHECKING:
    from subsidy.models import MonthlyReport


def _report_counts(report: MonthlyReport) -> list[dict[str, Any]]:
    return [
        {
            "month": report.month,
            "carrier": r.carrier,
            "eligible_parcels": r.eligible_parcels,
            "subsidy_fen": r.subsidy_fen,
            "pending_parcels": r.pending_parcels,
            **r.ineligible.model_dump(),
        }
        for r in report.carriers
    ]


def cmd_ingest(a: argparse.Namespace) -> dict[str, Any]:
    store = Store(a.data_dir).init()
    policy = resolve_policy(a.data_dir)
    totals = {"files": 0, "rows_read": 0, "accepted": 0, "rejected": 0, "duplicates": 0}
    with one_publication(store, policy, now_local()):  # as the CLI: published once, at the end
        for name in a.files:
            path = Path(name)
            up = ingest_file(store, path, policy, carrier=path.parent.name.upper(), now=now_local())
            if up.status != "ingested":
                raise SystemExit(f"{path}: {up.status}: {up.error}")
            totals["files"] += 1
            for key in ("rows_read", "accepted", "rejected", "duplicates"):
                totals[key] += getattr(up, key)
    if a.refresh_as_of:
        from subsidy.refresh import refresh
        from subsidy.report import monthly_report
        from subsidy.results import describe

        rs = refresh(store, policy, parse_instant(a.refresh_as_of))
        counts = []
        for month in sorted(set(rs.counts["month"].to_list())):
            report = monthly_report(store, policy, month, parse_instant(a.refresh_as_of))
            counts += _report_counts(report)
        totals["results"] = describe(rs)
        totals["counts"] = counts
    return totals


def cmd_reports(a: argparse.Namespace) -> dict[str, Any]:
    from subsidy.report import monthly_report

    store = Store(a.data_dir)
    policy = resolve_policy(a.data_dir)
    counts = []
    for month in a.months:
        counts += _report_counts(monthly_report(store, policy, month, parse_instant(a.as_of)))
    return {"counts": counts}


def cmd_rebuild(a: argparse.Namespace) -> dict[str, Any]:
    from subsidy.counts import compute_counts

    store = Store(a.data_dir)
    counts = compute_counts(store, resolve_policy(a.data_dir), parse_instant(a.as_of))
    return {"counts": counts.to_dicts()}


def cmd_floor(a: argparse.Namespace) -> dict[str, Any]:
    pl.scan_parquet(a.files).sink_parquet(a.out)
    return {"out": str(a.out)}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    sub = p.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest")
    ing.add_argument("--data-dir", type=Path, required=True)
    ing.add_argument("--refresh-as-of", default=None)
    ing.add_argument("files", nargs="+")
    rep = sub.add_parser("reports")
    rep.add_argument("--data-dir", type=Path, required=True)
    rep.add_argument("--as-of", required=True)
    rep.add_argument("months", nargs="+")
    reb = sub.add_parser("rebuild")
    reb.add_argument("--data-dir", type=Path, required=True)
    reb.add_argument("--as-of", required=True)
    flo = sub.add_parser("floor")
    flo.add_argument("--out", type=Path, required=True)
    flo.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    out = {
        "ingest": cmd_ingest,
        "reports": cmd_reports,
        "rebuild": cmd_rebuild,
        "floor": cmd_floor,
    }[a.command](a)
    out["peak_rss_bytes"] = own_peak_rss()
    sys.stdout.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main()

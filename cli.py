"""``parcel-subsidy``: the command line (SPEC §8). Parses arguments, calls one domain function,
prints the answer. Exit codes: 0 done, 1 refused or not found, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.exceptions import FileRefused, IngestError
from ingest.store import Store
from ingest.uploads import Upload, ingest_file
from subsidy.exceptions import NotFoundError, SubsidyError
from subsidy.explain import explain_parcel
from subsidy.policy import Policy, resolve_policy
from subsidy.report import monthly_report
from subsidy.sites import import_sites
from subsidy.timeutil import now_local, parse_instant, parse_month

#: Test hook: ``PARCEL_SUBSIDY_CRASH_AT=<step>`` kills the process at that ingest step, so the
#: crash tests can check that the store survives a real process death (see ``ingest.uploads``).
CRASH_ENV = "PARCEL_SUBSIDY_CRASH_AT"

EPILOG = """\
examples:
  parcel-subsidy --data-dir data sites import sites.csv
  parcel-subsidy --data-dir data ingest ZTO-2023-05-01.parquet --carrier ZTO
  parcel-subsidy --data-dir data report --month 2023-05 --format json
  parcel-subsidy --data-dir data parcel ZTO ZT7731234567890 --format json

Money is in fen (1 yuan = 100 fen); times are Asia/Shanghai unless they carry an offset.
"""


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None, default=str)


def _as_of(text: str | None) -> datetime:
    return parse_instant(text) if text else now_local()


def _step_hook(progress: Any) -> Callable[[str], None]:
    crash_at = os.environ.get(CRASH_ENV)

    def hook(step: str) -> None:
        if step == crash_at:
            os._exit(75)
        if progress is not None:
            progress.set_postfix_str(step)
            if step == "committed":
                progress.update(1)

    return hook


def _describe(upload: Upload, name: str) -> str:
    if upload.status == "refused":
        return f"{name}: refused: {upload.error}"
    reasons = ", ".join(f"{r} {n}" for r, n in upload.rejected_by_reason.items())
    head = (
        f"{name}: already uploaded as upload {upload.id} (same bytes), nothing ingested; "
        if upload.duplicate
        else f"{name}: upload {upload.id} ingested; "
    )
    return (
        head + f"rows read {upload.rows_read}, accepted {upload.accepted}, "
        f"rejected {upload.rejected}{f' ({reasons})' if reasons else ''}, "
        f"duplicates {upload.duplicates}"
    )


def cmd_ingest(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    carrier = args.carrier.upper() if args.carrier else None
    progress = None
    if sys.stderr.isatty() and len(args.files) > 0:
        from tqdm import tqdm

        progress = tqdm(total=len(args.files), unit="file", file=sys.stderr, leave=False)
    hook = _step_hook(progress)
    failures = 0
    results = []
    for name in args.files:
        path = Path(name)
        if progress is not None:
            progress.set_description(path.name[:30])
        try:
            if not path.is_file():
                raise FileRefused(f"no such file: {name}")
            upload = ingest_file(
                store, path, policy, carrier=carrier, now=now_local(), on_step=hook
            )
        except FileRefused as exc:
            failures += 1
            results.append({"file": name, "status": "refused", "error": str(exc)})
            print(
                f"{name}: refused: {exc}", file=sys.stderr if args.format == "text" else sys.stdout
            )
            continue
        failures += upload.status == "refused"
        results.append({"file": name, **upload.as_dict()})
        if args.format == "text":
            out = sys.stderr if upload.status == "refused" else sys.stdout
            print(_describe(upload, name), file=out)
    if progress is not None:
        progress.close()
    if args.format == "json":
        print(_dump({"files": results}))
    return 1 if failures else 0


def cmd_sites_import(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    counts = import_sites(store, Path(args.file), actor="cli")
    print(
        _dump(counts)
        if args.format == "json"
        else "sites imported: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 0


def _report_text(report: dict[str, Any]) -> str:
    head = (
        f"{'carrier':8} {'eligible':>9} {'rate':>5} {'subsidy (yuan)':>15} {'pending':>8} "
        f"{'no_arrival':>10} {'late':>6} {'outside':>8}"
    )
    lines = [f"Monthly subsidy report {report['month']} as of {report['as_of']}", head]
    for r in [*report["carriers"], {"carrier": "TOTAL", "rate_fen": None, **report["totals"]}]:
        inel = r["ineligible"]
        rate = "" if r.get("rate_fen") is None else str(r["rate_fen"])
        lines.append(
            f"{r['carrier']:8} {r['eligible_parcels']:>9} {rate:>5} {r['subsidy_yuan']:>15} "
            f"{r['pending_parcels']:>8} {inel['no_hub_arrival']:>10} "
            f"{inel['late_hub_arrival']:>6} {inel['outside_policy_window']:>8}"
        )
    for a in report["center_awards"]:
        lines.append(f"center award {a['site_code']} ({a['status']}): {a['award_yuan']} yuan")
    lines.append(f"program total: {report['program_total_yuan']} yuan")
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    parse_month(args.month)
    report = monthly_report(store, policy, args.month, _as_of(args.as_of))
    print(_dump(report) if args.format == "json" else _report_text(report))
    return 0


def cmd_parcel(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    info = explain_parcel(store, policy, args.carrier.upper(), args.waybill_no, _as_of(args.as_of))
    if args.format == "json":
        print(_dump(info))
    else:
        print(
            f"{info['carrier']} {info['waybill_no']}: {info['status']}"
            f"{' (' + info['reason'] + ')' if info['reason'] else ''}, "
            f"subsidy {info['subsidy_yuan']} yuan, month {info['month']}"
        )
        for s in info["scans"]:
            mark = f"  <- {s['decides']}" if s["decides"] else ""
            print(
                f"  {s['scan_time']}  {s['scan_type']:9} {s['site_code']} "
                f"({s['site_kind'] or 'other'}){mark}"
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="parcel-subsidy",
        description="Rural parcel delivery subsidy tracker (济阳政字〔2021〕80号, measure 4): "
        "ingest courier scan logs, decide parcel by parcel who earns the 0.20 yuan subsidy, "
        "and report it month by month.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("PARCEL_SUBSIDY_DATA_DIR", "data"),
        help="the store folder (default: $PARCEL_SUBSIDY_DATA_DIR, then ./data)",
    )
    parser.add_argument(
        "--policy", type=Path, help="policy TOML file (default: DATA_DIR/policy.toml or Jiyang's)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json"), default="text", help="output format")

    sites = sub.add_parser("sites", help="the sites registry (district center, village hubs)")
    sites_sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    imp = sites_sub.add_parser(
        "import",
        parents=[fmt],
        help="replace the registry with a CSV/Parquet file "
        "(columns site_code,name,kind,town,active_from,active_to)",
    )
    imp.add_argument("file")
    imp.set_defaults(func=cmd_sites_import)

    ing = sub.add_parser(
        "ingest",
        parents=[fmt],
        help="ingest scan-log files (Parquet or CSV)",
        description="Ingest courier scan-log exports. Bad rows are rejected with a reason; a bad "
        "file is refused whole (exit 1); the same bytes twice, or the same scan in two files, "
        "count once.",
    )
    ing.add_argument("files", nargs="+", metavar="FILE")
    ing.add_argument(
        "--carrier",
        help="the uploader's carrier code (e.g. ZTO); rows of another "
        "carrier are rejected; without it every row needs a carrier column",
    )
    ing.set_defaults(func=cmd_ingest)

    rep = sub.add_parser("report", parents=[fmt], help="monthly per-carrier subsidy report")
    rep.add_argument("--month", required=True, help="YYYY-MM (Asia/Shanghai calendar month)")
    rep.add_argument("--as-of", help="ISO 8601 instant (default: now); naive = Asia/Shanghai")
    rep.set_defaults(func=cmd_report)

    par = sub.add_parser("parcel", parents=[fmt], help="explain one parcel's status and scans")
    par.add_argument("carrier")
    par.add_argument("waybill_no")
    par.add_argument("--as-of", help="ISO 8601 instant (default: now)")
    par.set_defaults(func=cmd_parcel)

    for extend in EXTENSIONS:
        extend(sub, fmt)
    return parser


#: Further sub-commands registered by other modules (``serve``, ``tokens``, ``demo``):
#: each is called with the sub-parsers and the shared ``--format`` parent parser.
EXTENSIONS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parcel-subsidy`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        store = Store(Path(args.data_dir)).init()
        policy = resolve_policy(store.root, args.policy)
        return int(args.func(args, store, policy))
    except (FileRefused, NotFoundError) as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 1
    except (SubsidyError, IngestError, ValueError) as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

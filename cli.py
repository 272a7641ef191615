"""``parcel-subsidy``: the command line (SPEC §8). Parses arguments, calls one domain function,
prints the answer. Exit codes: 0 done, 1 refused or not found, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.exceptions import CoreError, NoStoreError, StoreError
from core.policy import Policy, resolve_policy
from core.settings import Settings
from core.store import Store
from core.timeutil import next_month, now_local, parse_month, resolve_as_of
from ingest.exceptions import FileRefused, IngestError
from ingest.uploads import Upload, ingest_file, one_publication
from subsidy.anomalies import list_flags
from subsidy.exceptions import NotFoundError, SubsidyError
from subsidy.explain import explain_parcel
from subsidy.models import CarrierRow, MonthlyReport, Totals
from subsidy.report import check_reportable, served_report
from subsidy.sites import import_sites

EPILOG = """\
examples:
  parcel-subsidy --data-dir data sites import sites.csv
  parcel-subsidy --data-dir data ingest ZTO-2023-05-01.parquet --carrier ZTO
  parcel-subsidy --data-dir data report --month 2023-05 --format json
  parcel-subsidy --data-dir data parcel ZTO ZT7731234567890 --format json
  parcel-subsidy --data-dir d1 --data-dir d2 spark-report --month 2023-05 --format json

Money is in fen (1 yuan = 100 fen); times are Asia/Shanghai unless they carry an offset.
"""


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None, default=str)


def _as_of(text: str | None) -> datetime:
    return resolve_as_of(text, now_local())


#: How far through a file's ingest each step is (share of its bytes shown as done).
STEP_SHARE = {"registered": 0.1, "validated": 0.55, "files_written": 0.9, "committed": 1.0}


class IngestProgress:
    """The ingest step hook of ``ingest``: advances a progress bar, in bytes of the input
    files, by each step's share of the file being ingested (a bar only in a terminal, unless
    one is given), then calls ``also`` with the step (what :func:`main` was given as
    ``on_step``: the crash tests kill the process there)."""

    def __init__(
        self,
        files: Sequence[str],
        bar: Any = None,
        also: Callable[[str], None] | None = None,
    ) -> None:
        self.sizes = {name: Path(name).stat().st_size for name in files if Path(name).is_file()}
        if bar is None and sys.stderr.isatty() and files:
            from tqdm import tqdm

            bar = tqdm(
                total=sum(self.sizes.values()),
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
            )
        self.bar = bar
        self.also = also
        self.current = ""
        self.base = self.shown = 0

    def start(self, name: str) -> None:
        """The next file is ``name`` (the one before is done, ingested, refused or skipped)."""
        self._finish()
        self.current = name
        if self.bar is not None:
            self.bar.set_description(Path(name).name[:30])

    def _finish(self) -> None:
        self.base += self.sizes.get(self.current, 0)
        self._advance(self.base)
        self.current = ""

    def _advance(self, target: int) -> None:
        if self.bar is not None and target > self.shown:
            self.bar.update(target - self.shown)
            self.shown = target

    def __call__(self, step: str) -> None:
        if self.also is not None:
            self.also(step)
        if self.bar is None:
            return
        size = self.sizes.get(self.current, 0)
        self._advance(self.base + int(size * STEP_SHARE.get(step, 0.0)))
        self.bar.set_postfix_str(step)

    def close(self) -> None:
        self._finish()
        if self.bar is not None:
            self.bar.close()


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
    if args.check:
        return _check_files(args, store, policy, carrier)
    progress = IngestProgress(args.files, also=args.on_step)
    results: list[dict[str, Any]] = []
    with one_publication(store, policy, now_local()):  # the figures published once, at the end
        _ingest_each(args, store, policy, carrier, progress, results)
    failures = sum(r["status"] in ("refused", "failed") for r in results)
    progress.close()
    if args.format == "json":
        print(_dump({"files": results}))
    return 1 if failures else 0


def _ingest_each(
    args: argparse.Namespace,
    store: Store,
    policy: Policy,
    carrier: str | None,
    progress: IngestProgress,
    results: list[dict[str, Any]],
) -> None:
    """Ingest ``args.files`` one by one into ``results``; a refused file does not stop the
    others."""
    for name in args.files:
        path = Path(name)
        progress.start(name)
        try:
            if not path.is_file():
                raise FileRefused(f"no such file: {name}", code="no_such_file", name=name)
            upload = ingest_file(
                store, path, policy, carrier=carrier, now=now_local(), on_step=progress
            )
        except (FileRefused, StoreError) as exc:  # a full disk too: one line, exit 1
            status = "refused" if isinstance(exc, FileRefused) else "failed"
            results.append({"file": name, "status": status, "error": str(exc)})
            print(f"{name}: {status}: {exc}", file=sys.stderr)  # stdout stays JSON-only
            continue
        results.append({"file": name, **upload.as_dict()})
        if upload.status == "refused":
            print(_describe(upload, name), file=sys.stderr)
        elif args.format == "text":
            print(_describe(upload, name))


def _check_files(
    args: argparse.Namespace, store: Store, policy: Policy, carrier: str | None
) -> int:
    """``ingest --check``: the preview of each file (SPEC §3a), one JSON object per file (a
    JSON list with ``--format json``); nothing is stored. Exit 1 when a file would be
    refused."""
    from ingest.preview import preview_file

    refused = 0
    previews = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"{name}: refused: no such file: {name}", file=sys.stderr)
            refused += 1
            continue
        answer = preview_file(store, path, policy, carrier=carrier, now=now_local())
        refused += answer["refusal"] is not None
        previews.append({"file": name, **answer})
        if args.format == "text":
            print(_dump({"file": name, **answer}))
    if args.format == "json":
        print(_dump({"files": previews}))
    return 1 if refused else 0


def cmd_sites_import(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    counts = import_sites(store, Path(args.file), actor="cli")
    print(
        _dump(counts)
        if args.format == "json"
        else "sites imported: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 0


def _report_text(report: MonthlyReport) -> str:
    head = (
        f"{'carrier':8} {'eligible':>9} {'rate':>5} {'subsidy (yuan)':>15} {'pending':>8} "
        f"{'no_arrival':>10} {'late':>6} {'outside':>8}"
    )
    lines = [f"Monthly subsidy report {report.month} as of {report.as_of.isoformat()}", head]
    rows: list[tuple[str, int | None, CarrierRow | Totals]] = [
        (r.carrier, r.rate_fen, r) for r in report.carriers
    ]
    for code, rate_fen, r in [*rows, ("TOTAL", None, report.totals)]:
        inel = r.ineligible
        rate = "" if rate_fen is None else str(rate_fen)
        lines.append(
            f"{code:8} {r.eligible_parcels:>9} {rate:>5} {r.subsidy_yuan:>15} "
            f"{r.pending_parcels:>8} {inel.no_hub_arrival:>10} "
            f"{inel.late_hub_arrival:>6} {inel.outside_policy_window:>8}"
        )
    for adj in report.prior_period_adjustments:
        lines.append(
            f"prior-period adjustment {adj.period} {adj.carrier}: "
            f"eligible {adj.eligible_parcels:+d}, subsidy {adj.subsidy_yuan} yuan"
        )
    if report.closed:
        lines.append(f"closed (月结) at {report.closed.closed_at}: figures frozen")
    for a in report.center_awards:
        lines.append(f"center award {a.site_code} ({a.status}): {a.award_yuan} yuan")
    lines.append(f"program total: {report.program_total_yuan} yuan")
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    parse_month(args.month)
    as_of = _as_of(args.as_of)
    check_reportable(args.month, now_local())
    # What finance is served: the frozen report of a closed month, else the live report
    # with its prior-period adjustments (what the API answers).
    report = served_report(store, policy, args.month, as_of)
    print(_dump(report.model_dump(mode="json")) if args.format == "json" else _report_text(report))
    return 0


def cmd_rejudge(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    """Judge an upload again with the scan words and site names in force now (SPEC §3a)."""
    from ingest.rejudge import rejudge_upload
    from ingest.uploads import get_upload

    if get_upload(store, args.upload_id) is None:
        print(f"no upload with id {args.upload_id}", file=sys.stderr)
        return 1
    try:
        upload = rejudge_upload(
            store, args.upload_id, policy, reason=args.reason, actor="cli", now=now_local()
        )
    except IngestError as exc:
        print(f"upload {args.upload_id}: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(_dump(upload.as_dict()))
    else:
        print(_describe(upload, f"upload {upload.id}"))
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


def cmd_anomalies(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    parse_month(args.month)
    carrier = None if args.carrier is None else args.carrier.strip().upper()
    flags = list_flags(store, policy, args.month, now_local(), carrier=carrier)
    if args.format == "json":
        print(_dump(flags))
        return 0
    print(f"Anomaly flags {args.month}: {len(flags)}")
    for f in flags:
        who = f"{f['carrier']} {f['waybill_no']}" if f["carrier"] else "(hub-day)"
        print(f"  #{f['id']:<6} {f['code']:15} {who:28} {f['site_code']} {f['day']}  {f['status']}")
    return 0


DEMO_START, DEMO_MONTHS, DEMO_PARCELS = "2024-05", 4, 30_000


def cmd_demo(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    """Fill a fresh data dir with the realistic sample of ``ingest.synthetic``."""
    import shutil
    import tempfile
    from datetime import date

    from ingest.synthetic import generate

    with store.connect() as db:
        uploads = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
    if uploads:
        raise ValueError(
            f"{store.root} already holds {uploads} uploads; the demo fills only a fresh data "
            "folder (pass another --data-dir)"
        )
    if args.parcels < 1 or args.months < 1:
        raise ValueError("--parcels and --months must be at least 1")
    year, month = parse_month(args.start)
    work = Path(tempfile.mkdtemp(prefix="demo-", dir=store.tmp_dir))
    try:
        generate(
            work, args.parcels, args.seed, "month", date(year, month, 1), args.months,
            shapes=args.shapes,
        )  # fmt: skip
        sites = import_sites(store, work / "sites.csv", actor="demo")
        print(f"sites registry: {sites['sites']} sites of Jiyang's towns and streets")
        for folder in sorted(p for p in (work / "scans").iterdir() if p.is_dir()):
            done = [
                ingest_file(
                    store, path, policy, carrier=folder.name, now=now_local(), source="demo"
                )
                for path in sorted(folder.iterdir())
            ]
            kinds = ", ".join(sorted({u.format or "?" for u in done}))
            print(
                f"{folder.name}: {len(done)} monthly exports ({kinds}), "
                f"{sum(u.rows_read for u in done)} scans read, "
                f"{sum(u.accepted for u in done)} stored, "
                f"{sum(u.rejected for u in done)} rejected, "
                f"{sum(u.duplicates for u in done)} duplicates"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    last = args.start
    for _ in range(args.months - 2):
        last = next_month(last)
    print(
        f"\ndemo data ready in {store.root}. Next:\n"
        f"  parcel-subsidy --data-dir {store.root} report --month {last}\n"
        f"  parcel-subsidy --data-dir {store.root} serve"
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
        action="append",
        help="the store folder (default: $PARCEL_SUBSIDY_DATA_DIR, then ./data); "
        "spark-report takes it once per district",
    )
    parser.add_argument(
        "--policy", type=Path, help="policy TOML file (default: DATA_DIR/policy.toml or Jiyang's)"
    )
    # Commands that only read set reads=True: they refuse a folder that holds no store.
    parser.set_defaults(reads=False)
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
        help="ingest scan-log files (Parquet, CSV/TSV, Excel .xlsx/.xls)",
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
    ing.add_argument(
        "--check",
        action="store_true",
        help="preview only: print what an upload would give (format, header row, columns, "
        "rows, rejects, scan words not known, refusal); store nothing",
    )
    ing.set_defaults(func=cmd_ingest)

    rep = sub.add_parser("report", parents=[fmt], help="monthly per-carrier subsidy report")
    rep.add_argument("--month", required=True, help="YYYY-MM (Asia/Shanghai calendar month)")
    rep.add_argument("--as-of", help="ISO 8601 instant (default: now); naive = Asia/Shanghai")
    rep.set_defaults(func=cmd_report, reads=True)

    ano = sub.add_parser("anomalies", parents=[fmt], help="anomaly flags of a month (SPEC 12)")
    ano.add_argument("--month", required=True, help="YYYY-MM (Asia/Shanghai calendar month)")
    ano.add_argument("--carrier", help="only this carrier's parcels and hub-days")
    ano.set_defaults(func=cmd_anomalies, reads=True)

    par = sub.add_parser("parcel", parents=[fmt], help="explain one parcel's status and scans")
    par.add_argument("carrier")
    par.add_argument("waybill_no")
    par.add_argument("--as-of", help="ISO 8601 instant (default: now)")
    par.set_defaults(func=cmd_parcel, reads=True)

    rej = sub.add_parser(
        "rejudge",
        parents=[fmt],
        help="judge an upload again after a scan word or site alias was added",
        description="Rows of an ingested upload rejected before are judged again (rows that "
        "now pass become events; closed months get prior-period adjustments); a refused "
        "upload's kept file is read again. Audited with the reason.",
    )
    rej.add_argument("upload_id", type=int)
    rej.add_argument("--reason", required=True, help="why (written to the audit log)")
    rej.set_defaults(func=cmd_rejudge)

    demo = sub.add_parser(
        "demo",
        help="fill a fresh data folder with a realistic sample (sites, months of scans)",
        description="Generate a realistic sample (the sites registry of Jiyang's towns and "
        "monthly scan-log exports of every carrier, with the duplicates, bad rows, late and "
        "lost parcels real exports have) and ingest it, so that reports show real figures.",
    )
    demo.add_argument("--parcels", type=int, default=DEMO_PARCELS, help="parcels to generate")
    demo.add_argument("--start", default=DEMO_START, help="first month, YYYY-MM")
    demo.add_argument("--months", type=int, default=DEMO_MONTHS, help="how many months")
    demo.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    demo.add_argument(
        "--shapes",
        choices=("mixed", "parquet"),
        default="mixed",
        help="mixed (default): every other export of each carrier in its own words and format "
        "(J&T .xlsx, ZTO's epoch-millisecond CSV, GB18030 CSV, TSV, .xls); parquet: all "
        "canonical Parquet",
    )
    demo.set_defaults(func=cmd_demo)

    spark = sub.add_parser(
        "spark-report",
        parents=[fmt],
        help="the monthly report of one or more districts (--data-dir each) on Apache Spark",
        description="The monthly report computed on Apache Spark (the 'spark' extra, Java 17+): "
        "an open month over each store's current snapshot, a closed month over the store "
        "version it pinned, as of its close. One --data-dir: the report's JSON object; several: "
        "one object per line (JSON Lines), in the order given, each with its data_dir. Each "
        "district's policy is its DIR/policy.toml (else the default).",
    )
    spark.add_argument("--month", required=True, help="YYYY-MM (Asia/Shanghai calendar month)")
    spark.add_argument("--as-of", help="ISO 8601 instant (default: now); open months only")
    spark.add_argument(
        "--master", help="Spark master URL, e.g. local[2], yarn (default: Spark's own)"
    )
    spark.set_defaults(func=cmd_spark_report, reads=True)

    for extend in EXTENSIONS:
        extend(sub, fmt)
    return parser


def cmd_spark_report(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    """``spark-report``: SPEC §13 (``subsidy.spark_report``)."""
    from subsidy.spark_report import spark_reports, spark_session

    parse_month(args.month)
    as_of = _as_of(args.as_of)
    check_reportable(args.month, now_local())
    dirs: list[str] = args.data_dirs or [str(store.root)]
    if args.policy is not None and len(dirs) > 1:
        raise ValueError(
            "--policy applies to one --data-dir; give each district its policy as DIR/policy.toml"
        )
    districts = [(store, policy)]
    for name in dirs[1:]:
        other = Store(Path(name)).open_existing()
        districts.append((other, resolve_policy(other.root)))
    reports = spark_reports(spark_session(args.master), districts, args.month, as_of)
    for name, report in zip(dirs, reports, strict=True):
        doc = report.model_dump(mode="json")
        if len(dirs) == 1:
            print(_dump(doc) if args.format == "json" else _report_text(report))
        elif args.format == "json":
            print(_dump({"data_dir": name, **doc}))
        else:
            print(f"== {name}\n{_report_text(report)}")
    return 0


#: Further sub-commands registered by other modules (``serve``, ``tokens``, ``demo``):
#: each is called with the sub-parsers and the shared ``--format`` parent parser.
EXTENSIONS: list[Callable[[Any, argparse.ArgumentParser], None]] = []


def cmd_serve(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    """Run the HTTP API (and the scheduler) with uvicorn until interrupted."""
    import uvicorn

    from api.app import create_app

    settings: Settings = args.settings
    app = create_app(
        store.root, settings.policy, run_scheduler=not args.no_scheduler, settings=settings
    )
    # uvicorn shuts down gracefully on SIGTERM (the scheduler's running job finishes), then
    # raises the signal again for the previous handler: this one ends the process with 0.
    signal.signal(signal.SIGTERM, _exit_after_shutdown)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _exit_after_shutdown(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def cmd_tokens(args: argparse.Namespace, store: Store, policy: Policy) -> int:
    """``tokens create|list|revoke``: API bearer tokens (only their hash is stored)."""
    from subsidy.tokens import create_token, list_tokens, revoke_token

    if args.tokens_command == "create":
        token, info = create_token(
            store,
            role=args.role,
            carrier=args.carrier,
            name=args.name,
            actor="cli",
            carriers=policy.carriers,
        )
        if args.format == "json":
            print(_dump({**info.as_dict(), "token": token}))
        else:
            print(token)
            who = f"{info.role}{' ' + info.carrier if info.carrier else ''}"
            print(f"token {info.id} ({who}) created; it is shown only this once", file=sys.stderr)
    elif args.tokens_command == "list":
        infos = [t.as_dict() for t in list_tokens(store)]
        if args.format == "json":
            print(_dump({"tokens": infos}))
        for t in infos if args.format == "text" else []:
            state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
            print(
                f"{t['id']:>4}  {t['role']:8} {t['carrier'] or '':7} {t['name'] or '':20} "
                f"created {t['created_at']}  {state}"
            )
    else:
        info = revoke_token(store, args.token_id, actor="cli")
        print(_dump(info.as_dict()) if args.format == "json" else f"token {info.id} revoked")
    return 0


def _add_api_commands(sub: Any, fmt: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", help="run the HTTP API and the scheduled jobs")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--ingest-every", type=float, help="seconds between inbox ingest runs (default 300)"
    )
    serve.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve.add_argument("--log-level", default="info", help="uvicorn log level")
    serve.set_defaults(func=cmd_serve)

    tokens = sub.add_parser("tokens", help="API bearer tokens (create, list, revoke)")
    actions = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", parents=[fmt], help="create a token and print it (shown only once)"
    )
    create.add_argument(
        "--role", required=True, choices=("operator", "finance", "auditor", "admin")
    )
    create.add_argument("--carrier", help="the operator's carrier code (operators only)")
    create.add_argument("--name", help="who holds the token (shown in the audit log)")
    listing = actions.add_parser("list", parents=[fmt], help="list tokens (never their secret)")
    listing.set_defaults(reads=True)
    revoke = actions.add_parser("revoke", parents=[fmt], help="revoke a token at once")
    revoke.add_argument("token_id", type=int, metavar="ID")
    revoke.set_defaults(reads=True)  # a folder without a store holds no token to revoke
    tokens.set_defaults(func=cmd_tokens)


EXTENSIONS.append(_add_api_commands)


def settings_of(args: argparse.Namespace) -> Settings:
    """The one :class:`Settings` of this run: the flags given, then ``PARCEL_SUBSIDY_*``
    variables, then the defaults. Raises ``ValueError`` (one line) on a bad value."""
    given: dict[str, Any] = {"policy": args.policy}
    if args.data_dir is not None:
        given["data_dir"] = Path(args.data_dir)
    if getattr(args, "ingest_every", None) is not None:
        given["ingest_every"] = args.ingest_every
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"bad setting: {problems}") from None


def main(argv: Sequence[str] | None = None, *, on_step: Callable[[str], None] | None = None) -> int:
    """Entry point of the ``parcel-subsidy`` console script.

    ``on_step`` is called with the name of each ingest step as it is reached (tests kill the
    process there to check that the store survives a real death)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.on_step = on_step
    args.data_dirs = args.data_dir or []
    if len(args.data_dirs) > 1 and args.command != "spark-report":
        print(
            f"parcel-subsidy: {args.command} takes one --data-dir, "
            f"{len(args.data_dirs)} were given (only spark-report takes several)",
            file=sys.stderr,
        )
        return 2
    args.data_dir = args.data_dirs[0] if args.data_dirs else None
    try:
        args.settings = settings_of(args)
    except ValueError as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 2
    store = Store(args.settings.data_dir)
    try:
        # A reading command never creates a store: on a mistyped --data-dir it would print
        # a plausible all-zero report.
        store = store.open_existing() if args.reads else store.init()
    except NoStoreError as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error, CoreError) as exc:
        print(
            f"parcel-subsidy: cannot use {args.data_dir} as the data folder ({exc})",
            file=sys.stderr,
        )
        return 2
    try:
        policy = resolve_policy(store.root, args.settings.policy)
        return int(args.func(args, store, policy))
    except (FileRefused, NotFoundError) as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 1
    except (SubsidyError, IngestError, CoreError, ValueError) as exc:
        print(f"parcel-subsidy: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

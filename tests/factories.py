"""Small builders of test data: times, scan rows, upload files, a sites registry, a store.

Every builder takes what varies as an argument and defaults the rest, so a test shows only
what it is about. Times are aware Asia/Shanghai unless a test says otherwise; ``NOW`` is the
time of ingestion passed to every ingest (never the clock).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from core.events import EVENT_SCHEMA
from core.policy import Policy, load_policy
from core.store import Store
from core.timeutil import TZ
from ingest.uploads import Upload, ingest_file
from subsidy.report import monthly_report
from subsidy.sites import REGISTRY_COLUMNS, SITES_SCHEMA, import_sites

UTC = UTC
DAY = timedelta(days=1)
WEEK = timedelta(days=7)

#: Time of ingestion used by default: later than every scan the tests make.
NOW = datetime(2024, 12, 1, tzinfo=TZ)

CENTER = "JY-C01"  # the district center, active since 2021-01-01
HUB = "JY-H01"  # a village hub, always active
HUB2 = "JY-H02"  # another village hub, always active
SHORT_HUB = "JY-H10"  # a village hub active only 2023-05-10 .. 2023-05-20
LATE_CENTER = "JY-C02"  # a district center active only from 2023-06-01
OTHER = "JY-O01"  # a registered site of kind "other"
UNKNOWN = "XX-999"  # a site code the registry does not know

SITES: tuple[dict[str, str], ...] = (
    {
        "site_code": CENTER,
        "name": "济阳区级配送中心",
        "kind": "district_center",
        "town": "济阳街道",
        "active_from": "2021-01-01",
        "active_to": "",
    },
    {
        "site_code": LATE_CENTER,
        "name": "济北配送中心",
        "kind": "district_center",
        "town": "济北街道",
        "active_from": "2023-06-01",
        "active_to": "",
    },
    {
        "site_code": HUB,
        "name": "仁风镇服务站",
        "kind": "village_hub",
        "town": "仁风镇",
        "active_from": "2021-01-01",
        "active_to": "",
    },
    {
        "site_code": HUB2,
        "name": "新市镇服务站",
        "kind": "village_hub",
        "town": "新市镇",
        "active_from": "2021-01-01",
        "active_to": "",
    },
    {
        "site_code": SHORT_HUB,
        "name": "回河街道服务站",
        "kind": "village_hub",
        "town": "回河街道",
        "active_from": "2023-05-10",
        "active_to": "2023-05-20",
    },
    {
        "site_code": OTHER,
        "name": "曲堤街道中转点",
        "kind": "other",
        "town": "曲堤街道",
        "active_from": "2021-01-01",
        "active_to": "",
    },
)


def cst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=TZ)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- scan rows -----------------------------------------------------------------------------


def scan(
    waybill_no: Any,
    scan_type: str,
    site_code: str | None,
    scan_time: Any,
    *,
    carrier: str | None = None,
    next_site_code: str | None = None,
) -> dict[str, Any]:
    """One scan row as an operator's export holds it (``carrier`` only when given)."""
    row: dict[str, Any] = {
        "waybill_no": waybill_no,
        "scan_type": scan_type,
        "site_code": site_code,
        "scan_time": scan_time,
    }
    if carrier is not None:
        row["carrier"] = carrier
    if next_site_code is not None:
        row["next_site_code"] = next_site_code
    return row


def parcel(
    waybill_no: str,
    depart_at: datetime,
    transit: timedelta | None = 2 * DAY,
    *,
    hub: str = HUB,
    arrival_type: str = "arrive",
    center: str = CENTER,
    carrier: str | None = None,
) -> list[dict[str, Any]]:
    """The scans of one parcel: picked up, departed the center, arrived ``transit`` later.

    ``transit=None`` makes a parcel that never reaches a hub.
    """
    rows = [
        scan(waybill_no, "pickup", OTHER, depart_at - timedelta(hours=5), carrier=carrier),
        scan(waybill_no, "depart", center, depart_at, carrier=carrier, next_site_code=hub),
    ]
    if transit is not None:
        rows.append(scan(waybill_no, arrival_type, hub, depart_at + transit, carrier=carrier))
    return rows


# -- frames and files ----------------------------------------------------------------------


def _column(rows: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return [r.get(name) for r in rows]


def _columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    return names


def arrow_table(
    rows: Sequence[dict[str, Any]],
    *,
    time_type: pa.DataType | None = None,
    rename: dict[str, str] | None = None,
) -> pa.Table:
    """Rows as an Arrow table; aware ``scan_time`` values become ``time_type``.

    ``time_type`` defaults to ``timestamp[us, tz=Asia/Shanghai]``. A naive timestamp type gets
    the Asia/Shanghai wall-clock time (what an export without zone holds). Text times stay
    text. ``rename`` maps canonical names to the headers to write.
    """
    time_type = time_type or pa.timestamp("us", tz="Asia/Shanghai")
    arrays: dict[str, pa.Array] = {}
    for name in _columns_of(rows):
        values = _column(rows, name)
        if name == "scan_time" and any(isinstance(v, datetime) for v in values):
            if time_type.tz is None:
                values = [v.astimezone(TZ).replace(tzinfo=None) if v else None for v in values]
            arrays[name] = pa.array(values, type=time_type)
        else:
            arrays[name] = pa.array(values)
    names = [(rename or {}).get(n, n) for n in arrays]
    return pa.table(list(arrays.values()), names=names)


def write_parquet(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    time_type: pa.DataType | None = None,
    rename: dict[str, str] | None = None,
    **write_options: Any,
) -> Path:
    """Write rows as a Parquet file with pyarrow (``write_options`` go to ``pq.write_table``)."""
    pq.write_table(arrow_table(rows, time_type=time_type, rename=rename), path, **write_options)
    return path


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    encoding: str = "utf-8",
    rename: dict[str, str] | None = None,
    delimiter: str = ",",
) -> Path:
    """Write rows as CSV text; times become ``YYYY-MM-DD HH:MM:SS`` Asia/Shanghai wall time."""
    names = _columns_of(rows)
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow([(rename or {}).get(n, n) for n in names])
        for row in rows:
            writer.writerow([_text(row.get(n)) for n in names])
    return path


def events_frame(rows: Iterable[dict[str, Any]], *, carrier: str = "ZTO") -> pl.LazyFrame:
    """Rows as stored events (:data:`EVENT_SCHEMA`), for the pure rule functions."""
    records = [
        {
            "carrier": r.get("carrier", carrier),
            "waybill_no": r["waybill_no"],
            "scan_type": r["scan_type"],
            "site_code": r["site_code"],
            "scan_time": r["scan_time"],
            "next_site_code": r.get("next_site_code"),
            "upload_id": 1,
            "row_no": i,
        }
        for i, r in enumerate(rows, start=1)
    ]
    return pl.LazyFrame(records, schema=EVENT_SCHEMA)


def sites_frame(sites: Iterable[dict[str, str]] = SITES) -> pl.LazyFrame:
    """A registry as the rule reads it (:data:`SITES_SCHEMA`)."""
    records = [
        {
            **s,
            "active_from": date.fromisoformat(s["active_from"]),
            "active_to": date.fromisoformat(s["active_to"]) if s.get("active_to") else None,
        }
        for s in sites
    ]
    return pl.LazyFrame(records, schema=SITES_SCHEMA)


def write_sites_csv(path: Path, sites: Iterable[dict[str, str]] = SITES) -> Path:
    """A registry file as an admin would import it."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(REGISTRY_COLUMNS))
        writer.writeheader()
        writer.writerows(sites)
    return path


# -- the store -----------------------------------------------------------------------------


def make_store(root: Path, sites: Iterable[dict[str, str]] | None = SITES) -> Store:
    """A fresh store in ``root`` with ``sites`` imported (none when ``sites`` is ``None``)."""
    store = Store(root).init()
    if sites is not None:
        root.mkdir(parents=True, exist_ok=True)
        import_sites(store, write_sites_csv(root.parent / f"{root.name}-sites.csv", sites))
    return store


def ingest_rows(
    store: Store,
    rows: Sequence[dict[str, Any]],
    *,
    name: str = "export.parquet",
    carrier: str | None = "ZTO",
    policy: Policy | None = None,
    now: datetime = NOW,
    **write_options: Any,
) -> Upload:
    """Write ``rows`` as a Parquet upload beside the store and ingest it."""
    folder = store.root.parent / "uploads"
    folder.mkdir(exist_ok=True)
    path = write_parquet(folder / name, rows, **write_options)
    return ingest_file(store, path, policy or load_policy(), carrier=carrier, now=now)


def report(
    store: Store, month: str, as_of: datetime, policy: Policy | None = None
) -> dict[str, Any]:
    """The monthly report of ``month`` as of ``as_of``, as its JSON document."""
    return monthly_report(store, policy or load_policy(), month, as_of).model_dump(mode="json")


def stored_events(store: Store) -> pl.DataFrame:
    """Every committed event, in a stable order (identity, then where it came from)."""
    return (
        store.scan_events()
        .collect()
        .sort("carrier", "waybill_no", "scan_time", "scan_type", "site_code", "upload_id")
    )


def store_state(store: Store) -> dict[str, Any]:
    """What an upload may change: event files on disk (with a hash of their bytes), the
    committed file manifest, the rejects, the store version and the ingested uploads' stats.
    """
    files = {
        str(p.relative_to(store.root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.events_dir.rglob("*.parquet"))
    }
    with store.connect() as db:
        manifest = [
            tuple(r)
            for r in db.execute(
                "SELECT upload_id, carrier, month, path, rows, store_version, retired_version"
                " FROM event_files ORDER BY path"
            )
        ]
        rejects = [tuple(r) for r in db.execute("SELECT * FROM rejects ORDER BY upload_id, row_no")]
        uploads = [
            tuple(r)
            for r in db.execute(
                "SELECT id, sha256, status, rows_read, accepted, rejected, duplicates,"
                " rejected_by_reason, store_version FROM uploads"
                " WHERE status IN ('ingested', 'refused') ORDER BY id"
            )
        ]
    return {
        "files": files,
        "event_files": manifest,
        "rejects": rejects,
        "version": store.version(),
        "uploads": uploads,
    }


def reject_rows(store: Store) -> list[dict[str, Any]]:
    """The rejects table as dicts, ordered by upload and row number."""
    with store.connect() as db:
        return [dict(r) for r in db.execute("SELECT * FROM rejects ORDER BY upload_id, row_no")]


def report_core(rep: dict[str, Any]) -> str:
    """The parts of a report that depend only on the stored events, as canonical JSON."""
    return json.dumps({"carriers": rep["carriers"], "totals": rep["totals"]}, sort_keys=True)

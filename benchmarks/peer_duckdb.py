"""The eligibility rule (SPEC §5) written independently in DuckDB SQL: the yardstick.

Usage::

    python -m benchmarks.peer_duckdb --input DIR --as-of ISO8601 [--out counts.json]
    python -m benchmarks.peer_duckdb --store STORE --as-of ISO8601 [--out counts.json]

``--input DIR`` is a generated data set (``DIR/sites.csv``, ``DIR/scans/<CARRIER>/*.parquet``);
each file is read as an upload of the carrier named by its folder, as the benchmark ingests it.
``--store STORE`` reads instead the store's own event files (those its ``event_files``
manifest lists at the current version) and its sites registry: the same rule over the same
stored files the product's rebuild reads, without the row validation ingest already did.

This is deliberately *not* the product's code: it shares nothing with ``subsidy.rule`` but the
policy file's numbers, so agreement of the two is evidence both are right. It is a fair,
well-written query: it keeps only the rows the rule can use (departures at active district
centers, arrivals/dispatches/signatures at active village hubs), applies to them the same row
validity rules as ingest (SPEC §3: trimmed waybill of 6-40 ``A-Za-z0-9-``, a known scan type
with its Chinese aliases, non-empty site, plausible time, the uploader's carrier), then takes
per-parcel minima. No global DISTINCT: duplicates cannot change a minimum.

Limits (the generator's shape): ``scan_time`` must be a Parquet timestamp; naive times are
Asia/Shanghai wall time (a zoned one is converted). The rows the rule cannot use are not
validated at all, which is exactly why no de-duplication or full validation is needed here.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from benchmarks.peak import own_peak_rss
from core.policy import Policy, load_policy
from core.timeutil import TZ_NAME, now_local, parse_instant, to_local

#: The counts compared with the pipeline's, per (month, carrier).
FIGURES = (
    "eligible_parcels",
    "subsidy_fen",
    "pending_parcels",
    "no_hub_arrival",
    "late_hub_arrival",
    "outside_policy_window",
)
_SCAN_TYPE_ALIASES = {
    "depart": "depart",
    "发件": "depart",
    "arrive": "arrive",
    "到件": "arrive",
    "dispatch": "dispatch",
    "派件": "dispatch",
    "sign": "sign",
    "签收": "sign",
}
_WHITESPACE = " \t\n\r\x0b\x0c"  # what Polars' strip_chars() strips in these exports


def _naive(value: datetime) -> str:
    """An instant as Asia/Shanghai wall-clock text, the way the naive columns hold it."""
    return to_local(value).replace(tzinfo=None).isoformat(sep=" ")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _files_by_carrier(input_dir: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in (input_dir / "scans").iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.parquet"))
        if files:
            out[folder.name.upper()] = files
    return out


def _time_expr(files: list[Path]) -> str:
    """``scan_time`` as naive Asia/Shanghai wall time, whatever zone the files declare."""
    field = pq.read_schema(files[0]).field("scan_time")
    if getattr(field.type, "tz", None):
        return f"timezone({_sql_text(TZ_NAME)}, scan_time)"
    return "CAST(scan_time AS TIMESTAMP)"


def build_query(
    files: dict[str, list[Path]],
    policy: Policy,
    as_of: datetime,
    now: datetime,
) -> str:
    """The whole rule as one SQL statement; ``sites`` is a table registered beforehand."""
    trim = f"trim({{}}, {_sql_text(_WHITESPACE)})"
    unions = []
    for carrier, paths in files.items():
        listing = ", ".join(_sql_text(str(p)) for p in paths)
        accepted = sorted({carrier.upper(), policy.carriers.get(carrier, carrier).upper()})
        unions.append(
            f"SELECT {_sql_text(carrier)} AS carrier, {trim.format('waybill_no')} AS waybill_no,"
            f" lower({trim.format('scan_type')}) AS scan_type,"
            f" {trim.format('site_code')} AS site_code, {_time_expr(paths)} AS ts,"
            f" upper({trim.format('carrier')}) AS row_carrier"
            f" FROM read_parquet([{listing}])"
            # the uploader's carrier, by code (any case) or Chinese name, or an empty cell
            f" WHERE (carrier IS NULL OR {trim.format('carrier')} = ''"
            f" OR upper({trim.format('carrier')}) IN ({', '.join(map(_sql_text, accepted))}))"
        )
    aliases = ", ".join(f"({_sql_text(k)}, {_sql_text(v)})" for k, v in _SCAN_TYPE_ALIASES.items())
    cutoff, latest = _naive(as_of), _naive(now + timedelta(days=1))
    return f"""
WITH scan_types(alias, scan_type) AS (VALUES {aliases}),
raw AS ({" UNION ALL ".join(unions)}),
relevant AS MATERIALIZED (
    SELECT r.carrier, r.waybill_no, t.scan_type = 'depart' AS is_depart, r.ts
    FROM raw r
    JOIN scan_types t ON r.scan_type = t.alias
    JOIN sites s ON s.site_code = r.site_code
    WHERE r.ts IS NOT NULL
      AND r.ts >= TIMESTAMP '2020-01-01 00:00:00' AND r.ts <= TIMESTAMP '{latest}'
      AND r.ts <= TIMESTAMP '{cutoff}'
      AND CAST(r.ts AS DATE) >= s.active_from
      AND (s.active_to IS NULL OR CAST(r.ts AS DATE) <= s.active_to)
      AND ((t.scan_type = 'depart' AND s.kind = 'district_center')
           OR (t.scan_type <> 'depart' AND s.kind = 'village_hub'))
      AND length(r.waybill_no) BETWEEN 6 AND 40
      AND regexp_full_match(r.waybill_no, '[A-Za-z0-9-]+')
),
{_rule_sql(policy, as_of)}"""


def _rule_sql(policy: Policy, as_of: datetime) -> str:
    """The rule from ``relevant`` (``carrier, waybill_no, is_depart, ts``: the departures at
    active district centers and the arrivals at active village hubs, ``ts <= as_of``, naive
    Asia/Shanghai wall time) to the per-(month, carrier) figures."""
    transit_us = int(policy.max_transit / timedelta(microseconds=1))
    rate = "CASE"
    for r in reversed(policy.rates):  # latest first: the rate in force on D's date
        rate += f" WHEN CAST(d AS DATE) >= DATE '{r.effective_from.isoformat()}' THEN {r.rate_fen}"
    rate += " END"
    cutoff = _naive(as_of)
    ws, we = _naive(policy.window_start), _naive(policy.window_end)
    return f"""d AS (
    SELECT carrier, waybill_no, min(ts) AS d FROM relevant WHERE is_depart GROUP BY ALL
),
a AS (
    SELECT d.carrier, d.waybill_no, min(r.ts) AS a
    FROM d JOIN relevant r USING (carrier, waybill_no)
    WHERE NOT r.is_depart AND r.ts > d.d
    GROUP BY ALL
),
st AS (
    SELECT d.carrier, strftime(d.d, '%Y-%m') AS month,
        CASE
            WHEN d.d < TIMESTAMP '{ws}' OR d.d >= TIMESTAMP '{we}' THEN 'outside_policy_window'
            WHEN a.a IS NOT NULL AND a.a - d.d <= to_microseconds({transit_us}) THEN 'eligible'
            WHEN a.a IS NOT NULL THEN 'late_hub_arrival'
            WHEN TIMESTAMP '{cutoff}' < d.d + to_microseconds({transit_us}) THEN 'pending'
            ELSE 'no_hub_arrival'
        END AS outcome,
        {rate} AS rate_fen
    FROM d LEFT JOIN a USING (carrier, waybill_no)
)
SELECT month, carrier,
    count(*) FILTER (WHERE outcome = 'eligible') AS eligible_parcels,
    coalesce(sum(rate_fen) FILTER (WHERE outcome = 'eligible'), 0) AS subsidy_fen,
    count(*) FILTER (WHERE outcome = 'pending') AS pending_parcels,
    count(*) FILTER (WHERE outcome = 'no_hub_arrival') AS no_hub_arrival,
    count(*) FILTER (WHERE outcome = 'late_hub_arrival') AS late_hub_arrival,
    count(*) FILTER (WHERE outcome = 'outside_policy_window') AS outside_policy_window
FROM st GROUP BY ALL ORDER BY month, carrier
"""


def build_store_query(files: list[Path], policy: Policy, as_of: datetime) -> str:
    """The rule over a store's own event files (already validated and de-duplicated by the
    ingest): the same fair query without the row validation; ``sites`` registered beforehand.
    Stored times are instants; Asia/Shanghai has had no daylight saving time since 1991, so
    the wall time is the UTC instant plus eight hours."""
    listing = ", ".join(_sql_text(str(p)) for p in files)
    cutoff = _naive(as_of)
    return f"""
WITH raw AS (
    SELECT CAST(carrier AS VARCHAR) AS carrier, waybill_no,
        CAST(scan_type AS VARCHAR) AS scan_type, site_code,
        make_timestamp(epoch_us(scan_time) + {8 * 3600 * 1_000_000}) AS ts
    FROM read_parquet([{listing}], hive_partitioning = false)
),
relevant AS MATERIALIZED (
    SELECT r.carrier, r.waybill_no, r.scan_type = 'depart' AS is_depart, r.ts
    FROM raw r
    JOIN sites s ON s.site_code = r.site_code
    WHERE r.ts <= TIMESTAMP '{cutoff}'
      AND CAST(r.ts AS DATE) >= s.active_from
      AND (s.active_to IS NULL OR CAST(r.ts AS DATE) <= s.active_to)
      AND ((r.scan_type = 'depart' AND s.kind = 'district_center')
           OR (r.scan_type IN ('arrive', 'dispatch', 'sign') AND s.kind = 'village_hub'))
),
{_rule_sql(policy, as_of)}"""


def peer_counts(
    input_dir: Path,
    policy: Policy,
    as_of: datetime,
    *,
    now: datetime,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Per (month, carrier) figures of the rule over the raw files of ``input_dir``."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(
        "CREATE TABLE sites AS SELECT trim(site_code) AS site_code, trim(kind) AS kind,"
        " CAST(nullif(trim(active_from), '') AS DATE) AS active_from,"
        " CAST(nullif(trim(active_to), '') AS DATE) AS active_to"
        " FROM read_csv(?, all_varchar = true, header = true)",
        [str(input_dir / "sites.csv")],
    )
    sql = build_query(_files_by_carrier(input_dir), policy, as_of, now)
    cur = con.execute(sql)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def peer_store_counts(
    store_dir: Path, policy: Policy, as_of: datetime, *, threads: int | None = None
) -> list[dict[str, Any]]:
    """Per (month, carrier) figures of the rule over a store's own event files: those its
    ``event_files`` manifest lists at the current version, with its sites registry."""
    db = sqlite3.connect(f"file:{store_dir / 'parcel_subsidy.sqlite'}?mode=ro", uri=True)
    try:
        version = db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0]
        files = [
            store_dir / row[0]
            for row in db.execute(
                "SELECT path FROM event_files WHERE store_version <= ? AND"
                " (retired_version IS NULL OR retired_version > ?) ORDER BY id",
                (int(version), int(version)),
            )
        ]
        sites = db.execute("SELECT site_code, kind, active_from, active_to FROM sites").fetchall()
    finally:
        db.close()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute(
        "CREATE TABLE sites (site_code VARCHAR, kind VARCHAR, active_from DATE, active_to DATE)"
    )
    con.executemany("INSERT INTO sites VALUES (?, ?, ?, ?)", [list(r) for r in sites])
    if not files:
        return []
    cur = con.execute(build_store_query(files, policy, as_of))
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: prints (or writes) ``{"seconds", "counts"}`` as JSON."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.peer_duckdb", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="a generated data set (the raw uploads)")
    source.add_argument("--store", type=Path, help="a store: its own event files")
    p.add_argument("--as-of", required=True, help="ISO 8601 instant (Asia/Shanghai if naive)")
    p.add_argument("--policy", type=Path, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    policy, as_of = load_policy(a.policy), parse_instant(a.as_of)
    if a.store is not None:
        counts = peer_store_counts(a.store, policy, as_of, threads=a.threads)
    else:
        counts = peer_counts(a.input, policy, as_of, now=now_local(), threads=a.threads)
    doc = {
        "seconds": round(time.perf_counter() - t0, 3),
        "counts": counts,
        "peak_rss_bytes": own_peak_rss(),
    }
    text = json.dumps(doc, ensure_ascii=False)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()

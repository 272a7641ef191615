"""The "one more day" of the incremental benchmark: new scans that continue stored parcels.

:func:`make_next_day` reads a generated data set (``ingest.synthetic``) and writes, for the
first day after its period (its ``end_exclusive``), one Parquet export per carrier in the
generator's shape (``OUT/scans/<CARRIER>/<CARRIER>-YYYY-MM-DD.parquet``) holding:

- hub arrivals (and some signatures) of parcels that left the district center in the last
  eight days of the period and had not arrived yet: their departure is already stored, in the
  previous month, so the upload changes the figures of a month it does not itself cover (and
  the ones that left more than ``max_transit`` ago turn from ``no_hub_arrival`` or pending into
  ``late_hub_arrival``);
- the last two hours of the period again (a daily export repeating yesterday's tail: stored
  duplicates that ingest must recognise);
- new parcels picked up, sorted, sent from the district center and delivered on the day.

Seeded: the same input and seed give the same rows.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from ingest.synthetic import CARRIERS, SCHEMA

ARRIVAL_TYPES = ("arrive", "dispatch", "sign")


def _scans(input_dir: Path) -> pl.LazyFrame:
    files = sorted((input_dir / "scans").glob("*/*.parquet"))
    return pl.scan_parquet(files).with_columns(
        pl.col("scan_time").cast(pl.Datetime("us")),
        pl.col("carrier").str.strip_chars().str.to_uppercase(),
    )


def make_next_day(
    input_dir: Path, out_dir: Path, *, rows_target: int, seed: int = 7
) -> dict[str, Any]:
    """Write the next day's exports under ``out_dir``; returns counts of what was written."""
    manifest = json.loads((input_dir / "manifest.json").read_text(encoding="utf-8"))
    day = date.fromisoformat(manifest["parameters"]["end_exclusive"])
    day0 = datetime(day.year, day.month, day.day)
    sites = pl.read_csv(input_dir / "sites.csv", infer_schema=False)
    centers = sites.filter(pl.col("kind") == "district_center")["site_code"].to_list()
    hubs = (
        sites.filter(
            (pl.col("kind") == "village_hub")
            & (pl.col("active_from") <= str(day))
            & (pl.col("active_to").is_null() | (pl.col("active_to") >= str(day)))
        )["site_code"]
        .sort()
        .to_list()
    )
    recent = (
        _scans(input_dir)
        .filter(pl.col("scan_time") >= day0 - timedelta(days=8))
        .select("carrier", "waybill_no", "scan_type", "site_code", "scan_time")
        .collect(engine="streaming")
    )
    departed = (
        recent.filter((pl.col("scan_type") == "depart") & pl.col("site_code").is_in(centers))
        .group_by("carrier", "waybill_no")
        .agg(pl.col("scan_time").min().alias("d"))
    )
    arrived = (
        recent.filter(pl.col("scan_type").is_in(ARRIVAL_TYPES) & pl.col("site_code").is_in(hubs))
        .select("carrier", "waybill_no")
        .unique()
    )
    waiting = departed.join(arrived, on=["carrier", "waybill_no"], how="anti").sort(
        "carrier", "waybill_no"
    )
    n = waiting.height
    u = pl.Series(pl.int_range(0, n, eager=True).hash(seed) % 10_000) / 10_000
    hub = pl.Series(hubs).gather((u * len(hubs)).cast(pl.Int64).clip(0, len(hubs) - 1))
    arrive_at = pl.lit(day0) + pl.duration(minutes=(30 + u * 600).cast(pl.Int64))
    continued = waiting.with_columns(site_code=hub, _u=u).select(
        "carrier",
        "waybill_no",
        pl.lit("arrive").alias("scan_type"),
        "site_code",
        arrive_at.alias("scan_time"),
        pl.lit(None, pl.String).alias("next_site_code"),
    )
    signs = continued.filter(pl.col("waybill_no").hash(seed) % 3 == 0).with_columns(
        pl.lit("sign").alias("scan_type"), pl.col("scan_time") + pl.duration(hours=3)
    )
    tail = (
        _scans(input_dir)
        .filter(pl.col("scan_time") >= day0 - timedelta(hours=2))
        .select(SCHEMA.names)
        .collect(engine="streaming")
    )
    have = n + signs.height + tail.height
    fresh = _new_parcels(day0, max(rows_target - have, 0) // 6 + 1, centers[0], hubs, seed)
    rows = pl.concat(
        [
            tail.select(SCHEMA.names),
            continued.select(SCHEMA.names),
            signs.select(SCHEMA.names),
            fresh.select(SCHEMA.names),
        ]
    ).sort("scan_time", "waybill_no", "scan_type")
    written: dict[str, int] = {}
    for (carrier,), part in rows.partition_by("carrier", as_dict=True).items():
        folder = out_dir / "scans" / str(carrier)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{carrier}-{day}.parquet"
        pq.write_table(part.to_arrow().cast(SCHEMA), path, compression="zstd")
        written[str(carrier)] = part.height
    return {
        "day": str(day),
        "rows": rows.height,
        "continued_parcels": n,
        "repeated_tail_rows": tail.height,
        "new_parcels": fresh.select("waybill_no").n_unique(),
        "files": written,
    }


def _new_parcels(day0: datetime, n: int, center: str, hubs: list[str], seed: int) -> pl.DataFrame:
    """``n`` parcels handled entirely on the day: six scans each."""
    shares = [c[2] for c in CARRIERS]
    edges = [sum(shares[: i + 1]) / sum(shares) for i in range(len(shares) - 1)]
    idx = pl.int_range(0, n, eager=True)
    u = (idx.hash(seed + 1) % 1_000_000) / 1_000_000
    c = pl.Series(edges).search_sorted(u, side="right")
    f = pl.DataFrame(
        {
            "carrier": pl.Series([x[0] for x in CARRIERS]).gather(c),
            "waybill_no": [f"NX{day0:%y%m%d}{i:08d}" for i in range(n)],
            "hub": pl.Series(hubs).gather((u * 7919 % 1 * len(hubs)).cast(pl.Int64)),
            "t0": [day0 + timedelta(minutes=int(x * 300)) for x in u],
        }
    )
    steps = [
        ("pickup", pl.lit("SD-JN-0101"), 0, pl.lit("JN-SC-01")),
        ("depart", pl.lit("JN-SC-01"), 90, pl.lit(center)),
        ("arrive", pl.lit(center), 180, pl.lit(None, pl.String)),
        ("depart", pl.lit(center), 240, pl.col("hub")),
        ("arrive", pl.col("hub"), 330, pl.lit(None, pl.String)),
        ("sign", pl.col("hub"), 480, pl.lit(None, pl.String)),
    ]
    return pl.concat(
        f.select(
            "carrier",
            "waybill_no",
            pl.lit(stype).alias("scan_type"),
            site.alias("site_code"),
            (pl.col("t0") + pl.duration(minutes=minutes)).alias("scan_time"),
            nxt.alias("next_site_code"),
        )
        for stype, site, minutes, nxt in steps
    )

"""Planted fraud for the audit-control benchmark (SPEC §12), an option of :mod:`ingest.synthetic`
(``--plant N``): on top of the honest generated logs, N parcels per code just inside its
threshold and N just outside it, in files of their own
(``scans/<CARRIER>/<CARRIER>-planted.parquet``), listed in ``planted.csv`` (code, side,
carrier, waybill_no, site_code, day) so a benchmark can score recall and false flags.

The patterns, times in Asia/Shanghai wall time (as the generated logs):

* ``too_fast``: hub arrival 29 min 59 s after the district-center departure / exactly 30 min;
* ``off_hours``: arrival at 04:59:59 or 00:00:00 / at 05:00:00;
* ``burst``: 61 arrivals at one hub in one minute (03:17) / 60;
* ``cross_carrier``: one waybill departing under two carriers / the second carrier has only a
  pickup scan;
* ``reused_waybill``: a second departure 30 days and 1 s after the first / exactly 30 days;
* ``hub_spike``: a hub-day raised to just over 5x the median of its previous 28 days (and
  at least 50) / to just under. The honest counts are estimated from the generated files
  (arrivals of parcels that left a district center), not by the rule, which counts a few
  percent fewer: a median that moves by one parcel moves the threshold by five, so the
  planted totals keep a 10% margin (``1.1 x (threshold + 1)`` / ``0.9 x threshold``).
"""

from __future__ import annotations

import csv
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

PLANT_CODES = ("too_fast", "off_hours", "burst", "cross_carrier", "reused_waybill", "hub_spike")
CENTER = "JY-DC-01"
BURST = 61
SPIKE_FACTOR, SPIKE_MIN, LOOKBACK = 5, 50, 28
SCHEMA = pa.schema(
    [("waybill_no", pa.string()), ("scan_type", pa.string()), ("site_code", pa.string()),
     ("scan_time", pa.timestamp("us")), ("carrier", pa.string()), ("next_site_code", pa.string())]
)  # fmt: skip


class _Planter:
    def __init__(self, seed: int, hubs: list[str], carriers: list[tuple[str, str]]) -> None:
        self.rng = random.Random(seed)
        self.hubs, self.carriers = hubs, carriers
        self.rows: list[dict[str, Any]] = []
        self.listed: list[dict[str, Any]] = []
        self.serial = 0

    def waybill(self, carrier: int) -> str:
        self.serial += 1
        return f"{self.carriers[carrier][1]}9{self.serial:09d}"

    def scan(
        self, carrier: int, wb: str, kind: str, site: str, at: datetime, nxt: str | None = None
    ) -> None:
        self.rows.append(
            {"waybill_no": wb, "scan_type": kind, "site_code": site, "scan_time": at,
             "carrier": self.carriers[carrier][0], "next_site_code": nxt}
        )  # fmt: skip

    def parcel(
        self,
        code: str,
        side: str,
        d: datetime,
        a: datetime,
        hub: str,
        carrier: int | None = None,
        wb: str | None = None,
    ) -> str:
        c = self.rng.randrange(len(self.carriers)) if carrier is None else carrier
        wb = wb or self.waybill(c)
        self.scan(c, wb, "depart", CENTER, d, hub)
        self.scan(c, wb, "arrive", hub, a)
        self.listed.append(
            {"code": code, "side": side, "carrier": self.carriers[c][0], "waybill_no": wb,
             "site_code": hub, "day": a.date().isoformat()}
        )  # fmt: skip
        return wb


def _honest_hub_days(scans_dir: Path) -> dict[tuple[str, date], int]:
    """Per (hub, day): honest parcels departing the district centers that arrived there."""
    files = [p for p in scans_dir.glob("*/*.parquet") if not p.stem.endswith("planted")]
    if not files:
        return {}
    lf = pl.scan_parquet(files).filter(pl.col("waybill_no").str.len_chars() > 0)
    departed = (
        lf.filter((pl.col("scan_type") == "depart") & pl.col("site_code").str.starts_with("JY-DC"))
        .select("carrier", "waybill_no")
        .unique()
    )
    arrived = (
        lf.filter((pl.col("scan_type") == "arrive") & pl.col("site_code").str.starts_with("JY-VH"))
        .group_by("carrier", "waybill_no")
        .agg(pl.col("site_code").sort_by("scan_time").first(), pl.col("scan_time").min())
        .join(departed, on=["carrier", "waybill_no"], how="semi")
        .group_by("site_code", pl.col("scan_time").dt.date().alias("day"))
        .len()
        .collect()
    )
    return {(r[0], r[1]): int(r[2]) for r in arrived.iter_rows()}


def _spike_target(counts: dict[tuple[str, date], int], hub: str, day: date) -> int | None:
    prev = [counts[(hub, day - timedelta(days=k))] for k in range(1, LOOKBACK + 1)
            if counts.get((hub, day - timedelta(days=k)), 0) > 0]  # fmt: skip
    if len(prev) < 7:
        return None
    return math.floor(SPIKE_FACTOR * median(prev))


def plant(
    out_dir: Path,
    per_side: int,
    seed: int,
    start: date,
    end: date,
    hubs: list[str],
    carriers: list[tuple[str, str]],
) -> dict[str, int]:
    """Write the planted parcels (see the module doc); answers how many per code and side."""
    if (end - start).days < 70:
        raise ValueError("planting fraud needs a period of at least 70 days (use --months 3)")
    p = _Planter(seed, hubs, carriers)
    rng = p.rng

    def day(lo: int = 35, hi: int = 8) -> datetime:
        d = start + timedelta(days=rng.randrange(lo, (end - start).days - hi))
        return datetime(d.year, d.month, d.day)

    for side in ("inside", "outside"):
        inside = side == "inside"
        for i in range(per_side):
            d = day() + timedelta(hours=10, minutes=rng.randrange(300))
            fast = timedelta(minutes=29, seconds=59) if inside else timedelta(minutes=30)
            p.parcel("too_fast", side, d, d + fast, rng.choice(hubs))
            a = day() + (
                (timedelta(hours=4, minutes=59, seconds=59) if i % 2 else timedelta(0))
                if inside
                else timedelta(hours=5)
            )
            p.parcel("off_hours", side, a - timedelta(hours=9), a, rng.choice(hubs))
            d = day(2, 35) + timedelta(hours=9, minutes=rng.randrange(300))
            gap = timedelta(days=30, seconds=1) if inside else timedelta(days=30)
            wb = p.parcel("reused_waybill", side, d, d + timedelta(hours=3), rng.choice(hubs))
            c = next(k for k, cr in enumerate(carriers) if cr[0] == p.listed[-1]["carrier"])
            p.scan(c, wb, "depart", CENTER, d + gap, rng.choice(hubs))
            d = day() + timedelta(hours=9, minutes=rng.randrange(300))
            c1 = rng.randrange(len(carriers))
            c2 = (c1 + 1 + rng.randrange(len(carriers) - 1)) % len(carriers)
            wb = p.parcel("cross_carrier", side, d, d + timedelta(hours=3), rng.choice(hubs), c1)
            if inside:
                later = d + timedelta(days=2)
                a = later + timedelta(hours=4)
                p.parcel("cross_carrier", side, later, a, rng.choice(hubs), c2, wb)
            else:
                p.scan(c2, wb, "pickup", "JN-SC-01", d - timedelta(days=1))
        size = BURST if inside else BURST - 1
        for _ in range(max(1, round(per_side / size))):
            minute, hub = day() + timedelta(hours=3, minutes=17), rng.choice(hubs)
            for k in range(size):
                at = minute + timedelta(seconds=k * 59 / size)
                p.parcel("burst", side, at - timedelta(hours=8), at, hub)
    counts = _honest_hub_days(out_dir / "scans")
    used: set[tuple[str, date]] = set()
    for side in ("inside", "outside"):
        planted, tries = 0, 0
        while planted < per_side and tries < 10_000:
            tries += 1
            hub, d = rng.choice(hubs), day()
            target = _spike_target(counts, hub, d.date())
            if target is None or (hub, d.date()) in used:
                continue
            today = counts.get((hub, d.date()), 0)
            if side == "inside":
                want = max(math.ceil(1.1 * (target + 1)), SPIKE_MIN + 2)
            else:  # just under the threshold that binds: the factor, else the minimum
                low = math.floor(0.9 * target)
                want = low if low >= SPIKE_MIN + 2 else SPIKE_MIN - 3
            if want <= today:
                continue
            used.add((hub, d.date()))
            for _ in range(want - today):
                a = d + timedelta(hours=10, minutes=rng.randrange(360))
                p.parcel("hub_spike", side, a - timedelta(hours=6), a, hub)
                planted += 1
    by_carrier: dict[str, list[dict[str, Any]]] = {}
    for row in p.rows:
        by_carrier.setdefault(row["carrier"], []).append(row)
    for code, rows in by_carrier.items():
        path = out_dir / "scans" / code / f"{code}-planted.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, SCHEMA), path, compression="zstd")
    with (out_dir / "planted.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["code", "side", "carrier", "waybill_no", "site_code", "day"])
        writer.writeheader()
        writer.writerows(p.listed)
    tally: dict[str, int] = {}
    for row in p.listed:
        key = f"{row['code']}:{row['side']}"
        tally[key] = tally.get(key, 0) + 1
    return tally

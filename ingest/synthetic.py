"""Seeded, vectorized generator of realistic courier scan logs for Jiyang District.

Usage::

    python -m ingest.synthetic --parcels N --out DIR [--seed S] [--layout day|month]
                                  [--start 2023-01-01] [--months 6] [--overwrite]
                                  [--plant N] [--shapes parquet|mixed|canonical]

Writes ``DIR/sites.csv`` (the registry of SPEC section 4), one zstd Parquet scan log per carrier
and day (``DIR/scans/<CARRIER>/<CARRIER>-YYYY-MM-DD.parquet``) or per carrier and month
(``<CARRIER>-YYYY-MM.parquet``) with the columns of SPEC section 3, and ``DIR/manifest.json``.

Memory stays bounded: parcels are generated in order of their pickup day, at most ``CHUNK`` at a
time; their scans are buffered by the day their ``scan_time`` falls on, and day ``d`` is written
as soon as the parcels picked up on or before ``d`` exist, since every later parcel only scans on
later days. The buffer thus holds only scans lying in the future (a few days' worth).
Same seed and library versions give byte-identical Parquet files (the manifest holds wall time).

``--shapes mixed``: every other export of each carrier (alternating between carriers) comes
in that carrier's own words and format instead of Parquet (:mod:`ingest.shapes`: J&T's
``.xlsx``, ZTO's epoch-millisecond CSV, STO's GB18030 CSV with a title line and split date and
time, YTO's TSV with sites by alias, EMS's ``.xls``, ...); the registry gains site aliases,
a few ``other`` scans (装袋, 建包, ...) are added and times are kept to the millisecond (what
every shape carries). ``--shapes canonical`` writes the very rows of ``mixed``, every file as
canonical Parquet: the reference a mixed set's store and reports must equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.planted import plant as plant_fraud
from ingest.shapes import SHAPES, Registry, write_shaped

H = 3_600_000_000  # one hour in microseconds
DAY = 24 * H
CHUNK = 500_000  # parcels generated at once, at most
ROW_GROUP = 1_000_000
DUP_RATE, BAD_RATE, OVERLAP_HOURS = 0.005, 0.002, 2
BAD_KINDS = ("empty_waybill", "bad_waybill_chars", "unknown_scan_type", "pre_2020_time",
             "other_carrier", "empty_site_code")  # fmt: skip
FATES = ("missing_hub_arrival", "late_hub_arrival", "exactly_7_days", "normal")
FATE_P = (0.02, 0.01, 0.0005, 0.9695)
# code, waybill prefix, share of parcels, share routed through the district center
CARRIERS = (
    ("EMS", "98", 0.07, 0.85), ("SF", "SF14", 0.05, 0.40), ("ZTO", "ZT77", 0.22, 0.80),
    ("YTO", "YT75", 0.17, 0.80), ("STO", "7720", 0.12, 0.80), ("YUNDA", "43", 0.15, 0.80),
    ("JT", "JT58", 0.14, 0.78), ("JD", "JDVA", 0.05, 0.35), ("DEPPON", "DPK3", 0.03, 0.40),
)  # fmt: skip
CODES = [c[0] for c in CARRIERS]
TOWNS = (
    ("济阳街道", "JY", 6), ("济北街道", "JB", 5), ("回河街道", "HH", 4), ("垛石街道", "DS", 4),
    ("曲堤街道", "QD", 5), ("仁风镇", "RF", 4), ("新市镇", "XS", 4), ("太平街道", "TP", 4),
    ("孙耿街道", "SG", 4),
)  # fmt: skip
ORIGINS = (
    ("ZJ-YW", 0.20), ("ZJ-HZ", 0.10), ("GD-GZ", 0.15), ("GD-SZ", 0.10), ("JS-SZ", 0.08),
    ("SH-PD", 0.07), ("FJ-QZ", 0.06), ("SD-LY", 0.10), ("HE-BD", 0.04), ("SD-JN", 0.10),
)  # fmt: skip
SORTING = (
    ("JN-SC-01", "济南转运中心", "历城区", 0.6), ("JN-SC-02", "济南北转运中心", "天桥区", 0.3),
    ("JN-SC-03", "济南西转运中心", "槐荫区", 0.1),
)  # fmt: skip
SPRING_FESTIVAL = {2020: "01-25", 2021: "02-12", 2022: "02-01", 2023: "01-22", 2024: "02-10",
                   2025: "01-29", 2026: "02-17", 2027: "02-06", 2028: "01-26"}  # fmt: skip
SITE_COLUMNS = ["site_code", "name", "kind", "town", "active_from", "active_to"]
#: ``parquet``: canonical files only (as before); ``mixed``: a share of each carrier's exports
#: in its own shape; ``canonical``: the rows of ``mixed``, every file canonical Parquet.
SHAPE_MODES = ("parquet", "mixed", "canonical")
OTHER_RATE = 0.05  # departures from a sorting center preceded by an ``other`` scan (装袋)
SCHEMA = pa.schema(
    [("waybill_no", pa.string()), ("scan_type", pa.string()), ("site_code", pa.string()),
     ("scan_time", pa.timestamp("us")), ("carrier", pa.string()), ("next_site_code", pa.string())]
)  # fmt: skip


def _key(seed: int, *parts: object) -> int:
    """A 63-bit RNG initializer derived from the seed and a stream name."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _uniforms(n: int, k: int, key: int) -> pl.DataFrame:
    """``k`` columns ``u0..u{k-1}`` of ``n`` seeded uniform floats in [0, 1)."""
    s = pl.Series(pc.random(n * k, initializer=key))
    return pl.DataFrame({f"u{j}": s.slice(j * n, n) for j in range(k)})


def _u(j: int) -> pl.Expr:
    return pl.col(f"u{j}")


def _bucket(x: pl.Expr, edges: list[float]) -> pl.Expr:
    """Index of the interval of sorted ``edges`` that ``x`` falls into (0..len(edges))."""
    return pl.lit(pl.Series(edges, dtype=pl.Float64)).search_sorted(x, side="right")


def _pick(u: pl.Expr, weights: list[float] | tuple[float, ...]) -> pl.Expr:
    """Index drawn with the given weights from the uniform ``u``."""
    cum = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights) - 1)]
    return _bucket(u, cum)


def _gather(values: list[Any], idx: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(values)).gather(idx)


def _normal(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Standard normal deviate (Box-Muller) from two uniforms."""
    return (-2.0 * (1.0 - a).log()).sqrt() * (2.0 * math.pi * b).cos()


def _hours(x: pl.Expr) -> pl.Expr:
    return (x * H).cast(pl.Int64)


def _hod(t: pl.Expr) -> pl.Expr:
    """Hour of day (float) of a naive microsecond timestamp."""
    return (t % DAY) / H


def _us(d: date) -> int:
    return (d - date(1970, 1, 1)).days * DAY


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def build_sites(start: date, end: date) -> list[dict[str, Any]]:
    """The registry: 2 district centers, 40 village hubs, 3 Jinan sorting centers (``other``).

    JY-DC-02 opens 40% into the period; one hub closed before it, one closes mid-period and one
    opens a quarter into it, so site activity intervals matter. Hubs carry a routing weight.
    """
    span = (end - start).days
    rows = [
        ("JY-DC-01", "济阳区电商物流配送中心", "district_center", "济阳街道", "2021-08-30", ""),
        ("JY-DC-02", "济阳区电商物流配送中心济北分拨中心", "district_center", "济北街道",
         str(start + timedelta(days=span * 2 // 5)), ""),
    ]  # fmt: skip
    special = {
        7: ("2021-09-15", str(start - timedelta(days=31))),
        23: ("2021-09-15", str(start + timedelta(days=span * 11 // 20))),
        31: (str(start + timedelta(days=span // 4)), ""),
    }
    weights = [0.0, 0.0]
    for town, abbr, count in TOWNS:
        for k in range(1, count + 1):
            name = f"{town}电商服务中心" if k == 1 else f"{town}第{k - 1}村级电商服务站"
            frm, to = special.get(len(weights) - 2, ("2021-09-15", ""))
            rows.append((f"JY-VH-{abbr}{k:02d}", name, "village_hub", town, frm, to))
            weights.append(3.0 if k == 1 else 1.0 + (len(weights) % 3) * 0.5)
    rows += [(code, name, "other", town, "2019-01-01", "") for code, name, town, _ in SORTING]
    weights += [0.0] * len(SORTING)
    return [  # an empty active_to (still active) is written as an empty CSV field
        dict(zip(SITE_COLUMNS, [v or None for v in r], strict=True), weight=w)
        for r, w in zip(rows, weights, strict=True)
    ]


def site_aliases(sites: list[dict[str, Any]]) -> dict[str, str]:
    """One alias per district center, village hub and sorting center, as couriers' systems
    name them (济阳分拨, 仁风2号站, 济南北转运); unique, and no other site's code or name."""
    out: dict[str, str] = {}
    for site in sites:
        code, name, town = site["site_code"], site["name"], site["town"] or ""
        if site["kind"] == "district_center":
            out[code] = f"{town[:2]}分拨"
        elif site["kind"] == "village_hub":
            out[code] = f"{town[:2]}{int(code[-2:])}号站"
        else:
            out[code] = name.replace("中心", "")
    return out


def _active(site: dict[str, Any], d: date) -> bool:
    return site["active_from"] <= str(d) and (not site["active_to"] or str(d) <= site["active_to"])


def _regime(sites: list[dict[str, Any]], d: date) -> tuple[float, ...]:
    """Routing weights on day ``d``: P(JY-DC-02), then one weight per village hub."""
    p_dc2 = 0.4 if _active(sites[1], d) else 0.03  # a few trial runs before JY-DC-02 opens
    hubs = [s["weight"] * (1.0 if _active(s, d) else 0.05) for s in sites if s["weight"]]
    return (p_dc2, *hubs)


def _day_counts(parcels: int, days: list[date]) -> list[int]:
    """Parcels picked up per day: weekday pattern, growth, shopping festivals, Spring Festival."""
    weekday = (1.04, 1.0, 0.99, 1.0, 1.03, 0.9, 0.82)
    festivals = {"06-18", "06-19", "06-20", "11-11", "11-12", "11-13", "12-12"}
    weights = []
    for i, d in enumerate(days):
        w = weekday[d.weekday()] * (1.0 + 0.15 * i / len(days))
        w *= 1.7 if f"{d:%m-%d}" in festivals else 1.0
        sf = SPRING_FESTIVAL.get(d.year)
        w *= 0.35 if sf and abs((d - date.fromisoformat(f"{d.year}-{sf}")).days) <= 7 else 1.0
        weights.append(w)
    raw = [parcels * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(days)), key=lambda i: (counts[i] - raw[i], i))
    for i in by_remainder[: parcels - sum(counts)]:
        counts[i] += 1
    return counts


def _chunk(
    seed: int, pid0: int, day_no: pl.Series, start: date, regime: tuple[float, ...], hubs: list[str]
) -> tuple[pl.DataFrame, Counter[str]]:
    """Scans of parcels ``pid0..`` picked up on days ``day_no`` (days after ``start``).

    One row per scan, ``c`` is the carrier index; ``regime`` comes from :func:`_regime`.
    """
    n = len(day_no)
    f = _uniforms(n, 30, _key(seed, "parcels", pid0)).with_columns(
        pid=pl.int_range(pid0, pid0 + n, dtype=pl.UInt64), day_no=day_no,
        c=_pick(_u(0), [c[2] for c in CARRIERS]), fate=_pick(_u(11), FATE_P),
    )  # fmt: skip
    # waybill: two affine bijections mod 1e11 around a digit reversal -> unique, random-looking
    mult = (pl.col("pid") * 2654435761 + _key(seed, "wb") % 10**11) % 10**11
    rev = mult.cast(pl.String).str.zfill(11).str.reverse().cast(pl.UInt64)
    number = ((rev * 160481219 + 7) % 10**11).cast(pl.String).str.zfill(11)
    afternoon = (15.5 + 2.5 * _normal(_u(2), _u(3))).clip(8.0, 21.5)
    pick_hour = pl.when(_u(1) < 0.75).then(afternoon).otherwise(8.0 + 13.0 * _u(2))
    origin = _gather([o[0] for o in ORIGINS], _pick(_u(7), [o[1] for o in ORIGINS]))
    f = f.with_columns(
        wb=pl.concat_str(_gather([c[1] for c in CARRIERS], pl.col("c")), number),
        t0=_us(start) + pl.col("day_no") * DAY + _hours(pick_hour),
        via_dc=_u(4) < _gather([c[3] for c in CARRIERS], pl.col("c")),
        dc=pl.when(_u(5) < regime[0]).then(pl.lit("JY-DC-02")).otherwise(pl.lit("JY-DC-01")),
        sc=_gather([s[0] for s in SORTING], _pick(_u(6), [s[3] for s in SORTING])),
        origin=pl.format("{}-0{}", origin, (100 + _u(8) * 300).cast(pl.Int64)),
        hub=_gather(hubs, _pick(_u(9), regime[1:])),
        outlet=pl.format("JY-{}-0{}", _gather(CODES, pl.col("c")), (1 + _u(10) * 4).cast(pl.Int64)),
        t1_h=(26.0 * (0.45 * _normal(_u(13), _u(14))).exp()).clip(6, 120),  # Jinan departure
    )  # fmt: skip
    t1 = pl.col("t0") + _hours(pl.col("t1_h"))
    sorted_at = t1 + _hours(2.0 + 2.5 * _u(15) + _u(29))  # DC arrival + 0.5-1.5 h of sorting
    wave = _gather([7, 10, 14, 17, 31], _bucket(_hod(sorted_at), [7, 10, 14, 17]))  # DC trucks
    f = f.with_columns(
        t1=t1, t2=t1 + _hours(1.5 + 2.5 * _u(15)),
        t3=sorted_at - sorted_at % DAY + wave * H + _hours(_u(16) * 0.67),
        lm=pl.when(pl.col("via_dc") | (_u(12) >= 0.8)).then(pl.col("hub")).otherwise("outlet"),
    )  # fmt: skip
    dep = pl.when(pl.col("via_dc")).then(pl.col("t3")).otherwise(pl.col("t1"))
    hub_h = pl.when(pl.col("via_dc")).then(0.75 + 2.75 * _u(17)).otherwise(1.5 + 2.5 * _u(17))
    late = 7 * DAY + pl.when(_u(18) < 0.1).then(1000).otherwise(60_000_000 + _hours(72 * _u(19)))
    fate = pl.col("fate")  # late: 7 days + 1 ms .. 7 days + 3 days; exactly 7 days
    delay = pl.when(fate == 1).then(late).when(fate == 2).then(7 * DAY).otherwise(_hours(hub_h))
    f = f.with_columns(dep=dep, t4=dep + delay)
    t4 = pl.col("t4")
    h4 = _hod(t4)  # dispatch runs 08:00-19:00
    morning = t4 - t4 % DAY + pl.when(h4 >= 16).then(DAY).otherwise(0) + _hours(8 + 3 * _u(21))
    f = f.with_columns(
        has_dispatch=(pl.col("fate") != 0) & (_u(20) < 0.45),
        t5=pl.when((h4 >= 8) & (h4 < 16)).then(t4 + _hours(0.3 + 2.7 * _u(21))).otherwise(morning),
    )
    sign = pl.when(pl.col("has_dispatch")).then(pl.col("t5")).otherwise(t4)
    sign = sign + _hours((5.0 * _normal(_u(22), _u(23)).exp()).clip(1 / 6, 120))
    night = (_hod(sign) >= 21.5) | (_hod(sign) < 7)
    f = f.with_columns(t6=pl.when(night).then(sign + 10 * H).otherwise(sign))
    lm = pl.col("lm")  # the last-mile site: a village hub or the carrier's own outlet
    ok, via_dc, col = pl.col("fate") != 0, pl.col("via_dc"), pl.col
    steps = [  # mask, scan_type, site, time, next site
        (_u(25) < 0.6, "pickup", col("origin"), col("t0"), col("sc")),
        (pl.lit(True), "depart", col("sc"), col("t1"), pl.when(via_dc).then("dc").otherwise(lm)),
        (via_dc & (_u(26) < 0.92), "arrive", col("dc"), col("t2"), None),
        (via_dc, "depart", col("dc"), col("t3"), lm),
        (ok, "arrive", lm, t4, None),
        (col("has_dispatch"), "dispatch", lm, col("t5"), None),
        (ok & (_u(27) < 0.78), "sign", lm, col("t6"), None),
        (~ok & (_u(24) < 0.5), "exception", pl.when(via_dc).then(col("dc")).otherwise(col("sc")),
         col("dep") + _hours(2 + 46 * _u(28)), None),
        (ok & (_u(24) > 0.985), "exception", lm, t4 + _hours(0.5 + 5.5 * _u(28)), None),
    ]  # fmt: skip
    scans = pl.concat(
        f.filter(mask).select(
            waybill_no=col("wb"), scan_type=pl.lit(stype), site_code=site, scan_time=t,
            next_site_code=pl.lit(None, pl.String) if nxt is None else nxt, c=col("c"),
        )
        for mask, stype, site, t, nxt in steps
    )  # fmt: skip
    stats = Counter({name: int((f["fate"] == k).sum()) for k, name in enumerate(FATES)})
    stats.update({f"parcels:{code}": int((f["c"] == k).sum()) for k, code in enumerate(CODES)})
    stats["parcels_via_district_center"] = int(f["via_dc"].sum())
    return scans, stats


def _inject(df: pl.DataFrame, key: int, stats: Counter[str]) -> pl.DataFrame:
    """Append exact duplicates (~0.5%) and corrupted copies (~0.2%) to one day's rows.

    Every added row keeps ``c``, the carrier whose file it goes to; the result is sorted by
    carrier, then scan time. Counts what it adds into ``stats``.
    """
    df = df.with_columns(carrier=_gather(CODES, pl.col("c"))).hstack(_uniforms(df.height, 3, key))
    dups = df.filter(_u(0) < DUP_RATE)
    bad = df.filter((_u(0) >= DUP_RATE) & (_u(0) < DUP_RATE + BAD_RATE))
    kind, t, wb = (_u(1) * len(BAD_KINDS)).cast(pl.Int64), pl.col("scan_time"), pl.col("waybill_no")
    bad = bad.with_columns(kind=kind).with_columns(
        waybill_no=pl.when(kind == 0).then(pl.lit("")).when(kind == 1)
        .then(pl.concat_str(wb.str.slice(0, 4), pl.lit("#"), wb.str.slice(5))).otherwise(wb),
        scan_type=pl.when(kind == 2).then(pl.lit("transfer")).otherwise(pl.col("scan_type")),
        scan_time=pl.when(kind == 3).then(t % DAY + pl.when(_u(2) < 0.5).then(0)
        .otherwise(_us(date(2019, 12, 31)))).otherwise(t),  # 1970-01-01 or 2019-12-31
        carrier=pl.when(kind == 4)
        .then(_gather(CODES, (pl.col("c") + 1 + (_u(2) * 8).cast(pl.Int64)) % len(CODES)))
        .otherwise(pl.col("carrier")),
        site_code=pl.when(kind == 5).then(pl.lit("")).otherwise(pl.col("site_code")),
    )  # fmt: skip
    stats.update({name: int((bad["kind"] == k).sum()) for k, name in enumerate(BAD_KINDS)})
    stats.update(duplicate_rows_injected=dups.height, bad_rows_injected=bad.height)
    cols = [*SCHEMA.names, "c"]
    out = pl.concat([df.select(cols), dups.select(cols), bad.select(cols)])
    return out.sort("c", "scan_time", maintain_order=True)


def _shaped_rows(df: pl.DataFrame, key: int) -> pl.DataFrame:
    """The rows as the shaped modes write them: times cut to the millisecond (what every
    export shape carries) and, before ~5% of the departures from a sorting center, an
    ``other`` scan (装袋, bagging) 20-40 minutes earlier at the same site."""
    df = df.with_columns(pl.col("scan_time") - pl.col("scan_time") % 1000)
    u = _uniforms(df.height, 2, key)
    at_sorting = pl.col("site_code").is_in([s[0] for s in SORTING])
    bagged = (
        df.hstack(u)
        .filter((pl.col("scan_type") == "depart") & at_sorting & (_u(0) < OTHER_RATE))
        .with_columns(
            scan_type=pl.lit("other"),
            scan_time=pl.col("scan_time") - _hours(1 / 3 + _u(1) / 3) // 1000 * 1000,
            next_site_code=pl.lit(None, pl.String),
        )
        .select(df.columns)
    )
    return pl.concat([df, bagged]).sort("c", "scan_time", maintain_order=True)


def _reshape(scans_dir: Path, sites: list[dict[str, Any]], stats: Counter[str]) -> dict[str, str]:
    """Rewrite every other export of each carrier (alternating between carriers) in the
    carrier's own shape (:mod:`ingest.shapes`); returns each rewritten file's shape."""
    from core.policy import load_policy

    reg = Registry(
        names={s["site_code"]: s["name"] for s in sites},
        aliases=site_aliases(sites),
        carriers=load_policy().carriers,
    )
    shaped: dict[str, str] = {}
    for ci, code in enumerate(CODES):
        for fi, path in enumerate(sorted((scans_dir / code).glob("*.parquet"))):
            if (fi + ci) % 2 == 0:
                continue
            target = write_shaped(pl.read_parquet(path), path, code, reg)
            path.unlink()
            shaped[str(target.relative_to(scans_dir))] = SHAPES[code].description
            stats[f"shaped:{SHAPES[code].container}"] += 1
    return shaped


def _batches(counts: list[int], regimes: list[tuple[float, ...]]) -> list[list[int]]:
    """Runs of consecutive days with one routing regime and at most ``CHUNK`` parcels together."""
    out: list[list[int]] = []
    for i, n in enumerate(counts):
        fits = out and sum(counts[j] for j in out[-1]) + n <= CHUNK
        if fits and regimes[out[-1][0]] == regimes[i]:
            out[-1].append(i)
        else:
            out.append([i])
    return out


class _Sink:
    """Writes each carrier's rows to one file per day, or appends them to one file per month."""

    def __init__(self, scans_dir: Path, layout: str, stats: Counter[str]) -> None:
        self.scans_dir, self.layout, self.stats = scans_dir, layout, stats
        self.writers: dict[str, tuple[pq.ParquetWriter, list[pa.Table]]] = {}

    def write(self, code: str, day: date, table: pa.Table) -> None:
        """Write one carrier-day of rows (month layout: in row groups of ``ROW_GROUP`` rows)."""
        self.stats.update({"rows_written": table.num_rows, f"rows:{code}": table.num_rows})
        if self.layout == "day":
            path = self.scans_dir / code / f"{code}-{day}.parquet"
            pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP)
            self.stats["files"] += 1
            return
        if code not in self.writers:
            path = self.scans_dir / code / f"{code}-{day:%Y-%m}.parquet"
            self.writers[code] = (pq.ParquetWriter(path, SCHEMA, compression="zstd"), [])
            self.stats["files"] += 1
        writer, pending = self.writers[code]
        pending.append(table)
        if sum(t.num_rows for t in pending) >= ROW_GROUP:
            merged = pa.concat_tables(pending)
            writer.write_table(merged.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
            pending[:] = [merged.slice(ROW_GROUP)]

    def close(self) -> None:
        """Finish the open month files."""
        for writer, pending in self.writers.values():
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
            writer.close()
        self.writers.clear()


def generate(
    out_dir: Path, parcels: int, seed: int = 42, layout: str = "day",
    start: date = date(2023, 1, 1), months: int = 6, overwrite: bool = False, plant: int = 0,
    shapes: str = "parquet",
) -> dict[str, Any]:  # fmt: skip
    """Write a sites registry, scan-log Parquet files and a manifest under ``out_dir``.

    ``layout`` is ``day`` (one file per carrier and day) or ``month`` (per carrier and month).
    Pickups spread from ``start`` to the first day of the month ``months`` months after
    ``start``'s month (exclusive); scans falling after that are dropped, as an export cut at the
    period's end would be. A carrier without scans on a day gets no file for it. An
    ``out_dir/scans`` already holding Parquet files is refused unless ``overwrite``. Returns the
    manifest dict (also written to ``out_dir/manifest.json``). ``plant`` > 0 adds that many
    parcels per anomaly code on each side of its threshold (:mod:`ingest.planted`).
    ``shapes`` is one of :data:`SHAPE_MODES` (see the module docstring).
    """
    if layout not in ("day", "month"):
        raise ValueError(f"layout must be 'day' or 'month', not {layout!r}")
    if shapes not in SHAPE_MODES:
        raise ValueError(f"shapes must be one of {', '.join(SHAPE_MODES)}, not {shapes!r}")
    shaped_rows = shapes != "parquet"
    t_start = time.perf_counter()
    out_dir, end = Path(out_dir), _add_months(start, months)
    scans_dir = out_dir / "scans"
    if any(p.is_file() for p in scans_dir.rglob("*")):
        if not overwrite:
            raise FileExistsError(f"{scans_dir} holds scan files (use --overwrite to replace)")
        shutil.rmtree(scans_dir)
    for code in CODES:
        (scans_dir / code).mkdir(parents=True, exist_ok=True)
    days = [start + timedelta(days=i) for i in range(max((end - start).days, 0))]
    sites = build_sites(start, end)
    registry = pl.DataFrame([{k: s[k] for k in SITE_COLUMNS} for s in sites])
    if shaped_rows:
        aliases = site_aliases(sites)
        registry = registry.with_columns(
            aliases=pl.col("site_code").replace_strict(
                aliases, default=None, return_dtype=pl.String
            )
        )
    registry.write_csv(out_dir / "sites.csv")
    hubs = [s["site_code"] for s in sites if s["weight"]]
    counts, regimes = _day_counts(parcels, days), [_regime(sites, d) for d in days]
    stats: Counter[str] = Counter()
    sink, tail, flushed = _Sink(scans_dir, layout, stats), None, 0
    buffer: dict[int, list[pl.DataFrame]] = {}  # scans by day index, until the day is written
    for batch in _batches(counts, regimes):
        runs = pl.DataFrame({"day_no": batch, "n": [counts[i] for i in batch]})
        day_no = runs.select(pl.col("day_no").repeat_by("n").explode())["day_no"]
        for lo in range(0, len(day_no), CHUNK):
            scans, chunk_stats = _chunk(
                seed, stats["parcels"], day_no.slice(lo, CHUNK), start, regimes[batch[0]], hubs
            )
            stats.update(chunk_stats, parcels=len(day_no.slice(lo, CHUNK)))
            scans = scans.with_columns(sday=(pl.col("scan_time") - _us(start)) // DAY)
            stats.update(generated_scans=scans.height)
            stats["scans_after_end_dropped"] += scans.filter(pl.col("sday") >= len(days)).height
            in_period = scans.filter(pl.col("sday") < len(days))
            for (d,), part in in_period.partition_by(
                "sday", as_dict=True, include_key=False
            ).items():
                buffer.setdefault(d, []).append(part)
        # every scan on the batch's days is now known: later parcels scan on later days only
        for i in range(flushed, batch[-1] + 1):
            day, parts = days[i], buffer.pop(i, [])
            if layout == "month" and day.day == 1:
                sink.close()
            if tail is not None and (layout == "day" or day.day == 1):  # a new export repeats
                stats["overlap_rows"] += tail.height  # the last hours of the previous one
                parts.insert(0, tail)
            today = pl.concat(parts) if parts else None
            day_end = pl.col("scan_time").is_between(
                _us(day) + DAY - OVERLAP_HOURS * H, _us(day) + DAY, closed="left"
            )
            tail = None if today is None else today.filter(day_end)
            if today is not None:
                out = _inject(today, _key(seed, "inject", i), stats)
                if shaped_rows:
                    out = _shaped_rows(out, _key(seed, "shaped", i))
                out = out.with_columns(pl.col("scan_time").cast(pl.Datetime("us")))
                for (c,), part in out.partition_by("c", as_dict=True, include_key=False).items():
                    sink.write(CODES[c], day, part.to_arrow().cast(SCHEMA))
            if i + 1 == len(days) or days[i + 1].day == 1:
                elapsed = time.perf_counter() - t_start
                print(f"[generate] {day:%Y-%m} flushed: {stats['parcels']} parcels generated, "
                      f"{stats['rows_written']} rows, {stats['files']} files, {elapsed:.1f}s",
                      file=sys.stderr)  # fmt: skip
        flushed = batch[-1] + 1
    sink.close()
    shaped = _reshape(scans_dir, sites, stats) if shapes == "mixed" else {}
    planted = {}
    if plant > 0:
        steady = [s["site_code"] for s in sites if s["weight"] and not s["active_to"]
                  and s["active_from"] <= str(start)]  # fmt: skip
        planted = plant_fraud(out_dir, plant, seed, start, end, steady,
                              [(c[0], c[1]) for c in CARRIERS])  # fmt: skip
    counts_out = {k: stats[k] for k in ("parcels", "rows_written", "files", "generated_scans",
        "scans_after_end_dropped", "overlap_rows", "duplicate_rows_injected", "bad_rows_injected",
        "parcels_via_district_center")}  # fmt: skip
    manifest = {
        "generator": "ingest.synthetic",
        "parameters": {"parcels": parcels, "seed": seed, "layout": layout, "start": str(start),
                       "months": months, "end_exclusive": str(end), "shapes": shapes},
        "versions": {"polars": pl.__version__, "pyarrow": pa.__version__},
        "counts": counts_out | {
            "bad_rows_by_kind": {k: stats[k] for k in BAD_KINDS},
            "parcels_by_fate": {k: stats[k] for k in FATES},
            "sites": len(sites),
            "shaped_files_by_format": {k.split(":")[1]: v for k, v in sorted(stats.items())
                                       if k.startswith("shaped:")},
            "per_carrier": {c: {"parcels": stats[f"parcels:{c}"], "rows": stats[f"rows:{c}"]}
                            for c in CODES},
        },
        "planted": planted,
        "shaped_files": shaped,
        "wall_seconds": round(time.perf_counter() - t_start, 3),
    }  # fmt: skip
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    (out_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m ingest.synthetic", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--parcels", type=int, required=True, help="number of parcels to generate")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--layout", choices=("day", "month"), default="day")
    p.add_argument("--start", type=date.fromisoformat, default=date(2023, 1, 1))
    p.add_argument("--months", type=int, default=6)
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR/scans")
    p.add_argument(
        "--plant",
        type=int,
        default=0,
        metavar="N",
        help="plant N parcels per anomaly code on each side of each threshold",
    )
    p.add_argument(
        "--shapes",
        choices=SHAPE_MODES,
        default="parquet",
        help="mixed: every other export of each carrier in its own words and format "
        "(xlsx, xls, CSV, TSV); canonical: the same rows, all Parquet",
    )
    a = p.parse_args(argv)
    if a.parcels < 0 or a.months < 0:
        p.error("--parcels and --months must be >= 0")
    try:
        m = generate(
            a.out, a.parcels, a.seed, a.layout, a.start, a.months, a.overwrite, a.plant, a.shapes
        )
    except FileExistsError as exc:
        p.error(str(exc))
    print(json.dumps(m["counts"] | {"wall_seconds": m["wall_seconds"]}, ensure_ascii=False))


if __name__ == "__main__":
    main()


# -- flat files of a given size and shape (memory and speed tests of ingest) -----------------
_FLAT_SITES = ("JY-C01", "JY-H01", "JY-H02", "JB-H01", "HH-H01", "SG-H02")
_FLAT_TYPES = ("pickup", "depart", "arrive", "sign")


def flat_scans(first: int, rows: int, carriers: tuple[str, ...] = ("ZTO",)) -> pl.DataFrame:
    """Rows ``first .. first+rows-1`` of a plain export: four scans a parcel, waybills in no
    order, times over two months from 2023-05-01, one row in 200 repeating the row 100
    before it (a duplicate), one in 1,000 with a bad waybill. The ``carrier`` column is
    filled only when several carriers are given (a multi-carrier file)."""
    i = pl.col("i")
    src = pl.when((i % 200 == 199) & (i >= 100)).then(i - 100).otherwise(i)
    parcel = src // 4
    number = (parcel * 2_654_435_761) % 10_000_000_000
    waybill = pl.format("ZT{}", number.cast(pl.String).str.zfill(10))
    seconds = parcel * 5 % (61 * 86_400) + (src % 4) * 7_200
    exprs = [
        pl.when(i % 1000 == 7).then(pl.lit("bad#")).otherwise(waybill).alias("waybill_no"),
        pl.lit(pl.Series(_FLAT_TYPES)).gather(src % 4).alias("scan_type"),
        pl.lit(pl.Series(_FLAT_SITES)).gather(parcel % len(_FLAT_SITES)).alias("site_code"),
        (pl.lit(datetime(2023, 5, 1)) + pl.duration(seconds=seconds)).alias("scan_time"),
    ]
    if len(carriers) > 1:
        exprs.append(pl.lit(pl.Series(carriers)).gather(parcel % len(carriers)).alias("carrier"))
    return pl.DataFrame({"i": range(first, first + rows)}, schema={"i": pl.Int64}).select(exprs)


def write_flat(
    path: Path,
    rows: int,
    *,
    carriers: tuple[str, ...] = ("ZTO",),
    row_group_rows: int | None = 1_000_000,
    chunk_rows: int = 1_000_000,
) -> Path:
    """Write :func:`flat_scans` as Parquet (``row_group_rows=None``: one row group, the whole
    file built at once) or CSV (a ``.csv`` suffix), ``chunk_rows`` at a time otherwise."""
    if path.suffix == ".csv":
        with path.open("wb") as fh:
            for first in range(0, rows, chunk_rows):
                part = flat_scans(first, min(chunk_rows, rows - first), carriers)
                part.write_csv(fh, include_header=first == 0)
        return path
    if row_group_rows is None:
        flat_scans(0, rows, carriers).write_parquet(path, row_group_size=rows)
        return path
    writer: pq.ParquetWriter | None = None
    for first in range(0, rows, chunk_rows):
        table = flat_scans(first, min(chunk_rows, rows - first), carriers).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_rows)
    assert writer is not None
    writer.close()
    return path

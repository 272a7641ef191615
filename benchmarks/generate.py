"""Seeded, vectorized generator of realistic courier scan logs for Jiyang District.

Usage::

    python -m benchmarks.generate --parcels N --out DIR [--seed S] [--layout day|month]
                                  [--start 2023-01-01] [--months 6] [--overwrite]

Writes ``DIR/sites.csv`` (the registry of SPEC section 4), one zstd Parquet scan log per carrier
and day (``DIR/scans/<CARRIER>/<CARRIER>-YYYY-MM-DD.parquet``) or per carrier and month
(``<CARRIER>-YYYY-MM.parquet``) with the columns of SPEC section 3, and ``DIR/manifest.json``.

Memory stays bounded: parcels are generated in order of their pickup day (at most ``CHUNK``
parcels at a time), their scans are buffered by the day their ``scan_time`` falls on, and day
``d`` is written as soon as the parcels picked up on day ``d`` are generated, since every later
parcel scans on later days only. The buffer therefore only holds scans that lie in the future.
Same seed and library versions give byte-identical Parquet files (the manifest holds a wall time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

H = 3_600_000_000  # one hour in microseconds
MINUTE = H // 60
DAY = 24 * H
CHUNK = 500_000  # parcels generated at once, at most
ROW_GROUP = 1_000_000
DUP_RATE, BAD_RATE, OVERLAP_HOURS = 0.005, 0.002, 2
BAD_KINDS = (
    "empty_waybill",
    "bad_waybill_chars",
    "unknown_scan_type",
    "pre_2020_time",
    "other_carrier",
    "empty_site_code",
)
# code, waybill prefix, share of parcels, share routed through the district center
CARRIERS = (
    ("EMS", "98", 0.07, 0.85),
    ("SF", "SF14", 0.05, 0.40),
    ("ZTO", "ZT77", 0.22, 0.80),
    ("YTO", "YT75", 0.17, 0.80),
    ("STO", "7720", 0.12, 0.80),
    ("YUNDA", "43", 0.15, 0.80),
    ("JT", "JT58", 0.14, 0.78),
    ("JD", "JDVA", 0.05, 0.35),
    ("DEPPON", "DPK3", 0.03, 0.40),
)
CODES = [c[0] for c in CARRIERS]
TOWNS = (
    ("济阳街道", "JY", 6),
    ("济北街道", "JB", 5),
    ("回河街道", "HH", 4),
    ("垛石街道", "DS", 4),
    ("曲堤街道", "QD", 5),
    ("仁风镇", "RF", 4),
    ("新市镇", "XS", 4),
    ("太平街道", "TP", 4),
    ("孙耿街道", "SG", 4),
)
ORIGINS = (
    ("ZJ-YW", 0.20),
    ("ZJ-HZ", 0.10),
    ("GD-GZ", 0.15),
    ("GD-SZ", 0.10),
    ("JS-SZ", 0.08),
    ("SH-PD", 0.07),
    ("FJ-QZ", 0.06),
    ("SD-LY", 0.10),
    ("HE-BD", 0.04),
    ("SD-JN", 0.10),
)
SORTING = (
    ("JN-SC-01", "济南转运中心", "历城区", 0.6),
    ("JN-SC-02", "济南北转运中心", "天桥区", 0.3),
    ("JN-SC-03", "济南西转运中心", "槐荫区", 0.1),
)
SPRING_FESTIVAL = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
}
SCHEMA = pa.schema(
    [
        ("waybill_no", pa.string()),
        ("scan_type", pa.string()),
        ("site_code", pa.string()),
        ("scan_time", pa.timestamp("us")),
        ("carrier", pa.string()),
        ("next_site_code", pa.string()),
    ]
)


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


def _pick(u: pl.Expr, weights: list[float]) -> pl.Expr:
    """Index drawn with the given weights from the uniform ``u``."""
    total, acc, cum = sum(weights), 0.0, []
    for w in weights[:-1]:
        acc += w
        cum.append(acc / total)
    return pl.lit(pl.Series(cum, dtype=pl.Float64)).search_sorted(u, side="right")


def _gather(values: list, idx: pl.Expr) -> pl.Expr:
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
    """The sites registry: 2 district centers, 40 village hubs, 3 Jinan sorting centers.

    JY-DC-02 opens 40% into the period; one hub closed before the period, one closes
    mid-period and one opens a quarter into it, so site activity intervals matter.
    """
    span = (end - start).days
    rows: list[dict[str, Any]] = [
        dict(
            site_code="JY-DC-01",
            name="济阳区电商物流配送中心",
            kind="district_center",
            town="济阳街道",
            active_from="2021-08-30",
            active_to="",
        ),
        dict(
            site_code="JY-DC-02",
            name="济阳区电商物流配送中心济北分拨中心",
            kind="district_center",
            town="济北街道",
            active_from=str(start + timedelta(days=span * 2 // 5)),
            active_to="",
        ),
    ]
    special = {
        7: ("2021-09-15", str(start - timedelta(days=31))),
        23: ("2021-09-15", str(start + timedelta(days=span * 11 // 20))),
        31: (str(start + timedelta(days=span // 4)), ""),
    }
    i = 0
    for town, abbr, count in TOWNS:
        for k in range(1, count + 1):
            name = f"{town}电商服务中心" if k == 1 else f"{town}第{k - 1}村级电商服务站"
            frm, to = special.get(i, ("2021-09-15", ""))
            rows.append(
                dict(
                    site_code=f"JY-VH-{abbr}{k:02d}",
                    name=name,
                    kind="village_hub",
                    town=town,
                    active_from=frm,
                    active_to=to,
                    weight=3.0 if k == 1 else 1.0 + (i % 3) * 0.5,
                )
            )
            i += 1
    rows += [
        dict(
            site_code=code,
            name=name,
            kind="other",
            town=town,
            active_from="2019-01-01",
            active_to="",
        )
        for code, name, town, _ in SORTING
    ]
    return rows


def _active(site: dict, d: date) -> bool:
    return site["active_from"] <= str(d) and (not site["active_to"] or str(d) <= site["active_to"])


def _day_counts(parcels: int, days: list[date]) -> list[int]:
    """Parcels picked up per day: weekday pattern, growth, shopping festivals, Spring Festival."""
    weekday = (1.04, 1.0, 0.99, 1.0, 1.03, 0.9, 0.82)
    weights = []
    for i, d in enumerate(days):
        w = weekday[d.weekday()] * (1.0 + 0.15 * i / len(days))
        if (d.month, d.day) in {(6, 18), (6, 19), (6, 20), (11, 11), (11, 12), (11, 13), (12, 12)}:
            w *= 1.7
        sf = SPRING_FESTIVAL.get(d.year)
        if sf and abs((d - sf).days) <= 7:
            w *= 0.35
        weights.append(w)
    raw = [parcels * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(days)), key=lambda i: (counts[i] - raw[i], i))
    for i in by_remainder[: parcels - sum(counts)]:
        counts[i] += 1
    return counts


def _chunk(seed: int, pid0: int, n: int, day: date, sites: list[dict]) -> tuple[pl.DataFrame, dict]:
    """Scans of ``n`` parcels picked up on ``day`` (one row per scan; ``c`` = carrier index)."""
    hubs = [s for s in sites if s["kind"] == "village_hub"]
    hub_w = [s["weight"] * (1.0 if _active(s, day) else 0.05) for s in hubs]
    p_dc2 = 0.4 if _active(sites[1], day) else 0.03  # a few trial runs before JY-DC-02 opens
    f = _uniforms(n, 32, _key(seed, "parcels", pid0)).with_columns(
        pid=pl.int_range(pid0, pid0 + n, dtype=pl.UInt64), c=_pick(_u(0), [c[2] for c in CARRIERS])
    )
    # waybill: two affine bijections mod 1e11 around a digit reversal -> unique, random-looking
    mult = (pl.col("pid") * 2654435761 + _key(seed, "wb") % 10**11) % 10**11
    rev = mult.cast(pl.String).str.zfill(11).str.reverse().cast(pl.UInt64)
    number = ((rev * 160481219 + 7) % 10**11).cast(pl.String).str.zfill(11)
    pick_hour = pl.when(_u(1) < 0.75).then((15.5 + 2.5 * _normal(_u(2), _u(3))).clip(8.0, 21.5))
    f = f.with_columns(
        wb=pl.concat_str(_gather([c[1] for c in CARRIERS], pl.col("c")), number),
        t0=_us(day) + _hours(pick_hour.otherwise(8.0 + 13.0 * _u(2))),
        via_dc=_u(4) < _gather([c[3] for c in CARRIERS], pl.col("c")),
        dc=pl.when(_u(5) < p_dc2).then(pl.lit("JY-DC-02")).otherwise(pl.lit("JY-DC-01")),
        sc=_gather([s[0] for s in SORTING], _pick(_u(6), [s[3] for s in SORTING])),
        origin=pl.format(
            "{}-{}",
            _gather([o[0] for o in ORIGINS], _pick(_u(7), [o[1] for o in ORIGINS])),
            (_u(8) * 300).cast(pl.Int64).cast(pl.String).str.zfill(4),
        ),
        hub=_gather([s["site_code"] for s in hubs], _pick(_u(9), hub_w)),
        outlet=pl.format("JY-{}-0{}", _gather(CODES, pl.col("c")), (1 + _u(10) * 4).cast(pl.Int64)),
        fate=pl.when(_u(11) < 0.02)
        .then(pl.lit("missing"))
        .when(_u(11) < 0.03)
        .then(pl.lit("late"))
        .when(_u(11) < 0.0305)
        .then(pl.lit("edge7d"))
        .otherwise(pl.lit("normal")),
    )
    f = f.with_columns(
        lm=pl.when(pl.col("via_dc") | (_u(12) >= 0.8)).then("hub").otherwise("outlet"),
        t1=pl.col("t0") + _hours((26.0 * (0.45 * _normal(_u(13), _u(14))).exp()).clip(6, 120)),
    )
    sorted_at = pl.col("t1") + _hours(3.0 + 2.5 * _u(15))  # arrival at DC + 0.5-1.5 h sorting
    wave = (
        pl.when(_hod(sorted_at) < 7)
        .then(7)
        .when(_hod(sorted_at) < 10)
        .then(10)
        .when(_hod(sorted_at) < 14)
        .then(14)
        .when(_hod(sorted_at) < 17)
        .then(17)
        .otherwise(31)
    )
    f = f.with_columns(
        t2=pl.col("t1") + _hours(1.5 + 2.5 * _u(15)),
        t3=sorted_at - sorted_at % DAY + wave * H + _hours(_u(16) * 0.67),
    )
    dep = pl.when(pl.col("via_dc")).then(pl.col("t3")).otherwise(pl.col("t1"))
    transit = (
        pl.when(pl.col("via_dc"))
        .then(_hours(0.75 + 2.75 * _u(17)))
        .otherwise(_hours(1.5 + 2.5 * _u(17)))
    )
    late = pl.when(_u(18) < 0.1).then(1000).otherwise(MINUTE + _hours(72 * _u(19)))
    f = f.with_columns(
        dep=dep,
        t4=dep
        + pl.when(pl.col("fate") == "late")
        .then(7 * DAY + late)
        .when(pl.col("fate") == "edge7d")
        .then(7 * DAY)
        .otherwise(transit),
    )
    t4 = pl.col("t4")
    f = f.with_columns(
        has_dispatch=(pl.col("fate") != "missing") & (_u(20) < 0.45),
        t5=pl.when(_hod(t4) < 16)
        .then(t4 + _hours(0.3 + 2.7 * _u(21)))
        .otherwise(t4 - t4 % DAY + DAY + _hours(8 + 3 * _u(21))),
    )
    sign = pl.when(pl.col("has_dispatch")).then(pl.col("t5")).otherwise(t4) + _hours(
        (5.0 * _normal(_u(22), _u(23)).exp()).clip(1 / 6, 120)
    )
    f = f.with_columns(
        t6=pl.when((_hod(sign) >= 21.5) | (_hod(sign) < 7)).then(sign + 10 * H).otherwise(sign)
    )
    lm = pl.when(pl.col("lm") == "hub").then(pl.col("hub")).otherwise(pl.col("outlet"))
    ok = pl.col("fate") != "missing"
    missing_exc = ~ok & (_u(24) < 0.5)
    steps = [  # mask, scan_type, site, time, next site
        (_u(25) < 0.6, "pickup", pl.col("origin"), pl.col("t0"), pl.col("sc")),
        (
            pl.lit(True),
            "depart",
            pl.col("sc"),
            pl.col("t1"),
            pl.when(pl.col("via_dc")).then(pl.col("dc")).otherwise(lm),
        ),
        (pl.col("via_dc") & (_u(26) < 0.92), "arrive", pl.col("dc"), pl.col("t2"), None),
        (pl.col("via_dc"), "depart", pl.col("dc"), pl.col("t3"), lm),
        (ok, "arrive", lm, t4, None),
        (pl.col("has_dispatch"), "dispatch", lm, pl.col("t5"), None),
        (ok & (_u(27) < 0.78), "sign", lm, pl.col("t6"), None),
        (
            missing_exc,
            "exception",
            pl.when(pl.col("via_dc")).then(pl.col("dc")).otherwise(pl.col("sc")),
            pl.col("dep") + _hours(2 + 46 * _u(28)),
            None,
        ),
        (ok & (_u(24) > 0.985), "exception", lm, t4 + _hours(0.5 + 5.5 * _u(28)), None),
    ]
    scans = pl.concat(
        [
            f.filter(mask).select(
                waybill_no=pl.col("wb"),
                scan_type=pl.lit(stype),
                site_code=site,
                scan_time=t,
                next_site_code=pl.lit(None, pl.String) if nxt is None else nxt,
                c=pl.col("c"),
            )
            for mask, stype, site, t, nxt in steps
        ]
    )
    stats = {
        "via_district_center": int(f["via_dc"].sum()),
        "late_hub_arrival": int((f["fate"] == "late").sum()),
        "exactly_7_days": int((f["fate"] == "edge7d").sum()),
        "missing_hub_arrival": int((f["fate"] == "missing").sum()),
        "per_carrier": [int((f["c"] == j).sum()) for j in range(len(CODES))],
    }
    return scans, stats


def _inject(df: pl.DataFrame, code: str, key: int) -> tuple[pl.DataFrame, int, list[int]]:
    """Append exact duplicates (~0.5%) and corrupted copies (~0.2%) to one file's rows."""
    df = df.with_columns(carrier=pl.lit(code)).hstack(_uniforms(df.height, 3, key))
    dups = df.filter(_u(0) < DUP_RATE)
    bad = df.filter((_u(0) >= DUP_RATE) & (_u(0) < DUP_RATE + BAD_RATE)).with_columns(
        kind=(_u(1) * len(BAD_KINDS)).cast(pl.Int64)
    )
    kind, t = pl.col("kind"), pl.col("scan_time")
    wb = pl.col("waybill_no")
    bad = bad.with_columns(
        waybill_no=pl.when(kind == 0)
        .then(pl.lit(""))
        .when(kind == 1)
        .then(pl.concat_str(wb.str.slice(0, 4), pl.lit("#"), wb.str.slice(5)))
        .otherwise(wb),
        scan_type=pl.when(kind == 2).then(pl.lit("transfer")).otherwise(pl.col("scan_type")),
        scan_time=pl.when(kind == 3)
        .then(pl.when(_u(2) < 0.5).then(t % DAY).otherwise(_us(date(2019, 12, 31)) + t % DAY))
        .otherwise(t),
        carrier=pl.when(kind == 4)
        .then(_gather([x for x in CODES if x != code], (_u(2) * 8).cast(pl.Int64)))
        .otherwise(pl.col("carrier")),
        site_code=pl.when(kind == 5).then(pl.lit("")).otherwise(pl.col("site_code")),
    )
    per_kind = [int((bad["kind"] == k).sum()) for k in range(len(BAD_KINDS))]
    cols = SCHEMA.names
    out = pl.concat([df.select(cols), dups.select(cols), bad.select(cols)])
    return out.sort("scan_time", maintain_order=True), dups.height, per_kind


def _table(df: pl.DataFrame) -> pa.Table:
    return df.with_columns(pl.col("scan_time").cast(pl.Datetime("us"))).to_arrow().cast(SCHEMA)


def generate(
    out_dir: Path,
    parcels: int,
    seed: int = 42,
    layout: str = "day",
    start: date = date(2023, 1, 1),
    months: int = 6,
    overwrite: bool = False,
) -> dict:
    """Write a sites registry, scan-log Parquet files and a manifest under ``out_dir``.

    ``layout`` is ``day`` (one file per carrier and day) or ``month`` (per carrier and month).
    Pickups spread from ``start`` to the first day of the month ``months`` months after
    ``start``'s month (exclusive); scans falling after that are dropped, as an export cut at the
    period's end would. A day without scans for a carrier gets no file.
    Returns the manifest dict (also written to ``out_dir/manifest.json``).
    """
    if layout not in ("day", "month"):
        raise ValueError(f"layout must be 'day' or 'month', not {layout!r}")
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    scans_dir = out_dir / "scans"
    if scans_dir.exists() and any(scans_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{scans_dir} is not empty (pass overwrite=True / --overwrite)")
        shutil.rmtree(scans_dir)
    for code in CODES:
        (scans_dir / code).mkdir(parents=True, exist_ok=True)
    end = _add_months(start, months)
    days = [start + timedelta(days=i) for i in range(max((end - start).days, 0))]
    sites = build_sites(start, end)
    cols = ["site_code", "name", "kind", "town", "active_from", "active_to"]
    pl.DataFrame([{k: s[k] for k in cols} for s in sites]).write_csv(out_dir / "sites.csv")

    counts = _day_counts(parcels, days) if days else []
    stats = dict.fromkeys(
        ("via_district_center", "late_hub_arrival", "exactly_7_days", "missing_hub_arrival"), 0
    )
    n = dict.fromkeys(
        (
            "rows_written",
            "files",
            "generated_scans",
            "scans_after_end_dropped",
            "overlap_rows",
            "duplicate_rows_injected",
        ),
        0,
    )
    bad_kinds = [0] * len(BAD_KINDS)
    per_carrier = {code: {"parcels": 0, "rows": 0} for code in CODES}
    buffer: dict[int, list[pl.DataFrame]] = {}
    tail: pl.DataFrame | None = None
    writers: dict[int, tuple[pq.ParquetWriter, list[pa.Table]]] = {}
    pid = 0

    def close_writers() -> None:
        for w, pending in writers.values():
            if pending:
                w.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
            w.close()
        writers.clear()

    for i, day in enumerate(days):
        for lo in range(0, counts[i], CHUNK):
            size = min(CHUNK, counts[i] - lo)
            scans, st = _chunk(seed, pid, size, day, sites)
            pid += size
            for code, cnt in zip(CODES, st.pop("per_carrier"), strict=True):
                per_carrier[code]["parcels"] += cnt
            for k, v in st.items():
                stats[k] += v
            scans = scans.with_columns(sday=(pl.col("scan_time") - _us(start)) // DAY)
            n["generated_scans"] += scans.height
            n["scans_after_end_dropped"] += scans.filter(pl.col("sday") >= len(days)).height
            for (d,), part in (
                scans.filter(pl.col("sday") < len(days))
                .partition_by("sday", as_dict=True, include_key=False)
                .items()
            ):
                buffer.setdefault(d, []).append(part)
        # every scan on `day` is now known: parcels picked up later scan on later days only
        parts = buffer.pop(i, [])
        today = pl.concat(parts) if parts else None
        new_file = layout == "day" or day.day == 1
        present = [x for x in (tail if new_file else None, today) if x is not None]
        rows = pl.concat(present) if present else None
        if tail is not None and new_file:
            n["overlap_rows"] += tail.height
        tail = (
            None
            if today is None
            else today.filter(pl.col("scan_time") >= _us(day) + (24 - OVERLAP_HOURS) * H)
        )
        if layout == "month" and day.day == 1:
            close_writers()
        groups = rows.partition_by("c", as_dict=True, include_key=False) if rows is not None else {}
        for (c,), part in sorted(groups.items()):
            code = CODES[c]
            out, ndup, per_kind = _inject(
                part.sort("scan_time", maintain_order=True), code, _key(seed, "inject", i, code)
            )
            n["duplicate_rows_injected"] += ndup
            bad_kinds = [a + b for a, b in zip(bad_kinds, per_kind, strict=True)]
            n["rows_written"] += out.height
            per_carrier[code]["rows"] += out.height
            table = _table(out)
            if layout == "day":
                pq.write_table(
                    table,
                    scans_dir / code / f"{code}-{day}.parquet",
                    compression="zstd",
                    row_group_size=ROW_GROUP,
                )
                n["files"] += 1
                continue
            if c not in writers:
                path = scans_dir / code / f"{code}-{day:%Y-%m}.parquet"
                writers[c] = (pq.ParquetWriter(path, SCHEMA, compression="zstd"), [])
                n["files"] += 1
            writer, pending = writers[c]
            pending.append(table)
            if sum(t.num_rows for t in pending) >= ROW_GROUP:
                merged = pa.concat_tables(pending)
                writer.write_table(merged.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                pending[:] = [merged.slice(ROW_GROUP)]
        if i + 1 == len(days) or days[i + 1].day == 1:
            print(
                f"[generate] {day:%Y-%m} flushed: {pid} parcels, {n['rows_written']} rows, "
                f"{n['files']} files, {time.perf_counter() - t_start:.1f}s",
                file=sys.stderr,
            )
    close_writers()
    manifest = {
        "generator": "benchmarks.generate",
        "parameters": {
            "parcels": parcels,
            "seed": seed,
            "layout": layout,
            "start": str(start),
            "months": months,
            "end_exclusive": str(end),
        },
        "versions": {"polars": pl.__version__, "pyarrow": pa.__version__},
        "counts": {
            "parcels": pid,
            **n,
            "bad_rows_injected": sum(bad_kinds),
            "bad_rows_by_kind": dict(zip(BAD_KINDS, bad_kinds, strict=True)),
            "parcels_by_fate": stats,
            "sites": len(sites),
            "per_carrier": per_carrier,
        },
        "wall_seconds": round(time.perf_counter() - t_start, 3),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    (out_dir / "manifest.json").write_text(text + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.generate", description=(__doc__ or "").split("\n")[0]
    )
    p.add_argument("--parcels", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--layout", choices=("day", "month"), default="day")
    p.add_argument("--start", type=date.fromisoformat, default=date(2023, 1, 1))
    p.add_argument("--months", type=int, default=6)
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR/scans")
    a = p.parse_args(argv)
    m = generate(a.out, a.parcels, a.seed, a.layout, a.start, a.months, a.overwrite)
    print(json.dumps(m["counts"] | {"wall_seconds": m["wall_seconds"]}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Audit controls (SPEC §12): the six anomaly flags, computed with Polars, stored, reviewed.

:func:`compute_flags` is pure: from the events, the sites registry, the policy and ``as_of``
it answers the flags of the in-scope parcels with ``D`` in a month (one lazy plan per code,
collected together so the rule's output is computed once), each with its evidence, and the
eligible parcels each flag holds. Minutes, days and hours are Asia/Shanghai (the store's
``scan_time`` is zoned). :func:`flags_for_month` computes a month as of its report (a closed
month: as of its close, on its pinned store version) -- from the stored result set's rows
when it answers, reading of the event files only what ``burst`` and ``reused_waybill`` need
(:func:`_flags_from_results`), else with :func:`compute_flags` over every event -- and
:func:`save_flags` keeps them with stable ids: a flag is ``(month, code, carrier, waybill_no,
site_code, day)``; recomputing keeps its id and review, refreshes its evidence, and drops open
flags that no longer hold. :func:`refresh_flags` carries an open month's flags over an upload
that cannot change them (:func:`_untouched`) instead of computing them again.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from core.events import EVENT_SCHEMA
from core.policy import Policy
from core.store import FILE_SCHEMA, Store, timestamp
from core.timeutil import TZ, month_bounds, parse_instant, to_local
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.refresh import DELTA_NAME, refresh
from subsidy.results import ResultSet, current, fingerprint
from subsidy.rule import ARRIVAL_TYPES, PARCEL, STATUS_SCHEMA, at_active, parcel_statuses
from subsidy.settlement.holds import on_confirmed
from subsidy.sites import load_sites

CODES: tuple[str, ...] = (
    "too_fast",
    "burst",
    "cross_carrier",
    "reused_waybill",
    "off_hours",
    "hub_spike",
)
DECISIONS: tuple[str, ...] = ("cleared", "confirmed")
FLAG_KEYS: tuple[str, ...] = (
    "id",
    "code",
    "carrier",
    "waybill_no",
    "site_code",
    "day",
    "detail",
    "status",
)
#: What :func:`compute_flags` answers for each flag (``detail`` is JSON text).
FLAG_SCHEMA = pl.Schema(
    {
        "code": pl.String(),
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "site_code": pl.String(),
        "day": pl.Date(),
        "detail": pl.String(),
    }
)
#: The eligible parcels a flag holds, by the flag's key columns.
HELD_SCHEMA = pl.Schema(
    {
        "code": pl.String(),
        "flag_carrier": pl.String(),
        "flag_waybill_no": pl.String(),
        "site_code": pl.String(),
        "day": pl.Date(),
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "subsidy_fen": pl.Int64(),
    }
)
SPIKE_LOOKBACK_DAYS = 28
SPIKE_MIN_DAYS = 7


@dataclass(frozen=True)
class Flags:
    """A month's computed flags and the eligible parcels they hold."""

    month: str
    as_of: datetime
    store_version: int
    flags: pl.DataFrame  # FLAG_SCHEMA
    held: pl.DataFrame  # HELD_SCHEMA
    policy_key: str = ""
    #: what an upload is checked against to tell whether it can change these flags
    #: (:func:`_untouched`); only the fast path has one
    basis: dict[str, Any] | None = None


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z")


def _detail(**fields: pl.Expr) -> pl.Expr:
    return pl.struct([e.alias(k) for k, e in fields.items()]).struct.json_encode().alias("detail")


def _flag_frame(frame: pl.LazyFrame, code: str, site: str, day: pl.Expr) -> pl.LazyFrame:
    return frame.select(
        pl.lit(code).alias("code"),
        pl.col("carrier"),
        pl.col("waybill_no"),
        pl.col(site).alias("site_code"),
        day.alias("day"),
        pl.col("detail"),
    )


def compute_flags(
    events: pl.LazyFrame,
    sites: pl.LazyFrame,
    policy: Policy,
    as_of: datetime,
    month: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The flags of ``month`` (:data:`FLAG_SCHEMA`) and the parcels they hold
    (:data:`HELD_SCHEMA`), as of ``as_of``. Pure: the reference the fast path
    (:func:`flags_for_month` on a stored result set) must equal."""
    cutoff = to_local(as_of)
    month_bounds(month)  # validates the text
    # one pass of the rule, shared by the six codes (collect_all does not share it)
    statuses = parcel_statuses(events, sites, policy, cutoff).collect().lazy()
    visible = events.filter(pl.col("scan_time") <= cutoff)
    return _flags(statuses, statuses.filter(pl.col("month") == month), visible, sites, policy)


def _flags(
    scope: pl.LazyFrame,
    mine: pl.LazyFrame,
    visible: pl.LazyFrame,
    sites: pl.LazyFrame,
    policy: Policy,
    daily: pl.LazyFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The six codes over the rule's rows. ``mine``: the month's parcels; ``scope``: status
    rows of at least every parcel a code compares them with (the parcels with a waybill of
    ``mine``, those with an arrival scan in a hub-minute of ``mine``'s ``A``, and -- unless
    ``daily``, the eligible parcels per ``(site_code, day)`` of ``A``, is given for at least
    ``mine``'s hubs in the spike look-back -- the eligible ones there); ``visible``: at least
    every arrival scan in a hub-minute that may hold more than ``burst_per_minute`` and every
    departure of a parcel of ``mine`` that may be more than ``reuse_days`` after its ``D``.
    Extra rows change nothing."""
    cfg = policy.anomalies
    statuses = scope
    eligible = mine.filter(pl.col("status") == "eligible")
    a_day = pl.col("a_time").dt.date()
    d_day = pl.col("d_time").dt.date()
    scans = {
        "d_time": _iso("d_time"),
        "d_site": pl.col("d_site"),
        "a_time": _iso("a_time"),
        "a_site": pl.col("a_site"),
        "a_scan_type": pl.col("a_scan_type"),
    }

    # too_fast: eligible, A - D strictly under min_transit_minutes.
    transit = pl.col("a_time") - pl.col("d_time")
    too_fast = _flag_frame(
        eligible.filter(transit < pl.lit(timedelta(minutes=cfg.min_transit_minutes))).with_columns(
            _detail(
                **scans,
                transit_seconds=(transit.dt.total_microseconds() / 1_000_000).round(6),
                min_transit_minutes=pl.lit(cfg.min_transit_minutes),
            )
        ),
        "too_fast",
        "a_site",
        a_day,
    )

    # burst: A in a hub-minute holding more than burst_per_minute arrival scans of in-scope
    # parcels at that hub.
    hub_scans = (
        at_active(
            visible.filter(pl.col("scan_type").is_in(ARRIVAL_TYPES)).select(
                *PARCEL, "site_code", "scan_time", pl.col("scan_type").cast(pl.String)
            ),
            sites,
            "village_hub",
        )
        .join(statuses.select(PARCEL), on=PARCEL, how="semi")
        .unique(subset=[*PARCEL, "site_code", "scan_time", "scan_type"])
    )
    minute = pl.col("scan_time").dt.truncate("1m")
    per_minute = hub_scans.group_by("site_code", minute.alias("minute")).agg(
        pl.len().alias("hub_minute_scans")
    )
    burst = _flag_frame(
        mine.filter(pl.col("a_time").is_not_null())
        .with_columns(pl.col("a_time").dt.truncate("1m").alias("minute"))
        .join(
            per_minute.rename({"site_code": "a_site"}),
            on=["a_site", "minute"],
            how="inner",
        )
        .filter(pl.col("hub_minute_scans") > cfg.burst_per_minute)
        .with_columns(
            _detail(
                **scans,
                minute=_iso("minute"),
                hub_minute_scans=pl.col("hub_minute_scans"),
                burst_per_minute=pl.lit(cfg.burst_per_minute),
            )
        ),
        "burst",
        "a_site",
        a_day,
    )

    # cross_carrier: the waybill number has a D under two or more carriers.
    carriers_of = (
        statuses.select("waybill_no", "carrier")
        .filter(pl.col("waybill_no").is_duplicated())  # a waybill of one parcel: one carrier
        .group_by("waybill_no")
        .agg(pl.col("carrier").unique().sort().alias("carriers"))
    )
    cross = _flag_frame(
        mine.join(carriers_of, on="waybill_no", how="inner")
        .filter(pl.col("carriers").list.len() >= 2)
        .with_columns(
            _detail(
                d_time=_iso("d_time"),
                d_site=pl.col("d_site"),
                other_carriers=pl.col("carriers").list.set_difference(
                    pl.concat_list(pl.col("carrier"))
                ),
            )
        ),
        "cross_carrier",
        "d_site",
        d_day,
    )

    # reused_waybill: depart scans at active district centers more than reuse_days apart.
    departs = (
        at_active(
            visible.filter(pl.col("scan_type") == "depart").select(
                *PARCEL, "site_code", "scan_time"
            ),
            sites,
            "district_center",
        )
        .join(mine.select(PARCEL), on=PARCEL, how="semi")
        .group_by(PARCEL)
        .agg(
            pl.col("scan_time").min().alias("first_depart"),
            pl.col("scan_time").max().alias("last_depart"),
            pl.col("site_code").sort_by("scan_time", "site_code").first().alias("first_site"),
            pl.col("site_code").sort_by("scan_time", "site_code").last().alias("last_site"),
            pl.len().alias("depart_scans"),
        )
    )
    gap = pl.col("last_depart") - pl.col("first_depart")
    reused = _flag_frame(
        mine.join(departs, on=PARCEL, how="inner")
        .filter(gap > pl.lit(timedelta(days=cfg.reuse_days)))
        .with_columns(
            _detail(
                first_depart=_iso("first_depart"),
                first_site=pl.col("first_site"),
                last_depart=_iso("last_depart"),
                last_site=pl.col("last_site"),
                days_apart=(gap.dt.total_microseconds() / 86_400_000_000).round(6),
                depart_scans=pl.col("depart_scans"),
                reuse_days=pl.lit(cfg.reuse_days),
            )
        ),
        "reused_waybill",
        "d_site",
        d_day,
    )

    # off_hours: A's time of day in [quiet_from, quiet_to), which may wrap midnight.
    clock = pl.col("a_time").dt.time()
    lo, hi = pl.lit(cfg.quiet_from), pl.lit(cfg.quiet_to)
    quiet = (
        (clock >= lo) & (clock < hi)
        if cfg.quiet_from <= cfg.quiet_to
        else (clock >= lo) | (clock < hi)
    )
    off_hours = _flag_frame(
        mine.filter(pl.col("a_time").is_not_null() & quiet).with_columns(
            _detail(
                **scans,
                quiet_from=pl.lit(cfg.quiet_from.strftime("%H:%M")),
                quiet_to=pl.lit(cfg.quiet_to.strftime("%H:%M")),
            )
        ),
        "off_hours",
        "a_site",
        a_day,
    )

    # hub_spike: a hub-day of the month's eligible parcels whose count (all carriers, any D
    # month) is > spike_factor x the median of the previous 28 days that had any (>= 7 such
    # days) and >= spike_min.
    if daily is None:
        daily = (
            statuses.filter(pl.col("status") == "eligible")
            .group_by(pl.col("a_site").alias("site_code"), a_day.alias("day"))
            .agg(pl.len().alias("parcels"))
        )
    days = eligible.select(pl.col("a_site").alias("site_code"), a_day.alias("day")).unique()
    history = (
        days.join(daily.rename({"day": "prev_day", "parcels": "prev"}), on="site_code")
        .filter(
            (pl.col("prev_day") < pl.col("day"))
            & (pl.col("prev_day") >= pl.col("day") - pl.duration(days=SPIKE_LOOKBACK_DAYS))
        )
        .group_by("site_code", "day")
        .agg(
            pl.col("prev").median().alias("median_prev"),
            pl.len().alias("days_with_any"),
        )
    )
    spikes = (
        days.join(daily, on=["site_code", "day"], how="inner")
        .join(history, on=["site_code", "day"], how="inner")
        .filter(
            (pl.col("days_with_any") >= SPIKE_MIN_DAYS)
            & (pl.col("parcels") > cfg.spike_factor * pl.col("median_prev"))
            & (pl.col("parcels") >= cfg.spike_min)
        )
    )
    hub_spike = spikes.select(
        pl.lit("hub_spike").alias("code"),
        pl.lit(None, pl.String).alias("carrier"),
        pl.lit(None, pl.String).alias("waybill_no"),
        "site_code",
        "day",
        _detail(
            eligible_parcels=pl.col("parcels"),
            median_prev=pl.col("median_prev"),
            days_with_any=pl.col("days_with_any"),
            spike_factor=pl.lit(cfg.spike_factor),
            spike_min=pl.lit(cfg.spike_min),
        ),
    )
    spike_held = eligible.join(
        spikes.select(pl.col("site_code").alias("a_site"), "day").rename({"day": "a_day"}),
        left_on=["a_site", a_day],
        right_on=["a_site", "a_day"],
        how="inner",
    ).select(
        pl.lit("hub_spike").alias("code"),
        pl.lit(None, pl.String).alias("flag_carrier"),
        pl.lit(None, pl.String).alias("flag_waybill_no"),
        pl.col("a_site").alias("site_code"),
        a_day.alias("day"),
        "carrier",
        "waybill_no",
        "subsidy_fen",
    )

    per_parcel = [too_fast, burst, cross, reused, off_hours]
    collected = pl.collect_all(
        [*per_parcel, hub_spike, spike_held, eligible.select(*PARCEL, "subsidy_fen")]
    )
    flags = (
        pl.concat([f.cast(FLAG_SCHEMA) for f in collected[:6]], how="vertical")
        .select(FLAG_SCHEMA.names())
        .sort("code", "carrier", "waybill_no", "site_code", "day", nulls_last=True)
    )
    paid = collected[7]
    parcel_held = (
        flags.filter(pl.col("carrier").is_not_null())
        .join(paid, on=PARCEL, how="inner")
        .select(
            "code",
            pl.col("carrier").alias("flag_carrier"),
            pl.col("waybill_no").alias("flag_waybill_no"),
            "site_code",
            "day",
            "carrier",
            "waybill_no",
            "subsidy_fen",
        )
    )
    held = pl.concat([parcel_held.cast(HELD_SCHEMA), collected[6].cast(HELD_SCHEMA)])
    return flags, held


def month_basis(store: Store, month: str, now: datetime) -> tuple[datetime, int | None]:
    """``(as_of, store_version)`` a month's flags are computed for: a closed month's close;
    an open one's report as of ``now`` on the current store (version ``None``)."""
    month_bounds(month)
    with store.connect() as db:
        row = db.execute(
            "SELECT as_of, store_version FROM closed_months WHERE month=?", (month,)
        ).fetchone()
    if row is None:
        return to_local(now), None
    return parse_instant(row["as_of"]), int(row["store_version"])


def flags_for_month(
    store: Store, policy: Policy, month: str, as_of: datetime, version: int | None = None
) -> Flags:
    """Compute ``month``'s flags as of ``as_of`` on store ``version`` (current: ``None``).

    When a stored result set answers ``as_of`` on that version (an open month: brought up to
    date first, as a report does), the rule's rows come from it and only the scans two codes
    need are read (:func:`_flags_from_results`); otherwise the rule runs over every event
    (:func:`compute_flags`). Both give the same flags."""
    month_bounds(month)
    sites = load_sites(store)
    key = policy_key(policy, sites)
    rs = answering_set(store, policy, sites, as_of, version)
    if rs is not None:
        flags, held, basis = _flags_from_results(store, policy, sites, rs, month, as_of)
        return Flags(month, to_local(as_of), rs.store_version, flags, held, key, basis)
    pinned = store.version() if version is None else version
    events = store.scan_events(version=pinned)
    flags, held = compute_flags(events, sites.lazy(), policy, as_of, month)
    return Flags(month, to_local(as_of), pinned, flags, held, key)


def answering_set(
    store: Store, policy: Policy, sites: pl.DataFrame, as_of: datetime, version: int | None
) -> ResultSet | None:
    """The stored result set whose rows are the rule's as of ``as_of`` on ``version`` (an
    open month, ``None``: the current store, the set refreshed first unless ``as_of`` looks
    back before it), if its parts have the layout :func:`result_rows` reads; else ``None``."""
    rs = current(store)
    if version is None and not (rs is not None and as_of < rs.as_of):
        rs = refresh(store, policy, as_of)
    if (
        rs is None
        or (version is not None and rs.store_version != version)
        or (version is None and rs.store_version != store.version())
        or not rs.answers(as_of)
        or rs.fingerprint != fingerprint(policy, sites)
    ):
        return None
    names = [Path(p).name == DELTA_NAME for p in rs.parts]
    if any(d and not later for d, later in itertools.pairwise(names)):
        return None  # a base part after a delta: not the layout result_frame reads
    return rs


def result_frame(store: Store, rs: ResultSet, where: pl.Expr) -> pl.LazyFrame:
    """The rule's rows (:data:`subsidy.rule.STATUS_SCHEMA`) of a stored result set that
    satisfy ``where``, lazily: a parcel's row in its newest delta part (read now: deltas are
    small), else in the base parts (one per shard: disjoint), ``where`` applied while each part
    is read."""
    base = [store.root / p for p in rs.parts if Path(p).name != DELTA_NAME]
    deltas = [store.root / p for p in rs.parts if Path(p).name == DELTA_NAME]
    newest = pl.DataFrame(schema=STATUS_SCHEMA)
    if deltas:
        newest = (
            pl.concat(
                [
                    pl.scan_parquet(path, schema=STATUS_SCHEMA).with_columns(pl.lit(i).alias("_p"))
                    for i, path in enumerate(deltas)
                ]
            )
            .sort("_p", maintain_order=True)
            .group_by(PARCEL, maintain_order=True)
            .last()
            .select(STATUS_SCHEMA.names())
            .collect()
        )
    if not base:
        return newest.lazy().filter(where)
    older = pl.scan_parquet(base, glob=False, schema=STATUS_SCHEMA).filter(where)
    if not newest.height:
        return older
    return pl.concat(
        [
            older.join(newest.lazy().select(PARCEL), on=PARCEL, how="anti"),
            newest.lazy().filter(where),
        ]
    )


def result_rows(store: Store, rs: ResultSet, where: pl.Expr) -> pl.DataFrame:
    """:func:`result_frame`, collected."""
    return result_frame(store, rs, where).collect()


def _scan(files: list[Path]) -> pl.LazyFrame:
    if not files:
        return pl.LazyFrame(schema=EVENT_SCHEMA)
    return pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA).with_columns(
        pl.col("scan_type").cast(EVENT_SCHEMA["scan_type"])
    )


def _us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def _flags_from_results(
    store: Store,
    policy: Policy,
    sites: pl.DataFrame,
    rs: ResultSet,
    month: str,
    as_of: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """:func:`compute_flags` for ``month`` with the rule's rows of ``rs`` (which answers
    ``as_of``), reading of the event files only what :func:`_flags` needs beyond them:

    - ``burst``: the arrival scans of the files whose time range holds a hub-minute of the
      month's ``A``, counted per hub-minute (an upper bound of the flag's count); only the
      minutes above ``burst_per_minute`` are kept, with their scans;
    - ``reused_waybill``: departures later than the month's start + ``reuse_days`` (files
      whose time range reaches there) of the month's parcels; only the parcels with one more
      than ``reuse_days`` after their ``D`` keep all their departures (``D`` is the earliest,
      so files ending before the month's start are never read);
    - the rows the month is compared with (:func:`_flags`' ``scope``) from ``rs``.
    """
    cfg = policy.anomalies
    cutoff = to_local(as_of)
    start, _ = month_bounds(month)
    mine = result_rows(store, rs, pl.col("month") == month)
    files = store.event_file_ranges(version=rs.store_version)
    ts = pl.col("scan_time").dt.epoch("us")
    visible = ts <= _us(cutoff)

    # burst: the hub-minutes of the month's A, and the files that may hold them
    minute = pl.col("scan_time").dt.truncate("1m")
    minutes = (
        mine.filter(pl.col("a_time").is_not_null())
        .select(pl.col("a_site").alias("site_code"), pl.col("a_time").dt.truncate("1m"))
        .unique()
        .rename({"a_time": "minute"})
    )
    marks = sorted(set(minutes["minute"].dt.epoch("us").to_list()))
    step = 60_000_000

    def holds_a_minute(lo: int | None, hi: int | None) -> bool:
        if lo is None or hi is None:
            return True
        i = bisect.bisect_left(marks, lo - step + 1)
        return i < len(marks) and marks[i] <= hi

    arrival = visible & pl.col("scan_type").is_in(ARRIVAL_TYPES)
    busy_plan = (
        _scan([p for p, _v, lo, hi in files if marks and holds_a_minute(lo, hi)])
        .filter(arrival & minute.dt.epoch("us").is_in(pl.Series(marks, dtype=pl.Int64()).implode()))
        .group_by("site_code", minute.alias("minute"))
        .agg(pl.len().alias("n"))
        .filter(pl.col("n") > cfg.burst_per_minute)
        .join(minutes.lazy(), on=["site_code", "minute"], how="semi")
        .select("site_code", "minute")
    )

    # reused_waybill: departures more than reuse_days after the month's start, then the
    # parcels with one more than reuse_days after their own D
    reach = _us(start + timedelta(days=cfg.reuse_days))
    late = (
        _scan([p for p, _v, _lo, hi in files if hi is None or hi > reach])
        .filter(visible & (ts > reach) & (pl.col("scan_type") == "depart"))
        .select(*PARCEL, "scan_time")
        .join(mine.lazy().select(*PARCEL, "d_time"), on=PARCEL, how="inner")
        .filter(pl.col("scan_time") - pl.col("d_time") > pl.lit(timedelta(days=cfg.reuse_days)))
        .select(PARCEL)
        .unique()
    )
    busy, reused = pl.collect_all([busy_plan, late])
    burst_found = pl.DataFrame(schema={k: EVENT_SCHEMA[k] for k in (*PARCEL, "site_code")})
    if busy.height:
        marked = busy["minute"].dt.epoch("us")
        b_lo, b_hi = int(marked.min()), int(marked.max()) + step  # type: ignore[arg-type]
        burst_found = (
            _scan(
                [
                    p
                    for p, _v, lo, hi in files
                    if (lo is None or lo < b_hi) and (hi is None or hi >= b_lo)
                ]
            )
            .filter(arrival & (ts >= b_lo) & (ts < b_hi))
            .select(*PARCEL, "site_code", "scan_time", "scan_type")
            .join(
                busy.lazy(),
                left_on=["site_code", minute],
                right_on=["site_code", "minute"],
                how="semi",
            )
            .collect()
        )
    since = _us(start)
    departs = (
        _scan([p for p, _v, _lo, hi in files if hi is None or hi >= since])
        .filter(
            visible
            & (pl.col("scan_type") == "depart")
            & pl.col("waybill_no").is_in(reused["waybill_no"].unique().implode())
        )
        .join(reused.lazy(), on=PARCEL, how="semi")
        .collect()
        if reused.height
        else pl.DataFrame(schema=EVENT_SCHEMA)
    )
    scans = pl.concat(
        [
            burst_found.select(
                pl.col(name).cast(dtype)
                if name in burst_found.columns
                else pl.lit(None, dtype).alias(name)
                for name, dtype in EVENT_SCHEMA.items()
            ),
            departs.select(EVENT_SCHEMA.names()).cast(EVENT_SCHEMA),
        ]
    )

    # the rows the month's parcels are compared with: the parcels of their waybills and of
    # the busy hub-minutes' scans, and the eligible parcels per hub-day of the spike look-back
    scope = pl.concat(
        [
            mine,
            result_rows(
                store,
                rs,
                pl.col("waybill_no").is_in(
                    pl.concat([mine["waybill_no"], burst_found["waybill_no"]]).unique().implode()
                )
                & (pl.col("month") != month),
            ),
        ]
    )
    basis: dict[str, Any] = {
        "busy": [
            [site, int(t)]
            for site, t in busy.select("site_code", pl.col("minute").dt.epoch("us")).iter_rows()
        ],
        "spike": None,
    }
    daily = pl.DataFrame(
        schema={"site_code": pl.String(), "day": pl.Date(), "parcels": pl.UInt32()}
    )
    days = mine.filter(pl.col("status") == "eligible")["a_time"].dt.date()
    if days.len():
        first, last = days.min(), days.max()
        assert isinstance(first, date) and isinstance(last, date)
        lo = datetime.combine(first - timedelta(days=SPIKE_LOOKBACK_DAYS), time(), TZ)
        hi = datetime.combine(last + timedelta(days=1), time(), TZ)
        hubs = mine["a_site"].drop_nulls().unique()
        counted = _daily(
            result_frame(store, rs, pl.col("status") == "eligible"), _us(lo), _us(hi), hubs
        )
        basis["spike"] = {
            "from_us": _us(lo),
            "to_us": _us(hi),
            "hubs": sorted(hubs.to_list()),
            "daily": counted,
        }
        daily = pl.DataFrame(
            [(site, date.fromisoformat(day), n) for site, day, n in counted],
            schema=daily.schema,
            orient="row",
        )
    flags, held = _flags(
        scope.lazy(), mine.lazy(), scans.lazy(), sites.lazy(), policy, daily.lazy()
    )
    return flags, held, basis


def _daily(rows: pl.LazyFrame, lo: int, hi: int, hubs: pl.Series) -> list[list[Any]]:
    """Eligible parcels per (hub, day) of ``A`` in ``[lo, hi)`` at ``hubs``: what a month's
    ``hub_spike`` flags read of the other parcels."""
    t = pl.col("a_time").dt.epoch("us")
    return [
        [site, day.isoformat(), n]
        for site, day, n in rows.filter(
            (pl.col("status") == "eligible")
            & (t >= lo)
            & (t < hi)
            & pl.col("a_site").is_in(hubs.implode())
        )
        .group_by("a_site", pl.col("a_time").dt.date().alias("day"))
        .agg(pl.len())
        .sort("a_site", "day")
        .collect()
        .iter_rows()
    ]


def _key(month: str, code: str, carrier: Any, waybill: Any, site: Any, day: Any) -> str:
    return json.dumps([month, code, carrier, waybill, site, None if day is None else str(day)])


def save_flags(store: Store, db: sqlite3.Connection, computed: Flags, policy: Policy) -> int:
    """Store ``computed`` inside the caller's transaction (see the module doc); the number of
    flags of the month afterwards."""
    month, now = computed.month, timestamp()
    held = 1 if policy.anomalies.holds else 0
    existing = {
        r["flag_key"]: (int(r["id"]), r["status"])
        for r in db.execute(
            "SELECT id, flag_key, status FROM anomaly_flags WHERE month=?", (month,)
        )
    }
    ids: dict[tuple[Any, ...], int] = {}
    seen: set[str] = set()
    for rec in computed.flags.iter_rows(named=True):
        ident = (rec["code"], rec["carrier"], rec["waybill_no"], rec["site_code"], rec["day"])
        key = _key(month, *ident)
        seen.add(key)
        day = None if rec["day"] is None else rec["day"].isoformat()
        if key in existing:
            flag_id = existing[key][0]
            db.execute(
                "UPDATE anomaly_flags SET detail=?, held=?, computed_at=? WHERE id=?",
                (rec["detail"], held, now, flag_id),
            )
        else:
            cur = db.execute(
                "INSERT INTO anomaly_flags (flag_key, month, code, carrier, waybill_no,"
                " site_code, day, detail, held, computed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    month,
                    rec["code"],
                    rec["carrier"],
                    rec["waybill_no"],
                    rec["site_code"],
                    day,
                    rec["detail"],
                    held,
                    now,
                ),
            )
            flag_id = int(cur.lastrowid or 0)
        ids[ident] = flag_id
    gone = [fid for key, (fid, status) in existing.items() if key not in seen and status == "open"]
    db.executemany("DELETE FROM anomaly_flag_parcels WHERE flag_id=?", [(f,) for f in gone])
    db.executemany("DELETE FROM anomaly_flags WHERE id=?", [(f,) for f in gone])
    db.execute("DELETE FROM anomaly_flag_parcels WHERE month=?", (month,))
    db.executemany(
        "INSERT OR IGNORE INTO anomaly_flag_parcels (flag_id, month, carrier, waybill_no,"
        " subsidy_fen) VALUES (?,?,?,?,?)",
        [
            (
                ids[(r["code"], r["flag_carrier"], r["flag_waybill_no"], r["site_code"], r["day"])],
                month,
                r["carrier"],
                r["waybill_no"],
                r["subsidy_fen"],
            )
            for r in computed.held.iter_rows(named=True)
        ],
    )
    db.execute(
        "INSERT INTO anomaly_runs (month, as_of, store_version, policy_key, computed_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT (month) DO UPDATE SET as_of=excluded.as_of,"
        " store_version=excluded.store_version, policy_key=excluded.policy_key,"
        " computed_at=excluded.computed_at",
        (month, computed.as_of.isoformat(), computed.store_version, computed.policy_key, now),
    )
    total = db.execute("SELECT COUNT(*) FROM anomaly_flags WHERE month=?", (month,)).fetchone()
    return int(total[0])


def policy_key(policy: Policy, sites: pl.DataFrame) -> str:
    """Digest of what the flags depend on besides the events: the rule's policy values and
    the sites registry (:func:`subsidy.results.fingerprint`) and the ``[anomalies]`` table."""
    return hashlib.sha256(
        (fingerprint(policy, sites) + repr(policy.anomalies)).encode()
    ).hexdigest()


def _unchanged_since(
    store: Store, run: sqlite3.Row, key: str, version: int, as_of: datetime
) -> bool:
    """Whether an open month's stored run answers ``as_of`` too: same store version and
    policy, ``as_of`` not before the run's, and no stored scan after the run's ``as_of`` (then
    the same scans are visible; between the two instants only pending parcels can turn
    ``no_hub_arrival``, which no flag reads)."""
    run_as_of = parse_instant(run["as_of"])
    if int(run["store_version"]) != version or run["policy_key"] != key or as_of < run_as_of:
        return False
    limit = int(run_as_of.timestamp() * 1_000_000)
    return all(
        hi is not None and hi <= limit for _, _, _, hi in store.event_file_ranges(version=version)
    )


def refresh_flags(store: Store, policy: Policy, month: str, now: datetime) -> None:
    """Bring ``month``'s stored flags up to date: a closed month once, as of its close (kept
    as they are afterwards); an open month as of ``now``, recomputed only when an upload, the
    policy or the sites changed or a stored scan has become visible since the last run."""
    as_of, version = month_basis(store, month, now)
    with store.connect() as db:
        run = db.execute(
            "SELECT as_of, store_version, policy_key FROM anomaly_runs WHERE month=?", (month,)
        ).fetchone()
    if version is not None:
        if (
            run is not None
            and parse_instant(run["as_of"]) == as_of
            and int(run["store_version"]) == version
        ):
            return
    elif run is not None:
        current = store.version()
        key = policy_key(policy, load_sites(store))
        if _unchanged_since(store, run, key, current, as_of):
            return
        moved = _untouched(store, policy, month, run, key, as_of)
        if moved is not None:
            with store.transaction() as db:
                db.execute(
                    "UPDATE anomaly_runs SET as_of=?, store_version=?, computed_at=? WHERE month=?",
                    (to_local(as_of).isoformat(), moved, timestamp(), month),
                )
            _write_basis(store, month, moved, _read_basis(store, month) or {})
            return
    computed = flags_for_month(store, policy, month, as_of, version)
    with store.transaction() as db:
        save_flags(store, db, computed, policy)
    if version is None and computed.basis is not None:
        _write_basis(store, month, computed.store_version, computed.basis)
    else:
        _basis_path(store, month).unlink(missing_ok=True)


BASIS_DIR = "anomalies"


def _basis_path(store: Store, month: str) -> Path:
    return store.root / BASIS_DIR / f"{month}.json"


def _write_basis(store: Store, month: str, version: int, basis: dict[str, Any]) -> None:
    path = _basis_path(store, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({**basis, "store_version": version}), encoding="utf-8")
    os.replace(tmp, path)


def _read_basis(store: Store, month: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = json.loads(_basis_path(store, month).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return doc


def _untouched(
    store: Store, policy: Policy, month: str, run: sqlite3.Row, key: str, as_of: datetime
) -> int | None:
    """The store version an open month's stored flags can be carried to unchanged, or
    ``None`` when they must be recomputed.

    They are carried over when the only new scans are those of files committed since the run
    (no stored scan became visible by the passing of time, no file was retired, same policy
    and sites, a result set answers) and none of them can change a flag of the month: no new
    scan has a waybill of a parcel of the month (now) or of a stored flag of the month (the
    parcel's own codes, a second carrier, a later departure, a parcel moving in or out); no
    hub-minute of a new arrival scan now holds more than ``burst_per_minute`` arrival scans
    at a hub-minute of the month's ``A``; no scan in a hub-minute that was above it (the run's
    basis) belongs to a parcel of the new scans (whose scope may have changed); and the
    eligible parcels per hub-day of the month's spike look-back are those of the run."""
    basis = _read_basis(store, month)
    old_version, run_as_of = int(run["store_version"]), parse_instant(run["as_of"])
    version = store.version()
    if (
        basis is None
        or int(basis.get("store_version", -1)) != old_version
        or run["policy_key"] != key
        or as_of < run_as_of
        or version < old_version
        or store.retired_since(old_version)
    ):
        return None
    sites = load_sites(store)
    rs = answering_set(store, policy, sites, as_of, None)
    if rs is None or rs.store_version != version:
        return None
    files = store.event_file_ranges(version=version)
    since, until = _us(run_as_of), _us(to_local(as_of))
    if any(
        v <= old_version and (hi is None or hi > since) and (lo is None or lo <= until)
        for _p, v, lo, hi in files
    ):
        return None  # a stored scan became visible: as good as a new one, recompute
    ts = pl.col("scan_time").dt.epoch("us")
    new = (
        _scan([p for p, v, _lo, _hi in files if v > old_version])
        .filter(ts <= until)
        .select(*PARCEL, "site_code", "scan_time", pl.col("scan_type").cast(pl.String))
        .collect()
    )
    if not new.height:
        return version
    waybills = new["waybill_no"].unique().implode()
    if result_rows(
        store, rs, (pl.col("month") == month) & pl.col("waybill_no").is_in(waybills)
    ).height:
        return None
    with store.connect() as db:
        flagged = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT waybill_no FROM anomaly_flags"
                " WHERE month=? AND waybill_no IS NOT NULL",
                (month,),
            )
        }
    if flagged & set(new["waybill_no"].unique().to_list()):
        return None
    cfg = policy.anomalies
    step = 60_000_000
    minute = pl.col("scan_time").dt.truncate("1m")
    arrivals = new.filter(pl.col("scan_type").is_in(ARRIVAL_TYPES))
    if arrivals.height:
        touched = arrivals.select("site_code", minute.alias("minute")).unique()
        marks = touched["minute"].dt.epoch("us")
        lo_t, hi_t = int(marks.min()), int(marks.max()) + step  # type: ignore[arg-type]
        busy = (
            _scan(
                [
                    p
                    for p, _v, lo, hi in files
                    if (lo is None or lo < hi_t) and (hi is None or hi >= lo_t)
                ]
            )
            .filter(
                (ts <= until)
                & (ts >= lo_t)
                & (ts < hi_t)
                & pl.col("scan_type").is_in(ARRIVAL_TYPES)
            )
            .group_by("site_code", minute.alias("minute"))
            .agg(pl.len().alias("n"))
            .filter(pl.col("n") > cfg.burst_per_minute)
            .join(touched.lazy(), on=["site_code", "minute"], how="semi")
            .collect()
        )
        if busy.height:
            b_lo = int(busy["minute"].dt.epoch("us").min())  # type: ignore[arg-type]
            b_hi = int(busy["minute"].dt.epoch("us").max()) + step  # type: ignore[arg-type]
            at = pl.col("a_time").dt.epoch("us")
            hit = result_rows(
                store,
                rs,
                (pl.col("month") == month)
                & (at >= b_lo)
                & (at < b_hi)
                & pl.col("a_site").is_in(busy["site_code"].implode()),
            ).join(
                busy,
                left_on=["a_site", pl.col("a_time").dt.truncate("1m")],
                right_on=["site_code", "minute"],
                how="semi",
            )
            if hit.height:
                return None
    if basis.get("busy"):
        was = pl.DataFrame(
            basis["busy"], schema={"site_code": pl.String(), "m": pl.Int64()}, orient="row"
        )
        b_lo, b_hi = int(was["m"].min()), int(was["m"].max()) + step  # type: ignore[arg-type]
        there = (
            _scan(
                [
                    p
                    for p, _v, lo, hi in files
                    if (lo is None or lo < b_hi) and (hi is None or hi >= b_lo)
                ]
            )
            .filter(
                (ts <= until)
                & (ts >= b_lo)
                & (ts < b_hi)
                & pl.col("scan_type").is_in(ARRIVAL_TYPES)
            )
            .with_columns(minute.dt.epoch("us").alias("m"))
            .join(was.lazy(), on=["site_code", "m"], how="semi")
            .join(new.lazy().select(PARCEL).unique(), on=PARCEL, how="semi")
            .collect()
        )
        if there.height:
            return None
    spike = basis.get("spike")
    if spike is not None:
        rows = result_frame(store, rs, pl.col("status") == "eligible")
        hubs = pl.Series(spike["hubs"], dtype=pl.String())
        if _daily(rows, spike["from_us"], spike["to_us"], hubs) != spike["daily"]:
            return None
    return version


def _row(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": int(r["id"]),
        "code": r["code"],
        "carrier": r["carrier"],
        "waybill_no": r["waybill_no"],
        "site_code": r["site_code"],
        "day": r["day"],
        "detail": json.loads(r["detail"]),
        "status": r["status"],
    }


def list_flags(
    store: Store,
    policy: Policy,
    month: str,
    now: datetime,
    *,
    carrier: str | None = None,
) -> list[dict[str, Any]]:
    """The flags of ``month`` (brought up to date first); with ``carrier``, that carrier's
    parcels' flags and the hub-day flags holding any of its parcels."""
    refresh_flags(store, policy, month, now)
    sql = "SELECT * FROM anomaly_flags WHERE month=?"
    args: list[Any] = [month]
    if carrier is not None:
        sql += (
            " AND (carrier=? OR (carrier IS NULL AND id IN (SELECT flag_id FROM"
            " anomaly_flag_parcels WHERE month=? AND carrier=?)))"
        )
        args += [carrier, month, carrier]
    with store.connect() as db:
        return [_row(r) for r in db.execute(sql + " ORDER BY id", args)]


def get_flag(store: Store, flag_id: int) -> dict[str, Any]:
    """One stored flag; :class:`NotFoundError` if there is none."""
    with store.connect() as db:
        row = db.execute("SELECT * FROM anomaly_flags WHERE id=?", (flag_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no anomaly flag {flag_id}", code="flag_not_found", id=flag_id)
    return _row(row)


def flag_carriers(store: Store, flag_id: int) -> set[str]:
    """The carriers a flag concerns (its own, or those of the parcels a hub-day flag holds)."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT carrier FROM anomaly_flags WHERE id=? AND carrier IS NOT NULL UNION"
            " SELECT carrier FROM anomaly_flag_parcels WHERE flag_id=?",
            (flag_id, flag_id),
        )
        return {r[0] for r in rows}


def review_flag(
    store: Store, flag_id: int, *, decision: str, note: str | None, actor: str
) -> dict[str, Any]:
    """Record an auditor's decision on an open flag (audited). A reviewed flag is final."""
    if decision not in DECISIONS:
        raise InvalidValueError(
            f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}",
            code="invalid_decision",
            value=decision,
        )
    with store.transaction() as db:
        row = db.execute("SELECT * FROM anomaly_flags WHERE id=?", (flag_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no anomaly flag {flag_id}", code="flag_not_found", id=flag_id)
        if row["status"] != "open":
            raise ConflictError(
                f"anomaly flag {flag_id} is already {row['status']}",
                code="flag_already_reviewed",
                id=flag_id,
                status=row["status"],
            )
        db.execute(
            "UPDATE anomaly_flags SET status=?, reviewed_at=?, reviewed_by=?, note=? WHERE id=?",
            (decision, timestamp(), actor, note, flag_id),
        )
        back = on_confirmed(db, flag_id) if decision == "confirmed" else 0
        store.audit(
            db,
            actor,
            "anomaly.reviewed",
            f"anomaly:{flag_id}",
            old="open",
            new={"decision": decision, "note": note, "subsidy_put_back_parcels": back},
        )
    return get_flag(store, flag_id)


def reviews(store: Store, flag_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The review of each reviewed flag among ``flag_ids``: ``{id: {"status", "reviewed_at",
    "reviewed_by", "note"}}`` (an open flag has none)."""
    out: dict[int, dict[str, Any]] = {}
    with store.connect() as db:
        for start in range(0, len(flag_ids), 500):
            chunk = flag_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in db.execute(
                "SELECT id, status, reviewed_at, reviewed_by, note FROM anomaly_flags"
                f" WHERE status != 'open' AND id IN ({marks})",
                chunk,
            ):
                out[int(r["id"])] = {
                    "status": r["status"],
                    "reviewed_at": r["reviewed_at"],
                    "reviewed_by": r["reviewed_by"],
                    "note": r["note"],
                }
    return out


def parcel_flags(
    store: Store, policy: Policy, carrier: str, waybill_no: str, month: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The flags on one parcel of ``month`` (its own and those of the hub-day holding it),
    brought up to date first, each with its review (:func:`reviews`) under ``"review"``."""
    if month is None:
        return []
    refresh_flags(store, policy, month, now)
    with store.connect() as db:
        rows = [
            _row(r)
            for r in db.execute(
                "SELECT * FROM anomaly_flags WHERE month=? AND ((carrier=? AND waybill_no=?)"
                " OR (carrier IS NULL AND id IN (SELECT flag_id FROM anomaly_flag_parcels"
                " WHERE month=? AND carrier=? AND waybill_no=?))) ORDER BY id",
                (month, carrier, waybill_no, month, carrier, waybill_no),
            )
        ]
    done = reviews(store, [f["id"] for f in rows])
    return [{**f, "review": done.get(f["id"])} for f in rows]

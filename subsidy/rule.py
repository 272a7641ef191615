"""The eligibility rule (SPEC §5), once, as a Polars lazy pipeline.

A parcel is ``(carrier, waybill_no)``. From the valid, de-duplicated events with
``scan_time <= as_of``:

1. ``D`` = earliest ``depart`` at a ``district_center`` active on the scan's date. No ``D``:
   the parcel is out of scope and appears in no report.
2. ``A`` = earliest ``arrive``/``dispatch``/``sign`` at a ``village_hub`` active on the scan's
   date, with ``scan_time > D``.
3. Status, checked in this order: ``D`` outside the policy window -> ineligible
   (``outside_policy_window``); ``A - D <= max_transit`` -> eligible; ``A`` later -> ineligible
   (``late_hub_arrival``); no ``A`` and ``as_of < D + max_transit`` -> pending; else ineligible
   (``no_hub_arrival``). Every status counts in ``D``'s Asia/Shanghai month.
4. An eligible parcel earns the rate in force on ``D``'s date.

Ties (two scans at the same instant) are broken by site code, then scan type, so the result
never depends on row order.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from core.events import SCAN_TIME
from core.policy import Policy
from core.timeutil import to_local

INELIGIBLE_REASONS: tuple[str, ...] = (
    "no_hub_arrival",
    "late_hub_arrival",
    "outside_policy_window",
)
ARRIVAL_TYPES: tuple[str, ...] = ("arrive", "dispatch", "sign")
PARCEL = ("carrier", "waybill_no")

#: One row per in-scope parcel: the outcome of the rule and the two scans that decided it.
STATUS_SCHEMA = pl.Schema(
    {
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "month": pl.String(),
        "d_time": SCAN_TIME,
        "d_site": pl.String(),
        "a_time": SCAN_TIME,
        "a_site": pl.String(),
        "a_scan_type": pl.String(),
        "status": pl.String(),
        "reason": pl.String(),
        "rate_fen": pl.Int64(),
        "subsidy_fen": pl.Int64(),
    }
)


#: Asia/Shanghai has kept UTC+8 without daylight saving time since 1992, and every stored
#: scan is later (ingest refuses times before 2020, ``implausible_scan_time``): a stored
#: scan's local date is its instant plus eight hours, in whole days -- one addition instead
#: of a time-zone lookup per row (the same shortcut ingest's validation takes).
_UTC_OFFSET_US = 8 * 3600 * 1_000_000
_DAY_US = 86_400 * 1_000_000


def local_day(instant: pl.Expr) -> pl.Expr:
    """The Asia/Shanghai date of a stored scan time, as days since 1970-01-01 (Int32)."""
    return ((instant.dt.epoch("us") + _UTC_OFFSET_US) // _DAY_US).cast(pl.Int32)


def at_active(events: pl.LazyFrame, sites: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    """Keep the scans made at a site of ``kind`` on a date inside its active interval."""
    of_kind = sites.filter(pl.col("kind") == kind).select(
        "site_code",
        pl.col("active_from").cast(pl.Int32).alias("_from"),
        pl.col("active_to").cast(pl.Int32).alias("_to"),
    )
    day = local_day(pl.col("scan_time"))
    return (
        events.join(of_kind, on="site_code", how="inner")
        .filter((day >= pl.col("_from")) & (pl.col("_to").is_null() | (day <= pl.col("_to"))))
        .drop("_from", "_to")
    )


def rate_expr(policy: Policy, day: pl.Expr) -> pl.Expr:
    """The rate (fen) in force on ``day`` per the policy's rate table; null before the first."""
    expr: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for rate in policy.rates:  # sorted ascending: later entries override
        expr = (
            pl.when(day >= pl.lit(rate.effective_from)).then(pl.lit(rate.rate_fen)).otherwise(expr)
        )
    return expr.cast(pl.Int64)


def parcel_statuses(
    events: pl.LazyFrame,
    sites: pl.LazyFrame,
    policy: Policy,
    as_of: datetime,
) -> pl.LazyFrame:
    """Status of every in-scope parcel as of ``as_of`` (a frame of :data:`STATUS_SCHEMA`).

    ``events`` are stored events (:data:`ingest.schema.EVENT_SCHEMA`), ``sites`` the registry
    (:data:`subsidy.sites.SITES_SCHEMA`). Pure: no clock, no I/O beyond the frames given.
    """
    cutoff = to_local(as_of)
    visible = events.filter(pl.col("scan_time") <= cutoff)
    departs = at_active(
        visible.filter(pl.col("scan_type") == "depart").select(*PARCEL, "site_code", "scan_time"),
        sites,
        "district_center",
    )
    d = departs.group_by(PARCEL).agg(
        pl.col("scan_time").min().alias("d_time"),
        pl.col("site_code").sort_by("scan_time", "site_code").first().alias("d_site"),
    )
    arrivals = at_active(
        visible.filter(pl.col("scan_type").is_in(ARRIVAL_TYPES)).select(
            *PARCEL, "site_code", "scan_time", pl.col("scan_type").cast(pl.String)
        ),
        sites,
        "village_hub",
    )
    a = (
        arrivals.join(d.select(*PARCEL, "d_time"), on=PARCEL, how="inner")
        .filter(pl.col("scan_time") > pl.col("d_time"))
        .group_by(PARCEL)
        .agg(
            pl.col("scan_time").min().alias("a_time"),
            pl.col("site_code")
            .sort_by("scan_time", "site_code", "scan_type")
            .first()
            .alias("a_site"),
            pl.col("scan_type")
            .sort_by("scan_time", "site_code", "scan_type")
            .first()
            .alias("a_scan_type"),
        )
    )
    d_time, a_time = pl.col("d_time"), pl.col("a_time")
    in_window = (d_time >= policy.window_start) & (d_time < policy.window_end)
    on_time = (a_time - d_time) <= pl.lit(policy.max_transit)
    may_still_arrive = pl.lit(cutoff) < d_time + pl.lit(policy.max_transit)
    status = (
        pl.when(~in_window)
        .then(pl.lit("ineligible"))
        .when(a_time.is_not_null() & on_time)
        .then(pl.lit("eligible"))
        .when(a_time.is_not_null())
        .then(pl.lit("ineligible"))
        .when(may_still_arrive)
        .then(pl.lit("pending"))
        .otherwise(pl.lit("ineligible"))
    )
    reason = (
        pl.when(~in_window)
        .then(pl.lit("outside_policy_window"))
        .when(a_time.is_not_null() & on_time)
        .then(pl.lit(None, pl.String))
        .when(a_time.is_not_null())
        .then(pl.lit("late_hub_arrival"))
        .when(may_still_arrive)
        .then(pl.lit(None, pl.String))
        .otherwise(pl.lit("no_hub_arrival"))
    )
    rate = rate_expr(policy, d_time.dt.date())
    return (
        d.join(a, on=PARCEL, how="left")
        .with_columns(
            d_time.dt.strftime("%Y-%m").alias("month"),
            status.alias("status"),
            reason.alias("reason"),
            rate.alias("rate_fen"),
        )
        .with_columns(
            pl.when(pl.col("status") == "eligible")
            .then(pl.col("rate_fen"))
            .otherwise(0)
            .cast(pl.Int64)
            .alias("subsidy_fen")
        )
        .select(STATUS_SCHEMA.names())
    )

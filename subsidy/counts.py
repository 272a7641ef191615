"""What the reports are computed from: per ``(month, carrier)`` counts of the rule's statuses.

A row of :data:`COUNTS_SCHEMA` holds a carrier's eligible parcels, subsidy (fen), pending
parcels and ineligible parcels per reason for one month. :func:`compute_counts` computes them
straight from the events (nothing stored: the reference a stored result set must equal);
:mod:`subsidy.refresh` keeps them stored (:mod:`subsidy.results`) and up to date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from core.policy import Policy
from core.store import FILE_SCHEMA, Store
from subsidy.rule import INELIGIBLE_REASONS, parcel_statuses
from subsidy.sites import load_sites

COUNT_COLUMNS = (
    "eligible_parcels",
    "subsidy_fen",
    "pending_parcels",
    *INELIGIBLE_REASONS,
)
COUNTS_SCHEMA = pl.Schema(
    {"month": pl.String, "carrier": pl.String, **dict.fromkeys(COUNT_COLUMNS, pl.Int64)}
)

#: Events the rule takes in memory at once. A carrier with more is cut into shards of whole
#: parcels (by a hash of the waybill; a parcel never spans carriers or shards), so peak
#: memory follows this number, not the size of the store.
SHARD_EVENTS = 4_000_000


def counts_of(statuses: pl.LazyFrame) -> pl.LazyFrame:
    """Per ``(month, carrier)`` counts of status rows (:data:`COUNTS_SCHEMA`)."""
    return statuses.group_by("month", "carrier").agg(
        (pl.col("status") == "eligible").sum().cast(pl.Int64).alias("eligible_parcels"),
        pl.col("subsidy_fen").sum().cast(pl.Int64).alias("subsidy_fen"),
        (pl.col("status") == "pending").sum().cast(pl.Int64).alias("pending_parcels"),
        *((pl.col("reason") == r).sum().cast(pl.Int64).alias(r) for r in INELIGIBLE_REASONS),
    )


def tidy(counts: pl.DataFrame) -> pl.DataFrame:
    """``counts`` in :data:`COUNTS_SCHEMA`, without all-zero rows, sorted by month, carrier."""
    nonzero = pl.any_horizontal([pl.col(c) != 0 for c in COUNT_COLUMNS])
    return (
        counts.select(COUNTS_SCHEMA.names())
        .cast(COUNTS_SCHEMA)
        .filter(nonzero)
        .sort("month", "carrier")
    )


def carrier_shards(
    store: Store, version: int | None = None, *, only: str | None = None
) -> Iterator[tuple[str, int, pl.LazyFrame]]:
    """``(carrier, shard, events)`` covering every stored event of a snapshot once; only
    ``only``'s shards when given. Each shard holds whole parcels.

    A carrier of more than :data:`SHARD_EVENTS` events is cut by ranges of waybill numbers,
    the ranges read from the files' row-group statistics (event files are sorted by waybill):
    the Parquet reader then skips the row groups outside a shard's range, so the shards
    together read the carrier's files about once (by a hash of the waybill, every shard read
    every file: three times the reading at 100M rows). Files without statistics are cut by a
    hash of the waybill.
    """
    for carrier, rows in store.carrier_rows(version=version).items():
        if only is not None and carrier != only:
            continue
        files = store.event_files(carriers=[carrier], version=version)
        # scan_type as stored (text): the rule compares it with its names, and casting every
        # row to the enum of Store.scan_events costs a sixth of a rebuild
        events = pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA)
        shards = -(-rows // SHARD_EVENTS)
        if shards <= 1:
            yield carrier, 0, events
            continue
        bounds = waybill_bounds(files, shards)
        waybill = pl.col("waybill_no")
        for shard in range(shards):
            if bounds is None:
                yield carrier, shard, events.filter(waybill.hash(seed=0) % shards == shard)
                continue
            cond = pl.lit(True)
            if shard > 0:
                cond = cond & (waybill >= bounds[shard - 1])
            if shard < shards - 1:
                cond = cond & (waybill < bounds[shard])
            yield carrier, shard, events.filter(cond)


def waybill_bounds(files: list[Path], shards: int) -> list[str] | None:
    """``shards - 1`` ascending waybill numbers cutting ``files``' events into ranges of about
    equal rows, from the row groups' smallest waybills (Parquet footers only); ``None`` when a
    row group has no statistics."""
    groups: list[tuple[str, int]] = []
    for path in files:
        meta = pq.read_metadata(path)
        column = meta.schema.to_arrow_schema().get_field_index("waybill_no")
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            stats = group.column(column).statistics
            if stats is None or not stats.has_min_max:
                return None
            groups.append((str(stats.min), group.num_rows))
    groups.sort()
    total = sum(n for _, n in groups)
    bounds: list[str] = []
    seen = 0
    for smallest, n in groups:
        if len(bounds) < shards - 1 and seen >= total * (len(bounds) + 1) / shards:
            bounds.append(smallest)
        seen += n
    while len(bounds) < shards - 1:  # fewer row groups than shards: empty last ranges
        bounds.append(bounds[-1] if bounds else "")
    return bounds


def compute_counts(
    store: Store,
    policy: Policy,
    as_of: datetime,
    *,
    months: list[str] | None = None,
    carrier: str | None = None,
) -> pl.DataFrame:
    """Counts straight from the events, nothing stored (the reference a refresh must equal)."""
    sites = load_sites(store).lazy()
    frames = []
    for _carrier, _shard, events in carrier_shards(store, only=carrier):
        statuses = parcel_statuses(events, sites, policy, as_of)
        if months is not None:
            statuses = statuses.filter(pl.col("month").is_in(months))
        frames.append(counts_of(statuses).collect())
    if not frames:
        return tidy(pl.DataFrame(schema=COUNTS_SCHEMA))
    shards = pl.concat(frames)  # a carrier's shards hold disjoint parcels: their sum
    return tidy(shards.group_by("month", "carrier").agg(pl.col(c).sum() for c in COUNT_COLUMNS))

"""How the stored results (:mod:`subsidy.results`) are built and kept up to date, and how a
report gets its counts from them (:func:`month_counts`).

A full rebuild runs the rule, the one in :mod:`subsidy.rule`, over every stored event, one
shard at a time (:func:`subsidy.counts.carrier_shards`). An incremental refresh (after an
upload, or as time passes) re-runs it only for the parcels that can have changed: those with
scans in files committed since ``store_version`` or dated in ``(T, as_of]``, and the pending
ones. The rule reads only each parcel's earliest district-center departure ``D`` and its
earliest hub arrival after it, so the events it is given for such a parcel are: its new scans,
its stored ``D`` and ``A`` as two scans, and -- only for a parcel whose new scans hold a
departure earlier than its stored ``D`` (or that had none) -- its stored scans after that
departure. That set yields exactly the statuses a full rebuild would; counts are patched by
subtracting the parcels' old rows and adding their new ones. ``tests/subsidy/test_results.py``
checks it against full rebuilds.

Every ``as_of`` here is an aware instant (resolved once, at the edge).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from core.events import EVENT_SCHEMA
from core.policy import Policy
from core.store import FILE_SCHEMA, Store
from core.timeutil import to_local
from ingest import uploads
from subsidy.counts import (
    COUNT_COLUMNS,
    COUNTS_SCHEMA,
    carrier_shards,
    compute_counts,
    counts_of,
    tidy,
)
from subsidy.results import ResultSet, current, fingerprint, locked, save, set_folder
from subsidy.rule import ARRIVAL_TYPES, PARCEL, STATUS_SCHEMA, parcel_statuses
from subsidy.sites import REGISTRY_COLUMNS, load_sites

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: More incremental parts (``delta.parquet``, one per refresh) than this and a refresh
#: rebuilds in full (reads stay cheap). The base parts, one per shard, do not count.
MAX_DELTAS = 24
DELTA_NAME = "delta.parquet"


# -- serving: readers -------------------------------------------------------------------------
def month_counts(
    store: Store,
    policy: Policy,
    months: list[str],
    as_of: datetime,
    *,
    carrier: str | None = None,
    latest: bool = False,
) -> pl.DataFrame:
    """Per (month, carrier) counts of ``months`` as of ``as_of`` (:data:`COUNTS_SCHEMA`).

    A reader (``latest`` false) is served the *published* result set (:func:`served_counts`):
    it never waits for a publication and never recomputes because of an ingest; until the
    writer has published, it gets the figures of the set before (its ``store_version`` and
    ``as_of``: :func:`subsidy.results.describe`). It computes only when nothing is published
    for the policy and registry in force (a store from before, a new registry: the set is
    built and stored, under the writers' lock), for a look back (``as_of`` before the set's)
    and past a stored scan the set has not seen (computed, nothing stored).

    ``latest``: the figures of the store as it is now (closing a month): the stored set is
    brought to the current version first, as a writer does.
    """
    if latest:
        return _latest_counts(store, policy, months, as_of, carrier)
    rs = current(store)
    if rs is None or rs.fingerprint != inputs_fingerprint(store, policy):
        rs = refresh(store, policy, as_of)
    counts = served_counts(store, policy, rs, as_of)
    if counts is None:
        if as_of < rs.as_of:
            return compute_counts(store, policy, as_of, months=months, carrier=carrier)
        counts = _refreshed(store, policy, as_of, rs, rs.store_version)[0]
    if counts is not rs.counts:
        return _select(counts, months, carrier)
    key = (rs.seq, tuple(months), carrier)
    cached = _SELECTED.get(store.root)
    if cached is None or cached[0] != key:
        cached = (key, _select(counts, months, carrier))
        _SELECTED[store.root] = cached
    return cached[1]


#: Per process: the last selection served of each store's published counts.
_SELECTED: dict[Path, tuple[tuple[int, tuple[str, ...], str | None], pl.DataFrame]] = {}
#: Per process: fingerprints of (policy, registry rows) seen.
_FINGERPRINTS: dict[tuple[object, tuple[tuple[object, ...], ...]], str] = {}


#: Per process: each store's registry rows, by the state of its database files.
_DbState = tuple[tuple[int, int, int], ...]
_REGISTRY_ROWS: dict[Path, tuple[_DbState, tuple[tuple[object, ...], ...]]] = {}


def _db_state(store: Store) -> _DbState:
    """Inode, size and modification time of the SQLite database and its write-ahead log: any
    committed write changes one of them (a registry read again only after a write)."""
    out = []
    for path in (store.db_path, store.db_path.with_name(store.db_path.name + "-wal")):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            out.append((0, 0, 0))
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def inputs_fingerprint(store: Store, policy: Policy) -> str:
    """``fingerprint(policy, load_sites(store))``, remembered per registry content: the rows
    are read again only after a write to the database, the digest computed again only when
    they (or the policy's values) changed."""
    state = _db_state(store)
    seen = _REGISTRY_ROWS.get(store.root)
    if seen is not None and seen[0] == state:
        rows = seen[1]
    else:
        with store.connect() as db:
            rows = tuple(
                tuple(r)
                for r in db.execute(
                    f"SELECT {', '.join(REGISTRY_COLUMNS)} FROM sites ORDER BY site_code"
                ).fetchall()
            )
        _REGISTRY_ROWS[store.root] = (state, rows)
    key = (
        (
            policy.window_start,
            policy.window_end,
            policy.max_transit,
            tuple((r.effective_from, r.rate_fen) for r in policy.rates),
        ),
        rows,
    )
    known = _FINGERPRINTS.get(key)
    if known is None:
        if len(_FINGERPRINTS) > 16:
            _FINGERPRINTS.clear()
        known = _FINGERPRINTS[key] = fingerprint(policy, load_sites(store))
    return known


def served_counts(
    store: Store, policy: Policy, rs: ResultSet, as_of: datetime
) -> pl.DataFrame | None:
    """The counts of ``rs`` as of ``as_of`` without running the rule, or ``None`` when the set
    cannot say (``as_of`` before its ``T``, or at or after its ``scan_after``).

    Up to the first stored scan after ``T``, time passing only turns pending parcels into
    ``no_hub_arrival`` once ``as_of >= D + max_transit`` (SPEC §5): those are counted from the
    set's pending parcels (read once per set and process) and moved, in ``D``'s month.
    """
    if as_of < rs.as_of:
        return None
    if rs.valid_until is None or as_of < rs.valid_until:
        return rs.counts
    if rs.scan_after is not None and as_of >= rs.scan_after:
        return None
    expired = (
        _expiries(store, policy, rs)
        .filter(pl.col("expires") <= to_local(as_of))
        .group_by("month", "carrier")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    if not expired.height:
        return rs.counts
    zero = [pl.lit(0, pl.Int64).alias(c) for c in COUNT_COLUMNS]
    minus = expired.select("month", "carrier", *zero).with_columns(
        expired["n"].alias("pending_parcels")
    )
    plus = expired.select("month", "carrier", *zero).with_columns(
        expired["n"].alias("no_hub_arrival")
    )
    return tidy(_patch(rs.counts, minus, plus))


#: Per process, the pending parcels' expiries of the last set read (store root -> set).
_EXPIRIES: dict[Path, tuple[tuple[int, str, float], pl.DataFrame]] = {}


def _expiries(store: Store, policy: Policy, rs: ResultSet) -> pl.DataFrame:
    """``month``, ``carrier`` and ``expires`` (``D + max_transit``) of the set's pending
    parcels."""
    key = (rs.seq, rs.pending, policy.max_transit.total_seconds())
    cached = _EXPIRIES.get(store.root)
    if cached is not None and cached[0] == key:
        return cached[1]
    frame = pl.read_parquet(store.root / rs.pending).select(
        pl.col("d_time").dt.strftime("%Y-%m").alias("month"),  # as subsidy.rule counts it
        "carrier",
        (pl.col("d_time") + pl.lit(policy.max_transit)).alias("expires"),
    )
    _EXPIRIES[store.root] = (key, frame)
    return frame


def _select(counts: pl.DataFrame, months: list[str], carrier: str | None) -> pl.DataFrame:
    counts = counts.filter(pl.col("month").is_in(months))
    return counts if carrier is None else counts.filter(pl.col("carrier") == carrier)


def _latest_counts(
    store: Store, policy: Policy, months: list[str], as_of: datetime, carrier: str | None
) -> pl.DataFrame:
    rs = current(store)
    fresh = (
        rs is not None
        and rs.store_version == store.version()
        and rs.answers(as_of)
        and rs.fingerprint == fingerprint(policy, load_sites(store))
    )
    if not fresh:
        if rs is not None and as_of < rs.as_of:
            return compute_counts(store, policy, as_of, months=months, carrier=carrier)
        rs = refresh(store, policy, as_of)
    assert rs is not None
    return _select(rs.counts, months, carrier)


# -- publishing: writers ----------------------------------------------------------------------
def publish(store: Store, policy: Policy, now: datetime) -> ResultSet | None:
    """The writer's side of an ingest (run right after its commit, in the ingesting process):
    bring the published set to the store's current version, so readers find the new figures
    ready. ``None`` when nothing is published yet (the first reader builds the set).

    The set keeps its ``as_of`` ``T``, moved forward to the latest scan of the new files when
    that is later (not past ``now``), so a reader as of now is served without computing.
    Incremental as :func:`refresh`; until it returns, readers are served the set before. A
    crash leaves that set published (``current.json`` is replaced last, atomically); the next
    ingest or the upkeep job publishes.
    """
    with locked(store):
        rs = current(store)
        if rs is None:
            return None
        version = store.version()
        if rs.store_version == version and rs.fingerprint == fingerprint(policy, load_sites(store)):
            return rs
        as_of = rs.as_of
        newest = [hi for _p, _v, _lo, hi in store.event_file_ranges(newer_than=rs.store_version)]
        known = [hi for hi in newest if hi is not None]
        if known and len(known) == len(newest):
            latest_scan = to_local(EPOCH + timedelta(microseconds=max(known)))
            as_of = max(as_of, min(latest_scan, to_local(now)))
        return _bring_up_locked(store, policy, as_of, rs, version)


def upkeep_publish(store: Store, policy: Policy, now: datetime) -> bool:
    """The upkeep job's catch-up: publish what an interrupted publication left unpublished.
    Returns whether a new set was published."""
    before = current(store)
    after = publish(store, policy, now)
    return after is not None and (before is None or after.seq != before.seq)


# -- building and refreshing ------------------------------------------------------------------
def rebuild(store: Store, policy: Policy, as_of: datetime) -> ResultSet:
    """Compute and store the result set of the current store version as of ``as_of``."""
    with locked(store):
        return _rebuild_locked(store, policy, as_of, current(store))


def refresh(store: Store, policy: Policy, as_of: datetime) -> ResultSet:
    """Bring the stored result set to the current store version and ``as_of``.

    Incremental when a set exists for the same policy and registry, at an ``as_of`` not later
    than this one, and no event file was retired since; otherwise a full rebuild.
    """
    with locked(store):
        rs = current(store)
        version = store.version()
        if (
            rs is not None
            and rs.fingerprint == fingerprint(policy, load_sites(store))
            and rs.store_version == version
            and rs.answers(as_of)
        ):
            return rs
        return _bring_up_locked(store, policy, as_of, rs, version)


def _bring_up_locked(
    store: Store, policy: Policy, as_of: datetime, rs: ResultSet | None, version: int
) -> ResultSet:
    if (
        rs is None
        or rs.fingerprint != fingerprint(policy, load_sites(store))
        or as_of < rs.as_of
        or version < rs.store_version
        or sum(Path(part).name == DELTA_NAME for part in rs.parts) >= MAX_DELTAS
        or store.retired_since(rs.store_version)
    ):
        return _rebuild_locked(store, policy, as_of, rs)
    return _refresh_locked(store, policy, as_of, rs, version)


def _rebuild_locked(
    store: Store, policy: Policy, as_of: datetime, previous: ResultSet | None
) -> ResultSet:
    sites = load_sites(store)
    version = store.version()
    seq = (previous.seq + 1) if previous else 1
    folder = set_folder(store, seq)
    shutil.rmtree(folder, ignore_errors=True)
    paths = _store_statuses(store, sites, policy, as_of, version, folder / "base")
    statuses = pl.scan_parquet(paths, glob=False) if paths else pl.LazyFrame(schema=STATUS_SCHEMA)
    counts, pending = pl.collect_all(
        [counts_of(statuses), _pending_of(statuses)], engine="streaming"
    )
    return _keep(
        store,
        policy,
        as_of,
        version=version,
        seq=seq,
        fingerprint=fingerprint(policy, sites),
        counts=counts,
        parts=paths,
        pending=pending,
    )


def _refreshed(
    store: Store, policy: Policy, as_of: datetime, rs: ResultSet, version: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The counts, the new status rows of the parcels that changed since ``rs``, and the
    pending parcels' rows afterwards (nothing is written: readers use it too).

    A pending parcel without a scan the set has not seen changes only by time passing (SPEC
    §5: pending while ``as_of < D + max_transit``, else ``no_hub_arrival``): its row is
    updated from the set's pending rows, without looking it up or running the rule (a set
    saved before the pending rows were kept whole re-runs them all, as before).
    """
    files = store.event_file_ranges(version=version)
    delta = _changed_events(files, rs, as_of)
    changed = delta.select(PARCEL).unique()
    pending = pl.read_parquet(store.root / rs.pending)
    if set(STATUS_SCHEMA.names()) <= set(pending.columns):
        waiting = pending.select(STATUS_SCHEMA.names()).join(changed, on=PARCEL, how="anti")
        affected = changed
    else:
        waiting = pl.DataFrame(schema=STATUS_SCHEMA)
        affected = pl.concat([changed, pending.select(PARCEL)]).unique()
    old_rows = _latest_rows(store, rs.parts, affected)
    events = pl.concat(
        [
            delta,
            _as_events(old_rows),
            _arrivals_after_new_departures(files, rs, as_of, delta, old_rows),
        ],
        how="vertical_relaxed",
    )
    ruled = parcel_statuses(events.lazy(), load_sites(store).lazy(), policy, as_of).collect()
    ends = pl.lit(to_local(as_of)) >= pl.col("d_time") + pl.lit(policy.max_transit)
    expired = waiting.filter(ends)
    no_arrival = expired.with_columns(
        pl.lit("ineligible").alias("status"), pl.lit("no_hub_arrival").alias("reason")
    )
    new_rows = pl.concat([ruled.select(STATUS_SCHEMA.names()), no_arrival])
    counts = _patch(
        rs.counts,
        counts_of(pl.concat([old_rows, expired]).lazy()).collect(),
        counts_of(new_rows.lazy()).collect(),
    )
    still = pl.concat([waiting.filter(~ends), _pending_of(ruled.lazy()).collect()])
    return tidy(counts), new_rows, still


def _refresh_locked(
    store: Store, policy: Policy, as_of: datetime, rs: ResultSet, version: int
) -> ResultSet:
    counts, new_rows, pending = _refreshed(store, policy, as_of, rs, version)
    seq = rs.seq + 1
    folder = set_folder(store, seq)
    folder.mkdir(parents=True, exist_ok=True)
    # the previous set's parts are immutable: the new set lists them again, plus its delta
    delta_path = folder / DELTA_NAME
    new_rows.write_parquet(delta_path, compression="zstd")
    return _keep(
        store,
        policy,
        as_of,
        version=version,
        seq=seq,
        fingerprint=rs.fingerprint,
        counts=counts,
        parts=[*(store.root / p for p in rs.parts), delta_path],
        pending=pending,
    )


def _keep(
    store: Store,
    policy: Policy,
    as_of: datetime,
    *,
    version: int,
    seq: int,
    fingerprint: str,
    counts: pl.DataFrame,
    parts: list[Path],
    pending: pl.DataFrame,
) -> ResultSet:
    """Write the set's pending parcels, then save and return the set."""
    pending_path = set_folder(store, seq) / "pending.parquet"
    pending.write_parquet(pending_path)
    expiry, scan_after = _horizon(store, version, pending, policy, as_of)
    rs = ResultSet(
        store_version=version,
        as_of=as_of,
        valid_until=min((t for t in (expiry, scan_after) if t is not None), default=None),
        scan_after=scan_after,
        fingerprint=fingerprint,
        counts=tidy(counts),
        parts=tuple(str(p.relative_to(store.root)) for p in parts),
        pending=str(pending_path.relative_to(store.root)),
        seq=seq,
    )
    save(store, rs)
    return rs


FileRanges = list[tuple[Path, int, int | None, int | None]]


def _changed_events(files: FileRanges, rs: ResultSet, as_of: datetime) -> pl.DataFrame:
    """The scans the set did not see: in files committed since, or dated in ``(T, as_of]``."""
    t_old, t_new = _us(rs.as_of), _us(as_of)
    ts = pl.col("scan_time").dt.epoch("us")
    new_files = [p for p, v, _lo, _hi in files if v > rs.store_version]
    late_files = [
        p
        for p, v, lo, hi in files
        if v <= rs.store_version and (hi is None or hi > t_old) and (lo is None or lo <= t_new)
    ]
    parts = []
    if new_files:
        parts.append(_scan(new_files).filter(ts <= t_new))
    if late_files:
        parts.append(_scan(late_files).filter((ts > t_old) & (ts <= t_new)))
    if not parts:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    return pl.concat(parts).collect(engine="streaming")


def _arrivals_after_new_departures(
    files: FileRanges,
    rs: ResultSet,
    as_of: datetime,
    delta: pl.DataFrame,
    old_rows: pl.DataFrame,
) -> pl.DataFrame:
    """A departure earlier than the known ``D`` (or a first one): the parcel's stored arrival
    scans after it, which the stored row could not count."""
    first_depart = (
        delta.filter(pl.col("scan_type") == "depart")
        .group_by(PARCEL)
        .agg(pl.col("scan_time").min().alias("dep"))
        .join(old_rows.select(*PARCEL, "d_time"), on=PARCEL, how="left")
        .filter(pl.col("d_time").is_null() | (pl.col("dep") < pl.col("d_time")))
    )
    if not first_depart.height:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    since = _us(first_depart["dep"].min())  # type: ignore[arg-type]
    old_files = [
        p for p, v, _lo, hi in files if v <= rs.store_version and (hi is None or hi > since)
    ]
    if not old_files:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    ts = pl.col("scan_time").dt.epoch("us")
    return (
        _scan(old_files)
        .filter(
            (ts > since)
            & (ts <= min(_us(rs.as_of), _us(as_of)))
            & pl.col("scan_type").is_in(ARRIVAL_TYPES)
        )
        .join(first_depart.lazy().select(PARCEL), on=PARCEL, how="semi")
        .collect(engine="streaming")
    )


def _store_statuses(
    store: Store, sites: pl.DataFrame, policy: Policy, as_of: datetime, version: int, out: Path
) -> list[Path]:
    """The rule over the whole snapshot, one shard of one carrier at a time
    (:func:`subsidy.counts.carrier_shards`), written to one Parquet file per shard under
    ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for carrier, shard, events in carrier_shards(store, version):
        path = out / f"carrier={carrier}-{shard:03d}.parquet"
        # In-memory engine, one shard at a time: see "Known issues" in benchmarks/README.md
        # (a streaming run once dropped a hub arrival on its site's last active day).
        parcel_statuses(events, sites.lazy(), policy, as_of).collect().write_parquet(
            path, compression="zstd"
        )
        paths.append(path)
    return paths


def _horizon(
    store: Store, version: int, pending: pl.DataFrame, policy: Policy, as_of: datetime
) -> tuple[datetime | None, datetime | None]:
    """The first instants after ``as_of`` at which a figure can change without a new upload:
    the first pending parcel's ``D + max_transit``, and the first stored scan after it."""
    expiry = None
    if pending.height:
        expiry = to_local(pending["d_time"].min()) + policy.max_transit  # type: ignore[arg-type]
    cutoff = _us(as_of)
    later = [
        p
        for p, _v, _lo, hi in store.event_file_ranges(version=version)
        if hi is None or hi > cutoff
    ]
    if later:
        t = pl.col("scan_time").dt.epoch("us")
        first = (
            pl.scan_parquet(later, glob=False).select(t.filter(t > cutoff).min()).collect().item()
        )
        if first is not None:
            return expiry, to_local(EPOCH + timedelta(microseconds=int(first)))
    return expiry, None


def _us(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def _pending_of(parts: pl.LazyFrame) -> pl.LazyFrame:
    """The pending parcels' whole rows (what a refresh updates as time passes)."""
    return parts.filter(pl.col("status") == "pending").select(STATUS_SCHEMA.names())


def _scan(files: list[Path]) -> pl.LazyFrame:
    return pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA).with_columns(
        pl.col("scan_type").cast(EVENT_SCHEMA["scan_type"])
    )


def _latest_rows(store: Store, parts: tuple[str, ...], parcels: pl.DataFrame) -> pl.DataFrame:
    """The newest stored status row of each of ``parcels`` (parcels without one are absent).

    Part by part, the waybills are looked up first (a filter the Parquet reader applies while
    reading), so memory follows the parcels asked for, not the parts' size.
    """
    if not parts or parcels.height == 0:
        return pl.DataFrame(schema=STATUS_SCHEMA)
    waybills = parcels["waybill_no"].unique().implode()
    found = [
        pl.scan_parquet(store.root / part)
        .filter(pl.col("waybill_no").is_in(waybills))
        .join(parcels.lazy(), on=PARCEL, how="semi")
        .with_columns(pl.lit(i).alias("_part"))
        .collect()
        for i, part in enumerate(parts)
    ]
    return (
        pl.concat(found)
        .sort("_part")
        .group_by(PARCEL, maintain_order=True)
        .last()
        .select(STATUS_SCHEMA.names())
    )


def _as_events(rows: pl.DataFrame) -> pl.DataFrame:
    """A status row's deciding scans (``D``, and ``A`` if any) as events for the rule."""
    depart = rows.select(
        *PARCEL,
        pl.lit("depart").alias("scan_type"),
        pl.col("d_site").alias("site_code"),
        pl.col("d_time").alias("scan_time"),
    )
    arrival = rows.filter(pl.col("a_time").is_not_null()).select(
        *PARCEL,
        pl.col("a_scan_type").alias("scan_type"),
        pl.col("a_site").alias("site_code"),
        pl.col("a_time").alias("scan_time"),
    )
    return pl.concat([depart, arrival]).select(
        pl.col(name).cast(dtype) if name in depart.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in EVENT_SCHEMA.items()
    )


def _patch(counts: pl.DataFrame, minus: pl.DataFrame, plus: pl.DataFrame) -> pl.DataFrame:
    """``counts - minus + plus`` per (month, carrier)."""
    signed = [
        counts.select(COUNTS_SCHEMA.names()),
        minus.select("month", "carrier", *(-pl.col(c) for c in COUNT_COLUMNS)),
        plus.select(COUNTS_SCHEMA.names()),
    ]
    return (
        pl.concat([f.cast(COUNTS_SCHEMA) for f in signed])
        .group_by("month", "carrier")
        .agg(pl.col(c).sum() for c in COUNT_COLUMNS)
    )


#: Every ingest that commits events publishes the new figures (:mod:`ingest.uploads` calls
#: its after-commit hooks in the ingesting process; ingest cannot import this layer).
uploads.AFTER_COMMIT.append(publish)

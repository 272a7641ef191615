"""Materialised results: the rule's per-parcel statuses and per-(month, carrier) counts, stored.

A report is served from stored counts instead of re-running the rule over every event. The
result set in ``DIR/results/current.json`` says what it was computed from and for::

    store_version   the snapshot of the event files it covers
    as_of (T)       the instant it was computed for
    valid_until (H) the first instant at which a figure may change without any new upload:
                    min(D + max_transit over pending parcels, earliest stored scan after T);
                    null when nothing can change
    fingerprint     digest of the policy values the rule reads and of the sites registry
    counts          per (month, carrier): eligible, subsidy, pending, ineligible per reason
    parts           Parquet files of per-parcel statuses (subsidy.rule.STATUS_SCHEMA); a
                    parcel's row in a later part replaces its row in an earlier one
    pending         the parts' pending parcels, so a refresh finds them without a scan

A result set answers ``as_of`` in ``[T, H)`` at the same store version and fingerprint.

Incremental refresh (after an upload, or as time passes) re-runs the rule, the one in
:mod:`subsidy.rule`, only for the parcels that can have changed: those with scans in files
committed since ``store_version`` or dated in ``(T, as_of]``, and the pending ones. The rule
reads only each parcel's earliest district-center departure ``D`` and its earliest hub arrival
after it, so the events it is given for such a parcel are: its new scans, its stored ``D`` and
``A`` as two scans, and -- only for a parcel whose new scans hold a departure earlier than its
stored ``D`` (or that had none) -- its stored scans after that departure. That set yields
exactly the statuses a full rebuild would; counts are patched by subtracting the parcels' old
rows and adding their new ones. ``tests/subsidy/test_results.py`` checks it against full
rebuilds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from core.events import EVENT_SCHEMA
from core.policy import Policy
from core.store import FILE_SCHEMA, Store
from core.timeutil import to_local
from subsidy.rule import ARRIVAL_TYPES, INELIGIBLE_REASONS, PARCEL, STATUS_SCHEMA, parcel_statuses
from subsidy.sites import load_sites

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RESULTS_DIR = "results"
CURRENT = "current.json"
#: More incremental parts (``delta.parquet``, one per refresh) than this and a refresh
#: rebuilds in full (reads stay cheap). The base parts, one per shard, do not count.
MAX_DELTAS = 24
DELTA_NAME = "delta.parquet"
COUNT_COLUMNS = (
    "eligible_parcels",
    "subsidy_fen",
    "pending_parcels",
    *INELIGIBLE_REASONS,
)
COUNTS_SCHEMA = pl.Schema(
    {"month": pl.String, "carrier": pl.String, **dict.fromkeys(COUNT_COLUMNS, pl.Int64)}
)


@dataclass(frozen=True)
class ResultSet:
    """A stored result set (see the module doc)."""

    store_version: int
    as_of: datetime
    valid_until: datetime | None
    fingerprint: str
    counts: pl.DataFrame
    parts: tuple[str, ...]
    pending: str
    seq: int

    def answers(self, as_of: datetime) -> bool:
        """Whether the stored figures are those of ``as_of`` (same version and fingerprint)."""
        return self.as_of <= as_of and (self.valid_until is None or as_of < self.valid_until)


# -- figures --------------------------------------------------------------------------------
def counts_of(statuses: pl.LazyFrame) -> pl.LazyFrame:
    """Per ``(month, carrier)`` counts of status rows (:data:`COUNTS_SCHEMA`)."""
    return statuses.group_by("month", "carrier").agg(
        (pl.col("status") == "eligible").sum().cast(pl.Int64).alias("eligible_parcels"),
        pl.col("subsidy_fen").sum().cast(pl.Int64).alias("subsidy_fen"),
        (pl.col("status") == "pending").sum().cast(pl.Int64).alias("pending_parcels"),
        *((pl.col("reason") == r).sum().cast(pl.Int64).alias(r) for r in INELIGIBLE_REASONS),
    )


def fingerprint(policy: Policy, sites: pl.DataFrame) -> str:
    """Digest of everything besides the events that the figures depend on."""
    digest = hashlib.sha256()
    digest.update(
        repr(
            (
                policy.window_start.isoformat(),
                policy.window_end.isoformat(),
                policy.max_transit.total_seconds(),
                [(r.effective_from.isoformat(), r.rate_fen) for r in policy.rates],
            )
        ).encode()
    )
    digest.update(sites.sort("site_code").write_csv().encode())
    return digest.hexdigest()


#: Events the rule takes in memory at once. A carrier with more is cut into shards of whole
#: parcels (by a hash of the waybill; a parcel never spans carriers or shards), so peak
#: memory follows this number, not the size of the store.
SHARD_EVENTS = 4_000_000


def carrier_shards(
    store: Store, version: int | None = None, *, only: str | None = None
) -> Iterator[tuple[str, int, pl.LazyFrame]]:
    """``(carrier, shard, events)`` covering every stored event of a snapshot once; only
    ``only``'s shards when given. Each shard holds whole parcels."""
    for carrier, rows in store.carrier_rows(version=version).items():
        if only is not None and carrier != only:
            continue
        events = store.scan_events(carriers=[carrier], version=version)
        shards = -(-rows // SHARD_EVENTS)
        if shards <= 1:
            yield carrier, 0, events
            continue
        bucket = pl.col("waybill_no").hash(seed=0) % shards
        for shard in range(shards):
            yield carrier, shard, events.filter(bucket == shard)


def _store_statuses(
    store: Store, sites: pl.DataFrame, policy: Policy, as_of: datetime, version: int, out: Path
) -> list[Path]:
    """The rule over the whole snapshot, one shard of one carrier at a time
    (:func:`carrier_shards`), written to one Parquet file per shard under ``out``."""
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
        return _tidy(pl.DataFrame(schema=COUNTS_SCHEMA))
    shards = pl.concat(frames)  # a carrier's shards hold disjoint parcels: their sum
    return _tidy(shards.group_by("month", "carrier").agg(pl.col(c).sum() for c in COUNT_COLUMNS))


def _tidy(counts: pl.DataFrame) -> pl.DataFrame:
    nonzero = pl.any_horizontal([pl.col(c) != 0 for c in COUNT_COLUMNS])
    return (
        counts.select(COUNTS_SCHEMA.names())
        .cast(COUNTS_SCHEMA)
        .filter(nonzero)
        .sort("month", "carrier")
    )


# -- storage --------------------------------------------------------------------------------
def _dir(store: Store) -> Path:
    return store.root / RESULTS_DIR


@contextlib.contextmanager
def _lock(store: Store) -> Iterator[None]:
    _dir(store).mkdir(parents=True, exist_ok=True)
    with (_dir(store) / ".lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def current(store: Store) -> ResultSet | None:
    """The stored result set, or ``None``."""
    path = _dir(store) / CURRENT
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return ResultSet(
        store_version=doc["store_version"],
        as_of=datetime.fromisoformat(doc["as_of"]),
        valid_until=None
        if doc["valid_until"] is None
        else datetime.fromisoformat(doc["valid_until"]),
        fingerprint=doc["fingerprint"],
        counts=pl.DataFrame(doc["counts"], schema=COUNTS_SCHEMA, orient="row"),
        parts=tuple(doc["parts"]),
        pending=doc["pending"],
        seq=doc["seq"],
    )


def _save(store: Store, rs: ResultSet) -> None:
    doc = {
        "seq": rs.seq,
        "store_version": rs.store_version,
        "as_of": rs.as_of.isoformat(),
        "valid_until": None if rs.valid_until is None else rs.valid_until.isoformat(),
        "fingerprint": rs.fingerprint,
        "parts": list(rs.parts),
        "pending": rs.pending,
        "counts": [list(r) for r in rs.counts.select(COUNTS_SCHEMA.names()).iter_rows()],
    }
    target = _dir(store) / CURRENT
    tmp = target.with_name(f".{CURRENT}.{os.getpid()}")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, target)
    keep = {Path(p).parts[1] for p in (*rs.parts, rs.pending)}
    for folder in _dir(store).iterdir():  # earlier sets' files nobody lists any more
        if folder.is_dir() and folder.name.startswith("s") and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _horizon(
    store: Store, version: int, pending: pl.DataFrame, policy: Policy, as_of: datetime
) -> datetime | None:
    """The first instant after ``as_of`` at which a figure can change without a new upload."""
    limits = []
    if pending.height:
        limits.append(to_local(pending["d_time"].min()) + policy.max_transit)  # type: ignore[arg-type]
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
            limits.append(to_local(EPOCH + timedelta(microseconds=int(first))))
    return min(limits) if limits else None


def _us(value: datetime) -> int:
    return int(to_local(value).timestamp() * 1_000_000)


def _pending_of(parts: pl.LazyFrame) -> pl.LazyFrame:
    return parts.filter(pl.col("status") == "pending").select(*PARCEL, "d_time")


# -- building and refreshing -----------------------------------------------------------------
def rebuild(store: Store, policy: Policy, as_of: datetime) -> ResultSet:
    """Compute and store the result set of the current store version as of ``as_of``."""
    with _lock(store):
        return _rebuild_locked(store, policy, to_local(as_of), current(store))


def _rebuild_locked(
    store: Store, policy: Policy, as_of: datetime, previous: ResultSet | None
) -> ResultSet:
    sites = load_sites(store)
    version = store.version()
    seq = (previous.seq + 1) if previous else 1
    folder = _dir(store) / f"s{seq:06d}"
    shutil.rmtree(folder, ignore_errors=True)
    paths = _store_statuses(store, sites, policy, as_of, version, folder / "base")
    statuses = pl.scan_parquet(paths, glob=False) if paths else pl.LazyFrame(schema=STATUS_SCHEMA)
    counts, pending = pl.collect_all(
        [counts_of(statuses), _pending_of(statuses)], engine="streaming"
    )
    pending_path = folder / "pending.parquet"
    pending.write_parquet(pending_path)
    rs = ResultSet(
        store_version=version,
        as_of=as_of,
        valid_until=_horizon(store, version, pending, policy, as_of),
        fingerprint=fingerprint(policy, sites),
        counts=_tidy(counts),
        parts=tuple(str(p.relative_to(store.root)) for p in paths),
        pending=str(pending_path.relative_to(store.root)),
        seq=seq,
    )
    _save(store, rs)
    return rs


def refresh(store: Store, policy: Policy, as_of: datetime) -> ResultSet:
    """Bring the stored result set to the current store version and ``as_of``.

    Incremental when a set exists for the same policy and registry, at an ``as_of`` not later
    than this one, and no event file was retired since; otherwise a full rebuild.
    """
    as_of = to_local(as_of)
    with _lock(store):
        rs = current(store)
        version = store.version()
        same_inputs = rs is not None and rs.fingerprint == fingerprint(policy, load_sites(store))
        if same_inputs and rs.store_version == version and rs.answers(as_of):  # type: ignore[union-attr]
            return rs  # type: ignore[return-value]
        if (
            rs is None
            or not same_inputs
            or as_of < rs.as_of
            or version < rs.store_version
            or sum(Path(part).name == DELTA_NAME for part in rs.parts) >= MAX_DELTAS
            or store.retired_since(rs.store_version)
        ):
            return _rebuild_locked(store, policy, as_of, rs)
        return _refresh_locked(store, policy, as_of, rs, version)


def _refresh_locked(
    store: Store, policy: Policy, as_of: datetime, rs: ResultSet, version: int
) -> ResultSet:
    sites = load_sites(store)
    t_old, t_new = _us(rs.as_of), _us(as_of)
    ts = pl.col("scan_time").dt.epoch("us")
    files = store.event_file_ranges(version=version)
    new_files = [p for p, v, _lo, _hi in files if v > rs.store_version]
    # stored scans the set did not see: dated after its as_of (and up to the new one)
    late_files = [
        p
        for p, v, lo, hi in files
        if v <= rs.store_version and (hi is None or hi > t_old) and (lo is None or lo <= t_new)
    ]
    delta_parts = []
    if new_files:
        delta_parts.append(_scan(new_files).filter(ts <= t_new))
    if late_files:
        delta_parts.append(_scan(late_files).filter((ts > t_old) & (ts <= t_new)))
    delta = (
        pl.concat(delta_parts).collect(engine="streaming")
        if delta_parts
        else pl.DataFrame(schema=EVENT_SCHEMA)
    )
    pending = pl.read_parquet(store.root / rs.pending).select(PARCEL)
    affected = pl.concat([delta.select(PARCEL).unique(), pending]).unique()
    old_rows = _latest_rows(store, rs.parts, affected)
    # a departure earlier than the known D (or a first one): the parcel's stored scans after it
    # may hold an arrival the stored row could not count
    first_depart = (
        delta.filter(pl.col("scan_type") == "depart")
        .group_by(PARCEL)
        .agg(pl.col("scan_time").min().alias("dep"))
        .join(old_rows.select(*PARCEL, "d_time"), on=PARCEL, how="left")
        .filter(pl.col("d_time").is_null() | (pl.col("dep") < pl.col("d_time")))
    )
    lookup = pl.DataFrame(schema=EVENT_SCHEMA)
    if first_depart.height:
        since = _us(first_depart["dep"].min())  # type: ignore[arg-type]
        old_files = [
            p for p, v, _lo, hi in files if v <= rs.store_version and (hi is None or hi > since)
        ]
        if old_files:
            lookup = (
                _scan(old_files)
                .filter(
                    (ts > since)
                    & (ts <= min(t_old, t_new))
                    & pl.col("scan_type").is_in(ARRIVAL_TYPES)
                )
                .join(first_depart.lazy().select(PARCEL), on=PARCEL, how="semi")
                .collect(engine="streaming")
            )
    events = pl.concat(
        [
            delta,
            _as_events(old_rows),
            lookup,
        ],
        how="vertical_relaxed",
    )
    new_rows = parcel_statuses(events.lazy(), sites.lazy(), policy, as_of).collect()
    counts = _patch(
        rs.counts, counts_of(old_rows.lazy()).collect(), counts_of(new_rows.lazy()).collect()
    )
    seq = rs.seq + 1
    folder = _dir(store) / f"s{seq:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    # the previous set's parts are immutable: the new set lists them again, plus its delta
    delta_path = folder / DELTA_NAME
    new_rows.write_parquet(delta_path, compression="zstd")
    pending_all = _pending_of(new_rows.lazy()).collect()
    pending_path = folder / "pending.parquet"
    pending_all.write_parquet(pending_path)
    out = ResultSet(
        store_version=version,
        as_of=as_of,
        valid_until=_horizon(store, version, pending_all, policy, as_of),
        fingerprint=rs.fingerprint,
        counts=_tidy(counts),
        parts=(*rs.parts, str(delta_path.relative_to(store.root))),
        pending=str(pending_path.relative_to(store.root)),
        seq=seq,
    )
    _save(store, out)
    return out


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


# -- serving --------------------------------------------------------------------------------
def adopt_compaction(store: Store, compaction: dict[str, Any]) -> bool:
    """After :func:`ingest.upkeep.compact_store`, which rewrites files but changes no event,
    the result set of the version before holds for the version after: say so, instead of
    letting the next report rebuild everything. Returns whether the set was carried over.
    """
    before, after = compaction["from_version"], compaction["to_version"]
    if before == after:
        return False
    with _lock(store):
        rs = current(store)
        if rs is None or rs.store_version != before:
            return False
        _save(store, dataclasses.replace(rs, store_version=after))
    return True


def month_counts(
    store: Store,
    policy: Policy,
    months: list[str],
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> pl.DataFrame:
    """Per (month, carrier) counts of ``months`` as of ``as_of`` (:data:`COUNTS_SCHEMA`).

    Served from the stored result set when it answers ``as_of`` at the current store version;
    for an ``as_of`` at or after the set's, the set is refreshed first (incrementally) and
    kept; an earlier ``as_of`` (a look back) is computed without touching what is stored.
    """
    as_of = to_local(as_of)
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
    counts = rs.counts.filter(pl.col("month").is_in(months))
    if carrier is not None:
        counts = counts.filter(pl.col("carrier") == carrier)
    return counts


def describe(rs: ResultSet) -> dict[str, Any]:
    """A JSON-ready summary of a result set (benchmarks, diagnostics)."""
    return {
        "seq": rs.seq,
        "store_version": rs.store_version,
        "as_of": rs.as_of.isoformat(),
        "valid_until": None if rs.valid_until is None else rs.valid_until.isoformat(),
        "parts": len(rs.parts),
        "carrier_months": rs.counts.height,
    }

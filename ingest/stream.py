"""Ingest one upload in bounded memory: rows flow batch by batch through validation into a
spill of the upload's own, then each (carrier, month) partition is de-duplicated and written
in waybill ranges small enough to de-duplicate in memory.

Two phases, under the writer lock (see :func:`ingest.uploads.ingest_upload`)::

    spill_upload       read BATCH rows at a time -> validate -> events by (carrier, month),
                       rejects; held in memory up to a budget, then appended to Arrow IPC
                       files under the upload's scratch folder (DIR/tmp/ingest-<id>/)
    write_partitions   per partition: when it (with the stored events it may repeat) is
                       larger than one bucket, its rows are split into waybill ranges (bounds
                       from a sample); each range is de-duplicated within the file by a hash
                       table of the identities (first occurrence, lowest row_no) and against
                       the stored events of the same range and time span (anti-join), then
                       appended, in row order, to the partition's one event file, whose row
                       groups therefore follow the waybill ranges (nothing is sorted: the
                       upkeep job rewrites the file in the stored order, ingest/upkeep.py)

Memory follows :class:`IngestLimits`, not the file: about the budget plus one bucket
de-duplicated. Every copy of an event has the same carrier, month and waybill, so it meets its
twins in one bucket: the result equals de-duplicating the whole file at once.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from core.events import IDENTITY
from core.store import FILE_SCHEMA, Opener, Store, event_file_name, fsync_file
from ingest.reader import RawFile, damaged
from ingest.validate import REJECT_COLUMNS, accepted_events, rejected_rows

#: The order of compacted event files (``parcel`` lookups prune row groups by waybill), extended
#: to the whole identity. An upload's own files are in the order of its rows within each
#: waybill range; the upkeep job rewrites them in this order (:mod:`ingest.upkeep`).
STORED_ORDER: tuple[str, ...] = ("waybill_no", "scan_time", "scan_type", "site_code", "carrier")
_MiB = 1 << 20


@dataclass(frozen=True)
class IngestLimits:
    """How much of an upload is held at once. Defaults keep one ingest under 0.7 GiB whatever
    the file's size; tests pass small values to cross every boundary with a few rows."""

    #: rows read and validated at a time
    batch_rows: int = 131_072
    #: decoded bytes of validated rows held in memory before they are spilled to scratch files
    memory_bytes: int = 64 * _MiB
    #: rows (new and stored) de-duplicated at once; a larger partition is split into waybill
    #: ranges (the bucket's rows, its hash table and the stored rows it meets are held)
    bucket_rows: int = 500_000
    #: decoded bytes of new rows de-duplicated at once (long values make few rows large)
    bucket_bytes: int = 64 * _MiB


class _Budget:
    """Bytes held in memory by a set of :class:`_Chunks`; over the limit, all are spilled
    (to files opened by ``opener``, the store's write seam)."""

    def __init__(self, limit: int, opener: Opener) -> None:
        self.limit = limit
        self.opener = opener
        self.members: list[_Chunks] = []

    def held(self) -> int:
        return sum(c.held for c in self.members)

    def close(self) -> None:
        """Close every open spill file (after a failure; the scratch folder is removed)."""
        for chunks in list(self.members):
            with contextlib.suppress(Exception):
                chunks.drop()

    def check(self) -> None:
        if self.held() > self.limit:
            for chunks in self.members:
                chunks.spill()


class _Chunks:
    """An append-only run of Arrow tables of one schema: in memory until spilled, then in one
    Arrow IPC file (lz4) in the scratch folder. Read back in the order written."""

    def __init__(self, path: Path, budget: _Budget) -> None:
        self.path = path
        self.sink: BinaryIO | None = None
        self.rows = 0
        self.nbytes = 0
        self.held = 0
        self.tables: list[pa.Table] = []
        self.writer: ipc.RecordBatchFileWriter | None = None
        self.on_disk = False
        self.budget = budget
        budget.members.append(self)

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.tables.append(table)
        self.rows += table.num_rows
        self.nbytes += table.nbytes
        self.held += table.nbytes
        self.budget.check()

    def spill(self) -> None:
        if not self.tables:
            return
        if self.writer is None:
            options = ipc.IpcWriteOptions(compression="lz4")
            self.sink = self.budget.opener(self.path)
            self.writer = ipc.new_file(self.sink, self.tables[0].schema, options=options)
            self.on_disk = True
        for table in self.tables:
            self.writer.write_table(table)
        self.tables = []
        self.held = 0

    def read(self) -> Iterator[pa.Table]:
        """Every table, in the order added (spilled ones first: they came first)."""
        if self.writer is not None:
            self.spill()
            self._close()
        if self.on_disk:
            with pa.OSFile(str(self.path)) as source:  # not mapped: mapped pages count in RSS
                reader = ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield pa.Table.from_batches([reader.get_batch(i)])
        yield from self.tables

    def _close(self) -> None:
        writer, sink = self.writer, self.sink
        self.writer = self.sink = None
        try:
            if writer is not None:
                writer.close()
        finally:
            if sink is not None:
                sink.close()

    def drop(self) -> None:
        """Forget the rows (memory and file)."""
        self._close()
        self.tables = []
        self.held = 0
        if self.on_disk:
            self.path.unlink(missing_ok=True)
            self.on_disk = False
        if self in self.budget.members:
            self.budget.members.remove(self)


@dataclass
class _Partition:
    carrier: str
    month: str
    chunks: _Chunks
    lo_us: int | None = None
    hi_us: int | None = None

    def widen(self, lo: int, hi: int) -> None:
        self.lo_us = lo if self.lo_us is None else min(self.lo_us, lo)
        self.hi_us = hi if self.hi_us is None else max(self.hi_us, hi)


@dataclass
class Spilled:
    """An upload's validated rows, partitioned, in memory or in its scratch folder."""

    partitions: dict[tuple[str, int], _Partition]
    rejects: _Chunks
    budget: _Budget
    rows_read: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def reject_rows(self) -> Iterator[tuple[object, ...]]:
        """The rejected rows as tuples of :data:`REJECT_COLUMNS`, in file order per batch."""
        for table in self.rejects.read():
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            yield from frame.select(REJECT_COLUMNS).iter_rows()


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _month_key() -> pl.Expr:
    # The Asia/Shanghai month as the integer YYYYMM; only each partition's key becomes text.
    when = pl.col("scan_time")
    return (when.dt.year() * 100 + when.dt.month()).alias("_month")


def spill_upload(
    raw: RawFile,
    validate: Callable[[pl.LazyFrame], pl.LazyFrame],
    scratch: Path,
    limits: IngestLimits,
    opener: Opener,
) -> Spilled:
    """Read, validate and partition every row of ``raw``; see the module docstring.

    ``validate`` is :func:`ingest.validate.validate` with the upload's parameters bound;
    ``opener`` opens the spill files (the store's write seam, :attr:`Store.open_write`).
    """
    budget = _Budget(limits.memory_bytes, opener)
    spilled = Spilled({}, _Chunks(scratch / "rejects.arrow", budget), budget)
    t = pl.col("scan_time").dt.epoch("us")
    try:
        for batch in raw.batches(limits.batch_rows):
            validated = validate(batch.lazy())
            try:
                events, rejects = pl.collect_all(
                    [
                        accepted_events(validated).with_columns(
                            pl.col("scan_type").cast(pl.String), _month_key()
                        ),
                        rejected_rows(validated),
                    ]
                )
            except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException) as exc:
                raise damaged(exc) from None
            spilled.rows_read += batch.height
            del batch, validated
            if rejects.height:
                spilled.by_reason.update(dict(rejects["reason"].value_counts().iter_rows()))
                spilled.rejects.add(rejects.to_arrow())
            if not events.height:
                continue
            parts = events.partition_by(["carrier", "_month"], as_dict=True, maintain_order=True)
            for key, part in parts.items():
                carrier, yyyymm = str(key[0]), int(key[1])
                target = spilled.partitions.get((carrier, yyyymm))
                if target is None:
                    month = f"{yyyymm // 100:04d}-{yyyymm % 100:02d}"
                    name = scratch / f"part-{len(spilled.partitions)}.arrow"
                    target = _Partition(carrier, month, _Chunks(name, budget))
                    spilled.partitions[(carrier, yyyymm)] = target
                lo, hi = part.select(t.min(), t.max().alias("hi")).row(0)
                target.widen(lo, hi)
                target.chunks.add(part.drop("_month").to_arrow())
    except BaseException:
        budget.close()  # open spill files; the caller removes the scratch folder
        raise
    return spilled


def _identity_hashes(events: pl.DataFrame) -> pl.Series:
    """A 64-bit hash of each row's identity (equal identities, equal hashes)."""
    return events.select(pl.struct(IDENTITY).hash()).to_series()


#: From this many rows on, :func:`unique_events` compares whole identities only where their
#: hashes repeat (half the CPU on a month's file); below, the steps' fixed costs dominate.
_HASH_FROM_ROWS = 50_000


def unique_events(events: pl.DataFrame) -> pl.DataFrame:
    """The first occurrence (lowest ``row_no``) of each event identity, in ``row_no`` order.

    A 64-bit hash of each identity finds the rows that may have a twin (a repeated hash:
    the repeats, and any collision); only those few are compared by their whole identity,
    so the result is exact. Nothing is sorted: the order the ``parcel`` lookups prune with
    is the upkeep job's to produce (:func:`ingest.upkeep.compact_store`), off the write path.
    """
    if events.height == 0:
        return events
    if not events["row_no"].is_sorted():  # rows arrive in file order; never trust it blindly
        events = events.sort("row_no")
    if events.height < _HASH_FROM_ROWS:  # one pass: each step has a fixed cost
        return events.filter(pl.struct(IDENTITY).is_first_distinct())
    maybe = _identity_hashes(events).is_duplicated()
    if not maybe.any():
        return events
    where = maybe.arg_true()  # ascending: the twins stay in row order
    twins = events[where].select(pl.struct(IDENTITY).is_first_distinct()).to_series()
    keep = (~maybe).scatter(where.filter(twins), True)
    return events.filter(keep)


#: One manifest row: carrier, month, relative path, rows, min and max scan time (epoch us).
ManifestRow = tuple[str, str, str, int, int, int]


@dataclass
class Written:
    """What :func:`write_partitions` did: the manifest rows of the files it wrote, and the
    events left out as repeats within the file and as already stored."""

    manifest: list[ManifestRow] = field(default_factory=list)
    within: int = 0
    already: int = 0


def _stored(store: Store, part: _Partition) -> list[tuple[Path, int, int | None, int | None]]:
    """The partition's current files whose time range overlaps the new rows': path, rows and
    range, from the manifest (no file is opened)."""
    assert part.lo_us is not None and part.hi_us is not None
    return store.overlapping_files(part.carrier, part.month, part.lo_us, part.hi_us)


def _stored_identities(
    files: list[Path], lo_us: int, hi_us: int, waybills: tuple[str | None, str | None]
) -> pl.LazyFrame:
    """Stored identities with a scan time in ``[lo_us, hi_us]`` and a waybill in the range
    ``[low, high)`` (an open end is ``None``). Compacted files are in waybill order and an
    upload's files in waybill ranges, so the reader skips most row groups outside the range."""
    t = pl.col("scan_time").dt.epoch("us")
    keep = (t >= lo_us) & (t <= hi_us)
    low, high = waybills
    if low is not None:
        keep &= pl.col("waybill_no") >= low
    if high is not None:
        keep &= pl.col("waybill_no") < high
    return pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA).select(IDENTITY).filter(keep)


def _bounds(chunks: _Chunks, buckets: int) -> list[str]:
    """Waybill bounds cutting the rows into ``buckets`` ranges of about equal size (from a
    sample of about 256 waybills a bucket)."""
    step = max(1, chunks.rows // (buckets * 256))
    sample = pl.concat(
        [_frame(t.select(["waybill_no"]))["waybill_no"].gather_every(step) for t in chunks.read()]
    ).sort()
    cuts = {sample[len(sample) * i // buckets] for i in range(1, buckets)}
    return sorted(str(c) for c in cuts if c is not None)


def _buckets(
    chunks: _Chunks, buckets: int, scratch: Path, budget: _Budget
) -> Iterator[tuple[pl.DataFrame, tuple[str | None, str | None]]]:
    """The partition's rows in waybill ranges, in range order, each with its range."""
    if buckets <= 1:
        yield pl.concat([_frame(t) for t in chunks.read()]), (None, None)
        return
    bounds = _bounds(chunks, buckets)
    series = pl.Series(bounds, dtype=pl.String)
    parts = [_Chunks(scratch / f"bucket-{i}.arrow", budget) for i in range(len(bounds) + 1)]
    for table in chunks.read():
        frame = _frame(table)
        which = series.search_sorted(frame["waybill_no"], side="right")
        split = frame.with_columns(which.alias("_bucket")).partition_by(
            "_bucket", as_dict=True, include_key=False
        )
        for (index,), piece in split.items():
            parts[int(index)].add(piece.to_arrow())
    chunks.drop()
    edges: list[str | None] = [None, *bounds, None]
    for i, part in enumerate(parts):
        if part.rows:
            yield pl.concat([_frame(t) for t in part.read()]), (edges[i], edges[i + 1])
        part.drop()


#: Arrow schema of the stored event files: :data:`FILE_SCHEMA` with plain (large) strings,
#: what every Parquet reader knows.
COMPAT = pl.CompatLevel.oldest()
FILE_ARROW = pl.DataFrame(schema=FILE_SCHEMA).to_arrow(compat_level=COMPAT).schema
#: An upload's files are rewritten by the upkeep's compaction (sorted, zstd); until then they
#: are LZ4 (Parquet's LZ4_RAW, which DuckDB, Spark and Polars read): a third less CPU to
#: write than zstd, files about twice as large for a day.
_UPLOAD_COMPRESSION = "lz4"
#: Columns of few distinct values, dictionary-encoded; a waybill, a time or a row number is
#: nearly unique, and a dictionary of them costs time to build and bytes to store (writing a
#: month's file: 0.5 s -> 0.3 s, 15 -> 12 MiB).
_DICTIONARY_COLUMNS = ("carrier", "scan_type", "site_code", "next_site_code")


def write_partitions(
    store: Store,
    upload_id: int,
    spilled: Spilled,
    *,
    scratch: Path,
    limits: IngestLimits,
    written: list[Path],
) -> Written:
    """De-duplicate each partition within the file and against the store, and write its new
    events as the upload's one file in the partition's folder (appended to ``written`` as
    soon as it is opened, so a failure can remove it). Files are fsynced, not yet listed."""
    out = Written()
    for part in list(spilled.partitions.values()):
        stored = _stored(store, part)
        stored_rows = sum(n for _p, n, _lo, _hi in stored)
        buckets = math.ceil(
            max(
                (part.chunks.rows + stored_rows) / limits.bucket_rows,
                part.chunks.nbytes / limits.bucket_bytes,
                1,
            )
        )
        rel = (
            Path("events")
            / f"carrier={part.carrier}"
            / f"month={part.month}"
            / event_file_name(upload_id)
        )
        target = store.root / rel
        writer: pq.ParquetWriter | None = None
        sink: BinaryIO | None = None
        rows, lo_us, hi_us = 0, None, None
        try:
            for frame, waybills in _buckets(part.chunks, buckets, scratch, spilled.budget):
                unique = unique_events(frame)
                out.within += frame.height - unique.height
                del frame
                t = pl.col("scan_time").dt.epoch("us")
                lo, hi = unique.select(t.min(), t.max().alias("hi")).row(0)
                files = [
                    p for p, _n, flo, fhi in stored if flo is None or (flo <= hi and fhi >= lo)
                ]
                fresh = unique
                if files:
                    fresh = unique.join(
                        _stored_identities(files, lo, hi, waybills).collect(),
                        on=list(IDENTITY),
                        how="anti",
                        nulls_equal=True,
                        maintain_order="left",
                    )
                unique_rows = unique.height
                out.already += unique_rows - fresh.height
                del unique
                if fresh.height == 0:
                    continue
                if writer is None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    written.append(target)
                    sink = store.open_write(target)
                    writer = pq.ParquetWriter(
                        sink,
                        FILE_ARROW,
                        compression=_UPLOAD_COMPRESSION,
                        write_statistics=True,
                        use_dictionary=list(_DICTIONARY_COLUMNS),
                    )
                writer.write_table(
                    fresh.select(FILE_SCHEMA.names()).to_arrow(compat_level=COMPAT), 256_000
                )
                if fresh.height != unique_rows:  # else the range of the unique rows holds
                    lo, hi = fresh.select(t.min(), t.max().alias("hi")).row(0)
                rows += fresh.height
                lo_us = lo if lo_us is None else min(lo_us, lo)
                hi_us = hi if hi_us is None else max(hi_us, hi)
        finally:
            try:
                if writer is not None:
                    writer.close()
            finally:
                if sink is not None:
                    sink.close()
        part.chunks.drop()
        if writer is None:
            continue
        fsync_file(target)
        assert lo_us is not None and hi_us is not None
        out.manifest.append((part.carrier, part.month, str(rel), rows, lo_us, hi_us))
    return out

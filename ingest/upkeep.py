"""Store upkeep: remove the debris crashes and abandoned uploads leave behind.

What :func:`clean_store` removes, under the writer lock (so no ingest is running)::

    DIR/events/.../*.parquet        files no committed manifest row lists (Store.recover)
    DIR/tmp/*                       scratch files and folders untouched for ``older_than``
                                    (uploads in flight, transcoded CSVs of a dead ingest)
    DIR/files/ab/.<sha>.<pid>.part  partial copies of uploaded files, same age rule

Uploads left ``ingesting`` go back to ``received`` (Store.recover), to be ingested again. The
age rule spares what a live process is still writing outside the writer lock (an API upload
streaming into ``tmp/``).

What :func:`compact_store` does, under the writer lock: every partition (carrier, month) with
at least ``COMPACT_FROM_FILES`` current event files (one per upload that touched it: daily
exports make ~30 a month), or with any file an upload wrote (those are in the order of the
upload's rows within waybill ranges: sorting is kept off the ingest's path), is rewritten as
one file, in the stored order (the order ``parcel`` lookups prune row groups with), holding
the same events (each keeps its ``upload_id`` and ``row_no``), committed as a new store
version that retires the old files in the same transaction. Readers that listed the old files
keep reading them: a retired file is deleted only ``RETIRED_GRACE`` after its retirement, and
never while a closed month's store version (``closed_months.store_version``) is a snapshot
that lists it, so every closed month stays reproducible from the files it was computed from.
"""

from __future__ import annotations

import itertools
import math
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from core.store import FILE_SCHEMA, Store, fsync_file, time_range_us
from core.timeutil import to_local
from ingest.stream import COMPAT, FILE_ARROW, STORED_ORDER

DEFAULT_MAX_AGE = timedelta(days=1)
#: A partition with at least this many current event files is compacted into one.
COMPACT_FROM_FILES = 8
#: A partition of more events is compacted in waybill ranges of about this many (sorting 2M
#: events holds ~1 GiB less than the 3.65M of a carrier's month at 100M rows).
COMPACT_BUCKET_ROWS = 1_000_000
#: How long a retired event file is kept for readers that listed it before its retirement.
RETIRED_GRACE = timedelta(hours=1)


def _older(path: Path, limit: float) -> bool:
    try:
        return path.lstat().st_mtime < limit
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_store(
    store: Store, *, now: datetime, older_than: timedelta = DEFAULT_MAX_AGE
) -> dict[str, Any]:
    """Remove crash debris (see the module doc); returns what was removed, relative paths."""
    limit = (now - older_than).timestamp()
    with store.writer_lock():
        events = store.recover(sweep=True)
        stale = [p for p in store.tmp_dir.glob("*") if _older(p, limit)]
        stale += [p for p in store.files_dir.glob("*/.*.part") if _older(p, limit)]
        for path in stale:
            _remove(path)
    return {
        "unlisted_event_files": [str(p.relative_to(store.root)) for p in events],
        "stale_tmp": [str(p.relative_to(store.root)) for p in stale],
    }


@dataclass(frozen=True)
class _Compacted:
    """One partition rewritten as ``target``: its rows, scan-time range and the old files."""

    carrier: str
    month: str
    target: Path
    rows: int
    min_time_us: int
    max_time_us: int
    old: list[Path]

    def summary(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "month": self.month,
            "files": len(self.old),
            "rows": self.rows,
        }


def compact_store(
    store: Store, *, now: datetime, from_files: int = COMPACT_FROM_FILES
) -> dict[str, Any]:
    """Compact the partitions holding ``from_files`` files or more, or any file an upload
    wrote (not yet in the stored order), then delete the retired files nobody needs any more
    (see the module doc). Returns what was done: the store versions before and after (equal
    when nothing was compacted), the partitions compacted with their file counts, and the
    retired files deleted.
    """
    with store.writer_lock():
        store.recover()
        before = store.version()
        with store.connect() as db:
            crowded = db.execute(
                "SELECT carrier, month, COUNT(*) FROM event_files WHERE retired_version IS NULL"
                " GROUP BY carrier, month HAVING COUNT(*) >= ? OR COUNT(upload_id) > 0"
                " ORDER BY carrier, month",
                (from_files,),
            ).fetchall()
        after = before + 1 if crowded else before
        written: list[_Compacted] = []
        try:
            for carrier, month, _count in crowded:
                written.append(_compact_partition(store, carrier, month, after))
            if written:
                _commit_compaction(store, before, after, written, now)
        except BaseException:
            for done in written:
                done.target.unlink(missing_ok=True)
            raise
        deleted = _delete_retired(store, now)
    return {
        "from_version": before,
        "to_version": after,
        "compacted": [done.summary() for done in written],
        "retired_files_deleted": [str(p.relative_to(store.root)) for p in deleted],
    }


def _compact_partition(store: Store, carrier: str, month: str, version: int) -> _Compacted:
    """Rewrite the partition's current files as one, in the stored order. A partition of more
    than :data:`COMPACT_BUCKET_ROWS` events is sorted in waybill ranges (bounds from a
    sample), one at a time, each appended as row groups: memory follows the range."""
    bucket_rows = COMPACT_BUCKET_ROWS
    old = store.event_files(carriers=[carrier], months=[month])
    with store.connect() as db:
        total = db.execute(
            "SELECT COALESCE(SUM(rows), 0) FROM event_files"
            " WHERE carrier=? AND month=? AND retired_version IS NULL",
            (carrier, month),
        ).fetchone()[0]
    target = old[0].with_name(f"c{version:08d}.parquet")
    scan = pl.scan_parquet(old, glob=False, schema=FILE_SCHEMA)
    ranges: list[pl.Expr | None] = [None]
    buckets = math.ceil(total / bucket_rows)
    if buckets > 1:
        step = max(1, total // (buckets * 256))
        sample = scan.select(pl.col("waybill_no").gather_every(step)).collect()["waybill_no"]
        sample = sample.sort()
        bounds = sorted({str(sample[len(sample) * i // buckets]) for i in range(1, buckets)})
        waybill = pl.col("waybill_no")
        edges: list[str | None] = [None, *bounds, None]
        ranges = []
        for low, high in itertools.pairwise(edges):
            cond = pl.lit(True)
            if low is not None:
                cond &= waybill >= low
            if high is not None:
                cond &= waybill < high
            ranges.append(cond)
    rows, lo_us, hi_us = 0, None, None
    try:
        with pq.ParquetWriter(
            target, FILE_ARROW, compression="zstd", write_statistics=True
        ) as writer:
            for keep in ranges:
                part = scan if keep is None else scan.filter(keep)
                events = part.sort(*STORED_ORDER, "upload_id", "row_no").collect()
                if events.height == 0:
                    continue
                writer.write_table(events.to_arrow(compat_level=COMPAT), 256_000)
                lo, hi = time_range_us(events)
                rows += events.height
                lo_us = lo if lo_us is None else min(lo_us, lo)
                hi_us = hi if hi_us is None else max(hi_us, hi)
                del events
        fsync_file(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if rows != total or lo_us is None or hi_us is None:  # every event, exactly once
        target.unlink(missing_ok=True)
        raise RuntimeError(f"compacting {carrier} {month}: wrote {rows} of {total} events")
    return _Compacted(carrier, month, target, rows, lo_us, hi_us, old)


def _commit_compaction(
    store: Store,
    before: int,
    after: int,
    written: list[_Compacted],
    now: datetime,
) -> None:
    with store.transaction() as db:
        current = int(db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0])
        if current != before:  # cannot happen under the writer lock; refuse to guess
            raise RuntimeError(f"store version moved from {before} to {current} meanwhile")
        db.execute("UPDATE meta SET value=? WHERE key='store_version'", (str(after),))
        stamp = to_local(now).isoformat(timespec="seconds")
        for done in written:
            db.execute(
                "INSERT INTO event_files (upload_id, carrier, month, path, rows, min_time_us,"
                " max_time_us, store_version) VALUES (NULL,?,?,?,?,?,?,?)",
                (
                    done.carrier,
                    done.month,
                    str(done.target.relative_to(store.root)),
                    done.rows,
                    done.min_time_us,
                    done.max_time_us,
                    after,
                ),
            )
            db.executemany(
                "UPDATE event_files SET retired_version=?, retired_at=? WHERE path=?",
                [(after, stamp, str(p.relative_to(store.root))) for p in done.old],
            )
        store.audit(
            db,
            "upkeep",
            "store.compacted",
            f"store_version:{after}",
            old={"store_version": before},
            new={
                "store_version": after,
                "partitions": [done.summary() for done in written],
            },
        )


def _delete_retired(store: Store, now: datetime) -> list[Path]:
    """Delete retired files past the grace period that no closed month's snapshot lists."""
    limit = now - RETIRED_GRACE
    with store.transaction() as db:
        rows = db.execute(
            "SELECT f.id, f.path, f.retired_at FROM event_files f"
            " WHERE f.retired_version IS NOT NULL AND NOT EXISTS ("
            "   SELECT 1 FROM closed_months c WHERE c.store_version >= f.store_version"
            "   AND c.store_version < f.retired_version)"
        ).fetchall()
        gone = [
            (r["id"], store.root / r["path"])
            for r in rows
            if r["retired_at"] is None or datetime.fromisoformat(r["retired_at"]) <= limit
        ]
        db.executemany("DELETE FROM event_files WHERE id=?", [(i,) for i, _ in gone])
    for _, path in gone:  # after the commit: a crash in between leaves unlisted debris only
        path.unlink(missing_ok=True)
    return [path for _, path in gone]

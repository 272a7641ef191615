"""Uploads: register a file by its SHA-256, then ingest it atomically into the store.

One upload's life::

    register_upload   hash the bytes, keep the file under DIR/files/<sha>, ledger row 'received'
                      (the same bytes again: the first upload is answered, nothing is ingested)
    ingest_upload     under the writer lock: read, validate, de-duplicate (within the file and
                      against the stored events of the partitions it touches), write event
                      files, then ONE SQLite transaction lists the files, stores the rejects and
                      marks the upload 'ingested' (or 'refused' with its reason)

A crash anywhere before that transaction leaves only unlisted files, which recovery removes;
a retry then gives exactly the store of one clean run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.events import IDENTITY
from core.exceptions import StoreError
from core.policy import Policy
from core.store import (
    FILE_SCHEMA,
    Store,
    event_file_name,
    fsync_file,
    time_range_us,
    timestamp,
)
from ingest.exceptions import FileRefused, UploadConflict
from ingest.reader import check_upload, first_line, open_upload
from ingest.schema import REJECT_REASONS
from ingest.validate import REJECT_COLUMNS, accepted_events, rejected_rows, validate

logger = logging.getLogger("parcel_subsidy.ingest")

#: Called with the name of each step as it is reached: progress display, and crash tests
#: (raising or exiting there simulates a crash at that point).
StepHook = Callable[[str], None]
STEPS = ("registered", "validated", "files_written", "before_commit", "committed")
#: Failed ingestions of an upload on its content before it is refused (see ingest_upload).
MAX_FAILED_ATTEMPTS = 3


@dataclass
class Upload:
    """One row of the upload ledger, as callers see it."""

    id: int
    sha256: str
    carrier: str | None
    filename: str | None
    size_bytes: int
    source: str
    uploaded_by: str | None
    received_at: str
    status: str
    error: str | None = None
    format: str | None = None
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    ingested_at: str | None = None
    store_version: int | None = None
    failed_attempts: int = 0
    duplicate: bool = False
    #: Whether this call recorded the upload (false: the bytes were already on record).
    created: bool = field(default=False, compare=False)

    @classmethod
    def from_row(cls, row: sqlite3.Row, duplicate: bool = False, created: bool = False) -> Upload:
        data = dict(row)
        data["rejected_by_reason"] = json.loads(data["rejected_by_reason"] or "{}")
        return cls(**data, duplicate=duplicate, created=created)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready) of the ledger row."""
        data = dict(self.__dict__)
        del data["created"]
        return data


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def get_upload(store: Store, upload_id: int) -> Upload | None:
    """The ledger row of an upload, or ``None``."""
    with store.connect() as db:
        row = db.execute("SELECT * FROM uploads WHERE id=?", (upload_id,)).fetchone()
    return Upload.from_row(row) if row else None


def stored_file(store: Store, sha256: str) -> Path:
    """Where the original bytes of an upload are kept (named by hash, never by client name)."""
    return store.files_dir / sha256[:2] / sha256


def _known(row: sqlite3.Row, carrier: str | None) -> Upload:
    """The upload already on record for the same bytes, answered as a duplicate.

    A file is identified by its bytes alone, so bytes on record for another carrier cannot
    become this carrier's upload: :class:`UploadConflict`, naming neither that carrier nor
    its upload (an operator learns nothing of another carrier's files).
    """
    if carrier is not None and row["carrier"] != carrier:
        raise UploadConflict(
            f"this exact file is already on record and cannot be an upload of {carrier}; an "
            f"export holds one carrier's scans: check that this is {carrier}'s export"
        )
    return Upload.from_row(row, duplicate=row["status"] in ("ingested", "refused"))


def register_upload(
    store: Store,
    path: Path,
    *,
    carrier: str | None,
    filename: str | None = None,
    source: str = "cli",
    uploaded_by: str | None = None,
    sha256: str | None = None,
    move: bool = False,
) -> Upload:
    """Record a received file; the same bytes again return the first upload.

    The upload returned for bytes already on record has ``created`` false, and
    ``duplicate`` true once it was ingested or refused (one left ``received`` by a crash is
    for the caller to ingest). Bytes on record for another carrier raise
    :class:`UploadConflict`, also when two callers register them at the same moment.
    The file is kept unchanged under its SHA-256 for audit. With ``move`` the file is moved
    (it must be a scratch copy on the same filesystem, as an API upload is).
    """
    digest = sha256 or sha256_file(path)
    with store.connect() as db:
        row = db.execute("SELECT * FROM uploads WHERE sha256=?", (digest,)).fetchone()
    if row is not None:
        if move:
            path.unlink(missing_ok=True)
        return _known(row, carrier)
    target = stored_file(store, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{digest}.{os.getpid()}.part")
        if move:
            os.replace(path, partial)
        else:
            shutil.copyfile(path, partial)
        fsync_file(partial)
        os.replace(partial, target)
        fsync_file(target)  # the rename, too
    elif move:
        path.unlink(missing_ok=True)
    size = target.stat().st_size
    with store.transaction() as db:
        row = db.execute("SELECT * FROM uploads WHERE sha256=?", (digest,)).fetchone()
        if row is not None:  # registered meanwhile by a concurrent caller
            return _known(row, carrier)
        cur = db.execute(
            "INSERT INTO uploads (sha256, carrier, filename, size_bytes, source, uploaded_by,"
            " received_at, status) VALUES (?,?,?,?,?,?,?, 'received')",
            (digest, carrier, filename, size, source, uploaded_by, timestamp()),
        )
        store.audit(
            db,
            uploaded_by or source,
            "upload.received",
            f"upload:{cur.lastrowid}",
            new={"sha256": digest, "carrier": carrier, "filename": filename, "bytes": size},
        )
        row = db.execute("SELECT * FROM uploads WHERE id=?", (cur.lastrowid,)).fetchone()
    return Upload.from_row(row, created=True)


def _refuse(store: Store, upload_id: int, reason: str) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE uploads SET status='refused', error=?, ingested_at=? WHERE id=?",
            (reason, timestamp(), upload_id),
        )
        store.audit(db, "ingest", "upload.refused", f"upload:{upload_id}", new={"error": reason})


def refuse_upload(store: Store, upload_id: int, reason: str) -> Upload:
    """Record a registered upload as refused whole, with ``reason``, without ingesting it: for
    a refusal found before any row is read (:func:`ingest.reader.check_upload`, whose reasons
    are those :func:`ingest_upload` would give). The file stays kept for audit. An upload no
    longer ``received`` (an ingest got there first) is left as it is. Returns its ledger row.
    """
    with store.transaction() as db:
        changed = db.execute(
            "UPDATE uploads SET status='refused', error=?, ingested_at=? "
            "WHERE id=? AND status='received'",
            (reason, timestamp(), upload_id),
        ).rowcount
        if changed:
            store.audit(
                db, "ingest", "upload.refused", f"upload:{upload_id}", new={"error": reason}
            )
    upload = get_upload(store, upload_id)
    if upload is None:
        raise StoreError(f"no upload with id {upload_id}")
    return upload


def _existing_identities(
    store: Store, carrier: str, month: str, lo_us: int, hi_us: int
) -> pl.LazyFrame | None:
    """Stored identities of the partition with a scan time in ``[lo_us, hi_us]``, or ``None``.

    Only files whose recorded time range overlaps that interval are read (daily exports
    overlap only by a few hours, so a new day meets one or two stored files, not the month).
    """
    files = [
        path
        for path, _version, lo, hi in store.event_file_ranges(carriers=[carrier], months=[month])
        if lo is None or hi is None or (lo <= hi_us and hi >= lo_us)
    ]
    if not files:
        return None
    t = pl.col("scan_time").dt.epoch("us")
    return (
        pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA)
        .select(IDENTITY)
        .filter((t >= lo_us) & (t <= hi_us))
    )


#: One manifest row: carrier, month, relative path, rows, min and max scan time (epoch us).
ManifestRow = tuple[str, str, str, int, int, int]


def _write_partitions(
    store: Store, upload_id: int, events: pl.DataFrame
) -> tuple[list[ManifestRow], int]:
    """De-duplicate against stored events, write one file per (carrier, month).

    ``events`` are already unique within the upload and in :data:`STORED_ORDER`. Returns
    the manifest rows and how many events were already stored.
    """
    manifest: list[ManifestRow] = []
    already = 0
    # The Asia/Shanghai month as the integer YYYYMM (formatting every row's time as text was
    # a tenth of the ingest time); only each partition's key becomes text.
    when = pl.col("scan_time")
    events = events.with_columns(
        pl.col("scan_type").cast(pl.String),
        (when.dt.year() * 100 + when.dt.month()).alias("_month"),
    )
    for (carrier, yyyymm), part in events.partition_by(
        ["carrier", "_month"], as_dict=True, maintain_order=True
    ).items():
        month = f"{yyyymm // 100:04d}-{yyyymm % 100:02d}"
        lo_us, hi_us = time_range_us(part)
        stored = _existing_identities(store, carrier, month, lo_us, hi_us)
        fresh = part.lazy().drop("_month")  # in STORED_ORDER already (_unique_events)
        if stored is not None:
            fresh = fresh.join(
                stored, on=list(IDENTITY), how="anti", nulls_equal=True, maintain_order="left"
            )
        fresh_df = fresh.collect()
        already += part.height - fresh_df.height
        if fresh_df.height == 0:
            continue
        rel = Path("events") / f"carrier={carrier}" / f"month={month}" / event_file_name(upload_id)
        target = store.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh_df.write_parquet(target, compression="zstd", statistics=True, row_group_size=256_000)
        fsync_file(target)
        lo_us, hi_us = time_range_us(fresh_df)
        manifest.append((carrier, month, str(rel), fresh_df.height, lo_us, hi_us))
    return manifest, already


#: The order of stored event files (``parcel`` lookups prune row groups by waybill), extended
#: to the whole identity and the row number so that copies of an event lie side by side.
STORED_ORDER: tuple[str, ...] = ("waybill_no", "scan_time", "scan_type", "site_code", "carrier")


def _unique_events(events: pl.DataFrame) -> pl.DataFrame:
    """The first occurrence (lowest ``row_no``) of each event identity within one upload,
    in the stored files' order (:data:`STORED_ORDER`).

    One sort by the identity, then ``row_no``, puts copies side by side, so a comparison with
    the previous row finds them without hashing every row, and the same sort is the order
    the event files are written in (3x faster than de-duplicating and sorting apart).
    """
    if events.height == 0:
        return events
    ordered = events.sort(*STORED_ORDER, "row_no")
    new = pl.any_horizontal([(pl.col(c) != pl.col(c).shift(1)).fill_null(True) for c in IDENTITY])
    return ordered.filter(new)


def ingest_upload(
    store: Store,
    upload_id: int,
    policy: Policy,
    *,
    now: datetime,
    on_step: StepHook | None = None,
) -> Upload:
    """Ingest a registered upload; returns its ledger row once ``ingested`` or ``refused``.

    ``now`` is the time of ingestion (the plausibility limit of scan times). Idempotent: an
    upload already ingested or refused is returned unchanged. A :class:`FileRefused` file is
    marked ``refused`` with its reason; any other error leaves the store as it was and the
    upload ``received``, to be retried.
    """
    hook = on_step or (lambda _step: None)
    with store.writer_lock():
        store.recover()
        upload = get_upload(store, upload_id)
        if upload is None:
            raise StoreError(f"no upload with id {upload_id}")
        if upload.status in ("ingested", "refused"):
            return upload
        with store.transaction() as db:
            db.execute("UPDATE uploads SET status='ingesting' WHERE id=?", (upload_id,))
        written: list[Path] = []
        try:
            hook("registered")
            try:
                result = _ingest_locked(store, upload, policy, now, hook, written)
            except (FileRefused, pl.exceptions.PanicException) as exc:
                # A panic of the engine on this file's content would fail every retry alike:
                # the file is refused (and kept) instead of blocking the inbox forever.
                for path in written:
                    path.unlink(missing_ok=True)
                written.clear()
                reason = (
                    str(exc)
                    if isinstance(exc, FileRefused)
                    else f"the file could not be processed ({first_line(exc)}); it is kept "
                    "unchanged for audit"
                )
                _refuse(store, upload_id, reason)
                refused = get_upload(store, upload_id)
                assert refused is not None
                result = refused
        except BaseException as exc:
            for path in written:
                path.unlink(missing_ok=True)
            # A failure on the file's content (not an interruption, nor the store or the disk
            # failing) counts: after MAX_FAILED_ATTEMPTS the upload is refused with the error
            # instead of being retried at every pass of the inbox job, forever.
            counts = isinstance(exc, Exception) and not isinstance(
                exc, (StoreError, OSError, sqlite3.Error)
            )
            with store.connect() as db:
                db.execute(
                    "UPDATE uploads SET status='received', failed_attempts=failed_attempts+?"
                    " WHERE id=? AND status='ingesting'",
                    (int(counts), upload_id),
                )
            failed = get_upload(store, upload_id)
            if counts and failed is not None and failed.failed_attempts >= MAX_FAILED_ATTEMPTS:
                _refuse(
                    store,
                    upload_id,
                    f"the file could not be ingested in {failed.failed_attempts} attempts (last "
                    f"error: {type(exc).__name__}: {first_line(exc)}); it is kept unchanged "
                    "for audit",
                )
            raise
        hook("committed")
        return result


def _ingest_locked(
    store: Store,
    upload: Upload,
    policy: Policy,
    now: datetime,
    hook: StepHook,
    written: list[Path],
) -> Upload:
    scratch = store.tmp_dir / f"ingest-{upload.id}"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        raw = open_upload(
            stored_file(store, upload.sha256),
            max_bytes=policy.max_upload_bytes,
            max_uncompressed=policy.max_uncompressed_bytes,
            scratch=scratch,
        )
        validated = validate(
            raw.frame,
            uploader_carrier=upload.carrier,
            carriers=policy.carriers,
            now=now,
            upload_id=upload.id,
        )
        try:
            both = pl.collect_all([accepted_events(validated), rejected_rows(validated)])
        except (pl.exceptions.PolarsError, OSError, pl.exceptions.PanicException) as exc:
            why = first_line(exc)
            if "more fields than defined" in why:  # Polars' words for a ragged CSV row
                why = "a row has more fields than the header line"
            raise FileRefused(f"the file is damaged and cannot be read ({why})") from None
        events, rejects = both
        raw_format = raw.format
        # Each step's input is dropped once the next holds what it needs: peak memory is
        # about two copies of the file's rows, not one per step.
        del raw, validated, both
        rows_read = events.height + rejects.height
        if rows_read == 0:
            raise FileRefused("the file has no data rows")
        hook("validated")
        unique = _unique_events(events)
        within = events.height - unique.height
        del events
        manifest, already = _write_partitions(store, upload.id, unique)
        del unique
        written.extend(store.root / m[2] for m in manifest)
        hook("files_written")
        accepted = sum(m[3] for m in manifest)
        by_reason = {
            reason: n for reason, n in rejects.group_by("reason").len().sort("reason").iter_rows()
        }
        by_reason = {r: by_reason[r] for r in REJECT_REASONS if r in by_reason}
        with store.transaction() as db:
            hook("before_commit")
            version = int(
                db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0]
            )
            if manifest:
                version += 1
                db.execute("UPDATE meta SET value=? WHERE key='store_version'", (str(version),))
                db.executemany(
                    "INSERT INTO event_files (upload_id, carrier, month, path, rows,"
                    " min_time_us, max_time_us, store_version) VALUES (?,?,?,?,?,?,?,?)",
                    [(upload.id, *m, version) for m in manifest],
                )
            db.executemany(
                f"INSERT INTO rejects (upload_id, {', '.join(REJECT_COLUMNS)}) "
                f"VALUES (?{', ?' * len(REJECT_COLUMNS)})",
                ((upload.id, *row) for row in rejects.select(REJECT_COLUMNS).iter_rows()),
            )
            stats = {
                "rows_read": rows_read,
                "accepted": accepted,
                "rejected": rejects.height,
                "duplicates": within + already,
                "rejected_by_reason": by_reason,
            }
            db.execute(
                "UPDATE uploads SET status='ingested', format=?, rows_read=?, accepted=?,"
                " rejected=?, duplicates=?, rejected_by_reason=?, ingested_at=?,"
                " store_version=?, error=NULL WHERE id=?",
                (
                    raw_format,
                    rows_read,
                    accepted,
                    rejects.height,
                    within + already,
                    json.dumps(by_reason),
                    timestamp(),
                    version,
                    upload.id,
                ),
            )
            store.audit(
                db,
                upload.uploaded_by or upload.source,
                "upload.ingested",
                f"upload:{upload.id}",
                new=stats,
            )
        result = get_upload(store, upload.id)
        assert result is not None
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ingest_file(
    store: Store,
    path: Path,
    policy: Policy,
    *,
    carrier: str | None,
    now: datetime,
    source: str = "cli",
    uploaded_by: str | None = None,
    on_step: StepHook | None = None,
) -> Upload:
    """Register and ingest one file (the CLI path). The same bytes again ingest nothing."""
    if carrier is not None and carrier not in policy.carriers:
        raise FileRefused(
            f"unknown carrier {carrier!r}; known: {', '.join(sorted(policy.carriers))}"
        )
    upload = register_upload(
        store, path, carrier=carrier, filename=path.name, source=source, uploaded_by=uploaded_by
    )
    if upload.duplicate:
        return upload
    return ingest_upload(store, upload.id, policy, now=now, on_step=on_step)


def accept_upload(
    store: Store,
    policy: Policy,
    path: Path,
    *,
    sha256: str,
    filename: str | None,
    carrier: str | None,
    uploaded_by: str,
    max_bytes: int,
) -> tuple[Upload, bool]:
    """Take a file received over HTTP (a scratch file, moved into the store); returns
    ``(upload, duplicate)``. The API and the console both call it. Blocking.

    The same-bytes rules are :func:`register_upload`'s: bytes on record for another carrier
    raise :class:`UploadConflict`. New bytes that cannot be an export, as their metadata alone
    shows (:func:`ingest.reader.check_upload`), are recorded refused at once with that reason
    (the one an ingest would give; kept for audit) by :func:`refuse_upload`: no ingest runs
    on the request's path. An upload refused now or before raises :class:`FileRefused` with
    its reason; anything else is left ``received`` for the caller to ingest (in the
    background).
    """
    with store.connect() as db:
        known = db.execute("SELECT 1 FROM uploads WHERE sha256=?", (sha256,)).fetchone()
    refusal: str | None = None
    if known is None:
        try:
            check_upload(path, max_bytes=max_bytes, max_uncompressed=policy.max_uncompressed_bytes)
        except FileRefused as exc:
            refusal = str(exc)
    upload = register_upload(
        store,
        path,
        carrier=carrier,
        filename=filename,
        source="api",
        uploaded_by=uploaded_by,
        sha256=sha256,
        move=True,
    )
    created = upload.created
    if refusal is not None and created:
        upload = refuse_upload(store, upload.id, refusal)
    if upload.status == "refused":
        when = f"upload {upload.id}" if created else f"refused before, as upload {upload.id}"
        raise FileRefused(f"{upload.error} ({when})")
    return upload, not created


def ingest_in_background(store: Store, policy: Policy, upload_id: int, now: datetime) -> None:
    """Ingest an accepted upload off the request; a failure is logged and leaves the upload
    ``received`` for the scheduler's ingest job to retry.
    """
    try:
        ingest_upload(store, upload_id, policy, now=now)
    except Exception:
        logger.exception("background ingest of upload %s failed; it stays 'received'", upload_id)

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

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from core.exceptions import DomainError, StoreError
from core.policy import Policy
from core.store import (
    Store,
    disk_error,
    fsync_file,
    fsync_folder,
    timestamp,
)
from ingest.exceptions import FileRefused, UploadConflict
from ingest.judgement import judge, refusal, refusal_params
from ingest.pages import check_dictionary_pages
from ingest.reader import check_upload, first_line, open_upload
from ingest.scan_words import word_lookup
from ingest.schema import REJECT_REASONS
from ingest.site_names import site_lookup
from ingest.stream import IngestLimits, Spilled, spill_upload, write_partitions
from ingest.validate import REJECT_COLUMNS, validate

logger = logging.getLogger("parcel_subsidy.ingest")

#: Called with the name of each step as it is reached: progress display, and crash tests
#: (raising or exiting there simulates a crash at that point).
StepHook = Callable[[str], None]
#: Run after an ingest committed new events, in the ingesting process, outside the writer
#: lock: the layers above register here (:mod:`subsidy.refresh` publishes the new figures).
CommitHook = Callable[[Store, Policy, datetime], object]
AFTER_COMMIT: list[CommitHook] = []
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
    #: Why it was refused, as the code and params of the refusal (the console words them).
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    duplicate: bool = False
    #: Whether this call recorded the upload (false: the bytes were already on record).
    created: bool = field(default=False, compare=False)

    @classmethod
    def from_row(cls, row: sqlite3.Row, duplicate: bool = False, created: bool = False) -> Upload:
        data = dict(row)
        data["rejected_by_reason"] = json.loads(data["rejected_by_reason"] or "{}")
        data["error_params"] = json.loads(data.get("error_params") or "{}")
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
        raise conflict_for(carrier)
    return Upload.from_row(row, duplicate=row["status"] in ("ingested", "refused"))


def conflict_for(carrier: str) -> UploadConflict:
    """The refusal of bytes another carrier's upload holds, as ``carrier`` would get it: it
    names neither that carrier nor its upload."""
    return UploadConflict(
        f"this exact file is already on record and cannot be an upload of {carrier}; an "
        f"export holds one carrier's scans: check that this is {carrier}'s export",
        code="bytes_of_another_upload",
        carrier=carrier,
    )


#: The upload holding given bytes: refused bytes claim nothing (SPEC §3a).
_CLAIM = "SELECT * FROM uploads WHERE sha256=? AND status<>'refused' ORDER BY id DESC LIMIT 1"


def _keep(store: Store, path: Path, digest: str, move: bool) -> Path:
    """Keep the file's bytes, unchanged, under its SHA-256 (once); returns where."""
    target = stored_file(store, digest)
    if not target.exists():
        partial = target.with_name(f".{digest}.{os.getpid()}.part")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if move:
                os.replace(path, partial)
            else:
                with path.open("rb") as src, store.open_write(partial) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            fsync_file(partial, folder=False)
            os.replace(partial, target)
            fsync_folder(target.parent)  # the rename
        except OSError as exc:
            # A partial copy must not keep the disk full until the daily upkeep.
            partial.unlink(missing_ok=True)
            raise disk_error(exc, "keeping the uploaded file") from exc
    elif move:
        path.unlink(missing_ok=True)
    return target


def record_refusal(
    store: Store,
    path: Path,
    *,
    carrier: str | None,
    reason: str,
    filename: str | None = None,
    source: str = "inbox",
    uploaded_by: str | None = None,
    code: str | None = None,
    params: dict[str, Any] | None = None,
) -> Upload:
    """Record a file refused before it could become an upload (an inbox file in no carrier's
    folder, bytes that are another carrier's upload): a ``refused`` ledger row with the
    reason, the file kept for audit, so the operator sees it in the upload list."""
    digest = sha256_file(path)
    target = _keep(store, path, digest, move=False)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO uploads (sha256, carrier, filename, size_bytes, source, uploaded_by,"
            " received_at, status, error, ingested_at, error_code, error_params)"
            " VALUES (?,?,?,?,?,?,?, 'refused', ?, ?, ?, ?)",
            (
                digest,
                carrier,
                filename,
                target.stat().st_size,
                source,
                uploaded_by,
                timestamp(),
                reason,
                timestamp(),
                code,
                json.dumps(params or {}, ensure_ascii=False),
            ),
        )
        store.audit(
            db, uploaded_by or source, "upload.refused", f"upload:{cur.lastrowid}",
            new={"error": reason, "filename": filename, "carrier": carrier},
        )  # fmt: skip
        row = db.execute("SELECT * FROM uploads WHERE id=?", (cur.lastrowid,)).fetchone()
    return Upload.from_row(row, created=True)


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
    """Record a received file; the same bytes again return the first upload, unless every
    upload of them was refused whole: then they are a new upload, judged afresh (SPEC §3a).

    The upload returned for bytes already on record has ``created`` false, and
    ``duplicate`` true once it was ingested or refused (one left ``received`` by a crash is
    for the caller to ingest). Bytes on record for another carrier raise
    :class:`UploadConflict`, also when two callers register them at the same moment.
    The file is kept unchanged under its SHA-256 for audit. With ``move`` the file is moved
    (it must be a scratch copy on the same filesystem, as an API upload is).
    """
    digest = sha256 or sha256_file(path)
    with store.connect() as db:
        row = db.execute(_CLAIM, (digest,)).fetchone()
    if row is not None:
        if move:
            path.unlink(missing_ok=True)
        return _known(row, carrier)
    target = _keep(store, path, digest, move)
    size = target.stat().st_size
    with store.transaction() as db:
        row = db.execute(_CLAIM, (digest,)).fetchone()
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


def _why(exc: DomainError | None) -> tuple[str | None, str]:
    """The code and JSON params of a refusal, as the ledger keeps them."""
    if exc is None:
        return None, "{}"
    return exc.code, json.dumps(exc.params, ensure_ascii=False, default=str)


def _refuse(store: Store, upload_id: int, reason: str, why: DomainError | None = None) -> None:
    code, params = _why(why)
    with store.transaction() as db:
        db.execute(
            "UPDATE uploads SET status='refused', error=?, ingested_at=?, error_code=?,"
            " error_params=? WHERE id=?",
            (reason, timestamp(), code, params, upload_id),
        )
        store.audit(db, "ingest", "upload.refused", f"upload:{upload_id}", new={"error": reason})


def refuse_upload(
    store: Store, upload_id: int, reason: str, why: DomainError | None = None
) -> Upload:
    """Record a registered upload as refused whole, with ``reason``, without ingesting it: for
    a refusal found before any row is read (:func:`ingest.reader.check_upload`, whose reasons
    are those :func:`ingest_upload` would give). The file stays kept for audit. An upload no
    longer ``received`` (an ingest got there first) is left as it is. Returns its ledger row.
    """
    code, params = _why(why)
    with store.transaction() as db:
        changed = db.execute(
            "UPDATE uploads SET status='refused', error=?, ingested_at=?, error_code=?,"
            " error_params=? WHERE id=? AND status='received'",
            (reason, timestamp(), code, params, upload_id),
        ).rowcount
        if changed:
            store.audit(
                db, "ingest", "upload.refused", f"upload:{upload_id}", new={"error": reason}
            )
    upload = get_upload(store, upload_id)
    if upload is None:
        raise StoreError(f"no upload with id {upload_id}")
    return upload


def upload_validator(
    store: Store, upload: Upload, policy: Policy, now: datetime
) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """The row rules an upload is judged by (:func:`ingest.validate.validate`), with the scan
    words and site names in force now: the same for an ingest and a re-judging."""
    return partial(
        validate,
        uploader_carrier=upload.carrier,
        carriers=policy.carriers,
        now=now,
        upload_id=upload.id,
        scan_words=word_lookup(store, upload.carrier),
        site_names=site_lookup(store),
    )


def ingest_upload(
    store: Store,
    upload_id: int,
    policy: Policy,
    *,
    now: datetime,
    on_step: StepHook | None = None,
    limits: IngestLimits | None = None,
) -> Upload:
    """Ingest a registered upload; returns its ledger row once ``ingested`` or ``refused``.

    ``now`` is the time of ingestion (the plausibility limit of scan times); ``limits`` how
    much of the file is held in memory at once (:class:`ingest.stream.IngestLimits`). Idempotent: an
    upload already ingested or refused is returned unchanged. A :class:`FileRefused` file is
    marked ``refused`` with its reason; any other error leaves the store as it was and the
    upload ``received``, to be retried.
    """
    hook = on_step or (lambda _step: None)
    with store.writer_lock(), store.kept_open():
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
                result = _ingest_locked(
                    store, upload, policy, now, hook, written, limits or IngestLimits()
                )
            except (FileRefused, pl.exceptions.PanicException) as exc:
                # A panic of the engine on this file's content would fail every retry alike:
                # the file is refused (and kept) instead of blocking the inbox forever.
                for path in written:
                    path.unlink(missing_ok=True)
                written.clear()
                why = (
                    exc
                    if isinstance(exc, FileRefused)
                    else FileRefused(
                        f"the file could not be processed ({first_line(exc)}); it is kept "
                        "unchanged for audit",
                        code="engine_failed",
                        detail=first_line(exc),
                    )
                )
                _refuse(store, upload_id, str(why), why)
                refused = get_upload(store, upload_id)
                assert refused is not None
                result = refused
        except BaseException as exc:
            for path in written:
                path.unlink(missing_ok=True)
            # A failure on the file's content (not an interruption, nor the store or the disk
            # failing) counts: after MAX_FAILED_ATTEMPTS the upload is refused with the error
            # instead of being retried at every pass of the inbox job, forever.
            store_failed = isinstance(exc, (StoreError, OSError, sqlite3.Error))
            counts = isinstance(exc, Exception) and not store_failed
            reason = None
            if store_failed:  # one line saying why the upload stays received
                reason = (
                    str(exc) if isinstance(exc, StoreError) else str(disk_error(exc, "ingesting"))
                )
            # The disk may be too full to say so: the next recovery puts the upload back.
            with contextlib.suppress(StoreError), store.connect() as db:
                db.execute(
                    "UPDATE uploads SET status='received', failed_attempts=failed_attempts+?,"
                    " error=coalesce(?, error) WHERE id=? AND status='ingesting'",
                    (int(counts), reason, upload_id),
                )
            if isinstance(exc, (OSError, sqlite3.Error)):
                raise disk_error(exc, "ingesting") from exc
            failed = get_upload(store, upload_id)
            if counts and failed is not None and failed.failed_attempts >= MAX_FAILED_ATTEMPTS:
                gave_up = FileRefused(
                    f"the file could not be ingested in {failed.failed_attempts} attempts (last "
                    f"error: {type(exc).__name__}: {first_line(exc)}); it is kept unchanged "
                    "for audit",
                    code="ingest_attempts_failed",
                    attempts=failed.failed_attempts,
                    detail=f"{type(exc).__name__}: {first_line(exc)}",
                )
                _refuse(store, upload_id, str(gave_up), gave_up)
            raise
        hook("committed")
    if result.status == "ingested":
        after_commit(store, policy, now)
    return result


#: Per thread: the batch open in it (:func:`one_publication`), and what it must publish.
_BATCH = threading.local()


@contextlib.contextmanager
def one_publication(store: Store, policy: Policy, now: datetime) -> Iterator[None]:
    """Ingest a batch of uploads (a CLI call with several files, an inbox pass, the ingest
    job) and run the :data:`AFTER_COMMIT` hooks once, after the last commit, instead of after
    each: the figures are published once for the batch. Whatever ends the batch (an error
    too), what was committed is published on the way out; a killed process leaves it to the
    next writer or the upkeep job, as a killed publication does."""
    if getattr(_BATCH, "open", False):  # inside a batch already: the outer one publishes
        yield
        return
    _BATCH.open, _BATCH.pending = True, False
    try:
        yield
    finally:
        pending = _BATCH.pending
        _BATCH.open, _BATCH.pending = False, False
        if pending:
            after_commit(store, policy, now)


def after_commit(store: Store, policy: Policy, now: datetime) -> None:
    """Run the :data:`AFTER_COMMIT` hooks, or, inside :func:`one_publication`, once at its
    end. The commit stands whatever they do: a hook that fails is logged (the figures
    published before stay served until the next publication)."""
    if getattr(_BATCH, "open", False):
        _BATCH.pending = True
        return
    for run in AFTER_COMMIT:
        try:
            run(store, policy, now)
        except Exception:
            logger.exception("after the commit, %s failed; the next writer retries it", run)


def _ingest_locked(
    store: Store,
    upload: Upload,
    policy: Policy,
    now: datetime,
    hook: StepHook,
    written: list[Path],
    limits: IngestLimits,
) -> Upload:
    scratch = store.tmp_dir / f"ingest-{upload.id}"
    shutil.rmtree(scratch, ignore_errors=True)  # a killed attempt's spill files
    scratch.mkdir(parents=True)
    spilled: Spilled | None = None
    try:
        raw = open_upload(
            stored_file(store, upload.sha256),
            max_bytes=policy.max_upload_bytes,
            max_uncompressed=policy.max_uncompressed_bytes,
            scratch=scratch,
        )
        if raw.format == "parquet":  # after the reader's own checks of the metadata
            check_dictionary_pages(stored_file(store, upload.sha256), set(raw.columns.values()))
        spilled = spill_upload(
            raw,
            upload_validator(store, upload, policy, now),
            scratch,
            limits,
            store.open_write,
        )
        if spilled.rows_read == 0:
            raise FileRefused("the file has no data rows", code="no_data_rows")
        rejected = sum(spilled.by_reason.values())
        # The rejects are read back (reasons, examples) only for a file the counts already
        # show mostly rejected: refusal() answers None below the share whatever they hold.
        if rejected > policy.max_rejected_share * spilled.rows_read:
            judged = judge(spilled.rows_read, spilled.rejects.read())
            refused = refusal(judged, policy.max_rejected_share, policy.carriers)
            if refused is not None:
                raise FileRefused(
                    refused,
                    code="mostly_rejected",
                    **refusal_params(judged, policy.max_rejected_share, policy.carriers),
                )
        hook("validated")
        out = write_partitions(
            store, upload.id, spilled, scratch=scratch, limits=limits, written=written
        )
        hook("files_written")
        accepted = sum(m[3] for m in out.manifest)
        by_reason = {r: spilled.by_reason[r] for r in REJECT_REASONS if r in spilled.by_reason}
        duplicates = out.within + out.already
        with store.transaction() as db:
            hook("before_commit")
            version = int(
                db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0]
            )
            if out.manifest:
                version += 1
                db.execute("UPDATE meta SET value=? WHERE key='store_version'", (str(version),))
                db.executemany(
                    "INSERT INTO event_files (upload_id, carrier, month, path, rows,"
                    " min_time_us, max_time_us, store_version) VALUES (?,?,?,?,?,?,?,?)",
                    [(upload.id, *m, version) for m in out.manifest],
                )
            db.executemany(
                f"INSERT INTO rejects (upload_id, {', '.join(REJECT_COLUMNS)}) "
                f"VALUES (?{', ?' * len(REJECT_COLUMNS)})",
                ((upload.id, *row) for row in spilled.reject_rows()),
            )
            stats = {
                "rows_read": spilled.rows_read,
                "accepted": accepted,
                "rejected": rejected,
                "duplicates": duplicates,
                "rejected_by_reason": by_reason,
            }
            db.execute(
                "UPDATE uploads SET status='ingested', format=?, rows_read=?, accepted=?,"
                " rejected=?, duplicates=?, rejected_by_reason=?, ingested_at=?,"
                " store_version=?, error=NULL WHERE id=?",
                (
                    raw.format,
                    spilled.rows_read,
                    accepted,
                    rejected,
                    duplicates,
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
        if spilled is not None:
            spilled.budget.close()
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
    limits: IngestLimits | None = None,
) -> Upload:
    """Register and ingest one file (the CLI path). The same bytes again ingest nothing."""
    if carrier is not None and carrier not in policy.carriers:
        raise FileRefused(
            f"unknown carrier {carrier!r}; known: {', '.join(sorted(policy.carriers))}",
            code="unknown_carrier",
            carrier=carrier,
            known=sorted(policy.carriers),
        )
    with store.kept_open():
        upload = register_upload(
            store, path, carrier=carrier, filename=path.name, source=source, uploaded_by=uploaded_by
        )
        if upload.duplicate:
            return upload
        return ingest_upload(store, upload.id, policy, now=now, on_step=on_step, limits=limits)


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
        # bytes refused before claim nothing (SPEC §3a): they are checked afresh
        known = db.execute(
            "SELECT 1 FROM uploads WHERE sha256=? AND status <> 'refused'", (sha256,)
        ).fetchone()
    refusal: FileRefused | None = None
    if known is None:
        try:
            check_upload(path, max_bytes=max_bytes, max_uncompressed=policy.max_uncompressed_bytes)
        except FileRefused as exc:
            refusal = exc
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
        upload = refuse_upload(store, upload.id, str(refusal), refusal)
    if upload.status == "refused":
        when = f"upload {upload.id}" if created else f"refused before, as upload {upload.id}"
        # the refusal's own code and params (the console words it), and which upload it is
        raise FileRefused(
            f"{upload.error} ({when})",
            code=upload.error_code or "file_refused",
            **{**upload.error_params, "upload_id": upload.id},
        )
    return upload, not created


def ingest_in_background(store: Store, policy: Policy, upload_id: int, now: datetime) -> None:
    """Ingest an accepted upload off the request; a failure is logged and leaves the upload
    ``received`` for the scheduler's ingest job to retry.
    """
    try:
        ingest_upload(store, upload_id, policy, now=now)
    except Exception:
        logger.exception("background ingest of upload %s failed; it stays 'received'", upload_id)

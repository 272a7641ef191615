"""Re-judging an upload after a mapping change (SPEC §3a): new scan words, new site aliases.

For an ingested upload its rejected rows are judged again (from the rejects table, which
keeps every row's content and row number); rows that now pass become events, de-duplicated
against the store, in a new event file of the upload listed under a new store version (the
materialised results and closed months see them as they see late events: prior-period
adjustments). For a refused upload its kept file is read again, as a fresh ingest. The
upload's own figures change (old and new are in the audit log with who and why); other
uploads' figures stay as recorded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl

from core.exceptions import StoreError
from core.policy import Policy
from core.store import Store, fsync_file, timestamp
from ingest.exceptions import UploadConflict
from ingest.reader import RawFile
from ingest.schema import REJECT_REASONS
from ingest.stream import IngestLimits, spill_upload, write_partitions
from ingest.uploads import (
    Upload,
    after_commit,
    get_upload,
    ingest_upload,
    upload_validator,
)
from ingest.validate import REJECT_COLUMNS


class Staging(Store):
    """A store whose event files are written under a scratch folder, while de-duplication
    reads the real store's files: an upload's second file must not take its first's name."""

    def __init__(self, real: Store, root: Path) -> None:
        super().__init__(root, opener=real.open_write)
        self.real = real

    def event_file_ranges(self, **kwargs: object) -> list[tuple[Path, int, int | None, int | None]]:
        return self.real.event_file_ranges(**kwargs)  # type: ignore[arg-type]  # same keywords

    def overlapping_files(
        self, carrier: str, month: str, lo_us: int, hi_us: int
    ) -> list[tuple[Path, int, int | None, int | None]]:
        return self.real.overlapping_files(carrier, month, lo_us, hi_us)


def _rejects_file(store: Store, upload_id: int) -> RawFile:
    """The upload's rejected rows as a raw file of text columns, with their row numbers."""
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {', '.join(REJECT_COLUMNS)} FROM rejects WHERE upload_id=? ORDER BY row_no",
            (upload_id,),
        ).fetchall()
    schema = {c: pl.String for c in REJECT_COLUMNS} | {"row_no": pl.Int64}
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row").drop("reason")

    def read(batch_rows: int) -> Iterator[pl.DataFrame]:
        for offset in range(0, frame.height, batch_rows):
            yield frame.slice(offset, batch_rows)

    return RawFile("rejects", frame.height, read)


def _figures(upload: Upload) -> dict[str, object]:
    return {
        "accepted": upload.accepted,
        "rejected": upload.rejected,
        "duplicates": upload.duplicates,
        "rejected_by_reason": upload.rejected_by_reason,
        "status": upload.status,
        "error": upload.error,
    }


def _rejudge_refused(store: Store, upload: Upload, policy: Policy, now: datetime) -> Upload:
    with store.transaction() as db:
        live = db.execute(
            "SELECT id FROM uploads WHERE sha256=? AND status<>'refused'", (upload.sha256,)
        ).fetchone()
        if live is not None:
            raise UploadConflict(
                "these bytes are now another upload; they cannot be re-judged as this one",
                code="bytes_taken",
            )
        db.execute(
            "UPDATE uploads SET status='received', error=NULL, error_code=NULL, error_params=NULL,"
            " failed_attempts=0 WHERE id=?",
            (upload.id,),
        )
    return ingest_upload(store, upload.id, policy, now=now)


def _rejudge_ingested(
    store: Store, upload: Upload, policy: Policy, now: datetime, limits: IngestLimits
) -> None:
    scratch = store.tmp_dir / f"rejudge-{upload.id}"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "stage").mkdir(parents=True)
    moved: list[Path] = []
    try:
        spilled = spill_upload(
            _rejects_file(store, upload.id),
            upload_validator(store, upload, policy, now),
            scratch,
            limits,
            store.open_write,
        )
        staging = Staging(store, scratch / "stage")
        written: list[Path] = []
        out = write_partitions(
            staging, upload.id, spilled, scratch=scratch, limits=limits, written=written
        )
        still = list(spilled.reject_rows())
        by_reason = {r: spilled.by_reason[r] for r in REJECT_REASONS if r in spilled.by_reason}
        with store.transaction() as db:
            version = int(
                db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0]
            )
            rows = []
            if out.manifest:
                version += 1
                for carrier, month, rel, count, lo, hi in out.manifest:
                    name = Path(rel).with_name(f"u{upload.id:08d}-v{version:08d}.parquet")
                    target = store.root / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging.root / rel, target)
                    moved.append(target)
                    fsync_file(target)
                    rows.append((upload.id, carrier, month, str(name), count, lo, hi, version))
                db.execute("UPDATE meta SET value=? WHERE key='store_version'", (str(version),))
                db.executemany(
                    "INSERT INTO event_files (upload_id, carrier, month, path, rows,"
                    " min_time_us, max_time_us, store_version) VALUES (?,?,?,?,?,?,?,?)",
                    rows,
                )
            db.execute("DELETE FROM rejects WHERE upload_id=?", (upload.id,))
            db.executemany(
                f"INSERT INTO rejects (upload_id, {', '.join(REJECT_COLUMNS)}) "
                f"VALUES (?{', ?' * len(REJECT_COLUMNS)})",
                ((upload.id, *row) for row in still),
            )
            db.execute(
                "UPDATE uploads SET accepted=accepted+?, rejected=?, duplicates=duplicates+?,"
                " rejected_by_reason=?, store_version=?, ingested_at=? WHERE id=?",
                (
                    sum(r[4] for r in rows),
                    len(still),
                    out.within + out.already,
                    json.dumps(by_reason),
                    version,
                    timestamp(),
                    upload.id,
                ),
            )
        spilled.budget.close()
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def rejudge_upload(
    store: Store,
    upload_id: int,
    policy: Policy,
    *,
    reason: str,
    actor: str,
    now: datetime,
    limits: IngestLimits | None = None,
) -> Upload:
    """Judge an upload again with the mappings in force now (see the module docstring);
    audited with ``actor`` and ``reason``. Returns the upload's ledger row afterwards."""
    upload = get_upload(store, upload_id)
    if upload is None:
        raise StoreError(f"no upload with id {upload_id}", code="no_upload", upload_id=upload_id)
    before = _figures(upload)
    if upload.status == "refused":
        result = _rejudge_refused(store, upload, policy, now)
    elif upload.status == "ingested":
        with store.writer_lock():
            store.recover()
            _rejudge_ingested(store, upload, policy, now, limits or IngestLimits())
        after_commit(store, policy, now)  # publish the figures (subsidy.refresh.publish)
        result = get_upload(store, upload_id)  # type: ignore[assignment]  # it exists
    else:
        raise UploadConflict(
            f"upload {upload_id} is {upload.status}; it can be re-judged once ingested or refused",
            code="not_judged_yet",
            upload_id=upload_id,
            status=upload.status,
        )
    assert result is not None
    with store.transaction() as db:
        store.audit(
            db,
            actor,
            "upload.rejudged",
            f"upload:{upload_id}",
            old=before,
            new={**_figures(result), "reason": reason},
        )
    return result

"""The preview of an upload (SPEC §3a): what a real upload of a file would give, storing
nothing. ``ingest --check`` and ``POST /v1/uploads?dry_run=true`` answer it.

The answer has exactly the keys of SPEC §3a: ``format``, ``header_row``, ``columns`` (each
field and the column that fed it), ``rows_read``, ``accepted``, ``duplicates``, ``rejected``
(``{reason: {"count", "examples"}}``), ``unmatched_words`` (``{word: count}``), ``refusal``
(``None`` or the sentence a real upload would get) and ``already_uploaded`` (``None`` or the
id of the upload holding these bytes).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from core.policy import Policy
from core.store import Store
from ingest.exceptions import FileRefused, UploadConflict
from ingest.judgement import judge, refusal, refusal_params
from ingest.ledger import find_upload_by_sha
from ingest.reader import open_upload
from ingest.rejudge import Staging
from ingest.scan_words import word_lookup
from ingest.site_names import site_lookup
from ingest.stream import IngestLimits, spill_upload, write_partitions
from ingest.uploads import conflict_for, sha256_file
from ingest.validate import validate

PREVIEW_KEYS: tuple[str, ...] = (
    "format",
    "header_row",
    "columns",
    "rows_read",
    "accepted",
    "duplicates",
    "rejected",
    "unmatched_words",
    "refusal",
    "already_uploaded",
)


def preview_file(
    store: Store,
    path: Path,
    policy: Policy,
    *,
    carrier: str | None,
    now: datetime,
    limits: IngestLimits | None = None,
) -> dict[str, Any]:
    """The preview of ``path`` as an upload of ``carrier`` judged at ``now`` (see the module
    docstring). Never raises for the file's content: a refused file answers ``refusal``.
    ``limits``: how much is held at once, as in an ingest (default :class:`IngestLimits`)."""
    return explain_file(store, path, policy, carrier=carrier, now=now, limits=limits)[0]


def explain_file(
    store: Store,
    path: Path,
    policy: Policy,
    *,
    carrier: str | None,
    now: datetime,
    limits: IngestLimits | None = None,
) -> tuple[dict[str, Any], FileRefused | UploadConflict | None]:
    """:func:`preview_file`'s answer and the refusal a real upload would get, as the error
    (its code and params word it in another language), or ``None``."""
    why: FileRefused | UploadConflict | None = None
    out: dict[str, Any] = dict.fromkeys(PREVIEW_KEYS)
    out.update(columns={}, rows_read=0, accepted=0, duplicates=0, rejected={})
    out["unmatched_words"] = {}
    known = find_upload_by_sha(store, sha256_file(path))
    if known is not None and carrier is not None and known.carrier != carrier:
        # another carrier's bytes: the real upload's 409, naming neither that carrier nor its
        # upload (an operator learns nothing of another carrier's files)
        taken = conflict_for(carrier)
        out["refusal"] = str(taken)
        return out, taken
    out["already_uploaded"] = known.id if known else None
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="preview-", dir=store.tmp_dir))
    try:
        raw = open_upload(
            path,
            max_bytes=policy.max_upload_bytes,
            max_uncompressed=policy.max_uncompressed_bytes,
            scratch=scratch,
        )
        columns = dict(raw.columns)
        if "scan_date" in columns:  # split date and time: both fed scan_time
            columns["scan_time"] = f"{columns.pop('scan_date')} + {columns['scan_time']}"
        out.update(format=raw.format, header_row=raw.header_row, columns=columns)
        check = partial(
            validate,
            uploader_carrier=carrier,
            carriers=policy.carriers,
            now=now,
            upload_id=0,
            scan_words=word_lookup(store, carrier),
            site_names=site_lookup(store),
        )
        # the real ingest's two phases, into scratch: memory follows the limits, not the file
        limits = limits or IngestLimits()
        spilled = spill_upload(raw, check, scratch, limits, store.open_write)
        try:
            if spilled.rows_read == 0:
                raise FileRefused("the file has no data rows", code="no_data_rows")
            judged = judge(spilled.rows_read, spilled.rejects.read())
            (scratch / "stage").mkdir()
            kept = write_partitions(
                Staging(store, scratch / "stage"),
                0,
                spilled,
                scratch=scratch,
                limits=limits,
                written=[],
            )
        finally:
            spilled.budget.close()
        out.update(
            rows_read=spilled.rows_read,
            accepted=sum(m[3] for m in kept.manifest),
            duplicates=kept.within + kept.already,
            rejected=judged.rejected_detail(),
            unmatched_words=judged.unmatched_words(),
            refusal=refusal(judged, policy.max_rejected_share, policy.carriers),
        )
        if out["refusal"] is not None:
            out["accepted"] = 0
            why = FileRefused(
                out["refusal"],
                code="mostly_rejected",
                **refusal_params(judged, policy.max_rejected_share, policy.carriers),
            )
    except FileRefused as exc:
        out["refusal"] = str(exc)
        why = exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out, why

"""The inbox: operators who cannot call the API drop files into ``DIR/inbox/<CARRIER>/``.

One pass of :func:`ingest_inbox` (SPEC §10)::

    DIR/inbox/ZTO/a.parquet           taken once settled: its mtime is at least ``settle`` old.
                                      Every write moves the mtime, so its size and bytes have
                                      not changed for that long. A file written elsewhere and
                                      renamed into place keeps the mtime of its last write, so
                                      one finished ``settle`` ago or more is taken at once.
    DIR/inbox/ZTO/.a.parquet          ignored, as are ``*.part`` and ``*.tmp``: write under such a
    DIR/inbox/ZTO/a.parquet.part      name, then rename, and the file is never seen half-written
        -> register_upload + ingest_upload, exactly as an upload of carrier ZTO (source 'inbox')
    DIR/inbox/ZTO/done/a.parquet      ingested (or the same bytes were uploaded before), with
    DIR/inbox/ZTO/done/a.parquet.result.json    what the ingest did: rows, rejects, duplicates
    DIR/inbox/ZTO/refused/b.parquet   refused whole, the reason beside it in
    DIR/inbox/ZTO/refused/b.parquet.reason.txt
    DIR/inbox/FOO/refused/...         a folder whose name is no carrier code: its files refused
    DIR/inbox/refused/...             a file directly in DIR/inbox/, which names no carrier

Crash safety: a file is moved only after its upload is committed (``ingested`` or
``refused``). A crash in between leaves it in the inbox; the next pass registers the same
bytes, finds the first upload by SHA-256 and only moves the file, so nothing counts twice. A
file that vanishes during a pass (taken by a concurrent pass, removed by the operator) is
skipped. An unexpected error on one file leaves that file in place for the next pass and does
not stop the others.

:func:`ingest_received` is the same for uploads received through the API whose ingest did not
run (the process stopped before its background task, or crashed during it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.policy import Policy
from core.store import Store
from ingest.exceptions import UploadConflict
from ingest.uploads import (
    Upload,
    ingest_upload,
    one_publication,
    record_refusal,
    register_upload,
)

DONE, REFUSED = "done", "refused"
IGNORED_SUFFIXES = (".part", ".tmp")
REASON_SUFFIX, RESULT_SUFFIX = ".reason.txt", ".result.json"
#: How long a file's mtime must stay unchanged before it is taken.
DEFAULT_SETTLE = timedelta(seconds=10)

#: Asked before each file; ``True`` ends the pass early (the service is stopping).
StopCheck = Callable[[], bool]


@dataclass
class InboxItem:
    """What one pass did with one file."""

    carrier: str | None
    file: str
    outcome: str  # ingested | duplicate | refused | error
    moved_to: str | None = None
    upload_id: int | None = None
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    error: str | None = None


def inbox_dir(store: Store) -> Path:
    """``DIR/inbox``, where each carrier has its folder."""
    return store.root / "inbox"


def is_candidate(path: Path) -> bool:
    """A file the inbox may take: not a dotfile, not ``*.part`` or ``*.tmp``."""
    name = path.name
    return not name.startswith(".") and not name.lower().endswith(IGNORED_SUFFIXES)


def settled(path: Path, now: datetime, settle: timedelta) -> bool:
    """Whether the file's mtime lies at least ``settle`` before ``now``."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return now.timestamp() - mtime >= settle.total_seconds()


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... before the suffix if it is taken."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{suffix}"
    return target


def _move_beside(path: Path, folder: Path, sidecar_suffix: str, text: str) -> Path | None:
    """Move ``path`` into ``folder`` with a sidecar note; ``None`` if ``path`` vanished.

    The note is written first: a crash between the two leaves the file in the inbox and a
    stray note that the next pass overwrites.
    """
    folder.mkdir(exist_ok=True)
    target = _free_name(folder, path.name)
    note = target.with_name(target.name + sidecar_suffix)
    note.write_text(text, encoding="utf-8")
    try:
        os.replace(path, target)
    except FileNotFoundError:
        note.unlink(missing_ok=True)
        return None
    return target


def _result_note(upload: Upload) -> str:
    keys = ("id", "sha256", "carrier", "status", "rows_read", "accepted", "rejected")
    data = {k: getattr(upload, k) for k in keys}
    data |= {
        "rejected_by_reason": upload.rejected_by_reason,
        "duplicates": upload.duplicates,
        "already_uploaded": upload.duplicate,
        "received_at": upload.received_at,
        "ingested_at": upload.ingested_at,
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _take(
    store: Store, policy: Policy, path: Path, carrier: str | None, now: datetime
) -> InboxItem:
    """Ingest one settled file as an upload of ``carrier`` and move it out of the inbox."""
    folder = path.parent
    item = InboxItem(carrier=carrier, file=str(path.relative_to(inbox_dir(store))), outcome="")
    if carrier is None or carrier not in policy.carriers:
        where = (
            "the file lies directly in inbox/; put it in inbox/<CARRIER>/"
            if carrier is None
            else f"inbox/{folder.name}/ is not a carrier folder"
        )
        item.outcome = REFUSED
        item.error = f"{where}; known carriers: {', '.join(sorted(policy.carriers))}"
        # on record too, so that the upload list (API, console) shows it with its reason
        item.upload_id = record_refusal(
            store,
            path,
            carrier=None,
            reason=item.error,
            filename=path.name,
            code="inbox_no_carrier" if carrier is None else "inbox_not_a_carrier",
            params={"folder": folder.name, "known": sorted(policy.carriers)},
        ).id
        moved = _move_beside(path, folder / REFUSED, REASON_SUFFIX, f"{item.error}\n")
    else:
        upload: Upload | None = None
        try:
            upload = register_upload(
                store, path, carrier=carrier, filename=path.name, source="inbox"
            )
        except UploadConflict as exc:  # these bytes are another carrier's upload
            item.error = str(exc)
            # on record for this carrier, so that its operator sees the file and why
            item.upload_id = record_refusal(
                store,
                path,
                carrier=carrier,
                reason=item.error,
                filename=path.name,
                code=exc.code,
                params=exc.params,
            ).id
        if upload is not None and not upload.duplicate:
            upload = ingest_upload(store, upload.id, policy, now=now)
        if upload is not None:
            item.upload_id = upload.id
            if upload.status == "refused":
                item.error = upload.error or "refused"
        if upload is None or item.error is not None:
            item.outcome = REFUSED
            moved = _move_beside(path, folder / REFUSED, REASON_SUFFIX, f"{item.error}\n")
        else:
            item.outcome = "duplicate" if upload.duplicate else "ingested"
            if not upload.duplicate:
                item.rows_read, item.accepted = upload.rows_read, upload.accepted
                item.rejected, item.duplicates = upload.rejected, upload.duplicates
            moved = _move_beside(path, folder / DONE, RESULT_SUFFIX, _result_note(upload))
    if moved is not None:
        item.moved_to = str(moved.relative_to(inbox_dir(store)))
    return item


def _candidates(store: Store) -> list[tuple[Path, str | None]]:
    """Every candidate file with the carrier its folder names (``None``: no folder), oldest
    first; a folder name that is no carrier code is returned as is, upper-cased."""
    root = inbox_dir(store)
    found: list[tuple[float, str, Path, str | None]] = []
    for entry in root.iterdir():
        carrier: str | None
        if entry.is_dir() and not entry.name.startswith(".") and entry.name != REFUSED:
            carrier, files = entry.name.upper(), list(entry.iterdir())
        elif entry.is_file():
            carrier, files = None, [entry]
        else:
            continue
        for path in files:
            if is_candidate(path) and path.is_file():
                try:
                    found.append((path.stat().st_mtime, str(path), path, carrier))
                except FileNotFoundError:
                    continue
    found.sort(key=lambda t: (t[0], t[1]))
    return [(path, carrier) for _, _, path, carrier in found]


def ingest_inbox(
    store: Store,
    policy: Policy,
    *,
    now: datetime,
    settle: timedelta = DEFAULT_SETTLE,
    stop: StopCheck | None = None,
) -> dict[str, Any]:
    """One pass over ``DIR/inbox``: take every settled file, oldest first (see the module doc).

    ``now`` is the time of the pass: the reference of ``settle`` and the time of ingestion
    (the plausibility limit of scan times). Returns counts, one entry per file taken, and the
    errors of files left in place for the next pass.
    """
    root = inbox_dir(store)
    root.mkdir(parents=True, exist_ok=True)
    items: list[InboxItem] = []
    waiting = 0
    with one_publication(store, policy, now):  # the pass's figures published once
        for path, carrier in _candidates(store):
            if stop is not None and stop():
                break
            if not settled(path, now, settle):
                waiting += 1
                continue
            try:
                item = _take(store, policy, path, carrier, now)
            except FileNotFoundError:
                continue  # taken by a concurrent pass, or removed by the operator
            except Exception as exc:  # one bad file must not stop the others
                item = InboxItem(
                    carrier=carrier,
                    file=str(path.relative_to(root)),
                    outcome="error",
                    error=f"{type(exc).__name__}: {exc}",
                )
            items.append(item)
    summary: dict[str, Any] = {
        outcome: sum(i.outcome == outcome for i in items)
        for outcome in ("ingested", "duplicate", "refused")
    }
    summary |= {
        "waiting": waiting,
        "rows_read": sum(i.rows_read for i in items),
        "accepted": sum(i.accepted for i in items),
        "files": [asdict(i) for i in items],
        "errors": [f"{i.file}: {i.error}" for i in items if i.outcome == "error"],
    }
    return summary


def ingest_received(
    store: Store, policy: Policy, *, now: datetime, stop: StopCheck | None = None
) -> dict[str, Any]:
    """Ingest every upload still ``received`` (or left ``ingesting`` by a crash), oldest first.

    Each is ingested as :func:`ingest.uploads.ingest_upload` would have at upload time; one
    already taken meanwhile (by the API's background task) is returned unchanged by it.
    """
    with store.connect() as db:
        ids = [
            row[0]
            for row in db.execute(
                "SELECT id FROM uploads WHERE status IN ('received','ingesting') ORDER BY id"
            )
        ]
    done: list[dict[str, Any]] = []
    errors: list[str] = []
    with one_publication(store, policy, now):  # the figures published once
        for upload_id in ids:
            if stop is not None and stop():
                break
            try:
                upload = ingest_upload(store, upload_id, policy, now=now)
            except Exception as exc:  # one bad upload must not stop the others
                errors.append(f"upload {upload_id}: {type(exc).__name__}: {exc}")
                continue
            done.append(
                {"upload_id": upload.id, "status": upload.status, "accepted": upload.accepted}
            )
    return {"uploads": done, "errors": errors}

"""Read-only queries over the store's ledger: uploads, their rejected rows, the audit log.

Pages are keyset pages (``after``/``before`` an id or row number), so a page costs the same
however deep it is. Nothing here writes; :mod:`ingest.uploads` and :meth:`Store.audit` do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from core.store import Store
from ingest.uploads import Upload
from ingest.validate import REJECT_COLUMNS

UPLOAD_STATUSES: tuple[str, ...] = ("received", "ingesting", "ingested", "refused")


def find_upload_by_sha(store: Store, sha256: str) -> Upload | None:
    """The upload holding these exact bytes (received, ingesting or ingested), if any; bytes
    refused whole claim nothing (SPEC §3a), so a refused upload is not returned."""
    with store.connect() as db:
        row = db.execute(
            "SELECT * FROM uploads WHERE sha256=? AND status<>'refused' ORDER BY id DESC LIMIT 1",
            (sha256,),
        ).fetchone()
    return Upload.from_row(row) if row else None


def list_uploads(
    store: Store,
    *,
    carrier: str | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Upload]:
    """Uploads, newest first: only ``carrier``'s and ``status``'s if given, ids < ``before_id``."""
    sql = "SELECT * FROM uploads WHERE 1=1"
    args: list[Any] = []
    if carrier is not None:
        sql += " AND carrier=?"
        args.append(carrier)
    if status is not None:
        sql += " AND status=?"
        args.append(status)
    if before_id is not None:
        sql += " AND id<?"
        args.append(before_id)
    with store.connect() as db:
        rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
    return [Upload.from_row(r) for r in rows]


def rejects_page(
    store: Store, upload_id: int, *, after_row: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """Rejected rows of an upload with ``row_no > after_row``, by row number (values as text)."""
    with store.connect() as db:
        rows = db.execute(
            f"SELECT {', '.join(REJECT_COLUMNS)} FROM rejects"
            " WHERE upload_id=? AND row_no>? ORDER BY row_no LIMIT ?",
            (upload_id, after_row, limit),
        ).fetchall()
    return [dict(r) for r in rows]


def iter_rejects(store: Store, upload_id: int, *, batch: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every rejected row of an upload, by row number, read a batch at a time."""
    after = 0
    while True:
        page = rejects_page(store, upload_id, after_row=after, limit=batch)
        yield from page
        if len(page) < batch:
            return
        after = page[-1]["row_no"]


def read_audit_log(
    store: Store,
    *,
    after_id: int = 0,
    limit: int = 100,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """Audit log lines with ``id > after_id``, oldest first; ``action`` filters by prefix
    (``award`` matches ``award.recorded`` and ``award.paid``). Old and new values are decoded.
    """
    sql = "SELECT * FROM audit_log WHERE id>?"
    args: list[Any] = [after_id]
    if action:
        sql += " AND (action=? OR action LIKE ? ESCAPE '\\')"
        escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args += [action, escaped + ".%"]
    with store.connect() as db:
        rows = db.execute(sql + " ORDER BY id LIMIT ?", [*args, limit]).fetchall()
    out = []
    for r in rows:
        line = dict(r)
        for key in ("old_value", "new_value"):
            line[key] = None if line[key] is None else json.loads(line[key])
        out.append(line)
    return out


def unmatched_words(store: Store, *, recent: int = 200) -> list[dict[str, Any]]:
    """The scan-type words the latest ``recent`` judged uploads (ingested or refused) did not
    know: one item per carrier and word (trimmed), with the rows it cost and the uploads it
    affected (ids, ascending), most rows first. Read from the rejected rows of ingested
    uploads and from the refusal of the uploads refused whole for being mostly rejected."""
    found: dict[tuple[str | None, str], dict[str, Any]] = {}

    def add(carrier: str | None, word: str, rows: int, upload_id: int) -> None:
        item = found.setdefault(
            (carrier, word), {"carrier": carrier, "word": word, "rows": 0, "uploads": set()}
        )
        item["rows"] += rows
        item["uploads"].add(upload_id)

    with store.connect() as db:
        latest = db.execute(
            "SELECT id, carrier, status, error_code, error_params FROM uploads"
            " WHERE status IN ('ingested', 'refused') ORDER BY id DESC LIMIT ?",
            (recent,),
        ).fetchall()
        for upload in latest:
            if upload["status"] == "ingested":
                for word, rows in db.execute(
                    "SELECT trim(scan_type), count(*) FROM rejects WHERE upload_id=?"
                    " AND reason='unknown_scan_type' AND scan_type IS NOT NULL"
                    " GROUP BY trim(scan_type)",
                    (upload["id"],),
                ):
                    add(upload["carrier"], word, rows, upload["id"])
            elif upload["error_code"] == "mostly_rejected":
                params = json.loads(upload["error_params"] or "{}")
                for word, rows in params.get("unmatched_words", {}).items():
                    add(upload["carrier"], str(word).strip(), int(rows), upload["id"])
    items = [
        {**item, "uploads": sorted(item["uploads"])} for item in found.values() if item["word"]
    ]
    return sorted(items, key=lambda i: (-i["rows"], i["word"], i["carrier"] or ""))

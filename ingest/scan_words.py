"""Scan-type words (SPEC §3a): the shipped defaults and the words an admin adds, for every
carrier or for one, kept in the store's ``scan_words`` table.

An upload is judged with the words in force when it is judged (:func:`word_lookup`): a
carrier's own words first, then the words added for every carrier, then the defaults. Every
change is audited; the defaults are listed (marked) but never stored nor removed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from core.events import SCAN_TYPES
from core.store import Store, timestamp
from ingest.exceptions import ScanWordExists, ScanWordInvalid, ScanWordNotFound
from ingest.schema import DEFAULT_SCAN_WORDS, SCAN_TYPE_ALIASES


def _key(word: str) -> str:
    return word.strip().lower()


def word_lookup(store: Store, carrier: str | None) -> dict[str, str]:
    """Lower-cased word -> canonical scan type, for an upload of ``carrier``."""
    out = dict(SCAN_TYPE_ALIASES)
    with store.connect() as db:
        rows = db.execute(
            "SELECT word, scan_type, carrier FROM scan_words"
            " WHERE carrier IS NULL OR carrier IS ? ORDER BY carrier IS NOT NULL, id",
            (carrier,),
        ).fetchall()
    for row in rows:  # every-carrier words, then the carrier's own (they win)
        out[_key(row["word"])] = row["scan_type"]
    return out


def _row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "word": row["word"],
        "scan_type": row["scan_type"],
        "carrier": row["carrier"],
        "default": False,
        "created_at": row["created_at"],
        "created_by": row["created_by"],
    }


def list_words(store: Store) -> list[dict[str, Any]]:
    """Every word: the shipped defaults (``default`` true, ``id`` null), then those added."""
    defaults: list[dict[str, Any]] = [
        {
            "id": None,
            "word": word,
            "scan_type": scan_type,
            "carrier": None,
            "default": True,
            "created_at": None,
            "created_by": None,
        }
        for scan_type, words in DEFAULT_SCAN_WORDS.items()
        for word in words
    ]
    with store.connect() as db:
        added = [_row(r) for r in db.execute("SELECT * FROM scan_words ORDER BY id")]
    return defaults + added


def add_word(
    store: Store,
    word: str,
    scan_type: str,
    carrier: str | None,
    *,
    actor: str,
    carriers: dict[str, str],
) -> dict[str, Any]:
    """Map ``word`` to ``scan_type`` for ``carrier`` (``None``: every carrier); audited.

    Uploads judged afterwards use it. A word already mapped for that scope (or a shipped
    default of the same type, for every carrier) is :class:`ScanWordExists`.
    """
    text = word.strip()
    if not text or len(text) > 100:
        raise ScanWordInvalid(
            "a scan word must be 1-100 characters of text", code="invalid_scan_word", word=word
        )
    if scan_type not in SCAN_TYPES:
        raise ScanWordInvalid(
            f"unknown scan type {scan_type!r}; one of {', '.join(SCAN_TYPES)}",
            code="invalid_scan_type",
            scan_type=scan_type,
        )
    if carrier is not None and carrier not in carriers:
        raise ScanWordInvalid(
            f"unknown carrier {carrier!r}; known: {', '.join(sorted(carriers))}",
            code="unknown_carrier",
            carrier=carrier,
        )
    if carrier is None and SCAN_TYPE_ALIASES.get(_key(text)) == scan_type:
        raise ScanWordExists(
            f"{text!r} already means {scan_type} for every carrier (a shipped word)",
            word=text,
            scan_type=scan_type,
        )
    with store.transaction() as db:
        found = db.execute(
            "SELECT * FROM scan_words WHERE lower(word)=? AND carrier IS ?",
            (_key(text), carrier),
        ).fetchone()
        if found is not None:
            raise ScanWordExists(
                f"{text!r} is already mapped to {found['scan_type']} for "
                f"{carrier or 'every carrier'} (word id {found['id']}); remove it first",
                word=text,
                scan_type=found["scan_type"],
            )
        cur = db.execute(
            "INSERT INTO scan_words (word, scan_type, carrier, created_at, created_by)"
            " VALUES (?,?,?,?,?)",
            (text, scan_type, carrier, timestamp(), actor),
        )
        row = db.execute("SELECT * FROM scan_words WHERE id=?", (cur.lastrowid,)).fetchone()
        added = _row(row)
        store.audit(db, actor, "scan_word.added", f"scan_word:{cur.lastrowid}", new=added)
    return added


def delete_word(store: Store, word_id: int, *, actor: str) -> dict[str, Any]:
    """Remove a word an admin added; audited. The shipped defaults have no id and stay."""
    with store.transaction() as db:
        row = db.execute("SELECT * FROM scan_words WHERE id=?", (word_id,)).fetchone()
        if row is None:
            raise ScanWordNotFound(
                f"no added scan word has id {word_id} (the shipped defaults cannot be removed)",
                word_id=word_id,
            )
        old = _row(row)
        db.execute("DELETE FROM scan_words WHERE id=?", (word_id,))
        store.audit(db, actor, "scan_word.removed", f"scan_word:{word_id}", old=old)
    return old

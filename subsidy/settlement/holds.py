"""The subsidy held back by open anomaly flags (SPEC §11 ``held_fen``, §12 holds).

A held parcel's subsidy comes out of the claim before pro-rating. Until the audit controls
(SPEC §12) store flags, nothing is held: :func:`held_by_carrier` reads the flags table when it
exists and answers 0 for everyone otherwise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

FLAGS_TABLE = "anomaly_flags"


def held_total(parcels: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Per carrier, the subsidy (fen) of the held parcels ``(carrier, subsidy_fen)``."""
    out: dict[str, int] = {}
    for carrier, fen in parcels:
        out[carrier] = out.get(carrier, 0) + fen
    return out


def held_parcels(db: sqlite3.Connection, month: str) -> list[tuple[str, int]]:
    """``(carrier, subsidy_fen)`` of the eligible parcels of ``month`` held by an open flag.

    Empty while the store has no flags table (SPEC §12 not built yet).
    """
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (FLAGS_TABLE,)
    ).fetchone()
    if exists is None:
        return []
    rows = db.execute(
        f"SELECT carrier, SUM(subsidy_fen) FROM {FLAGS_TABLE}"
        " WHERE month=? AND status='open' AND held=1 GROUP BY carrier",
        (month,),
    )
    return [(r[0], int(r[1])) for r in rows]


def held_by_carrier(db: sqlite3.Connection, month: str) -> dict[str, int]:
    """Per carrier, ``held_fen`` of ``month``'s statement."""
    return held_total(held_parcels(db, month))

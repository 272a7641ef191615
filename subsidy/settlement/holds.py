"""The subsidy held back by open anomaly flags (SPEC §11 ``held_fen``, §12 holds), and the
adjustments the audit controls put into a carrier's next statement.

A parcel is *held* at a month's close when it is eligible and an open flag with
``action = "hold"`` is on it or on its hub-day (``anomaly_flag_parcels``, written by
:func:`subsidy.anomalies.save_flags`) and no flag on it is confirmed. The held parcels are
kept in ``held_parcels`` with the statement that held them. Afterwards, in the carrier's next
statement (:func:`anomaly_lines`):

* a held parcel no longer held by any open flag, none of its flags confirmed, is paid: a
  ``released_hold`` line of ``+subsidy`` (once);
* a held parcel with a confirmed flag is never paid (its outcome is ``confirmed``);
* confirming a flag on a parcel that is not held (paid, or to be claimed in a statement not
  yet made) puts its subsidy back: a ``confirmed_flag`` line of ``-subsidy`` (once a parcel);
* a sampled review's deduction (:mod:`subsidy.audits`): an ``audit_deduction`` line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from core.store import timestamp

_OPEN_HELD = (
    "SELECT 1 FROM anomaly_flag_parcels p JOIN anomaly_flags f ON f.id = p.flag_id"
    " WHERE p.carrier = {t}.carrier AND p.waybill_no = {t}.waybill_no AND p.month = {t}.month"
    " AND f.status = 'open' AND f.held = 1"
)
_CONFIRMED = (
    "SELECT 1 FROM anomaly_flag_parcels p JOIN anomaly_flags f ON f.id = p.flag_id"
    " WHERE p.carrier = {t}.carrier AND p.waybill_no = {t}.waybill_no AND p.month = {t}.month"
    " AND f.status = 'confirmed'"
)


def held_total(parcels: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Per carrier, the subsidy (fen) of the held parcels ``(carrier, subsidy_fen)``."""
    out: dict[str, int] = {}
    for carrier, fen in parcels:
        out[carrier] = out.get(carrier, 0) + fen
    return out


def held_rows(db: sqlite3.Connection, month: str) -> list[sqlite3.Row]:
    """``(carrier, waybill_no, subsidy_fen)`` of the eligible parcels of ``month`` held now."""
    return db.execute(
        "SELECT DISTINCT q.carrier, q.waybill_no, q.subsidy_fen FROM anomaly_flag_parcels q"
        f" WHERE q.month = ? AND EXISTS ({_OPEN_HELD.format(t='q')})"
        f" AND NOT EXISTS ({_CONFIRMED.format(t='q')})"
        " ORDER BY q.carrier, q.waybill_no",
        (month,),
    ).fetchall()


def held_parcels(db: sqlite3.Connection, month: str) -> list[tuple[str, int]]:
    """``(carrier, subsidy_fen)`` of the eligible parcels of ``month`` held by an open flag."""
    return [(r["carrier"], int(r["subsidy_fen"])) for r in held_rows(db, month)]


def held_by_carrier(db: sqlite3.Connection, month: str) -> dict[str, int]:
    """Per carrier, ``held_fen`` of ``month``'s statement."""
    return held_total(held_parcels(db, month))


def record_held(db: sqlite3.Connection, month: str, statements: dict[str, int]) -> None:
    """Keep the parcels of ``month`` held by its statements (carrier -> statement id)."""
    db.executemany(
        "INSERT OR IGNORE INTO held_parcels (month, carrier, waybill_no, subsidy_fen,"
        " statement_id) VALUES (?,?,?,?,?)",
        [
            (month, r["carrier"], r["waybill_no"], int(r["subsidy_fen"]), statements[r["carrier"]])
            for r in held_rows(db, month)
            if r["carrier"] in statements
        ],
    )


def anomaly_lines(db: sqlite3.Connection, month: str) -> dict[str, list[dict[str, Any]]]:
    """Per carrier, the adjustment lines the audit controls put into ``month``'s statements:
    released holds of earlier months, confirmed flags, audit deductions, not yet in any
    statement (see the module doc). :func:`mark_applied` then ties them to the statements."""
    lines: dict[str, list[dict[str, Any]]] = {}
    released = db.execute(
        "SELECT h.month, h.carrier, h.waybill_no, h.subsidy_fen FROM held_parcels h"
        " WHERE h.outcome IS NULL AND h.month < ?"
        f" AND NOT EXISTS ({_OPEN_HELD.format(t='h')})"
        f" AND NOT EXISTS ({_CONFIRMED.format(t='h')})"
        " ORDER BY h.month, h.carrier, h.waybill_no",
        (month,),
    )
    for r in released:
        lines.setdefault(r["carrier"], []).append(
            {
                "kind": "released_hold",
                "period": r["month"],
                "waybill_no": r["waybill_no"],
                "amount_fen": int(r["subsidy_fen"]),
            }
        )
    pending = db.execute(
        "SELECT id, kind, month, carrier, waybill_no, source_id, amount_fen"
        " FROM anomaly_adjustments WHERE statement_id IS NULL AND month <= ? ORDER BY id",
        (month,),
    )
    for r in pending:
        line = {
            "kind": r["kind"],
            "period": r["month"],
            "amount_fen": int(r["amount_fen"]),
            "adjustment_id": int(r["id"]),
        }
        if r["waybill_no"] is not None:
            line["waybill_no"] = r["waybill_no"]
        if r["kind"] == "audit_deduction":
            line["audit_id"] = int(r["source_id"])
        lines.setdefault(r["carrier"], []).append(line)
    return lines


def mark_applied(
    db: sqlite3.Connection, statement_id: int, lines: Iterable[dict[str, Any]], carrier: str
) -> None:
    """Tie the lines of :func:`anomaly_lines` to the statement that carries them."""
    for line in lines:
        if line["kind"] == "released_hold":
            db.execute(
                "UPDATE held_parcels SET outcome='released', released_in=?"
                " WHERE month=? AND carrier=? AND waybill_no=?",
                (statement_id, line["period"], carrier, line["waybill_no"]),
            )
        elif "adjustment_id" in line:
            db.execute(
                "UPDATE anomaly_adjustments SET statement_id=? WHERE id=?",
                (statement_id, line["adjustment_id"]),
            )


def on_confirmed(db: sqlite3.Connection, flag_id: int) -> int:
    """After a flag is confirmed: held parcels it concerns are never paid; the others get
    their subsidy put back (once a parcel). Answers the number of parcels put back."""
    parcels = db.execute(
        "SELECT month, carrier, waybill_no, subsidy_fen FROM anomaly_flag_parcels WHERE flag_id=?",
        (flag_id,),
    ).fetchall()
    back = 0
    for p in parcels:
        key = (p["month"], p["carrier"], p["waybill_no"])
        held = db.execute(
            "SELECT outcome FROM held_parcels WHERE month=? AND carrier=? AND waybill_no=?", key
        ).fetchone()
        if held is not None and held["outcome"] is None:
            db.execute(
                "UPDATE held_parcels SET outcome='confirmed'"
                " WHERE month=? AND carrier=? AND waybill_no=?",
                key,
            )
            continue
        if held is not None and held["outcome"] == "confirmed":
            continue
        cur = db.execute(
            "INSERT OR IGNORE INTO anomaly_adjustments (kind, month, carrier, waybill_no,"
            " source_id, amount_fen, created_at) VALUES ('confirmed_flag',?,?,?,0,?,?)",
            (*key, -int(p["subsidy_fen"]), timestamp()),
        )
        back += cur.rowcount
    return back


def add_deduction(
    db: sqlite3.Connection, audit_id: int, month: str, carrier: str, amount_fen: int
) -> None:
    """Put an audit's deduction (``-over_claim_fen``) into the carrier's next statement."""
    db.execute(
        "INSERT INTO anomaly_adjustments (kind, month, carrier, waybill_no, source_id,"
        " amount_fen, created_at) VALUES ('audit_deduction',?,?,NULL,?,?,?)",
        (month, carrier, audit_id, -amount_fen, timestamp()),
    )

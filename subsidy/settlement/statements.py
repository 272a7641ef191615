"""Statements (SPEC §11): created by closing a month, signed by two people, paid, reversed.

Closing month ``M`` creates, in the closing transaction, one statement per carrier with
in-scope parcels or adjustments in ``M`` (:func:`create_statements`, called by
:func:`subsidy.closing.close_month`). Its figures come from what the close froze
(``closed_month_figures``): ``claimed`` is the month's subsidy, ``adjustment`` the
prior-period lines plus any negative claim carried from the carrier's earlier statement,
``held`` the subsidy held by open anomaly flags, and the audit controls' lines (released
holds, confirmed flags, audit deductions) join the adjustment
(:mod:`subsidy.settlement.holds`). Payables are pro-rated to the budget left in ``M``'s
year (:mod:`subsidy.settlement.prorate`) and fixed at creation.

Lifecycle: ``draft -> submitted -> approved -> paid``; ``reverse`` takes a paid statement
back to ``approved`` (a failed transfer). The approver is another person than the submitter
(:mod:`subsidy.settlement.four_eyes`). Any other move is a :class:`ConflictError`. Every move
is kept in ``statement_transitions`` and the audit log (who, when, before, after).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.money import fen_to_yuan
from core.store import Store, timestamp
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.settlement.budgets import budget_in
from subsidy.settlement.four_eyes import require_name, require_other_person
from subsidy.settlement.holds import anomaly_lines, held_by_carrier, mark_applied, record_held
from subsidy.settlement.prorate import allocate, claim_of

STATUSES: tuple[str, ...] = ("draft", "submitted", "approved", "paid")

#: action -> (the status it starts from, the status it leads to)
MOVES: dict[str, tuple[str, str]] = {
    "submit": ("draft", "submitted"),
    "approve": ("submitted", "approved"),
    "pay": ("approved", "paid"),
    "reverse": ("paid", "approved"),
}


@dataclass(frozen=True)
class Statement:
    """A carrier's statement of one month; money in fen."""

    id: int
    month: str
    carrier: str
    eligible_parcels: int
    rate_fen: int | None
    claimed_fen: int
    held_fen: int
    adjustment_fen: int
    adjustment_lines: list[dict[str, Any]]
    claim_fen: int
    payable_fen: int
    carried_fen: int
    carried_into: int | None
    prorated: bool
    budget_fen: int | None
    remaining_fen: int | None
    total_claim_fen: int
    status: str
    created_at: str
    created_by: str
    submitted_at: str | None
    submitted_by: str | None
    submitted_name: str | None
    approved_at: str | None
    approved_by: str | None
    approved_name: str | None
    paid_at: str | None
    paid_by: str | None
    voucher_no: str | None
    paid_on: str | None
    payee_name: str | None
    bank: str | None
    account_no: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Statement:
        values = {k: row[k] for k in cls.__dataclass_fields__}
        values["adjustment_lines"] = json.loads(row["adjustment_lines"])
        values["prorated"] = bool(row["prorated"])
        return cls(**values)

    @property
    def forfeited_fen(self) -> int:
        """The part of a positive claim not paid because the budget did not reach it."""
        return max(self.claim_fen, 0) - self.payable_fen

    @property
    def budget_note(self) -> str:
        """``no_budget``, ``budget_spent``, ``prorated`` or ``within_budget``."""
        if self.budget_fen is None:
            return "no_budget"
        if self.prorated and self.remaining_fen == 0:
            return "budget_spent"
        return "prorated" if self.prorated else "within_budget"

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready), with yuan strings of the main amounts."""
        return {
            **self.__dict__,
            "forfeited_fen": self.forfeited_fen,
            "budget_note": self.budget_note,
            "payable_yuan": fen_to_yuan(self.payable_fen),
            "claim_yuan": fen_to_yuan(self.claim_fen),
        }


# -- creation ---------------------------------------------------------------------------------
def _frozen_figures(db: sqlite3.Connection, month: str) -> tuple[dict[str, Any], list[Any]]:
    """The closed month's own rows (carrier -> row) and its prior-period adjustment rows."""
    rows = db.execute(
        "SELECT period, carrier, eligible_parcels, subsidy_fen FROM closed_month_figures"
        " WHERE month=? ORDER BY period, carrier",
        (month,),
    ).fetchall()
    own = {r["carrier"]: r for r in rows if r["period"] == month}
    return own, [r for r in rows if r["period"] != month]


def _rates(db: sqlite3.Connection, month: str) -> dict[str, int | None]:
    row = db.execute("SELECT report_json FROM closed_months WHERE month=?", (month,)).fetchone()
    if row is None:
        return {}
    carriers = json.loads(row[0]).get("carriers", [])
    return {c["carrier"]: c.get("rate_fen") for c in carriers}


def create_statements(store: Store, db: sqlite3.Connection, month: str, *, actor: str) -> list[int]:
    """Create the statements of the just-closed ``month`` inside the closing transaction ``db``.

    Reads the figures the close froze; returns the new statements' ids (carrier order).
    """
    own, adjustments = _frozen_figures(db, month)
    lines: dict[str, list[dict[str, Any]]] = {}
    for r in adjustments:
        lines.setdefault(r["carrier"], []).append(
            {"kind": "prior_period", "period": r["period"], "amount_fen": int(r["subsidy_fen"])}
        )
    carried = db.execute(
        "SELECT id, month, carrier, carried_fen FROM statements"
        " WHERE carried_fen < 0 AND carried_into IS NULL AND month < ? ORDER BY month, id",
        (month,),
    ).fetchall()
    for r in carried:
        lines.setdefault(r["carrier"], []).append(
            {
                "kind": "carried",
                "statement_id": r["id"],
                "period": r["month"],
                "amount_fen": int(r["carried_fen"]),
            }
        )
    for code, extra in anomaly_lines(db, month).items():  # SPEC §12: holds, audits
        lines.setdefault(code, []).extend(extra)
    carriers = sorted(set(own) | set(lines))
    if not carriers:
        return []
    held = held_by_carrier(db, month)
    rates = _rates(db, month)
    figures: dict[str, tuple[int, int, int, int]] = {}
    for code in carriers:
        claimed = int(own[code]["subsidy_fen"]) if code in own else 0
        adjust = sum(line["amount_fen"] for line in lines.get(code, []))
        eligible = int(own[code]["eligible_parcels"]) if code in own else 0
        figures[code] = (eligible, claimed, held.get(code, 0), adjust)
    claims = {c: claim_of(f[1], f[2], f[3]) for c, f in figures.items()}
    budget = budget_in(db, int(month[:4]))
    result = allocate(claims, budget.remaining_fen)
    now = timestamp()
    ids: list[int] = []
    for code in carriers:
        eligible, claimed, held_fen, adjust = figures[code]
        cur = db.execute(
            "INSERT INTO statements (month, carrier, eligible_parcels, rate_fen, claimed_fen,"
            " held_fen, adjustment_fen, adjustment_lines, claim_fen, payable_fen, carried_fen,"
            " prorated, budget_fen, remaining_fen, total_claim_fen, status, created_at,"
            " created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                month,
                code,
                eligible,
                rates.get(code),
                claimed,
                held_fen,
                adjust,
                json.dumps(lines.get(code, [])),
                claims[code],
                result.payable[code],
                result.carried[code],
                int(result.prorated),
                budget.amount_fen,
                budget.remaining_fen,
                result.total_claim,
                "draft",
                now,
                actor,
            ),
        )
        new_id = int(cur.lastrowid or 0)
        ids.append(new_id)
        for line in lines.get(code, []):
            if line["kind"] == "carried":
                db.execute(
                    "UPDATE statements SET carried_into=? WHERE id=?",
                    (new_id, line["statement_id"]),
                )
        mark_applied(db, new_id, lines.get(code, []), code)
        statement = _get(db, new_id)
        _log(store, db, statement, actor, "create", None, {"figures": _figures(statement)})
    record_held(db, month, dict(zip(carriers, ids, strict=True)))
    return ids


def _figures(s: Statement) -> dict[str, Any]:
    keys = ("claimed_fen", "held_fen", "adjustment_fen", "claim_fen", "payable_fen")
    return {k: getattr(s, k) for k in (*keys, "carried_fen", "prorated", "remaining_fen")}


# -- reading ----------------------------------------------------------------------------------
def _get(db: sqlite3.Connection, statement_id: int) -> Statement:
    row = db.execute("SELECT * FROM statements WHERE id=?", (statement_id,)).fetchone()
    if row is None:
        raise NotFoundError(
            f"no statement with id {statement_id}", code="unknown_statement", id=statement_id
        )
    return Statement.from_row(row)


def get_statement(store: Store, statement_id: int, *, carrier: str | None = None) -> Statement:
    """One statement; :class:`NotFoundError` when none has that id or (with ``carrier``, an
    operator's view) it is another carrier's."""
    with store.connect() as db:
        s = _get(db, statement_id)
    if carrier is not None and s.carrier != carrier:
        raise NotFoundError(
            f"no statement with id {statement_id}", code="unknown_statement", id=statement_id
        )
    return s


def list_statements(
    store: Store, *, month: str | None = None, carrier: str | None = None
) -> list[Statement]:
    """The statements, by month then carrier (only ``month``'s, ``carrier``'s when given)."""
    sql, args = "SELECT * FROM statements WHERE 1=1", []
    if month is not None:
        sql += " AND month=?"
        args.append(month)
    if carrier is not None:
        sql += " AND carrier=?"
        args.append(carrier)
    with store.connect() as db:
        return [Statement.from_row(r) for r in db.execute(sql + " ORDER BY month, carrier", args)]


def transitions(store: Store, statement_id: int) -> list[dict[str, Any]]:
    """Every move of a statement, oldest first."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT at, actor, action, from_status, to_status, detail FROM statement_transitions"
            " WHERE statement_id=? ORDER BY id",
            (statement_id,),
        ).fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


# -- moves ------------------------------------------------------------------------------------
def _log(
    store: Store,
    db: sqlite3.Connection,
    s: Statement,
    actor: str,
    action: str,
    before: str | None,
    detail: dict[str, Any],
) -> None:
    db.execute(
        "INSERT INTO statement_transitions (statement_id, at, actor, action, from_status,"
        " to_status, detail) VALUES (?,?,?,?,?,?,?)",
        (s.id, timestamp(), actor, action, before, s.status, json.dumps(detail, default=str)),
    )
    store.audit(
        db,
        actor,
        f"statement.{action}",
        f"statement:{s.id}",
        old=None if before is None else {"status": before},
        new={"status": s.status, "month": s.month, "carrier": s.carrier, **detail},
    )


def _check_move(s: Statement, action: str) -> None:
    start, goal = MOVES[action]
    if s.status != start:
        raise ConflictError(
            f"statement {s.id} is {s.status}; {action} takes a {start} statement to {goal} "
            "(draft -> submitted -> approved -> paid; reverse: paid -> approved)",
            code="bad_transition",
            id=s.id,
            status=s.status,
            action=action,
        )


def _move(
    store: Store,
    db: sqlite3.Connection,
    s: Statement,
    action: str,
    actor: str,
    sets: dict[str, Any],
    detail: dict[str, Any],
) -> Statement:
    goal = MOVES[action][1]
    columns = {"status": goal, **sets}
    db.execute(
        f"UPDATE statements SET {', '.join(f'{k}=?' for k in columns)} WHERE id=? AND status=?",
        (*columns.values(), s.id, s.status),
    )
    after = _get(db, s.id)
    _log(store, db, after, actor, action, s.status, detail)
    return after


def submit(store: Store, statement_id: int, *, actor: str, name: str | None) -> Statement:
    """draft -> submitted, by a named finance officer."""
    with store.transaction() as db:
        s = _get(db, statement_id)
        _check_move(s, "submit")
        signer = require_name(name, what="submit a statement")
        sets = {"submitted_at": timestamp(), "submitted_by": actor, "submitted_name": signer}
        return _move(store, db, s, "submit", actor, sets, {"name": signer})


def approve(store: Store, statement_id: int, *, actor: str, name: str | None) -> Statement:
    """submitted -> approved, by another person than the submitter; fixes the payee."""
    with store.transaction() as db:
        s = _get(db, statement_id)
        _check_move(s, "approve")
        signer = require_other_person(s.submitted_name, name, what="approve this statement")
        payee = db.execute(
            "SELECT payee_name, bank, account_no FROM carriers WHERE carrier=?", (s.carrier,)
        ).fetchone()
        sets: dict[str, Any] = {
            "approved_at": timestamp(),
            "approved_by": actor,
            "approved_name": signer,
        }
        if payee is not None:
            sets.update(dict(payee))
        return _move(store, db, s, "approve", actor, sets, {"name": signer, "payee": sets})


def check_payment(s: Statement, voucher_no: str, paid_on: date, amount_fen: int) -> str:
    """The voucher number, once the payment matches the statement (:class:`InvalidValueError`
    for an empty voucher or an amount other than the payable)."""
    voucher = voucher_no.strip()
    if not voucher:
        raise InvalidValueError("voucher_no (凭证号) is empty", code="missing_voucher")
    if amount_fen != s.payable_fen:
        raise InvalidValueError(
            f"amount_fen {amount_fen} is not statement {s.id}'s payable of {s.payable_fen} fen "
            f"({fen_to_yuan(s.payable_fen)} yuan); pay exactly the payable",
            code="amount_mismatch",
            amount_fen=amount_fen,
            payable_fen=s.payable_fen,
        )
    return voucher


def pay_in(
    store: Store,
    db: sqlite3.Connection,
    s: Statement,
    *,
    voucher_no: str,
    paid_on: date,
    amount_fen: int,
    actor: str,
    source: str,
) -> Statement:
    """approved -> paid inside the caller's transaction (the API and reconciliation)."""
    _check_move(s, "pay")
    voucher = check_payment(s, voucher_no, paid_on, amount_fen)
    sets = {
        "paid_at": timestamp(),
        "paid_by": actor,
        "voucher_no": voucher,
        "paid_on": paid_on.isoformat(),
    }
    detail = {"voucher_no": voucher, "paid_on": paid_on.isoformat(), "amount_fen": amount_fen}
    return _move(store, db, s, "pay", actor, sets, {**detail, "source": source})


def pay(
    store: Store,
    statement_id: int,
    *,
    voucher_no: str,
    paid_on: date,
    amount_fen: int,
    actor: str,
) -> Statement:
    """approved -> paid; ``amount_fen`` must be the payable (else :class:`InvalidValueError`)."""
    with store.transaction() as db:
        s = _get(db, statement_id)
        return pay_in(
            store,
            db,
            s,
            voucher_no=voucher_no,
            paid_on=paid_on,
            amount_fen=amount_fen,
            actor=actor,
            source="api",
        )


def reverse(store: Store, statement_id: int, *, reason: str, actor: str) -> Statement:
    """paid -> approved (a failed transfer); the payable stays committed."""
    text = reason.strip()
    with store.transaction() as db:
        s = _get(db, statement_id)
        _check_move(s, "reverse")
        if not text:
            raise InvalidValueError(
                "reason is empty; say why the payment is reversed", code="reversal_reason_empty"
            )
        sets = {"paid_at": None, "paid_by": None, "voucher_no": None, "paid_on": None}
        detail = {"reason": text, "voucher_no": s.voucher_no, "paid_on": s.paid_on}
        return _move(store, db, s, "reverse", actor, sets, detail)

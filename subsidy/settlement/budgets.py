"""The yearly parcel-subsidy budget (SPEC §11) and what is committed and paid of it.

committed = Σ payable of the statements of the year's months, whatever their status (a
reversal un-pays, it never un-commits); paid = Σ payable of the paid ones; remaining =
max(0, amount − committed). Every change is audited with the amount before and after.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from core.store import Store, timestamp
from subsidy.exceptions import ConflictError, InvalidValueError

#: The calendar years a budget may be set for.
YEARS = range(2000, 2101)


@dataclass(frozen=True)
class Budget:
    """A year's budget and its use, in fen; ``amount_fen`` ``None`` when none was set."""

    year: int
    amount_fen: int | None
    document_no: str | None
    committed_fen: int
    paid_fen: int
    remaining_fen: int | None
    updated_at: str | None
    updated_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


def check_year(year: int) -> int:
    """``year`` when it is one a budget can be set for, else :class:`InvalidValueError`."""
    if year not in YEARS:
        raise InvalidValueError(
            f"year {year} is out of range; give a year {YEARS.start}..{YEARS.stop - 1}",
            code="bad_year",
            year=year,
        )
    return year


def budget_in(db: sqlite3.Connection, year: int) -> Budget:
    """The budget of ``year`` read inside the caller's connection or transaction."""
    row = db.execute("SELECT * FROM budgets WHERE year=?", (year,)).fetchone()
    committed, paid = db.execute(
        "SELECT COALESCE(SUM(payable_fen), 0),"
        " COALESCE(SUM(CASE WHEN status='paid' THEN payable_fen ELSE 0 END), 0)"
        " FROM statements WHERE substr(month, 1, 4) = ?",
        (f"{year:04d}",),
    ).fetchone()
    amount = None if row is None else int(row["amount_fen"])
    return Budget(
        year=year,
        amount_fen=amount,
        document_no=None if row is None else row["document_no"],
        committed_fen=int(committed),
        paid_fen=int(paid),
        remaining_fen=None if amount is None else max(0, amount - int(committed)),
        updated_at=None if row is None else row["updated_at"],
        updated_by=None if row is None else row["updated_by"],
    )


def get_budget(store: Store, year: int) -> Budget:
    """The budget of ``year`` with its committed, paid and remaining fen."""
    check_year(year)
    with store.connect() as db:
        return budget_in(db, year)


def set_budget(store: Store, year: int, *, amount_fen: int, document_no: str, actor: str) -> Budget:
    """Set (or change) the budget of ``year``.

    :class:`InvalidValueError` for a negative amount or an empty document number;
    :class:`ConflictError` (``below_committed``) for an amount below what is committed.
    """
    check_year(year)
    doc = document_no.strip()
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
        raise InvalidValueError(
            f"amount_fen must be integer fen >= 0, got {amount_fen!r}", code="bad_amount"
        )
    if not doc:
        raise InvalidValueError(
            "document_no (预算文号) is empty; give the document that sets the budget",
            code="missing_document_no",
        )
    with store.transaction() as db:
        before = budget_in(db, year)
        if amount_fen < before.committed_fen:
            raise ConflictError(
                f"budget of {amount_fen} fen for {year} is below the {before.committed_fen} fen "
                "already committed to statements; give at least that much",
                code="below_committed",
                year=year,
                amount_fen=amount_fen,
                committed_fen=before.committed_fen,
            )
        now = timestamp()
        db.execute(
            "INSERT INTO budgets (year, amount_fen, document_no, updated_at, updated_by)"
            " VALUES (?,?,?,?,?) ON CONFLICT (year) DO UPDATE SET amount_fen=excluded.amount_fen,"
            " document_no=excluded.document_no, updated_at=excluded.updated_at,"
            " updated_by=excluded.updated_by",
            (year, amount_fen, doc, now, actor),
        )
        after = budget_in(db, year)
        store.audit(
            db,
            actor,
            "budget.set",
            f"budget:{year}",
            old=None
            if before.amount_fen is None
            else {"amount_fen": before.amount_fen, "document_no": before.document_no},
            new={"amount_fen": amount_fen, "document_no": doc},
        )
    return after

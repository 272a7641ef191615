"""The year's fund at a glance (SPEC §11 ``GET /v1/program``), to the fen.

The parcel-subsidy budget with what statements committed and paid of it, and the center
awards (SPEC §7) counted in the year (by the month they count in,
:func:`subsidy.awards_in_report.counting_month`), recorded and paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.store import Store
from subsidy.awards_in_report import counting_month
from subsidy.settlement.budgets import budget_in, check_year


@dataclass(frozen=True)
class Program:
    """A year's fund in fen; the budget fields are ``None`` when no budget was set."""

    year: int
    budget_fen: int | None
    committed_fen: int
    paid_fen: int
    remaining_fen: int | None
    statements: int
    statements_paid: int
    awards_recorded_fen: int
    awards_paid_fen: int
    awards: int

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


def program(store: Store, year: int) -> Program:
    """The fund of ``year``."""
    check_year(year)
    prefix = f"{year:04d}"
    with store.connect() as db:
        budget = budget_in(db, year)
        n, n_paid = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status='paid'), 0) FROM statements"
            " WHERE substr(month, 1, 4)=?",
            (prefix,),
        ).fetchone()
        closed = dict(db.execute("SELECT month, closed_at FROM closed_months").fetchall())
        awards = [
            r
            for r in db.execute(
                "SELECT accredited_on, created_at, award_fen, status FROM center_awards"
            )
            if counting_month(r["accredited_on"], r["created_at"], closed)[:4] == prefix
        ]
    return Program(
        year=year,
        budget_fen=budget.amount_fen,
        committed_fen=budget.committed_fen,
        paid_fen=budget.paid_fen,
        remaining_fen=budget.remaining_fen,
        statements=int(n),
        statements_paid=int(n_paid),
        awards_recorded_fen=sum(int(r["award_fen"]) for r in awards),
        awards_paid_fen=sum(int(r["award_fen"]) for r in awards if r["status"] == "paid"),
        awards=len(awards),
    )

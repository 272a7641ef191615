"""Request and response models of settlement (SPEC §11): budgets, statements, payees, the
reconciliation of the bank's file and the year's program. Money is integer fen."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from subsidy.models import Fen, Yuan

StatementStatus = Literal["draft", "submitted", "approved", "paid"]


class BudgetIn(BaseModel):
    """A year's parcel-subsidy budget and the document that sets it."""

    amount_fen: int = Field(strict=True, ge=0, le=10**14, description="the budget, integer fen")
    document_no: str = Field(min_length=1, max_length=200, description="预算文号")


class BudgetOut(BaseModel):
    """A year's budget and its use; ``amount_fen`` and ``remaining_fen`` are null when no
    budget was set."""

    year: int
    amount_fen: Fen | None
    committed_fen: Fen = Field(description="Σ payable of the year's statements, any status")
    paid_fen: Fen = Field(description="Σ payable of the year's paid statements")
    remaining_fen: Fen | None = Field(description="max(0, amount − committed)")
    document_no: str | None
    updated_at: str | None
    updated_by: str | None


class AdjustmentLine(BaseModel):
    """One part of a statement's adjustment."""

    kind: Literal["prior_period", "carried"] | str
    period: str | None = None
    statement_id: int | None = None
    amount_fen: Fen


class Transition(BaseModel):
    """One move of a statement."""

    at: str
    actor: str
    action: str
    from_status: str | None
    to_status: str
    detail: dict[str, Any]


class StatementOut(BaseModel):
    """A carrier's statement of a month (claim = claimed − held + adjustment)."""

    id: int
    carrier: str
    month: str
    eligible_parcels: int
    claimed_fen: Fen
    held_fen: Fen
    adjustment_fen: Fen
    payable_fen: Fen
    prorated: bool
    status: StatementStatus
    payable_yuan: Yuan
    claim_fen: Fen
    claim_yuan: Yuan
    rate_fen: int | None
    carried_fen: Fen = Field(description="a negative claim carried into the next statement")
    carried_into: int | None
    forfeited_fen: Fen = Field(description="the part of the claim the budget did not reach")
    budget_note: Literal["no_budget", "within_budget", "prorated", "budget_spent"]
    budget_fen: Fen | None
    remaining_fen: Fen | None = Field(description="the year's budget left when it was created")
    total_claim_fen: Fen = Field(description="Σ positive claims of the month")
    adjustment_lines: list[AdjustmentLine]
    created_at: str
    submitted_at: str | None
    submitted_name: str | None
    approved_at: str | None
    approved_name: str | None
    paid_at: str | None
    voucher_no: str | None
    paid_on: str | None
    payee_name: str | None
    bank: str | None
    account_no: str | None
    transitions: list[Transition] | None = None


class PayIn(BaseModel):
    """The bank transfer that paid a statement."""

    voucher_no: str = Field(min_length=1, max_length=100, description="凭证号")
    paid_on: date
    amount_fen: int = Field(strict=True, description="must equal the statement's payable_fen")


class ReverseIn(BaseModel):
    """Why a paid statement goes back to approved (a failed transfer)."""

    reason: str = Field(min_length=1, max_length=500)


class ReconcileRow(BaseModel):
    """The result of one row of the bank's file (row 1 = first after the header)."""

    row: int
    result: Literal[
        "paid", "already_paid", "amount_mismatch", "not_approved", "unknown_statement",
        "invalid_row",
    ]  # fmt: skip
    statement_id: int | None
    detail: str


class ReconcileOut(BaseModel):
    """One result per row, and how many of each."""

    rows: list[ReconcileRow]
    counts: dict[str, int]


class PayeeIn(BaseModel):
    """A carrier's payee."""

    payee_name: str = Field(min_length=1, max_length=200, description="收款单位")
    bank: str = Field(min_length=1, max_length=200, description="开户行")
    account_no: str = Field(min_length=1, max_length=40, description="账号")


class PayeeOut(BaseModel):
    """A carrier of the registry and its payee (null until an administrator sets it)."""

    carrier: str
    carrier_name: str
    payee_name: str | None
    bank: str | None
    account_no: str | None
    updated_at: str | None
    updated_by: str | None


class ProgramOut(BaseModel):
    """The fund of a year, in fen (budget fields null when no budget was set)."""

    year: int
    budget_fen: Fen | None
    committed_fen: Fen
    paid_fen: Fen
    remaining_fen: Fen | None
    statements: int
    statements_paid: int
    awards_recorded_fen: Fen
    awards_paid_fen: Fen
    awards: int

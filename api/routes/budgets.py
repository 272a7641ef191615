"""The yearly parcel-subsidy budget (SPEC §11): set (finance), read (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import Finance, Staff, StoreDep
from api.errors import responses
from api.schemas_settlement import BudgetIn, BudgetOut
from subsidy.settlement.budgets import get_budget, set_budget

router = APIRouter(prefix="/v1/budgets", tags=["settlement"])

Year = Annotated[int, PathParam(ge=2000, le=2100, description="a calendar year")]


@router.put(
    "/{year}",
    response_model=BudgetOut,
    summary="Set a year's parcel-subsidy budget (finance)",
    responses=responses(401, 403, 409, 422),
)
def put(year: Year, body: BudgetIn, principal: Finance, store: StoreDep) -> Any:
    """409 for an amount below what statements already committed. Audited."""
    return set_budget(
        store, year, amount_fen=body.amount_fen, document_no=body.document_no, actor=principal.actor
    ).as_dict()


@router.get(
    "/{year}",
    response_model=BudgetOut,
    summary="A year's budget, committed, paid and remaining",
    responses=responses(401, 403, 422),
)
def get(year: Year, principal: Staff, store: StoreDep) -> Any:
    """``amount_fen`` and ``remaining_fen`` are null when no budget was set."""
    return get_budget(store, year).as_dict()

"""The year's fund (SPEC §11): ``GET /v1/program?year=Y`` (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Staff, StoreDep
from api.errors import responses
from api.schemas_settlement import ProgramOut
from subsidy.settlement.program import program

router = APIRouter(prefix="/v1/program", tags=["settlement"])


@router.get(
    "",
    response_model=ProgramOut,
    summary="The year's budget, committed, paid, awards and remaining fund",
    responses=responses(401, 403, 422),
)
def get(
    principal: Staff,
    store: StoreDep,
    year: Annotated[int, Query(ge=2000, le=2100, description="a calendar year")],
) -> Any:
    """To the fen."""
    return program(store, year).as_dict()

"""Month closing (月结): ``POST /v1/months/{YYYY-MM}/close`` (finance) and the closed months."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import MONTH_DOC, Finance, MonthText, PolicyDep, Staff, StoreDep
from api.errors import responses
from core.timeutil import now_local
from subsidy.closed import closed_months
from subsidy.closing import close_month
from subsidy.models import ClosedMonth

router = APIRouter(prefix="/v1/months", tags=["months"])


@router.get(
    "",
    response_model=list[ClosedMonth],
    summary="The closed months",
    responses=responses(401, 403),
)
def list_closed(principal: Staff, store: StoreDep) -> list[ClosedMonth]:
    """Every closed month with its store version and policy digest, oldest first."""
    return closed_months(store)


@router.post(
    "/{month}/close",
    status_code=201,
    response_model=ClosedMonth,
    summary="Close a month: freeze its figures (finance)",
    responses=responses(401, 403, 409, 422),
)
def close(
    month: Annotated[MonthText, PathParam(description=MONTH_DOC, examples=["2023-05"])],
    principal: Finance,
    store: StoreDep,
    policy: PolicyDep,
) -> ClosedMonth:
    """Freeze the month's report as of now, with the store version and the policy digest.
    Its report never changes afterwards; later events for it appear as prior-period
    adjustments in the next open month. 409 if already closed, 422 if not over yet.
    """
    return close_month(store, policy, month, actor=principal.actor, now=now_local())

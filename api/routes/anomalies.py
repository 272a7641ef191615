"""Anomaly flags (SPEC §12): the list of a month and an auditor's review of one flag.

Finance, auditors and administrators list every carrier's flags; an operator its own
carrier's (asking for another carrier's is 404). Only an auditor reviews.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Month, PolicyDep, Reader, StoreDep, carrier_scope, require
from api.errors import responses
from core.timeutil import now_local
from subsidy import anomalies
from subsidy.exceptions import NotFoundError
from subsidy.tokens import Principal

router = APIRouter(prefix="/v1/anomalies", tags=["anomalies"])

Auditor = Annotated[Principal, Depends(require("auditor"))]
FlagId = Annotated[int, PathParam(ge=1, le=2**62, description="the flag's id")]


class FlagOut(BaseModel):
    """One flag: a parcel's (``carrier``, ``waybill_no``) or a hub-day's (both null)."""

    id: int
    code: str
    carrier: str | None
    waybill_no: str | None
    site_code: str | None
    day: str | None
    detail: dict[str, Any]
    status: Literal["open", "cleared", "confirmed"]


class ReviewIn(BaseModel):
    """An auditor's decision on an open flag."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["cleared", "confirmed"]
    note: str | None = Field(default=None, max_length=2000)


@router.get(
    "",
    response_model=list[FlagOut],
    summary="The anomaly flags of a month (SPEC §12)",
    responses=responses(401, 403, 404, 422),
)
def list_(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    month: Month,
    carrier: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
) -> Any:
    """Computed as of the month's report (a closed month: as of its close)."""
    scope = carrier_scope(principal)
    code = None if carrier is None else carrier.strip().upper()
    if scope is not None:
        if code is not None and code != scope:
            raise NotFoundError(f"no flags of carrier {code} for you", code="not_found")
        code = scope
    return anomalies.list_flags(store, policy, month, now_local(), carrier=code)


@router.post(
    "/{flag_id:int}/review",
    response_model=FlagOut,
    summary="Clear or confirm an open flag (auditor)",
    responses=responses(401, 403, 404, 409, 422),
)
def review(flag_id: FlagId, body: ReviewIn, principal: Auditor, store: StoreDep) -> Any:
    """A cleared flag's parcels are paid in the carrier's next statement (once no other open
    flag holds them); a confirmed one's never are."""
    return anomalies.review_flag(
        store, flag_id, decision=body.decision, note=body.note, actor=principal.actor
    )

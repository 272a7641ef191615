"""Sampled review of a closed month (SPEC §12): auditors draw samples and record findings,
finance deducts the extrapolated over-claim once; an operator reads its own carrier's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Finance, MonthText, PolicyDep, Reader, StoreDep, carrier_scope, require
from api.errors import responses
from subsidy import audits
from subsidy.exceptions import InvalidValueError
from subsidy.tokens import Principal

router = APIRouter(prefix="/v1/audits", tags=["audits"])

Auditor = Annotated[Principal, Depends(require("auditor"))]
AuditId = Annotated[int, PathParam(ge=1, le=2**62, description="the audit's id")]


class AuditIn(BaseModel):
    """What to sample."""

    model_config = ConfigDict(extra="forbid")
    month: MonthText
    carrier: str = Field(min_length=1, max_length=20)
    sample_size: int = Field(ge=1, le=audits.MAX_SAMPLE)
    seed: int = Field(ge=0, le=2**63 - 1)


class FindingIn(BaseModel):
    """The finding on one sampled parcel."""

    model_config = ConfigDict(extra="forbid")
    waybill_no: str = Field(min_length=1, max_length=64)
    finding: Literal["confirmed", "not_confirmed"]
    note: str | None = Field(default=None, max_length=2000)


@router.post(
    "",
    status_code=201,
    summary="Draw a reproducible sample of a carrier's eligible parcels (auditor)",
    responses=responses(401, 403, 409, 422),
)
def create(body: AuditIn, principal: Auditor, store: StoreDep, policy: PolicyDep) -> Any:
    """Same month, carrier, size and seed: the same sample."""
    carrier = body.carrier.strip().upper()
    if carrier not in policy.carriers:
        raise InvalidValueError(
            f"unknown carrier {carrier}", code="unknown_carrier", carrier=carrier
        )
    return audits.create_audit(
        store,
        policy,
        month=body.month,
        carrier=carrier,
        sample_size=body.sample_size,
        seed=body.seed,
        actor=principal.actor,
    )


@router.get(
    "/{audit_id:int}",
    summary="An audit: its sample, findings and result",
    responses=responses(401, 403, 404, 422),
)
def read(audit_id: AuditId, principal: Reader, store: StoreDep) -> Any:
    """The error rate, its 95% Wilson interval and the extrapolated over-claim."""
    return audits.get_audit(store, audit_id, carrier=carrier_scope(principal))


@router.post(
    "/{audit_id:int}/findings",
    summary="Record the finding on one sampled parcel (auditor)",
    responses=responses(401, 403, 404, 409, 422),
)
def finding(audit_id: AuditId, body: FindingIn, principal: Auditor, store: StoreDep) -> Any:
    return audits.add_finding(
        store,
        audit_id,
        waybill_no=body.waybill_no,
        finding=body.finding,
        note=body.note,
        actor=principal.actor,
    )


@router.post(
    "/{audit_id:int}/deduct",
    summary="Deduct the over-claim from the carrier's next statement (finance, once)",
    responses=responses(401, 403, 404, 409, 422),
)
def deduct(audit_id: AuditId, principal: Finance, store: StoreDep) -> Any:
    return audits.deduct(store, audit_id, actor=principal.actor)

"""``GET /v1/parcels/{carrier}/{waybill_no}``: why a parcel has its status (SPEC §5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import AsOf, PolicyDep, Reader, StoreDep, visible_carrier
from api.errors import responses
from api.schemas import ParcelExplanation
from core.timeutil import to_local
from subsidy.exceptions import NotFoundError
from subsidy.explain import explain_parcel

router = APIRouter(prefix="/v1/parcels", tags=["parcels"])


@router.get(
    "/{carrier}/{waybill_no}",
    response_model=ParcelExplanation,
    summary="Explain one parcel: status, reason, departure, arrival and its scans",
    responses=responses(401, 403, 404, 409, 422),
)
def parcel(
    carrier: Annotated[str, PathParam(min_length=1, max_length=20, description="e.g. ZTO")],
    waybill_no: Annotated[str, PathParam(min_length=1, max_length=64)],
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    as_of: AsOf,
) -> Any:
    """The rule's outcome as of ``as_of`` and the scans that decided it. An operator asking
    for another carrier's parcel gets the same 404 as for a parcel that does not exist.
    """
    code = carrier.strip().upper()
    missing = NotFoundError(
        f"no scans of parcel {code} {waybill_no} up to {to_local(as_of).isoformat()}"
    )
    if code not in policy.carriers:
        raise missing
    if not visible_carrier(principal, code):
        raise missing
    try:
        return explain_parcel(store, policy, code, waybill_no, as_of)
    except NotFoundError:
        raise missing from None

"""``GET /v1/parcels/{carrier}/{waybill_no}``: why a parcel has its status (SPEC §5), and
``GET /v1/parcels?month=M``: the parcels behind a report cell (SPEC §12), as JSON pages or
streamed CSV/Parquet."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from api.deps import AsOf, Month, PolicyDep, Reader, StoreDep, carrier_scope, visible_carrier
from api.errors import responses
from api.schemas import ParcelExplanation
from core.timeutil import to_local
from subsidy import drilldown
from subsidy.exceptions import NotFoundError
from subsidy.explain import explain_parcel

router = APIRouter(prefix="/v1/parcels", tags=["parcels"])
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


@router.get(
    "",
    summary="The parcels a report cell counts: JSON pages, or all of them as CSV/Parquet",
    responses={
        200: {
            "description": "a JSON page {items, next_after}, or the file asked for",
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                PARQUET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **responses(401, 403, 404, 409, 422),
    },
)
def list_parcels(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    month: Month,
    as_of: AsOf,
    carrier: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    status: Annotated[Literal["eligible", "pending", "ineligible", "held"] | None, Query()] = None,
    reason: Annotated[
        Literal["no_hub_arrival", "late_hub_arrival", "outside_policy_window"] | None, Query()
    ] = None,
    after: Annotated[str | None, Query(max_length=100, description="next_after of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=drilldown.MAX_PAGE_SIZE)] = drilldown.PAGE_SIZE,
    format: Annotated[Literal["json", "csv", "parquet"], Query()] = "json",
) -> Any:
    """A closed month lists its frozen figures' parcels (as of its close). An operator lists
    its own carrier's only (another carrier's: 404)."""
    code = None if carrier is None else carrier.strip().upper()
    scope = carrier_scope(principal)
    if scope is not None:
        if code is not None and code != scope:
            raise NotFoundError(
                f"no parcels of carrier {code} for you", code="own_carrier_only", carrier=scope
            )
        code = scope
    frame = drilldown.parcels_frame(
        store, policy, month, as_of, carrier=code, status=status, reason=reason
    )
    name = f"parcels-{month}{'-' + code if code else ''}{'-' + status if status else ''}"
    if format == "csv":
        return StreamingResponse(
            drilldown.csv_chunks(frame),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "parquet":
        return StreamingResponse(
            drilldown.parquet_chunks(frame),
            media_type=PARQUET_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'},
        )
    return drilldown.page(frame, after, limit)


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
        f"no scans of parcel {code} {waybill_no} up to {to_local(as_of).isoformat()}",
        code="parcel_not_found",
        carrier=code,
        waybill_no=waybill_no,
    )
    if code not in policy.carriers:
        raise missing
    if not visible_carrier(principal, code):
        raise missing
    try:
        return explain_parcel(store, policy, code, waybill_no, as_of)
    except NotFoundError:
        raise missing from None

"""Reports: the monthly report (JSON, CSV, XLSX) and a summary over a range of months.

A closed month is served from its frozen figures, byte for byte, whatever ``as_of`` says; an
open month is computed as of ``as_of`` (default now) with its prior-period adjustments. An
operator gets only its own carrier's row and totals. A month that has not begun is 422.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import AsOf, Month, MonthText, PolicyDep, Reader, StoreDep
from api.errors import responses
from api.schemas import MonthlyReport, Summary
from core.timeutil import now_local
from subsidy.closing import check_reportable, served_report, summary
from subsidy.exports import XLSX_MEDIA_TYPE, report_csv, report_xlsx

router = APIRouter(prefix="/v1/reports", tags=["reports"])


def _from(
    first: Annotated[
        MonthText,
        Query(alias="from", description="first month, YYYY-MM"),
    ],
) -> str:
    return first


def _to(
    last: Annotated[MonthText, Query(alias="to", description="last month, YYYY-MM")],
) -> str:
    return last


@router.get(
    "/monthly",
    response_model=MonthlyReport,
    summary="The monthly per-carrier report (JSON, CSV or XLSX)",
    responses={
        200: {
            "description": "The report; format=csv or xlsx gives a file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **responses(401, 403, 422),
    },
)
def monthly(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    month: Month,
    as_of: AsOf,
    format: Annotated[
        Literal["json", "csv", "xlsx"], Query(description="json (default), csv or xlsx")
    ] = "json",
) -> Response:
    """Per carrier: eligible parcels, rate, subsidy, pending and ineligible per reason; the
    totals; prior-period adjustments; the center awards; the program total.
    """
    check_reportable(month, now_local())
    carrier = principal.carrier if principal.role == "operator" else None
    data = served_report(store, policy, month, as_of, carrier=carrier)
    if format == "json":
        return Response(data, media_type="application/json")
    doc = json.loads(data)
    name = f"subsidy-{month}{'-' + carrier if carrier else ''}"
    if format == "csv":
        return Response(
            report_csv(doc),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        report_xlsx(doc),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get(
    "/summary",
    response_model=Summary,
    response_model_by_alias=True,
    summary="The monthly reports of a range of months, added up per carrier",
    responses=responses(401, 403, 422),
)
def summary_(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    first: Annotated[str, Depends(_from)],
    last: Annotated[str, Depends(_to)],
    as_of: AsOf,
) -> Any:
    """Closed months count with their frozen figures, open ones as of ``as_of``; the center
    awards count once.
    """
    carrier = principal.carrier if principal.role == "operator" else None
    doc = summary(store, policy, first, last, as_of, now=now_local(), carrier=carrier)
    return Response(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        media_type="application/json",
    )

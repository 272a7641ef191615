"""Reports: the monthly report (JSON, CSV, XLSX) and a summary over a range of months.

A closed month is served from its frozen report, whatever ``as_of`` says; an open month is
computed as of ``as_of`` (default now) with its prior-period adjustments. An operator gets
only its own carrier's row and totals. A month that has not begun is 422.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import AsOf, Month, MonthText, PolicyDep, Reader, StoreDep, carrier_scope
from api.downloads import report_file
from api.errors import responses
from core.timeutil import now_local
from subsidy.exports import XLSX_MEDIA_TYPE
from subsidy.models import MonthlyReport, Summary
from subsidy.report import check_reportable, served_report
from subsidy.summary import summary

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
        **responses(401, 403, 409, 422),
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
) -> MonthlyReport | Response:
    """Per carrier: eligible parcels, rate, subsidy, pending and ineligible per reason; the
    totals; prior-period adjustments; the center awards; the program total.
    """
    check_reportable(month, now_local())
    carrier = carrier_scope(principal)
    report = served_report(store, policy, month, as_of, carrier=carrier)
    return report if format == "json" else report_file(report, format, carrier)


@router.get(
    "/summary",
    response_model=Summary,
    response_model_by_alias=True,
    summary="The monthly reports of a range of months, added up per carrier",
    responses=responses(401, 403, 409, 422),
)
def summary_(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    first: Annotated[str, Depends(_from)],
    last: Annotated[str, Depends(_to)],
    as_of: AsOf,
) -> Summary:
    """Closed months count with their frozen figures, open ones as of ``as_of``; the center
    awards count once.
    """
    carrier = carrier_scope(principal)
    return summary(store, policy, first, last, as_of, now=now_local(), carrier=carrier)

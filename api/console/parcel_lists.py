"""Behind every figure, its parcels (SPEC §12): the console's page of the parcels one report
cell counts, and the download of all of them as CSV, streamed.

The list is :func:`subsidy.drilldown.parcels_frame`, the call behind ``GET /v1/parcels``: the
rule over the store for the month as of ``as_of`` (a closed month: the parcels of its frozen
figures), by carrier, status and reason. The report page, the statement page and the
anomalies page link their counts here; each parcel links to its explanation
(:mod:`api.console.parcels`). An operator lists its own carrier's parcels only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import polars as pl
from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from api.console import anomalies as console_anomalies
from api.console import i18n
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import User
from api.deps import PolicyDep, StoreDep, as_of_param
from core.timeutil import now_local
from subsidy import anomalies, drilldown
from subsidy.closed import closed_set

router = APIRouter(route_class=ConsoleRoute)

#: Parcels shown on one page of the list.
PAGE_SIZE = 100
Status = Literal["eligible", "pending", "ineligible", "held"]
Reason = Literal["no_hub_arrival", "late_hub_arrival", "outside_policy_window"]
MonthParam = Annotated[str, Query(max_length=20)]
CarrierParam = Annotated[str | None, Query(max_length=20)]
AsOfParam = Annotated[str | None, Query(max_length=40)]


def _as_of(text: str | None) -> datetime:
    """The list's ``as_of``, checked as the API checks it (:func:`api.deps.as_of_param`)."""
    return as_of_param(text)


@router.get("/console/parcels/list", include_in_schema=False)
def parcel_list(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    month: MonthParam,
    carrier: CarrierParam = None,
    status: Annotated[Status | None, Query()] = None,
    reason: Annotated[Reason | None, Query()] = None,
    as_of: AsOfParam = None,
    after: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """One page of the parcels behind a figure, with their count and subsidy in all."""
    t = i18n.translator(lang_of(request))
    month = console_anomalies.month_param(month)
    code = console_anomalies.scoped_carrier(session, policy, carrier)
    at = _as_of(as_of)
    # the flags column shows the month's flags brought up to date (a page people read)
    anomalies.refresh_flags(store, policy, month, now_local())
    frame = drilldown.parcels_frame(
        store, policy, month, at, carrier=code, status=status, reason=reason
    )
    cell = frame.collect()  # once: the rule runs once for the count, the sum and the page
    totals = cell.select(pl.len().alias("n"), pl.col("subsidy_fen").sum().alias("fen"))
    shown = drilldown.page(cell.lazy(), after, PAGE_SIZE)
    query = {
        "month": month,
        "carrier": carrier.strip().upper() if carrier else "",
        "status": status or "",
        "reason": reason or "",
        "as_of": as_of or "",
    }
    query = {k: v for k, v in query.items() if v}
    status_words = (
        i18n.label(t, "reason", reason)
        if reason
        else (t("plist.held") if status == "held" else i18n.label(t, "status", status))
        if status
        else t("plist.all_statuses")
    )
    return page(
        request,
        "parcel_list.html",
        title=t("plist.title") + f" {month}",
        session=session,
        month=month,
        what=t(
            "plist.what",
            month=month,
            carrier=code or t("plist.all_carriers"),
            status=status_words,
        ),
        count=int(totals["n"][0]),
        amount_fen=int(totals["fen"][0] or 0),
        closed=month in closed_set(store),
        as_of=at,
        items=shown["items"],
        query=query,
        next_after=shown["next_after"],
        after=after,
    )


@router.get("/console/parcels/list.csv", include_in_schema=False)
def parcel_list_csv(
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    month: MonthParam,
    carrier: CarrierParam = None,
    status: Annotated[Status | None, Query()] = None,
    reason: Annotated[Reason | None, Query()] = None,
    as_of: AsOfParam = None,
) -> Response:
    """All the parcels of the list as CSV, streamed batch by batch (as ``GET /v1/parcels``
    with ``format=csv``)."""
    month = console_anomalies.month_param(month)
    code = console_anomalies.scoped_carrier(session, policy, carrier)
    frame = drilldown.parcels_frame(
        store, policy, month, _as_of(as_of), carrier=code, status=status, reason=reason
    )
    name = f"parcels-{month}{'-' + code if code else ''}{'-' + status if status else ''}"
    name += f"-{reason}" if reason else ""
    return StreamingResponse(
        drilldown.csv_chunks(frame),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )

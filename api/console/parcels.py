"""Parcel lookup: status, reason, the departure and arrival that decided it, and its scans as
a timeline. Through the API's route function, so an operator asking for another carrier's
parcel gets the same 404 as for a parcel that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from api.console import figures, i18n
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import Session, current_user
from api.routes import parcels as parcel_routes
from core.timeutil import now_local
from subsidy.exceptions import NotFoundError

router = APIRouter(route_class=ConsoleRoute)

User = Annotated[Session, Depends(current_user)]


@router.get("/console/parcels", include_in_schema=False)
def parcel_page(
    request: Request,
    session: User,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    waybill: Annotated[str | None, Query(max_length=64)] = None,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The lookup form and, for a waybill, the explanation of the parcel."""
    t = i18n.translator(lang_of(request))
    policy = request.app.state.policy
    own = figures.carrier_scope(session)
    carrier = (carrier or own or "").strip().upper() or None
    waybill = (waybill or "").strip() or None
    explanation: dict[str, Any] | None = None
    problem: str | None = None
    status = 200
    if carrier and waybill:
        try:
            at = figures.resolve_as_of(as_of) or now_local()
            explanation = parcel_routes.parcel(
                carrier=carrier,
                waybill_no=waybill,
                principal=session.principal,
                store=request.app.state.store,
                policy=policy,
                as_of=at,
            )
        except ValueError as exc:
            problem, status = str(exc), 422
        except NotFoundError:
            problem, status = t("parcel.not_found"), 404
    carriers = {own: policy.carriers[own]} if own else policy.carriers
    return page(
        request,
        "parcel.html",
        title=t("parcel.title") + (f" {carrier} {waybill}" if explanation else ""),
        status=status,
        session=session,
        carriers=carriers,
        carrier=carrier,
        waybill=waybill or "",
        as_of_text=as_of or "",
        parcel=explanation,
        problem=problem,
    )

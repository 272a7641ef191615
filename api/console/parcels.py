"""Parcel lookup: status, reason, the departure and arrival that decided it, and its scans as
a timeline. The same call as ``GET /v1/parcels/{carrier}/{waybill_no}``
(:func:`subsidy.explain.explain_parcel`), so an operator asking for another carrier's parcel
gets the same "not found" as for a parcel that does not exist (:func:`api.deps.visible_carrier`).
The anomaly flags on the parcel (SPEC §12) are shown beside it with their evidence and review;
an auditor reviews an open one here (:mod:`api.console.anomalies`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.console import anomalies as console_anomalies
from api.console import evidence, i18n
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import User
from api.deps import PolicyDep, StoreDep, carrier_scope, visible_carrier
from core.timeutil import now_local, resolve_as_of
from subsidy.anomalies import parcel_flags
from subsidy.exceptions import NotFoundError
from subsidy.explain import explain_parcel

router = APIRouter(route_class=ConsoleRoute)


@router.get("/console/parcels", include_in_schema=False)
def parcel_page(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    waybill: Annotated[str | None, Query(max_length=64)] = None,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The lookup form and, for a waybill, the explanation of the parcel."""
    lang = lang_of(request)
    t = i18n.translator(lang)
    own = carrier_scope(session.principal)
    carrier = (carrier or own or "").strip().upper() or None
    waybill = (waybill or "").strip() or None
    explanation: dict[str, Any] | None = None
    flags: list[dict[str, Any]] = []
    problem: str | None = None
    status = 200
    if carrier and waybill:
        try:
            at = resolve_as_of(as_of, now_local())
            if carrier not in policy.carriers or not visible_carrier(session.principal, carrier):
                raise NotFoundError(
                    f"no scans of parcel {carrier} {waybill}",
                    code="parcel_not_found",
                    carrier=carrier,
                    waybill_no=waybill,
                )
            explanation = explain_parcel(store, policy, carrier, waybill, at)
            flags = parcel_flags(store, policy, carrier, waybill, explanation["month"], now_local())
        except ValueError as exc:
            problem, status = i18n.error_text(exc, lang), 422
        except NotFoundError:
            problem, status = t("parcel.not_found"), 404
    carriers = {own: policy.carriers[own]} if own else policy.carriers
    names = console_anomalies.site_names(store) if flags else {}
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
        flags=flags,
        evidence=lambda flag: evidence.lines(t, flag, names),
        hint=lambda flag: evidence.hint(t, flag),
        can_review=session.role == "auditor",
    )

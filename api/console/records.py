"""The audit log with filters, and the one-time center award with its status (finance records,
approves and pays it; auditors and administrators read). Through the API's route functions
and the domain functions they call.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import i18n
from api.console.render import ConsoleRoute, error_status, lang_of, page
from api.console.session import Session, check_csrf, current_user, require_role
from api.routes import audit as audit_routes
from api.routes import awards as award_routes
from core.money import yuan_to_fen
from core.timeutil import now_local
from subsidy.awards import record_award
from subsidy.exceptions import NotFoundError, SubsidyError
from subsidy.sites import load_sites

router = APIRouter(route_class=ConsoleRoute)

User = Annotated[Session, Depends(current_user)]
STAFF = ("finance", "auditor", "admin")
#: The action filters offered (an action or its prefix, as ``GET /v1/audit-log?action=``).
ACTIONS = ("upload", "month", "award", "sites", "token")
AUDIT_PAGE = 50
FormText = Annotated[str, Form(max_length=500)]


@router.get("/console/audit", include_in_schema=False)
def audit_page(
    request: Request,
    session: User,
    action: Annotated[str | None, Query(max_length=50)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """A page of the append-only audit log, oldest first, filtered by action."""
    require_role(session, *STAFF)
    t = i18n.translator(lang_of(request))
    action = (action or "").strip() or None
    result = audit_routes.audit_log(
        principal=session.principal,
        store=request.app.state.store,
        after=after,
        limit=AUDIT_PAGE,
        action=action,
    )
    return page(
        request,
        "audit.html",
        title=t("audit.title"),
        session=session,
        lines=result["items"],
        next_after=result["next_after"],
        action=action,
        after=after,
        actions=ACTIONS,
    )


def _awards_page(
    request: Request,
    session: Session,
    *,
    status: int = 200,
    problem: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    store, policy = request.app.state.store, request.app.state.policy
    awards = award_routes.list_(principal=session.principal, store=store)
    awarded = {a["site_code"] for a in awards}
    centers = [
        s
        for s in load_sites(store).to_dicts()
        if s["kind"] == "district_center" and s["site_code"] not in awarded
    ]
    done = request.query_params.get("done")
    return page(
        request,
        "awards.html",
        title=t("awards.title"),
        status=status,
        session=session,
        awards=awards,
        centers=centers,
        cap_fen=policy.award_cap_fen,
        can_write=session.role == "finance",
        problem=problem,
        form=form or {},
        flash=t(f"awards.{done}") if done in ("recorded", "approved", "paid") else None,
        today=now_local().date().isoformat(),
    )


@router.get("/console/awards", include_in_schema=False)
def awards_page(request: Request, session: User) -> Response:
    """Every center award with its status and history; finance also gets the record form."""
    require_role(session, *STAFF)
    return _awards_page(request, session)


@router.post("/console/awards", include_in_schema=False)
def record(
    request: Request,
    session: User,
    site_code: FormText,
    accredited_on: FormText,
    document_no: FormText,
    award_yuan: FormText,
    csrf: FormText = "",
) -> Response:
    """Record an accreditation and its award (finance); the form again with the reason if
    the amount, date or center is refused.
    """
    require_role(session, "finance")
    check_csrf(request, session, csrf)
    form = {
        "site_code": site_code,
        "accredited_on": accredited_on,
        "document_no": document_no,
        "award_yuan": award_yuan,
    }
    try:
        award_fen = yuan_to_fen(award_yuan.replace(",", ""))
        on = date.fromisoformat(accredited_on.strip())
    except ValueError as exc:
        return _awards_page(request, session, status=422, problem=str(exc), form=form)
    try:
        record_award(
            request.app.state.store,
            request.app.state.policy,
            site_code=site_code,
            accredited_on=on,
            document_no=document_no,
            award_fen=award_fen,
            actor=session.principal.actor,
            today=now_local().date(),
            name=session.principal.name,
        )
    except SubsidyError as exc:
        status = error_status(request, exc)
        return _awards_page(request, session, status=status, problem=str(exc), form=form)
    return RedirectResponse("/console/awards?done=recorded", status_code=303)


@router.post("/console/awards/{award_id}/{step}", include_in_schema=False)
def advance(
    request: Request,
    session: User,
    award_id: Annotated[int, PathParam(ge=1, le=2**62)],
    step: Annotated[str, PathParam(max_length=10)],
    csrf: FormText = "",
) -> Response:
    """Approve an accredited award, or mark an approved one paid (finance)."""
    require_role(session, "finance")
    check_csrf(request, session, csrf)
    kwargs: dict[str, Any] = {
        "award_id": award_id,
        "principal": session.principal,
        "store": request.app.state.store,
    }
    if step == "approve":
        award_routes.approve(**kwargs)
        done = "approved"
    elif step == "pay":
        award_routes.pay(**kwargs)
        done = "paid"
    else:
        raise NotFoundError(f"no such step {step!r} of an award; use approve or pay")
    return RedirectResponse(f"/console/awards?done={done}", status_code=303)

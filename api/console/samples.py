"""Sampled review in the console (SPEC §12): the samples, drawing one (auditor), a sample's
parcels each with its evidence and a findings form (auditor), the result (error rate, 95%
Wilson interval, extrapolated over-claim from integer fen) and finance's one deduction.

Every page calls :mod:`subsidy.audits`, the functions behind ``/v1/audits``; operators read
their own carrier's samples (another's is 404), change nothing.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import i18n
from api.console.anomalies import AuditorUser
from api.console.render import ConsoleRoute, error_status, lang_of, page
from api.console.session import FinanceUser, Session, User, check_csrf
from api.deps import PolicyDep, StoreDep, carrier_scope
from core.policy import Policy
from core.store import Store
from core.timeutil import now_local
from subsidy import anomalies, audits
from subsidy.closed import closed_months
from subsidy.exceptions import InvalidValueError, SubsidyError

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form(max_length=2000)]
SampleId = Annotated[int, PathParam(ge=1, le=2**62)]
Start = Annotated[int, Query(ge=0, le=10**9)]
#: Sampled parcels shown on one page.
PAGE_SIZE = 100
#: The sample size the form suggests.
DEFAULT_SIZE = 50


def _list_page(
    request: Request,
    session: Session,
    store: Store,
    policy: Policy,
    *,
    status: int = 200,
    problem: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    months = [m.month for m in reversed(closed_months(store))]
    return page(
        request,
        "samples.html",
        title=t("samples.title"),
        status=status,
        session=session,
        rows=audits.list_audits(store, carrier=carrier_scope(session.principal)),
        months=months,
        carriers=policy.carriers,
        can_draw=session.role == "auditor",
        problem=problem,
        form=form
        or {
            "month": months[0] if months else "",
            "carrier": next(iter(policy.carriers), ""),
            "sample_size": str(DEFAULT_SIZE),
            "seed": str(secrets.randbelow(10**9)),
        },
    )


@router.get("/console/samples", include_in_schema=False)
def samples_page(request: Request, session: User, store: StoreDep, policy: PolicyDep) -> Response:
    """The samples (an operator: its carrier's), and for an auditor the form to draw one."""
    return _list_page(request, session, store, policy)


@router.post("/console/samples", include_in_schema=False)
def draw(
    request: Request,
    session: AuditorUser,
    store: StoreDep,
    policy: PolicyDep,
    month: Annotated[str, Form(max_length=20)],
    carrier: Annotated[str, Form(max_length=20)],
    sample_size: Annotated[int, Form(ge=1, le=audits.MAX_SAMPLE)],
    seed: Annotated[int, Form(ge=0, le=2**63 - 1)],
    csrf: FormText = "",
) -> Response:
    """Draw and record a sample (auditor); a refusal is shown beside the form kept filled in."""
    check_csrf(request, session, csrf)
    code = carrier.strip().upper()
    try:
        if code not in policy.carriers:
            raise InvalidValueError(f"unknown carrier {code}", code="unknown_carrier", carrier=code)
        audit = audits.create_audit(
            store,
            policy,
            month=month.strip(),
            carrier=code,
            sample_size=sample_size,
            seed=seed,
            actor=session.principal.actor,
        )
    except (SubsidyError, ValueError) as exc:
        status = error_status(request, exc) if isinstance(exc, SubsidyError) else 422
        form = {"month": month, "carrier": code, "sample_size": str(sample_size), "seed": str(seed)}
        return _list_page(
            request,
            session,
            store,
            policy,
            status=status,
            problem=i18n.error_text(exc, lang_of(request)),
            form=form,
        )
    return RedirectResponse(f"/console/samples/{audit['id']}", status_code=303)


def _sample_page(
    request: Request,
    session: Session,
    store: Store,
    policy: Policy,
    audit_id: int,
    start: int = 0,
    *,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    audit = audits.get_audit(store, audit_id, carrier=carrier_scope(session.principal))
    done = request.query_params.get("done")
    flash = None
    if done == "finding":
        flash = t("sample.done_finding", waybill=request.query_params.get("waybill", ""))
    elif done == "deduct":
        flash = t("sample.done_deduct")
    result = audit["result"]
    flags: dict[str, list[str]] = {}  # the flags on each sampled parcel, beside its finding
    for f in anomalies.list_flags(
        store, policy, audit["month"], now_local(), carrier=audit["carrier"]
    ):
        if f["waybill_no"] is not None:
            flags.setdefault(f["waybill_no"], []).append(f["code"])
    return page(
        request,
        "sample.html",
        title=t("sample.title", id=audit_id),
        status=status,
        session=session,
        a=audit,
        result=result,
        carrier_name=policy.carriers.get(audit["carrier"], ""),
        rows=audit["sample"][start : start + PAGE_SIZE],
        flags=flags,
        start=start,
        page_size=PAGE_SIZE,
        findings=audits.FINDINGS,
        can_find=session.role == "auditor" and audit["deducted_at"] is None,
        can_deduct=(
            session.role == "finance" and audit["deducted_at"] is None and result["complete"]
        ),
        problem=problem,
        flash=flash,
    )


@router.get("/console/samples/{audit_id}", include_in_schema=False)
def sample_page(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    audit_id: SampleId,
    start: Start = 0,
) -> Response:
    """A sample: its parcels with their findings, its result, and the moves of this role."""
    return _sample_page(request, session, store, policy, audit_id, start)


@router.post("/console/samples/{audit_id}/findings", include_in_schema=False)
def finding(
    request: Request,
    session: AuditorUser,
    store: StoreDep,
    policy: PolicyDep,
    audit_id: SampleId,
    waybill_no: Annotated[str, Form(min_length=1, max_length=64)],
    finding: Annotated[str, Form(max_length=20)],
    note: FormText = "",
    start: Annotated[int, Form(ge=0, le=10**9)] = 0,
    csrf: FormText = "",
) -> Response:
    """Record (or correct, until deducted) the finding on one sampled parcel (auditor)."""
    check_csrf(request, session, csrf)
    try:
        audits.add_finding(
            store,
            audit_id,
            waybill_no=waybill_no,
            finding=finding,
            note=note.strip() or None,
            actor=session.principal.actor,
        )
    except SubsidyError as exc:
        return _sample_page(
            request,
            session,
            store,
            policy,
            audit_id,
            start,
            status=error_status(request, exc),
            problem=i18n.error_text(exc, lang_of(request)),
        )
    query = urlencode({"done": "finding", "waybill": waybill_no, "start": start})
    return RedirectResponse(f"/console/samples/{audit_id}?{query}#result", status_code=303)


@router.post("/console/samples/{audit_id}/deduct", include_in_schema=False)
def deduct(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    policy: PolicyDep,
    audit_id: SampleId,
    csrf: FormText = "",
) -> Response:
    """Deduct the extrapolated over-claim from the carrier's next statement (finance, once)."""
    check_csrf(request, session, csrf)
    try:
        audits.deduct(store, audit_id, actor=session.principal.actor)
    except SubsidyError as exc:
        return _sample_page(
            request,
            session,
            store,
            policy,
            audit_id,
            status=error_status(request, exc),
            problem=i18n.error_text(exc, lang_of(request)),
        )
    return RedirectResponse(f"/console/samples/{audit_id}?done=deduct#result", status_code=303)

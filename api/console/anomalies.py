"""The anomaly flags of a month (SPEC §12) and an auditor's review of one.

Finance, auditors and administrators read every carrier's flags; an operator its own
carrier's, read-only (asking for another carrier's is 404, as in the API). Only an auditor
sees the review form, and the review route refuses anyone else (403). The flags are
:func:`subsidy.anomalies.list_flags` and the review :func:`subsidy.anomalies.review_flag`:
the same calls as ``GET /v1/anomalies`` and ``POST /v1/anomalies/{id}/review`` (audited there).
Each count of the page links to the list it counts: a code's flags in a review state to the
filtered flags, a carrier's held parcels to its parcel list (:mod:`api.console.parcel_lists`).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import anomaly_words, evidence, figures, i18n
from api.console.auth import safe_next
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import (
    ConsoleRefusal,
    Session,
    User,
    check_csrf,
    user_with_role,
)
from api.deps import PolicyDep, StoreDep, carrier_scope
from core.policy import Policy
from core.store import Store
from core.timeutil import now_local
from subsidy import anomalies, drilldown
from subsidy.exceptions import InvalidValueError, NotFoundError
from subsidy.report import check_reportable
from subsidy.sites import load_sites

i18n.MESSAGES.update(anomaly_words.MESSAGES)

router = APIRouter(route_class=ConsoleRoute)

AuditorUser = Annotated[Session, Depends(user_with_role("auditor"))]
FormText = Annotated[str, Form(max_length=2000)]
FlagId = Annotated[int, PathParam(ge=1, le=2**62)]
STATES: tuple[str, ...] = ("open", "cleared", "confirmed")
FlagCode = Literal["too_fast", "burst", "cross_carrier", "reused_waybill", "off_hours", "hub_spike"]
#: Flags shown on one page of the list.
PAGE_SIZE = 100


def site_names(store: Store) -> dict[str, str]:
    """``{site_code: name}`` of the sites registry (for evidence people read)."""
    sites = load_sites(store)
    return dict(zip(sites["site_code"].to_list(), sites["name"].to_list(), strict=True))


def scoped_carrier(session: Session, policy: Policy, asked: str | None) -> str | None:
    """The carrier a list is limited to: an operator's own (another's is 404, as in the API);
    for staff, the one asked for (an unknown code is 404 too), else every carrier."""
    code = (asked or "").strip().upper() or None
    own = carrier_scope(session.principal)
    if own is not None:
        if code is not None and code != own:
            raise NotFoundError(f"no data of carrier {code} for you", code="not_found")
        return own
    if code is not None and code not in policy.carriers:
        raise NotFoundError(f"unknown carrier {code}", code="not_found")
    return code


def month_param(text: str) -> str:
    """A ``YYYY-MM`` month that has begun (the report's own check), or 422 saying why."""
    month = figures.month_text(text)
    check_reportable(month, now_local())
    return month


def page_month(
    request: Request, store: Store, policy: Policy, month: str | None, carrier: str | None
) -> str:
    """The month asked for (:func:`month_param`), else the one the report page opens on."""
    if month:
        return month_param(month)
    cache = figures.figure_cache(request)
    return figures.default_month(figures.chart(cache, store, policy, None, carrier), now_local())


def with_params(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query (replacing those of the same name)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    query += list(params.items())
    return f"{parts.path}?{urlencode(query)}"


@router.get("/console/anomalies", include_in_schema=False)
def anomalies_page(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    month: Annotated[str | None, Query(max_length=20)] = None,
    code: Annotated[FlagCode | None, Query()] = None,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    state: Annotated[Literal["open", "cleared", "confirmed"] | None, Query()] = None,
    start: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """The month's flags with their evidence, counts by code and state, held parcels."""
    t = i18n.translator(lang_of(request))
    scope = scoped_carrier(session, policy, carrier)
    month = page_month(request, store, policy, month, scope)
    every = anomalies.list_flags(store, policy, month, now_local(), carrier=scope)
    counts = Counter((f["code"], f["status"]) for f in every)
    shown = [
        f
        for f in every
        if (code is None or f["code"] == code) and (state is None or f["status"] == state)
    ]
    rows = shown[start : start + PAGE_SIZE]
    done_reviews = anomalies.reviews(store, [f["id"] for f in rows])
    names = site_names(store)
    filters = {
        k: v
        for k, v in (
            ("month", month),
            ("carrier", scope or ""),
            ("code", code or ""),
            ("state", state or ""),
        )
        if v
    }
    if carrier is None and scope is not None:
        filters.pop("carrier")  # an operator's own carrier is implied
    done = request.query_params.get("done")
    flash = None
    if done in anomalies.DECISIONS:
        flash = t(
            "anomalies.done", id=request.query_params.get("flag", ""), decision=t(f"review.{done}")
        )
    carriers = (
        {scope: policy.carriers.get(scope, scope)}
        if session.role == "operator" and scope
        else policy.carriers
    )
    return page(
        request,
        "anomalies.html",
        title=t("anomalies.title") + f" {month}",
        session=session,
        month=month,
        codes=anomalies.CODES,
        states=STATES,
        code=code,
        state=state,
        carrier=scope,
        carriers=carriers,
        counts={(c, s): counts.get((c, s), 0) for c in anomalies.CODES for s in STATES},
        total=len(every),
        held=drilldown.held_counts(store, month, carrier=scope),  # flags refreshed above
        rows=rows,
        shown_total=len(shown),
        start=start,
        page_size=PAGE_SIZE,
        filters=filters,
        reviews=done_reviews,
        evidence=lambda flag: evidence.lines(t, flag, names),
        hint=lambda flag: evidence.hint(t, flag),
        site_names=names,
        can_review=session.role == "auditor",
        flash=flash,
    )


@router.post("/console/anomalies/{flag_id}/review", include_in_schema=False)
def review(
    request: Request,
    session: AuditorUser,
    store: StoreDep,
    flag_id: FlagId,
    decision: Annotated[str, Form(max_length=20)] = "",
    note: FormText = "",
    csrf: FormText = "",
    next: FormText = "",
) -> Response:
    """Clear or confirm an open flag with a reason (auditor); back to the page it was on."""
    check_csrf(request, session, csrf)
    if not note.strip():
        raise ConsoleRefusal(
            422,
            "validation_error",
            "a review needs a reason (note)",
            text_code="review_note_required",
        )
    if decision not in anomalies.DECISIONS:
        raise InvalidValueError(
            f"decision must be one of {', '.join(anomalies.DECISIONS)}, not {decision!r}",
            code="invalid_decision",
            value=decision,
        )
    anomalies.review_flag(
        store, flag_id, decision=decision, note=note.strip(), actor=session.principal.actor
    )
    back = safe_next(next, "/console/anomalies")
    return RedirectResponse(with_params(back, done=decision, flag=str(flag_id)), status_code=303)

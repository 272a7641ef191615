"""The audit log with filters, and the one-time center award with its status (finance records,
approves and pays it; auditors and administrators read). The same domain calls as
``/v1/audit-log`` (:func:`ingest.ledger.read_audit_log`) and ``/v1/center-awards``
(:mod:`subsidy.awards`).

The audit log is shown for people: each action in words (``award.recorded`` -> 记录中心奖励),
its target named (``award:3`` -> 奖励 #3), and old and new values as ``key: value`` lines
(amounts in yuan, statuses and kinds by their labels) rather than JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import i18n
from api.console.render import ConsoleRoute, error_status, lang_of, page
from api.console.session import FinanceUser, Session, StaffUser, check_csrf
from api.deps import PolicyDep, StoreDep
from core.money import yuan_to_fen
from core.policy import Policy
from core.store import Store
from core.timeutil import now_local, parse_date
from ingest.ledger import read_audit_log
from subsidy.awards import advance_award, list_awards, record_award
from subsidy.exceptions import NotFoundError, SubsidyError
from subsidy.sites import load_sites

router = APIRouter(route_class=ConsoleRoute)

#: The action filters offered (an action or its prefix, as ``GET /v1/audit-log?action=``).
ACTIONS = (
    "upload",
    "scan_word",
    "month",
    "statement",
    "budget",
    "carrier",
    "anomaly",
    "audit",
    "award",
    "sites",
    "token",
    "store",
)
AUDIT_PAGE = 50
FormText = Annotated[str, Form(max_length=500)]
#: The steps of an award the console offers: path part -> the status it moves the award to.
STEPS = {"approve": "approved", "pay": "paid"}
#: Value keys shown by the label of their value (``status: accredited`` -> 状态: 已认定).
_VALUE_LABELS = {"status": "award_status", "role": "role", "kind": "kind"}
#: Groups tried for the keys of a nested mapping (``by_kind``, ``rejected_by_reason``).
_KEY_GROUPS = ("kind", "reject")


def _value_text(t: Callable[..., str], key: str, value: Any) -> str:
    """One value of an audit line for people."""
    if value is None or value == {} or value == []:
        return "—"
    if isinstance(value, str) and (key == "as_of" or key.endswith("_at")):
        try:
            return i18n.local_time(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and key.endswith("_fen"):
        return i18n.yuan(value)
    if isinstance(value, int):
        return i18n.count(value)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            name = next((t(f"{g}.{k}") for g in _KEY_GROUPS if f"{g}.{k}" in i18n.MESSAGES), str(k))
            parts.append(f"{name} {_value_text(t, str(k), v)}")
        return t("ui.list_sep").join(parts)
    if isinstance(value, list):
        return t("ui.item_sep").join(_value_text(t, key, v) for v in value)
    if key in _VALUE_LABELS:
        return i18n.label(t, _VALUE_LABELS[key], str(value))
    return str(value)


def value_lines(t: Callable[..., str], value: Any) -> list[tuple[str, str]]:
    """An old or new value of an audit line as ``(label, text)`` lines; a value that is not a
    mapping is one line without a label.
    """
    if value is None:
        return []
    if not isinstance(value, dict):
        return [("", _value_text(t, "", value))]
    return [
        (i18n.label(t, "field", str(key)), _value_text(t, str(key), item))
        for key, item in value.items()
        # an amount in yuan beside the same amount in fen is shown once
        if not (str(key).endswith("_yuan") and f"{str(key)[:-5]}_fen" in value)
    ]


def target_text(t: Callable[..., str], target: str | None) -> str:
    """An audit line's target for people: ``award:3`` -> 奖励 #3 (unknown kinds as they are)."""
    if not target:
        return ""
    kind, _, ident = target.partition(":")
    key = f"target.{kind}"
    return t(key, id=ident) if key in i18n.MESSAGES else target


@router.get("/console/audit", include_in_schema=False)
def audit_page(
    request: Request,
    session: StaffUser,
    store: StoreDep,
    action: Annotated[str | None, Query(max_length=50)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """A page of the append-only audit log, oldest first, filtered by action."""
    t = i18n.translator(lang_of(request))
    action = (action or "").strip() or None
    items = read_audit_log(store, after_id=after, limit=AUDIT_PAGE, action=action)
    lines = [
        {
            **item,
            "action_text": i18n.label(t, "action", item["action"]),
            "target_text": target_text(t, item["target"]),
            "old_lines": value_lines(t, item["old_value"]),
            "new_lines": value_lines(t, item["new_value"]),
        }
        for item in items
    ]
    return page(
        request,
        "audit.html",
        title=t("audit.title"),
        session=session,
        lines=lines,
        next_after=items[-1]["id"] if len(items) == AUDIT_PAGE else None,
        action=action,
        after=after,
        actions=ACTIONS,
    )


def _awards_page(
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
    awards = [a.as_dict() for a in list_awards(store)]
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
def awards_page(
    request: Request, session: StaffUser, store: StoreDep, policy: PolicyDep
) -> Response:
    """Every center award with its status and history; finance also gets the record form."""
    return _awards_page(request, session, store, policy)


def _accreditation_date(text: str) -> date:
    """``YYYY-MM-DD`` in ASCII digits, a real day (:func:`core.timeutil.parse_date`, the API's
    parser; :class:`BadValue` ``bad_date`` otherwise)."""
    return parse_date(text.strip())


@router.post("/console/awards", include_in_schema=False)
def record(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    policy: PolicyDep,
    site_code: FormText,
    accredited_on: FormText,
    document_no: FormText,
    award_yuan: FormText,
    csrf: FormText = "",
) -> Response:
    """Record an accreditation and its award (finance); the form again with the reason if
    the amount, date or center is refused.
    """
    check_csrf(request, session, csrf)
    lang = lang_of(request)
    form = {
        "site_code": site_code,
        "accredited_on": accredited_on,
        "document_no": document_no,
        "award_yuan": award_yuan,
    }
    try:
        award_fen = yuan_to_fen(award_yuan.replace(",", ""))
        on = _accreditation_date(accredited_on)
    except ValueError as exc:
        problem = i18n.error_text(exc, lang)
        return _awards_page(request, session, store, policy, status=422, problem=problem, form=form)
    try:
        record_award(
            store,
            policy,
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
        problem = i18n.error_text(exc, lang)
        return _awards_page(
            request, session, store, policy, status=status, problem=problem, form=form
        )
    return RedirectResponse("/console/awards?done=recorded", status_code=303)


@router.post("/console/awards/{award_id}/{step}", include_in_schema=False)
def advance(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    award_id: Annotated[int, PathParam(ge=1, le=2**62)],
    step: Annotated[str, PathParam(max_length=10)],
    csrf: FormText = "",
) -> Response:
    """Approve an accredited award, or mark an approved one paid (finance)."""
    check_csrf(request, session, csrf)
    if step not in STEPS:
        raise NotFoundError(
            f"no such step {step!r} of an award; use approve or pay", code="no_such_step", step=step
        )
    status = STEPS[step]
    advance_award(  # the approver is not the recorder (four eyes, SPEC §7)
        store, award_id, status, actor=session.principal.actor, name=session.principal.name
    )
    return RedirectResponse(f"/console/awards?done={status}", status_code=303)

"""Settlement in the console (SPEC §11): the finance home page (the year's fund, statements
waiting, the scheduled jobs), statement pages with the actions each role may take, the
payment list and statement downloads, and the reconciliation upload with per-row results.

Operators see their own carrier's statements (read-only); finance acts; auditors and
administrators read. Every page calls the API's domain functions; no rule is written here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import i18n, settlement_words
from api.console.render import ConsoleRoute, error_status, lang_of, page
from api.console.session import FinanceUser, Session, StaffUser, check_csrf, current_user
from api.deps import PolicyDep, SettingsDep, StoreDep
from core.money import yuan_to_fen
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from core.timeutil import now_local
from scheduler import jobs_status
from subsidy.exceptions import NotFoundError, SubsidyError
from subsidy.exports import XLSX_MEDIA_TYPE
from subsidy.settlement import statements as st
from subsidy.settlement.budgets import set_budget
from subsidy.settlement.capitals import capitals
from subsidy.settlement.documents import statement_pdf
from subsidy.settlement.parcel_list import parcel_list_csv
from subsidy.settlement.payees import payee_in
from subsidy.settlement.payment_list import payment_list_xlsx
from subsidy.settlement.program import program
from subsidy.settlement.reconcile import reconcile

i18n.MESSAGES.update(settlement_words.MESSAGES)

router = APIRouter(route_class=ConsoleRoute)
User = Annotated[Session, Depends(current_user)]
STAFF = ("finance", "auditor", "admin")
FormText = Annotated[str, Form(max_length=500)]
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
StatementId = Annotated[int, PathParam(ge=1, le=2**62)]
ACTIONS = ("submit", "approve", "pay", "reverse")


def _actions(session: Session, s: st.Statement) -> list[str]:
    """The moves this user may try on ``s`` (finance only; the domain still checks)."""
    if session.role != "finance":
        return []
    return [a for a in ACTIONS if st.MOVES[a][0] == s.status]


@router.get("/console/finance", include_in_schema=False)
def finance_home(
    request: Request,
    session: StaffUser,
    store: StoreDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The year's fund, its statements by month, those waiting, and the scheduled jobs."""
    return _finance_page(request, session, store, settings, year or now_local().year)


def _finance_page(
    request: Request,
    session: Session,
    store: Store,
    settings: Settings,
    year: int,
    *,
    problem: str | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    fund = program(store, year).as_dict()
    every = st.list_statements(store)
    months: dict[str, dict[str, int]] = {}
    for s in every:
        if not s.month.startswith(f"{year:04d}"):
            continue
        m = months.setdefault(s.month, {"count": 0, "payable": 0, "paid": 0})
        m["count"] += 1
        m["payable"] += s.payable_fen
        m["paid"] += s.payable_fen if s.status == "paid" else 0
    jobs = jobs_status(store, settings.ingest_every)
    return page(
        request,
        "finance.html",
        title=t("finance.title"),
        status=422 if problem else 200,
        session=session,
        year=year,
        fund=fund,
        months=sorted(months.items()),
        waiting=[s for s in every if s.status in ("draft", "submitted")],
        jobs=jobs,
        problem=problem,
        can_write=session.role == "finance",
    )


@router.post("/console/finance/budget", include_in_schema=False)
def finance_budget(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    settings: SettingsDep,
    year: Annotated[int, Form(ge=2000, le=2100)],
    amount_yuan: FormText,
    document_no: FormText,
    csrf: FormText = "",
) -> Response:
    """Set the year's budget (finance); a refusal is shown on the page."""
    check_csrf(request, session, csrf)
    try:
        amount = yuan_to_fen(amount_yuan.replace(",", ""))
        set_budget(
            store,
            year,
            amount_fen=amount,
            document_no=document_no,
            actor=session.principal.actor,
        )
    except (SubsidyError, ValueError) as exc:
        return _finance_page(
            request, session, store, settings, year, problem=i18n.error_text(exc, lang_of(request))
        )
    return RedirectResponse(f"/console/finance?year={year}", status_code=303)


@router.get("/console/statements", include_in_schema=False)
def statements_page(
    request: Request, session: User, store: StoreDep, month: MonthQuery = None
) -> Response:
    """The statements (of a month), each with its status; operators see their own."""
    t = i18n.translator(lang_of(request))
    rows = st.list_statements(store, month=month, carrier=session.carrier)
    return page(
        request,
        "statements.html",
        title=t("statements.title"),
        session=session,
        rows=rows,
        month=month,
        months=sorted({s.month for s in st.list_statements(store, carrier=session.carrier)}),
        is_staff=session.role in STAFF,
        can_write=session.role == "finance",
    )


@router.get("/console/statements/payment-list", include_in_schema=False)
def payment_list(
    session: StaffUser, store: StoreDep, policy: PolicyDep, month: MonthQuery = None
) -> Response:
    """The month's payment list (XLSX) for the bank (staff)."""
    if month is None:
        raise NotFoundError("the payment list needs a month", code="payment_list_month")
    content = payment_list_xlsx(store, policy, month, st.list_statements(store, month=month))
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="payment-list-{month}.xlsx"'},
    )


def _statement_page(
    request: Request,
    session: Session,
    store: Store,
    policy: Policy,
    s: st.Statement,
    *,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    done = request.query_params.get("done")
    return page(
        request,
        "statement.html",
        title=t("statement.title", id=s.id),
        status=status,
        session=session,
        s=s,
        carrier_name=policy.carriers.get(s.carrier, ""),
        payee=_payee(store, policy, s),
        capitals=capitals(s.payable_fen),
        history=st.transitions(store, s.id),
        actions=_actions(session, s),
        problem=problem,
        flash=t("statement.done", action=t(f"statement.{done}")) if done in ACTIONS else None,
        today=now_local().date().isoformat(),
    )


def _payee(store: Store, policy: Policy, s: st.Statement) -> dict[str, str | None]:
    if s.approved_at is not None and s.payee_name is not None:
        return {"payee_name": s.payee_name, "bank": s.bank, "account_no": s.account_no}
    with store.connect() as db:
        p = payee_in(db, s.carrier, policy.carriers)
    return {"payee_name": p.payee_name, "bank": p.bank, "account_no": p.account_no}


@router.get("/console/statements/{statement_id}", include_in_schema=False)
def statement_page(
    request: Request, session: User, store: StoreDep, policy: PolicyDep, statement_id: StatementId
) -> Response:
    """One statement: figures, payee, history, downloads and the moves this user may make."""
    s = st.get_statement(store, statement_id, carrier=session.carrier)
    return _statement_page(request, session, store, policy, s)


@router.get("/console/statements/{statement_id}/pdf", include_in_schema=False)
def statement_document(
    session: User, store: StoreDep, policy: PolicyDep, statement_id: StatementId
) -> Response:
    """The printable statement (PDF)."""
    s = st.get_statement(store, statement_id, carrier=session.carrier)
    content = statement_pdf(store, policy, s, printed_at=now_local())
    name = f"statement-{s.month}-{s.carrier}-{s.id}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/console/statements/{statement_id}/parcels.csv", include_in_schema=False)
def statement_parcels(
    session: User, store: StoreDep, policy: PolicyDep, statement_id: StatementId
) -> Response:
    """The statement's parcel list (CSV)."""
    s = st.get_statement(store, statement_id, carrier=session.carrier)
    name = f"statement-{s.month}-{s.carrier}-{s.id}.csv"
    return Response(
        parcel_list_csv(store, policy, s),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/console/statements/{statement_id}/{action}", include_in_schema=False)
def statement_action(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    policy: PolicyDep,
    statement_id: StatementId,
    action: Annotated[str, PathParam(max_length=10)],
    csrf: FormText = "",
    voucher_no: FormText = "",
    paid_on: FormText = "",
    amount_yuan: FormText = "",
    reason: FormText = "",
) -> Response:
    """Submit, approve, pay or reverse (finance); a refusal is shown on the statement page
    with the status the API gives it (409, 422)."""
    check_csrf(request, session, csrf)
    if action not in ACTIONS:
        raise NotFoundError(
            f"no such action {action!r}; use {', '.join(ACTIONS)}",
            code="no_such_action",
            action=action,
        )
    who = {"actor": session.principal.actor}
    try:
        if action == "submit":
            st.submit(store, statement_id, name=session.principal.name, **who)
        elif action == "approve":
            st.approve(store, statement_id, name=session.principal.name, **who)
        elif action == "pay":
            st.pay(
                store,
                statement_id,
                voucher_no=voucher_no,
                paid_on=date.fromisoformat(paid_on.strip()),
                amount_fen=yuan_to_fen(amount_yuan.replace(",", "")),
                **who,
            )
        else:
            st.reverse(store, statement_id, reason=reason, **who)
    except (SubsidyError, ValueError) as exc:
        s = st.get_statement(store, statement_id)
        status = error_status(request, exc) if isinstance(exc, SubsidyError) else 422
        return _statement_page(
            request,
            session,
            store,
            policy,
            s,
            status=status,
            problem=i18n.error_text(exc, lang_of(request)),
        )
    return RedirectResponse(f"/console/statements/{statement_id}?done={action}", status_code=303)


@router.get("/console/reconcile", include_in_schema=False)
def reconcile_page(request: Request, session: FinanceUser) -> Response:
    """The upload form of the bank's file (finance)."""
    t = i18n.translator(lang_of(request))
    return page(
        request,
        "reconcile.html",
        title=t("reconcile.title"),
        session=session,
        results=None,
        problem=None,
    )


@router.post("/console/reconcile", include_in_schema=False)
def reconcile_upload(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    file: Annotated[UploadFile, File()],
    csrf: FormText = "",
) -> Response:
    """Reconcile the uploaded file; one result per row."""
    check_csrf(request, session, csrf)
    t = i18n.translator(lang_of(request))
    content = file.file.read(5 * 1024 * 1024 + 1)
    try:
        results = reconcile(store, content, actor=session.principal.actor)
    except SubsidyError as exc:
        return page(
            request,
            "reconcile.html",
            title=t("reconcile.title"),
            status=error_status(request, exc),
            session=session,
            results=None,
            problem=i18n.error_text(exc, lang_of(request)),
        )
    return page(
        request,
        "reconcile.html",
        title=t("reconcile.title"),
        session=session,
        results=[r.as_dict() for r in results],
        problem=None,
    )

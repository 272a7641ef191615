"""The monthly report page (finance, auditors, and operators for their own carrier), the chart
of the policy period, month closing with a confirmation naming the figures, and the downloads.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import figures, i18n
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import FinanceUser, Session, User, check_csrf
from api.deps import PolicyDep, StoreDep, carrier_scope
from api.downloads import report_file
from api.errors import ApiError
from core.policy import Policy
from core.store import Store
from core.timeutil import (
    month_is_over,
    next_month,
    now_local,
    prev_month,
)
from subsidy.closing import FiguresChanged, check_closable, close_month
from subsidy.exceptions import InvalidValueError
from subsidy.models import MonthlyReport
from subsidy.report import check_reportable, live_report, served_report
from subsidy.rule import INELIGIBLE_REASONS

router = APIRouter(route_class=ConsoleRoute)

MonthQuery = Annotated[str | None, Query(max_length=20)]
AsOfQuery = Annotated[str | None, Query(max_length=40)]
MonthPath = Annotated[str, PathParam(max_length=20)]


def _over(month: str) -> bool:
    return month_is_over(month, now_local())


@router.get("/console/report", include_in_schema=False)
def report_page(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    month: MonthQuery = None,
    as_of: AsOfQuery = None,
) -> Response:
    """The month's per-carrier figures, totals, adjustments, awards, program total and chart."""
    t = i18n.translator(lang_of(request))
    cache = figures.figure_cache(request)
    carrier = carrier_scope(session.principal)
    problems: list[str] = []
    try:
        at = figures.resolve_as_of(as_of)
    except ValueError as exc:
        problems.append(i18n.error_text(exc, lang_of(request)))
        at = None
    chart = figures.chart(cache, store, policy, at, carrier)
    if month:
        try:
            month = figures.month_text(month)
        except ApiError as exc:
            problems.append(i18n.error_text(exc, lang_of(request)))
            month = None
    month = month or figures.default_month(chart, now_local())
    report: MonthlyReport | None = None
    try:
        report = figures.monthly_report(cache, store, policy, month, at, carrier)
    except InvalidValueError as exc:  # a month that has not begun
        problems.append(i18n.error_text(exc, lang_of(request)))
    keep = {"as_of": as_of} if at is not None else {}
    # the downloads ask the API for the figures of the instant shown (a closed month: frozen)
    shown = {"as_of": report.as_of.isoformat()} if report is not None and not report.closed else {}
    return page(
        request,
        "report.html",
        title=t("report.own_title" if carrier else "report.title") + f" {month}",
        status=422 if problems else 200,
        session=session,
        month=month,
        as_of_text=as_of if at is not None else "",
        report=report,
        problems=problems,
        reasons=INELIGIBLE_REASONS,
        chart=chart,
        prev_month=prev_month(month),
        next_month=next_month(month),
        keep=keep,
        download={**shown, "month": month},
        drill={**shown, "month": month},  # the parcel list behind each count (SPEC §12)
        can_close=(
            session.role == "finance"
            and report is not None
            and report.closed is None
            and _over(month)
        ),
        close_not_yet=session.role == "finance" and report is not None and not _over(month),
        done=request.query_params.get("done"),
    )


def _close_page(
    request: Request,
    session: Session,
    month: str,
    store: Store,
    policy: Policy,
    report: MonthlyReport | None = None,
) -> Response:
    """The confirmation of a close: ``report`` (the figures as of now, computed here when not
    given) and the digest a close must still find; 409 when the figures changed since."""
    changed = report is not None
    if report is None:
        now = now_local()
        check_closable(store, month, now)
        report = live_report(store, policy, month, now)
    t = i18n.translator(lang_of(request))
    return page(
        request,
        "close.html",
        title=t("close.title", month=month),
        status=409 if changed else 200,
        session=session,
        month=month,
        report=report,
        reasons=INELIGIBLE_REASONS,
        expect=report.figures_digest(),
        changed=changed,
    )


@router.get("/console/months/{month}/close", include_in_schema=False)
def close_confirm(
    request: Request, session: FinanceUser, store: StoreDep, policy: PolicyDep, month: MonthPath
) -> Response:
    """The confirmation: the figures that closing will freeze, as of now (finance only)."""
    return _close_page(request, session, figures.month_text(month), store, policy)


@router.post("/console/months/{month}/close", include_in_schema=False)
def close(
    request: Request,
    session: FinanceUser,
    store: StoreDep,
    policy: PolicyDep,
    month: MonthPath,
    csrf: Annotated[str, Form(max_length=200)] = "",
    expect: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Close the month if its figures are still those confirmed; else confirm again (409)."""
    check_csrf(request, session, csrf)
    month = figures.month_text(month)
    try:  # the figures are computed once, by the close itself
        close_month(
            store, policy, month, actor=session.principal.actor, now=now_local(), expect=expect
        )
    except FiguresChanged as changed:
        return _close_page(request, session, month, store, policy, changed.report)
    return RedirectResponse(f"/console/report?month={month}&done=closed", status_code=303)


@router.get("/console/report/download", include_in_schema=False)
def download(
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    month: Annotated[str, Query(max_length=20)],
    format: Annotated[str, Query(max_length=10)] = "xlsx",
    as_of: AsOfQuery = None,
) -> Response:
    """The API's own Excel or CSV file of the month (operators: their carrier's)."""
    if format not in ("xlsx", "csv"):
        raise ApiError(
            422,
            "validation_error",
            f"format {format!r}: use xlsx or csv",
            text_code="bad_format",
            value=format,
        )
    try:
        at = figures.resolve_as_of(as_of) or now_local()
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", f"invalid as_of: {exc}", text_code="bad_as_of", value=as_of
        ) from exc
    month = figures.month_text(month)
    check_reportable(month, now_local())
    carrier = carrier_scope(session.principal)
    report = served_report(store, policy, month, at, carrier=carrier)
    return report_file(report, "csv" if format == "csv" else "xlsx", carrier)

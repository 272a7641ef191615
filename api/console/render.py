"""Pages: the Jinja2 templates, the headers every page carries, and errors shown as pages.

Templates are autoescaped; data for scripts goes through ``tojson`` into a non-executable
``<script type="application/json">`` block, so the Content-Security-Policy can forbid inline
scripts. Errors keep the status the API's own exception handlers choose (:mod:`api.errors`
is the one place statuses are chosen); the console shows them as a page, worded in the page's
language from the error's code and params (:func:`api.console.i18n.error_text`), or passes
the API's JSON through to a script that asked for JSON.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.console import i18n
from api.console.session import (
    CSRF_FIELD,
    LANG_COOKIE,
    Session,
    SignInRequired,
    csrf_token,
    optional_user,
    set_csrf_cookie,
)
from api.deps import get_policy
from api.errors import ApiError

logger = logging.getLogger("parcel_subsidy.console")

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

#: Only this service's own assets; inline styles are allowed for the chart library's tooltips.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: The header of a script's error answer saying what went wrong in the page's language
#: (percent-encoded UTF-8), beside the API's English JSON.
ERROR_TEXT_HEADER = "X-Error-Text"
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: JSON for people too: keep Chinese readable (``tojson`` still escapes ``<>&'`` for HTML).
_env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
_env.filters["yuan"] = i18n.yuan
_env.filters["count"] = i18n.count
_env.filters["local_time"] = i18n.local_time


@cache
def _digest(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of an asset, with its content hash (so it can be cached for good)."""
    return f"/console/static/{name}?v={_digest(name)}"


def lang_of(request: Request) -> str:
    """The page language: the ``ps_lang`` cookie, else zh-CN."""
    return i18n.pick_lang(request.cookies.get(LANG_COOKIE))


def home_url(session: Session | None) -> str:
    """Where a role starts: operators at their uploads, everyone else at the report."""
    if session is None:
        return "/console/login"
    return "/console/uploads" if session.role == "operator" else "/console/report"


def _nav(session: Session, t: Callable[..., str], path: str) -> list[dict[str, Any]]:
    if session.role == "operator":
        items = [
            ("/console/uploads", "nav.uploads"),
            ("/console/report", "nav.own_report"),
            ("/console/parcels", "nav.parcels"),
            ("/console/statements", "nav.statements"),  # settlement, SPEC §11
            ("/console/anomalies", "nav.anomalies"),  # audit controls, SPEC §12
            ("/console/samples", "nav.samples"),
        ]
    else:
        items = [
            ("/console/report", "nav.report"),
            ("/console/finance", "nav.finance"),  # settlement, SPEC §11
            ("/console/statements", "nav.statements"),
            ("/console/awards", "nav.awards"),
            ("/console/audit", "nav.audit"),
            ("/console/anomalies", "nav.anomalies"),  # audit controls, SPEC §12
            ("/console/samples", "nav.samples"),
            ("/console/uploads", "nav.uploads"),
            ("/console/parcels", "nav.parcels"),
        ]
        if session.role == "admin":  # couriers' scan words, SPEC §3a
            items.append(("/console/scan-words", "nav.scan_words"))
    return [
        {"href": href, "label": t(key), "current": path == href or path.startswith(href + "/")}
        for href, key in items
    ]


def page(
    request: Request,
    template: str,
    *,
    title: str,
    status: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` as a full page for ``session`` (or a signed-out visitor)."""
    lang = lang_of(request)
    t = i18n.translator(lang)
    other = "en" if lang == "zh-CN" else "zh-CN"
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _env.get_template(template).render(
        request=request,
        title=title,
        lang=lang,
        t=t,
        label=lambda group, value: i18n.label(t, group, value),
        duration=lambda seconds: i18n.duration(seconds, lang),
        other_lang=other,
        other_lang_name=i18n.LANG_NAMES[other],
        user=session,
        nav=_nav(session, t, request.url.path) if session else [],
        csrf=csrf_token(request, session),
        csrf_field=CSRF_FIELD,
        here=here,
        static=static_url,
        home=home_url(session),
        policy_name=get_policy(request).name,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    if session is None:
        set_csrf_cookie(response, request)
    return response


def wants_json(request: Request) -> bool:
    """True for a script that asked for JSON (the upload progress script)."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def _api_error_response(request: Request, exc: Exception) -> Response:
    """The response the API's own exception handlers give for ``exc``."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            result = handler(request, exc)
            if inspect.isawaitable(result):
                result = await result
            return result  # type: ignore[no-any-return]
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error", "code": "internal_error"}, status_code=500)


def error_status(request: Request, exc: Exception) -> int:
    """The status the API's exception handlers give ``exc`` (for a page that shows the error
    itself, beside a form kept filled in).
    """
    for cls in type(exc).__mro__:
        handler = request.app.exception_handlers.get(cls)
        if handler is not None and not inspect.iscoroutinefunction(handler):
            return int(handler(request, exc).status_code)
    return 500


def error_detail(exc: Exception, status: int, lang: str) -> str:
    """What an error page says about ``exc`` in ``lang``: a fixed sentence for a server error
    (its own message may name the server's files), the parameters of a request that failed
    validation, else :func:`api.console.i18n.error_text`.
    """
    t = i18n.translator(lang)
    if status >= 500:
        return t("err.store_unavailable" if status == 503 else "err.internal")
    if isinstance(exc, RequestValidationError):
        where = {".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()}
        return t("err.validation_error", fields=t("ui.list_sep").join(sorted(where)))
    if isinstance(exc, ApiError):
        return i18n.error_text(exc, lang, fallback=exc.detail)
    if isinstance(exc, StarletteHTTPException):
        return str(exc.detail)
    return i18n.error_text(exc, lang)


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    """An error shown as a page, with the status of the error."""
    try:
        session = optional_user(request)
    except Exception:  # the store itself may be what failed
        session = None
    t = i18n.translator(lang_of(request))
    heading = t(f"error.{status}") if f"error.{status}" in i18n.MESSAGES else t("error.title")
    return page(request, "error.html", title=heading, status=status, session=session, detail=detail)


def login_redirect(request: Request) -> RedirectResponse:
    """303 to the sign-in page, coming back here afterwards (GET pages only)."""
    target = "/console/login"
    if request.method == "GET" and request.url.path not in ("/console/login", "/console/"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": here})
    return RedirectResponse(target, status_code=303)


class ConsoleRoute(APIRoute):
    """A console route: a missing session redirects to sign-in; any error becomes a page
    with the status the API's exception handlers choose (or their JSON, for a script).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                if wants_json(request):
                    return JSONResponse(
                        {"detail": "sign in first", "code": "unauthorized"}, status_code=401
                    )
                return login_redirect(request)
            except Exception as exc:
                response = await _api_error_response(request, exc)
                status = response.status_code
                if wants_json(request):
                    # the API's JSON, and in a header what went wrong in the page's language
                    text = error_detail(exc, status, lang_of(request))
                    response.headers[ERROR_TEXT_HEADER] = quote(text, safe="")
                    return response
                return error_page(request, status, error_detail(exc, status, lang_of(request)))

        return console_handler

"""Sign-in by token, sign-out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.console import i18n
from api.console.render import ConsoleRoute, home_url, lang_of, page
from api.console.session import (
    check_csrf,
    clear_session_cookie,
    optional_user,
    sessions,
    set_lang_cookie,
    set_session_cookie,
)
from api.deps import StoreDep, ThrottleDep, client_address
from subsidy.tokens import verify_token

router = APIRouter(route_class=ConsoleRoute)

FormText = Annotated[str, Form(max_length=500)]


def safe_next(target: str | None, fallback: str) -> str:
    """A place inside the console to go back to; ``fallback`` for anything else."""
    if (
        target
        and target.startswith("/console/")
        and "//" not in target
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return fallback


@router.get("/console", include_in_schema=False)
@router.get("/console/", include_in_schema=False)
def index(request: Request) -> Response:
    """The console's address: on to the role's first page, or to sign-in."""
    return RedirectResponse(home_url(optional_user(request)), status_code=303)


@router.get("/console/login", include_in_schema=False)
def login_form(
    request: Request,
    next: Annotated[str | None, Query(max_length=500)] = None,
    bye: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The sign-in form (a signed-in browser goes on to its first page)."""
    session = optional_user(request)
    if session is not None:
        return RedirectResponse(safe_next(next, home_url(session)), status_code=303)
    t = i18n.translator(lang_of(request))
    return page(
        request,
        "login.html",
        title=t("auth.title"),
        next=safe_next(next, ""),
        error=None,
        notice=t("auth.signed_out") if bye else None,
    )


@router.post("/console/login", include_in_schema=False)
async def login(
    request: Request,
    store: StoreDep,
    throttle: ThrottleDep,
    token: FormText,
    csrf: FormText = "",
    next: FormText = "",
) -> Response:
    """Verify the token (as the API does) and start a session; 401 and the form again if not.

    A browser already signed in (a form of its session) switches to the new token's session.
    A wrong token counts against the client's address with the API's (one throttle): past
    20 a minute, the 401 waits (:mod:`api.throttle`), awaited here, in the event loop.
    """
    check_csrf(request, optional_user(request), csrf)
    principal = await run_in_threadpool(verify_token, store, token.strip())
    if principal is None:
        await throttle.pause(throttle.failed(client_address(request)))
        t = i18n.translator(lang_of(request))
        return page(
            request,
            "login.html",
            title=t("auth.title"),
            status=401,
            next=safe_next(next, ""),
            error=t("auth.bad_token"),
            notice=None,
        )
    kept = sessions(request)
    kept.drop(request.cookies.get("ps_session"))
    session = kept.create(token.strip(), principal)
    response = RedirectResponse(safe_next(next, home_url(session)), status_code=303)
    set_session_cookie(response, request, session)
    return response


@router.post("/console/logout", include_in_schema=False)
def logout(request: Request, csrf: FormText = "") -> Response:
    """End the session and forget its cookie."""
    session = optional_user(request)
    if session is not None:
        check_csrf(request, session, csrf)
        sessions(request).drop(session.sid)
    response = RedirectResponse("/console/login?bye=1", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.post("/console/lang", include_in_schema=False)
def switch_language(
    request: Request,
    lang: FormText,
    csrf: FormText = "",
    next: FormText = "",
) -> Response:
    """Remember the chosen language and go back to the page it was chosen on."""
    session = optional_user(request)
    check_csrf(request, session, csrf)
    response = RedirectResponse(safe_next(next, home_url(session)), status_code=303)
    set_lang_cookie(response, request, i18n.pick_lang(lang))
    return response

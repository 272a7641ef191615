"""Console sessions: an API token, verified by :func:`subsidy.tokens.verify_token`, becomes a
session cookie; every form that changes something carries a CSRF token.

- **Session**: a random id in the cookie ``ps_session`` (``HttpOnly``, ``SameSite=Strict``,
  ``Path=/console``, ``Max-Age`` of :data:`SESSION_SECONDS`, ``Secure`` over HTTPS). The
  server keeps the session in memory (the token never goes back to the browser) and verifies
  the token on every request, so a revoked token ends its sessions at once. Sessions last
  :data:`SESSION_SECONDS` from sign-in, whatever the activity; a restart of the service signs
  everyone out.
- **CSRF**: a signed-in form carries the session's own random token; a form shown before
  sign-in (sign-in itself, the language switch) carries the value of the ``ps_csrf`` cookie
  (double submit). Either is compared in constant time, and a cross-site ``Origin`` or
  ``Sec-Fetch-Site`` is refused as well. Failures are 403.
- **Dependencies** (the console's counterpart of :mod:`api.deps`' principals): ``User`` (any
  signed-in session, else on to sign-in), ``OptionalUser``, and ``StaffUser``,
  ``FinanceUser``, ``OperatorUser`` (403 for another role, worded on the page). They live
  here, on :data:`api.deps.StoreDep`, because :mod:`api.deps` is below the console: it imports
  nothing of it.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from api.deps import StoreDep, get_store
from api.errors import ApiError
from subsidy.tokens import Principal, verify_token

SESSION_COOKIE = "ps_session"
CSRF_COOKIE = "ps_csrf"
LANG_COOKIE = "ps_lang"
COOKIE_PATH = "/console"
#: A session lasts 8 hours (a working day) from sign-in.
SESSION_SECONDS = 8 * 3600
#: At most this many live sessions are kept; the oldest go first.
MAX_SESSIONS = 10_000
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """The page needs a signed-in user and there is none (or the session ended)."""


@dataclass
class Session:
    """A signed-in browser: its principal, its CSRF token and when it ends (monotonic)."""

    sid: str
    token: str = field(repr=False)
    principal: Principal
    csrf: str = field(repr=False)
    expires_at: float

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def carrier(self) -> str | None:
        return self.principal.carrier


class SessionStore:
    """The live sessions of one app, in memory; safe to use from the thread pool."""

    def __init__(self, lifetime: float = SESSION_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self._lifetime = lifetime
        self._limit = limit
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str, principal: Principal) -> Session:
        """A new session (a new id: signing in never reuses a session id)."""
        now = time.monotonic()
        session = Session(
            sid=secrets.token_urlsafe(32),
            token=token,
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self._lifetime,
        )
        with self._lock:
            for sid in [s for s, v in self._items.items() if v.expires_at <= now]:
                del self._items[sid]
            while len(self._items) >= self._limit:
                del self._items[next(iter(self._items))]
            self._items[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid``; ``None`` for an unknown or expired one."""
        if not sid:
            return None
        with self._lock:
            session = self._items.get(sid)
            if session is not None and session.expires_at <= time.monotonic():
                del self._items[sid]
                return None
        return session

    def drop(self, sid: str | None) -> None:
        """End a session (sign-out)."""
        with self._lock:
            self._items.pop(sid or "", None)


class ConsoleRefusal(ApiError):
    """An :class:`ApiError` of the console itself (a role's page, a form's CSRF token): the API's
    status and JSON code for a script, and for a page the words of ``text_code`` with
    ``params`` (:func:`api.console.i18n.error_text`).
    """

    def __init__(self, status: int, code: str, detail: str, *, text_code: str, **params: object):
        super().__init__(status, code, detail, text_code=text_code)
        self.params = params


def sessions(request: Request) -> SessionStore:
    """The app's session store (made by :func:`api.console.install`): a dependency."""
    return request.app.state.console_sessions  # type: ignore[no-any-return]


SessionsDep = Annotated[SessionStore, Depends(sessions)]


def signed_in(request: Request, store: StoreDep, live: SessionsDep) -> Session | None:
    """The signed-in session of the request, its token verified again (a token revoked since
    sign-in ends its sessions); ``None`` when there is none. Kept for the rest of the request.
    """
    if "console_user" in request.scope:
        return request.scope["console_user"]  # type: ignore[no-any-return]
    session = live.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        principal = verify_token(store, session.token)
        if principal is None:
            live.drop(session.sid)
            session = None
        else:
            session.principal = principal
    request.scope["console_user"] = session
    return session


def optional_user(request: Request) -> Session | None:
    """:func:`signed_in` outside dependency injection (the sign-in form, error pages)."""
    return signed_in(request, get_store(request), sessions(request))


OptionalUser = Annotated[Session | None, Depends(signed_in)]


def current_user(session: OptionalUser) -> Session:
    """The signed-in session (a dependency); :class:`SignInRequired` when there is none."""
    if session is None:
        raise SignInRequired
    return session


User = Annotated[Session, Depends(current_user)]


def require_role(session: Session, *roles: str) -> None:
    """403 unless the session's role is one of ``roles``."""
    if session.role not in roles:
        raise ConsoleRefusal(
            403,
            "forbidden",
            f"the {session.role} role may not open this page; it needs the "
            f"{' or '.join(roles)} role",
            text_code="role_forbidden",
            role=session.role,
            needs=list(roles),
        )


def user_with_role(*roles: str) -> Callable[[Session], Session]:
    """A dependency: the signed-in session if its role is one of ``roles``; else 403."""

    def check(session: User) -> Session:
        require_role(session, *roles)
        return session

    return check


#: Finance, auditors and administrators (the staff pages).
StaffUser = Annotated[Session, Depends(user_with_role("finance", "auditor", "admin"))]
FinanceUser = Annotated[Session, Depends(user_with_role("finance"))]
OperatorUser = Annotated[Session, Depends(user_with_role("operator"))]


# -- cookies ----------------------------------------------------------------------------------
def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, session: Session) -> None:
    """``ps_session``: HttpOnly, SameSite=Strict, Path=/console, expires with the session."""
    response.set_cookie(
        SESSION_COOKIE,
        session.sid,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Remove ``ps_session`` from the browser."""
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def set_lang_cookie(response: Response, request: Request, lang: str) -> None:
    """``ps_lang``: the chosen language, kept for a year."""
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


# -- CSRF -------------------------------------------------------------------------------------
def anonymous_csrf(request: Request) -> tuple[str, bool]:
    """The double-submit token of a browser without a session: ``(token, is_new)``."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= 100:
        return current, False
    fresh = request.scope.get("console_new_csrf")
    if fresh is None:
        fresh = request.scope["console_new_csrf"] = secrets.token_urlsafe(32)
    return fresh, True


def csrf_token(request: Request, session: Session | None) -> str:
    """The CSRF token the forms of this page carry."""
    return session.csrf if session is not None else anonymous_csrf(request)[0]


def set_csrf_cookie(response: Response, request: Request) -> None:
    """Give a browser without a session its double-submit token, if it has none yet."""
    token, is_new = anonymous_csrf(request)
    if is_new:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )


def _csrf_refused(why: str, reason: str, **params: object) -> ConsoleRefusal:
    return ConsoleRefusal(
        403,
        "csrf_failed",
        f"the form was refused ({why}); reload the page and submit it again",
        text_code=f"csrf_{reason}",
        **params,
    )


def check_csrf(request: Request, session: Session | None, submitted: str | None) -> None:
    """403 unless ``submitted`` is this browser's CSRF token and the request is same-site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise _csrf_refused(f"sent from another site ({site})", "other_site", site=site)
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin == "null" or urlsplit(origin).netloc != host:
            raise _csrf_refused(
                f"sent from another origin ({origin})", "other_origin", origin=origin
            )
    if session is not None:
        expected: str | None = session.csrf
    else:
        expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not submitted:
        raise _csrf_refused("no form token", "no_token")
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise _csrf_refused("the form token does not match this session", "mismatch")

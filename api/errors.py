"""The one error shape of the API and the one place HTTP status codes are chosen.

Every error answers ``{"detail": "<a sentence a person understands>", "code": "<machine
code>"}``; a request that fails validation also carries ``errors`` (where and what). No stack
trace ever leaves the server: an unexpected error is logged with its trace and answered 500
with a fixed sentence.

Domain exceptions map to statuses here, and only here. The line between 409 and 422: a
request refused whatever the store holds and whenever it is sent is 422 (its schema says what
is well formed); a well-formed request that the current state refuses, and that could succeed
once the state changes (the registry holds that district center, the month is over, the
``as_of`` is reached), is 409::

    NotFoundError, ScanWordNotFound       404 not_found
    ConflictError, UploadConflict,        409 conflict
    ScanWordExists
    InvalidValueError with a code of      409 conflict
      STATE_CODES (month_not_over, ...)
    InvalidValueError, SiteRegistryError, 422 invalid_value
    ScanWordInvalid
    FileTooLarge                          413 file_too_large
    FileRefused                           422 file_refused
    StoreError                            503 store_unavailable
    RequestValidationError                422 validation_error
    ApiError                              its own status and code (401, 403, 413, 422)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.schemas import PLAIN_TEXT, VISIBLE_TEXT
from core.exceptions import StoreError
from ingest.exceptions import (
    FileRefused,
    FileTooLarge,
    ScanWordExists,
    ScanWordInvalid,
    ScanWordNotFound,
    UploadConflict,
)
from subsidy.exceptions import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    SiteRegistryError,
)

logger = logging.getLogger("parcel_subsidy.api")


class FieldError(BaseModel):
    """One problem of a request that failed validation."""

    loc: list[str | int] = Field(description="where: ['query', 'month'], ['body', 'award_fen']")
    msg: str = Field(description="what is wrong")


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="what went wrong, and how to fix it, in one sentence")
    code: str = Field(description="machine-readable: not_found, conflict, validation_error, ...")
    errors: list[FieldError] | None = Field(
        default=None, description="for validation errors: each problem and where it is"
    )


class ApiError(Exception):
    """An error the HTTP layer itself raises (authentication, roles, request framing).

    ``code`` is the API's JSON code; ``text_code`` (default: ``code``) and ``params`` let the
    console word it in the reader's language (:func:`api.console.i18n.error_text`).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        text_code: str | None = None,
        **params: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
        self.text_code = text_code or code
        self.params: dict[str, object] = params


class DelayedApiError(ApiError):
    """An :class:`ApiError` answered ``delay`` seconds late (a throttled failed sign-in,
    :mod:`api.throttle`); the wait is awaited by its handler, in the event loop."""

    def __init__(self, *args: Any, delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay


_DESCRIPTIONS = {
    401: "Missing, unknown or revoked bearer token",
    403: "The token's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with what is stored or not possible yet (closed twice, a second award, "
    "a month not over, an as_of to come, ...)",
    413: "Larger than the configured limit",
    422: "Invalid parameter or body, or a file refused whole",
    503: "The store cannot be used right now",
}

_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses (all :class:`ErrorBody`)."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An :class:`ErrorBody` response."""
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


#: Plain words for the patterns of the API's bodies.
_PATTERN_HINTS = {
    VISIBLE_TEXT: "text with something visible and no control characters",
    PLAIN_TEXT: "text without control characters",
}


def _loc_text(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or [str(p) for p in loc]
    return ".".join(parts)


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "value_error":  # a domain parser's own sentence (BadValue)
            msg = msg.removeprefix("Value error, ")
        elif err.get("type") == "string_pattern_mismatch":  # a pattern is no message
            hint = _PATTERN_HINTS.get(str(err.get("ctx", {}).get("pattern")), "the documented form")
            msg = f"{err.get('input')!r} is not {hint}"
        errors.append({"loc": loc, "msg": msg})
    shown = "; ".join(f"{_loc_text(e['loc'])}: {e['msg']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return error_response(422, "validation_error", f"invalid request: {shown}{more}", errors=errors)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if status == 400:  # only FastAPI's body parsing raises it: a bad body, like any other
        status = 422
        detail = f"the request body cannot be read ({detail.lower()}); send UTF-8 JSON"
    elif status == 404 and detail == "Not Found":
        detail = "no such route; see /docs for the routes of this API"
    headers = getattr(exc, "headers", None)
    if status == 405:
        detail = "this route does not accept that method; see /docs"
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return error_response(status, _CODES.get(status, "error"), detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route of the request's path (Starlette's 405 names only those
    of the first route matching the path, though a path often has a route per method)."""
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _leaf_routes(routes: list[Any]) -> list[Any]:
    # FastAPI keeps an included router as one entry that yields its routes on demand.
    leaves: list[Any] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        leaves.extend(contexts() if callable(contexts) else [route])
    return leaves


def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.detail, headers=exc.headers)


async def _delayed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DelayedApiError)
    await request.app.state.throttle.pause(exc.delay)  # no thread of the pool sleeps
    return _api(request, exc)


def _domain(status: int, code: str):  # type: ignore[no-untyped-def]
    def handler(_: Request, exc: Exception) -> JSONResponse:
        return error_response(status, code, str(exc))

    return handler


#: Codes of :class:`InvalidValueError` that depend on the state of the store or the clock.
STATE_CODES = frozenset(
    {
        "month_not_begun",
        "month_not_over",
        "accredited_in_future",
        "site_not_registered",
        "site_not_center",
    }
)


def _invalid_value(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidValueError)
    if exc.code in STATE_CODES:
        return error_response(409, "conflict", str(exc))
    return error_response(422, "invalid_value", str(exc))


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The store's own message names files and folders of the server: logged, never sent.
    logger.error("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "store_unavailable",
        "the data store cannot be used right now; the error was logged, please retry in a moment",
    )


def _client_gone(request: Request, exc: Exception) -> Response:
    # A client that goes away mid-body (a closed laptop, a cancelled upload) is an ordinary
    # event: one line, no trace; whatever it had sent is already removed (api.upload_stream).
    logger.warning(
        "client %s disconnected during %s %s; the request was dropped",
        request.client.host if request.client else "?",
        request.method,
        request.url.path,
    )
    return Response(status_code=400)  # never read: there is no one left to send it to


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "internal_error",
        "the server failed to answer this request; the error was logged, please retry or "
        "report it with the time of the request",
    )


def install(app: FastAPI) -> None:
    """Register every exception handler of the API on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(DelayedApiError, _delayed)
    app.add_exception_handler(NotFoundError, _domain(404, "not_found"))
    app.add_exception_handler(ConflictError, _domain(409, "conflict"))
    app.add_exception_handler(UploadConflict, _domain(409, "conflict"))
    app.add_exception_handler(InvalidValueError, _invalid_value)
    app.add_exception_handler(SiteRegistryError, _domain(422, "invalid_value"))
    app.add_exception_handler(ScanWordNotFound, _domain(404, "not_found"))
    app.add_exception_handler(ScanWordExists, _domain(409, "conflict"))
    app.add_exception_handler(ScanWordInvalid, _domain(422, "invalid_value"))
    app.add_exception_handler(FileTooLarge, _domain(413, "file_too_large"))
    app.add_exception_handler(FileRefused, _domain(422, "file_refused"))
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)

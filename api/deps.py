"""FastAPI dependencies, as named ``Annotated`` aliases: the store, the policy, the settings,
the caller and what the caller's role allows, and the parameters every report shares.

Roles (SPEC §9): ``operator`` (one carrier), ``finance``, ``auditor`` (reads everything,
changes nothing), ``admin`` (sites, tokens). A missing or wrong token is 401, a role without
the right is 403; what an operator may not see is 404 (see the routes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, Field

from api.errors import ApiError, DelayedApiError
from api.throttle import SignInThrottle
from core.exceptions import BadValue
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from core.timeutil import (
    INSTANT_PATTERN,
    MONTH_PATTERN,
    now_local,
    parse_instant,
    parse_month,
    resolve_as_of,
)
from subsidy.tokens import ROLES, Principal, verify_token


def get_settings(request: Request) -> Settings:
    """The app's settings (given to :func:`api.app.create_app`)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    """The app's store (initialised by :func:`api.app.create_app`)."""
    return request.app.state.store  # type: ignore[no-any-return]


def get_policy(request: Request) -> Policy:
    """The policy loaded at start-up."""
    return request.app.state.policy  # type: ignore[no-any-return]


def get_throttle(request: Request) -> SignInThrottle:
    """The app's one sign-in throttle (API tokens and console sign-in alike)."""
    return request.app.state.throttle  # type: ignore[no-any-return]


def client_address(request: Request) -> str:
    """The address failed sign-ins are counted by."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
ThrottleDep = Annotated[SignInThrottle, Depends(get_throttle)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A token created with `parcel-subsidy tokens create --role ROLE`, sent as "
    "`Authorization: Bearer TOKEN`.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_principal(
    request: Request,
    store: StoreDep,
    throttle: ThrottleDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from its bearer token; 401 when there is none or it is unknown or revoked.

    A wrong token counts as a failed sign-in of the client's address: past 20 a minute, its
    401 waits (:mod:`api.throttle`; the wait is the error handler's, in the event loop)."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "missing bearer token: send 'Authorization: Bearer TOKEN' (an administrator "
            "creates tokens with 'parcel-subsidy tokens create')",
            headers=_CHALLENGE,
        )
    principal = verify_token(store, credentials.credentials)
    if principal is None:
        raise DelayedApiError(
            401,
            "unauthorized",
            "unknown or revoked token; ask an administrator for a new one",
            headers=_CHALLENGE,
            delay=throttle.failed(client_address(request)),
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency letting only ``roles`` through (403 for any other role)."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"the {principal.role} role may not do this; it needs the "
                f"{' or '.join(roles)} role",
                text_code="role_may_not",
                role=principal.role,
                needs=list(roles),
            )
        return principal

    return check


#: Any valid token (operators then see only their carrier's data).
Reader = Annotated[Principal, Depends(require(*ROLES))]
#: Finance, auditors and administrators: everything but uploads, read-only.
Staff = Annotated[Principal, Depends(require("finance", "auditor", "admin"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Finance = Annotated[Principal, Depends(require("finance"))]
Admin = Annotated[Principal, Depends(require("admin"))]

# -- parameters shared by several routes ------------------------------------------------------
# Months and instants are read by core.timeutil's parsers, the only ones (ASCII digits, real
# calendar values); the schema documents their patterns, which match exactly what they accept.


def _valid_month(value: str) -> str:
    parse_month(value)  # BadValue (a ValueError) -> 422 with the expected form
    return value


#: ``YYYY-MM`` (the pattern documents what :func:`core.timeutil.parse_month` accepts).
MonthText = Annotated[
    str,
    AfterValidator(_valid_month),
    Field(json_schema_extra={"pattern": MONTH_PATTERN}),
]
MONTH_DOC = "a calendar month in Asia/Shanghai, YYYY-MM (ASCII digits, years 1900-2999)"


def as_of_param(
    as_of: Annotated[
        str | None,
        Query(
            description="ISO 8601 instant the figures are computed as of (default: now); a "
            "naive time or a date alone is Asia/Shanghai; ASCII digits, years 1971-2999",
            examples=["2023-06-10T00:00:00+08:00"],
            json_schema_extra={"pattern": INSTANT_PATTERN},
        ),
    ] = None,
) -> datetime:
    """The ``as_of`` query parameter as an aware instant; now when absent; 422 when it is no
    instant (:func:`core.timeutil.parse_instant`; an empty one too, as its pattern says),
    409 while it lies in the future (:func:`core.timeutil.resolve_as_of`)."""
    try:
        if as_of is not None:
            parse_instant(as_of)
        return resolve_as_of(as_of, now_local())
    except BadValue as exc:
        if exc.code == "as_of_in_future":  # well formed; figures of then do not exist yet
            raise ApiError(
                409, "conflict", f"invalid as_of: {exc}", text_code="bad_as_of", value=as_of
            ) from exc
        raise ApiError(
            422, "validation_error", f"invalid as_of: {exc}", text_code="bad_as_of", value=as_of
        ) from exc


AsOf = Annotated[datetime, Depends(as_of_param)]


def month_query(
    month: Annotated[
        MonthText,
        Query(description=MONTH_DOC, examples=["2023-05"]),
    ],
) -> str:
    """The ``month`` query parameter (422 for ``2023-13``)."""
    return month


Month = Annotated[str, Depends(month_query)]


# == operator scope and upload limit: one rule for the routes and the console ==================
def carrier_scope(principal: Principal) -> str | None:
    """The one carrier the caller's data is limited to: an operator's own carrier; ``None``
    (every carrier) for any other role.
    """
    return principal.carrier if principal.role == "operator" else None


def visible_carrier(principal: Principal, carrier: str | None) -> bool:
    """Whether the caller may see a thing of ``carrier`` (an upload, a parcel, a row): an
    operator only its own carrier's, any other role everything. Where it may not, the caller
    answers 404, the same as for a thing that does not exist.
    """
    scope = carrier_scope(principal)
    return scope is None or carrier == scope


def upload_limit(settings: SettingsDep, policy: PolicyDep) -> int:
    """The size limit of an upload over HTTP: the setting, never above the policy's limit."""
    if settings.max_upload_bytes is None:
        return policy.max_upload_bytes
    return min(settings.max_upload_bytes, policy.max_upload_bytes)


#: The byte limit of an upload over HTTP (API and console).
UploadLimit = Annotated[int, Depends(upload_limit)]

"""Uploads: the list (an operator sees its carrier's only), the upload form with a progress
indicator, each upload's statistics and rejected rows (downloadable).

Every read and the upload itself go through the API's own route functions
(:mod:`api.routes.uploads`), so the console streams, limits, stores and scopes uploads exactly
as ``POST /v1/uploads`` does; the console only replaces the bearer token by the session.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from api.console import i18n
from api.console.render import ConsoleRoute, lang_of, page, wants_json
from api.console.session import (
    CSRF_HEADER,
    Session,
    check_csrf,
    current_user,
    require_role,
)
from api.routes import uploads as upload_routes
from ingest.ledger import UPLOAD_STATUSES

router = APIRouter(route_class=ConsoleRoute)

User = Annotated[Session, Depends(current_user)]
UploadId = Annotated[int, PathParam(ge=1, le=2**62)]
PAGE = 50
REJECTS_PAGE = 100


@router.get("/console/uploads", include_in_schema=False)
def uploads_page(
    request: Request,
    session: User,
    status: Annotated[str | None, Query(max_length=20)] = None,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """The uploads the caller may see, newest first, and (operators) the upload form."""
    t = i18n.translator(lang_of(request))
    store = request.app.state.store
    policy = request.app.state.policy
    status = status if status in UPLOAD_STATUSES else None
    carrier = (carrier or "").strip().upper() or None
    if session.role == "operator":
        carrier = None  # the API route scopes an operator to its own carrier
    listing = upload_routes.list_(
        principal=session.principal,
        store=store,
        carrier=carrier,
        status=status,  # type: ignore[arg-type]
        before=before,
        limit=PAGE,
    )
    return page(
        request,
        "uploads.html",
        title=t("uploads.title"),
        session=session,
        uploads=listing["items"],
        next_before=listing["next_before"],
        statuses=UPLOAD_STATUSES,
        status_filter=status,
        carrier=carrier,
        carriers=policy.carriers,
        can_upload=session.role == "operator",
        csrf_header=CSRF_HEADER,
    )


@router.post("/console/uploads", include_in_schema=False)
async def upload(
    request: Request,
    session: User,
    background: BackgroundTasks,
    csrf: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """``POST /v1/uploads`` for a signed-in operator. A script (``Accept: application/json``,
    token in the ``X-CSRF-Token`` header) gets the API's JSON answer; a plain form (token in
    the query, since the body is streamed to disk unread) is sent on to the upload's page.
    """
    require_role(session, "operator")
    check_csrf(request, session, request.headers.get(CSRF_HEADER) or csrf)
    response = await upload_routes.create_upload(
        request,
        principal=session.principal,
        store=request.app.state.store,
        policy=request.app.state.policy,
        settings=request.app.state.settings,
        background=background,
    )
    if wants_json(request):
        return response
    body: dict[str, Any] = json.loads(bytes(response.body))
    return RedirectResponse(f"/console/uploads/{body['id']}", status_code=303)


@router.get("/console/uploads/{upload_id}", include_in_schema=False)
def upload_page(
    request: Request,
    session: User,
    upload_id: UploadId,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """An upload's status and statistics, its refusal reason, and a page of rejected rows."""
    t = i18n.translator(lang_of(request))
    store = request.app.state.store
    item = upload_routes.get(upload_id=upload_id, principal=session.principal, store=store)
    rejects = upload_routes.rejects(
        upload_id=upload_id,
        principal=session.principal,
        store=store,
        after=after,
        limit=REJECTS_PAGE,
        format="json",
    )
    return page(
        request,
        "upload.html",
        title=t("upload.title", id=upload_id),
        session=session,
        upload=item,
        rejects=rejects,
        waiting=item["status"] in ("received", "ingesting"),
    )


@router.get("/console/uploads/{upload_id}/rejects.csv", include_in_schema=False)
def rejects_csv(request: Request, session: User, upload_id: UploadId) -> Response:
    """Every rejected row of the upload as the API's CSV file."""
    return upload_routes.rejects(  # type: ignore[no-any-return]
        upload_id=upload_id,
        principal=session.principal,
        store=request.app.state.store,
        after=0,
        limit=REJECTS_PAGE,
        format="csv",
    )

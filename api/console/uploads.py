"""Uploads: the list (an operator sees its carrier's only), the upload form with a progress
indicator, each upload's statistics and rejected rows (downloadable).

The same calls as ``/v1/uploads`` (:mod:`api.routes.uploads`): the body is streamed by
:func:`api.upload_stream.receive_file` within :data:`api.deps.UploadLimit`, taken by
:func:`ingest.uploads.accept_upload` and ingested in the background; the ledger is read with
:mod:`ingest.ledger`; another carrier's upload is 404 (:func:`api.deps.visible_carrier`). The
console only replaces the bearer token by the session.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi import Path as PathParam
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from api.console import i18n
from api.console.render import ConsoleRoute, lang_of, page, wants_json
from api.console.session import CSRF_HEADER, OperatorUser, Session, User, check_csrf
from api.deps import (
    PolicyDep,
    SettingsDep,
    StoreDep,
    UploadLimit,
    carrier_scope,
    visible_carrier,
)
from api.intake import take_upload
from api.schemas import UploadOut
from api.upload_stream import ReceivedFile, receive_file
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from ingest.ledger import UPLOAD_STATUSES, iter_rejects, list_uploads, rejects_page
from ingest.uploads import Upload, get_upload
from subsidy.exceptions import NotFoundError
from subsidy.exports import rejects_csv

router = APIRouter(route_class=ConsoleRoute)

UploadId = Annotated[int, PathParam(ge=1, le=2**62)]
PAGE = 50
REJECTS_PAGE = 100


def _visible(store: Store, upload_id: int, session: Session) -> Upload:
    """The upload if the session may see it; 404 otherwise (as for one that does not exist)."""
    upload = get_upload(store, upload_id)
    if upload is None or not visible_carrier(session.principal, upload.carrier):
        raise NotFoundError(
            f"no upload with id {upload_id}", code="upload_not_found", upload_id=upload_id
        )
    return upload


def _refusal(upload: Upload, lang: str) -> str:
    """Why an upload was refused, in the page's language (its recorded English otherwise)."""
    return i18n.refusal_text(upload.error, upload.error_code, upload.error_params, lang)


@router.get("/console/uploads", include_in_schema=False)
def uploads_page(
    request: Request,
    session: User,
    store: StoreDep,
    policy: PolicyDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    carrier: Annotated[str | None, Query(max_length=20)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    cancelled: Annotated[bool, Query()] = False,
) -> Response:
    """The uploads the caller may see, newest first, and (operators) the upload form."""
    lang = lang_of(request)
    t = i18n.translator(lang)
    status = status if status in UPLOAD_STATUSES else None
    scope = carrier_scope(session.principal)
    carrier = None if scope else (carrier or "").strip().upper() or None
    items = list_uploads(
        store, carrier=scope or carrier, status=status, before_id=before, limit=PAGE
    )
    return page(
        request,
        "uploads.html",
        title=t("uploads.title"),
        session=session,
        uploads=items,
        next_before=items[-1].id if len(items) == PAGE else None,
        statuses=UPLOAD_STATUSES,
        status_filter=status,
        carrier=carrier,
        carriers=policy.carriers,
        can_upload=session.role == "operator",
        csrf_header=CSRF_HEADER,
        refusal=lambda u: _refusal(u, lang),
        cancelled=cancelled,
    )


@router.post("/console/uploads", include_in_schema=False)
async def upload(
    request: Request,
    session: OperatorUser,
    store: StoreDep,
    policy: PolicyDep,
    settings: SettingsDep,
    limit: UploadLimit,
    background: BackgroundTasks,
    csrf: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """An upload by a signed-in operator, as ``POST /v1/uploads`` takes it. A script
    (``Accept: application/json``, token in the ``X-CSRF-Token`` header) gets the API's JSON
    answer; a plain form (token in the query, since the body is streamed to disk unread) is
    sent on to the upload's page.
    """
    check_csrf(request, session, request.headers.get(CSRF_HEADER) or csrf)
    received = await receive_file(
        request, tmp_dir=store.tmp_dir, limit=limit, flush_bytes=settings.upload_flush_bytes
    )
    return await take_and_answer(
        request,
        received,
        session=session,
        store=store,
        policy=policy,
        settings=settings,
        limit=limit,
        background=background,
    )


async def take_and_answer(
    request: Request,
    received: ReceivedFile,
    *,
    session: Session,
    store: Store,
    policy: Policy,
    settings: Settings,
    limit: int,
    background: BackgroundTasks,
) -> Response:
    """Hand a received file to the intake (:func:`api.intake.take_upload`), as the operator
    signed in; a script gets the API's JSON answer, a form is sent on to the upload's page."""
    item, duplicate = await take_upload(
        received,
        principal=session.principal,
        store=store,
        policy=policy,
        settings=settings,
        limit=limit,
        background=background,
    )
    if wants_json(request):
        body = UploadOut.model_validate({**item.as_dict(), "duplicate": duplicate})
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if duplicate else 202)
    return RedirectResponse(f"/console/uploads/{item.id}", status_code=303)


@router.get("/console/uploads/{upload_id}", include_in_schema=False)
def upload_page(
    request: Request,
    session: User,
    store: StoreDep,
    upload_id: UploadId,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """An upload's status and statistics, its refusal reason, and a page of rejected rows."""
    lang = lang_of(request)
    t = i18n.translator(lang)
    item = _visible(store, upload_id, session)
    rejects = rejects_page(store, item.id, after_row=after, limit=REJECTS_PAGE)
    return page(
        request,
        "upload.html",
        title=t("upload.title", id=upload_id),
        session=session,
        upload=item,
        rejects=rejects,
        next_after=rejects[-1]["row_no"] if len(rejects) == REJECTS_PAGE else None,
        waiting=item.status in ("received", "ingesting"),
        refusal=lambda u: _refusal(u, lang),
    )


@router.get("/console/uploads/{upload_id}/rejects.csv", include_in_schema=False)
def rejects_download(session: User, store: StoreDep, upload_id: UploadId) -> Response:
    """Every rejected row of the upload, the same CSV file as the API's."""
    item = _visible(store, upload_id, session)
    return StreamingResponse(
        rejects_csv(iter_rejects(store, item.id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-upload-{item.id}.csv"'},
    )

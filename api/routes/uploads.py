"""Uploads: ``POST /v1/uploads`` (operators), the ledger, and each upload's rejected rows.

An upload is streamed to ``DIR/tmp`` (never whole into memory, 413 past the limit), checked
at once from its metadata (a file that cannot be Parquet or CSV, lacks a required column or
has a column of the wrong type is refused ``422`` there and then, and kept with status
``refused``), stored under its SHA-256 and answered ``202``; it is then ingested in the
background (or by the scheduler's ingest job). Problems only found while reading the rows
(a file damaged in the middle) end as status ``refused`` with its ``error``.

The same bytes again answer ``200`` with the first upload and ``duplicate: true``; the same
bytes refused before answer ``422`` again, with the first refusal's reason. An operator sees
only its carrier's uploads: another's is ``404``, and bytes first uploaded under another
carrier are ``409`` without any detail of that upload.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import (
    Operator,
    PolicyDep,
    Reader,
    SettingsDep,
    StoreDep,
    UploadLimit,
    carrier_scope,
    visible_carrier,
)
from api.errors import ApiError, responses
from api.intake import take_upload
from api.schemas import (
    RejectPage,
    RejudgeIn,
    UploadList,
    UploadOut,
    UploadPreview,
    UploadStatus,
)
from api.upload_stream import FIELD, receive_file
from core.store import Store
from core.timeutil import now_local
from ingest.ledger import iter_rejects, list_uploads, rejects_page
from ingest.preview import preview_file
from ingest.rejudge import rejudge_upload
from ingest.uploads import Upload, get_upload
from subsidy.exceptions import NotFoundError
from subsidy.exports import rejects_csv
from subsidy.tokens import Principal

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

UploadId = Annotated[int, PathParam(ge=1, le=2**62, description="the upload's id")]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "the scan-log export (Parquet, or CSV in UTF-8/GBK)",
                        }
                    },
                }
            }
        },
    }
}


def _out(upload: Upload, duplicate: bool) -> dict[str, Any]:
    data = upload.as_dict()
    data["duplicate"] = duplicate
    return UploadOut.model_validate(data).model_dump(mode="json")


def visible_upload(store: Store, upload_id: int, principal: Principal) -> Upload:
    """The upload if the caller may see it; else :class:`NotFoundError` (also for another
    carrier's upload, with the same message as for one that does not exist).
    """
    upload = get_upload(store, upload_id)
    if upload is None or not visible_carrier(principal, upload.carrier):
        raise NotFoundError(
            f"no upload with id {upload_id}", code="upload_not_found", upload_id=upload_id
        )
    return upload


@router.post(
    "",
    status_code=202,
    response_model=UploadOut,
    summary="Upload a scan-log export (operator)",
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {
            "model": UploadOut | UploadPreview,
            "description": "The same bytes again: the first upload; with dry_run=true, the "
            "preview of the file (nothing stored)",
        },
        202: {
            "model": UploadOut,
            "description": "Accepted; ingestion runs in the background",
            "links": {
                "GetUpload": {
                    "operationId": "get_v1_uploads__upload_id__get",
                    "parameters": {"upload_id": "$response.body#/id"},
                },
                "GetRejects": {
                    "operationId": "rejects_v1_uploads__upload_id__rejects_get",
                    "parameters": {"upload_id": "$response.body#/id"},
                },
            },
        },
        **responses(401, 403, 409, 413, 422),
    },
)
async def create_upload(
    request: Request,
    principal: Operator,
    store: StoreDep,
    policy: PolicyDep,
    settings: SettingsDep,
    limit: UploadLimit,
    background: BackgroundTasks,
    dry_run: Annotated[
        bool, Query(description="preview only (SPEC §3a): always 200, nothing stored")
    ] = False,
) -> JSONResponse:
    """Stream the multipart field ``file`` to the store and queue it for ingestion; with
    ``dry_run=true`` answer the file's preview instead and store nothing."""
    received = await receive_file(
        request, tmp_dir=store.tmp_dir, limit=limit, flush_bytes=settings.upload_flush_bytes
    )
    if dry_run:
        try:
            answer = await run_in_threadpool(
                preview_file,
                store,
                received.path,
                policy,
                carrier=principal.carrier,
                now=now_local(),
            )
        finally:
            received.path.unlink(missing_ok=True)
        return JSONResponse(UploadPreview.model_validate(answer).model_dump(mode="json"))
    upload, duplicate = await take_upload(
        received,
        principal=principal,
        store=store,
        policy=policy,
        settings=settings,
        limit=limit,
        background=background,
    )
    if duplicate:
        return JSONResponse(_out(upload, True), status_code=200)
    return JSONResponse(_out(upload, False), status_code=202)


@router.get(
    "",
    response_model=UploadList,
    summary="List uploads, newest first",
    responses=responses(401, 403, 422),
)
def list_(
    principal: Reader,
    store: StoreDep,
    carrier: Annotated[
        str | None, Query(max_length=20, description="only this carrier's (operators: own)")
    ] = None,
    status: Annotated[UploadStatus | None, Query(description="only uploads in this status")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="ids below this")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Uploads the caller may see; an operator sees only its carrier's."""
    if (scope := carrier_scope(principal)) is not None:
        if carrier is not None and carrier.upper() != scope:
            raise ApiError(
                403,
                "forbidden",
                f"an operator sees only its own carrier's uploads ({principal.carrier})",
                text_code="own_carrier_only",
                carrier=principal.carrier,
            )
        carrier = scope
    items = list_uploads(
        store,
        carrier=carrier.upper() if carrier else None,
        status=status,
        before_id=before,
        limit=limit,
    )
    return {
        "items": [_out(u, False) for u in items],
        "next_before": items[-1].id if len(items) == limit else None,
    }


@router.get(
    "/{upload_id}",
    response_model=UploadOut,
    summary="An upload's status and statistics",
    responses=responses(401, 403, 404, 422),
)
def get(upload_id: UploadId, principal: Reader, store: StoreDep) -> dict[str, Any]:
    """Status, rows read, accepted, rejected per reason, duplicates, error."""
    return _out(visible_upload(store, upload_id, principal), False)


@router.post(
    "/{upload_id}/rejudge",
    response_model=UploadOut,
    summary="Judge an upload again after a mapping change (its operator or an admin)",
    responses=responses(401, 403, 404, 409, 422),
)
def rejudge(
    upload_id: UploadId,
    body: RejudgeIn,
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
) -> dict[str, Any]:
    """SPEC §3a: an ingested upload's rejected rows are judged again, a refused upload's kept
    file is read again, with the scan words and site names in force now; answered like
    ``GET /v1/uploads/{id}``; audited with the caller and the reason."""
    if principal.role not in ("operator", "admin"):
        raise ApiError(
            403,
            "forbidden",
            "only the upload's operator or an admin may re-judge",
            text_code="rejudge_forbidden",
        )
    visible_upload(store, upload_id, principal)
    upload = rejudge_upload(
        store, upload_id, policy, reason=body.reason, actor=principal.actor, now=now_local()
    )
    return _out(upload, False)


@router.get(
    "/{upload_id}/rejects",
    response_model=RejectPage,
    summary="An upload's rejected rows (JSON pages or CSV)",
    responses={
        200: {
            "description": "A page of rejected rows, or with format=csv all of them",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **responses(401, 403, 404, 422),
    },
)
def rejects(
    upload_id: UploadId,
    principal: Reader,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="rows after this row number")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Annotated[Literal["json", "csv"], Query(description="csv: every row, a file")] = "json",
) -> Any:
    """The rows refused with their row number and reason, values as they were read."""
    upload = visible_upload(store, upload_id, principal)
    if format == "csv":
        return StreamingResponse(
            rejects_csv(iter_rejects(store, upload.id)),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="rejects-upload-{upload.id}.csv"'
            },
        )
    items = rejects_page(store, upload.id, after_row=after, limit=limit)
    return {
        "upload_id": upload.id,
        "rejected": upload.rejected,
        "items": items,
        "next_after": items[-1]["row_no"] if len(items) == limit else None,
    }

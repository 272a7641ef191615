"""Taking an upload at the edge, once for the API and the console: a file already received
(:func:`api.upload_stream.receive_file`) is handed to the ledger
(:func:`ingest.uploads.accept_upload`, off the event loop), its scratch copy removed, and a new
upload queued for ingestion in the background when the settings say so: in a child process
at a lower CPU priority (:mod:`subsidy.ingest_child`), or in a thread of the service."""

from __future__ import annotations

from functools import partial

from fastapi import BackgroundTasks
from starlette.concurrency import run_in_threadpool

from api.upload_stream import ReceivedFile
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from core.timeutil import now_local
from ingest.uploads import Upload, accept_upload, ingest_in_background
from subsidy.ingest_child import ingest_upload_in_child
from subsidy.tokens import Principal


async def take_upload(
    received: ReceivedFile,
    *,
    principal: Principal,
    store: Store,
    policy: Policy,
    settings: Settings,
    limit: int,
    background: BackgroundTasks,
) -> tuple[Upload, bool]:
    """``(upload, duplicate)`` for a received file sent by ``principal`` (an operator).

    Raises what :func:`ingest.uploads.accept_upload` raises (a file refused whole, bytes that
    are another carrier's upload); the scratch copy is removed whatever happens.
    """
    try:
        upload, duplicate = await run_in_threadpool(
            partial(
                accept_upload,
                store,
                policy,
                received.path,
                sha256=received.sha256,
                filename=received.filename,
                carrier=principal.carrier,
                uploaded_by=principal.actor,
                max_bytes=limit,
            )
        )
    finally:
        received.path.unlink(missing_ok=True)
    if not duplicate and settings.ingest_in_background and upload.status == "received":
        if settings.ingest_in_child:  # niced: the requests keep the CPU
            background.add_task(
                ingest_upload_in_child,
                store,
                settings.policy,
                upload.id,
                now_local(),
                timeout=settings.ingest_child_timeout,
            )
        else:
            background.add_task(ingest_in_background, store, policy, upload.id, now_local())
    return upload, duplicate

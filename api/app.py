"""The HTTP API (SPEC §9): :func:`create_app` builds it; it only mounts routers.

The store is initialised and the policy loaded when the app is created, so a bad data
directory or policy fails at start-up, loudly. With ``run_scheduler`` the app's lifespan
starts the scheduler (``scheduler.start(store, policy_path)``) and shuts it down on exit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import scheduler
from api import console, errors
from api.routes import (
    audit,
    awards,
    docs,
    health,
    jobs,
    months,
    parcels,
    reports,
    scan_words,
    sites,
    tokens,
    uploads,
)
from core.policy import resolve_policy
from core.settings import Settings
from core.store import Store

logger = logging.getLogger("parcel_subsidy.api")

DESCRIPTION = """\
Rural parcel delivery subsidy tracker (济阳政字〔2021〕80号, measure 4).

Every route but `/healthz` needs `Authorization: Bearer TOKEN` (created with
`parcel-subsidy tokens create --role ROLE [--carrier CODE]`). Roles: **operator** (one
carrier: uploads, and only its own carrier's figures), **finance** (closes months, records
and pays the center award), **auditor** (reads everything, changes nothing), **admin**
(sites, tokens).

Money is integer fen (`*_fen`, 1 yuan = 100 fen); yuan appear only as strings (`*_yuan`).
Times are Asia/Shanghai. Every error is `{"detail": "...", "code": "..."}`.
"""


def create_app(
    data_dir: Path,
    policy_path: Path | None = None,
    *,
    run_scheduler: bool = False,
    settings: Settings | None = None,
) -> FastAPI:
    """The API over the store in ``data_dir`` (``policy_path`` overrides the policy).

    ``settings`` gives the limits (default: from ``PARCEL_SUBSIDY_*`` variables); its
    ``data_dir`` and ``policy`` are replaced by the arguments.
    """
    base = settings if settings is not None else Settings()
    settings = base.model_copy(update={"data_dir": Path(data_dir), "policy": policy_path})
    store = Store(settings.data_dir).init()
    policy = resolve_policy(store.root, settings.policy)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = None
        start = getattr(scheduler, "start", None)
        if run_scheduler:
            if start is None:
                logger.warning("no scheduler available (scheduler.start is missing)")
            else:
                running = await run_in_threadpool(start, store, settings.policy)
        try:
            yield
        finally:
            if running is not None:
                await run_in_threadpool(running.shutdown)

    app = FastAPI(
        title="parcel-subsidy",
        version="1.0.0",
        summary="Courier scan logs in, parcel subsidies out, month by month.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by api.routes.docs, never from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.policy = policy
    errors.install(app)
    for module in (
        health,
        uploads,
        reports,
        parcels,
        months,
        awards,
        sites,
        scan_words,
        audit,
        jobs,
        tokens,
    ):
        app.include_router(module.router)
    console.install(app)  # the web console under /console/ (api/console)
    docs.install(app)
    return app

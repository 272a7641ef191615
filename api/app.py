"""The HTTP API (SPEC §9): :func:`create_app` builds it; it only mounts routers.

The store is initialised and the policy loaded when the app is created, so a bad data
directory or policy fails at start-up, loudly. With ``run_scheduler`` the app's lifespan
starts the scheduler (``scheduler.start(store, policy_path)``) and shuts it down on exit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import scheduler
from api import console, errors
from api.routes import (  # settlement, SPEC §11; audit controls, SPEC §12
    anomalies,
    audit,
    audits,
    awards,
    budgets,
    carriers,
    docs,
    health,
    jobs,
    months,
    parcels,
    program,
    reports,
    scan_words,
    sites,
    statements,
    tokens,
    uploads,
)
from api.throttle import SignInThrottle
from core.policy import Policy, resolve_policy
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
        if run_scheduler:
            running = await run_in_threadpool(
                functools.partial(
                    scheduler.start,
                    store,
                    settings.policy,
                    ingest_every=settings.ingest_every,
                    ingest_in_child=settings.ingest_in_child,
                    child_timeout=settings.ingest_child_timeout,
                )
            )
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
    app.state.throttle = SignInThrottle(max_delay=settings.signin_max_delay)
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
    app.include_router(statements.router)  # settlement, SPEC §11
    app.include_router(budgets.router)
    app.include_router(program.router)
    app.include_router(carriers.router)
    app.include_router(anomalies.router)  # audit controls, SPEC §12
    app.include_router(audits.router)
    console.install(app)  # the web console under /console/ (api/console)
    docs.install(app)
    _describe_policy(app, policy)
    return app


def _any_case(codes: list[str]) -> str:
    """A pattern matching exactly ``codes`` in any case (JSON Schema patterns have no flags)."""
    letters = (
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in code)
        for code in codes
    )
    return f"^({'|'.join(letters)})$"


def _describe_policy(app: FastAPI, policy: Policy) -> None:
    """Write the limits of the policy in force into ``/openapi.json``, which would otherwise
    promise what the policy then refuses: the award cap is ``award_fen``'s maximum, the
    carriers are an operator token's choices."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = build()["components"]["schemas"]
            schemas["AwardIn"]["properties"]["award_fen"]["maximum"] = policy.award_cap_fen
            carrier = schemas["OperatorTokenIn"]["properties"]["carrier"]
            carrier["pattern"] = _any_case(sorted(policy.carriers))
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to amend it

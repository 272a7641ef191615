"""``GET /v1/jobs``: the scheduler's jobs with their last runs and outcomes (SPEC §10)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import scheduler
from api.deps import SettingsDep, Staff, StoreDep
from api.errors import responses
from api.schemas import JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "",
    response_model=list[JobOut],
    summary="The scheduled jobs and their last runs (auditor, finance, admin)",
    responses=responses(401, 403),
)
def jobs(principal: Staff, store: StoreDep, settings: SettingsDep) -> Any:
    """As reported by the scheduler (``scheduler.jobs_status``)."""
    return scheduler.jobs_status(store, settings.ingest_every)

"""``GET /healthz``: unauthenticated liveness and store check (says nothing else)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import StoreDep
from api.errors import responses
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness", responses=responses(503))
def healthz(store: StoreDep) -> Any:
    """``{"status": "ok"}`` when the store's database answers; 503 when it does not."""
    store.version()
    return {"status": "ok"}

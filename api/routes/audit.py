"""``GET /v1/audit-log``: the append-only record of every upload, close, award change, site
change and token change (who, when, what, old and new value).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Staff, StoreDep
from api.errors import responses
from api.schemas import AuditPage
from ingest.ledger import read_audit_log

router = APIRouter(prefix="/v1/audit-log", tags=["audit"])


@router.get(
    "",
    response_model=AuditPage,
    summary="The audit log, oldest first (auditor, finance, admin)",
    responses=responses(401, 403, 422),
)
def audit_log(
    principal: Staff,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="lines after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[
        str | None,
        Query(max_length=50, description="an action or its prefix: upload, month.closed, award"),
    ] = None,
) -> Any:
    """A page of the log; follow ``next_after`` for the next one."""
    items = read_audit_log(store, after_id=after, limit=limit, action=action)
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}

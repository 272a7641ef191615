"""The carriers registry with each carrier's payee (SPEC §11): read (staff), set (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import Admin, PolicyDep, Staff, StoreDep
from api.errors import responses
from api.schemas_settlement import PayeeIn, PayeeOut
from subsidy.settlement.payees import list_payees, set_payee

router = APIRouter(prefix="/v1/carriers", tags=["settlement"])


@router.get(
    "",
    response_model=list[PayeeOut],
    summary="Every carrier and its payee",
    responses=responses(401, 403),
)
def list_(principal: Staff, store: StoreDep, policy: PolicyDep) -> Any:
    """The policy's carriers by code, with the payee an administrator set (or null)."""
    return [p.as_dict() for p in list_payees(store, policy.carriers)]


@router.put(
    "/{carrier}",
    response_model=PayeeOut,
    summary="Set a carrier's payee, bank and account (admin)",
    responses=responses(401, 403, 422),
)
def put(
    carrier: Annotated[str, PathParam(max_length=20, description="carrier code, e.g. ZTO")],
    body: PayeeIn,
    principal: Admin,
    store: StoreDep,
    policy: PolicyDep,
) -> Any:
    """Audited with the entry before and after."""
    return set_payee(
        store,
        carrier,
        payee_name=body.payee_name,
        bank=body.bank,
        account_no=body.account_no,
        actor=principal.actor,
        carriers=policy.carriers,
    ).as_dict()

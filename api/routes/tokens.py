"""Tokens (admin): list, create (the secret is shown once), revoke.

The same as ``parcel-subsidy tokens create|list|revoke``; every change is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import Admin, PolicyDep, StoreDep
from api.errors import responses
from api.schemas import TokenCreated, TokenIn, TokenOut
from subsidy.exceptions import InvalidValueError
from subsidy.tokens import create_token, list_tokens, revoke_token

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.get("", response_model=list[TokenOut], summary="Every token", responses=responses(401, 403))
def list_(principal: Admin, store: StoreDep) -> Any:
    """Tokens with their role, carrier and state (never the secret: only its hash is stored)."""
    return [t.as_dict() for t in list_tokens(store)]


@router.post(
    "",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a token; its secret is shown this once",
    responses={
        201: {
            "description": "The token, with its secret",
            "links": {
                "RevokeToken": {
                    "operationId": "revoke_v1_tokens__token_id__delete",
                    "parameters": {"token_id": "$response.body#/id"},
                }
            },
        },
        **responses(401, 403, 422),
    },
)
def create(body: TokenIn, principal: Admin, store: StoreDep, policy: PolicyDep) -> Any:
    """An operator token needs its carrier (a code of the policy, in any case); other roles
    have none."""
    if body.carrier is not None and not (
        body.carrier.isascii() and body.carrier.upper() in policy.carriers
    ):
        raise InvalidValueError(
            f"unknown carrier {body.carrier!r}; known: {', '.join(sorted(policy.carriers))}",
            code="unknown_carrier",
            carrier=body.carrier,
        )
    token, info = create_token(
        store,
        role=body.role,
        carrier=body.carrier,
        name=body.name,
        actor=principal.actor,
        carriers=policy.carriers,
    )
    return {**info.as_dict(), "token": token}


@router.delete(
    "/{token_id}",
    response_model=TokenOut,
    summary="Revoke a token",
    responses=responses(401, 403, 404, 409, 422),
)
def revoke(
    token_id: Annotated[int, PathParam(ge=1, le=2**62)], principal: Admin, store: StoreDep
) -> Any:
    """The token is refused from the next request on; 409 if already revoked."""
    return revoke_token(store, token_id, actor=principal.actor).as_dict()

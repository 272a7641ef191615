"""The one-time center award (SPEC §7): record, approve, pay (finance); read (staff)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from api.deps import Finance, PolicyDep, Staff, StoreDep
from api.errors import responses
from api.schemas import AwardIn, AwardOut
from core.timeutil import now_local
from subsidy.awards import advance_award, get_award, list_awards, record_award

router = APIRouter(prefix="/v1/center-awards", tags=["center awards"])

AwardId = Annotated[int, PathParam(ge=1, le=2**62, description="the award's id")]


@router.get(
    "", response_model=list[AwardOut], summary="Every center award", responses=responses(401, 403)
)
def list_(principal: Staff, store: StoreDep) -> Any:
    """The awards in the order they were recorded."""
    return [a.as_dict() for a in list_awards(store)]


def _award_link(operation_id: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"award_id": "$response.body#/id"}}


@router.post(
    "",
    status_code=201,
    response_model=AwardOut,
    summary="Record an accredited center and its award (finance)",
    responses={
        201: {
            "description": "The award, recorded as accredited",
            "links": {  # what a client (and schemathesis' stateful run) does next with it
                "GetAward": _award_link("get_v1_center_awards__award_id__get"),
                "ApproveAward": _award_link("approve_v1_center_awards__award_id__approve_post"),
                "PayAward": _award_link("pay_v1_center_awards__award_id__pay_post"),
            },
        },
        **responses(401, 403, 409, 422),
    },
)
def create(body: AwardIn, principal: Finance, store: StoreDep, policy: PolicyDep) -> Any:
    """At most one award per center (409 for a second); ``award_fen`` at most the policy's
    cap (422 above it); the site must be a ``district_center`` of the registry.
    """
    award = record_award(
        store,
        policy,
        site_code=body.site_code,
        accredited_on=body.accredited_on,
        document_no=body.document_no,
        award_fen=body.award_fen,
        actor=principal.actor,
        today=now_local().date(),
        name=principal.name,
    )
    return award.as_dict()


@router.get(
    "/{award_id}",
    response_model=AwardOut,
    summary="One center award",
    responses=responses(401, 403, 404, 422),
)
def get(award_id: AwardId, principal: Staff, store: StoreDep) -> Any:
    """The award and who moved it when."""
    return get_award(store, award_id).as_dict()


@router.post(
    "/{award_id}/approve",
    response_model=AwardOut,
    summary="Approve an accredited award (finance)",
    responses={
        200: {
            "description": "The award, approved",
            "links": {"PayAward": _award_link("pay_v1_center_awards__award_id__pay_post")},
        },
        **responses(401, 403, 404, 409, 422),
    },
)
def approve(award_id: AwardId, principal: Finance, store: StoreDep) -> Any:
    """accredited -> approved; 409 from any other status."""
    return advance_award(
        store, award_id, "approved", actor=principal.actor, name=principal.name
    ).as_dict()


@router.post(
    "/{award_id}/pay",
    response_model=AwardOut,
    summary="Mark an approved award paid (finance)",
    responses=responses(401, 403, 404, 409, 422),
)
def pay(award_id: AwardId, principal: Finance, store: StoreDep) -> Any:
    """approved -> paid; 409 from any other status."""
    return advance_award(store, award_id, "paid", actor=principal.actor).as_dict()

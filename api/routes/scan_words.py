"""Scan-type words (SPEC §3a): every role reads them; an admin adds a word for every carrier
or for one, and removes a word an admin added (the shipped defaults stay). Audited; uploads
judged after a change use it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi import Path as PathParam

from api.deps import Admin, PolicyDep, Reader, StoreDep
from api.errors import responses
from api.schemas import ScanWordIn, ScanWordList, ScanWordOut
from ingest.scan_words import add_word, delete_word, list_words

router = APIRouter(prefix="/v1/scan-words", tags=["scan words"])


@router.get("", response_model=ScanWordList, summary="Scan-type words", responses=responses(401))
def list_(principal: Reader, store: StoreDep) -> Any:
    """The shipped default words (``default`` true, no id), then the words admins added."""
    return {"words": list_words(store)}


@router.post(
    "",
    response_model=ScanWordOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a scan-type word (admin)",
    responses=responses(401, 403, 409, 422),
)
def add(body: ScanWordIn, principal: Admin, store: StoreDep, policy: PolicyDep) -> Any:
    """Map a word to a scan type for every carrier (``carrier`` null) or for one; uploads
    judged afterwards (and re-judged ones) use it."""
    return add_word(
        store,
        body.word,
        body.scan_type,
        body.carrier,
        actor=principal.actor,
        carriers=policy.carriers,
    )


@router.delete(
    "/{word_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an added scan-type word (admin)",
    responses=responses(401, 403, 404, 422),
)
def remove(
    principal: Admin, store: StoreDep, word_id: int = PathParam(description="the word's id")
) -> None:
    """Remove a word an admin added; the shipped defaults have no id and cannot be removed."""
    delete_word(store, word_id, actor=principal.actor)

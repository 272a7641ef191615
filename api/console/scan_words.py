"""Couriers' scan words (SPEC §3a), for administrators: the scan types recent uploads did not
know with the rows each cost (:func:`ingest.ledger.unmatched_words`), mapping one to a scan
type (for every carrier or one) and re-judging the uploads it affected in one step, and the
words administrators added, which can be removed.

The same domain functions as ``/v1/scan-words`` and ``POST /v1/uploads/{id}/rejudge``
(:func:`ingest.scan_words.add_word`, :func:`ingest.rejudge.rejudge_upload`): each change is
audited with the administrator and the reason.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.console import i18n, upload_words
from api.console.render import ConsoleRoute, lang_of, page
from api.console.session import Session, check_csrf, user_with_role
from api.deps import PolicyDep, StoreDep
from core.events import SCAN_TYPES
from core.exceptions import DomainError
from core.policy import Policy
from core.store import Store
from core.timeutil import now_local
from ingest.exceptions import ScanWordExists
from ingest.ledger import unmatched_words
from ingest.rejudge import rejudge_upload
from ingest.scan_words import add_word, delete_word, list_words, word_lookup
from ingest.uploads import get_upload

i18n.MESSAGES.update(upload_words.MESSAGES)

router = APIRouter(route_class=ConsoleRoute)

AdminUser = Annotated[Session, Depends(user_with_role("admin"))]
FormText = Annotated[str, Form(max_length=200)]
#: The uploads whose unknown words are counted: the latest judged ones.
RECENT = 200


def _words_by_word(store: Store) -> list[dict[str, Any]]:
    """Unknown words of recent uploads, one row per word: its rows in all, and per carrier
    its rows, uploads and what the word means for that carrier now (a mapping made since)."""
    rows: dict[str, dict[str, Any]] = {}
    lookups: dict[str | None, dict[str, str]] = {}
    for item in unmatched_words(store, recent=RECENT):
        carrier = item["carrier"]
        if carrier not in lookups:
            lookups[carrier] = word_lookup(store, carrier)
        row = rows.setdefault(item["word"], {"word": item["word"], "rows": 0, "carriers": []})
        row["rows"] += item["rows"]
        row["carriers"].append(
            {
                "carrier": carrier,
                "rows": item["rows"],
                "uploads": item["uploads"],
                "now": lookups[carrier].get(item["word"].lower()),
            }
        )
    return sorted(rows.values(), key=lambda r: (-r["rows"], r["word"]))


def _page(
    request: Request,
    session: Session,
    store: Store,
    policy: Policy,
    *,
    result: dict[str, Any] | None = None,
    deleted: str | None = None,
) -> Response:
    t = i18n.translator(lang_of(request))
    words = list_words(store)
    return page(
        request,
        "scan_words.html",
        title=t("words.title"),
        session=session,
        unmatched=_words_by_word(store),
        added=[w for w in words if not w["default"]],
        defaults=[w for w in words if w["default"]],
        scan_types=SCAN_TYPES,
        carriers=policy.carriers,
        recent=RECENT,
        result=result,
        deleted=deleted,
    )


@router.get("/console/scan-words", include_in_schema=False)
def words_page(
    request: Request,
    session: AdminUser,
    store: StoreDep,
    policy: PolicyDep,
    deleted: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The unknown words of recent uploads, the mapping form, the words added."""
    return _page(request, session, store, policy, deleted=deleted)


def _rejudge_all(
    store: Store, policy: Policy, ids: list[int], reason: str, actor: str, lang: str
) -> list[dict[str, Any]]:
    """Re-judge each upload; one line per upload with its figures before and after."""
    out = []
    for upload_id in ids:
        before = get_upload(store, upload_id)
        if before is None:
            continue
        line: dict[str, Any] = {"id": upload_id, "carrier": before.carrier, "before": before}
        try:
            line["after"] = rejudge_upload(
                store, upload_id, policy, reason=reason, actor=actor, now=now_local()
            )
        except DomainError as exc:
            line["problem"] = i18n.error_text(exc, lang)
        out.append(line)
    return out


@router.post("/console/scan-words/map", include_in_schema=False)
async def map_word(
    request: Request,
    session: AdminUser,
    store: StoreDep,
    policy: PolicyDep,
    word: FormText,
    scan_type: Annotated[str, Form(max_length=20)],
    carrier: Annotated[str, Form(max_length=20)] = "",
    reason: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Map ``word`` to ``scan_type`` (every carrier, or ``carrier``) and re-judge the recent
    uploads that did not know it, in one step; the page then shows each upload's figures
    before and after. A word already meaning that scan type there is re-judged alone."""
    check_csrf(request, session, csrf)
    lang = lang_of(request)
    t = i18n.translator(lang)
    scope = carrier.strip().upper() or None
    text = word.strip()
    already = False
    try:
        await run_in_threadpool(
            lambda: add_word(
                store,
                word,
                scan_type,
                scope,
                actor=session.principal.actor,
                carriers=policy.carriers,
            )
        )
    except ScanWordExists as exc:
        if exc.params.get("scan_type") != scan_type:
            raise
        already = True
    affected = sorted(
        {
            upload_id
            for item in unmatched_words(store, recent=RECENT)
            if item["word"].lower() == text.lower() and scope in (None, item["carrier"])
            for upload_id in item["uploads"]
        }
    )
    why = reason.strip() or t(
        "words.default_reason", word=text, scan_type=i18n.label(t, "scan", scan_type)
    )
    lines = await run_in_threadpool(
        _rejudge_all, store, policy, affected, why, session.principal.actor, lang
    )
    result = {
        "word": text,
        "scan_type": scan_type,
        "scope": scope,
        "already": already,
        "lines": lines,
    }
    return _page(request, session, store, policy, result=result)


@router.post("/console/scan-words/{word_id}/delete", include_in_schema=False)
def remove(
    request: Request,
    session: AdminUser,
    store: StoreDep,
    policy: PolicyDep,
    word_id: Annotated[int, PathParam(ge=1, le=2**62)],
    csrf: FormText = "",
) -> Response:
    """Remove a word an administrator added (audited); back to the page."""
    check_csrf(request, session, csrf)
    old = delete_word(store, word_id, actor=session.principal.actor)
    return RedirectResponse(
        "/console/scan-words?" + urlencode({"deleted": old["word"]}), status_code=303
    )

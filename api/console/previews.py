"""The preview of an upload before it is stored (SPEC §3a): an operator sends a file once,
sees what an upload of it would give (:func:`ingest.preview.explain_file`, the same as
``POST /v1/uploads?dry_run=true``), then stores it or cancels.

The file received for the preview is kept on the server under a random token
(``DIR/tmp/console-previews/<token>``, never a name the client gives) for
:data:`HOLD_SECONDS`, so that storing it does not send it again; it is handed to the same
intake as any upload (:func:`api.intake.take_upload`). What is held is bounded: at most
:data:`HOLD_PER_USER` files per operator and :data:`HOLD_FILES` in all, together at most
:data:`HOLD_UPLOADS` times the upload limit; the oldest go first. A held file is only ever
shown to, stored or cancelled by the operator who sent it.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from api.console import i18n, upload_words
from api.console.render import ConsoleRoute, lang_of, page, wants_json
from api.console.session import CSRF_HEADER, OperatorUser, Session, check_csrf
from api.console.uploads import take_and_answer
from api.deps import PolicyDep, SettingsDep, StoreDep, UploadLimit, visible_carrier
from api.upload_stream import ReceivedFile, receive_file
from core.store import Store
from core.timeutil import now_local
from ingest.preview import explain_file
from ingest.uploads import get_upload
from subsidy.exceptions import NotFoundError

i18n.MESSAGES.update(upload_words.MESSAGES)

router = APIRouter(route_class=ConsoleRoute)

#: How long a previewed file waits for its operator, and how many of them are kept.
HOLD_SECONDS = 15 * 60
HOLD_PER_USER = 3
HOLD_FILES = 20
#: All held files together: at most this many times the upload limit.
HOLD_UPLOADS = 4
#: Examples of rejected rows shown per reason.
EXAMPLES = 5
_TOKEN = re.compile(r"[0-9a-f]{32}")
Token = Annotated[str, PathParam(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


@dataclass
class Held:
    """A previewed file waiting to be stored or cancelled by the operator who sent it."""

    token: str
    path: Path
    sha256: str
    size: int
    filename: str | None
    actor: str
    carrier: str | None
    at: float
    preview: dict[str, Any]
    refusal: tuple[str, dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PreviewHold:
    """The previewed files of one app, in memory, their bytes under ``DIR/tmp``."""

    def __init__(self) -> None:
        self._items: dict[str, Held] = {}
        self._lock = threading.Lock()

    @staticmethod
    def folder(store: Store) -> Path:
        return store.tmp_dir / "console-previews"

    def _drop(self, token: str) -> None:
        held = self._items.pop(token, None)
        if held is not None:
            held.path.unlink(missing_ok=True)

    def _expire(self, now: float) -> None:
        for token in [t for t, h in self._items.items() if now - h.at > HOLD_SECONDS]:
            self._drop(token)

    def keep(self, store: Store, received: ReceivedFile, session: Session, limit: int) -> Held:
        """Move a received file under a new token (evicting the oldest past the bounds)."""
        token = secrets.token_hex(16)
        folder = self.folder(store)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / token
        os.replace(received.path, target)
        held = Held(
            token=token,
            path=target,
            sha256=received.sha256,
            size=received.size,
            filename=received.filename,
            actor=session.principal.actor,
            carrier=session.principal.carrier,
            at=time.monotonic(),
            preview={},
        )
        with self._lock:
            self._expire(held.at)
            mine = sorted(
                (h for h in self._items.values() if h.actor == held.actor), key=lambda h: h.at
            )
            for old in mine[: max(0, len(mine) - HOLD_PER_USER + 1)]:
                self._drop(old.token)
            budget = HOLD_UPLOADS * limit - held.size
            for old in sorted(self._items.values(), key=lambda h: h.at):
                if len(self._items) < HOLD_FILES and self.held_bytes() <= budget:
                    break
                self._drop(old.token)
            self._items[token] = held
        return held

    def held_bytes(self) -> int:
        return sum(h.size for h in self._items.values())

    def get(self, token: str, session: Session) -> Held:
        """The held file of ``token`` if ``session`` sent it and it has not expired; else
        404 (the same for another operator's token as for one that never existed)."""
        with self._lock:
            self._expire(time.monotonic())
            held = self._items.get(token) if _TOKEN.fullmatch(token) else None
        if held is None or held.actor != session.principal.actor or not held.path.exists():
            raise NotFoundError(
                "this preview has expired or was already used; upload the file again",
                code="preview_expired",
            )
        return held

    def take(self, token: str, session: Session) -> Held:
        """Remove the held file of ``token`` from the hold (its bytes stay for the caller)."""
        held = self.get(token, session)
        with self._lock:
            self._items.pop(token, None)
        return held

    def cancel(self, token: str, session: Session) -> None:
        held = self.get(token, session)
        with self._lock:
            self._drop(held.token)

    def __len__(self) -> int:
        return len(self._items)


def hold_of(request: Request) -> PreviewHold:
    """The app's preview hold (made on first use)."""
    state = request.app.state
    if getattr(state, "console_previews", None) is None:
        state.console_previews = PreviewHold()
    return state.console_previews  # type: ignore[no-any-return]


@router.post("/console/uploads/preview", include_in_schema=False)
async def preview(
    request: Request,
    session: OperatorUser,
    store: StoreDep,
    policy: PolicyDep,
    settings: SettingsDep,
    limit: UploadLimit,
    csrf: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Receive a file (streamed to disk, within the upload limit), judge it as an upload of
    the operator's carrier without storing anything, and hold it for the operator's answer.
    A script gets ``{"token", "url"}``; a plain form is sent on to the preview's page."""
    check_csrf(request, session, request.headers.get(CSRF_HEADER) or csrf)
    received = await receive_file(
        request, tmp_dir=store.tmp_dir, limit=limit, flush_bytes=settings.upload_flush_bytes
    )
    try:
        held = hold_of(request).keep(store, received, session, limit)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    answer, why = await run_in_threadpool(
        lambda: explain_file(store, held.path, policy, carrier=held.carrier, now=now_local())
    )
    held.preview = answer
    held.refusal = None if why is None else (why.code, dict(why.params))
    url = f"/console/uploads/preview/{held.token}"
    if wants_json(request):
        return JSONResponse({"token": held.token, "url": url})
    return RedirectResponse(url, status_code=303)


def _examples(preview: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {r: v["examples"][:EXAMPLES] for r, v in preview["rejected"].items()}


@router.get("/console/uploads/preview/{token}", include_in_schema=False)
def preview_page(
    request: Request, session: OperatorUser, store: StoreDep, token: Token
) -> Response:
    """The preview of a held file, with the buttons to store it or cancel."""
    lang = lang_of(request)
    t = i18n.translator(lang)
    held = hold_of(request).get(token, session)
    found = held.preview
    refusal = None
    if found.get("refusal"):
        code, params = held.refusal or (None, {})
        refusal = i18n.refusal_text(found["refusal"], code, params, lang)
    rejected = sum(v["count"] for v in found["rejected"].values())
    already = found.get("already_uploaded")
    if already is not None:  # named only when it is the operator's own carrier's upload
        known = get_upload(store, int(already))
        if known is None or not visible_carrier(session.principal, known.carrier):
            already = None
    return page(
        request,
        "preview.html",
        title=t("preview.title"),
        session=session,
        held=held,
        found=found,
        refusal=refusal,
        rejected_total=rejected,
        already=already,
        examples=_examples(found),
        example_count=EXAMPLES,
        minutes=HOLD_SECONDS // 60,
    )


@router.post("/console/uploads/preview/{token}/commit", include_in_schema=False)
async def commit(
    request: Request,
    session: OperatorUser,
    store: StoreDep,
    policy: PolicyDep,
    settings: SettingsDep,
    limit: UploadLimit,
    background: BackgroundTasks,
    token: Token,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Store a previewed file: the same intake as an upload (:func:`api.intake.take_upload`),
    then the upload's page (a script gets the API's answer)."""
    check_csrf(request, session, request.headers.get(CSRF_HEADER) or csrf)
    held = hold_of(request).take(token, session)
    received = ReceivedFile(held.path, held.sha256, held.size, held.filename)
    return await take_and_answer(
        request,
        received,
        session=session,
        store=store,
        policy=policy,
        settings=settings,
        limit=limit,
        background=background,
    )


@router.post("/console/uploads/preview/{token}/cancel", include_in_schema=False)
def cancel(
    request: Request,
    session: OperatorUser,
    token: Token,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Drop a previewed file; back to the uploads."""
    check_csrf(request, session, csrf)
    hold_of(request).cancel(token, session)
    return RedirectResponse("/console/uploads?cancelled=1", status_code=303)

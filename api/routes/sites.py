"""The sites registry (SPEC §4): read by anyone with a token, replaced whole by an admin.

``PUT /v1/sites`` takes the registry as JSON (``{"sites": [...]}``) or as the CSV file the
CLI imports (``Content-Type: text/csv``, columns ``site_code,name,kind,town,active_from,
active_to``). Both go through the same validation as ``parcel-subsidy sites import``; the
change is audited with the admin as actor.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import Admin, Reader, SettingsDep, StoreDep
from api.errors import ApiError, responses
from api.schemas import SitesIn, SitesOut, SitesReplaced
from api.upload_stream import human
from core.store import Store
from subsidy.sites import (
    REGISTRY_COLUMNS,
    load_sites,
    parse_registry,
    replace_sites,
    site_aliases,
)
from subsidy.tokens import Principal

router = APIRouter(prefix="/v1/sites", tags=["sites"])


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with each ``$ref`` to ``defs`` (its ``$defs``) replaced by the definition:
    the body is declared by hand below, so FastAPI lists none of its models in the schema's
    components, and a ``$ref`` there would point at nothing."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(v, defs) for v in schema]
    return schema


_SITES_IN = SitesIn.model_json_schema()
_PUT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(_SITES_IN, _SITES_IN.get("$defs", {}))},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "CSV with the header "
                    "site_code,name,kind,town,active_from,active_to[,aliases] (aliases "
                    "separated by |)",
                }
            },
        },
    }
}


@router.get("", response_model=SitesOut, summary="The sites registry", responses=responses(401))
def list_(principal: Reader, store: StoreDep) -> Any:
    """Every site with its kind, town and active interval (dates inclusive)."""
    aliases = site_aliases(store)
    return {
        "sites": [
            {**site, "aliases": aliases.get(site["site_code"], [])}
            for site in load_sites(store).to_dicts()
        ]
    }


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = ApiError(
        413,
        "payload_too_large",
        f"the registry is larger than the limit of {human(limit)}",
        text_code="registry_too_large",
        limit=human(limit),
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _csv_from_json(raw: bytes, target: Path) -> None:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            422,
            "validation_error",
            f"the body is not valid JSON ({exc})",
            text_code="bad_json",
            problem=str(exc),
        ) from None
    try:
        sites = SitesIn.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*REGISTRY_COLUMNS, "aliases"])
        for s in sites.sites:
            writer.writerow(
                [
                    s.site_code,
                    s.name,
                    s.kind,
                    s.town or "",
                    s.active_from.isoformat(),
                    s.active_to.isoformat() if s.active_to else "",
                    "|".join(s.aliases),
                ]
            )


def _replace(store: Store, raw: bytes, media: str, actor: Principal) -> dict[str, int]:
    scratch = Path(tempfile.mkdtemp(prefix="sites-", dir=store.tmp_dir))
    try:
        target = scratch / "sites.csv"
        if media == "application/json":
            _csv_from_json(raw, target)
        else:
            target.write_bytes(raw)
        return replace_sites(store, parse_registry(target), actor=actor.actor)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@router.put(
    "",
    response_model=SitesReplaced,
    summary="Replace the sites registry (admin)",
    openapi_extra=_PUT_BODY,
    responses=responses(401, 403, 413, 422),
)
async def replace(
    request: Request, principal: Admin, store: StoreDep, settings: SettingsDep
) -> Any:
    """Validate the whole registry (every problem is listed at once) and replace the stored
    one in one audited transaction; nothing changes if anything is wrong.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", "text/csv"):
        raise ApiError(
            422,
            "validation_error",
            'send the registry as application/json ({"sites": [...]}) or as text/csv',
            text_code="registry_media_type",
        )
    raw = await _read_body(request, settings.max_sites_bytes)
    return await run_in_threadpool(_replace, store, raw, media, principal)

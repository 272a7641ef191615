"""The console's own static files: its stylesheet and script, and the vendored chart library.

Only the files listed here are served (no directory listing, no path from the request reaches
the file system). URLs carry the file's content hash (:func:`api.console.render.static_url`),
so browsers keep them for a year.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.responses import FileResponse, Response

from api.console.render import STATIC_DIR
from subsidy.exceptions import NotFoundError

router = APIRouter()

#: name -> media type. ``vendor/echarts.min.js`` is ``dist/echarts.min.js`` of the npm package
#: ``echarts`` 6.1.0 (Apache-2.0; sha256 b66b25ae...0d0fd0), with its LICENSE, NOTICE and the
#: d3 licence the LICENSE refers to; nothing else of the package is vendored.
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "vendor/echarts.min.js": "text/javascript; charset=utf-8",
    "vendor/LICENSE": "text/plain; charset=utf-8",
    "vendor/NOTICE": "text/plain; charset=utf-8",
    "vendor/LICENSE-d3": "text/plain; charset=utf-8",
}


@router.get("/console/static/{name:path}", include_in_schema=False)
def asset(name: Annotated[str, PathParam(max_length=100)]) -> Response:
    """One of :data:`ASSETS`; 404 for any other name."""
    media = ASSETS.get(name)
    if media is None:
        raise NotFoundError(f"no console asset {name!r}", code="asset_not_found", name=name)
    return FileResponse(
        STATIC_DIR / name,
        media_type=media,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )

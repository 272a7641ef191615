"""``GET /docs``: the interactive API docs (Swagger UI), served by the service itself.

District government networks are often cut off from the internet, so the Swagger UI files
come from the ``swagger-ui-bundle-v2`` package, not from a CDN (FastAPI's default).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

router = APIRouter()
STATIC = "/docs/static"


@router.get("/docs", include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, every asset from this server."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="parcel-subsidy API",
        swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
    )


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and its files (create the app with ``docs_url=None``)."""
    app.mount(STATIC, StaticFiles(directory=str(swagger_ui_path)), name="docs-static")
    app.include_router(router)

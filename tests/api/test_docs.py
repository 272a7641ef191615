"""The interactive docs work on a network cut off from the internet: every asset is local."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_and_its_assets_are_served_by_the_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets and all(a.startswith("/docs/static/") for a in assets), assets
    assert "cdn" not in page.text and "https://" not in page.text
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    assert client.get("/redoc").status_code == 404


def test_openapi_is_still_served_and_lists_no_docs_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert not any(path.startswith("/docs") for path in spec["paths"])

"""The demo (``parcel-subsidy demo``) sends a share of each carrier's exports in its own
shape (ingest/shapes.py), and the console's and the API's upload lists show those files
ingested, with their formats and figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import cli
from api.app import create_app
from core.policy import Policy
from core.store import Store
from subsidy.tokens import create_token
from tests.console.conftest import sign_in


def test_demo_uploads_show_the_couriers_shapes_ingested(
    tmp_path: Path, policy: Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "demo"
    assert cli.main(["--data-dir", str(data), "demo", "--parcels", "3000", "--months", "2"]) == 0
    out = capsys.readouterr().out
    assert "JT: 2 monthly exports (parquet, xlsx)" in out
    store = Store(data)
    token = create_token(store, actor="tests", carriers=policy.carriers, role="admin", name="a")[0]
    with TestClient(create_app(data)) as client:
        api = client.get("/v1/uploads?limit=100", headers={"Authorization": f"Bearer {token}"})
        items = api.json()["items"]
        sign_in(client, token)
        page = client.get("/console/uploads").text
    assert len(items) == 18 and all(u["status"] == "ingested" for u in items)
    by_suffix: dict[str, list[dict[str, object]]] = {}
    for item in items:
        by_suffix.setdefault(Path(item["filename"]).suffix, []).append(item)
    assert set(by_suffix) == {".parquet", ".xlsx", ".xls", ".csv", ".tsv"}
    assert len(by_suffix[".parquet"]) == 9
    for suffix in (".xlsx", ".xls", ".csv", ".tsv"):
        assert all(int(str(u["accepted"])) > 0 for u in by_suffix[suffix]), suffix
    assert {u["format"] for u in by_suffix[".xlsx"]} == {"xlsx"}
    assert {u["format"] for u in by_suffix[".xls"]} == {"xls"}
    jt = next(u for u in by_suffix[".xlsx"] if u["carrier"] == "JT")
    assert f"{jt['filename']}" in page and "已入库" in page
    for item in items:
        assert str(item["filename"]) in page

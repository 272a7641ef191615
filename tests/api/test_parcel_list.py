"""Behind every figure, its parcels (SPEC §12 ``GET /v1/parcels``): for every cell of a
generated report, open and closed, the listed parcels number exactly the cell's count; the
JSON pages, the CSV and the Parquet list the same parcels; operators see their own only."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from ingest.synthetic import generate
from ingest.uploads import ingest_file
from subsidy.closing import close_month
from subsidy.sites import import_sites
from tests.api.conftest import bearer, make_tokens
from tests.factories import cst

NOW = cst(2023, 6, 1)
AS_OF = "2023-02-20T12:00:00+08:00"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, 3_000, seed=11, layout="month", start=date(2023, 1, 1), months=2)
    return out


@pytest.fixture
def setup(tmp_path: Path, generated: Path, policy: Policy) -> tuple[TestClient, dict[str, str]]:
    store = Store(tmp_path / "data").init()
    import_sites(store, generated / "sites.csv")
    for path in sorted((generated / "scans").glob("*/*.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
    close_month(store, policy, "2023-01", actor="tests", now=cst(2023, 2, 10))
    return TestClient(create_app(store.root, settings=Settings())), make_tokens(store, policy)


def _cells(report: dict[str, Any]) -> list[tuple[str, dict[str, str], int]]:
    """Every count of a report: per carrier and in total, with the query that lists it."""
    out: list[tuple[str, dict[str, str], int]] = []
    rows = [(r["carrier"], r) for r in report["carriers"]] + [(None, report["totals"])]
    for carrier, row in rows:
        base = {} if carrier is None else {"carrier": carrier}
        out.append((f"{carrier} eligible", {**base, "status": "eligible"}, row["eligible_parcels"]))
        out.append((f"{carrier} pending", {**base, "status": "pending"}, row["pending_parcels"]))
        for reason, n in row["ineligible"].items():
            query = {**base, "status": "ineligible", "reason": reason}
            out.append((f"{carrier} {reason}", query, n))
    return out


def _all_pages(client: TestClient, token: str, query: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {**query, "limit": "400", **({"after": after} if after else {})}
        resp = client.get("/v1/parcels", params=params, headers=bearer(token))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items += body["items"]
        after = body["next_after"]
        if after is None:
            return items


@pytest.mark.parametrize("month", ["2023-01", "2023-02"])
def test_every_cell_lists_exactly_its_parcels(
    setup: tuple[TestClient, dict[str, str]], month: str
) -> None:
    client, tokens = setup
    fin = bearer(tokens["finance"])
    params = {"month": month, "as_of": AS_OF}
    report = client.get("/v1/reports/monthly", params=params, headers=fin).json()
    assert (report.get("closed") is not None) is (month == "2023-01"), sorted(report)
    cells = _cells(report)
    assert sum(n for _, _, n in cells) > 0
    for name, query, n in cells:
        items = _all_pages(client, tokens["finance"], {"month": month, "as_of": AS_OF, **query})
        assert len(items) == n, name
        assert len({(i["carrier"], i["waybill_no"]) for i in items}) == n, name
    # CSV and Parquet: all of a carrier's eligible parcels, the same as the pages.
    carrier = report["carriers"][0]["carrier"]
    query = {"month": month, "as_of": AS_OF, "carrier": carrier, "status": "eligible"}
    pages = [i["waybill_no"] for i in _all_pages(client, tokens["finance"], query)]
    resp = client.get("/v1/parcels", params={**query, "format": "csv"}, headers=fin)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    csv = pl.read_csv(io.BytesIO(resp.content), schema_overrides={"waybill_no": pl.String})
    assert csv["waybill_no"].to_list() == pages
    resp = client.get("/v1/parcels", params={**query, "format": "parquet"}, headers=fin)
    assert resp.status_code == 200
    parquet = pl.read_parquet(io.BytesIO(resp.content))
    assert parquet["waybill_no"].to_list() == pages
    assert int(parquet["subsidy_fen"].sum()) == report["carriers"][0]["subsidy_fen"]


def test_operator_lists_its_own_carrier_only(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = setup
    op = bearer(tokens["operator"])  # ZTO
    params = {"month": "2023-02", "as_of": AS_OF, "limit": "5000"}
    resp = client.get("/v1/parcels", params=params, headers=op)
    assert resp.status_code == 200
    assert {i["carrier"] for i in resp.json()["items"]} <= {"ZTO"}
    other = client.get("/v1/parcels?month=2023-02&carrier=YTO", headers=op)
    assert other.status_code == 404
    bad = client.get("/v1/parcels?month=2023-02&status=paid", headers=op)
    assert bad.status_code == 422

"""Every role against every route: allowed, 401, 403 or 404, as SPEC §9 says.

One store serves the whole table. Each writing route has exactly one allowed role, so each
write happens once and the expectations do not depend on the order of the cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.policy import Policy
from core.settings import Settings
from subsidy.awards import advance_award, record_award
from subsidy.tokens import create_token
from tests.api.conftest import CALLERS, LIMIT, bearer, make_tokens, may_rows
from tests.factories import SITES, cst, make_store, parcel, write_parquet, write_sites_csv

EXTRA_CENTER = {**SITES[0], "site_code": "JY-C03", "name": "第三配送中心"}
MATRIX_SITES = (*SITES, EXTRA_CENTER)
STAFF = ("finance", "auditor", "admin")
EVERYONE = tuple(CALLERS)


@dataclass
class World:
    """The shared store, its client, the callers' tokens and the ids the routes refer to."""

    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)
    folder: Path = Path()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    store = make_store(root / "data", MATRIX_SITES)
    tokens = make_tokens(store, policy)
    app = create_app(store.root, settings=Settings(max_upload_bytes=LIMIT))
    with TestClient(app) as client:
        w = World(client, tokens, folder=root)
        for caller, carrier, prefix in (("operator", "ZTO", "ZT"), ("other_operator", "YTO", "YT")):
            path = write_parquet(root / f"{carrier}.parquet", may_rows(carrier, prefix))
            files = {"file": (path.name, path.read_bytes())}
            resp = client.post("/v1/uploads", headers=bearer(tokens[caller]), files=files)
            assert resp.status_code == 202, resp.text
            w.ids[carrier] = resp.json()["id"]
        a1 = record_award(
            store,
            policy,
            site_code="JY-C01",
            accredited_on=cst(2023, 1, 5).date(),
            document_no="济阳商务〔2023〕1号",
            award_fen=10_000_000,
            actor="tests",
            today=cst(2024, 1, 1).date(),
        )
        a2 = record_award(
            store,
            policy,
            site_code="JY-C02",
            accredited_on=cst(2023, 7, 5).date(),
            document_no="济阳商务〔2023〕2号",
            award_fen=20_000_000,
            actor="tests",
            today=cst(2024, 1, 1).date(),
        )
        advance_award(store, a2.id, "approved", actor="tests", name="approver")
        w.ids["accredited_award"], w.ids["approved_award"] = a1.id, a2.id
        _, spare = create_token(store, role="auditor", actor="tests", carriers=policy.carriers)
        w.ids["spare_token"] = spare.id
        yield w


def _upload_body(w: World, caller: str) -> dict[str, Any]:
    rows = parcel(f"MX{len(caller):02d}{caller[:4].upper()}", cst(2023, 6, 2, 8))
    path = write_parquet(w.folder / f"{caller}-june.parquet", rows)
    return {"files": {"file": (path.name, path.read_bytes())}}


def _sites_body(w: World, caller: str) -> dict[str, Any]:
    csv_path = write_sites_csv(w.folder / "sites.csv", MATRIX_SITES)
    return {"content": csv_path.read_bytes(), "headers": {"Content-Type": "text/csv"}}


AWARD = {
    "site_code": "JY-C03",
    "accredited_on": "2023-03-01",
    "document_no": "济阳商务〔2023〕3号",
    "award_fen": 30_000_000,
}


@dataclass(frozen=True)
class Route:
    """A request and what each caller gets; callers not listed get 403."""

    method: str
    path: str
    allowed: dict[str, int]
    body: Any = None  # dict of request kwargs, or a function of (world, caller) giving them


def everyone(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(EVERYONE, status)


def staff(status: int = 200) -> dict[str, int]:
    return dict.fromkeys(STAFF, status)


ROUTES = [
    Route("POST", "/v1/uploads", {"operator": 202, "other_operator": 202}, _upload_body),
    Route("GET", "/v1/uploads", everyone()),
    Route("GET", "/v1/uploads/{ZTO}", {**everyone(), "other_operator": 404}),
    Route("GET", "/v1/uploads/{ZTO}/rejects", {**everyone(), "other_operator": 404}),
    Route("GET", "/v1/uploads/{ZTO}/rejects?format=csv", {**everyone(), "other_operator": 404}),
    Route("GET", "/v1/uploads/{YTO}", {**everyone(), "operator": 404}),
    Route("GET", "/v1/uploads/999999", everyone(404)),
    Route("GET", "/v1/reports/monthly?month=2023-05", everyone()),
    Route("GET", "/v1/reports/monthly?month=2023-05&format=csv", everyone()),
    Route("GET", "/v1/reports/monthly?month=2023-05&format=xlsx", everyone()),
    Route("GET", "/v1/reports/summary?from=2023-04&to=2023-06", everyone()),
    Route("GET", "/v1/parcels/ZTO/ZT100000", {**everyone(), "other_operator": 404}),
    Route("GET", "/v1/parcels/YTO/YT100000", {**everyone(), "operator": 404}),
    Route("GET", "/v1/months", staff()),
    Route("POST", "/v1/months/2023-01/close", {"finance": 201}),
    Route("GET", "/v1/center-awards", staff()),
    Route("POST", "/v1/center-awards", {"finance": 201}, {"json": AWARD}),
    Route("GET", "/v1/center-awards/{accredited_award}", staff()),
    Route("POST", "/v1/center-awards/{accredited_award}/approve", {"finance": 200}),
    Route("POST", "/v1/center-awards/{approved_award}/pay", {"finance": 200}),
    Route("GET", "/v1/sites", everyone()),
    Route("PUT", "/v1/sites", {"admin": 200}, _sites_body),
    Route("GET", "/v1/audit-log", staff()),
    Route("GET", "/v1/jobs", staff()),
    Route("GET", "/v1/tokens", {"admin": 200}),
    Route("POST", "/v1/tokens", {"admin": 201}, {"json": {"role": "auditor", "name": "new"}}),
    Route("DELETE", "/v1/tokens/{spare_token}", {"admin": 200}),
]

CASES = [
    pytest.param(route, caller, id=f"{route.method} {route.path} as {caller}")
    for route in ROUTES
    for caller in (*EVERYONE, "no_token", "wrong_token")
]


def _call(w: World, route: Route, caller: str) -> Any:
    headers: dict[str, str] = {}
    if caller == "wrong_token":
        headers = bearer("pst_" + "x" * 43)
    elif caller != "no_token":
        headers = bearer(w.tokens[caller])
    body = route.body(w, caller) if callable(route.body) else dict(route.body or {})
    headers.update(body.pop("headers", {}))
    path = route.path.format(**w.ids)
    return w.client.request(route.method, path, headers=headers, **body)


@pytest.mark.parametrize(("route", "caller"), CASES)
def test_route_answers_each_caller_as_specified(world: World, route: Route, caller: str) -> None:
    """Allowed roles get the route's answer, other roles 403, no or a wrong token 401, and
    an operator gets 404 for another carrier's upload or parcel."""
    expected = 401 if caller in ("no_token", "wrong_token") else route.allowed.get(caller, 403)
    resp = _call(world, route, caller)
    assert resp.status_code == expected, resp.text
    if expected >= 400:
        body = resp.json()
        assert set(body) >= {"detail", "code"}
        assert "Traceback" not in body["detail"]
    if expected == 401:
        assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_healthz_needs_no_token(world: World) -> None:
    """/healthz answers without a token, and says nothing but ok."""
    resp = world.client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_a_revoked_token_is_refused_at_once(world: World, policy: Policy) -> None:
    """Revoking a token through the API makes its next request 401."""
    created = world.client.post(
        "/v1/tokens", headers=bearer(world.tokens["admin"]), json={"role": "auditor"}
    )
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["id"]
    assert world.client.get("/v1/months", headers=bearer(token)).status_code == 200
    revoked = world.client.delete(f"/v1/tokens/{token_id}", headers=bearer(world.tokens["admin"]))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    again = world.client.get("/v1/months", headers=bearer(token))
    assert again.status_code == 401
    assert again.json()["code"] == "unauthorized"


def test_operator_report_shows_only_its_carrier(world: World) -> None:
    """An operator's monthly report and summary hold its carrier's row and no award."""
    for path in (
        "/v1/reports/monthly?month=2023-05&as_of=2023-07-01",
        "/v1/reports/summary?from=2023-05&to=2023-05&as_of=2023-07-01",
    ):
        mine = world.client.get(path, headers=bearer(world.tokens["operator"])).json()
        everything = world.client.get(path, headers=bearer(world.tokens["finance"])).json()
        assert [r["carrier"] for r in everything["carriers"]] == ["YTO", "ZTO"]
        assert [r["carrier"] for r in mine["carriers"]] == ["ZTO"]
        zto = next(r for r in everything["carriers"] if r["carrier"] == "ZTO")
        assert mine["totals"]["subsidy_fen"] == zto["subsidy_fen"]
        assert mine["center_awards"] == [] and mine["program_total_fen"] is None
        assert everything["center_awards"] != []


def test_operator_upload_list_holds_only_its_uploads(world: World) -> None:
    """Listing uploads as an operator never shows another carrier's, even when asked."""
    mine = world.client.get("/v1/uploads", headers=bearer(world.tokens["operator"])).json()
    assert {u["carrier"] for u in mine["items"]} == {"ZTO"}
    asked = world.client.get("/v1/uploads?carrier=YTO", headers=bearer(world.tokens["operator"]))
    assert asked.status_code == 403
    assert "YTO" not in asked.json()["detail"]


def test_another_carriers_upload_and_a_missing_one_look_the_same(world: World) -> None:
    """The 404 for another carrier's upload is word for word the 404 of a missing upload."""
    other = world.ids["YTO"]
    seen = world.client.get(f"/v1/uploads/{other}", headers=bearer(world.tokens["operator"]))
    listed = world.client.get("/v1/uploads", headers=bearer(world.tokens["finance"])).json()
    max_id = max(u["id"] for u in listed["items"])
    missing = world.client.get(
        f"/v1/uploads/{max_id + 1000}", headers=bearer(world.tokens["operator"])
    )
    assert seen.json()["detail"].replace(str(other), "N") == missing.json()["detail"].replace(
        str(max_id + 1000), "N"
    )

"""Center awards, the sites registry, tokens, the audit log, jobs and the error shape."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.store import Store
from subsidy.tokens import create_token, hash_token
from tests.api.conftest import bearer
from tests.factories import SITES, write_sites_csv

AWARD = {
    "site_code": "JY-C01",
    "accredited_on": "2023-01-05",
    "document_no": "济阳商务〔2023〕1号",
    "award_fen": 50_000_000,
}


def _finance_token(store: Store, name: str) -> str:
    """A second finance token, of another person (four eyes)."""
    return create_token(store, role="finance", name=name, actor="tests", carriers={})[0]


def test_award_goes_accredited_approved_paid_once(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    """An award is recorded, approved (by another person than the recorder: four eyes), paid,
    one step at a time; every step is audited; a second award for the same center is 409."""
    fin = bearer(tokens["finance"])
    created = client.post("/v1/center-awards", headers=fin, json=AWARD)
    assert created.status_code == 201, created.text
    award = created.json()
    assert (award["status"], award["award_yuan"], award["site_name"]) == (
        "accredited",
        "500000.00",
        "济阳区级配送中心",
    )
    early = client.post(f"/v1/center-awards/{award['id']}/pay", headers=fin)
    assert early.status_code == 409 and "approved" in early.json()["detail"]
    same = client.post(f"/v1/center-awards/{award['id']}/approve", headers=fin)
    assert same.status_code == 409 and "four eyes" in same.json()["detail"]
    second_person = bearer(_finance_token(store, "Zhao Lei"))
    approved = client.post(f"/v1/center-awards/{award['id']}/approve", headers=second_person)
    assert approved.status_code == 200
    paid = client.post(f"/v1/center-awards/{award['id']}/pay", headers=fin)
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert paid.json()["paid_by"] and paid.json()["approved_at"]
    again = client.post(f"/v1/center-awards/{award['id']}/approve", headers=fin)
    assert again.status_code == 409
    second = client.post("/v1/center-awards", headers=fin, json={**AWARD, "award_fen": 1})
    assert second.status_code == 409 and "at most one award per center" in second.json()["detail"]
    log = client.get("/v1/audit-log?action=award", headers=bearer(tokens["auditor"])).json()
    steps = [(x["action"], x["old_value"], x["new_value"]) for x in log["items"]]
    assert [s[0] for s in steps] == ["award.recorded", "award.approved", "award.paid"]
    assert steps[2][1:] == ({"status": "approved"}, {"status": "paid"})
    listed = client.get("/v1/center-awards", headers=bearer(tokens["auditor"])).json()
    assert [a["status"] for a in listed] == ["paid"]
    missing = client.post("/v1/center-awards/99/approve", headers=fin)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        pytest.param({"award_fen": 50_000_001}, 422, "at most the cap", id="above-cap"),
        pytest.param({"award_fen": 0}, 422, "award_fen", id="zero"),
        pytest.param({"award_fen": 1.5}, 422, "award_fen", id="float-money"),
        pytest.param({"award_fen": "100"}, 422, "award_fen", id="text-money"),
        pytest.param({"award_fen": True}, 422, "award_fen", id="bool-money"),
        pytest.param({"accredited_on": 1686355200}, 422, "accredited_on", id="epoch-date"),
        pytest.param({"document_no": " "}, 422, "document_no", id="blank-document"),
        pytest.param({"site_code": "JY-H01"}, 409, "village_hub", id="not-a-center"),
        pytest.param({"site_code": "NOPE"}, 409, "not in the sites registry", id="unknown-site"),
        pytest.param({"accredited_on": "2999-01-01"}, 409, "in the future", id="future-date"),
    ],
)
def test_an_award_breaking_a_rule_is_refused(
    client: TestClient,
    tokens: dict[str, str],
    change: dict[str, object],
    status: int,
    words: str,
) -> None:
    """An amount above the cap or not an integer of fen, a date that is not text, a blank
    document: 422 (the schema says so too). A site the registry holds as no district center,
    an accreditation to come: 409 (well formed; possible once the registry or the date
    changes). Either says which, and nothing is recorded."""
    resp = client.post("/v1/center-awards", headers=bearer(tokens["finance"]), json=AWARD | change)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"], resp.json()["detail"]
    assert client.get("/v1/center-awards", headers=bearer(tokens["finance"])).json() == []


def test_sites_replace_by_json_and_csv(
    client: TestClient, tokens: dict[str, str], store: Store, tmp_path
) -> None:
    """An admin replaces the registry as JSON or CSV; a bad registry is 422 listing its
    problems and changes nothing; every replacement is audited."""
    admin = bearer(tokens["admin"])
    sites = [
        {"site_code": "C1", "name": "中心", "kind": "district_center", "active_from": "2021-01-01"},
        {"site_code": "H1", "name": "站", "kind": "village_hub", "town": "仁风镇",
         "active_from": "2021-01-01", "active_to": "2023-12-31"},
    ]  # fmt: skip
    resp = client.put("/v1/sites", headers=admin, json={"sites": sites})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"sites": 2, "district_center": 1, "village_hub": 1, "other": 0}
    stored = client.get("/v1/sites", headers=bearer(tokens["operator"])).json()["sites"]
    assert [(s["site_code"], s["active_to"]) for s in stored] == [
        ("C1", None),
        ("H1", "2023-12-31"),
    ]

    bad = [{**sites[0], "active_from": "2023-02-30"}, {**sites[1], "site_code": "C1"}]
    refused = client.put("/v1/sites", headers=admin, json={"sites": bad})
    assert refused.status_code == 422
    assert len(client.get("/v1/sites", headers=admin).json()["sites"]) == 2
    wrong_kind = client.put(
        "/v1/sites", headers=admin, json={"sites": [{**sites[0], "kind": "castle"}]}
    )
    assert wrong_kind.status_code == 422 and "kind" in wrong_kind.json()["detail"]

    body = write_sites_csv(tmp_path / "sites.csv", SITES).read_bytes()
    as_csv = client.put("/v1/sites", headers={**admin, "Content-Type": "text/csv"}, content=body)
    assert as_csv.status_code == 200 and as_csv.json()["sites"] == len(SITES)
    dup = body + body.splitlines(keepends=True)[1]
    refused_csv = client.put(
        "/v1/sites", headers={**admin, "Content-Type": "text/csv"}, content=dup
    )
    assert refused_csv.status_code == 422 and "appears twice" in refused_csv.json()["detail"]
    xml = client.put("/v1/sites", headers={**admin, "Content-Type": "text/xml"}, content=b"<a/>")
    assert xml.status_code == 422
    log = client.get("/v1/audit-log?action=sites", headers=admin).json()["items"]
    assert [x["actor"] for x in log][-2:] == ["admin (token 5)"] * 2


def test_tokens_over_the_api_store_only_hashes(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    """A created token is shown once; the store and the listing hold no secret."""
    admin = bearer(tokens["admin"])
    made = client.post(
        "/v1/tokens", headers=admin, json={"role": "operator", "carrier": "sf", "name": "SF"}
    )
    assert made.status_code == 201 and made.json()["carrier"] == "SF"
    secret = made.json()["token"]
    listing = client.get("/v1/tokens", headers=admin)
    assert secret not in listing.text and "token_sha256" not in listing.text
    with store.connect() as db:
        dump = "\n".join(str(tuple(r)) for r in db.execute("SELECT * FROM api_tokens"))
    assert secret not in dump and hash_token(secret) in dump
    assert client.get("/v1/uploads", headers=bearer(secret)).status_code == 200
    no_carrier = client.post("/v1/tokens", headers=admin, json={"role": "operator"})
    assert no_carrier.status_code == 422 and "carrier" in no_carrier.json()["detail"]
    bad_carrier = client.post(
        "/v1/tokens", headers=admin, json={"role": "operator", "carrier": "ACME"}
    )
    assert bad_carrier.status_code == 422 and "unknown carrier" in bad_carrier.json()["detail"]
    log = client.get("/v1/audit-log?action=token", headers=admin).json()["items"]
    assert secret not in str(log)
    assert log[-1]["action"] == "token.created" and log[-1]["new_value"]["carrier"] == "SF"


def test_audit_log_pages(client: TestClient, tokens: dict[str, str]) -> None:
    """The log comes oldest first, a page at a time, following next_after."""
    auditor = bearer(tokens["auditor"])
    first = client.get("/v1/audit-log?limit=2", headers=auditor).json()
    assert len(first["items"]) == 2 and first["next_after"] == first["items"][-1]["id"]
    rest = client.get(f"/v1/audit-log?after={first['next_after']}", headers=auditor).json()
    ids = [x["id"] for x in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert rest["next_after"] is None


def test_jobs_lists_the_scheduler_jobs(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    """GET /v1/jobs answers the scheduler's jobs with their runs, one under way included."""
    with store.connect() as db:
        db.execute(
            "INSERT INTO job_runs (job, started_at, outcome) VALUES"
            " ('inbox_ingest', '2024-12-01T10:00:00.000+08:00', 'running')"
        )
    resp = client.get("/v1/jobs", headers=bearer(tokens["auditor"]))
    assert resp.status_code == 200, resp.text
    jobs = {j["id"]: j for j in resp.json()}
    assert set(jobs) == {"inbox_ingest", "monthly_draft", "store_upkeep"}
    (running,) = jobs["inbox_ingest"]["last_runs"]
    assert running["outcome"] == "running" and running["finished_at"] is None


def test_errors_share_one_shape_and_never_leak_a_trace(
    app: FastAPI, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Unknown route, wrong method and an unexpected failure all answer {detail, code}; the
    failure's trace goes to the log, not to the client."""

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        missing = client.get("/v1/nothing-here", headers=bearer(tokens["finance"]))
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        method = client.delete("/v1/sites", headers=bearer(tokens["admin"]))
        assert method.status_code == 405 and set(method.json()) == {"detail", "code"}
        with caplog.at_level(logging.ERROR, logger="parcel_subsidy.api"):
            failed = client.get("/v1/boom")
        assert failed.status_code == 500
        assert failed.json()["code"] == "internal_error"
        assert "secret internals" not in failed.text and "Traceback" not in failed.text
        assert "secret internals" in caplog.text


def test_an_unusable_store_is_503_without_naming_the_servers_files(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Health answers 503 when the database cannot be opened; the path stays in the log."""
    store = app.state.store
    db_path = store.db_path
    db_path.rename(db_path.with_suffix(".moved"))
    db_path.mkdir()  # a folder where the database file was: SQLite cannot open it
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="parcel_subsidy.api"),
    ):
        answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json()["code"] == "store_unavailable"
    assert str(store.root) not in answer.text and "sqlite" not in answer.text.lower()
    assert str(db_path) in caplog.text

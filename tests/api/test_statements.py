"""Settlement through the HTTP API (SPEC §11): budget, statements made by closing a month,
pro-rating, the four-eyes lifecycle with two finance officers, the operator's view, reversal,
and the budget figures after each step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.store import Store
from subsidy.tokens import create_token
from tests.api.conftest import bearer, may_rows, upload
from tests.factories import write_parquet


def finance(store: Store, name: str | None) -> dict[str, str]:
    """The header of a new finance token of ``name`` (None: a token without a name)."""
    token = create_token(store, role="finance", name=name, actor="tests", carriers={})[0]
    return bearer(token)


@pytest.fixture
def closed_may(client: TestClient, tokens: dict[str, str], tmp_path: Path) -> TestClient:
    """ZTO and YTO each have 3 eligible May 2023 parcels (60 fen); the 2023 budget is 101 fen;
    May is closed."""
    for caller, carrier, prefix in (("operator", "ZTO", "ZT"), ("other_operator", "YTO", "YT")):
        path = write_parquet(tmp_path / f"{carrier}.parquet", may_rows(carrier, prefix))
        assert upload(client, tokens[caller], path).status_code == 202
    fin = bearer(tokens["finance"])
    put = client.put(
        "/v1/budgets/2023",
        headers=fin,
        json={"amount_fen": 101, "document_no": "济财预〔2023〕1号"},
    )
    assert put.status_code == 200, put.text
    assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
    return client


def _budget(client: TestClient, tokens: dict[str, str]) -> dict[str, Any]:
    resp = client.get("/v1/budgets/2023", headers=bearer(tokens["auditor"]))
    assert resp.status_code == 200, resp.text
    return resp.json()


def _by_carrier(client: TestClient, token: str) -> dict[str, dict[str, Any]]:
    resp = client.get("/v1/statements?month=2023-05", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    return {s["carrier"]: s for s in resp.json()}


def test_closing_creates_prorated_statements(
    closed_may: TestClient, tokens: dict[str, str]
) -> None:
    """120 fen claimed against 101 left: 50.5 each, the odd fen to YTO (tie, carrier code
    ascending); Σ payable = 101 exactly; the budget is committed, nothing paid."""
    rows = _by_carrier(closed_may, tokens["finance"])
    assert set(rows) == {"YTO", "ZTO"}
    keys = ("eligible_parcels", "claimed_fen", "held_fen", "adjustment_fen", "payable_fen")
    assert [rows["YTO"][k] for k in keys] == [3, 60, 0, 0, 51]
    assert [rows["ZTO"][k] for k in keys] == [3, 60, 0, 0, 50]
    for s in rows.values():
        assert (s["prorated"], s["status"], s["month"]) == (True, "draft", "2023-05")
        assert s["budget_note"] == "prorated" and s["forfeited_fen"] == 60 - s["payable_fen"]
    budget = _budget(closed_may, tokens)
    assert {k: budget[k] for k in ("amount_fen", "committed_fen", "paid_fen", "remaining_fen")} == {
        "amount_fen": 101,
        "committed_fen": 101,
        "paid_fen": 0,
        "remaining_fen": 0,
    }
    below = closed_may.put(
        "/v1/budgets/2023",
        headers=bearer(tokens["finance"]),
        json={"amount_fen": 100, "document_no": "x"},
    )
    assert below.status_code == 409 and "committed" in below.json()["detail"]


def test_the_whole_lifecycle_with_two_finance_officers(
    closed_may: TestClient, tokens: dict[str, str], store: Store
) -> None:
    """Every allowed and refused move, the operator's view, reversal, and the budget after
    each step."""
    client = closed_may
    submitter = bearer(tokens["finance"])  # named "finance"
    same_person = finance(store, " FIN ance ")
    nameless = finance(store, None)
    approver = finance(store, "Wang Fang")
    zto = _by_carrier(client, tokens["finance"])["ZTO"]
    sid = zto["id"]

    def post(action: str, who: dict[str, str], body: dict[str, Any] | None = None) -> Any:
        return client.post(f"/v1/statements/{sid}/{action}", headers=who, json=body)

    pay_body = {"voucher_no": "V-2023-0601", "paid_on": "2023-06-20", "amount_fen": 50}
    # from draft: only submit, by a named finance officer
    assert post("approve", approver).status_code == 409
    assert post("pay", approver, pay_body).status_code == 409
    assert post("reverse", approver, {"reason": "x"}).status_code == 409
    assert post("submit", nameless).status_code == 409
    assert post("submit", bearer(tokens["operator"])).status_code == 403
    assert post("submit", bearer(tokens["auditor"])).status_code == 403
    submitted = post("submit", submitter)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_name"] == "finance"
    assert post("submit", submitter).status_code == 409
    # four eyes: the same person (case and spaces ignored) and a nameless token are refused
    refused = post("approve", same_person)
    assert refused.status_code == 409 and "four eyes" in refused.json()["detail"]
    assert post("approve", submitter).status_code == 409
    assert post("approve", nameless).status_code == 409
    assert post("pay", approver, pay_body).status_code == 409
    approved = post("approve", approver)
    assert approved.status_code == 200 and approved.json()["approved_name"] == "Wang Fang"
    assert _budget(client, tokens)["paid_fen"] == 0
    # pay: the amount must be the payable
    wrong = post("pay", approver, {**pay_body, "amount_fen": 60})
    assert wrong.status_code == 422 and "payable" in wrong.json()["detail"]
    assert post("reverse", approver, {"reason": "x"}).status_code == 409
    paid = post("pay", submitter, pay_body)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["voucher_no"]) == ("paid", "V-2023-0601")
    budget = _budget(client, tokens)
    assert (budget["committed_fen"], budget["paid_fen"], budget["remaining_fen"]) == (101, 50, 0)
    assert post("pay", submitter, pay_body).status_code == 409
    assert post("approve", approver).status_code == 409
    assert post("submit", submitter).status_code == 409
    # reverse: back to approved; un-pays, never un-commits
    assert post("reverse", approver, {"reason": ""}).status_code == 422
    reversed_ = post("reverse", approver, {"reason": "bank returned the transfer"})
    assert reversed_.status_code == 200 and reversed_.json()["status"] == "approved"
    assert reversed_.json()["voucher_no"] is None
    budget = _budget(client, tokens)
    assert (budget["committed_fen"], budget["paid_fen"], budget["remaining_fen"]) == (101, 0, 0)
    again = post("pay", approver, {**pay_body, "voucher_no": "V-2023-0602"})
    assert again.status_code == 200 and again.json()["status"] == "paid"
    assert _budget(client, tokens)["paid_fen"] == 50

    # the operator's view: its own statements only, read-only
    own = _by_carrier(client, tokens["operator"])
    assert list(own) == ["ZTO"] and own["ZTO"]["status"] == "paid"
    yto = _by_carrier(client, tokens["finance"])["YTO"]
    assert (
        client.get(f"/v1/statements/{yto['id']}", headers=bearer(tokens["operator"])).status_code
        == 404
    )
    mine = client.get(f"/v1/statements/{sid}", headers=bearer(tokens["operator"]))
    assert mine.status_code == 200
    assert [t["action"] for t in mine.json()["transitions"]] == [
        "create", "submit", "approve", "pay", "reverse", "pay",
    ]  # fmt: skip
    assert post("reverse", bearer(tokens["operator"]), {"reason": "x"}).status_code == 403
    assert client.get("/v1/statements/99999", headers=bearer(tokens["finance"])).status_code == 404

    # every move in the audit log, with who and before/after
    log = client.get("/v1/audit-log?action=statement", headers=bearer(tokens["auditor"])).json()
    mine_log = [x for x in log["items"] if x["target"] == f"statement:{sid}"]
    assert sorted(x["action"] for x in mine_log) == sorted(
        ["statement.create", "statement.submit", "statement.approve", "statement.pay",
         "statement.reverse", "statement.pay"]
    )  # fmt: skip
    rev = next(x for x in mine_log if x["action"] == "statement.reverse")
    assert rev["old_value"] == {"status": "paid"} and rev["new_value"]["status"] == "approved"
    assert "Wang Fang" in rev["actor"]


def test_program_and_budget_without_statements(client: TestClient, tokens: dict[str, str]) -> None:
    """A year without a budget: null amount and remaining; the program adds up to the fen."""
    empty = client.get("/v1/budgets/2030", headers=bearer(tokens["finance"])).json()
    assert (empty["amount_fen"], empty["committed_fen"], empty["remaining_fen"]) == (None, 0, None)
    assert (
        client.put(
            "/v1/budgets/2030",
            headers=bearer(tokens["operator"]),
            json={"amount_fen": 1, "document_no": "x"},
        ).status_code
        == 403
    )
    assert (
        client.put(
            "/v1/budgets/2030",
            headers=bearer(tokens["finance"]),
            json={"amount_fen": -1, "document_no": "x"},
        ).status_code
        == 422
    )
    prog = client.get("/v1/program?year=2030", headers=bearer(tokens["auditor"])).json()
    assert prog["budget_fen"] is None and prog["committed_fen"] == 0


def test_no_budget_pays_the_claim_and_payees_are_audited(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Without a budget the payable is the claim; an admin sets a payee (audited) and the
    approval fixes it on the statement."""
    path = write_parquet(tmp_path / "zto.parquet", may_rows())
    assert upload(client, tokens["operator"], path).status_code == 202
    payee = {
        "payee_name": "济阳中通快递有限公司",
        "bank": "中国农业银行济阳支行",
        "account_no": "6228 4800 1234 5678",
    }
    assert (
        client.put("/v1/carriers/ZTO", headers=bearer(tokens["finance"]), json=payee).status_code
        == 403
    )
    bad = client.put(
        "/v1/carriers/ZTO", headers=bearer(tokens["admin"]), json={**payee, "account_no": "abc"}
    )
    assert bad.status_code == 422
    assert (
        client.put("/v1/carriers/zto", headers=bearer(tokens["admin"]), json=payee).status_code
        == 200
    )
    listed = client.get("/v1/carriers", headers=bearer(tokens["finance"])).json()
    assert next(c for c in listed if c["carrier"] == "ZTO")["payee_name"] == payee["payee_name"]
    log = client.get("/v1/audit-log?action=carrier", headers=bearer(tokens["auditor"])).json()
    assert [x["new_value"]["account_no"] for x in log["items"]] == [payee["account_no"]]
    assert (
        client.post("/v1/months/2023-05/close", headers=bearer(tokens["finance"])).status_code
        == 201
    )
    [s] = client.get("/v1/statements?month=2023-05", headers=bearer(tokens["finance"])).json()
    assert (s["payable_fen"], s["prorated"], s["budget_note"]) == (60, False, "no_budget")

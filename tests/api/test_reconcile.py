"""Reconciliation of the bank's file (SPEC §11): one result per row; only good rows change."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from core.store import Store
from tests.api.conftest import bearer
from tests.api.test_statements import closed_may, finance

__all__ = ["closed_may"]  # the fixture, used by name

HEADER = ["statement_id", "carrier", "month", "voucher_no", "paid_on", "amount_fen"]


def _csv(rows: list[list[Any]]) -> bytes:
    lines = [",".join(HEADER)] + [",".join(str(v) for v in r) for r in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("make", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_each_row_result_and_only_good_rows_change(
    closed_may: TestClient, tokens: dict[str, str], store: Store, make: Any
) -> None:
    """ZTO (50 fen) approved, YTO (51 fen) still draft: a file with a mismatch, an unapproved
    statement, unknown statements, unreadable rows, one good row and its repeat pays ZTO only,
    once; YTO and the budget's paid figure change by nothing else."""
    client = closed_may
    fin = bearer(tokens["finance"])
    rows = {s["carrier"]: s for s in client.get("/v1/statements?month=2023-05", headers=fin).json()}
    zto, yto = rows["ZTO"]["id"], rows["YTO"]["id"]
    assert client.post(f"/v1/statements/{zto}/submit", headers=fin).status_code == 200
    other = finance(store, "Wang Fang")
    assert client.post(f"/v1/statements/{zto}/approve", headers=other).status_code == 200
    bank = [
        [zto, "", "", "B-1", "2023-06-20", 49],
        [yto, "", "", "B-2", "2023-06-20", 51],
        [99999, "", "", "B-3", "2023-06-20", 50],
        ["", "ACME", "2023-05", "B-4", "2023-06-20", 50],
        ["abc", "", "", "B-5", "2023-06-20", 50],
        [zto, "", "", "B-6", "2023-13-01", 50],
        [zto, "", "", "", "2023-06-20", 50],
        [zto, "", "", "B-8", "2023-06-20", "1.5"],
        ["", "zto", "2023-05", "B-9", "2023-06-20", 50],
        [zto, "", "", "B-10", "2023-06-20", 50],
    ]
    resp = client.post(
        "/v1/statements/reconcile",
        headers=fin,
        files={"file": ("bank." + make.__name__[1:], make(bank), "application/octet-stream")},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [r["result"] for r in body["rows"]] == [
        "amount_mismatch",
        "not_approved",
        "unknown_statement",
        "unknown_statement",
        "invalid_row",
        "invalid_row",
        "invalid_row",
        "invalid_row",
        "paid",
        "already_paid",
    ]
    assert [r["row"] for r in body["rows"]] == list(range(1, 11))
    assert body["counts"] == {
        "paid": 1,
        "already_paid": 1,
        "amount_mismatch": 1,
        "not_approved": 1,
        "unknown_statement": 2,
        "invalid_row": 4,
    }
    after = {
        s["carrier"]: s for s in client.get("/v1/statements?month=2023-05", headers=fin).json()
    }
    assert (after["ZTO"]["status"], after["ZTO"]["voucher_no"]) == ("paid", "B-9")
    assert after["YTO"]["status"] == "draft"
    budget = client.get("/v1/budgets/2023", headers=fin).json()
    assert (budget["paid_fen"], budget["committed_fen"]) == (50, 101)
    log = client.get("/v1/audit-log?action=statement.reconciled", headers=fin).json()
    assert len(log["items"]) == 10


def test_refused_files_and_callers(closed_may: TestClient, tokens: dict[str, str]) -> None:
    """A file without the needed header, or not CSV/XLSX, is 422; only finance reconciles."""
    fin = bearer(tokens["finance"])
    for content in (b"a,b\r\n1,2\r\n", b"\xff\xfe\x00garbage", b""):
        resp = client_post(closed_may, fin, content)
        assert resp.status_code == 422, content
    assert client_post(closed_may, bearer(tokens["auditor"]), _csv([])).status_code == 403
    assert client_post(closed_may, fin, _csv([])).json()["rows"] == []


def client_post(client: TestClient, headers: dict[str, str], content: bytes) -> Any:
    return client.post(
        "/v1/statements/reconcile", headers=headers, files={"file": ("bank.csv", content)}
    )

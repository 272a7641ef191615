"""Settlement in the console (SPEC §11): the finance home page, the statement pages with the
moves each role may make (four eyes), the payment list and PDF downloads, the reconciliation
upload with its per-row results, and the operator's read-only view of its own statements."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.conftest import MONTH, Seeded, form_csrf, sign_in


def _close(client: TestClient, seeded: Seeded) -> dict[str, int]:
    """Close May 2023 through the API; the statement id per carrier."""
    fin = {"Authorization": f"Bearer {seeded.tokens['finance']}"}
    assert client.post(f"/v1/months/{MONTH}/close", headers=fin).status_code == 201
    rows = client.get(f"/v1/statements?month={MONTH}", headers=fin).json()
    return {s["carrier"]: s["id"] for s in rows}


def test_finance_sets_the_budget_and_moves_a_statement_with_a_second_person(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    home = client.get("/console/finance?year=2023")
    assert home.status_code == 200 and "补贴资金总览" in home.text and "未设定" in home.text
    assert 'id="jobs-table"' in home.text
    saved = client.post(
        "/console/finance/budget",
        data={
            "year": "2023",
            "amount_yuan": "1,000.00",
            "document_no": "济财预〔2023〕8号",
            "csrf": csrf,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    ids = _close(client, seeded)
    home = client.get("/console/finance?year=2023").text
    assert "1,000.00" in home and 'id="waiting"' in home
    listing = client.get(f"/console/statements?month={MONTH}").text
    assert set(re.findall(r'data-statement="(\d+)"', listing)) == {str(i) for i in ids.values()}
    zto = ids["ZTO"]
    page = client.get(f"/console/statements/{zto}").text
    assert 'id="statement-submit"' in page and 'id="capitals"' in page
    answer = client.post(
        f"/console/statements/{zto}/submit", data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    same = client.post(f"/console/statements/{zto}/approve", data={"csrf": csrf})
    assert same.status_code == 409 and "双人复核" in same.text

    csrf = sign_in(client, seeded.tokens["approver"])
    page = client.get(f"/console/statements/{zto}").text
    assert "双人复核" in page
    assert (
        client.post(
            f"/console/statements/{zto}/approve", data={"csrf": csrf}, follow_redirects=False
        ).status_code
        == 303
    )
    payable = client.get(
        f"/v1/statements/{zto}", headers={"Authorization": f"Bearer {seeded.tokens['finance']}"}
    ).json()["payable_fen"]
    wrong = client.post(
        f"/console/statements/{zto}/pay",
        data={"csrf": csrf, "voucher_no": "V1", "paid_on": "2023-06-20", "amount_yuan": "0.01"},
    )
    assert wrong.status_code == 422
    paid = client.post(
        f"/console/statements/{zto}/pay",
        data={
            "csrf": csrf,
            "voucher_no": "V1",
            "paid_on": "2023-06-20",
            "amount_yuan": f"{payable / 100:.2f}",
        },
        follow_redirects=False,
    )
    assert paid.status_code == 303
    page = client.get(f"/console/statements/{zto}").text
    assert 'data-status="paid"' in page and 'id="statement-reverse"' in page
    pdf = client.get(f"/console/statements/{zto}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = client.get(f"/console/statements/payment-list?month={MONTH}")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    bank = (
        "statement_id,voucher_no,paid_on,amount_fen\r\n"
        f"{zto},V2,2023-06-21,{payable}\r\n{ids['YTO']},V3,2023-06-21,1\r\n"
    )
    result = client.post(
        "/console/reconcile",
        data={"csrf": csrf},
        files={"file": ("bank.csv", bank.encode(), "text/csv")},
    )
    assert result.status_code == 200
    assert re.findall(r'data-result="(\w+)"', result.text) == ["already_paid", "not_approved"]


def test_an_operator_reads_its_own_statements_only(client: TestClient, seeded: Seeded) -> None:
    ids = _close(client, seeded)
    csrf = sign_in(client, seeded.tokens["operator"])
    listing = client.get("/console/statements").text
    assert re.findall(r'data-statement="(\d+)"', listing) == [str(ids["ZTO"])]
    page = client.get(f"/console/statements/{ids['ZTO']}").text
    assert 'id="statement-submit"' not in page and 'id="statement-pdf"' in page
    assert client.get(f"/console/statements/{ids['YTO']}").status_code == 404
    assert client.get(f"/console/statements/{ids['YTO']}/pdf").status_code == 404
    assert (
        client.post(f"/console/statements/{ids['ZTO']}/submit", data={"csrf": csrf}).status_code
        == 403
    )
    assert client.get("/console/finance").status_code == 403
    assert client.get(f"/console/statements/payment-list?month={MONTH}").status_code == 403
    assert form_csrf(listing)

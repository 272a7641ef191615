"""GET /v1/reports/monthly (JSON, CSV, XLSX), the summary, and GET /v1/parcels."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from core.policy import Policy
from core.store import Store
from subsidy.awards import record_award
from subsidy.exports import report_csv, report_json, report_xlsx
from subsidy.report import monthly_report, served_report
from tests.api.conftest import bearer, may_rows, upload
from tests.factories import cst, parcel, write_parquet

MAY = "/v1/reports/monthly?month=2023-05&as_of=2023-07-01T00:00:00%2B08:00"


@pytest.fixture
def filled(client: TestClient, store: Store, policy: Policy, tokens: dict[str, str],
           tmp_path: Path) -> TestClient:  # fmt: skip
    """ZTO and YTO May exports, a June ZTO export, and an award on the district center
    accredited in May (so May's program total counts it, SPEC §7)."""
    june = parcel("ZT900001", cst(2023, 6, 2, 9)) + parcel("ZT900002", cst(2023, 6, 3, 9))
    for token, name, rows in (
        ("operator", "zto-05.parquet", may_rows()),
        ("other_operator", "yto-05.parquet", may_rows("YTO", "YT")),
        ("operator", "zto-06.parquet", june),
    ):
        resp = upload(client, tokens[token], write_parquet(tmp_path / name, rows))
        assert resp.status_code == 202
    record_award(
        store,
        policy,
        site_code="JY-C01",
        accredited_on=cst(2023, 5, 5).date(),
        document_no="济阳商务〔2023〕1号",
        award_fen=50_000_000,
        actor="tests",
        today=cst(2024, 1, 1).date(),
    )
    return client


def test_json_report_is_the_domain_report(
    filled: TestClient, store: Store, policy: Policy, tokens: dict[str, str]
) -> None:
    """The SPEC §8 fields of the API's report are exactly subsidy.report.monthly_report's."""
    api = filled.get(MAY, headers=bearer(tokens["finance"])).json()
    domain = monthly_report(store, policy, "2023-05", cst(2023, 7, 1)).model_dump(mode="json")
    for key in domain:
        assert api[key] == domain[key], key
    assert [r["eligible_parcels"] for r in api["carriers"]] == [3, 3]
    assert api["totals"]["subsidy_fen"] == 6 * 20
    assert api["program_total_fen"] == 120 + 50_000_000
    assert api["prior_period_adjustments"] == [] and api["closed"] is None


@pytest.mark.parametrize("caller", ["finance", "operator"])
def test_every_rendering_is_of_the_one_served_report(
    filled: TestClient, store: Store, policy: Policy, tokens: dict[str, str], caller: str
) -> None:
    """The API's JSON, CSV and XLSX are exactly subsidy.exports' renderings of
    subsidy.report.served_report's model (the operator's: its carrier's view)."""
    carrier = "ZTO" if caller == "operator" else None
    served = served_report(store, policy, "2023-05", cst(2023, 7, 1), carrier=carrier)
    for fmt, render in (("json", report_json), ("csv", report_csv), ("xlsx", report_xlsx)):
        answer = filled.get(f"{MAY}&format={fmt}", headers=bearer(tokens[caller]))
        assert answer.status_code == 200, answer.text
        assert answer.content == render(served), fmt


def test_csv_report_matches_the_json(filled: TestClient, tokens: dict[str, str]) -> None:
    """The CSV has a line per carrier, the total and the award, with the JSON's figures."""
    doc = filled.get(MAY, headers=bearer(tokens["finance"])).json()
    resp = filled.get(MAY + "&format=csv", headers=bearer(tokens["finance"]))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert 'filename="subsidy-2023-05.csv"' in resp.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(resp.text)))
    by_section = {(r["section"], r["carrier"] or r["site_code"]): r for r in lines}
    for row in doc["carriers"]:
        line = by_section[("carrier", row["carrier"])]
        assert int(line["subsidy_fen"]) == row["subsidy_fen"]
        assert int(line["no_hub_arrival"]) == row["ineligible"]["no_hub_arrival"]
    assert int(by_section[("total", "")]["subsidy_fen"]) == doc["totals"]["subsidy_fen"]
    assert int(by_section[("center_award", "JY-C01")]["subsidy_fen"]) == 50_000_000
    assert int(by_section[("program_total", "")]["subsidy_fen"]) == doc["program_total_fen"]


def _xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return list(book.active.iter_rows(values_only=True))


def test_xlsx_opens_and_its_totals_equal_the_json(
    filled: TestClient, tokens: dict[str, str]
) -> None:
    """The workbook opens with openpyxl; headers are Chinese and English; the totals row,
    the award beside and the program total equal the JSON's figures, yuan formatted."""
    doc = filled.get(MAY, headers=bearer(tokens["finance"])).json()
    resp = filled.get(MAY + "&format=xlsx", headers=bearer(tokens["finance"]))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = _xlsx_rows(resp.content)
    zh = next(r for r in rows if r[0] == "快递公司代码")
    en = rows[rows.index(zh) + 1]
    assert en[:3] == ("Carrier", "Carrier name", "Eligible parcels")
    assert "补贴金额(元)" in zh and "Subsidy (yuan)" in en
    total = next(r for r in rows if r[0] == "合计 Total")
    eligible, yuan, fen = total[2], total[4], total[5]
    assert eligible == doc["totals"]["eligible_parcels"]
    assert fen == doc["totals"]["subsidy_fen"]
    assert Decimal(str(yuan)).quantize(Decimal("0.01")) == Decimal(doc["totals"]["subsidy_yuan"])
    carriers = [r for r in rows[rows.index(en) + 1 : rows.index(total)]]
    assert [r[0] for r in carriers] == [c["carrier"] for c in doc["carriers"]]
    assert sum(r[5] for r in carriers) == fen
    award = next(r for r in rows if "JY-C01" in r)
    assert award[award.index("JY-C01") + 6] == 50_000_000
    program = next(r for r in rows if any(isinstance(v, str) and "Program total" in v for v in r))
    assert program[-1] == doc["program_total_fen"]
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    sheet = book.active
    total_row = next(c.row for c in sheet["A"] if c.value == "合计 Total")
    assert sheet.cell(row=total_row, column=5).number_format == "#,##0.00"


def test_operator_xlsx_and_csv_hold_only_its_carrier(
    filled: TestClient, tokens: dict[str, str]
) -> None:
    """An operator's downloads hold its own row, no other carrier, no award."""
    rows = _xlsx_rows(filled.get(MAY + "&format=xlsx", headers=bearer(tokens["operator"])).content)
    cells = {v for r in rows for v in r if isinstance(v, str)}
    assert "ZTO" in cells and "YTO" not in cells and "JY-C01" not in cells
    text = filled.get(MAY + "&format=csv", headers=bearer(tokens["operator"])).text
    assert "YTO" not in text and "center_award" not in text


@pytest.mark.parametrize(
    ("query", "words"),
    [
        pytest.param("month=2023-13", "not a month: '2023-13'", id="month-13"),
        pytest.param("month=2023-5", "expected YYYY-MM", id="one-digit-month"),
        pytest.param("month=May", "expected YYYY-MM", id="word"),
        pytest.param("month=２０２３-05", "in ASCII digits", id="full-width-month"),
        pytest.param("month=٢٠٢٣-05", "in ASCII digits", id="arabic-indic-month"),
        pytest.param("month=2023-05&as_of=２０２３-06-10", "not an ISO", id="full-width-as-of"),
        pytest.param("month=2023-05&as_of=", "not an ISO", id="empty-as-of"),
        pytest.param("month=2023-05&as_of=yesterday", "not an ISO 8601 time", id="bad-as-of"),
        pytest.param("month=2023-05&format=pdf", "format", id="bad-format"),
        pytest.param("", "month", id="no-month"),
        pytest.param("month=2023-05&as_of=1969-12-31", "before 1971", id="as-of-before-1971"),
        pytest.param(
            "month=2023-05&as_of=0001-01-01T00:00:00%2B14:00", "before 1971", id="as-of-year-1"
        ),
    ],
)
def test_bad_report_parameters_are_422_with_a_readable_detail(
    client: TestClient, tokens: dict[str, str], query: str, words: str
) -> None:
    """Bad parameters answer 422 in the one error shape, saying what is wrong."""
    resp = client.get(f"/v1/reports/monthly?{query}", headers=bearer(tokens["finance"]))
    assert resp.status_code == 422
    body = resp.json()
    assert set(body) <= {"detail", "code", "errors"}
    assert words in body["detail"], body["detail"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        pytest.param("month=2099-01", "has not begun yet", id="future-month"),
        pytest.param("month=2023-05&as_of=2099-12-31", "lies in the future", id="future-as-of"),
    ],
)
def test_figures_of_a_time_to_come_are_409(
    client: TestClient, tokens: dict[str, str], query: str, words: str
) -> None:
    """A well-formed month or as_of that lies ahead is no bad request but one made too early:
    409, saying so."""
    resp = client.get(f"/v1/reports/monthly?{query}", headers=bearer(tokens["finance"]))
    assert resp.status_code == 409 and resp.json()["code"] == "conflict"
    assert words in resp.json()["detail"], resp.json()["detail"]


def test_summary_adds_up_the_months(filled: TestClient, tokens: dict[str, str]) -> None:
    """The summary of April-June is, per carrier, the sum of the three monthly reports; the
    award counts once."""
    as_of = "as_of=2023-07-01T00:00:00%2B08:00"
    summary = filled.get(
        f"/v1/reports/summary?from=2023-04&to=2023-06&{as_of}", headers=bearer(tokens["finance"])
    ).json()
    months = [
        filled.get(
            f"/v1/reports/monthly?month={m}&{as_of}", headers=bearer(tokens["finance"])
        ).json()
        for m in ("2023-04", "2023-05", "2023-06")
    ]
    for carrier in ("ZTO", "YTO"):
        expected = sum(
            r["subsidy_fen"] for m in months for r in m["carriers"] if r["carrier"] == carrier
        )
        row = next(r for r in summary["carriers"] if r["carrier"] == carrier)
        assert row["subsidy_fen"] == expected
    assert summary["totals"]["subsidy_fen"] == sum(m["totals"]["subsidy_fen"] for m in months)
    assert [m["month"] for m in summary["months"]] == ["2023-04", "2023-05", "2023-06"]
    assert summary["program_total_fen"] == summary["totals"]["subsidy_fen"] + 50_000_000
    assert summary["from"] == "2023-04"


def test_summary_range_errors(client: TestClient, tokens: dict[str, str]) -> None:
    """from after to, or more than ten years, are 422."""
    for query in ("from=2023-06&to=2023-01", "from=2001-01&to=2023-01", "from=2023-01"):
        resp = client.get(f"/v1/reports/summary?{query}", headers=bearer(tokens["finance"]))
        assert resp.status_code == 422, query


def test_parcel_explanation_names_the_deciding_scans(
    filled: TestClient, tokens: dict[str, str]
) -> None:
    """A parcel's status, its departure and arrival, and the scans marked that decided it."""
    resp = filled.get(
        "/v1/parcels/zto/ZT100000?as_of=2023-07-01", headers=bearer(tokens["operator"])
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "eligible" and body["carrier"] == "ZTO"
    assert body["departure"]["site_code"] == "JY-C01"
    assert [s["decides"] for s in body["scans"]] == [None, "departure", "arrival"]
    late = filled.get("/v1/parcels/ZTO/ZT200000", headers=bearer(tokens["auditor"])).json()
    assert (late["status"], late["reason"]) == ("ineligible", "late_hub_arrival")
    missing = filled.get("/v1/parcels/ZTO/NOPE000001", headers=bearer(tokens["auditor"]))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    unknown = filled.get("/v1/parcels/ACME/ZT100000", headers=bearer(tokens["auditor"]))
    assert unknown.status_code == 404

"""JSON, CSV and XLSX renderings of a report (subsidy.exports)."""

from __future__ import annotations

import copy
import csv
import io
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from core.policy import Policy
from core.store import Store
from ingest.ledger import iter_rejects
from subsidy.awards import record_award
from subsidy.exports import CSV_COLUMNS, rejects_csv, report_csv, report_xlsx
from subsidy.models import MonthlyReport
from subsidy.report import served_report
from tests.factories import CENTER, LATE_CENTER, SITES, cst, ingest_rows, make_store, scan

_ZERO = {"no_hub_arrival": 0, "late_hub_arrival": 0, "outside_policy_window": 0}


def _row(carrier: str, eligible: int, **extra: Any) -> dict[str, Any]:
    fen = eligible * 20
    return {
        "carrier": carrier,
        "carrier_name": {"ZTO": "中通", "YTO": "圆通"}[carrier],
        "eligible_parcels": eligible,
        "rate_fen": 20,
        "rates_fen": [20],
        "subsidy_fen": fen,
        "subsidy_yuan": f"{fen // 100}.{fen % 100:02d}",
        "pending_parcels": 1,
        "ineligible": {**_ZERO, "no_hub_arrival": 2},
        **extra,
    }


def _doc(**change: Any) -> dict[str, Any]:
    carriers = [_row("YTO", 12_345), _row("ZTO", 7)]
    totals = {
        "eligible_parcels": 12_352,
        "subsidy_fen": 247_040,
        "subsidy_yuan": "2470.40",
        "pending_parcels": 2,
        "ineligible": {**_ZERO, "no_hub_arrival": 4},
    }
    adjustment = {**_row("ZTO", -1), "period": "2023-04", "subsidy_yuan": "-0.20"}
    adjustment["subsidy_fen"] = -20
    del adjustment["rate_fen"], adjustment["rates_fen"]  # an adjustment has no rate
    doc = {
        "month": "2023-05",
        "as_of": "2023-06-10T09:30:00+08:00",
        "policy": "济阳政字〔2021〕80号 第4条",
        "carriers": carriers,
        "totals": totals,
        "center_awards": [
            {
                "site_code": "JY-C01",
                "site_name": "济阳区级配送中心",
                "accredited_on": "2023-01-05",
                "document_no": "济阳商务〔2023〕1号",
                "award_fen": 50_000_000,
                "award_yuan": "500000.00",
                "status": "approved",
            }
        ],
        "program_total_fen": 247_040 - 20 + 50_000_000,
        "program_total_yuan": "502470.20",
        "prior_period_adjustments": [adjustment],
        "adjustments_total": {**totals, "subsidy_fen": -20, "subsidy_yuan": "-0.20"},
        "closed": None,
    }
    return doc | change


def _report(doc: dict[str, Any] | None = None, **change: Any) -> MonthlyReport:
    return MonthlyReport.model_validate(doc if doc is not None else _doc(**change))


def test_csv_has_one_line_per_carrier_total_adjustment_award_and_program_total() -> None:
    """Sections are told apart by the first column; money in fen and yuan, signs kept."""
    lines = list(csv.DictReader(io.StringIO(report_csv(_report()).decode("utf-8"))))
    assert [line["section"] for line in lines] == [
        "carrier",
        "carrier",
        "total",
        "adjustment",
        "center_award",
        "program_total",
    ]
    assert list(lines[0]) == list(CSV_COLUMNS)
    assert (lines[0]["carrier_name"], lines[0]["subsidy_fen"]) == ("圆通", "246900")
    assert (lines[3]["period"], lines[3]["subsidy_yuan"]) == ("2023-04", "-0.20")
    assert (lines[4]["site_code"], lines[4]["status"], lines[4]["subsidy_fen"]) == (
        "JY-C01",
        "approved",
        "50000000",
    )
    assert lines[5]["subsidy_fen"] == str(_doc()["program_total_fen"])


def test_csv_of_an_operator_view_has_no_program_total() -> None:
    """A view without a program total (an operator's) writes no program_total line."""
    text = report_csv(
        _report(program_total_fen=None, program_total_yuan=None, center_awards=[])
    ).decode()
    assert "program_total" not in text.split("\n", 1)[1] and "center_award" not in text


def _sheet(doc: dict[str, Any]) -> Any:
    return openpyxl.load_workbook(io.BytesIO(report_xlsx(_report(doc)))).active


def test_xlsx_totals_and_yuan_are_exact() -> None:
    """The totals row holds the document's totals; yuan cells are exact decimals formatted
    with thousands separators, beside the fen."""
    sheet = _sheet(_doc())
    total = next(r for r in sheet.iter_rows() if r[0].value == "合计 Total")
    assert total[2].value == 12_352 and total[5].value == 247_040
    assert Decimal(str(total[4].value)) == Decimal("2470.40")
    assert total[4].number_format == "#,##0.00"
    raw = zipfile.ZipFile(io.BytesIO(report_xlsx(_report()))).read("xl/worksheets/sheet1.xml")
    assert b"<v>2470.4</v>" in raw and b"<v>502470.2</v>" in raw  # decimal text, exact


def test_xlsx_shows_award_and_program_total_beside_the_carriers() -> None:
    """The award block starts on the carriers' header row, to their right."""
    sheet = _sheet(_doc())
    head = next(r for r in sheet.iter_rows() if r[0].value == "快递公司代码")
    values = [c.value for c in head]
    assert "网点编码" in values and values.index("网点编码") > values.index("补贴金额(分)")
    cells = [c.value for r in sheet.iter_rows() for c in r]
    assert "JY-C01" in cells and "已审批 approved" in cells
    assert _doc()["program_total_fen"] in cells
    assert "2023-04" in cells  # the adjustment's period


def test_xlsx_is_a_function_of_the_document_alone() -> None:
    """Every time inside the file is the report's as_of, never the clock, so the same
    document always gives the same bytes."""
    data = report_xlsx(_report())
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert {i.date_time for i in archive.infolist()} == {(2023, 6, 10, 9, 30, 0)}
    core = archive.read("docProps/core.xml").decode()
    assert "2023-06-10T01:30:00Z" in core
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    assert stamp not in core
    assert report_xlsx(_report(copy.deepcopy(_doc()))) == data


def test_xlsx_of_a_closed_month_says_so() -> None:
    """A closed month's workbook names who closed it and the store version."""
    closed = {
        "closed_at": "2023-06-10T09:30:00+08:00",
        "closed_by": "finance (token 2)",
        "store_version": 17,
        "policy_digest": "ab" * 32,
    }
    cells = [c.value for r in _sheet(_doc(closed=closed)).iter_rows() for c in r]
    assert any(isinstance(v, str) and "finance (token 2)" in v and "17" in v for v in cells)


def test_rejects_csv_keeps_values_as_read() -> None:
    """Rejected rows come out with their row number, reason and raw text, header first."""
    rows = [{"row_no": 3, "reason": "bad_waybill", "waybill_no": "a,b", "scan_type": "发件"}]
    text = b"".join(rejects_csv(rows)).decode()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0]["waybill_no"] == "a,b" and parsed[0]["scan_type"] == "发件"
    assert parsed[0]["site_code"] == ""


def test_uploaded_text_never_becomes_a_formula_in_excel() -> None:
    """A cell an operator wrote like a formula is shown as text in the rejects CSV and in
    the workbook (a site name from the registry, too)."""
    rows = [{"row_no": 1, "reason": "bad_waybill", "waybill_no": '=HYPERLINK("http://x")'}]
    rows.append({"row_no": 2, "reason": "missing_field", "site_code": "@SUM(A1)"})
    text = b"".join(rejects_csv(rows)).decode()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0]["waybill_no"] == '\'=HYPERLINK("http://x")'
    assert parsed[1]["site_code"] == "'@SUM(A1)"
    doc = _doc()
    doc["center_awards"][0]["site_name"] = "=1+1"
    cells = [c for r in _sheet(doc).iter_rows() for c in r]
    assert not any(c.data_type == "f" for c in cells)
    assert "'=1+1" in [c.value for c in cells]


FORMULAS = ('=HYPERLINK("http://x","y")', "@SUM(1)", "+1+2", "-3+4", "\tcmd", "\rcmd")


def _formula_free(cells: list[Any]) -> None:
    assert not [c.coordinate for c in cells if c.data_type == "f"]


def test_sites_named_like_formulas_are_text_on_the_award_lines(
    tmp_path: Path, policy: Policy
) -> None:
    """Centers registered as ``=HYPERLINK(...)`` and ``@SUM(1)``, with awards: the served
    report's CSV and XLSX award lines show the names (and a document number) as text."""
    sites = [dict(s) for s in SITES]
    sites[0]["name"], sites[1]["name"] = FORMULAS[0], FORMULAS[1]
    store = make_store(tmp_path / "data", sites)
    for code, document in ((CENTER, "济阳商务〔2023〕1号"), (LATE_CENTER, "=1+2")):
        record_award(
            store,
            policy,
            site_code=code,
            accredited_on=date(2023, 6, 2),
            document_no=document,
            award_fen=100,
            actor="finance",
            today=date(2023, 7, 1),
        )
    report = served_report(store, policy, "2023-06", cst(2023, 7, 1))
    lines = list(csv.DictReader(io.StringIO(report_csv(report).decode("utf-8"))))
    awards = [line for line in lines if line["section"] == "center_award"]
    assert [(a["site_code"], a["carrier_name"]) for a in awards] == [
        (CENTER, "'" + FORMULAS[0]),
        (LATE_CENTER, "'" + FORMULAS[1]),
    ]
    cells = [c for r in _sheet(report.model_dump(mode="json")).iter_rows() for c in r]
    _formula_free(cells)
    values = [c.value for c in cells]
    assert {"'" + FORMULAS[0], "'" + FORMULAS[1], "'=1+2"} <= set(values)


def test_uploaded_cells_like_formulas_are_text_in_the_rejects_csv(
    store: Store, policy: Policy
) -> None:
    """Rows rejected from an upload keep their values, each formula-like one as text."""
    rows = [scan(text, "depart", CENTER, cst(2023, 5, 3, 10)) for text in FORMULAS]
    rows.append(scan("ZT7000000001", "=1+1", "@A1", cst(2023, 5, 3, 10)))
    # as many good rows again, so that the file is not refused as mostly rejected (SPEC §3a)
    rows += [scan(f"ZT71000000{i:02d}", "depart", CENTER, cst(2023, 5, 3, 10)) for i in range(8)]
    upload = ingest_rows(store, rows, name="formulas.parquet")
    text = b"".join(rejects_csv(iter_rejects(store, upload.id))).decode("utf-8")
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["waybill_no"] for r in parsed] == [
        *("'" + f for f in FORMULAS),
        "ZT7000000001",
    ]
    assert (parsed[-1]["scan_type"], parsed[-1]["site_code"]) == ("'=1+1", "'@A1")


def test_money_and_counts_stay_numbers_even_when_negative() -> None:
    """A negative adjustment is a number, never escaped as text: the rule is for text cells."""
    lines = list(csv.DictReader(io.StringIO(report_csv(_report()).decode("utf-8"))))
    adjustment = next(line for line in lines if line["section"] == "adjustment")
    assert (adjustment["subsidy_fen"], adjustment["subsidy_yuan"]) == ("-20", "-0.20")
    assert adjustment["eligible_parcels"] == "-1"
    sheet = _sheet(_doc())
    row = next(r for r in sheet.iter_rows() if r[3].value == "2023-04")
    assert row[5].value == -20 and Decimal(str(row[4].value)) == Decimal("-0.20")


def test_xlsx_says_as_of_in_beijing_time_to_the_second() -> None:
    """Paper shows ``2023-06-10 09:30:00 (北京时间 UTC+8)``, never raw ISO with microseconds."""
    sheet = _sheet(_doc(as_of="2023-06-10T01:30:00.123456+00:00"))
    line = str(sheet.cell(row=3, column=1).value)
    assert "2023-06-10 09:30:00 (北京时间 UTC+8)" in line and ".123456" not in line


def test_xlsx_is_set_up_for_a4_landscape_one_page_wide() -> None:
    sheet = _sheet(_doc())
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == "$6:$7"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is installed by .ci/run")
def test_xlsx_prints_on_one_a4_landscape_page_with_every_column(tmp_path: Path) -> None:
    """LibreOffice prints it: one A4 landscape page, the policy line and every header whole."""
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(report_xlsx(_report()))
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(xlsx)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    assert "Pages:           1" in info.stdout
    assert re.search(r"Page size:\s+841(\.\d+)? x 595(\.\d+)? pts", info.stdout), info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    for words in ("政策期外", "Outside policy", "奖励金额(分)", "Award (fen)", "第4条", "UTC+8"):
        assert words in text.replace("\n", " ") or words in text, words

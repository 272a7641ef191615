"""End to end in headless Chromium against a live ``parcel-subsidy serve``: operators upload and
look up parcels, finance reads, downloads and closes a month, auditors read; every main page is
saved as a screenshot under ``results/screenshots/``.

The tests of this module run in order against one server (the close comes after the reads).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from openpyxl import load_workbook

from tests.console.conftest import MONTH, YTO_PARCEL, ZTO_PARCEL, Live, Tab, june_rows
from tests.console.pages import api_row
from tests.factories import write_parquet

PHONE = 390


def cell_values(tab: Tab, selector: str) -> dict[str, dict[str, int | None]]:
    """``{carrier: {field: value}}`` of a figures table, from its cells' ``data-value``."""
    rows = tab.page.eval_on_selector_all(
        f"{selector} tr[data-carrier]",
        """rows => rows.map(r => [r.dataset.carrier, Object.fromEntries(
            [...r.querySelectorAll('[data-field]')]
              .map(c => [c.dataset.field, c.dataset.value]))])""",
    )
    return {
        carrier: {k: (int(v) if v not in ("", None) else None) for k, v in fields.items()}
        for carrier, fields in rows
    }


def test_operator_uploads_a_file_and_sees_it_ingested_with_its_rejects(
    tab: Tab, live: Live, tmp_path: Path
) -> None:
    """Sign in, upload with the progress bar, confirm the preview, land on the upload:
    ingested, 2 rows rejected."""
    tab.sign_in("operator")
    assert tab.page.url.endswith("/console/uploads")
    tab.shot("operator-uploads-before")
    export = write_parquet(tmp_path / "中通-2023-06.parquet", june_rows())
    tab.page.get_by_label(re.compile("文件")).set_input_files(str(export))
    with tab.page.expect_navigation(url=re.compile(r"/console/uploads/preview/")):
        tab.page.get_by_role("button", name="上传并预览").click()  # the preview first
    with tab.page.expect_navigation(url=re.compile(r"/console/uploads/\d+$")):
        tab.page.get_by_role("button", name="确认入库").click()
    tab.page.wait_for_selector("#upload-state[data-status='ingested']")
    upload_id = int(tab.page.url.rsplit("/", 1)[1])

    with live.api("operator") as api:
        stats = api.get(f"/v1/uploads/{upload_id}").json()
    assert stats["status"] == "ingested"
    assert stats["rejected_by_reason"] == {"bad_waybill": 1, "unknown_scan_type": 1}
    shown = tab.page.eval_on_selector_all(
        "#upload-stats [data-field]", "els => els.map(e => [e.dataset.field, +e.dataset.value])"
    )
    assert dict(shown) == {k: stats[k] for k in ("rows_read", "accepted", "rejected", "duplicates")}
    reasons = tab.page.eval_on_selector_all(
        "#rejects-table tbody tr", "rows => rows.map(r => [+r.dataset.row, r.dataset.reason])"
    )
    assert reasons == [[10, "bad_waybill"], [11, "unknown_scan_type"]]
    tab.shot("operator-upload-detail")
    tab.shot("operator-upload-detail-phone", width=PHONE)

    with tab.page.expect_download() as download:
        tab.page.click("#rejects-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert [(r["row_no"], r["reason"], r["waybill_no"]) for r in rows] == [
        ("10", "bad_waybill", "bad!"),
        ("11", "unknown_scan_type", "ZT2306X9"),
    ]

    tab.open("/console/uploads")
    listed = tab.page.eval_on_selector_all(
        "#uploads-table tbody tr", "rows => rows.map(r => [+r.dataset.upload, r.dataset.status])"
    )
    assert [upload_id, "ingested"] in listed
    assert all(u != live.seeded.uploads["YTO"] for u, _ in listed)
    tab.shot("operator-uploads")
    tab.shot("operator-uploads-phone", width=PHONE)


def test_operator_looks_up_a_parcel_and_sees_its_scans_as_a_timeline(tab: Tab) -> None:
    """Status, reason, and the departure and arrival scans marked in the timeline."""
    tab.sign_in("operator")
    tab.open("/console/parcels")
    tab.page.get_by_label("运单号").fill(ZTO_PARCEL)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="查询").click()
    assert tab.page.get_attribute("#parcel", "data-status") == "eligible"
    decides = tab.page.eval_on_selector_all(
        "#timeline li", "items => items.map(i => [i.dataset.scanType, i.dataset.decides || null])"
    )
    assert decides == [["pickup", None], ["depart", "departure"], ["arrive", "arrival"]]
    tab.shot("operator-parcel-timeline")
    tab.shot("operator-parcel-timeline-phone", width=PHONE)


def test_operator_reaches_no_finance_page_and_no_other_carriers_data(tab: Tab, live: Live) -> None:
    """Every finance URL is 403 and every URL naming another carrier's data is 404."""
    tab.sign_in("operator")
    request = tab.page.context.request
    other_upload = live.seeded.uploads["YTO"]
    forbidden = [
        "/console/audit",
        "/console/awards",
        f"/console/months/{MONTH}/close",
    ]
    hidden = [
        f"/console/uploads/{other_upload}",
        f"/console/uploads/{other_upload}/rejects.csv",
        f"/console/parcels?carrier=YTO&waybill={YTO_PARCEL}",
    ]
    for path in forbidden:
        assert request.get(live.url + path).status == 403, path
    for path in hidden:
        answer = request.get(live.url + path)
        assert answer.status == 404, path
        leaked = ("YTO-history.parquet", "data-scan-type", "data-row=")
        assert not [x for x in leaked if x in answer.text()], path
    csrf = tab.page.get_attribute("input[name=csrf]", "value")
    closing = request.post(live.url + f"/console/months/{MONTH}/close", form={"csrf": csrf})
    assert closing.status == 403
    # the report, the uploads and the download show ZTO's figures only
    tab.open(f"/console/report?month={MONTH}")
    assert set(cell_values(tab, "#carrier-table")) == {"ZTO", "__total__"}
    assert tab.page.locator("#close-month").count() == 0
    tab.shot("operator-report")
    for path in ("/console/uploads?carrier=YTO", f"/console/report?month={MONTH}&carrier=YTO"):
        assert "YT2305" not in request.get(live.url + path).text(), path
    # the API does not take the session cookie for a bearer token
    assert request.get(live.url + "/v1/uploads").status == 401


def test_finance_reads_the_month_the_figures_equal_the_api_and_the_chart_renders(
    tab: Tab, live: Live
) -> None:
    """Per carrier, totals, awards and program total equal GET /v1/reports/monthly."""
    tab.sign_in("finance")
    tab.open("/console/report")
    tab.page.get_by_label("月份").fill(MONTH)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="查看").click()
    tab.page.wait_for_selector("#subsidy-chart canvas")
    tab.page.wait_for_selector("#subsidy-chart[data-rendered='true']")
    as_of = tab.page.get_attribute("#report", "data-as-of")
    with live.api("finance") as api:
        report = api.get("/v1/reports/monthly", params={"month": MONTH, "as_of": as_of}).json()
    shown = cell_values(tab, "#carrier-table")
    expected = {r["carrier"]: api_row(r) for r in report["carriers"]}
    expected["__total__"] = {**api_row(report["totals"], rate=False), "rate_fen": None}
    assert shown == expected
    assert set(shown) == {"ZTO", "YTO", "JT", "__total__"}
    program = tab.page.get_attribute("#program-total", "data-value")
    assert int(program or "") == report["program_total_fen"]
    total_text = tab.page.inner_text("#carrier-table tfoot [data-field='subsidy_fen']")
    assert total_text == report["totals"]["subsidy_yuan"]  # under 1,000 yuan: no grouping
    tab.shot("finance-report")
    tab.shot("finance-report-phone", width=PHONE)
    # on a phone every carrier's amount is on screen, beside its label (a card per carrier)
    tab.page.set_viewport_size({"width": PHONE, "height": 844})
    boxes = tab.page.evaluate(
        """() => [...document.querySelectorAll("#carrier-table [data-field='subsidy_fen']")]
             .map(td => { const r = td.getBoundingClientRect();
                          return [r.right, getComputedStyle(td, '::before').content]; })"""
    )
    assert boxes and all(right <= PHONE for right, _ in boxes), boxes
    assert all("补贴金额" in label for _, label in boxes), boxes


def test_finance_downloads_the_excel_file_whose_totals_equal_the_api(
    tab: Tab, live: Live, tmp_path: Path
) -> None:
    """The workbook opens with openpyxl; its totals row equals the JSON's totals."""
    tab.sign_in("finance")
    tab.open(f"/console/report?month={MONTH}")
    with tab.page.expect_download() as download:
        tab.page.click("#download-xlsx")
    assert download.value.suggested_filename == f"subsidy-{MONTH}.xlsx"
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    sheet = load_workbook(saved).active
    totals = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "合计 Total")
    as_of = tab.page.get_attribute("#report", "data-as-of")
    with live.api("finance") as api:
        report = api.get("/v1/reports/monthly", params={"month": MONTH, "as_of": as_of}).json()
    # columns: carrier, name, eligible, rate, subsidy (yuan), subsidy (fen), pending, reasons
    assert totals[2] == report["totals"]["eligible_parcels"]
    assert totals[5] == report["totals"]["subsidy_fen"]
    assert f"{totals[4]:.2f}" == report["totals"]["subsidy_yuan"]  # a number cell, in yuan
    assert totals[6] == report["totals"]["pending_parcels"]


def test_finance_closes_the_month_after_a_confirmation_naming_the_figures(
    tab: Tab, live: Live
) -> None:
    """The confirmation names the totals; after it the month is closed, here and in the API,
    and the audit log (filtered to month closings) shows who closed it.
    """
    tab.sign_in("finance")
    tab.open(f"/console/report?month={MONTH}")
    with live.api("finance") as api:
        before = api.get("/v1/reports/monthly", params={"month": MONTH}).json()
    with tab.page.expect_navigation():
        tab.page.click("#close-month")
    subsidy = tab.page.get_attribute("#close-figures [data-field='subsidy_fen']", "data-value")
    assert int(subsidy or "") == before["totals"]["subsidy_fen"]
    button = tab.page.inner_text("#confirm-close")
    assert before["totals"]["subsidy_yuan"] in button
    tab.shot("finance-close-confirmation")
    with tab.page.expect_navigation():
        tab.page.click("#confirm-close")
    assert tab.page.get_attribute("#report", "data-closed") == "true"
    assert "已月结" in tab.page.inner_text("#month-state")
    with live.api("finance") as api:
        assert [m["month"] for m in api.get("/v1/months").json()] == [MONTH]
        closed = api.get("/v1/reports/monthly", params={"month": MONTH}).json()
    assert closed["totals"] == before["totals"]
    tab.shot("finance-report-closed")

    tab.open("/console/audit")
    tab.page.get_by_label("操作类型").select_option("month")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="筛选").click()
    actions = tab.page.eval_on_selector_all(
        "#audit-table tbody tr", "rows => rows.map(r => r.dataset.action)"
    )
    assert actions == ["month.closed"]
    assert "区财政局" in tab.page.inner_text("#audit-table tbody")
    tab.open("/console/audit")
    tab.shot("finance-audit-log")


def test_finance_records_approves_and_pays_the_center_award(tab: Tab, live: Live) -> None:
    """The award moves accredited -> approved (by a second finance officer) -> paid; the
    report shows it."""
    tab.sign_in("finance")
    tab.open("/console/awards")
    tab.page.get_by_label("认定日期").fill("2022-03-01")
    tab.page.get_by_label("认定文号").fill("济阳商务〔2022〕12号")
    tab.page.get_by_label("奖励金额（元）").fill("500,000")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="登记").click()
    assert tab.page.get_attribute("#award-list tbody tr", "data-status") == "accredited"
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("sign-out").click()
    tab.sign_in("approver")  # four eyes: another person than the recorder approves
    tab.open("/console/awards")
    tab.page.on("dialog", lambda dialog: dialog.accept())
    for step, status in (("approve", "approved"), ("pay", "paid")):
        with tab.page.expect_navigation():
            tab.page.click(f"#award-1-{step}")
        assert tab.page.get_attribute("#award-list tbody tr", "data-status") == status
    tab.shot("finance-center-award")
    with live.api("finance") as api:
        awards = api.get("/v1/center-awards").json()
    assert [(a["award_fen"], a["status"]) for a in awards] == [(50_000_000, "paid")]
    tab.open("/console/report?month=2023-04")  # an open month: a closed one stays frozen
    award = tab.page.get_attribute("#awards-table [data-field='award_fen']", "data-value")
    assert award == "50000000"
    assert "已拨付" in tab.page.inner_text("#awards-table")


def test_auditor_reads_everything_changes_nothing_and_looks_up_any_parcel(
    tab: Tab, live: Live
) -> None:
    """No close button, a forged close is 403, and another carrier's parcel is explained."""
    tab.sign_in("auditor")
    tab.open("/console/report?month=2023-04")
    assert tab.page.locator("#close-month").count() == 0
    assert set(cell_values(tab, "#carrier-table")) == {"ZTO", "YTO", "JT", "__total__"}
    csrf = tab.page.get_attribute("input[name=csrf]", "value")
    forged = tab.page.context.request.post(
        live.url + "/console/months/2023-04/close", form={"csrf": csrf}
    )
    assert forged.status == 403
    tab.open(f"/console/parcels?carrier=YTO&waybill={YTO_PARCEL}")
    assert tab.page.get_attribute("#parcel", "data-status") == "eligible"
    tab.shot("auditor-parcel")
    tab.open("/console/awards")
    assert tab.page.locator("#award-form").count() == 0
    tab.shot("auditor-awards")


def test_language_switch_and_sign_out(tab: Tab, live: Live) -> None:
    """Chinese by default, English by the switch; signing out ends the session."""
    tab.open("/console/login")
    assert tab.page.get_attribute("html", "lang") == "zh-CN"
    tab.shot("login")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="English").click()
    assert tab.page.get_attribute("html", "lang") == "en"
    tab.sign_in("finance")
    tab.open(f"/console/report?month={MONTH}")
    assert "Monthly subsidy report" in tab.page.inner_text("h1")
    tab.page.keyboard.press("Tab")  # the keyboard's first stop: skip to the content
    assert tab.page.evaluate("document.activeElement.className") == "skip"
    tab.page.keyboard.press("Enter")
    assert tab.page.evaluate("document.activeElement.id") == "main"
    tab.page.wait_for_selector("#subsidy-chart[data-rendered='true']")
    tab.shot("finance-report-english")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Sign out").click()
    assert "/console/login" in tab.page.url
    answer = tab.page.context.request.get(live.url + "/console/report", max_redirects=0)
    assert answer.status == 303

"""The audit controls in a real browser (Chromium) against a live ``parcel-subsidy serve``: an
auditor goes from a month's report to a flagged parcel, its scans and its review (clears it and
sees the state change), and from a sample to its result; finance deducts it. Screenshots of
each page, on a desktop and a phone, go to ``results/screenshots/anomalies-*.png``.

The tests of this module run in order against one server (the sample needs the month closed).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.console.conftest import MONTH, Live, Tab
from tests.console.test_anomalies import FAST, NIGHT, SHARED, YTO_FAST
from tests.factories import HUB2, cst, parcel, write_parquet

PHONE = 390


def _upload(live: Live, caller: str, path: Path) -> None:
    """Upload through the API and wait until the file is ingested."""
    with live.api(caller) as api:
        with path.open("rb") as f:
            sent = api.post("/v1/uploads", files={"file": (path.name, f)})
        assert sent.status_code == 202, sent.text
        upload_id = sent.json()["id"]
        deadline = time.monotonic() + 60
        while api.get(f"/v1/uploads/{upload_id}").json()["status"] != "ingested":
            assert time.monotonic() < deadline, "the upload was not ingested in time"
            time.sleep(0.2)


def _fits_the_phone(tab: Tab, selector: str) -> None:
    tab.page.set_viewport_size({"width": PHONE, "height": 844})
    try:
        for box in tab.page.locator(selector).evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().right)"
        ):
            assert box <= PHONE + 1, selector
    finally:
        tab.page.set_viewport_size({"width": 1280, "height": 900})


def test_auditor_goes_from_the_report_to_a_flagged_parcel_and_clears_it(
    tab: Tab, live: Live, tmp_path: Path
) -> None:
    zto = [
        *parcel(FAST, cst(2023, 5, 20, 10), timedelta(minutes=12), carrier="ZTO"),
        *parcel(NIGHT, cst(2023, 5, 21, 20), timedelta(hours=6), hub=HUB2, carrier="ZTO"),
        *parcel(SHARED, cst(2023, 5, 22, 9), carrier="ZTO"),
    ]
    yto = [
        *parcel(YTO_FAST, cst(2023, 5, 20, 11), timedelta(minutes=5), carrier="YTO"),
        *parcel(SHARED, cst(2023, 5, 22, 10), carrier="YTO"),
    ]
    _upload(live, "operator", write_parquet(tmp_path / "中通-2023-05-补传.parquet", zto))
    _upload(live, "other_operator", write_parquet(tmp_path / "圆通-2023-05-补传.parquet", yto))

    tab.sign_in("auditor")
    tab.open(f"/console/report?month={MONTH}")
    tab.shot("anomalies-report")
    # a count of the report opens its parcels, each flagged one with its flags
    eligible = tab.page.locator(
        "#carrier-table tr[data-carrier='ZTO'] td[data-field='eligible_parcels']"
    )
    shown = int(eligible.get_attribute("data-value") or "0")
    with tab.page.expect_navigation():
        eligible.locator("a").click()
    assert int(tab.page.get_attribute("#plist-count", "data-count") or "-1") == shown
    assert tab.page.locator("#plist-table tbody tr").count() == shown
    assert tab.page.locator(f"#plist-table tr[data-waybill='{FAST}'] .flag-code").count() == 1
    tab.shot("anomalies-parcel-list")
    tab.shot("anomalies-parcel-list-phone", width=PHONE)

    # from the report to the month's flags
    tab.page.go_back()
    with tab.page.expect_navigation():
        tab.page.click("#month-anomalies")
    rows = tab.page.locator("#flags-table tbody tr")
    assert rows.count() == 5
    assert "12 分钟（下限 30 分钟）" in tab.page.inner_text(
        f"#flags-table tr[data-waybill='{FAST}']"
    )
    tab.shot("anomalies-list")
    tab.shot("anomalies-list-phone", width=PHONE)
    _fits_the_phone(tab, "#flags-table button")

    # to the flagged parcel: its scans, its flag, its review
    with tab.page.expect_navigation():
        tab.page.click(
            f"#flags-table tr[data-waybill='{FAST}'][data-code='too_fast'] a.parcel-link"
        )
    assert tab.page.locator("#timeline li").count() >= 3
    card = tab.page.locator("#parcel-flags li[data-code='too_fast']")
    assert card.get_attribute("data-status") == "open"
    tab.shot("anomalies-parcel")
    tab.shot("anomalies-parcel-phone", width=PHONE)
    card.get_by_label("复核意见（必填）").fill(
        "调取车辆GPS：当日该车实际行驶 35 分钟，扫描时间录入有误"
    )
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    tab.page.once("dialog", accept)
    with tab.page.expect_navigation():
        card.get_by_role("button", name="排除（予以支付）").click()
    assert questions == ["复核结论提交后不可更改，确定提交吗？"]
    card = tab.page.locator("#parcel-flags li[data-code='too_fast']")
    assert card.get_attribute("data-status") == "cleared"
    assert "已排除" in card.inner_text() and "区审计局" in card.inner_text()
    assert card.locator("form").count() == 0
    tab.shot("anomalies-parcel-cleared")
    with live.api("auditor") as api:
        flags = api.get(f"/v1/anomalies?month={MONTH}").json()
    assert {(f["waybill_no"], f["code"]): f["status"] for f in flags}[(FAST, "too_fast")] == (
        "cleared"
    )

    # back on the month's flags, the counts moved
    tab.open(f"/console/anomalies?month={MONTH}")
    cleared = tab.page.locator("#flag-counts tr[data-code='too_fast'] td[data-state='cleared']")
    assert cleared.get_attribute("data-count") == "1"
    # English on the switch
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="English").click()
    assert tab.page.inner_text("h1").startswith("Anomaly flags")
    assert "12 min (at least 30 min expected)" in tab.page.inner_text("#flags-table")
    tab.shot("anomalies-list-en")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="中文").click()
    assert tab.errors == []


def test_auditor_draws_a_sample_records_findings_and_finance_deducts(tab: Tab, live: Live) -> None:
    with live.api("finance") as api:
        assert api.post(f"/v1/months/{MONTH}/close").status_code == 201
    tab.sign_in("auditor")
    tab.open("/console/samples")
    tab.page.select_option("#s-month", MONTH)
    tab.page.select_option("#s-carrier", "ZTO")
    tab.page.fill("#s-size", "4")
    tab.page.fill("#s-seed", "2023")
    with tab.page.expect_navigation(url=re.compile(r"/console/samples/\d+$")):
        tab.page.click("#draw")
    audit_id = int(tab.page.url.rsplit("/", 1)[1])
    rows = tab.page.locator("#sample-table tbody tr")
    assert rows.count() == 4
    waybills = [rows.nth(i).get_attribute("data-waybill") for i in range(4)]
    tab.shot("anomalies-sample-new")
    for n, waybill in enumerate(waybills):
        row = tab.page.locator(f"#sample-table tr[data-waybill='{waybill}']")
        row.get_by_label("未能核实" if n == 0 else "核实属实").check()
        row.get_by_label("说明").fill("未见签收凭证" if n == 0 else "签收单、GPS 相符")
        with tab.page.expect_navigation():
            row.get_by_role("button", name="保存").click()
    assert tab.page.get_attribute("#result", "data-complete") == "true"
    flagged = [w for w in waybills if w in (FAST, NIGHT, SHARED)]  # their flags are shown
    assert flagged  # seed 2023 draws two of them
    for waybill in flagged:
        assert tab.page.locator(f"#sample-table tr[data-waybill='{waybill}'] .flag-code").count()
    with live.api("auditor") as api:
        audit = api.get(f"/v1/audits/{audit_id}").json()
    over = audit["result"]["over_claim_fen"]
    assert tab.page.get_attribute("#result-over-claim", "data-value") == str(over)
    assert "25.00%" in tab.page.inner_text("#result-rate")
    tab.shot("anomalies-sample")
    tab.shot("anomalies-sample-phone", width=PHONE)

    finance = tab.page.context.browser.new_context(  # a second person, a second browser
        viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    try:
        other = Tab(page=finance.new_page(), errors=[], live=live)
        other.sign_in("finance")
        other.open(f"/console/samples/{audit_id}")
        asked: list[str] = []
        other.page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        with other.page.expect_navigation():
            other.page.click("#deduct")
        assert asked and "扣减只能进行一次" in asked[0]
        assert other.page.locator("#deducted").count() == 1
        assert other.page.locator("#deduct").count() == 0
        other.shot("anomalies-sample-deducted")
    finally:
        finance.close()
    with live.api("finance") as api:
        assert api.get(f"/v1/audits/{audit_id}").json()["deducted_fen"] == over
    assert tab.errors == []

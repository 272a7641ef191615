"""Settlement pages in a real browser (Chromium): the finance home page, a month's
statements, a statement with its moves, on a desktop and on a phone; screenshots under
``results/screenshots/``."""

from __future__ import annotations

from tests.console.conftest import MONTH, Live, Tab


def test_finance_home_and_statement_pages(tab: Tab, live: Live) -> None:
    """A budget smaller than the month's claims: the statements are pro-rated; the finance
    home page shows the fund and the statements waiting; a statement page offers submission,
    and its amounts stay on screen on a phone."""
    with live.api("finance") as api:
        may = api.get(f"/v1/reports/monthly?month={MONTH}").json()
        budget = may["totals"]["subsidy_fen"] * 2 // 3 + 1  # pro-rates the month
        body = {"amount_fen": budget, "document_no": "济财预〔2023〕8号"}
        put = api.put("/v1/budgets/2023", json=body)
        assert put.status_code == 200
        assert api.post(f"/v1/months/{MONTH}/close").status_code == 201
        rows = api.get(f"/v1/statements?month={MONTH}").json()
    assert all(s["prorated"] for s in rows)
    assert sum(s["payable_fen"] for s in rows) == budget
    tab.sign_in("finance")
    tab.open("/console/finance?year=2023")
    assert f"{budget // 100}.{budget % 100:02d}" in tab.page.inner_text("#fund")
    assert tab.page.locator("#waiting li").count() == len(rows)
    tab.shot("settlement-finance-home")
    tab.shot("settlement-finance-home-phone", width=390)
    tab.open(f"/console/statements?month={MONTH}")
    assert tab.page.locator("#statements-table tbody tr").count() == len(rows)
    tab.shot("settlement-statements")
    first = rows[0]["id"]
    tab.open(f"/console/statements/{first}")
    with tab.page.expect_navigation():
        tab.page.click("#statement-submit")
    assert tab.page.get_attribute("#statement-status", "data-status") == "submitted"
    tab.shot("settlement-statement")
    tab.shot("settlement-statement-phone", width=390)
    tab.page.set_viewport_size({"width": 390, "height": 844})
    for amount in ("#payable", "#statement-figures"):  # the amounts stay on a phone's screen
        box = tab.page.locator(amount).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, amount
    assert tab.errors == []

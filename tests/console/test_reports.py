"""The report page, the chart, month closing and the downloads: the figures are the API's."""

from __future__ import annotations

import html as html_lib
from typing import Any

import pytest
from fastapi.testclient import TestClient

import subsidy.report
from api.console.figures import FigureCache, change_stamp, default_month
from core.timeutil import month_of, now_local
from subsidy.closed import closed_months
from subsidy.models import MonthlyReport
from subsidy.report import build_report
from tests.console.conftest import MONTH, Seeded, sign_in
from tests.console.pages import api_table, attribute, chart_data, table_values
from tests.factories import cst, ingest_rows, parcel


def _api(client: TestClient, seeded: Seeded, caller: str, path: str, **params: str) -> Any:
    answer = client.get(
        path, params=params, headers={"Authorization": f"Bearer {seeded.tokens[caller]}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json() if "json" in answer.headers["content-type"] else answer.content


def test_the_report_page_shows_the_apis_figures_for_the_same_month(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    page = client.get(f"/console/report?month={MONTH}").text
    as_of = html_lib.unescape(attribute(page, "report", "data-as-of"))
    report = _api(client, seeded, "finance", "/v1/reports/monthly", month=MONTH, as_of=as_of)
    assert table_values(page, "carrier-table") == api_table(report)
    assert attribute(page, "program-total", "data-value") == str(report["program_total_fen"])
    assert "未月结" in page


def test_an_operator_sees_its_own_carriers_row_only(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["operator"])
    page = client.get(f"/console/report?month={MONTH}&carrier=YTO").text
    as_of = html_lib.unescape(attribute(page, "report", "data-as-of"))
    report = _api(client, seeded, "operator", "/v1/reports/monthly", month=MONTH, as_of=as_of)
    shown = table_values(page, "carrier-table")
    assert set(shown) == {"ZTO", "__total__"}
    assert shown == api_table(report)
    assert "program-total" not in page  # the program total spans every carrier
    assert [s["carrier"] for s in chart_data(page)["series"]] == ["ZTO"]


def test_the_chart_is_the_monthly_subsidy_per_carrier_over_the_policy_period(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    chart = chart_data(client.get(f"/console/report?month={MONTH}").text)
    assert chart["months"][0] == "2021-08"
    assert chart["months"][-1] == "2024-08"
    assert [s["carrier"] for s in chart["series"]] == ["ZTO", "YTO", "JT"]
    for month in ("2022-10", "2023-01", MONTH):
        report = _api(client, seeded, "finance", "/v1/reports/monthly", month=month)
        by_carrier = {r["carrier"]: r["subsidy_fen"] for r in report["carriers"]}
        i = chart["months"].index(month)
        assert {s["carrier"]: s["subsidy_fen"][i] for s in chart["series"]} == by_carrier


def test_the_page_opens_on_the_first_open_month_with_parcels(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    assert attribute(client.get("/console/report").text, "report", "data-month") == "2022-10"
    chart = {
        "months": ["2023-01", "2023-02", "2023-03"],
        "closed": [True, False, False],
        "series": [{"subsidy_fen": [5, 0, 7], "eligible_parcels": [1, 0, 2]}],
    }
    assert default_month(chart, cst(2023, 4, 1)) == "2023-03"
    assert default_month({**chart, "closed": [True] * 3}, cst(2023, 4, 1)) == "2023-03"
    empty: dict[str, Any] = {"months": [], "closed": [], "series": []}
    assert default_month(empty, cst(2023, 4, 1)) == "2023-04"


def test_a_month_that_is_not_a_month_is_explained_on_the_page(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    answer = client.get("/console/report?month=2023-13")
    assert answer.status_code == 422
    assert "不是有效的月份" in answer.text
    future = client.get("/console/report?month=2999-01")
    assert future.status_code == 422
    assert "尚未开始" in future.text


def test_closing_freezes_the_figures_the_confirmation_named(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    confirm = client.get(f"/console/months/{MONTH}/close")
    assert confirm.status_code == 200
    named = table_values(confirm.text, "close-table")
    answer = client.post(
        f"/console/months/{MONTH}/close",
        data={"csrf": csrf, "expect": _expect(confirm.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert [c.month for c in closed_months(seeded.store)] == [MONTH]
    frozen = _api(client, seeded, "finance", "/v1/reports/monthly", month=MONTH)
    assert api_table(frozen) == named
    page = client.get(answer.headers["location"]).text
    assert attribute(page, "report", "data-closed") == "true"
    assert "close-month" not in page
    again = client.get(f"/console/months/{MONTH}/close")
    assert again.status_code == 409


def _expect(html: str) -> str:
    start = html.index('name="expect"')
    return html[start:].split('value="', 1)[1].split('"', 1)[0]


def test_closing_asks_again_when_the_figures_changed_since_the_confirmation(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    confirm = client.get(f"/console/months/{MONTH}/close")
    ingest_rows(seeded.store, parcel("ZT2305LATE1", cst(2023, 5, 28, 9)), name="late.parquet")
    answer = client.post(
        f"/console/months/{MONTH}/close", data={"csrf": csrf, "expect": _expect(confirm.text)}
    )
    assert answer.status_code == 409
    assert "数据已发生变化" in answer.text
    assert closed_months(seeded.store) == []
    answer = client.post(
        f"/console/months/{MONTH}/close",
        data={"csrf": csrf, "expect": _expect(answer.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert [c.month for c in closed_months(seeded.store)] == [MONTH]


def test_a_month_not_over_cannot_be_closed_and_shows_no_button(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    assert "close-month" in client.get("/console/report").text  # history: over
    this_month = month_of(now_local())
    page = client.get(f"/console/report?month={this_month}").text
    assert "close-month" not in page
    assert client.get(f"/console/months/{this_month}/close").status_code == 409


def test_the_downloads_are_the_apis_files_for_the_instant_shown(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["finance"])
    page = client.get(f"/console/report?month={MONTH}").text
    as_of = html_lib.unescape(attribute(page, "report", "data-as-of"))
    link = html_lib.unescape(attribute(page, "download-csv", "href"))
    assert "as_of=" in link
    csv_file = client.get(link)
    assert csv_file.headers["content-disposition"] == f'attachment; filename="subsidy-{MONTH}.csv"'
    api_csv = _api(
        client, seeded, "finance", "/v1/reports/monthly", month=MONTH, as_of=as_of, format="csv"
    )
    assert csv_file.content == api_csv
    xlsx = client.get(html_lib.unescape(attribute(page, "download-xlsx", "href")))
    api_xlsx = _api(
        client, seeded, "finance", "/v1/reports/monthly", month=MONTH, as_of=as_of, format="xlsx"
    )
    assert xlsx.content == api_xlsx  # the exports are deterministic


def test_figures_are_kept_until_the_store_changes(seeded: Seeded) -> None:
    before = change_stamp(seeded.store)
    ingest_rows(seeded.store, parcel("ZT2305KEEP1", cst(2023, 5, 20, 9)), name="k.parquet")
    after_ingest = change_stamp(seeded.store)
    assert after_ingest != before
    cache = FigureCache(size=2)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get(("a",), compute) == 1
    assert cache.get(("a",), compute) == 1
    assert cache.get(("a",), compute, usable=lambda _: False) == 2
    cache.get(("b",), compute)
    cache.get(("c",), compute)
    assert cache.get(("a",), compute) == 5  # the oldest went first


def test_an_unreadable_or_future_as_of_is_explained_never_a_server_error(
    client: TestClient, seeded: Seeded
) -> None:
    """Out-of-range instants (which overflow a datetime) and future ones are told to the user,
    in the page's language (Chinese by default)."""
    sign_in(client, seeded.tokens["finance"])
    for as_of in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2199-12-31"):
        for path in ("/console/report", "/console/report/download", "/console/parcels"):
            params = {"month": MONTH, "as_of": as_of, "carrier": "ZTO", "waybill": "ZT2305E0"}
            answer = client.get(path, params=params)
            assert answer.status_code < 500, (path, as_of, answer.text[:300])
            assert any(w in answer.text for w in ("不是有效的时间", "在将来", "早于 1971")), as_of


def test_a_confirmed_close_computes_the_report_once(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close the confirmation posts builds the month's report once (the close's own),
    and freezes the figures the confirmation named."""
    csrf = sign_in(client, seeded.tokens["finance"])
    confirm = client.get(f"/console/months/{MONTH}/close")
    built: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> MonthlyReport:
        built.append(args[2])
        return build_report(*args, **kwargs)

    monkeypatch.setattr(subsidy.report, "build_report", counted)
    answer = client.post(
        f"/console/months/{MONTH}/close",
        data={"csrf": csrf, "expect": _expect(confirm.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert built == [MONTH]

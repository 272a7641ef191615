"""The audit controls in the console (SPEC §12): the anomalies page for each role, an auditor's
review through the form, the parcel page's flags and reviews, and the parcel list behind every
figure of the report, statement and anomalies pages (each count opens a list of exactly that
many parcels)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.console import anomalies as console_anomalies
from api.console import evidence, i18n, parcel_lists
from core.policy import Policy
from core.timeutil import now_local
from subsidy.anomalies import CODES, DECISIONS
from subsidy.audits import FINDINGS
from subsidy.closing import close_month
from subsidy.settlement.statements import list_statements
from tests.console.conftest import MONTH, Seeded, sign_in
from tests.factories import HUB2, NOW, cst, ingest_rows, parcel

#: Planted in May 2023 beside the seeded history: ZTO parcels too fast and at night, one
#: waybill number departing under both ZTO and YTO, and a YTO parcel too fast.
FAST = "ZT2305F1"
NIGHT = "ZT2305F2"
SHARED = "CC2305001"
YTO_FAST = "YT2305F3"
#: (code, carrier, waybill) of the flags the planted parcels raise.
PLANTED = {
    ("too_fast", "ZTO", FAST),
    ("off_hours", "ZTO", NIGHT),
    ("cross_carrier", "ZTO", SHARED),
    ("cross_carrier", "YTO", SHARED),
    ("too_fast", "YTO", YTO_FAST),
}


def plant(seeded: Seeded, policy: Policy) -> None:
    """Ingest the planted parcels (ZTO's and YTO's exports of May)."""
    zto = [
        *parcel(FAST, cst(2023, 5, 20, 10), timedelta(minutes=12), carrier="ZTO"),
        *parcel(NIGHT, cst(2023, 5, 21, 20), timedelta(hours=6), hub=HUB2, carrier="ZTO"),
        *parcel(SHARED, cst(2023, 5, 22, 9), carrier="ZTO"),
    ]
    yto = [
        *parcel(YTO_FAST, cst(2023, 5, 20, 11), timedelta(minutes=5), carrier="YTO"),
        *parcel(SHARED, cst(2023, 5, 22, 10), carrier="YTO"),
    ]
    ingest_rows(seeded.store, zto, name="zto-may.parquet", carrier="ZTO", policy=policy, now=NOW)
    ingest_rows(seeded.store, yto, name="yto-may.parquet", carrier="YTO", policy=policy, now=NOW)


@pytest.fixture
def planted(seeded: Seeded, policy: Policy) -> Seeded:
    """The seeded store with the planted parcels."""
    plant(seeded, policy)
    return seeded


_FLAG_ROW = re.compile(
    r'<tr id="flag-(\d+)" data-flag="\d+" data-code="([a-z_]+)" data-status="([a-z]+)"'
    r' data-waybill="([^"]*)"'
)
_CARRIER_OF_ROW = re.compile(r'class="parcel-link" href="/console/parcels\?carrier=([A-Z]+)&')


def flag_rows(html: str) -> list[dict[str, Any]]:
    """The flag rows of an anomalies page: id, code, status, waybill, carrier."""
    rows = []
    starts = [m.start() for m in _FLAG_ROW.finditer(html)] + [len(html)]
    for match, end in zip(_FLAG_ROW.finditer(html), starts[1:], strict=True):
        carrier = _CARRIER_OF_ROW.search(html, match.start(), end)
        rows.append(
            {
                "id": int(match.group(1)),
                "code": match.group(2),
                "status": match.group(3),
                "waybill": match.group(4),
                "carrier": carrier.group(1) if carrier else None,
            }
        )
    return rows


def text_of(html: str) -> str:
    """What a person reads on the page (tags and scripts removed)."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def links(html: str, pattern: str) -> list[str]:
    """The hrefs of the page matching ``pattern``, unescaped."""
    return [unescape(h) for h in re.findall(rf'href="({pattern}[^"]*)"', html)]


_PARCEL_ROW = re.compile(r'<tr data-waybill="([^"]+)" data-carrier-code="([^"]+)"')


def listed(client: TestClient, url: str) -> tuple[int, list[tuple[str, str]]]:
    """A parcel list's stated count and the ``(carrier, waybill)`` of all its pages."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.text[:500])
    count = int(re.search(r'id="plist-count" data-count="(\d+)"', page.text).group(1))  # type: ignore[union-attr]  # the page always has it
    waybills = [(c, w) for w, c in _PARCEL_ROW.findall(page.text)]
    more = re.search(r'id="plist-next" href="([^"]+)"', page.text)
    while more:
        page = client.get(unescape(more.group(1)))
        waybills += [(c, w) for w, c in _PARCEL_ROW.findall(page.text)]
        more = re.search(r'id="plist-next" href="([^"]+)"', page.text)
    return count, waybills


# -- the anomalies page, per role ------------------------------------------------------------
@pytest.mark.parametrize("caller", ["auditor", "finance", "admin"])
def test_staff_see_every_carriers_flags_with_readable_evidence(
    client: TestClient, planted: Seeded, caller: str
) -> None:
    sign_in(client, planted.tokens[caller])
    page = client.get(f"/console/anomalies?month={MONTH}")
    assert page.status_code == 200, page.text
    rows = flag_rows(page.text)
    assert {(r["code"], r["carrier"], r["waybill"]) for r in rows} == PLANTED
    assert all(r["status"] == "open" for r in rows)
    words = text_of(page.text)
    # the codes in Chinese words, and the evidence: scans, minutes in transit, the other carrier
    for code in ("运输用时过短", "深夜到达", "运单号多家企业发出"):
        assert code in words
    assert "12 分钟（下限 30 分钟）" in words
    assert "2023-05-22 02:00:00 · JY-H02 新市镇服务站（到件）" in words
    assert re.search(r"同号的其他企业\s+YTO", words)
    # every flagged parcel links to its explanation page
    for r in rows:
        assert f"/console/parcels?carrier={r['carrier']}&amp;waybill={r['waybill']}" in page.text
    # only an auditor sees the review form
    has_form = 'action="/console/anomalies/' in page.text
    assert has_form == (caller == "auditor")


def test_an_operator_sees_its_own_carriers_flags_read_only(
    client: TestClient, planted: Seeded
) -> None:
    sign_in(client, planted.tokens["operator"])
    page = client.get(f"/console/anomalies?month={MONTH}")
    assert page.status_code == 200
    rows = flag_rows(page.text)
    assert {(r["code"], r["carrier"], r["waybill"]) for r in rows} == {
        p for p in PLANTED if p[1] == "ZTO"
    }
    assert 'action="/console/anomalies/' not in page.text
    assert YTO_FAST not in page.text
    assert "YTO" not in re.sub(r"同号的其他企业\s*</dt><dd>YTO", "", page.text)
    assert client.get(f"/console/anomalies?month={MONTH}&carrier=YTO").status_code == 404
    other = client.get(f"/console/parcels/list?month={MONTH}&carrier=YTO&status=held")
    assert other.status_code == 404


def test_filters_by_code_carrier_and_state(client: TestClient, planted: Seeded) -> None:
    sign_in(client, planted.tokens["finance"])
    base = f"/console/anomalies?month={MONTH}"
    fast = flag_rows(client.get(f"{base}&code=too_fast").text)
    assert {(r["carrier"], r["waybill"]) for r in fast} == {("ZTO", FAST), ("YTO", YTO_FAST)}
    yto = flag_rows(client.get(f"{base}&carrier=YTO").text)
    assert {r["waybill"] for r in yto} == {SHARED, YTO_FAST}
    assert flag_rows(client.get(f"{base}&state=cleared").text) == []
    assert client.get(f"{base}&code=teleport").status_code == 422
    assert client.get("/console/anomalies?month=2023-13").status_code == 422


# -- review ----------------------------------------------------------------------------------
def _flag_id(client: TestClient, waybill: str, code: str) -> int:
    rows = flag_rows(client.get(f"/console/anomalies?month={MONTH}").text)
    (only,) = [r["id"] for r in rows if r["waybill"] == waybill and r["code"] == code]
    return int(only)


def test_an_auditor_clears_a_flag_with_a_reason_and_it_is_audited(
    client: TestClient, planted: Seeded
) -> None:
    csrf = sign_in(client, planted.tokens["auditor"])
    flag = _flag_id(client, FAST, "too_fast")
    back = f"/console/anomalies?month={MONTH}&code=too_fast"
    empty = client.post(
        f"/console/anomalies/{flag}/review",
        data={"csrf": csrf, "decision": "cleared", "note": "  ", "next": back},
    )
    assert empty.status_code == 422
    assert "请填写复核意见" in empty.text
    answer = client.post(
        f"/console/anomalies/{flag}/review",
        data={"csrf": csrf, "decision": "cleared", "note": "司机行车记录核实", "next": back},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(back + "&done=cleared&flag=")
    page = client.get(answer.headers["location"])
    assert f"标记 #{flag} 已排除" in text_of(page.text)
    (row,) = [r for r in flag_rows(page.text) if r["id"] == flag]
    assert row["status"] == "cleared"
    assert "司机行车记录核实" in page.text
    assert f'id="review-{flag}"' not in page.text  # a reviewed flag has no form any more
    again = client.post(
        f"/console/anomalies/{flag}/review",
        data={"csrf": csrf, "decision": "confirmed", "note": "again"},
    )
    assert again.status_code == 409
    with planted.store.connect() as db:
        line = db.execute(
            "SELECT actor, action, target, new_value FROM audit_log WHERE action='anomaly.reviewed'"
        ).fetchone()
    assert (line["action"], line["target"]) == ("anomaly.reviewed", f"anomaly:{flag}")
    assert "司机行车记录核实" in line["new_value"]


@pytest.mark.parametrize("caller", ["finance", "admin", "operator"])
def test_nobody_but_an_auditor_reviews(client: TestClient, planted: Seeded, caller: str) -> None:
    csrf = sign_in(client, planted.tokens["auditor"])
    flag = _flag_id(client, FAST, "too_fast")
    csrf = sign_in(client, planted.tokens[caller])
    answer = client.post(
        f"/console/anomalies/{flag}/review",
        data={"csrf": csrf, "decision": "cleared", "note": "not mine to say"},
    )
    assert answer.status_code == 403
    with planted.store.connect() as db:
        status = db.execute("SELECT status FROM anomaly_flags WHERE id=?", (flag,)).fetchone()[0]
    assert status == "open"


def test_the_parcel_page_shows_its_flags_and_their_review(
    client: TestClient, planted: Seeded
) -> None:
    csrf = sign_in(client, planted.tokens["auditor"])
    url = f"/console/parcels?carrier=ZTO&waybill={NIGHT}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-code="off_hours" data-status="open"' in page.text
    assert "深夜到达" in page.text and "夜间时段" in text_of(page.text)
    flag = int(re.search(r'id="review-(\d+)"', page.text).group(1))  # type: ignore[union-attr]  # the auditor has the form
    answer = client.post(
        f"/console/anomalies/{flag}/review",
        data={"csrf": csrf, "decision": "confirmed", "note": "站点当晚无人值守", "next": url},
    )
    assert answer.status_code == 200
    assert 'data-code="off_hours" data-status="confirmed"' in answer.text
    assert "站点当晚无人值守" in answer.text and "区审计局" in answer.text
    sign_in(client, planted.tokens["operator"])  # the carrier reads the review too
    own = client.get(url).text
    assert "站点当晚无人值守" in own and 'id="review-' not in own
    clean = client.get("/console/parcels?carrier=ZTO&waybill=ZT2305E0").text
    assert 'id="parcel-flags-none"' in clean


# -- behind every figure, its parcels --------------------------------------------------------
_COUNT_CELL = re.compile(
    r'<tr data-carrier="([^"]+)"[^>]*>(.*?)</tr>',
    re.S,
)
_LINKED = re.compile(r'data-field="([a-z_]+)" data-value="(\d+)"><a class="drill" href="([^"]+)"')
COUNT_FIELDS = {"eligible_parcels", "pending_parcels", "no_hub_arrival", "late_hub_arrival"}


def report_cells(html: str) -> list[tuple[str, str, int, str]]:
    """``(carrier, field, value, list URL)`` of every linked count of the carrier table."""
    start = html.index('id="carrier-table"')
    table = html[start : html.index("</table>", start)]
    return [
        (carrier, field, int(value), unescape(href))
        for carrier, cells in _COUNT_CELL.findall(table)
        for field, value, href in _LINKED.findall(cells)
    ]


@pytest.mark.parametrize("caller", ["finance", "operator"])
@pytest.mark.parametrize("closed", [False, True], ids=["open-month", "closed-month"])
def test_every_count_of_the_report_opens_a_list_of_exactly_that_many(
    client: TestClient,
    planted: Seeded,
    policy: Policy,
    caller: str,
    closed: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For every count cell (per carrier and the totals) of a generated report page, the linked
    list says and holds exactly the cell's number of parcels, of that carrier only (its pages
    followed to the end: four parcels a page here)."""
    monkeypatch.setattr(parcel_lists, "PAGE_SIZE", 4)
    if closed:
        close_month(planted.store, policy, MONTH, actor="tests", now=now_local())
    sign_in(client, planted.tokens[caller])
    page = client.get(f"/console/report?month={MONTH}")
    assert page.status_code == 200
    cells = report_cells(page.text)
    fields = {f for _, f, _, _ in cells}
    assert fields >= COUNT_FIELDS
    carriers = {c for c, _, _, _ in cells}
    assert carriers == (
        {"ZTO", "__total__"} if caller == "operator" else {"ZTO", "YTO", "JT", "__total__"}
    )
    checked = 0
    for carrier, field, value, url in cells:
        if field == "subsidy_fen":
            continue
        count, waybills = listed(client, url)
        assert (carrier, field, count, len(waybills)) == (carrier, field, value, value), url
        assert len(set(waybills)) == value
        if carrier != "__total__":
            assert f"carrier={carrier}" in url
            assert {c for c, _ in waybills} <= {carrier}
        checked += 1
    assert checked >= 4 * len(carriers)


def held_shown(client: TestClient, month: str) -> dict[str, int]:
    """The held-parcel counts of the anomalies page, each checked against the list it opens."""
    page = client.get(f"/console/anomalies?month={month}").text
    held = {
        c: int(n) for c, n in re.findall(r'<li data-carrier="([A-Z]+)" data-count="(\d+)">', page)
    }
    for carrier in held:
        (url,) = links(page, rf"/console/parcels/list\?[^\"]*carrier={carrier}&amp;")
        count, waybills = listed(client, url)
        assert count == len(waybills) == held[carrier]
    return held


def test_the_statement_and_anomalies_counts_open_their_lists(
    client: TestClient, planted: Seeded, policy: Policy
) -> None:
    """Closing May holds the flagged eligible parcels: the statement's held figure and the
    anomalies page's held counts open the held parcels; each flag count opens that many flags."""
    sign_in(client, planted.tokens["auditor"])
    page = client.get(f"/console/anomalies?month={MONTH}")
    for url in links(page.text, r"/console/anomalies\?"):
        shown = flag_rows(client.get(url).text)
        cell = re.search(
            rf'data-count="(\d+)"><a href="{re.escape(url).replace("&", "&amp;")}"', page.text
        )
        assert cell is not None, url
        assert len(shown) == int(cell.group(1)), url
    assert held_shown(client, MONTH) == {"ZTO": 3, "YTO": 2}
    close_month(planted.store, policy, MONTH, actor="tests", now=now_local())
    sign_in(client, planted.tokens["finance"])
    assert held_shown(client, MONTH) == {"ZTO": 3, "YTO": 2}  # now those the statements held
    for s in list_statements(planted.store, month=MONTH):
        page = client.get(f"/console/statements/{s.id}")
        (held_url,) = links(page.text, r"/console/parcels/list\?[^\"]*status=held")
        count, waybills = listed(client, held_url)
        list_page = client.get(held_url).text
        assert int(re.search(r'data-fen="(-?\d+)"', list_page).group(1)) == s.held_fen  # type: ignore[union-attr]  # always there
        eligible_url = links(page.text, r"/console/parcels/list\?[^\"]*status=eligible")[0]
        count, waybills = listed(client, eligible_url)
        assert count == len(waybills) == s.eligible_parcels


def test_the_parcel_list_downloads_as_csv(client: TestClient, planted: Seeded) -> None:
    sign_in(client, planted.tokens["operator"])
    url = f"/console/parcels/list?month={MONTH}&status=eligible"
    count, waybills = listed(client, url)
    assert count == len(waybills) > 0
    answer = client.get(url.replace("/list?", "/list.csv?"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.strip().splitlines()
    assert lines[0].startswith("carrier,waybill_no,month,status")
    assert sorted(tuple(line.split(",")[:2]) for line in lines[1:]) == sorted(waybills)
    assert {line.split(",")[0] for line in lines[1:]} == {"ZTO"}


# -- the words -------------------------------------------------------------------------------
DETAILS: dict[str, dict[str, Any]] = {
    "too_fast": {"transit_seconds": 720.0, "min_transit_minutes": 30},
    "burst": {
        "minute": "2023-05-20T10:12:00+08:00",
        "hub_minute_scans": 75,
        "burst_per_minute": 60,
    },
    "cross_carrier": {"other_carriers": ["YTO", "JT"]},
    "reused_waybill": {
        "first_depart": "2023-03-01T09:00:00+08:00",
        "first_site": "JY-C01",
        "last_depart": "2023-05-20T09:00:00+08:00",
        "last_site": "JY-C01",
        "days_apart": 80.0,
        "depart_scans": 2,
        "reuse_days": 30,
    },
    "off_hours": {"quiet_from": "00:00", "quiet_to": "05:00"},
    "hub_spike": {
        "eligible_parcels": 120,
        "median_prev": 8.5,
        "days_with_any": 20,
        "spike_factor": 5.0,
        "spike_min": 50,
    },
}
SCANS = {
    "d_time": "2023-05-20T10:00:00+08:00",
    "d_site": "JY-C01",
    "a_time": "2023-05-20T10:12:00+08:00",
    "a_site": "JY-H01",
    "a_scan_type": "arrive",
}
EXPECTED = {
    "too_fast": "12 分钟（下限 30 分钟）",
    "burst": "75 次（上限 60 次）",
    "cross_carrier": "YTO、JT",
    "reused_waybill": "80 天（上限 30 天），共 2 次发件扫描",
    "off_hours": "00:00–05:00",
    "hub_spike": "8.5 件（20 个有件日）；阈值：5 倍且不少于 50 件",
}


@pytest.mark.parametrize("code", list(DETAILS))
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_codes_evidence_reads_in_both_languages(code: str, lang: str) -> None:
    t = i18n.translator(lang)
    detail = DETAILS[code] if code == "hub_spike" else {**SCANS, **DETAILS[code]}
    flag = {"code": code, "detail": detail}
    lines = evidence.lines(t, flag, {"JY-C01": "济阳区级配送中心"})
    assert lines and all(label and text for label, text in lines)
    assert evidence.hint(t, flag)
    assert not any("{" in text for _, text in lines)
    if lang == "zh-CN":
        assert EXPECTED[code] in [text for _, text in lines]
    assert i18n.label(t, "flag", code) != code


def test_every_flag_code_state_and_finding_has_words() -> None:
    for group, values in (
        ("flag", CODES),
        ("flag_hint", CODES),
        ("flag_status", ("open", *DECISIONS)),
        ("review", DECISIONS),
        ("finding", FINDINGS),
    ):
        for value in values:
            assert f"{group}.{value}" in i18n.MESSAGES, (group, value)


def test_a_hub_day_flag_reads_as_one_and_holds_its_carriers_parcels(
    client: TestClient, seeded: Seeded, policy: Policy
) -> None:
    """A hub that saw one parcel a day for eight days and sixty on 20 May: one hub-day flag
    (no parcel, the hub's median as evidence) holding ZTO's sixty parcels; YTO's operator, with
    no parcel there, does not see it."""
    rows = []
    for day in range(1, 9):
        rows += parcel(f"ZT2305Q{day}", cst(2023, 4, 29, 9) + timedelta(days=day), hub=HUB2)
    for n in range(60):
        rows += parcel(f"ZT2305S{n:02d}", cst(2023, 5, 18, 9, n), hub=HUB2)
    ingest_rows(seeded.store, rows, name="zto-spike.parquet", carrier="ZTO", policy=policy, now=NOW)
    sign_in(client, seeded.tokens["auditor"])
    page = client.get(f"/console/anomalies?month={MONTH}&code=hub_spike").text
    (row,) = flag_rows(page)
    assert (row["waybill"], row["carrier"]) == ("", None)
    words = text_of(page)
    assert "站点单日标记" in words and "JY-H02 新市镇服务站 · 2023-05-20" in words
    assert "1 件（8 个有件日）；阈值：5 倍且不少于 50 件" in words
    assert held_shown(client, MONTH) == {"ZTO": 60}
    held = client.get("/console/parcels?carrier=ZTO&waybill=ZT2305S07").text
    assert f'id="flag-{row["id"]}" data-flag="{row["id"]}" data-code="hub_spike"' in held
    sign_in(client, seeded.tokens["operator"])
    assert [r["code"] for r in flag_rows(client.get(f"/console/anomalies?month={MONTH}").text)] == [
        "hub_spike"
    ]
    sign_in(client, seeded.tokens["other_operator"])
    assert flag_rows(client.get(f"/console/anomalies?month={MONTH}").text) == []


def test_the_flags_page_through_in_pages(
    client: TestClient, planted: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_anomalies, "PAGE_SIZE", 2)
    sign_in(client, planted.tokens["finance"])
    url: str | None = f"/console/anomalies?month={MONTH}"
    seen: list[int] = []
    while url:
        page = client.get(url).text
        rows = flag_rows(page)
        assert 1 <= len(rows) <= 2
        seen += [r["id"] for r in rows]
        more = re.search(r'id="flags-next" href="([^"]+)"', page)
        url = unescape(more.group(1)) if more else None
    assert sorted(seen) == seen and len(set(seen)) == len(PLANTED)

"""Sampled review in the console (SPEC §12): an auditor draws a reproducible sample of a closed
month, records a finding per parcel with its evidence a link away, the page shows the error
rate, the 95% Wilson interval and the over-claim in yuan from fen; finance deducts it once;
an operator reads its own carrier's samples only."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient

from core.policy import Policy
from core.timeutil import next_month, now_local
from subsidy import audits
from subsidy.closing import close_month
from tests.console.conftest import MONTH, Seeded, sign_in

_ROW = re.compile(r'<tr id="row-[^"]+" data-waybill="([^"]+)" data-finding="([a-z_]*)"')


def sample_rows(html: str) -> list[tuple[str, str]]:
    """``(waybill, finding)`` of the sampled parcels the page lists, in draw order."""
    return _ROW.findall(html)


def draw(client: TestClient, csrf: str, **fields: object) -> httpx.Response:
    data = {"csrf": csrf, "month": MONTH, "carrier": "ZTO", "sample_size": 3, "seed": 7}
    return client.post("/console/samples", data={**data, **fields}, follow_redirects=False)


@pytest.fixture
def closed(seeded: Seeded, policy: Policy) -> Seeded:
    """The seeded store with May closed."""
    close_month(seeded.store, policy, MONTH, actor="tests", now=now_local())
    return seeded


def test_an_auditor_draws_a_reproducible_sample_and_records_findings(
    client: TestClient, closed: Seeded
) -> None:
    csrf = sign_in(client, closed.tokens["auditor"])
    form = client.get("/console/samples").text
    assert 'id="draw-form"' in form and f'<option value="{MONTH}" selected>' in form
    answer = draw(client, csrf)
    assert answer.status_code == 303
    url = answer.headers["location"]
    audit_id = int(url.rsplit("/", 1)[1])
    page = client.get(url).text
    stored = audits.get_audit(closed.store, audit_id)
    rows = sample_rows(page)
    assert [w for w, _ in rows] == [p["waybill_no"] for p in stored["sample"]]
    assert all(f == "" for _, f in rows)
    # the same seed draws the same parcels; the seed is on the page
    again = draw(client, csrf)
    assert sample_rows(client.get(again.headers["location"]).text) == rows
    assert "种子 7" in page
    for waybill, _ in rows:  # every sampled parcel links to its evidence
        assert f'href="/console/parcels?carrier=ZTO&amp;waybill={waybill}"' in page
    assert 'id="deduct"' not in page  # the auditor never deducts

    for n, (waybill, _) in enumerate(rows):
        finding = "not_confirmed" if n == 0 else "confirmed"
        saved = client.post(
            f"/console/samples/{audit_id}/findings",
            data={"csrf": csrf, "waybill_no": waybill, "finding": finding, "note": f"核查{n}"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
    page = client.get(url).text
    assert [f for _, f in sample_rows(page)] == ["not_confirmed", "confirmed", "confirmed"]
    result = audits.get_audit(closed.store, audit_id)["result"]
    assert result["complete"] and result["not_confirmed"] == 1
    assert 'data-complete="true"' in page
    low, high = audits.wilson_interval(1, 3)
    assert f"{low * 100:.2f}% – {high * 100:.2f}%" in page
    over = result["over_claim_fen"]
    assert f'id="result-over-claim" data-value="{over}">{over // 100}.{over % 100:02d}<' in page
    outsider = client.post(
        f"/console/samples/{audit_id}/findings",
        data={"csrf": csrf, "waybill_no": "ZT0000000", "finding": "confirmed"},
    )
    assert outsider.status_code == 422
    assert "不在该抽样中" in unescape(outsider.text)


def test_finance_deducts_the_over_claim_once_when_every_finding_is_in(
    client: TestClient, closed: Seeded, policy: Policy
) -> None:
    csrf = sign_in(client, closed.tokens["auditor"])
    url = draw(client, csrf, sample_size=2).headers["location"]
    audit_id = int(url.rsplit("/", 1)[1])
    first, second = (w for w, _ in sample_rows(client.get(url).text))
    client.post(
        f"/console/samples/{audit_id}/findings",
        data={"csrf": csrf, "waybill_no": first, "finding": "not_confirmed"},
    )
    csrf = sign_in(client, closed.tokens["finance"])
    page = client.get(url).text
    assert 'id="deduct"' not in page and 'id="incomplete"' in page
    assert (
        client.post(f"/console/samples/{audit_id}/deduct", data={"csrf": csrf}).status_code == 409
    )
    assert 'class="finding-form"' not in page  # finance records no finding
    assert (
        client.post(
            f"/console/samples/{audit_id}/findings",
            data={"csrf": csrf, "waybill_no": second, "finding": "confirmed"},
        ).status_code
        == 403
    )
    csrf = sign_in(client, closed.tokens["auditor"])
    client.post(
        f"/console/samples/{audit_id}/findings",
        data={"csrf": csrf, "waybill_no": second, "finding": "confirmed"},
    )
    assert (
        client.post(f"/console/samples/{audit_id}/deduct", data={"csrf": csrf}).status_code == 403
    )
    csrf = sign_in(client, closed.tokens["finance"])
    page = client.get(url).text
    over = audits.get_audit(closed.store, audit_id)["result"]["over_claim_fen"]
    assert over > 0
    assert f"从下一期结算单中扣减 {over // 100}.{over % 100:02d} 元" in page
    done = client.post(
        f"/console/samples/{audit_id}/deduct", data={"csrf": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert 'id="deducted"' in page and 'id="deduct"' not in page
    assert audits.get_audit(closed.store, audit_id)["deducted_fen"] == over
    twice = client.post(f"/console/samples/{audit_id}/deduct", data={"csrf": csrf})
    assert twice.status_code == 409
    assert "不能再次扣减" in twice.text
    # the next month's statement shows the deduction as a line that opens the sample
    june = next_month(MONTH)
    close_month(closed.store, policy, june, actor="tests", now=now_local())
    with closed.store.connect() as db:
        (statement_id,) = db.execute(
            "SELECT id FROM statements WHERE month=? AND carrier='ZTO'", (june,)
        ).fetchone()
    page = client.get(f"/console/statements/{statement_id}").text
    table = page[page.index('id="statement-adjustments"') :]
    line = table[table.index('class="adjust-audit_deduction"') :]
    line = line[: line.index("</tr>")]
    assert "抽样复核扣减" in line and MONTH in line
    assert f'href="/console/samples/{audit_id}"' in line
    assert f"-{over // 100}.{over % 100:02d}" in line


def test_a_sample_of_an_open_month_is_refused_in_words(
    client: TestClient, seeded: Seeded, policy: Policy
) -> None:
    close_month(seeded.store, policy, "2023-04", actor="tests", now=now_local())
    csrf = sign_in(client, seeded.tokens["auditor"])
    answer = draw(client, csrf)
    assert answer.status_code == 409
    assert f"{MONTH} 尚未月结" in answer.text
    assert 'value="7"' in answer.text  # the form is kept filled in


def test_an_operator_reads_its_own_carriers_samples_only(
    client: TestClient, closed: Seeded
) -> None:
    csrf = sign_in(client, closed.tokens["auditor"])
    zto = draw(client, csrf).headers["location"]
    yto = draw(client, csrf, carrier="YTO").headers["location"]
    csrf = sign_in(client, closed.tokens["operator"])
    listing = client.get("/console/samples").text
    assert f'href="{zto}"' in listing and f'href="{yto}"' not in listing
    assert 'id="draw-form"' not in listing
    own = client.get(zto)
    assert own.status_code == 200 and 'class="finding-form"' not in own.text
    assert client.get(yto).status_code == 404
    assert draw(client, csrf).status_code == 403

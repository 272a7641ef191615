"""Month closing over HTTP: frozen byte for byte, adjustments in the next open month."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import subsidy.report
from subsidy.models import MonthlyReport
from subsidy.report import build_report
from tests.api.conftest import bearer, may_rows, upload
from tests.factories import cst, parcel, write_parquet


def _report(client: TestClient, token: str, month: str, fmt: str = "json") -> bytes:
    resp = client.get(f"/v1/reports/monthly?month={month}&format={fmt}", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    return resp.content


def test_closed_month_is_frozen_and_late_events_become_next_months_adjustment(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Close May; ingest late May parcels: May's report is unchanged byte for byte in every
    format and for every reader; June shows the difference as ZTO's adjustment for May."""
    op, fin = tokens["operator"], tokens["finance"]
    assert (
        upload(client, op, write_parquet(tmp_path / "may.parquet", may_rows())).status_code == 202
    )
    closed = client.post("/v1/months/2023-05/close", headers=bearer(fin))
    assert closed.status_code == 201, closed.text
    assert closed.json()["store_version"] == 1 and len(closed.json()["policy_digest"]) == 64
    frozen = {
        (who, fmt): _report(client, tokens[who], "2023-05", fmt)
        for who in ("finance", "operator")
        for fmt in ("json", "csv", "xlsx")
    }

    late = parcel("ZT555001", cst(2023, 5, 28, 9)) + parcel("ZT555002", cst(2023, 5, 29, 9))
    assert upload(client, op, write_parquet(tmp_path / "late.parquet", late)).status_code == 202

    for (who, fmt), before in frozen.items():
        assert _report(client, tokens[who], "2023-05", fmt) == before, (who, fmt)
    as_of_later = client.get(
        "/v1/reports/monthly?month=2023-05&as_of=2025-01-01", headers=bearer(fin)
    ).content
    assert as_of_later == frozen[("finance", "json")]

    june = client.get("/v1/reports/monthly?month=2023-06", headers=bearer(fin)).json()
    assert june["closed"] is None
    [line] = june["prior_period_adjustments"]
    assert (line["carrier"], line["period"]) == ("ZTO", "2023-05")
    assert (line["eligible_parcels"], line["subsidy_fen"], line["subsidy_yuan"]) == (2, 40, "0.40")
    assert june["adjustments_total"]["subsidy_fen"] == 40
    assert june["program_total_fen"] == june["totals"]["subsidy_fen"] + 40
    other = client.get(
        "/v1/reports/monthly?month=2023-06", headers=bearer(tokens["other_operator"])
    )
    assert other.json()["prior_period_adjustments"] == []


def test_an_adjustment_is_reported_once(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Once June (carrying May's adjustment) is closed, only later changes to May show up,
    in July."""
    op, fin = tokens["operator"], tokens["finance"]
    upload(client, op, write_parquet(tmp_path / "may.parquet", may_rows()))
    assert client.post("/v1/months/2023-05/close", headers=bearer(fin)).status_code == 201
    upload(client, op, write_parquet(tmp_path / "a.parquet", parcel("ZT6001", cst(2023, 5, 30))))
    assert client.post("/v1/months/2023-06/close", headers=bearer(fin)).status_code == 201
    june = client.get("/v1/reports/monthly?month=2023-06", headers=bearer(fin)).json()
    assert june["closed"] is not None
    assert [a["subsidy_fen"] for a in june["prior_period_adjustments"]] == [20]
    upload(client, op, write_parquet(tmp_path / "b.parquet", parcel("ZT6002", cst(2023, 5, 31))))
    july = client.get("/v1/reports/monthly?month=2023-07", headers=bearer(fin)).json()
    assert [(a["period"], a["subsidy_fen"]) for a in july["prior_period_adjustments"]] == [
        ("2023-05", 20)
    ]


def test_closing_rules(client: TestClient, tokens: dict[str, str]) -> None:
    """Closing twice is 409, and so is a month not over (well formed, possible later); the
    close is listed and audited."""
    fin = bearer(tokens["finance"])
    assert client.post("/v1/months/2023-03/close", headers=fin).status_code == 201
    twice = client.post("/v1/months/2023-03/close", headers=fin)
    assert twice.status_code == 409 and "already closed" in twice.json()["detail"]
    future = client.post("/v1/months/2099-01/close", headers=fin)
    assert future.status_code == 409 and "not over yet" in future.json()["detail"]
    bad = client.post("/v1/months/2023-13/close", headers=fin)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    listed = client.get("/v1/months", headers=bearer(tokens["auditor"])).json()
    assert [m["month"] for m in listed] == ["2023-03"]
    log = client.get("/v1/audit-log?action=month", headers=bearer(tokens["auditor"])).json()
    assert [(x["action"], x["target"]) for x in log["items"]] == [("month.closed", "month:2023-03")]
    assert "finance" in log["items"][0]["actor"]


def test_summary_uses_frozen_figures_and_adjustments(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A summary over a closed and an open month counts the late parcels once, as the
    adjustment of the open month."""
    op, fin = tokens["operator"], tokens["finance"]
    upload(client, op, write_parquet(tmp_path / "may.parquet", may_rows()))
    client.post("/v1/months/2023-05/close", headers=bearer(fin))
    upload(client, op, write_parquet(tmp_path / "a.parquet", parcel("ZT6001", cst(2023, 5, 30))))
    summary = client.get("/v1/reports/summary?from=2023-05&to=2023-06", headers=bearer(fin)).json()
    assert [m["closed"] for m in summary["months"]] == [True, False]
    assert summary["totals"]["subsidy_fen"] == 60
    assert summary["adjustments_total"]["subsidy_fen"] == 20
    assert summary["program_total_fen"] == 80


def test_a_close_builds_the_months_report_once(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /v1/months/{month}/close computes the live report once, the one it freezes."""
    built: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> MonthlyReport:
        built.append(args[2])
        return build_report(*args, **kwargs)

    monkeypatch.setattr(subsidy.report, "build_report", counted)
    assert (
        client.post("/v1/months/2023-03/close", headers=bearer(tokens["finance"])).status_code
        == 201
    )
    assert built == ["2023-03"]

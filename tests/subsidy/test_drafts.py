"""Report files (SPEC §10): the previous month's report as JSON, CSV and XLSX under reports/."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from core.policy import Policy
from core.store import Store
from subsidy.closing import close_month
from subsidy.drafts import previous_month, reports_dir, write_monthly_draft
from tests.factories import DAY, cst, ingest_rows, parcel, utc


@pytest.mark.parametrize(
    ("at", "month"),
    [
        pytest.param(cst(2024, 1, 15), "2023-12", id="january"),
        pytest.param(cst(2023, 3, 1), "2023-02", id="first-instant-of-march"),
        pytest.param(utc(2023, 5, 31, 16, 30), "2023-05", id="utc-may-31-is-june-1-in-jiyang"),
        pytest.param(utc(2023, 5, 31, 15, 59), "2023-04", id="utc-may-31-still-may-in-jiyang"),
    ],
)
def test_previous_month_is_the_asia_shanghai_month_before(at: datetime, month: str) -> None:
    assert previous_month(at) == month


def test_draft_is_rewritten_with_the_figures_of_a_later_run(store: Store, policy: Policy) -> None:
    ingest_rows(store, parcel("ZT7000000001", cst(2023, 5, 3, 10)), name="a.parquet")
    first = write_monthly_draft(store, policy, "2023-05", cst(2023, 6, 1, 2))
    ingest_rows(store, parcel("ZT7000000002", cst(2023, 5, 4, 10)), name="b.parquet")
    second = write_monthly_draft(store, policy, "2023-05", cst(2023, 6, 2, 2))
    assert first["files"] == second["files"]
    assert (first["totals"]["eligible_parcels"], second["totals"]["eligible_parcels"]) == (1, 2)
    folder = reports_dir(store, "2023-05")
    doc = json.loads((folder / "monthly-2023-05-draft.json").read_text(encoding="utf-8"))
    assert doc["totals"]["eligible_parcels"] == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "monthly-2023-05-draft.csv",
        "monthly-2023-05-draft.json",
        "monthly-2023-05-draft.xlsx",
    ]


def test_closed_month_is_written_as_its_frozen_report(store: Store, policy: Policy) -> None:
    ingest_rows(store, parcel("ZT7000000001", cst(2023, 5, 3, 10)), name="a.parquet")
    close_month(store, policy, "2023-05", actor="finance", now=cst(2023, 6, 20))
    ingest_rows(store, parcel("ZT7000000002", cst(2023, 5, 4, 10)), name="b.parquet")
    result = write_monthly_draft(store, policy, "2023-05", cst(2023, 6, 20) + DAY)
    assert result["closed"] is True and result["totals"]["eligible_parcels"] == 1
    folder = reports_dir(store, "2023-05")
    with store.connect() as db:
        (frozen,) = db.execute("SELECT report_json FROM closed_months").fetchone()
    assert (folder / "monthly-2023-05-closed.json").read_text(encoding="utf-8") == frozen

"""Months, dates and as_of in other digits than ASCII ``0-9`` are refused everywhere.

Python's ``\\d``, ``int()`` and ``date.fromisoformat`` read ``２０２４`` (full-width) and
``٢٠٢٤`` (Arabic-Indic) as 2024: before one parser (``core.timeutil``) read them all, a
full-width month answered an all-zero report, its CSV a 500, and closing it created a second,
empty closed month.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.store import Store
from tests.api.conftest import bearer, may_rows, upload
from tests.factories import write_parquet

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DIGITS = [pytest.param(FULL_WIDTH, id="full-width"), pytest.param(ARABIC_INDIC, id="arabic-indic")]


def _closed_months(store: Store) -> list[str]:
    with store.connect() as db:
        return [r[0] for r in db.execute("SELECT month FROM closed_months ORDER BY month")]


@pytest.mark.parametrize("digits", DIGITS)
@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/v1/reports/monthly?month={2023-05}", id="report-json"),
        pytest.param("/v1/reports/monthly?month={2023-05}&format=csv", id="report-csv"),
        pytest.param("/v1/reports/monthly?month={2023-05}&format=xlsx", id="report-xlsx"),
        pytest.param("/v1/reports/monthly?month=2023-05&as_of={2023-06-10}", id="report-as-of"),
        pytest.param("/v1/reports/summary?from={2023-05}&to=2023-05", id="summary-from"),
        pytest.param("/v1/reports/summary?from=2023-05&to={2023-05}", id="summary-to"),
        pytest.param("/v1/parcels/ZTO/ZT100000?as_of={2023-06-10}", id="parcel-as-of"),
    ],
)
def test_reads_refuse_other_digits(
    client: TestClient, tokens: dict[str, str], url: str, digits: dict[int, str]
) -> None:
    """Each read answers 422 naming the value and the ASCII form (never 200 zeros, never 500)."""
    head, rest = url.split("{", 1)
    value, tail = rest.split("}", 1)
    resp = client.get(head + value.translate(digits) + tail, headers=bearer(tokens["finance"]))
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "validation_error"
    assert value.translate(digits) in resp.json()["detail"]


@pytest.mark.parametrize("digits", DIGITS)
def test_closing_refuses_other_digits_and_closes_nothing(
    client: TestClient, store: Store, tokens: dict[str, str], tmp_path: Path, digits: dict[int, str]
) -> None:
    """``POST /v1/months/２０２３-05/close`` is 422 and leaves no closed month behind; the
    ASCII month then closes once."""
    upload(client, tokens["operator"], write_parquet(tmp_path / "may.parquet", may_rows()))
    fin = bearer(tokens["finance"])
    refused = client.post(f"/v1/months/{'2023-05'.translate(digits)}/close", headers=fin)
    assert refused.status_code == 422, refused.text
    assert "ASCII digits" in refused.json()["detail"]
    assert _closed_months(store) == []
    assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
    assert _closed_months(store) == ["2023-05"]


@pytest.mark.parametrize("digits", DIGITS)
def test_dates_of_awards_and_sites_refuse_other_digits(
    client: TestClient, tokens: dict[str, str], digits: dict[int, str]
) -> None:
    """An accreditation date and a site's active dates in other digits are 422, as JSON and
    as the registry's CSV; nothing is stored."""
    award = {
        "site_code": "JY-DC01",
        "accredited_on": "2023-03-01".translate(digits),
        "document_no": "济阳商务〔2023〕1号",
        "award_fen": 100,
    }
    resp = client.post("/v1/center-awards", headers=bearer(tokens["finance"]), json=award)
    assert resp.status_code == 422 and "not a date" in resp.json()["detail"], resp.text
    admin = bearer(tokens["admin"])
    before = client.get("/v1/sites", headers=admin).json()
    site = {"site_code": "C1", "name": "中心", "kind": "district_center"}
    as_json = client.put(
        "/v1/sites",
        headers=admin,
        json={"sites": [{**site, "active_from": "2021-01-01".translate(digits)}]},
    )
    assert as_json.status_code == 422 and "not a date" in as_json.json()["detail"]
    day = "2021-01-01".translate(digits)
    csv = f"site_code,name,kind,town,active_from,active_to\nC1,中心,district_center,,{day},\n"
    as_csv = client.put(
        "/v1/sites", headers={**admin, "Content-Type": "text/csv"}, content=csv.encode()
    )
    assert as_csv.status_code == 422 and "active_from is not a date" in as_csv.json()["detail"]
    assert client.get("/v1/sites", headers=admin).json() == before

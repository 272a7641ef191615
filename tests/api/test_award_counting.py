"""An award recorded after its accreditation month was closed counts once, in the next open
month, as a prior-period line (SPEC §7), through the HTTP API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import bearer, may_rows, upload
from tests.factories import write_parquet


def test_an_award_recorded_after_its_month_closed_counts_in_the_next_open_month(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """May is closed, then an award accredited in May is recorded: May's frozen report keeps
    its figures, June counts the award as a prior-period line, July lists it without adding
    it, and the summary May-July counts it once."""
    fin = bearer(tokens["finance"])
    assert (
        upload(
            client, tokens["operator"], write_parquet(tmp_path / "m.parquet", may_rows())
        ).status_code
        == 202
    )
    assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
    award = {
        "site_code": "JY-C01",
        "accredited_on": "2023-05-05",
        "document_no": "济阳商务〔2023〕5号",
        "award_fen": 30_000_000,
    }
    assert client.post("/v1/center-awards", headers=fin, json=award).status_code == 201

    def report(month: str) -> dict[str, object]:
        resp = client.get(f"/v1/reports/monthly?month={month}&as_of=2023-08-01", headers=fin)
        assert resp.status_code == 200
        return resp.json()  # type: ignore[no-any-return]

    may, june, july = report("2023-05"), report("2023-06"), report("2023-07")
    assert may["center_awards"] == [] and may["program_total_fen"] == 60
    [line] = june["center_awards"]  # type: ignore[misc]
    assert (line["counted"], line["prior_period"], line["counted_in"]) == (True, True, "2023-06")
    assert june["program_total_fen"] == 30_000_000
    [listed] = july["center_awards"]  # type: ignore[misc]
    assert (listed["counted"], july["program_total_fen"]) == (False, 0)
    summary = client.get(
        "/v1/reports/summary?from=2023-05&to=2023-07&as_of=2023-08-01", headers=fin
    ).json()
    assert summary["program_total_fen"] == 60 + 30_000_000

"""Site aliases through ``PUT /v1/sites`` (SPEC §3a): JSON lists and the CSV's ``|`` column."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import bearer, upload
from tests.factories import SITES


def _json_sites(aliases: dict[str, list[str]]) -> dict[str, object]:
    return {
        "sites": [
            {
                **{k: v for k, v in s.items() if k != "active_to"},
                "town": s["town"],
                "active_to": s["active_to"] or None,
                "aliases": aliases.get(s["site_code"], []),
            }
            for s in SITES
        ]
    }


def test_aliases_by_json_and_csv_and_scans_by_alias_are_stored_as_codes(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    admin = bearer(tokens["admin"])
    put = client.put("/v1/sites", headers=admin, json=_json_sites({"JY-C01": ["济阳分拨"]}))
    assert put.status_code == 200, put.text
    listed = {
        s["site_code"]: s["aliases"] for s in client.get("/v1/sites", headers=admin).json()["sites"]
    }
    assert listed["JY-C01"] == ["济阳分拨"] and listed["JY-H01"] == []
    clash = client.put(
        "/v1/sites", headers=admin, json=_json_sites({"JY-C01": ["X"], "JY-H01": ["X"]})
    )
    assert clash.status_code == 422 and "names more than one site" in clash.json()["detail"]
    header = "site_code,name,kind,town,active_from,active_to,aliases\n"
    body = header + "".join(
        f"{s['site_code']},{s['name']},{s['kind']},{s['town']},{s['active_from']},"
        f"{s['active_to']},{'仁风站|仁风' if s['site_code'] == 'JY-H01' else ''}\n"
        for s in SITES
    )
    put = client.put(
        "/v1/sites", headers={**admin, "Content-Type": "text/csv"}, content=body.encode()
    )
    assert put.status_code == 200, put.text
    listed = {
        s["site_code"]: s["aliases"] for s in client.get("/v1/sites", headers=admin).json()["sites"]
    }
    assert (listed["JY-H01"], listed["JY-C01"]) == (["仁风站", "仁风"], [])
    path = tmp_path / "named.csv"
    path.write_text(
        "运单号,扫描类型,扫描网点,扫描时间\n"
        "ZT0000000001,发件,济阳区级配送中心,2023-05-01 08:00:00\n"
        "ZT0000000001,到件,仁风,2023-05-02 08:00:00\n",
        encoding="utf-8",
    )
    sent = upload(client, tokens["operator"], path)
    op = bearer(tokens["operator"])
    status = client.get(f"/v1/uploads/{sent.json()['id']}", headers=op).json()
    assert (status["accepted"], status["rejected"]) == (2, 0)
    parcel = client.get("/v1/parcels/ZTO/ZT0000000001?as_of=2023-06-30", headers=op)
    assert parcel.status_code == 200, parcel.text
    assert parcel.json()["status"] == "eligible", parcel.text

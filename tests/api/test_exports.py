"""Couriers' real exports through the API (SPEC §3a): a header-only CSV is 422 at upload; a
wrong carrier's file is refused whole with the SPEC's words, then the right carrier's upload
of the same bytes is ingested."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import bearer, upload


def test_header_only_csv_is_422_at_upload(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("中通快递扫描明细\n运单号,扫描类型,扫描网点,扫描时间\n", encoding="utf-8")
    resp = upload(client, tokens["operator"], path)
    assert resp.status_code == 422, resp.text
    assert "no data rows" in resp.json()["detail"]


def test_wrong_carriers_export_refused_then_accepted_for_the_right_carrier(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    lines = ["快递公司,运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"圆通,YT{i:010d},发件扫描,JY-C01,2023-05-03 10:00:00" for i in range(40)]
    path = tmp_path / "yto.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    zto = upload(client, tokens["operator"], path)
    assert zto.status_code == 202, zto.text
    status = client.get(f"/v1/uploads/{zto.json()['id']}", headers=bearer(tokens["operator"]))
    body = status.json()
    assert body["status"] == "refused"
    assert "40 of 40 rows name carrier YTO; is this YTO's export?" in body["error"]
    yto = upload(client, tokens["other_operator"], path)
    assert yto.status_code == 202, yto.text
    assert yto.json()["id"] != zto.json()["id"]
    done = client.get(f"/v1/uploads/{yto.json()['id']}", headers=bearer(tokens["other_operator"]))
    assert (done.json()["status"], done.json()["accepted"]) == ("ingested", 40)

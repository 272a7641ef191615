"""Couriers' real exports through the API (SPEC §3a): a header-only CSV is 422 at upload; a
wrong carrier's file is refused whole with the SPEC's words, then the right carrier's upload
of the same bytes is ingested."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient

from core.policy import Policy
from core.store import Store
from ingest.inbox import inbox_dir, ingest_inbox
from tests.api.conftest import bearer, upload
from tests.factories import NOW


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


def test_dry_run_previews_with_the_spec_keys_and_stores_nothing(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Always 200, exactly SPEC §3a's keys; then the real upload; then the preview says it is
    already uploaded and counts every row a duplicate."""
    lines = ["J&T 扫描明细", "运单号,扫描类型,扫描网点,扫描日期,扫描时间"]
    lines += [f"ZT{i:010d},发件扫描,JY-C01,2023-05-03,10:00:00" for i in range(6)]
    lines += ["ZT9000000001,中转扫描,JY-C01,2023-05-03,10:00:00"]
    path = tmp_path / "jt.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    op = bearer(tokens["operator"])
    files = {"file": ("jt.csv", path.read_bytes(), "text/csv")}
    first = client.post("/v1/uploads?dry_run=true", headers=op, files=files)
    assert first.status_code == 200, first.text
    body = first.json()
    assert list(body) == [
        "format", "header_row", "columns", "rows_read", "accepted", "duplicates", "rejected",
        "unmatched_words", "refusal", "already_uploaded",
    ]  # fmt: skip
    assert (body["format"], body["header_row"], body["rows_read"], body["accepted"]) == (
        "csv",
        2,
        7,
        6,
    )
    assert body["columns"]["scan_time"] == "扫描日期 + 扫描时间"
    assert body["rejected"]["unknown_scan_type"]["count"] == 1
    assert body["rejected"]["unknown_scan_type"]["examples"][0]["row_no"] == 7
    assert body["unmatched_words"] == {"中转扫描": 1}
    assert (body["refusal"], body["already_uploaded"]) == (None, None)
    assert client.get("/v1/uploads", headers=op).json()["items"] == []
    real = upload(client, tokens["operator"], path)
    assert real.status_code == 202
    again = client.post("/v1/uploads?dry_run=true", headers=op, files=files).json()
    assert (again["already_uploaded"], again["accepted"], again["duplicates"]) == (
        real.json()["id"],
        0,
        6,
    )
    other = client.post(
        "/v1/uploads?dry_run=true", headers=bearer(tokens["other_operator"]), files=files
    ).json()  # another carrier's operator learns nothing of ZTO's upload
    assert other["already_uploaded"] is None
    assert "already on record and cannot be an upload of YTO" in other["refusal"]
    assert str(real.json()["id"]) not in other["refusal"]
    junk = {"file": ("x.bin", b"\x00\x01binary", "application/octet-stream")}
    refused = client.post("/v1/uploads?dry_run=true", headers=op, files=junk)
    assert refused.status_code == 200
    assert "binary data" in refused.json()["refusal"]


def test_rejudge_by_the_uploads_operator_after_an_admin_maps_the_word(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"ZT{i:010d},发件,JY-C01,2023-05-03 10:00:00" for i in range(3)]
    lines += [f"ZT{i:010d},中转到达,JY-H01,2023-05-03 18:00:00" for i in range(2)]
    path = tmp_path / "zto.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    uid = upload(client, tokens["operator"], path).json()["id"]
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    word = {"word": "中转到达", "scan_type": "arrive", "carrier": "ZTO"}
    assert client.post("/v1/scan-words", headers=admin, json=word).status_code == 201
    url = f"/v1/uploads/{uid}/rejudge"
    assert (
        client.post(url, headers=bearer(tokens["finance"]), json={"reason": "x"}).status_code == 403
    )
    assert (
        client.post(url, headers=bearer(tokens["other_operator"]), json={"reason": "x"}).status_code
        == 404
    )
    assert client.post(url, headers=op, json={}).status_code == 422
    done = client.post(url, headers=op, json={"reason": "中转到达 is an arrival"})
    assert done.status_code == 200, done.text
    assert (done.json()["accepted"], done.json()["rejected"]) == (5, 0)
    assert done.json() == client.get(f"/v1/uploads/{uid}", headers=op).json()
    log = client.get("/v1/audit-log?action=upload.rejudged", headers=admin).json()["items"]
    assert log and "中转到达 is an arrival" in str(log[0]["new_value"])


def test_inbox_refusals_are_in_the_upload_list_with_their_reason(
    client: TestClient, tokens: dict[str, str], tmp_path: Path, store: Store, policy: Policy
) -> None:
    """A wrong carrier's export dropped in ZTO's inbox is refused; ZTO's operator sees it in
    GET /v1/uploads and the console's list with the reason; YTO's inbox then ingests it."""
    lines = ["快递公司,运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"圆通,YT{i:010d},发件,JY-C01,2023-05-03 10:00:00" for i in range(10)]
    data = ("\n".join(lines) + "\n").encode()
    for folder in ("ZTO", "YTO"):
        path = inbox_dir(store) / folder / "export.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (NOW.timestamp() - 60, NOW.timestamp() - 60))
        ingest_inbox(store, policy, now=NOW)
    mine = client.get("/v1/uploads", headers=bearer(tokens["operator"])).json()["items"]
    assert [(u["status"], u["source"]) for u in mine] == [("refused", "inbox")]
    assert "is this YTO's export?" in mine[0]["error"]
    theirs = client.get("/v1/uploads", headers=bearer(tokens["other_operator"])).json()["items"]
    assert [(u["status"], u["accepted"]) for u in theirs] == [("ingested", 10)]

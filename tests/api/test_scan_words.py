"""``/v1/scan-words`` (SPEC §3a): everyone reads, an admin adds and removes; audited."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import bearer, upload


def test_admin_adds_and_removes_words_others_only_read(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    admin, op = bearer(tokens["admin"]), bearer(tokens["operator"])
    listed = client.get("/v1/scan-words", headers=op)
    assert listed.status_code == 200
    defaults = [w for w in listed.json()["words"] if w["default"]]
    assert {"id": None, "word": "快件签收", "scan_type": "sign", "carrier": None} in [
        {k: w[k] for k in ("id", "word", "scan_type", "carrier")} for w in defaults
    ]
    body = {"word": "中转扫描", "scan_type": "depart", "carrier": None}
    assert client.post("/v1/scan-words", headers=op, json=body).status_code == 403
    created = client.post("/v1/scan-words", headers=admin, json=body)
    assert created.status_code == 201, created.text
    word = created.json()
    assert (word["word"], word["default"], isinstance(word["id"], int)) == ("中转扫描", False, True)
    assert client.post("/v1/scan-words", headers=admin, json=body).status_code == 409
    bad = {"word": "x", "scan_type": "depart", "carrier": "NOPE"}
    assert client.post("/v1/scan-words", headers=admin, json=bad).status_code == 422
    path = tmp_path / "jt.csv"
    path.write_text(
        "运单号,扫描类型,扫描网点,扫描时间\nJT0000000001,中转扫描,JY-C01,2023-05-01 08:00:00\n",
        encoding="utf-8",
    )
    sent = upload(client, tokens["operator"], path)
    status = client.get(f"/v1/uploads/{sent.json()['id']}", headers=op).json()
    assert (status["accepted"], status["rejected"]) == (1, 0)
    assert client.delete(f"/v1/scan-words/{word['id']}", headers=op).status_code == 403
    assert client.delete(f"/v1/scan-words/{word['id']}", headers=admin).status_code == 204
    assert client.delete(f"/v1/scan-words/{word['id']}", headers=admin).status_code == 404
    log = client.get("/v1/audit-log", headers=admin).json()
    actions = [e["action"] for e in log["items"]]
    assert "scan_word.added" in actions and "scan_word.removed" in actions

"""Uploads through the console: the same streaming, limits, refusals and scoping as the API."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.console.conftest import Seeded, june_rows, sign_in
from tests.factories import write_parquet


def _june(tmp_path: Path) -> bytes:
    return write_parquet(tmp_path / "june.parquet", june_rows()).read_bytes()


def test_a_plain_form_upload_lands_on_its_page_ingested_with_its_rejects(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    """Without the script: the token in the query, the file streamed, then the upload page."""
    csrf = sign_in(client, seeded.tokens["operator"])
    answer = client.post(
        f"/console/uploads?csrf={csrf}",
        files={"file": ("中通-06.parquet", _june(tmp_path), "application/octet-stream")},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"]).text
    assert 'data-status="ingested"' in page
    assert re.findall(r'data-row="(\d+)" data-reason="(\w+)"', page) == [
        ("10", "bad_waybill"),
        ("11", "unknown_scan_type"),
    ]
    assert "中通-06.parquet" in page


def test_the_script_upload_gets_the_apis_answer_and_the_same_bytes_twice_count_once(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    csrf = sign_in(client, seeded.tokens["operator"])
    headers = {"accept": "application/json", "x-csrf-token": csrf}
    files = {"file": ("june.parquet", _june(tmp_path), "application/octet-stream")}
    first = client.post("/console/uploads", files=files, headers=headers)
    assert first.status_code == 202
    assert first.json()["duplicate"] is False
    again = client.post("/console/uploads", files=files, headers=headers)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]


def test_a_refused_file_says_why_as_json_for_the_script_and_as_a_page_otherwise(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["operator"])
    files = {"file": ("junk.parquet", b"this is not parquet", "application/octet-stream")}
    scripted = client.post(
        "/console/uploads",
        files=files,
        headers={"accept": "application/json", "x-csrf-token": csrf},
    )
    assert scripted.status_code == 422
    assert scripted.json()["code"] == "file_refused"
    plain = client.post(f"/console/uploads?csrf={csrf}", files=files)
    assert plain.status_code == 422
    assert "<html" in plain.text
    # the same bytes are judged afresh (refused bytes claim nothing, SPEC §3a): refused alike
    assert "missing column" in plain.text or "缺少" in plain.text, plain.text
    listing = client.get("/console/uploads?status=refused").text
    assert 'data-status="refused"' in listing


def test_staff_cannot_upload_and_see_every_carriers_uploads(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    answer = client.post(
        "/console/uploads",
        files={"file": ("june.parquet", _june(tmp_path), "application/octet-stream")},
        headers={"accept": "application/json", "x-csrf-token": csrf},
    )
    assert answer.status_code == 403
    listing = client.get("/console/uploads").text
    assert sorted(map(int, re.findall(r'data-upload="(\d+)"', listing))) == [1, 2, 3]
    assert 'id="upload-form"' not in listing
    only_jt = client.get("/console/uploads?carrier=JT").text
    assert re.findall(r'data-upload="(\d+)"', only_jt) == [str(seeded.uploads["JT"])]


def test_the_rejects_download_is_the_apis_csv(
    client: TestClient, seeded: Seeded, tmp_path: Path
) -> None:
    csrf = sign_in(client, seeded.tokens["operator"])
    created = client.post(
        "/console/uploads",
        files={"file": ("june.parquet", _june(tmp_path), "application/octet-stream")},
        headers={"accept": "application/json", "x-csrf-token": csrf},
    ).json()
    mine = client.get(f"/console/uploads/{created['id']}/rejects.csv")
    api = client.get(
        f"/v1/uploads/{created['id']}/rejects",
        params={"format": "csv"},
        headers={"Authorization": f"Bearer {seeded.tokens['operator']}"},
    )
    assert mine.status_code == 200
    assert mine.content == api.content
    assert b"bad_waybill" in mine.content

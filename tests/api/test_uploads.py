"""POST /v1/uploads and the upload ledger: streaming, limits, refusals, duplicates, rejects."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.policy import load_policy
from core.store import Store
from ingest.uploads import ingest_file, stored_file
from tests.api.conftest import LIMIT, bearer, may_rows, upload
from tests.factories import cst, parcel, write_parquet

CHUNK = 64 * 1024


def test_new_file_is_accepted_then_ingested_in_the_background(
    client: TestClient, tokens: dict[str, str], zto_may: Path
) -> None:
    """202 with id, sha256, status and duplicate false; then the ledger shows the statistics."""
    resp = upload(client, tokens["operator"], zto_may)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "received" and body["duplicate"] is False
    assert len(body["sha256"]) == 64 and body["carrier"] == "ZTO"
    done = client.get(f"/v1/uploads/{body['id']}", headers=bearer(tokens["operator"])).json()
    assert done["status"] == "ingested"
    assert done["rows_read"] == len(may_rows())
    assert done["rejected"] == 1 and done["rejected_by_reason"] == {"bad_waybill": 1}
    assert done["accepted"] == len(may_rows()) - 1 and done["duplicates"] == 0


def test_same_bytes_again_answer_200_with_the_first_upload(
    client: TestClient, tokens: dict[str, str], zto_may: Path
) -> None:
    """The same bytes, under any name, are the first upload again: 200, duplicate true."""
    first = upload(client, tokens["operator"], zto_may).json()
    again = upload(client, tokens["operator"], zto_may, name="renamed.parquet")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first["id"] and again.json()["status"] == "ingested"
    listed = client.get("/v1/uploads", headers=bearer(tokens["operator"])).json()["items"]
    assert len(listed) == 1


def test_same_bytes_from_another_carrier_are_a_conflict_that_tells_nothing(
    client: TestClient, tokens: dict[str, str], zto_may: Path
) -> None:
    """Bytes first uploaded by ZTO, sent by YTO: 409 without the first upload's id or carrier."""
    first = upload(client, tokens["operator"], zto_may).json()
    resp = upload(client, tokens["other_operator"], zto_may)
    assert resp.status_code == 409
    assert str(first["id"]) not in resp.json()["detail"]
    assert "ZTO" not in resp.json()["detail"]


async def _post_stream(app: FastAPI, token: str, total: int) -> tuple[int, int, dict[str, str]]:
    """POST a multipart body of ``total`` file bytes, produced lazily; returns the status, how
    many body bytes the app pulled, and the answer."""
    boundary = "sizeLimitBoundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.parquet"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        pulled += len(head)
        yield head
        sent = 0
        while sent < total:
            chunk = b"\x07" * min(CHUNK, total - sent)
            sent += len(chunk)
            pulled += len(chunk)
            yield chunk
        pulled += len(tail)
        yield tail

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        resp = await client.post(
            "/v1/uploads",
            content=body(),
            headers={**bearer(token), "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    return resp.status_code, pulled, resp.json()


def test_upload_over_the_limit_is_refused_while_streaming(
    app: FastAPI, store: Store, tokens: dict[str, str]
) -> None:
    """A body 64 times the limit, without Content-Length: 413 once the limit is passed; the
    server pulls about the limit, its memory stays far below the body, no scratch file stays.
    """
    total = 64 * LIMIT
    tracemalloc.start()
    try:
        status, pulled, body = asyncio.run(_post_stream(app, tokens["operator"], total))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413, body
    assert body["code"] == "file_too_large" and "upload limit" in body["detail"]
    assert pulled <= LIMIT + 4 * CHUNK
    assert peak < total // 8
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.files_dir.rglob("*")) == []


def test_declared_length_over_the_limit_is_refused_before_reading(
    client: TestClient, store: Store, tokens: dict[str, str]
) -> None:
    """A Content-Length over the limit is 413 at once; nothing is written."""
    resp = client.post(
        "/v1/uploads",
        headers={**bearer(tokens["operator"])},
        files={"file": ("big.parquet", b"\x00" * (LIMIT + 128 * 1024))},
    )
    assert resp.status_code == 413
    assert list(store.tmp_dir.iterdir()) == []


def test_a_file_just_under_the_limit_is_taken(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """The limit is on the file's bytes: a file of exactly the limit is not refused as too large."""
    path = tmp_path / "exact.csv"
    header = b"waybill_no,scan_type,site_code,scan_time\n"
    line = b"ZT12345678,depart,JY-C01,2023-05-03 10:00:00\n"
    lines = (LIMIT - len(header)) // len(line)
    data = header + line * lines
    data += b" " * (LIMIT - len(data))
    path.write_bytes(data)
    resp = upload(client, tokens["operator"], path)
    assert resp.status_code == 202, resp.text


def _truncated_parquet(tmp_path: Path) -> Path:
    good = write_parquet(tmp_path / "good.parquet", may_rows())
    raw = good.read_bytes()
    path = tmp_path / "truncated.parquet"
    path.write_bytes(raw[: len(raw) // 2])
    return path


def test_corrupt_files_are_refused_whole_with_a_clear_detail(
    client: TestClient, store: Store, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Not Parquet nor CSV, a truncated Parquet, a missing column: 422 saying what is wrong;
    each is kept with status refused, and the same bytes again are judged afresh (SPEC §3a:
    refused bytes claim nothing), refused again as a new upload."""
    binary = tmp_path / "photo.parquet"
    binary.write_bytes(bytes(range(256)) * 40)
    no_time = tmp_path / "no-time.parquet"
    pq.write_table(pa.table({"waybill_no": ["ZT1234567"], "scan_type": ["depart"]}), no_time)
    cases = {
        binary: "neither Parquet nor CSV",
        _truncated_parquet(tmp_path): "truncated",
        no_time: "missing column site_code (网点编码), scan_time (扫描时间)",
    }
    for path, words in cases.items():
        resp = upload(client, tokens["operator"], path)
        assert resp.status_code == 422, resp.text
        assert resp.json()["code"] == "file_refused"
        assert words in resp.json()["detail"], resp.json()["detail"]
        again = upload(client, tokens["operator"], path)
        assert again.status_code == 422 and words in again.json()["detail"]
    refused = client.get("/v1/uploads?status=refused", headers=bearer(tokens["finance"])).json()
    assert len(refused["items"]) == 6  # each file twice
    assert all(u["error"] for u in refused["items"])
    assert list(store.tmp_dir.iterdir()) == []


def test_empty_file_is_refused(client: TestClient, tokens: dict[str, str], tmp_path: Path) -> None:
    """An empty file is 422 'the file is empty'."""
    path = tmp_path / "empty.parquet"
    path.write_bytes(b"")
    resp = upload(client, tokens["operator"], path)
    assert resp.status_code == 422
    assert "empty" in resp.json()["detail"]


def test_client_file_name_never_names_anything_on_disk(
    client: TestClient, store: Store, tokens: dict[str, str], zto_may: Path, tmp_path: Path
) -> None:
    """A file named ../../etc/passwd is kept only under DIR/files/ by its SHA-256; the name
    is only a label."""
    resp = upload(client, tokens["operator"], zto_may, name="../../etc/passwd")
    assert resp.status_code == 202
    sha = resp.json()["sha256"]
    assert resp.json()["filename"] == "passwd"
    kept = stored_file(store, sha)
    assert kept.read_bytes() == zto_may.read_bytes()
    assert kept.parent.parent == store.files_dir
    on_disk = [p for p in tmp_path.rglob("*") if p.is_file() and "passwd" in p.name]
    assert on_disk == []
    assert list(store.tmp_dir.iterdir()) == []


def test_a_body_without_the_file_field_is_422(client: TestClient, tokens: dict[str, str]) -> None:
    """Multipart without 'file', or no multipart at all: 422 with how to send it."""
    other = client.post(
        "/v1/uploads", headers=bearer(tokens["operator"]), files={"data": ("x", b"abc")}
    )
    assert other.status_code == 422 and "'file'" in other.json()["detail"]
    raw = client.post("/v1/uploads", headers=bearer(tokens["operator"]), content=b"abc")
    assert raw.status_code == 422 and "multipart/form-data" in raw.json()["detail"]


def test_rejects_in_json_pages_and_as_csv(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """Rejected rows come with row number and reason, a page at a time or all as CSV."""
    rows = parcel("ZT7000001", cst(2023, 5, 3, 8))
    for i in range(5):
        rows.append(
            {"waybill_no": f"x{i}", "scan_type": "depart", "site_code": "JY-C01",
             "scan_time": cst(2023, 5, 3)}
        )  # fmt: skip
    for i in range(2):  # valid rows after the rejects: the file is not mostly rejected
        rows += parcel(f"ZT700001{i}", cst(2023, 5, 4, 8))
    path = write_parquet(tmp_path / "bad-rows.parquet", rows)
    uid = upload(client, tokens["operator"], path).json()["id"]
    first = client.get(
        f"/v1/uploads/{uid}/rejects?limit=2", headers=bearer(tokens["operator"])
    ).json()
    assert first["rejected"] == 5
    assert [r["row_no"] for r in first["items"]] == [4, 5]
    assert first["items"][0]["reason"] == "bad_waybill" and first["items"][0]["waybill_no"] == "x0"
    rest = client.get(
        f"/v1/uploads/{uid}/rejects?limit=100&after={first['next_after']}",
        headers=bearer(tokens["operator"]),
    ).json()
    assert [r["row_no"] for r in rest["items"]] == [6, 7, 8] and rest["next_after"] is None
    resp = client.get(f"/v1/uploads/{uid}/rejects?format=csv", headers=bearer(tokens["auditor"]))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(resp.text)))
    assert [int(r["row_no"]) for r in table] == [4, 5, 6, 7, 8]
    assert {r["reason"] for r in table} == {"bad_waybill"}


def test_every_upload_is_in_the_audit_log(
    client: TestClient, tokens: dict[str, str], zto_may: Path
) -> None:
    """Receiving and ingesting an upload are audit log lines naming the uploader."""
    uid = upload(client, tokens["operator"], zto_may).json()["id"]
    log = client.get("/v1/audit-log?action=upload", headers=bearer(tokens["auditor"])).json()
    lines = [(x["action"], x["target"]) for x in log["items"]]
    assert ("upload.received", f"upload:{uid}") in lines
    assert ("upload.ingested", f"upload:{uid}") in lines
    received = next(x for x in log["items"] if x["action"] == "upload.received")
    assert "operator" in received["actor"]


def test_damage_found_only_in_the_rows_ends_as_status_refused(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A Parquet file whose metadata is sound but whose data pages are damaged passes the
    check made before answering (202); reading its rows then refuses it, and its status says
    why."""
    path = write_parquet(tmp_path / "good.parquet", may_rows(), write_page_checksum=True)
    raw = bytearray(path.read_bytes())
    footer = int.from_bytes(raw[-8:-4], "little")
    for i in range(8, len(raw) - footer - 8, 7):
        raw[i] ^= 0xFF
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(raw))
    resp = upload(client, tokens["operator"], damaged)
    assert resp.status_code == 202, resp.text
    done = client.get(f"/v1/uploads/{resp.json()['id']}", headers=bearer(tokens["operator"]))
    assert done.json()["status"] == "refused"
    assert "damaged" in done.json()["error"]


def test_a_file_refused_from_its_metadata_is_answered_without_an_ingest(
    client: TestClient, store: Store, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A file the quick check refuses is answered 422 with the reason an ingest would give
    (the CLI's, on the same bytes), recorded refused and kept, while another ingest holds the
    store's writer lock: nothing on the request's path waits for an ingest."""
    no_time = tmp_path / "no-time.parquet"
    pq.write_table(pa.table({"waybill_no": ["ZT1234567"], "scan_type": ["depart"]}), no_time)
    elsewhere = Store(tmp_path / "elsewhere").init()
    ingested = ingest_file(elsewhere, no_time, load_policy(), carrier="ZTO", now=cst(2023, 6, 1))
    answers: list[httpx.Response] = []
    with store.writer_lock():  # an ingest in progress
        worker = threading.Thread(
            target=lambda: answers.append(upload(client, tokens["operator"], no_time))
        )
        worker.start()
        worker.join(timeout=15)
        waited = worker.is_alive()
    worker.join()
    assert not waited, "the upload waited for the writer lock: it ran an ingest"
    [resp] = answers
    assert resp.status_code == 422 and resp.json()["code"] == "file_refused"
    assert resp.json()["detail"] == f"{ingested.error} (upload {_newest_upload_id(client, tokens)})"
    kept = client.get("/v1/uploads?status=refused", headers=bearer(tokens["finance"])).json()
    [refused] = kept["items"]
    assert refused["error"] == ingested.error and refused["rows_read"] == 0
    assert stored_file(store, refused["sha256"]).read_bytes() == no_time.read_bytes()


def _newest_upload_id(client: TestClient, tokens: dict[str, str]) -> int:
    """The id of the newest upload."""
    items = client.get("/v1/uploads", headers=bearer(tokens["finance"])).json()["items"]
    return int(items[0]["id"])

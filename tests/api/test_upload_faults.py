"""A network cut is not a file, and a full disk is not the client's fault: a multipart body
cut off is refused 422 ``incomplete_upload`` with nothing recorded; a scratch file that cannot
be written answers 503 ``store_unavailable`` and leaves nothing behind."""

from __future__ import annotations

import asyncio
import errno
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.errors import ApiError
from api.upload_stream import receive_file
from core.store import Store
from tests.api.conftest import bearer

BOUNDARY = "cutBoundary"
HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
    "Content-Type: text/csv\r\n\r\n"
).encode()
CSV = (
    b"waybill_no,scan_type,site_code,scan_time\r\n"
    b"ZT7000000001,depart,JY-C01,2023-05-01 10:00:00\r\n"
)
TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def _request(chunks: list[bytes], declared: int | None) -> Request:
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/v1/uploads", "headers": headers}
    return Request(scope, receive)


def _receive(chunks: list[bytes], declared: int | None, tmp: Path, **kw: Any) -> Any:
    return asyncio.run(receive_file(_request(chunks, declared), tmp_dir=tmp, limit=10**6, **kw))


def test_a_whole_body_is_received(tmp_path: Path) -> None:
    body = HEAD + CSV + TAIL
    got = _receive([body[:50], body[50:]], len(body), tmp_path)
    assert got.path.read_bytes() == CSV


@pytest.mark.parametrize(
    ("chunks", "declared", "why"),
    [
        pytest.param([HEAD + CSV], None, "no closing boundary", id="no-closing-boundary"),
        pytest.param(
            [HEAD + CSV[:-20]], len(HEAD + CSV + TAIL), "bytes announced", id="short-of-length"
        ),
        pytest.param([HEAD + CSV + TAIL[:5]], None, "no closing boundary", id="cut-in-boundary"),
    ],
)
def test_a_body_cut_off_is_an_incomplete_upload(
    tmp_path: Path, chunks: list[bytes], declared: int | None, why: str
) -> None:
    with pytest.raises(ApiError) as refused:
        _receive(chunks, declared, tmp_path)
    assert (refused.value.status, refused.value.code) == (422, "incomplete_upload")
    assert why in refused.value.detail
    assert list(tmp_path.iterdir()) == []  # the partial scratch file is gone


def test_a_full_disk_while_receiving_is_503_and_leaves_nothing(tmp_path: Path) -> None:
    class Full(io.FileIO):
        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    body = HEAD + CSV + TAIL
    with pytest.raises(ApiError) as failed:
        _receive([body], len(body), tmp_path, opener=lambda p: Full(p, "wb"))
    assert (failed.value.status, failed.value.code) == (503, "store_unavailable")
    assert list(tmp_path.iterdir()) == []


def test_the_route_refuses_a_cut_body_and_records_nothing(
    client: TestClient, tokens: dict[str, str], store: Store
) -> None:
    resp = client.post(
        "/v1/uploads",
        content=HEAD + CSV,
        headers={
            **bearer(tokens["operator"]),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "incomplete_upload"
    listed = client.get("/v1/uploads", headers=bearer(tokens["admin"])).json()["items"]
    assert listed == []
    assert not any(store.tmp_dir.rglob("*.part"))

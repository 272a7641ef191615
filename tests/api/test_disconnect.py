"""A client that disconnects mid-upload is an ordinary event: one log line, no trace, no
error escaping the app (which the server would log again), nothing left in the store."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi import FastAPI

from core.store import Store

BOUNDARY = "XBOUNDARY"


def _upload_cut_short(app: FastAPI, token: str) -> list[dict[str, Any]]:
    """Run ``POST /v1/uploads`` straight on the ASGI app: the client announces 250 kB, sends
    120 kB in pieces, then disconnects. Returns what the app sent back."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
    ).encode()
    pieces = [head] + [b"waybill_no,scan_type,site_code,scan_time\n" * 1000] * 3
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/uploads",
        "raw_path": b"/v1/uploads",
        "query_string": b"",
        "root_path": "",
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"test"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", b"250000"),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_disconnect_mid_upload_is_one_line_and_leaves_nothing(
    app: FastAPI, store: Store, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _upload_cut_short(app, tokens["operator"])  # raises nothing: the app handled it
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    [line] = lines
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert line.getMessage() == (
        "client 10.1.2.3 disconnected during POST /v1/uploads; the request was dropped"
    )
    assert list(store.tmp_dir.iterdir()) == []
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0

"""The API served by uvicorn on a free loopback port, driven over real HTTP by httpx: upload,
poll until ingested, and the report's figures equal the CLI's for the same files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from tests.api.conftest import LIMIT, bearer, make_tokens, may_rows
from tests.factories import SITES, cst, make_store, parcel, write_parquet, write_sites_csv

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2023-07-01T00:00:00+08:00"


@pytest.fixture
def live(store: Store) -> Iterator[str]:
    """uvicorn serving the app in a thread on 127.0.0.1:<free port>; stopped afterwards."""
    app = create_app(store.root, settings=Settings(max_upload_bytes=LIMIT))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive()


def _wait_ingested(client: httpx.Client, token: str, upload_id: int) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        body = client.get(f"/v1/uploads/{upload_id}", headers=bearer(token)).json()
        if body["status"] in ("ingested", "refused"):
            return body
        assert time.monotonic() < deadline, f"upload {upload_id} still {body['status']}"
        time.sleep(0.05)


def _cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_upload_poll_report_over_http_equals_the_cli(
    live: str, store: Store, policy: Policy, tmp_path: Path
) -> None:
    """Two operators upload over HTTP; once ingested, the API's report for May 2023 has the
    same carriers, totals and program total as `parcel-subsidy report --format json` computed
    by the CLI from the same files in another data dir."""
    tokens = make_tokens(store, policy)
    files = {
        "ZTO": write_parquet(
            tmp_path / "zto.parquet", may_rows() + parcel("ZT777001", cst(2023, 5, 31, 23))
        ),
        "YTO": write_parquet(tmp_path / "yto.parquet", may_rows("YTO", "YT")),
    }
    callers = {"ZTO": "operator", "YTO": "other_operator"}
    with httpx.Client(base_url=live, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        for carrier, path in files.items():
            token = tokens[callers[carrier]]
            with path.open("rb") as fh:
                resp = client.post(
                    "/v1/uploads", headers=bearer(token), files={"file": (path.name, fh)}
                )
            assert resp.status_code == 202, resp.text
            done = _wait_ingested(client, token, resp.json()["id"])
            assert done["status"] == "ingested"
        report = client.get(
            "/v1/reports/monthly",
            params={"month": "2023-05", "as_of": AS_OF},
            headers=bearer(tokens["auditor"]),
        )
        assert report.status_code == 200
        api = report.json()
        xlsx = client.get(
            "/v1/reports/monthly",
            params={"month": "2023-05", "as_of": AS_OF, "format": "xlsx"},
            headers=bearer(tokens["finance"]),
        )
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    cli_dir = make_store(tmp_path / "cli-data", None).root
    _cli(cli_dir, "sites", "import", str(write_sites_csv(tmp_path / "sites.csv", SITES)))
    for carrier, path in files.items():
        _cli(cli_dir, "ingest", str(path), "--carrier", carrier)
    cli = json.loads(
        _cli(cli_dir, "report", "--month", "2023-05", "--as-of", AS_OF, "--format", "json")
    )

    assert api["carriers"] == cli["carriers"]
    assert api["totals"] == cli["totals"]
    assert api["as_of"] == cli["as_of"] and api["month"] == cli["month"]
    assert api["program_total_fen"] == cli["program_total_fen"]
    assert [r["eligible_parcels"] for r in api["carriers"]] == [3, 4]


def _peak_rss(pid: int) -> int:
    """A process's high-water resident memory in bytes (``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]) * 1024


def test_large_uploads_stream_to_disk_without_growing_the_servers_memory(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """The real `parcel-subsidy serve` process: a 256 MiB upload over a 64 MiB limit is cut
    off with 413, and a 48 MiB one under it is streamed to disk and refused from its first
    64 KiB (it is no export); neither moves the server's peak memory by a third of its size."""
    tokens = make_tokens(store, policy)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PARCEL_SUBSIDY_MAX_UPLOAD_BYTES": str(64 * 2**20)}
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "--data-dir", str(store.root), "serve", "--no-scheduler",
         "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    chunk = b"\xa5" * 2**20

    def body(mib: int) -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for _ in range(mib):
            yield chunk
        yield b"\r\n--B--\r\n"

    headers = {**bearer(tokens["operator"]), "Content-Type": "multipart/form-data; boundary=B"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=60) as client:

            def post(mib: int) -> int:
                try:
                    return client.post(
                        "/v1/uploads", headers=headers, content=body(mib)
                    ).status_code
                except (httpx.WriteError, httpx.RemoteProtocolError):
                    return 413  # the server may close the connection before the client is done

            assert (post(1), post(65)) == (422, 413)  # warm-up: every code path loaded once
            before = _peak_rss(server.pid)
            under = client.post("/v1/uploads", headers=headers, content=body(48))
            assert under.status_code == 422, under.text
            assert under.json()["detail"].startswith("the file's first 64 KiB hold no line break")
            assert post(256) == 413
            grown = _peak_rss(server.pid) - before
        assert grown < 16 * 2**20, f"the server's peak memory grew by {grown / 2**20:.1f} MiB"
        kept = sorted(p.stat().st_size for p in store.files_dir.rglob("*") if p.is_file())
        assert kept == [2**20, 48 * 2**20]  # the refused files are kept; cut-off bodies are not
    finally:
        server.terminate()
        server.wait(30)

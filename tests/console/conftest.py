"""Fixtures of the console tests: a store holding eight months of three carriers' scans, a
token per role, the app under a TestClient, and for the browser tests a live server (the real
``parcel-subsidy serve`` on a free loopback port) driven by headless Chromium (Debian's
``/usr/bin/chromium``, through Playwright; no browser is downloaded).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.policy import Policy
from core.store import Store
from ingest.uploads import ingest_file
from subsidy.tokens import create_token
from tests.factories import DAY, HUB2, NOW, cst, make_store, parcel, scan, write_parquet

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: How the browser starts here: headless, as root, and never calling out to the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "results" / "screenshots"

#: Carriers with history in the store; ZTO's operator uploads more during the tests.
HISTORY = {"ZTO": "ZT", "YTO": "YT", "JT": "JT"}
#: The months of the history (the last is the month the finance tests read and close).
MONTHS = [(2022, 10), (2022, 11), (2022, 12), (2023, 1), (2023, 2), (2023, 3), (2023, 4), (2023, 5)]
MONTH = "2023-05"
#: A ZTO parcel of the history (eligible) and a YTO one, for lookups.
ZTO_PARCEL = "ZT2305E0"
YTO_PARCEL = "YT2305E0"

#: Who signs in: one token per role, and the operators of two carriers.
CALLERS: dict[str, dict[str, Any]] = {
    "operator": {"role": "operator", "carrier": "ZTO", "name": "中通操作员"},
    "other_operator": {"role": "operator", "carrier": "YTO", "name": "圆通操作员"},
    "finance": {"role": "finance", "name": "区财政局"},
    "approver": {"role": "finance", "name": "区财政局复核"},  # four eyes: a second person
    "auditor": {"role": "auditor", "name": "区审计局"},
    "admin": {"role": "admin", "name": "管理员"},
}


def history_rows(carrier: str, prefix: str) -> list[dict[str, Any]]:
    """A carrier's export of eight months: eligible parcels (a number varying by month), a
    late one every other month and one that never reached a hub.
    """
    rows: list[dict[str, Any]] = []
    for i, (year, month) in enumerate(MONTHS):
        tag = f"{prefix}{year % 100:02d}{month:02d}"
        for n in range(2 + (i + len(prefix) + ord(carrier[0])) % 5):
            rows += parcel(f"{tag}E{n}", cst(year, month, 3 + n, 9), carrier=carrier)
        if i % 2:
            rows += parcel(f"{tag}L0", cst(year, month, 12, 9), transit=8 * DAY, carrier=carrier)
        rows += parcel(f"{tag}N0", cst(year, month, 15, 9), transit=None, carrier=carrier)
    return rows


def june_rows() -> list[dict[str, Any]]:
    """ZTO's June 2023 export that the operator uploads: 3 parcels, a second hub, 2 bad rows."""
    rows: list[dict[str, Any]] = []
    for n in range(3):
        rows += parcel(f"ZT2306U{n}", cst(2023, 6, 5 + n, 8), hub=HUB2, carrier="ZTO")
    rows.append(scan("bad!", "depart", "JY-C01", cst(2023, 6, 2)))
    rows.append(scan("ZT2306X9", "teleport", "JY-C01", cst(2023, 6, 2) + timedelta(hours=1)))
    return rows


@dataclass
class Seeded:
    """A seeded store: its tokens per caller and the history upload id per carrier."""

    store: Store
    tokens: dict[str, str]
    uploads: dict[str, int]


def seed(root: Path, policy: Policy) -> Seeded:
    """Fill ``root`` with the sites registry, the history of :data:`HISTORY` and tokens."""
    store = make_store(root / "data")
    uploads = {}
    for carrier, prefix in HISTORY.items():
        path = write_parquet(root / f"{carrier}-history.parquet", history_rows(carrier, prefix))
        uploads[carrier] = ingest_file(store, path, policy, carrier=carrier, now=NOW).id
    tokens = {
        name: create_token(store, actor="tests", carriers=policy.carriers, **spec)[0]
        for name, spec in CALLERS.items()
    }
    return Seeded(store=store, tokens=tokens, uploads=uploads)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Seeded:
    """A seeded store, made once; tests get copies of it."""
    return seed(tmp_path_factory.mktemp("console-seed"), policy)


@pytest.fixture
def seeded(tmp_path: Path, seeded_template: Seeded) -> Seeded:
    """A fresh copy of the seeded store for one test (event paths are relative to the store)."""
    root = tmp_path / "data"
    shutil.copytree(seeded_template.store.root, root)
    return Seeded(
        store=Store(root).init(), tokens=seeded_template.tokens, uploads=seeded_template.uploads
    )


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    """The app (API and console) over the seeded store, in process."""
    with TestClient(create_app(seeded.store.root), base_url="http://testserver") as test_client:
        yield test_client


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def form_csrf(html: str) -> str:
    """The CSRF token the forms of a page carry."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign ``client`` in with ``token`` through the form; returns the session's CSRF token."""
    page = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"token": token, "csrf": form_csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return form_csrf(client.get(answer.headers["location"]).text)


# -- the live server and the browser ---------------------------------------------------------
@dataclass
class Live:
    """A running ``parcel-subsidy serve`` over a seeded store."""

    url: str
    seeded: Seeded

    def api(self, caller: str) -> httpx.Client:
        """An HTTP client of the API with ``caller``'s bearer token."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.seeded.tokens[caller]}"},
            timeout=30,
        )


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Iterator[Live]:
    """``parcel-subsidy serve`` (no scheduler: uploads ingest in the background at once) on a
    free loopback port, started for the module and stopped after it.
    """
    root = tmp_path_factory.mktemp("console-live")
    seeded = seed(root, policy)
    port = _free_port()
    log = (root / "server.log").open("wb")
    command = [
        sys.executable,
        "-c",
        "import sys, cli; sys.exit(cli.main())",
        "--data-dir",
        str(seeded.store.root),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-scheduler",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server exited: {(root / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {(root / 'server.log').read_text()}")
            time.sleep(0.1)
        yield Live(url=url, seeded=seeded)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright; the tests skip when either is missing,
    except in CI (``CI`` set), where .ci/run installs Chromium and a skip would hide that
    the end-to-end tests did not run."""
    if not CHROMIUM.exists():
        missing = (
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium "
            "chromium-driver; .ci/run does it) to run the browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


#: Form controls with no label, no aria-label and (buttons) no text.
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, progress')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML)"""


@dataclass
class Tab:
    """A browser page of its own context (its own cookies), and the script errors it saw."""

    page: Any
    errors: list[str]
    live: Live

    def open(self, path: str) -> Any:
        """Go to a console path and wait for the page to load."""
        return self.page.goto(self.live.url + path, wait_until="load")

    def sign_in(self, caller: str) -> None:
        """Sign in through the form, typing the token and pressing Enter (the keyboard way)."""
        self.open("/console/login")
        self.page.get_by_label(re.compile("访问令牌|Access token")).fill(
            self.live.seeded.tokens[caller]
        )
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def shot(self, name: str, *, width: int | None = None) -> Path:
        """Save a full-page screenshot under ``results/screenshots/`` (kept by CI), after
        checking that every control of the page has a label a screen reader can say.
        """
        unlabelled = self.page.evaluate(UNLABELLED)
        assert unlabelled == [], f"controls without a label on {self.page.url}: {unlabelled}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if width is not None:
            before = self.page.viewport_size
            self.page.set_viewport_size({"width": width, "height": 844})
            self.page.screenshot(path=str(path), full_page=True)
            self.page.set_viewport_size(before)
        else:
            self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Any, live: Live) -> Iterator[Tab]:
    """A fresh browser context at 1280px, zh-CN, Asia/Shanghai; fails on any script error."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def on_console(message: Any) -> None:
        if message.type == "error":
            errors.append(f"console error: {message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    try:
        yield Tab(page=page, errors=errors, live=live)
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"

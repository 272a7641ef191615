"""Fixtures of the API tests: an app over a fresh store, a token per role, sample exports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from core.policy import Policy
from core.settings import Settings
from core.store import Store
from subsidy.tokens import create_token
from tests.factories import CENTER, DAY, cst, parcel, write_parquet

#: Upload limit of the test apps: small, so the 413 tests stay cheap.
LIMIT = 256 * 1024

#: The callers of the tests: one token per role, and a second operator of another carrier.
CALLERS: dict[str, dict[str, Any]] = {
    "operator": {"role": "operator", "carrier": "ZTO"},
    "other_operator": {"role": "operator", "carrier": "YTO"},
    "finance": {"role": "finance"},
    "auditor": {"role": "auditor"},
    "admin": {"role": "admin"},
}


def make_tokens(store: Store, policy: Policy) -> dict[str, str]:
    """A token for every caller of :data:`CALLERS`."""
    return {
        name: create_token(store, actor="tests", carriers=policy.carriers, name=name, **spec)[0]
        for name, spec in CALLERS.items()
    }


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a token."""
    return {"Authorization": f"Bearer {token}"}


def may_rows(carrier: str = "ZTO", prefix: str = "ZT") -> list[dict[str, Any]]:
    """A May 2023 export: 3 eligible parcels, one late, one never at a hub, one bad row."""
    rows: list[dict[str, Any]] = []
    for i in range(3):
        rows += parcel(f"{prefix}10000{i}", cst(2023, 5, 3 + i, 10), carrier=carrier)
    rows += parcel(f"{prefix}200000", cst(2023, 5, 10, 9), transit=8 * DAY, carrier=carrier)
    rows += parcel(f"{prefix}300000", cst(2023, 5, 20, 9), transit=None, carrier=carrier)
    rows.append(
        {
            "waybill_no": "bad!",
            "scan_type": "depart",
            "site_code": CENTER,
            "scan_time": cst(2023, 5, 1),
        }
    )
    return rows


@pytest.fixture
def tokens(store: Store, policy: Policy) -> dict[str, str]:
    """Tokens of every caller, in the test store."""
    return make_tokens(store, policy)


@pytest.fixture
def app(store: Store) -> FastAPI:
    """The API over the test store, with a small upload limit."""
    return create_app(store.root, settings=Settings(max_upload_bytes=LIMIT))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app (background ingestion finishes before a call returns)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def zto_may(tmp_path: Path) -> Path:
    """ZTO's May 2023 export (:func:`may_rows`)."""
    return write_parquet(tmp_path / "zto-2023-05.parquet", may_rows())


def upload(client: TestClient, token: str, path: Path, name: str | None = None) -> Any:
    """POST a file to /v1/uploads as multipart field ``file``."""
    return client.post(
        "/v1/uploads",
        headers=bearer(token),
        files={"file": (name or path.name, path.read_bytes(), "application/octet-stream")},
    )

"""Property-based run of schemathesis against /openapi.json: no 5xx, no answer that breaks
the documented schema (status codes, content types, bodies, headers).

Bounded: a few examples per operation, so the run stays well under a minute. Each call
carries the token of a role allowed on the operation, so the checks see real answers, not
only 403s. Revoking tokens is left out: a revoked test token would turn the rest into 401s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.policy import load_policy
from core.settings import Settings
from tests.api.conftest import LIMIT, bearer, make_tokens, may_rows
from tests.factories import make_store, write_parquet

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

MAX_EXAMPLES = 25
_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The schema of an app over a store holding one ingested upload and tokens."""
    root: Path = tmp_path_factory.mktemp("schemathesis")
    store = make_store(root / "data")
    _TOKENS.update(make_tokens(store, load_policy()))
    app = create_app(store.root, settings=Settings(max_upload_bytes=LIMIT))
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        path = write_parquet(root / "zto.parquet", may_rows())
        resp = client.post(
            "/v1/uploads",
            headers=bearer(_TOKENS["operator"]),
            files={"file": (path.name, path.read_bytes())},
        )
        assert resp.status_code == 202
    return schemathesis.openapi.from_asgi("/openapi.json", app)


#: Every operation of the API but token revocation (a revoked test token would turn the
#: rest of the run into 401s); test_every_operation_is_covered keeps this list complete.
OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/uploads"),
    ("GET", "/v1/uploads/{upload_id}"),
    ("GET", "/v1/uploads/{upload_id}/rejects"),
    ("POST", "/v1/uploads/{upload_id}/rejudge"),
    ("GET", "/v1/reports/monthly"),
    ("GET", "/v1/reports/summary"),
    ("GET", "/v1/parcels/{carrier}/{waybill_no}"),
    ("GET", "/v1/months"),
    ("POST", "/v1/months/{month}/close"),
    ("GET", "/v1/center-awards"),
    ("POST", "/v1/center-awards"),
    ("GET", "/v1/center-awards/{award_id}"),
    ("POST", "/v1/center-awards/{award_id}/approve"),
    ("POST", "/v1/center-awards/{award_id}/pay"),
    ("GET", "/v1/sites"),
    ("PUT", "/v1/sites"),
    ("GET", "/v1/scan-words"),
    ("POST", "/v1/scan-words"),
    ("DELETE", "/v1/scan-words/{word_id}"),
    ("GET", "/v1/audit-log"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
]
LEFT_OUT = {("DELETE", "/v1/tokens/{token_id}")}


def _caller(method: str, path: str) -> str:
    if method == "POST" and path == "/v1/uploads":
        return "operator"
    if path.startswith(("/v1/sites", "/v1/tokens", "/v1/scan-words")) or path.endswith("/rejudge"):
        return "admin"
    return "finance"


def test_every_operation_is_covered(api_schema: Any) -> None:
    """The run below covers every documented operation (but the one left out on purpose)."""
    documented = {
        (method.upper(), path)
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
    }
    assert documented == set(OPERATIONS) | LEFT_OUT


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_its_schema(api_schema: Any, method: str, path: str) -> None:
    """Generated requests, valid and invalid, never get a 5xx nor an answer outside the
    documented schema. (Unknown query parameters are ignored, as HTTP APIs do, so the
    negative_data_rejection check is not run; a schema-valid file that is no scan log is
    refused 422, so positive_data_acceptance is not run either.)"""
    operation = api_schema[path][method]
    headers = bearer(_TOKENS[_caller(method, path)])

    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()

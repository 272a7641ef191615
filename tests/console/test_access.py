"""Who reaches which console page: every route of ``/console`` against every role.

The table below must name every console route (a new route fails the first test until it is
given its expectations), so an operator can reach no finance page and no other carrier's data
through any URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api import console
from tests.console.conftest import MONTH, YTO_PARCEL, ZTO_PARCEL, Seeded, sign_in

#: (method, route path) -> (URL, expected status per caller). ``{own}``/``{other}`` are the
#: ZTO and YTO history uploads. 303 is a redirect (to a page, or back to sign-in).
OK, FORBIDDEN, HIDDEN = 200, 403, 404
ROUTES: dict[tuple[str, str], tuple[str, dict[str, int]]] = {
    ("GET", "/console"): ("/console", {"*": 303}),
    ("GET", "/console/"): ("/console/", {"*": 303}),
    ("GET", "/console/login"): ("/console/login", {"*": 303}),
    ("GET", "/console/report"): (f"/console/report?month={MONTH}", {"*": OK}),
    ("GET", "/console/report/download"): (
        f"/console/report/download?month={MONTH}&format=csv",
        {"*": OK},
    ),
    ("GET", "/console/months/{month}/close"): (
        f"/console/months/{MONTH}/close",
        {"finance": OK, "*": FORBIDDEN},
    ),
    ("GET", "/console/uploads"): ("/console/uploads", {"*": OK}),
    ("GET", "/console/uploads/{upload_id}"): (
        "/console/uploads/{other}",
        {"operator": HIDDEN, "*": OK},
    ),
    ("GET", "/console/uploads/{upload_id}/rejects.csv"): (
        "/console/uploads/{other}/rejects.csv",
        {"operator": HIDDEN, "*": OK},
    ),
    ("GET", "/console/parcels"): (
        f"/console/parcels?carrier=YTO&waybill={YTO_PARCEL}",
        {"operator": HIDDEN, "*": OK},
    ),
    ("GET", "/console/audit"): ("/console/audit", {"operator": FORBIDDEN, "*": OK}),
    ("GET", "/console/awards"): ("/console/awards", {"operator": FORBIDDEN, "*": OK}),
    ("GET", "/console/static/{name:path}"): ("/console/static/console.css", {"*": OK}),
    # changing forms (with the session's CSRF token): only their role gets past the role check
    ("POST", "/console/login"): ("/console/login", {"*": 422}),  # no token field
    ("POST", "/console/logout"): ("/console/logout", {"*": 303}),
    ("POST", "/console/lang"): ("/console/lang", {"*": 422}),  # no lang field
    ("POST", "/console/months/{month}/close"): (
        f"/console/months/{MONTH}/close",
        {"finance": 409, "*": FORBIDDEN},  # finance: the expected figures are missing
    ),
    ("POST", "/console/uploads"): ("/console/uploads", {"operator": 422, "*": FORBIDDEN}),
    ("POST", "/console/awards"): (
        "/console/awards",
        {"finance": 422, "*": FORBIDDEN},  # finance: fields missing (the role is checked first)
    ),
    ("POST", "/console/awards/{award_id}/{step}"): (
        "/console/awards/1/approve",
        {"finance": HIDDEN, "*": FORBIDDEN},  # finance: there is no award 1 yet
    ),
    # settlement (SPEC §11); no month is closed yet, so there is no statement 1
    ("GET", "/console/finance"): ("/console/finance", {"operator": FORBIDDEN, "*": OK}),
    ("POST", "/console/finance/budget"): (
        "/console/finance/budget",
        {"finance": 422, "*": FORBIDDEN},  # finance: no fields
    ),
    ("GET", "/console/statements"): ("/console/statements", {"*": OK}),
    ("GET", "/console/statements/payment-list"): (
        f"/console/statements/payment-list?month={MONTH}",
        {"operator": FORBIDDEN, "*": OK},
    ),
    ("GET", "/console/statements/{statement_id}"): ("/console/statements/1", {"*": HIDDEN}),
    ("GET", "/console/statements/{statement_id}/pdf"): (
        "/console/statements/1/pdf",
        {"*": HIDDEN},
    ),
    ("GET", "/console/statements/{statement_id}/parcels.csv"): (
        "/console/statements/1/parcels.csv",
        {"*": HIDDEN},
    ),
    ("POST", "/console/statements/{statement_id}/{action}"): (
        "/console/statements/1/submit",
        {"finance": HIDDEN, "*": FORBIDDEN},
    ),
    # the preview of an upload and couriers' scan words (SPEC §3a); no preview is held, no
    # word was added yet
    ("POST", "/console/uploads/preview"): (
        "/console/uploads/preview",
        {"operator": 422, "*": FORBIDDEN},  # operator: no file
    ),
    ("GET", "/console/uploads/preview/{token}"): (
        f"/console/uploads/preview/{'0' * 32}",
        {"operator": HIDDEN, "*": FORBIDDEN},
    ),
    ("POST", "/console/uploads/preview/{token}/commit"): (
        f"/console/uploads/preview/{'0' * 32}/commit",
        {"operator": HIDDEN, "*": FORBIDDEN},
    ),
    ("POST", "/console/uploads/preview/{token}/cancel"): (
        f"/console/uploads/preview/{'0' * 32}/cancel",
        {"operator": HIDDEN, "*": FORBIDDEN},
    ),
    ("GET", "/console/scan-words"): ("/console/scan-words", {"admin": OK, "*": FORBIDDEN}),
    ("POST", "/console/scan-words/map"): (
        "/console/scan-words/map",
        {"admin": 422, "*": FORBIDDEN},  # admin: fields missing
    ),
    ("POST", "/console/scan-words/{word_id}/delete"): (
        "/console/scan-words/1/delete",
        {"admin": HIDDEN, "*": FORBIDDEN},  # admin: no word 1 yet
    ),
    ("GET", "/console/reconcile"): ("/console/reconcile", {"finance": OK, "*": FORBIDDEN}),
    ("POST", "/console/reconcile"): (
        "/console/reconcile",
        {"finance": 422, "*": FORBIDDEN},  # finance: no file
    ),
    # audit controls (SPEC §12); no flag or sample exists yet in the seeded store
    ("GET", "/console/anomalies"): (f"/console/anomalies?month={MONTH}", {"*": OK}),
    ("POST", "/console/anomalies/{flag_id}/review"): (
        "/console/anomalies/1/review",
        {"auditor": 422, "*": FORBIDDEN},  # auditor: no reason given
    ),
    ("GET", "/console/samples"): ("/console/samples", {"*": OK}),
    ("POST", "/console/samples"): ("/console/samples", {"auditor": 422, "*": FORBIDDEN}),
    ("GET", "/console/samples/{audit_id}"): ("/console/samples/1", {"*": HIDDEN}),
    ("POST", "/console/samples/{audit_id}/findings"): (
        "/console/samples/1/findings",
        {"auditor": 422, "*": FORBIDDEN},  # auditor: no finding given
    ),
    ("POST", "/console/samples/{audit_id}/deduct"): (
        "/console/samples/1/deduct",
        {"finance": HIDDEN, "*": FORBIDDEN},  # finance: there is no sample 1
    ),
    ("GET", "/console/parcels/list"): (
        f"/console/parcels/list?month={MONTH}&carrier=YTO&status=eligible",
        {"operator": HIDDEN, "*": OK},
    ),
    ("GET", "/console/parcels/list.csv"): (
        f"/console/parcels/list.csv?month={MONTH}&carrier=YTO&status=eligible",
        {"operator": HIDDEN, "*": OK},
    ),
}
CALLERS = ("operator", "finance", "auditor", "admin")


def _console_routes(router: Any) -> Iterator[APIRoute]:
    """Every route of the console router, through the routers it includes (FastAPI 0.165
    keeps an included router as one entry holding the original router).
    """
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _console_routes(inner)
        elif isinstance(route, APIRoute):
            yield route


def test_every_console_route_has_its_expectations() -> None:
    routes = {
        (method, route.path)
        for route in _console_routes(console.router)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == set(ROUTES)


def _expected(spec: dict[str, int], caller: str) -> int:
    return spec.get(caller, spec.get("*", 0))


@pytest.mark.parametrize("caller", CALLERS)
def test_each_role_gets_what_the_table_says_on_every_console_url(
    client: TestClient, seeded: Seeded, caller: str
) -> None:
    csrf = sign_in(client, seeded.tokens[caller])
    failures = []
    for (method, _), (url, spec) in ROUTES.items():
        url = url.format(own=seeded.uploads["ZTO"], other=seeded.uploads["YTO"])
        if method == "GET":
            answer = client.get(url, follow_redirects=False)
        else:
            answer = client.post(
                url, data={"csrf": csrf}, headers={"x-csrf-token": csrf}, follow_redirects=False
            )
        if answer.status_code != _expected(spec, caller):
            failures.append((method, url, answer.status_code, _expected(spec, caller)))
        if caller == "operator" and answer.status_code in (FORBIDDEN, HIDDEN):
            assert YTO_PARCEL[:6] not in re.sub(r'value="[^"]*"', "", answer.text), url
        if method == "POST":  # a sign-out (or a sign-in) changed the session
            csrf = sign_in(client, seeded.tokens[caller])
    assert failures == []


def test_an_operator_sees_only_its_own_upload_parcel_and_figures(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.tokens["operator"])
    assert client.get(f"/console/uploads/{seeded.uploads['ZTO']}").status_code == OK
    assert client.get(f"/console/parcels?carrier=ZTO&waybill={ZTO_PARCEL}").status_code == OK
    for url in (
        "/console/uploads?carrier=YTO",
        f"/console/report?month={MONTH}&carrier=YTO",
        f"/console/report/download?month={MONTH}&format=csv&carrier=YTO",
    ):
        answer = client.get(url)
        assert answer.status_code == OK, url
        assert "YTO" not in re.sub(r'value="[^"]*"|href="[^"]*"', "", answer.text), url


def test_nobody_signed_in_is_sent_to_sign_in_from_every_page(client: TestClient) -> None:
    for (method, path), (url, _) in ROUTES.items():
        if path in ("/console", "/console/", "/console/login", "/console/lang") or "static" in path:
            continue
        url = url.format(own=1, other=2)
        answer = client.request(method, url, follow_redirects=False)
        assert answer.status_code == 303, (method, url)
        assert answer.headers["location"].startswith("/console/login"), (method, url)


def test_the_session_cookie_does_not_open_the_api(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    assert client.get("/v1/uploads").status_code == 401

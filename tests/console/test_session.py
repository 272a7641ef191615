"""Sign-in by token, the session cookie, sign-out, and CSRF protection of every changing form."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.console.auth import safe_next
from api.console.session import SESSION_SECONDS, SessionStore
from subsidy.closed import closed_months
from subsidy.tokens import Principal, list_tokens, revoke_token
from tests.console.conftest import MONTH, Seeded, form_csrf, sign_in


def _login(client: TestClient, token: str, **headers: str):  # type: ignore[no-untyped-def]
    csrf = form_csrf(client.get("/console/login").text)
    return client.post(
        "/console/login",
        data={"token": token, "csrf": csrf},
        headers=headers,
        follow_redirects=False,
    )


def test_sign_in_gives_an_http_only_strict_cookie_that_expires(
    client: TestClient, seeded: Seeded
) -> None:
    answer = _login(client, seeded.tokens["finance"])
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/report"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("ps_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert f"Max-Age={SESSION_SECONDS}" in cookie
    assert "Path=/console" in cookie
    assert seeded.tokens["finance"] not in cookie  # the token never goes back to the browser


def test_an_operator_starts_at_its_uploads(client: TestClient, seeded: Seeded) -> None:
    assert _login(client, seeded.tokens["operator"]).headers["location"] == "/console/uploads"


def test_a_wrong_token_shows_the_form_again_with_401(client: TestClient) -> None:
    answer = _login(client, "pst_not-a-token")
    assert answer.status_code == 401
    assert "令牌无效" in answer.text
    assert "ps_session" not in answer.headers.get("set-cookie", "")


def test_sign_in_without_the_form_token_is_refused(client: TestClient, seeded: Seeded) -> None:
    client.get("/console/login")
    answer = client.post("/console/login", data={"token": seeded.tokens["finance"]})
    assert answer.status_code == 403
    assert "ps_session" not in answer.headers.get("set-cookie", "")


def test_sign_in_posted_from_another_site_is_refused(client: TestClient, seeded: Seeded) -> None:
    answer = _login(client, seeded.tokens["finance"], origin="https://evil.example")
    assert answer.status_code == 403
    answer = _login(client, seeded.tokens["finance"], **{"sec-fetch-site": "cross-site"})
    assert answer.status_code == 403


def test_pages_need_a_session_and_send_back_to_them_after_sign_in(
    client: TestClient, seeded: Seeded
) -> None:
    answer = client.get("/console/audit?action=month", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Faudit%3Faction%3Dmonth"
    page = client.get(answer.headers["location"])
    login_form = page.text[page.text.index('action="/console/login"') :]
    next_field = re.search(r'name="next" value="([^"]*)"', login_form)
    assert next_field and next_field.group(1) == "/console/audit?action=month"
    login = client.post(
        "/console/login",
        data={
            "token": seeded.tokens["auditor"],
            "csrf": form_csrf(page.text),
            "next": "/console/audit?action=month",
        },
        follow_redirects=False,
    )
    assert login.headers["location"] == "/console/audit?action=month"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/console/audit", "/console/audit", id="console-page"),
        pytest.param("https://evil.example/", "/home", id="other-site"),
        pytest.param("//evil.example/console/", "/home", id="scheme-relative"),
        pytest.param("/console/..//evil", "/home", id="double-slash"),
        pytest.param("/v1/tokens", "/home", id="outside-console"),
        pytest.param("/console/\\evil", "/home", id="backslash"),
        pytest.param(None, "/home", id="none"),
    ],
)
def test_the_next_page_stays_inside_the_console(target: str | None, expected: str) -> None:
    assert safe_next(target, "/home") == expected


def test_signing_out_ends_the_session_on_the_server(client: TestClient, seeded: Seeded) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    sid = client.cookies.get("ps_session")
    answer = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.headers["location"] == "/console/login?bye=1"
    client.cookies.set("ps_session", sid or "", path="/console")  # replay the old cookie
    assert client.get("/console/report", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_sessions_at_once(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    assert client.get("/console/report", follow_redirects=False).status_code == 200
    finance = next(t for t in list_tokens(seeded.store) if t.role == "finance")
    revoke_token(seeded.store, finance.id, actor="tests")
    assert client.get("/console/report", follow_redirects=False).status_code == 303


def test_sessions_end_after_their_lifetime() -> None:
    principal = Principal(token_id=1, role="finance", carrier=None, name=None)
    expired = SessionStore(lifetime=0)
    assert expired.get(expired.create("pst_x", principal).sid) is None
    live = SessionStore(lifetime=60)
    session = live.create("pst_x", principal)
    assert live.get(session.sid) is session
    assert live.create("pst_x", principal).sid != session.sid


def test_the_session_store_keeps_at_most_its_limit() -> None:
    principal = Principal(token_id=1, role="finance", carrier=None, name=None)
    store = SessionStore(lifetime=60, limit=2)
    first = store.create("pst_x", principal)
    store.create("pst_x", principal)
    store.create("pst_x", principal)
    assert store.get(first.sid) is None


CHANGING_FORMS = [
    pytest.param("finance", f"/console/months/{MONTH}/close", {"expect": "x"}, id="close-month"),
    pytest.param(
        "finance",
        "/console/awards",
        {
            "site_code": "JY-C01",
            "accredited_on": "2022-03-01",
            "document_no": "济阳〔2022〕1号",
            "award_yuan": "100",
        },
        id="record-award",
    ),
    pytest.param("finance", "/console/awards/1/approve", {}, id="approve-award"),
    pytest.param("finance", "/console/logout", {}, id="sign-out"),
    pytest.param("finance", "/console/lang", {"lang": "en"}, id="language"),
]


@pytest.mark.parametrize(("caller", "path", "fields"), CHANGING_FORMS)
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_every_changing_form_needs_the_sessions_csrf_token(
    client: TestClient,
    seeded: Seeded,
    caller: str,
    path: str,
    fields: dict[str, str],
    token: str,
) -> None:
    sign_in(client, seeded.tokens[caller])
    data = dict(fields) if token == "missing" else {**fields, "csrf": "forged"}
    answer = client.post(path, data=data, follow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert closed_months(seeded.store) == []
    assert client.get("/console/report", follow_redirects=False).status_code == 200


def test_an_upload_needs_the_csrf_token(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["operator"])
    answer = client.post(
        "/console/uploads",
        files={"file": ("x.csv", b"waybill_no\n", "text/csv")},
        headers={"accept": "application/json"},
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "csrf_failed"


def test_a_form_with_the_right_token_from_another_origin_is_refused(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    answer = client.post(
        f"/console/months/{MONTH}/close",
        data={"csrf": csrf, "expect": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert closed_months(seeded.store) == []

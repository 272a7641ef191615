"""API tokens (subsidy.tokens): shown once, stored as a hash, roles, revocation."""

from __future__ import annotations

import pytest

from core.policy import Policy
from core.store import Store
from ingest.ledger import read_audit_log
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.tokens import (
    ROLES,
    Principal,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
    verify_token,
)


def _db_text(store: Store) -> str:
    with store.connect() as db:
        tables = ("api_tokens", "audit_log")
        return "\n".join(str(tuple(r)) for t in tables for r in db.execute(f"SELECT * FROM {t}"))


@pytest.mark.parametrize("role", [r for r in ROLES if r != "operator"])
def test_a_token_verifies_to_its_role_and_only_its_hash_is_kept(
    store: Store, policy: Policy, role: str
) -> None:
    """The token verifies to its principal; the database holds its SHA-256, never the text."""
    token, info = create_token(store, role=role, name="desk", actor="cli", carriers=policy.carriers)
    assert verify_token(store, token) == Principal(info.id, role, None, "desk")
    text = _db_text(store)
    assert token not in text and hash_token(token) in text


def test_an_operator_token_is_bound_to_one_carrier(store: Store, policy: Policy) -> None:
    """An operator's carrier is required, must be known, and is stored upper-cased."""
    token, info = create_token(
        store, role="operator", carrier=" zto ", actor="cli", carriers=policy.carriers
    )
    assert info.carrier == "ZTO"
    principal = verify_token(store, token)
    assert principal is not None and principal.carrier == "ZTO"
    assert principal.actor == f"operator (token {info.id})"


@pytest.mark.parametrize(
    ("role", "carrier", "message"),
    [
        pytest.param("operator", None, "needs its carrier", id="operator-without-carrier"),
        pytest.param("operator", "ACME", "unknown carrier", id="unknown-carrier"),
        pytest.param("finance", "ZTO", "only an operator", id="finance-with-carrier"),
        pytest.param("root", None, "unknown role", id="unknown-role"),
    ],
)
def test_a_token_breaking_a_rule_is_refused(
    store: Store, policy: Policy, role: str, carrier: str | None, message: str
) -> None:
    """Roles and carriers are checked; nothing is created."""
    with pytest.raises(InvalidValueError, match=message):
        create_token(store, role=role, carrier=carrier, actor="cli", carriers=policy.carriers)
    assert list_tokens(store) == []


@pytest.mark.parametrize(
    "presented",
    ["", "pst_", "pst_" + "A" * 43, "Bearer pst_x", "x" * 500, "pst_" + "é" * 10],
)
def test_unknown_tokens_verify_to_nobody(store: Store, policy: Policy, presented: str) -> None:
    """Anything but a live token's exact text is nobody."""
    create_token(store, role="auditor", actor="cli", carriers=policy.carriers)
    assert verify_token(store, presented) is None


def test_a_revoked_token_verifies_to_nobody_and_revocation_is_audited(
    store: Store, policy: Policy
) -> None:
    """Revocation takes effect at once, cannot be repeated, and both steps are audit lines
    without the secret."""
    token, info = create_token(store, role="finance", actor="admin-1", carriers=policy.carriers)
    revoked = revoke_token(store, info.id, actor="admin-2")
    assert revoked.revoked_by == "admin-2" and revoked.revoked_at is not None
    assert verify_token(store, token) is None
    with pytest.raises(ConflictError, match="already revoked"):
        revoke_token(store, info.id, actor="admin-2")
    with pytest.raises(NotFoundError):
        revoke_token(store, 99, actor="admin-2")
    lines = read_audit_log(store, action="token")
    assert [(x["action"], x["actor"]) for x in lines] == [
        ("token.created", "admin-1"),
        ("token.revoked", "admin-2"),
    ]
    assert token not in str(lines)
    assert [t.id for t in list_tokens(store, include_revoked=False)] == []

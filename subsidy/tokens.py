"""API bearer tokens and the roles they carry (SPEC §9).

A token is shown once, when it is created; the store keeps only its SHA-256, so a stolen
database yields no usable token. Roles:

- ``operator``: one carrier's uploads, rejects, parcels and report row; nothing of another's;
- ``finance``: reads everything, closes months, records and moves center awards;
- ``auditor``: reads everything, changes nothing;
- ``admin``: reads everything, replaces the sites registry, manages tokens.

Every creation and revocation is written to the audit log (never the token itself).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.store import Store, timestamp
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError

ROLES: tuple[str, ...] = ("operator", "finance", "auditor", "admin")
TOKEN_PREFIX = "pst_"
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role, carrier (operators only) and name."""

    token_id: int
    role: str
    carrier: str | None
    name: str | None

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log: ``finance-desk (token 3)``."""
        return f"{self.name or self.role} (token {self.token_id})"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as listed: everything but the secret (which is never stored)."""

    id: int
    role: str
    carrier: str | None
    name: str | None
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TokenInfo:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


def hash_token(token: str) -> str:
    """Hex SHA-256 of a token's text: what the store keeps and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check(role: str, carrier: str | None, carriers: Mapping[str, str]) -> str | None:
    if role not in ROLES:
        raise InvalidValueError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}",
            code="unknown_role",
            role=role,
            roles=list(ROLES),
        )
    if role != "operator":
        if carrier:
            raise InvalidValueError(
                f"only an operator token has a carrier; {role} has none",
                code="role_has_no_carrier",
                role=role,
            )
        return None
    if not carrier:
        raise InvalidValueError(
            "an operator token needs its carrier (e.g. --carrier ZTO)", code="carrier_required"
        )
    code = carrier.strip().upper()
    if code not in carriers:
        raise InvalidValueError(
            f"unknown carrier {carrier!r}; known: {', '.join(sorted(carriers))}",
            code="unknown_carrier",
            carrier=carrier,
            known=sorted(carriers),
        )
    return code


def create_token(
    store: Store,
    *,
    role: str,
    carrier: str | None = None,
    name: str | None = None,
    actor: str,
    carriers: Mapping[str, str],
) -> tuple[str, TokenInfo]:
    """Create a token; returns ``(token text, info)``. The text is not kept anywhere.

    ``carriers`` are the policy's carrier codes (an operator's carrier must be one of them).
    """
    code = _check(role, carrier, carriers)
    label = name.strip()[:100] if name and name.strip() else None
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO api_tokens (token_sha256, role, carrier, name, created_at, created_by)"
            " VALUES (?,?,?,?,?,?)",
            (hash_token(token), role, code, label, timestamp(), actor),
        )
        row = db.execute("SELECT * FROM api_tokens WHERE id=?", (cur.lastrowid,)).fetchone()
        info = TokenInfo.from_row(row)
        store.audit(
            db,
            actor,
            "token.created",
            f"token:{info.id}",
            new={"role": role, "carrier": code, "name": label},
        )
    return token, info


def verify_token(store: Store, token: str) -> Principal | None:
    """The principal of a live (not revoked) token, or ``None`` for an unknown or revoked one.

    The lookup is by hash, so the comparison never touches the secret itself.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with store.connect() as db:
        row = db.execute(
            "SELECT id, role, carrier, name FROM api_tokens"
            " WHERE token_sha256=? AND revoked_at IS NULL",
            (hash_token(token),),
        ).fetchone()
    if row is None:
        return None
    return Principal(token_id=row["id"], role=row["role"], carrier=row["carrier"], name=row["name"])


def list_tokens(store: Store, *, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token, oldest first (never the secret: it is not stored)."""
    sql = "SELECT * FROM api_tokens"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    with store.connect() as db:
        return [TokenInfo.from_row(r) for r in db.execute(sql + " ORDER BY id")]


def revoke_token(store: Store, token_id: int, *, actor: str) -> TokenInfo:
    """Revoke a token at once; a revoked token is refused from the next request on.

    Raises :class:`NotFoundError` for an unknown id and :class:`ConflictError` when the token
    is already revoked.
    """
    with store.transaction() as db:
        row = db.execute("SELECT * FROM api_tokens WHERE id=?", (token_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no token with id {token_id}", code="token_not_found", token_id=token_id
            )
        if row["revoked_at"] is not None:
            raise ConflictError(
                f"token {token_id} was already revoked at {row['revoked_at']}",
                code="token_already_revoked",
                token_id=token_id,
                revoked_at=row["revoked_at"],
            )
        db.execute(
            "UPDATE api_tokens SET revoked_at=?, revoked_by=? WHERE id=?",
            (timestamp(), actor, token_id),
        )
        store.audit(
            db,
            actor,
            "token.revoked",
            f"token:{token_id}",
            old={"role": row["role"], "carrier": row["carrier"], "name": row["name"]},
        )
        row = db.execute("SELECT * FROM api_tokens WHERE id=?", (token_id,)).fetchone()
    return TokenInfo.from_row(row)

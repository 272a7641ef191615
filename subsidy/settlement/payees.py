"""The carriers registry (SPEC §11): each carrier's payee, bank and account number.

An administrator edits it; every change is audited with the entry before and after. A
statement shows its carrier's payee as the registry has it until the statement is approved;
approval copies the payee into the statement, so what two people signed is what the bank is
asked to pay.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.store import Store, timestamp
from subsidy.exceptions import InvalidValueError

_ACCOUNT = re.compile(r"^[0-9][0-9 -]{5,38}[0-9]$")


@dataclass(frozen=True)
class Payee:
    """A carrier and who is paid for it."""

    carrier: str
    carrier_name: str
    payee_name: str | None
    bank: str | None
    account_no: str | None
    updated_at: str | None
    updated_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


def _payee(code: str, carriers: Mapping[str, str], row: sqlite3.Row | None) -> Payee:
    return Payee(
        carrier=code,
        carrier_name=carriers.get(code, ""),
        payee_name=None if row is None else row["payee_name"],
        bank=None if row is None else row["bank"],
        account_no=None if row is None else row["account_no"],
        updated_at=None if row is None else row["updated_at"],
        updated_by=None if row is None else row["updated_by"],
    )


def payee_in(db: sqlite3.Connection, code: str, carriers: Mapping[str, str]) -> Payee:
    """One carrier's entry read in the caller's connection (blank payee when none is kept)."""
    row = db.execute("SELECT * FROM carriers WHERE carrier=?", (code,)).fetchone()
    return _payee(code, carriers, row)


def list_payees(store: Store, carriers: Mapping[str, str]) -> list[Payee]:
    """Every carrier of the policy and any other kept in the registry, by code."""
    with store.connect() as db:
        rows = {r["carrier"]: r for r in db.execute("SELECT * FROM carriers")}
    return [_payee(c, carriers, rows.get(c)) for c in sorted(set(carriers) | set(rows))]


def _clean(value: str, field: str, *, limit: int = 200) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidValueError(f"{field} is empty", code="missing_field", field=field)
    if len(text) > limit:
        raise InvalidValueError(
            f"{field} is longer than {limit} characters", code="too_long", field=field
        )
    return text


def set_payee(
    store: Store,
    carrier: str,
    *,
    payee_name: str,
    bank: str,
    account_no: str,
    actor: str,
    carriers: Mapping[str, str],
) -> Payee:
    """Set a carrier's payee. :class:`InvalidValueError` for an unknown carrier, an empty
    field or an account number that is not 8-40 digits (spaces and dashes allowed)."""
    code = carrier.strip().upper()
    if code not in carriers:
        raise InvalidValueError(
            f"unknown carrier {carrier!r}; known: {', '.join(sorted(carriers))}",
            code="unknown_carrier",
            carrier=carrier,
            known=sorted(carriers),
        )
    name = _clean(payee_name, "payee_name")
    bank_name = _clean(bank, "bank")
    account = _clean(account_no, "account_no", limit=40)
    if not _ACCOUNT.match(account):
        raise InvalidValueError(
            f"account_no {account!r} is not a bank account number (8-40 digits; spaces and "
            "dashes between them are allowed)",
            code="bad_account",
            value=account,
        )
    with store.transaction() as db:
        before = payee_in(db, code, carriers)
        db.execute(
            "INSERT INTO carriers (carrier, payee_name, bank, account_no, updated_at, updated_by)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (carrier) DO UPDATE SET"
            " payee_name=excluded.payee_name, bank=excluded.bank,"
            " account_no=excluded.account_no, updated_at=excluded.updated_at,"
            " updated_by=excluded.updated_by",
            (code, name, bank_name, account, timestamp(), actor),
        )
        after = payee_in(db, code, carriers)
        fields = ("payee_name", "bank", "account_no")
        store.audit(
            db,
            actor,
            "carrier.payee_set",
            f"carrier:{code}",
            old=None if before.payee_name is None else {k: getattr(before, k) for k in fields},
            new={k: getattr(after, k) for k in fields},
        )
    return after

"""Reconciliation (SPEC §11): the bank's file of payments, matched against the statements.

The file (CSV, UTF-8 with or without BOM, or XLSX, first sheet) has a header row and one
payment a row: ``statement_id`` or ``carrier`` + ``month``, then ``voucher_no``, ``paid_on``
(YYYY-MM-DD) and ``amount_fen``. Each row answers one result:

    paid               the approved statement is now paid
    already_paid       the statement was paid before (by an earlier row or call)
    amount_mismatch    the amount is not the statement's payable
    not_approved       the statement is draft or submitted
    unknown_statement  no statement with that id, or for that carrier and month
    invalid_row        a value is missing or unreadable

A row that is not ``paid`` changes nothing; each ``paid`` row commits on its own, so a file
with bad rows pays only its good ones. Every row's result is audited.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import load_workbook

from core.store import Store
from subsidy.exceptions import InvalidValueError
from subsidy.settlement.statements import Statement, check_payment, pay_in

RESULTS: tuple[str, ...] = (
    "paid",
    "already_paid",
    "amount_mismatch",
    "not_approved",
    "unknown_statement",
    "invalid_row",
)
#: The most rows one file may hold.
MAX_ROWS = 10_000
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class RowResult:
    """The outcome of one row of the bank's file (``row`` 1 = the first after the header)."""

    row: int
    result: str
    statement_id: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value).strip()


def read_rows(content: bytes) -> list[dict[str, str]]:
    """The rows of a CSV or XLSX file as text keyed by lower-case header.

    :class:`InvalidValueError` for a file that is neither, has no header row, or is too long.
    """
    if zipfile.is_zipfile(io.BytesIO(content)):
        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
            raise InvalidValueError(f"cannot read the XLSX file: {exc}", code="bad_file") from None
        raw: Iterator[list[str]] = (
            [_text(v) for v in row] for row in sheet.iter_rows(values_only=True)
        )
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidValueError(
                "the file is neither XLSX nor UTF-8 CSV; export the bank file as one of them",
                code="bad_file",
            ) from None
        try:
            parsed = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise InvalidValueError(f"cannot read the CSV file: {exc}", code="bad_file") from None
        raw = iter([[c.strip() for c in row] for row in parsed])
    header = next(raw, None)
    if not header or not any(header):
        raise InvalidValueError("the file has no header row", code="bad_file")
    keys = [h.strip().lower() for h in header]
    needed = {"voucher_no", "paid_on", "amount_fen"}
    if not needed <= set(keys) or not (
        {"statement_id"} <= set(keys) or {"carrier", "month"} <= set(keys)
    ):
        raise InvalidValueError(
            f"the header must name statement_id (or carrier and month), voucher_no, paid_on "
            f"and amount_fen; found: {', '.join(k for k in keys if k)}",
            code="bad_header",
        )
    rows = []
    for values in raw:
        if not any(values):
            continue
        rows.append({k: (values[i] if i < len(values) else "") for i, k in enumerate(keys) if k})
        if len(rows) > MAX_ROWS:
            raise InvalidValueError(f"more than {MAX_ROWS} rows; split the file", code="bad_file")
    return rows


def _find(db: Any, row: dict[str, str]) -> tuple[Statement | None, str]:
    """The statement a row names, or ``None`` and why not (``invalid_row`` or unknown)."""
    sid = row.get("statement_id", "")
    if sid:
        if not sid.isdigit() or len(sid) > 18:
            raise ValueError(f"statement_id {sid!r} is not a statement number")
        found = db.execute("SELECT * FROM statements WHERE id=?", (int(sid),)).fetchone()
        return (None if found is None else Statement.from_row(found)), f"statement {sid}"
    carrier, month = row.get("carrier", "").upper(), row.get("month", "")
    if not carrier or not _MONTH.match(month):
        raise ValueError("give statement_id, or carrier and month (YYYY-MM)")
    found = db.execute(
        "SELECT * FROM statements WHERE carrier=? AND month=?", (carrier, month)
    ).fetchone()
    return (None if found is None else Statement.from_row(found)), f"{carrier} {month}"


def _parse(row: dict[str, str]) -> tuple[str, date, int]:
    voucher = row.get("voucher_no", "")
    if not voucher:
        raise ValueError("voucher_no is empty")
    try:
        paid_on = date.fromisoformat(row.get("paid_on", ""))
    except ValueError:
        raise ValueError(f"paid_on {row.get('paid_on')!r} is not a date YYYY-MM-DD") from None
    amount = row.get("amount_fen", "")
    if not re.fullmatch(r"-?\d{1,15}", amount):
        raise ValueError(f"amount_fen {amount!r} is not integer fen")
    return voucher, paid_on, int(amount)


def _one(store: Store, n: int, row: dict[str, str], actor: str) -> RowResult:
    with store.transaction() as db:
        try:
            voucher, paid_on, amount = _parse(row)
            s, label = _find(db, row)
        except ValueError as exc:
            result = RowResult(n, "invalid_row", None, str(exc))
        else:
            if s is None:
                result = RowResult(n, "unknown_statement", None, f"no statement for {label}")
            elif s.status == "paid":
                result = RowResult(n, "already_paid", s.id, f"paid before, voucher {s.voucher_no}")
            elif s.status != "approved":
                result = RowResult(n, "not_approved", s.id, f"statement is {s.status}")
            else:
                try:
                    check_payment(s, voucher, paid_on, amount)
                except InvalidValueError as exc:
                    result = RowResult(n, "amount_mismatch", s.id, str(exc))
                else:
                    pay_in(
                        store,
                        db,
                        s,
                        voucher_no=voucher,
                        paid_on=paid_on,
                        amount_fen=amount,
                        actor=actor,
                        source="reconcile",
                    )
                    result = RowResult(n, "paid", s.id, f"paid, voucher {voucher}")
        store.audit(
            db,
            actor,
            "statement.reconciled",
            None if result.statement_id is None else f"statement:{result.statement_id}",
            new={**result.as_dict(), "input": row},
        )
    return result


def reconcile(store: Store, content: bytes, *, actor: str) -> list[RowResult]:
    """Match every row of the bank's file; one result per row, in file order."""
    return [_one(store, n, row, actor) for n, row in enumerate(read_rows(content), start=1)]

"""A statement's parcel list (SPEC §11 ``?format=csv|xlsx``): the eligible parcels it claims.

The parcels are those the closed month's frozen figures count: the rule applied to the store
version the month pinned, as of its close, for the statement's carrier, eligible, with ``D``
in the month (read from the month's frozen list when it has one, :mod:`subsidy.frozen`).
Text cells go through :func:`subsidy.exports.inert_text` (never a formula).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Font

from core.policy import Policy
from core.store import Store
from core.timeutil import parse_instant, to_local
from subsidy.exceptions import NotFoundError
from subsidy.exports import inert_text
from subsidy.frozen import frozen_frame, frozen_path
from subsidy.rule import parcel_statuses
from subsidy.settlement.statements import Statement
from subsidy.sites import load_sites

COLUMNS: tuple[tuple[str, str], ...] = (
    ("carrier", "快递公司"),
    ("waybill_no", "运单号"),
    ("d_time", "发件时间(区级配送中心)"),
    ("d_site", "发件网点"),
    ("a_time", "到达时间(乡镇中心村)"),
    ("a_site", "到达网点"),
    ("rate_fen", "补贴标准(分)"),
    ("subsidy_fen", "补贴(分)"),
)


def parcels(store: Store, policy: Policy, s: Statement) -> pl.DataFrame:
    """The eligible parcels of the statement's carrier and month as of the month's close."""
    with store.connect() as db:
        row = db.execute(
            "SELECT as_of, store_version FROM closed_months WHERE month=?", (s.month,)
        ).fetchone()
    if row is None:
        raise NotFoundError(
            f"month {s.month} of statement {s.id} is not closed",
            code="month_not_closed",
            month=s.month,
        )
    wanted = (
        (pl.col("month") == s.month)
        & (pl.col("status") == "eligible")
        & (pl.col("carrier") == s.carrier)
    )
    frozen = frozen_path(store, s.month)
    if frozen is not None:  # the month's rows as frozen at its close
        statuses = frozen_frame(frozen, wanted)
    else:
        events = store.scan_events(carriers=[s.carrier], version=int(row["store_version"]))
        statuses = parcel_statuses(
            events, load_sites(store).lazy(), policy, parse_instant(row["as_of"])
        )
    return statuses.filter(wanted).select(name for name, _ in COLUMNS).sort("waybill_no").collect()


def _text(value: object) -> object:
    if isinstance(value, datetime):
        return to_local(value).strftime("%Y-%m-%d %H:%M:%S")
    return inert_text(value)


def parcel_list_csv(store: Store, policy: Policy, s: Statement) -> bytes:
    """UTF-8 CSV (with BOM, so spreadsheet programs read the Chinese), English header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([name for name, _ in COLUMNS])
    for rec in parcels(store, policy, s).iter_rows():
        writer.writerow([_text(v) for v in rec])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def parcel_list_xlsx(store: Store, policy: Policy, s: Statement) -> bytes:
    """XLSX with a title row, Chinese headers and the subsidy as yuan numbers."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"{s.month} {s.carrier}"
    ws.append([inert_text(f"{s.month} {s.carrier} 补贴包裹清单 (结算单 {s.id})")])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([zh for _, zh in COLUMNS[:-1]] + ["补贴(元)"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for rec in parcels(store, policy, s).iter_rows():
        values = [_text(v) for v in rec[:-1]]
        ws.append([*values, Decimal(rec[-1]).scaleb(-2)])
        ws.cell(row=ws.max_row, column=len(COLUMNS)).number_format = "0.00"
    for col, width in zip("ABCDEFGH", (8, 18, 20, 12, 20, 12, 10, 10), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

"""Exports of a monthly report document (see :mod:`subsidy.closing`) as CSV and XLSX.

Both are pure functions of the document: the same document gives the same bytes, so a closed
month exports byte for byte the same forever (the XLSX carries the report's ``as_of`` as its
document and archive time, never the clock).

- CSV: UTF-8, English header, one line per carrier, the total, each prior-period adjustment,
  each center award and the program total, told apart by ``section``. Money in fen and yuan.
- XLSX (for finance, openpyxl): headers in Chinese and English, yuan as numbers formatted
  ``#,##0.00`` (written as exact decimals, never floats) beside the exact fen, a totals row,
  the center awards and the program total beside the carriers, the adjustments below.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ingest.validate import REJECT_COLUMNS
from subsidy.rule import INELIGIBLE_REASONS

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CSV_COLUMNS: tuple[str, ...] = (
    "section",
    "month",
    "carrier",
    "carrier_name",
    "period",
    "site_code",
    "status",
    "eligible_parcels",
    "rate_fen",
    "subsidy_fen",
    "subsidy_yuan",
    "pending_parcels",
    *INELIGIBLE_REASONS,
)

_REASON_LABELS = {
    "no_hub_arrival": ("未到乡镇中心村", "No hub arrival"),
    "late_hub_arrival": ("超时到达", "Late hub arrival"),
    "outside_policy_window": ("政策期外", "Outside policy window"),
}
_YUAN = "#,##0.00"
_COUNT = "#,##0"


def _yuan(fen: int) -> Decimal:
    """Exact yuan for a spreadsheet cell (a decimal, never a float)."""
    return Decimal(fen).scaleb(-2)


#: What a spreadsheet reads as the start of a formula in a text cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_text(value: Any) -> Any:
    """A text value a spreadsheet shows as text, never runs as a formula: text beginning
    like a formula (``=HYPERLINK(...)`` in an uploaded cell) gets a leading apostrophe.
    Numbers and ``None`` pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# -- CSV --------------------------------------------------------------------------------------
def _csv_line(values: Iterable[Any]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buf.getvalue().encode("utf-8")


def _figure_cells(row: dict[str, Any]) -> list[Any]:
    return [
        row["eligible_parcels"],
        row.get("rate_fen"),
        row["subsidy_fen"],
        row["subsidy_yuan"],
        row["pending_parcels"],
        *(row["ineligible"].get(r, 0) for r in INELIGIBLE_REASONS),
    ]


def _no_figures(fen: int, yuan: str) -> list[Any]:
    return [None, None, fen, yuan, None, *([None] * len(INELIGIBLE_REASONS))]


def report_csv(doc: dict[str, Any]) -> bytes:
    """The report as CSV (see the module docstring for its sections)."""
    m = doc["month"]
    lines = [_csv_line(CSV_COLUMNS)]
    for r in doc["carriers"]:
        head = ["carrier", m, r["carrier"], r["carrier_name"], m, None, None]
        lines.append(_csv_line([*head, *_figure_cells(r)]))
    total = {**doc["totals"], "rate_fen": None}
    lines.append(_csv_line(["total", m, None, None, m, None, None, *_figure_cells(total)]))
    for a in doc.get("prior_period_adjustments", []):
        head = ["adjustment", m, a["carrier"], a["carrier_name"], a["period"], None, None]
        lines.append(_csv_line([*head, *_figure_cells(a)]))
    for w in doc["center_awards"]:
        head = ["center_award", m, None, w.get("site_name"), None, w["site_code"], w["status"]]
        lines.append(_csv_line([*head, *_no_figures(w["award_fen"], w["award_yuan"])]))
    if doc.get("program_total_fen") is not None:
        head = ["program_total", m, None, None, None, None, None]
        figures = _no_figures(doc["program_total_fen"], doc["program_total_yuan"])
        lines.append(_csv_line([*head, *figures]))
    return b"".join(lines)


def rejects_csv(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """An upload's rejected rows as CSV lines (header first), values as they were read."""
    yield _csv_line(REJECT_COLUMNS)
    for row in rows:  # the values come from uploaded files: never formulas in Excel
        yield _csv_line(inert_text(row.get(c)) for c in REJECT_COLUMNS)


# -- XLSX -------------------------------------------------------------------------------------
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_THIN = Side(style="thin", color="999999")
_BOX = Border(top=_THIN, bottom=_THIN, left=_THIN, right=_THIN)

_CARRIER_HEAD = [
    ("快递公司代码", "Carrier"),
    ("快递公司", "Carrier name"),
    ("合格件数", "Eligible parcels"),
    ("补贴标准(元/件)", "Rate (yuan/parcel)"),
    ("补贴金额(元)", "Subsidy (yuan)"),
    ("补贴金额(分)", "Subsidy (fen)"),
    ("待定件数", "Pending parcels"),
    *(_REASON_LABELS.get(r, (r, r)) for r in INELIGIBLE_REASONS),
]
_ADJUST_HEAD = [
    ("快递公司代码", "Carrier"),
    ("快递公司", "Carrier name"),
    ("合格件数变动", "Eligible parcels (change)"),
    ("所属月份", "Period"),
    ("调整金额(元)", "Adjustment (yuan)"),
    ("调整金额(分)", "Adjustment (fen)"),
    ("待定件数变动", "Pending (change)"),
    *(_REASON_LABELS.get(r, (r, r)) for r in INELIGIBLE_REASONS),
]
_AWARD_HEAD = [
    ("网点编码", "Site code"),
    ("配送中心", "Center"),
    ("认定日期", "Accredited on"),
    ("认定文号", "Document no."),
    ("状态", "Status"),
    ("奖励金额(元)", "Award (yuan)"),
    ("奖励金额(分)", "Award (fen)"),
]
_STATUS_ZH = {
    "accredited": "已认定 accredited",
    "approved": "已审批 approved",
    "paid": "已拨付 paid",
}
_AWARD_COL = len(_CARRIER_HEAD) + 2  # one empty column between the two blocks


def _head(ws: Any, row: int, col: int, labels: list[tuple[str, str]]) -> None:
    for i, (zh, en) in enumerate(labels):
        for r, text in ((row, zh), (row + 1, en)):
            cell = ws.cell(row=r, column=col + i, value=text)
            cell.font = Font(bold=True)
            cell.fill = _HEAD_FILL
            cell.border = _BOX
            cell.alignment = Alignment(horizontal="center", wrap_text=True)


def _put(ws: Any, row: int, col: int, values: list[Any], formats: list[str | None]) -> None:
    for i, (value, fmt) in enumerate(zip(values, formats, strict=True)):
        cell = ws.cell(row=row, column=col + i, value=inert_text(value))
        cell.border = _BOX
        if fmt:
            cell.number_format = fmt


_FIG_FORMATS = [None, None, _COUNT, "0.00", _YUAN, _COUNT, _COUNT] + [_COUNT] * len(
    INELIGIBLE_REASONS
)


def _figures(row: dict[str, Any], first: Any, second: Any, third: Any) -> list[Any]:
    return [
        first,
        second,
        row["eligible_parcels"],
        third,
        _yuan(row["subsidy_fen"]),
        row["subsidy_fen"],
        row["pending_parcels"],
        *(row["ineligible"].get(r, 0) for r in INELIGIBLE_REASONS),
    ]


def _rate_cell(row: dict[str, Any]) -> Any:
    rates = row.get("rates_fen") or []
    if row.get("rate_fen") is not None:
        return _yuan(row["rate_fen"])
    return " / ".join(f"{_yuan(r)}" for r in rates) or None


def _doc_time(doc: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(doc["as_of"])


def report_xlsx(doc: dict[str, Any]) -> bytes:
    """The report as an Excel workbook finance opens (see the module docstring)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "月报 Monthly report"
    closed = doc.get("closed")
    ws["A1"] = f"快递进村补贴月报 Parcel subsidy monthly report  {doc['month']}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"政策 Policy: {doc.get('policy', '')}"
    ws["A3"] = f"截至 As of: {doc['as_of']}    金额单位 Amounts: 元 yuan (分 fen = 0.01 yuan)"
    ws["A4"] = (
        f"已月结 Closed {closed['closed_at']} by {closed['closed_by']}, "
        f"store version {closed['store_version']}, policy {closed['policy_digest'][:12]}"
        if closed
        else "未月结 Open: figures may still change"
    )
    head = 6
    _head(ws, head, 1, _CARRIER_HEAD)
    row = head + 2
    for r in doc["carriers"]:
        _put(ws, row, 1, _figures(r, r["carrier"], r["carrier_name"], _rate_cell(r)), _FIG_FORMATS)
        row += 1
    _put(ws, row, 1, _figures(doc["totals"], "合计 Total", None, None), _FIG_FORMATS)
    for col in range(1, len(_CARRIER_HEAD) + 1):
        ws.cell(row=row, column=col).font = Font(bold=True)
        ws.cell(row=row, column=col).fill = _TOTAL_FILL

    # center awards and the program total, beside the carriers
    col = _AWARD_COL
    ws.cell(row=head - 1, column=col, value="区级配送中心一次性奖励 Center award").font = Font(
        bold=True
    )
    _head(ws, head, col, _AWARD_HEAD)
    arow = head + 2
    award_formats = [None, None, None, None, None, _YUAN, _COUNT]
    for w in doc["center_awards"]:
        values = [
            w["site_code"],
            w.get("site_name"),
            w["accredited_on"],
            w["document_no"],
            _STATUS_ZH.get(w["status"], w["status"]),
            _yuan(w["award_fen"]),
            w["award_fen"],
        ]
        _put(ws, arow, col, values, award_formats)
        arow += 1
    if not doc["center_awards"]:
        ws.cell(row=arow, column=col, value="无 None")
        arow += 1
    arow += 1
    program = doc.get("program_total_fen")
    label = "项目合计 Program total (补贴+调整+奖励 subsidies + adjustments + awards)"
    ws.cell(row=arow, column=col, value=label).font = Font(bold=True)
    values = [_yuan(program), program] if program is not None else ["—", "—"]
    _put(ws, arow, col + 5, values, [_YUAN, _COUNT])
    for c in (col + 5, col + 6):
        ws.cell(row=arow, column=c).font = Font(bold=True)

    # prior-period adjustments, below
    adjustments = doc.get("prior_period_adjustments", [])
    row += 2
    ws.cell(row=row, column=1, value="以前期间调整 Prior-period adjustments").font = Font(bold=True)
    row += 1
    _head(ws, row, 1, _ADJUST_HEAD)
    row += 2
    for a in adjustments:
        _put(ws, row, 1, _figures(a, a["carrier"], a["carrier_name"], a["period"]), _FIG_FORMATS)
        row += 1
    if not adjustments:
        ws.cell(row=row, column=1, value="无 None")
        row += 1
    total = doc.get("adjustments_total")
    if total is not None and adjustments:
        _put(ws, row, 1, _figures(total, "调整合计 Total", None, None), _FIG_FORMATS)
        for c in range(1, len(_ADJUST_HEAD) + 1):
            ws.cell(row=row, column=c).font = Font(bold=True)

    widths = [12, 14, 12, 14, 16, 14, 12, 14, 14, 14]
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    for i, w in enumerate([12, 16, 12, 22, 16, 16, 14], start=_AWARD_COL):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = ws.cell(row=head + 2, column=2)
    when = _doc_time(doc)
    wb.properties.creator = "parcel-subsidy"
    wb.properties.created = when.astimezone(UTC).replace(tzinfo=None)
    return _deterministic(wb, when)


_CORE_TIME = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _deterministic(wb: Workbook, when: datetime) -> bytes:
    """Save ``wb`` with ``when`` as every time in it (core properties in UTC, zip entries in
    the report's own Asia/Shanghai wall time), so equal documents give equal bytes.
    """
    raw = io.BytesIO()
    wb.save(raw)
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_TIME.sub(rb"\g<1>" + stamp + rb"\g<3>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, data)
    return out.getvalue()

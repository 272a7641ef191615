"""Renderings of a monthly report (:class:`subsidy.models.MonthlyReport`) as JSON, CSV and
XLSX, and of an upload's rejected rows as CSV.

All are pure functions of what they are given: the same report gives the same bytes, so a
closed month exports byte for byte the same forever (the XLSX carries the report's ``as_of``
as its document and archive time, never the clock).

- JSON: the report's fields in order, compact UTF-8 (what the API answers).
- CSV: UTF-8, English header, one line per carrier, the total, each prior-period adjustment,
  each center award and the program total, told apart by ``section``. Money in fen and yuan.
- XLSX (for finance, openpyxl): headers in Chinese and English, yuan as numbers formatted
  ``#,##0.00`` (written as exact decimals, never floats) beside the exact fen, a totals row,
  the center awards and the program total beside the carriers, the adjustments below.

Every cell of every export goes through :func:`inert_text`: text a spreadsheet would run as a
formula (an uploaded ``=HYPERLINK(...)``, a site named ``@SUM(1)`` in the registry) is written
as text. Money and counts are written as numbers, never as text.
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
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.timeutil import to_local
from ingest.validate import REJECT_COLUMNS
from subsidy.models import Adjustment, CarrierRow, MonthlyReport, Totals
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
    """Exact yuan for a spreadsheet cell (a decimal, never a float); ``str()`` of it is
    :func:`core.money.fen_to_yuan`'s text."""
    return Decimal(fen).scaleb(-2)


#: What a spreadsheet reads as the start of a formula in a text cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_text(value: Any) -> Any:
    """The one rule for every cell of every export: text a spreadsheet would run as a formula
    (beginning with ``= + - @``, a tab or a carriage return) gets a leading apostrophe, so it
    shows as text. Numbers, decimals and ``None`` pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# -- JSON -------------------------------------------------------------------------------------
def report_json(report: MonthlyReport) -> bytes:
    """The report as the API answers it: its fields in order, compact UTF-8."""
    return report.model_dump_json().encode("utf-8")


# -- CSV --------------------------------------------------------------------------------------
def _csv_line(values: Iterable[Any]) -> bytes:
    buf = io.StringIO()
    cells = ["" if v is None else inert_text(v) for v in values]
    csv.writer(buf, lineterminator="\r\n").writerow(cells)
    return buf.getvalue().encode("utf-8")


def _figure_cells(row: CarrierRow | Totals | Adjustment, rate_fen: int | None) -> list[Any]:
    return [
        row.eligible_parcels,
        rate_fen,
        row.subsidy_fen,
        _yuan(row.subsidy_fen),
        row.pending_parcels,
        *(getattr(row.ineligible, r) for r in INELIGIBLE_REASONS),
    ]


def _no_figures(fen: int) -> list[Any]:
    return [None, None, fen, _yuan(fen), None, *([None] * len(INELIGIBLE_REASONS))]


def report_csv(report: MonthlyReport) -> bytes:
    """The report as CSV (see the module docstring for its sections)."""
    m = report.month
    lines = [_csv_line(CSV_COLUMNS)]
    for r in report.carriers:
        head = ["carrier", m, r.carrier, r.carrier_name, m, None, None]
        lines.append(_csv_line([*head, *_figure_cells(r, r.rate_fen)]))
    total = _figure_cells(report.totals, None)
    lines.append(_csv_line(["total", m, None, None, m, None, None, *total]))
    for a in report.prior_period_adjustments:
        head = ["adjustment", m, a.carrier, a.carrier_name, a.period, None, None]
        lines.append(_csv_line([*head, *_figure_cells(a, None)]))
    for w in report.center_awards:
        head = ["center_award", m, None, w.site_name, None, w.site_code, w.status]
        lines.append(_csv_line([*head, *_no_figures(w.award_fen)]))
    if report.program_total_fen is not None:
        head = ["program_total", m, None, None, None, None, None]
        lines.append(_csv_line([*head, *_no_figures(report.program_total_fen)]))
    return b"".join(lines)


def rejects_csv(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """An upload's rejected rows as CSV lines (header first), values as they were read."""
    yield _csv_line(REJECT_COLUMNS)
    for row in rows:
        yield _csv_line(row.get(c) for c in REJECT_COLUMNS)


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


def _write(ws: Worksheet, row: int, col: int, value: Any) -> Cell:
    """Put ``value`` in a cell, through :func:`inert_text` (every cell of the workbook)."""
    cell: Cell = ws.cell(row=row, column=col, value=inert_text(value))
    return cell


def _head(ws: Worksheet, row: int, col: int, labels: list[tuple[str, str]]) -> None:
    # room for a Chinese label on one line and an English one wrapped on up to three lines,
    # never overlapping
    ws.row_dimensions[row].height = 22
    ws.row_dimensions[row + 1].height = 45
    for i, (zh, en) in enumerate(labels):
        for r, text in ((row, zh), (row + 1, en)):
            cell = _write(ws, r, col + i, text)
            cell.font = Font(bold=True)
            cell.fill = _HEAD_FILL
            cell.border = _BOX
            cell.alignment = Alignment(horizontal="center", wrap_text=True)


def _put(ws: Worksheet, row: int, col: int, values: list[Any], formats: list[str | None]) -> None:
    for i, (value, fmt) in enumerate(zip(values, formats, strict=True)):
        cell = _write(ws, row, col + i, value)
        cell.border = _BOX
        if fmt:
            cell.number_format = fmt


def _bold(ws: Worksheet, row: int, col: int, value: Any) -> None:
    _write(ws, row, col, value).font = Font(bold=True)


_FIG_FORMATS = [None, None, _COUNT, "0.00", _YUAN, _COUNT, _COUNT] + [_COUNT] * len(
    INELIGIBLE_REASONS
)


def _figures(
    row: CarrierRow | Totals | Adjustment, first: Any, second: Any, third: Any
) -> list[Any]:
    return [
        first,
        second,
        row.eligible_parcels,
        third,
        _yuan(row.subsidy_fen),
        row.subsidy_fen,
        row.pending_parcels,
        *(getattr(row.ineligible, r) for r in INELIGIBLE_REASONS),
    ]


def _rate_cell(row: CarrierRow) -> Any:
    if row.rate_fen is not None:
        return _yuan(row.rate_fen)
    return " / ".join(f"{_yuan(r)}" for r in row.rates_fen) or None


def report_xlsx(report: MonthlyReport) -> bytes:
    """The report as an Excel workbook finance opens (see the module docstring)."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "月报 Monthly report"
    _write(ws, 1, 1, f"快递进村补贴月报 Parcel subsidy monthly report  {report.month}").font = Font(
        bold=True, size=14
    )
    _write(ws, 2, 1, f"政策 Policy: {report.policy}")
    as_of = local_time_text(report.as_of)
    _write(ws, 3, 1, f"截至 As of: {as_of}    金额单位 Amounts: 元 yuan (分 fen = 0.01 yuan)")
    closed = report.closed
    _write(
        ws,
        4,
        1,
        f"已月结 Closed {local_time_text(closed.closed_at)} by {closed.closed_by}, "
        f"store version {closed.store_version}, policy {closed.policy_digest[:12]}"
        if closed
        else "未月结 Open: figures may still change",
    )
    last_col = _AWARD_COL + len(_AWARD_HEAD) - 1
    for line in (2, 3, 4):  # the lines above the tables span the printed width, wrapped
        ws.merge_cells(start_row=line, start_column=1, end_row=line, end_column=last_col)
        ws.cell(row=line, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    head = 6
    _head(ws, head, 1, _CARRIER_HEAD)
    row = head + 2
    for r in report.carriers:
        _put(ws, row, 1, _figures(r, r.carrier, r.carrier_name, _rate_cell(r)), _FIG_FORMATS)
        row += 1
    _put(ws, row, 1, _figures(report.totals, "合计 Total", None, None), _FIG_FORMATS)
    for col in range(1, len(_CARRIER_HEAD) + 1):
        ws.cell(row=row, column=col).font = Font(bold=True)
        ws.cell(row=row, column=col).fill = _TOTAL_FILL
    _awards_block(ws, report, head)
    _adjustments_block(ws, report, row + 2)

    widths = [12, 14, 12, 14, 16, 14, 12, 14, 14, 14]
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    for i, w in enumerate([12, 16, 12, 22, 16, 16, 14], start=_AWARD_COL):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = ws.cell(row=head + 2, column=2)
    _print_setup(ws, head, last_col)
    wb.properties.creator = "parcel-subsidy"
    wb.properties.created = report.as_of.astimezone(UTC).replace(tzinfo=None)
    return _deterministic(wb, report.as_of)


def local_time_text(value: datetime | str) -> str:
    """An instant as finance reads it on paper: ``2024-07-10 09:30:00 (北京时间 UTC+8)``
    (Asia/Shanghai, whole seconds; an ISO 8601 text is parsed first)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{to_local(instant):%Y-%m-%d %H:%M:%S} (北京时间 UTC+8)"


def _print_setup(ws: Worksheet, head: int, last_col: int) -> None:
    """A4 landscape, every column on one page wide (as many pages down as it takes), the two
    header rows repeated on every printed page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.print_title_rows = f"{head}:{head + 1}"
    ws.print_area = f"A1:{get_column_letter(last_col)}{ws.max_row}"
    ws.row_dimensions[2].height = 30


def _awards_block(ws: Worksheet, report: MonthlyReport, head: int) -> None:
    """The center awards and the program total, beside the carriers."""
    col = _AWARD_COL
    _bold(ws, head - 1, col, "区级配送中心一次性奖励 Center award")
    _head(ws, head, col, _AWARD_HEAD)
    arow = head + 2
    award_formats = [None, None, None, None, None, _YUAN, _COUNT]
    for w in report.center_awards:
        values = [
            w.site_code,
            w.site_name,
            w.accredited_on.isoformat(),
            w.document_no,
            _STATUS_ZH.get(w.status, w.status),
            _yuan(w.award_fen),
            w.award_fen,
        ]
        _put(ws, arow, col, values, award_formats)
        arow += 1
    if not report.center_awards:
        _write(ws, arow, col, "无 None")
        arow += 1
    arow += 1
    program = report.program_total_fen
    _bold(ws, arow, col, "项目合计 Program total (补贴+调整+奖励 subsidies + adjustments + awards)")
    values = [_yuan(program), program] if program is not None else ["—", "—"]
    _put(ws, arow, col + 5, values, [_YUAN, _COUNT])
    for c in (col + 5, col + 6):
        ws.cell(row=arow, column=c).font = Font(bold=True)


def _adjustments_block(ws: Worksheet, report: MonthlyReport, row: int) -> None:
    """The prior-period adjustments, below the carriers, from ``row``."""
    adjustments = report.prior_period_adjustments
    _bold(ws, row, 1, "以前期间调整 Prior-period adjustments")
    row += 1
    _head(ws, row, 1, _ADJUST_HEAD)
    row += 2
    for a in adjustments:
        _put(ws, row, 1, _figures(a, a.carrier, a.carrier_name, a.period), _FIG_FORMATS)
        row += 1
    if not adjustments:
        _write(ws, row, 1, "无 None")
        return
    _put(ws, row, 1, _figures(report.adjustments_total, "调整合计 Total", None, None), _FIG_FORMATS)
    for c in range(1, len(_ADJUST_HEAD) + 1):
        ws.cell(row=row, column=c).font = Font(bold=True)


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

"""The month's payment list (拨付清单, SPEC §11 ``GET /v1/statements?month=M&format=xlsx``).

The bank pays only what two people signed: one row per approved or paid statement (drafts
and submitted ones are counted in a note, never listed), with the payee, bank, account, the
payable in yuan and in capital numerals, its status and voucher; a total; signature lines.
It prints on A4 landscape, one page wide (``fitToWidth``), with the title and header rows
repeated on every page. Every text cell goes through :func:`subsidy.exports.inert_text`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.properties import PageSetupProperties

from core.policy import Policy
from core.store import Store
from subsidy.exports import inert_text
from subsidy.settlement.capitals import capitals
from subsidy.settlement.documents import STATUS_ZH
from subsidy.settlement.payees import payee_in
from subsidy.settlement.statements import Statement

#: (header, column width in characters)
COLUMNS: tuple[tuple[str, float], ...] = (
    ("序号", 5),
    ("结算单号", 8),
    ("快递公司", 14),
    ("收款单位", 26),
    ("开户银行", 22),
    ("银行账号", 24),
    ("应付金额(元)", 14),
    ("金额大写", 30),
    ("状态", 12),
    ("拨付凭证号", 14),
)
_THIN = Side(style="thin", color="666666")
_BOX = Border(top=_THIN, bottom=_THIN, left=_THIN, right=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def payment_list_xlsx(
    store: Store, policy: Policy, month: str | None, statements: Sequence[Statement]
) -> bytes:
    """The payment list of ``month`` (``None``: of every month) as XLSX bytes; the given
    statements in their order."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"拨付清单 {month or '全部'}"
    period = "全部月份" if month is None else "{}年{}月".format(*month.split("-"))
    last = len(COLUMNS)
    ws.cell(row=1, column=1, value=f"济阳区电商快递进村补贴拨付清单（{period}）")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last)
    ws["A1"].font = Font(bold=True, size=15)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.row_dimensions[1].height = 26
    for i, (head, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=2, column=i, value=head)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[cell.column_letter].width = width
    total = 0
    signed = [s for s in statements if s.status in ("approved", "paid")]
    with store.connect() as db:
        for n, s in enumerate(signed, start=1):
            registry = payee_in(db, s.carrier, policy.carriers)
            fixed = s.approved_at is not None and s.payee_name is not None
            values: list[Any] = [
                n,
                s.id,
                f"{policy.carriers.get(s.carrier, '')} {s.carrier}"
                + ("" if month else f" {s.month}"),
                (s.payee_name if fixed else registry.payee_name) or "（未登记）",
                (s.bank if fixed else registry.bank) or "（未登记）",
                (s.account_no if fixed else registry.account_no) or "（未登记）",
                Decimal(s.payable_fen).scaleb(-2),
                capitals(s.payable_fen),
                STATUS_ZH[s.status],
                s.voucher_no or "",
            ]
            total += s.payable_fen
            row = n + 2
            for col, value in enumerate(values, start=1):
                cell = ws.cell(row=row, column=col, value=inert_text(value))
                cell.border = _BOX
                cell.alignment = Alignment(vertical="center", wrap_text=col in (4, 5, 8))
            ws.cell(row=row, column=6).number_format = "@"
            ws.cell(row=row, column=7).number_format = "#,##0.00"
    end = len(signed) + 3
    ws.cell(row=end, column=1, value="合计")
    ws.merge_cells(start_row=end, start_column=1, end_row=end, end_column=6)
    ws.cell(row=end, column=7, value=Decimal(total).scaleb(-2)).number_format = "#,##0.00"
    ws.cell(row=end, column=8, value=capitals(total))
    for col in range(1, last + 1):
        ws.cell(row=end, column=col).border = _BOX
        ws.cell(row=end, column=col).font = Font(bold=True)
    unsigned = len(statements) - len(signed)
    note = f"注：另有 {unsigned} 张结算单未经审核，不列入本清单。" if unsigned else ""
    ws.cell(row=end + 1, column=1, value=note or None)
    ws.cell(row=end + 2, column=1, value="制表人（签字）：")
    ws.cell(row=end + 2, column=4, value="审核人（签字）：")
    ws.cell(row=end + 2, column=7, value="区财政局（盖章）：")
    ws.cell(row=end + 3, column=1, value="日期：")
    ws.cell(row=end + 3, column=4, value="日期：")
    ws.cell(row=end + 3, column=7, value="日期：")

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = "1:2"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

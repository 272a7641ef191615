"""The printable statement (SPEC §11 ``?format=pdf``): one A4 page in Chinese.

The carrier and its payee, the month, the figures (eligible parcels, rate, claimed, held,
adjustments, claim), the budget and the pro-rating, the payable in figures and in capital
numerals (大写), the signatures (preparer, approver, finance bureau) with room for seals.
Made with fpdf2, which embeds a subset of the CJK TrueType font (:mod:`.fonts`), so the
page prints the same on any machine. Nothing on it reads the clock but ``printed_at``.
"""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store
from core.timeutil import to_local
from subsidy.settlement.capitals import capitals
from subsidy.settlement.fonts import cjk_font
from subsidy.settlement.payees import payee_in
from subsidy.settlement.statements import Statement

FONT = "cjk"
STATUS_ZH = {
    "draft": "草稿",
    "submitted": "已提交待审核",
    "approved": "已审核待拨付",
    "paid": "已拨付",
}
_NOTES = {
    "no_budget": "本年度未设定预算：应付金额等于应结算金额。",
    "within_budget": "本月申报合计未超过年度剩余预算：全额结算。",
    "prorated": "本月申报合计超过年度剩余预算：按比例核减（最大余数法，精确到分），"
    "未获结算部分不再支付（政策标准为“最高”每件0.20元）。",
    "budget_spent": "年度预算已用完：本月应付为零，追加预算前不再支付。",
}
#: Page geometry, millimetres (A4 portrait).
_LEFT, _WIDTH = 15.0, 180.0


def yuan(fen: int) -> str:
    """``1234567`` -> ``12,345.67`` (thousands separated, exact)."""
    text = fen_to_yuan(fen)
    sign = "-" if text.startswith("-") else ""
    whole, cents = text.lstrip("-").split(".")
    return f"{sign}{int(whole):,}.{cents}"


class _Page(FPDF):
    def row(
        self, cells: list[tuple[str, float]], *, height: float = 8.0, size: float = 10.5
    ) -> None:
        """One table row: ``(text, width)`` cells with borders."""
        self.set_x(_LEFT)
        self.set_font(FONT, size=size)
        for i, (text, width) in enumerate(cells):
            last = i == len(cells) - 1
            self.cell(
                width,
                height,
                text,
                border=1,
                align="L",
                new_x=XPos.LMARGIN if last else XPos.RIGHT,
                new_y=YPos.NEXT if last else YPos.TOP,
            )

    def pairs(self, items: list[tuple[str, str]]) -> None:
        """Label/value pairs two to a row."""
        for i in range(0, len(items), 2):
            chunk = items[i : i + 2]
            cells: list[tuple[str, float]] = []
            for label, value in chunk:
                cells += [(label, 34.0), (value, 56.0 if len(chunk) == 2 else 146.0)]
            self.row(cells)


def statement_pdf(store: Store, policy: Policy, s: Statement, *, printed_at: datetime) -> bytes:
    """The statement as one A4 page (PDF bytes)."""
    with store.connect() as db:
        registry = payee_in(db, s.carrier, policy.carriers)
    fixed = s.approved_at is not None and s.payee_name is not None
    payee_name = s.payee_name if fixed else registry.payee_name
    bank = s.bank if fixed else registry.bank
    account = s.account_no if fixed else registry.account_no
    year, month = s.month.split("-")

    pdf = _Page(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_LEFT, 14, _LEFT)
    pdf.set_creation_date(to_local(printed_at))
    pdf.set_title(f"补贴结算单 {s.month} {s.carrier}")
    pdf.add_font(FONT, "", str(cjk_font()))
    pdf.add_page()

    pdf.set_font(FONT, size=17)
    pdf.cell(
        _WIDTH, 10, "济阳区电商快递进村补贴结算单", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font(FONT, size=9.5)
    pdf.cell(
        _WIDTH,
        6,
        "依据：济阳政字〔2021〕80号 第四条（区级配送中心发往乡镇中心村的快件，每件最高补贴0.20元）",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(FONT, size=10.5)
    pdf.cell(
        _WIDTH,
        8,
        f"结算月份：{year}年{month}月      结算单编号：{s.id}      状态：{STATUS_ZH[s.status]}",
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )

    carrier_name = policy.carriers.get(s.carrier, "")
    pdf.pairs(
        [
            ("快递公司", f"{carrier_name} ({s.carrier})"),
            ("收款单位", payee_name or "（未登记）"),
            ("开户银行", bank or "（未登记）"),
            ("银行账号", account or "（未登记）"),
        ]
    )
    pdf.ln(3)
    rate = f"{fen_to_yuan(s.rate_fen)} 元/件" if s.rate_fen is not None else "见包裹清单"
    adjust_detail = "；".join(
        f"{line.get('period') or ''}{'上期结转' if line['kind'] == 'carried' else '往期调整'}"
        f" {yuan(line['amount_fen'])}"
        for line in s.adjustment_lines
    )
    pdf.pairs(
        [
            ("符合条件包裹", f"{s.eligible_parcels:,} 件"),
            ("补贴标准", rate),
            ("申报补贴", f"{yuan(s.claimed_fen)} 元"),
            ("暂扣（异常待核）", f"{yuan(s.held_fen)} 元"),
            ("调整", f"{yuan(s.adjustment_fen)} 元"),
            ("应结算金额", f"{yuan(s.claim_fen)} 元"),
        ]
    )
    if adjust_detail:
        pdf.row([("调整明细", 34.0), (adjust_detail[:80], 146.0)])
    pdf.ln(3)
    budget = "未设定" if s.budget_fen is None else f"{yuan(s.budget_fen)} 元"
    remaining = "—" if s.remaining_fen is None else f"{yuan(s.remaining_fen)} 元"
    pdf.pairs(
        [
            (f"{year}年度预算", budget),
            ("结算时剩余预算", remaining),
            ("本月申报合计", f"{yuan(s.total_claim_fen)} 元"),
            ("按比例核减", "是" if s.prorated else "否"),
            ("核减（不予支付）", f"{yuan(s.forfeited_fen)} 元"),
            ("结转下期", f"{yuan(s.carried_fen)} 元"),
        ]
    )
    pdf.set_x(_LEFT)
    pdf.set_font(FONT, size=9.5)
    pdf.multi_cell(_WIDTH, 5.5, "说明：" + _NOTES[s.budget_note], border=1)
    pdf.ln(3)
    pdf.row(
        [("应付金额（小写）", 40.0), (f"¥ {yuan(s.payable_fen)} 元", 140.0)], height=11, size=13
    )
    pdf.row(
        [("应付金额（大写）", 40.0), (f"人民币 {capitals(s.payable_fen)}", 140.0)],
        height=11,
        size=13,
    )
    pdf.ln(3)

    signed = [
        ("制表人（经办）", s.submitted_name, s.submitted_at),
        ("审核人", s.approved_name, s.approved_at),
        ("区财政局（盖章）", None, s.paid_on),
    ]
    top = pdf.get_y()
    width, height = _WIDTH / 3, 62.0
    for i, (title, name, when) in enumerate(signed):
        x = _LEFT + i * width
        pdf.rect(x, top, width, height)
        pdf.set_xy(x + 3, top + 3)
        pdf.set_font(FONT, size=11)
        pdf.cell(width - 6, 7, title)
        pdf.set_font(FONT, size=9.5)
        pdf.set_xy(x + 3, top + 13)
        pdf.cell(width - 6, 6, f"系统记录：{name}" if name else "系统记录：—")
        pdf.set_xy(x + 3, top + 37)
        pdf.cell(width - 6, 6, "签字：")
        pdf.set_xy(x + 3, top + 47)
        date_text = f"日期：{when[:10]}" if when else "日期：    年   月   日"
        pdf.cell(width - 6, 6, date_text)
        pdf.set_xy(x + 3, top + 55)
        pdf.cell(width - 6, 5, "（盖章）" if i == 2 else "")
    pdf.set_xy(_LEFT, top + height + 3)
    pdf.set_font(FONT, size=8.5)
    voucher = f"  拨付凭证号：{s.voucher_no}，拨付日期：{s.paid_on}。" if s.voucher_no else ""
    pdf.multi_cell(
        _WIDTH,
        4.5,
        f"金额按分计算，包裹明细见本结算单的包裹清单（CSV/XLSX）。{voucher}"
        f"打印时间：{to_local(printed_at):%Y-%m-%d %H:%M}（北京时间）。",
    )
    return bytes(pdf.output())

"""The console's words in Chinese (zh-CN, the default) and English, and how it shows values.

Money is shown as yuan with two decimals, from integer fen, by :func:`core.money.fen_to_yuan`
(never a float), grouped by thousands; times are shown in Asia/Shanghai. Every label a page
uses is a key of :data:`MESSAGES`; a test checks that both languages have every key. What
went wrong is worded by :func:`error_text` from the error's code and params, with the words
of :mod:`api.console.error_words`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from api.console.error_words import ERROR_MESSAGES
from core.exceptions import DomainError
from core.money import fen_to_yuan
from core.timeutil import to_local

LANGS: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_NAMES = {"zh-CN": "中文", "en": "English"}

#: key -> (zh-CN, en). Keys with a dot-free prefix group labels of one kind of value.
MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("快递进村补贴管理", "Parcel subsidy console"),
    "app.policy": ("政策", "Policy"),
    "a11y.skip": ("跳到正文", "Skip to content"),
    "ui.colon": ("：", ": "),
    "unit.yuan": ("元", "yuan"),
    "nav.label": ("主导航", "Main navigation"),
    "nav.report": ("月度报表", "Monthly report"),
    "nav.own_report": ("本企业月度数据", "Monthly figures"),
    "nav.uploads": ("上传记录", "Uploads"),
    "nav.parcels": ("包裹查询", "Parcel lookup"),
    "nav.awards": ("中心一次性奖励", "Center award"),
    "nav.audit": ("审计日志", "Audit log"),
    "auth.title": ("登录", "Sign in"),
    "auth.intro": (
        "请输入管理员为您创建的访问令牌（以 pst_ 开头）。",
        "Enter the access token an administrator created for you (it starts with pst_).",
    ),
    "auth.token": ("访问令牌", "Access token"),
    "auth.submit": ("登录", "Sign in"),
    "auth.sign_out": ("退出", "Sign out"),
    "auth.bad_token": (
        "令牌无效或已被吊销，请向管理员申请新的令牌。",
        "Unknown or revoked token; ask an administrator for a new one.",
    ),
    "auth.signed_out": ("您已退出登录。", "You have signed out."),
    "auth.expired": ("登录已过期，请重新登录。", "Your session has expired; sign in again."),
    "auth.signed_in_as": ("当前用户", "Signed in as"),
    "lang.switch": ("切换语言", "Switch language"),
    "report.title": ("月度补贴报表", "Monthly subsidy report"),
    "report.own_title": ("本企业月度数据", "Our monthly figures"),
    "report.month": ("月份", "Month"),
    "report.as_of": ("计算截至", "Figures as of"),
    "report.as_of_hint": (
        "留空表示现在；仅影响未月结的月份。",
        "Leave empty for now; only open months depend on it.",
    ),
    "report.show": ("查看", "Show"),
    "report.prev": ("上月", "Previous month"),
    "report.next": ("下月", "Next month"),
    "report.more": ("更多选项", "More options"),
    "report.open": (
        "未月结：数据截至 {as_of}，仍可能变化。",
        "Open: figures as of {as_of}; they may still change.",
    ),
    "report.closed": (
        "已月结：{closed_at} 由 {closed_by} 冻结（数据版本 {version}，政策摘要 {digest}）。",
        "Closed {closed_at} by {closed_by} (store version {version}, policy {digest}).",
    ),
    "report.carriers": ("各快递企业补贴", "Subsidy per carrier"),
    "report.carrier": ("快递企业", "Carrier"),
    "report.eligible": ("合格件数", "Eligible parcels"),
    "report.rate": ("补贴标准（元/件）", "Rate (yuan/parcel)"),
    "report.subsidy": ("补贴金额（元）", "Subsidy (yuan)"),
    "report.pending": ("待定件数", "Pending parcels"),
    "report.ineligible": ("不合格件数（按原因）", "Ineligible parcels (by reason)"),
    "report.total": ("合计", "Total"),
    "report.empty": ("本月没有从区级配送中心发出的包裹。", "No parcel left the district center."),
    "report.adjustments": ("以前期间调整", "Prior-period adjustments"),
    "report.adjustments_none": ("没有以前期间调整。", "No prior-period adjustments."),
    "report.period": ("所属月份", "Period"),
    "report.adjustment": ("调整金额（元）", "Adjustment (yuan)"),
    "report.eligible_change": ("合格件数变动", "Eligible (change)"),
    "report.pending_change": ("待定件数变动", "Pending (change)"),
    "report.awards": ("区级配送中心一次性奖励", "One-time center award"),
    "report.awards_none": ("尚未认定配送中心。", "No center accredited yet."),
    "report.program_total": (
        "项目合计（补贴 + 调整 + 奖励）",
        "Program total (subsidies + adjustments + awards)",
    ),
    "report.downloads": ("下载", "Download"),
    "report.xlsx": ("Excel 报表", "Excel workbook"),
    "report.csv": ("CSV 文件", "CSV file"),
    "report.close": ("月结本月", "Close this month"),
    "report.close_not_yet": ("本月结束后才能月结。", "The month can be closed once it is over."),
    "report.closed_now": (
        "已月结 {month}，数据已冻结。",
        "{month} is closed; its figures are frozen.",
    ),
    "chart.title": (
        "政策期内各快递企业月度补贴（元）",
        "Monthly subsidy per carrier over the policy period (yuan)",
    ),
    "chart.table": ("图表数据", "Chart data"),
    "chart.none": ("政策期内还没有补贴数据。", "No subsidy in the policy period yet."),
    "chart.hint": ("点击柱形可查看该月报表。", "Click a bar to open that month."),
    "close.title": ("确认月结 {month}", "Close {month}?"),
    "close.intro": (
        "月结后以下数据将被冻结，之后不再改变；迟到的扫描记录将作为以前期间调整计入下一个未月结月份。",
        "Closing freezes these figures for good; scans that arrive later appear as prior-period "
        "adjustments in the next open month.",
    ),
    "close.figures": ("将被冻结的数据（截至 {as_of}）", "Figures to be frozen (as of {as_of})"),
    "close.confirm": (
        "确认月结，冻结补贴 {amount} 元",
        "Close and freeze {amount} yuan of subsidies",
    ),
    "close.cancel": ("返回", "Back"),
    "close.changed": (
        "您查看之后数据已发生变化，请核对新的数据后再确认。",
        "The figures changed since you reviewed them; check the new figures and confirm again.",
    ),
    "uploads.title": ("上传记录", "Uploads"),
    "uploads.form": ("上传扫描记录", "Upload a scan-log export"),
    "uploads.file": ("文件（Parquet 或 CSV）", "File (Parquet or CSV)"),
    "uploads.hint": (
        "同一文件重复上传不会重复入库；重叠的导出中相同的扫描只计一次。",
        "The same file twice is ingested once; a scan repeated in overlapping exports counts once.",
    ),
    "uploads.submit": ("上传", "Upload"),
    "uploads.progress": ("上传进度", "Upload progress"),
    "uploads.sending": ("正在上传… {pct}%", "Uploading… {pct}%"),
    "uploads.processing": ("已上传，正在入库…", "Uploaded; ingesting…"),
    "uploads.failed": ("上传失败", "Upload failed"),
    "uploads.choose": ("请先选择文件。", "Choose a file first."),
    "uploads.id": ("编号", "ID"),
    "uploads.filename": ("文件名", "File"),
    "uploads.received_at": ("上传时间", "Received"),
    "uploads.status": ("状态", "Status"),
    "uploads.rows_read": ("读取行数", "Rows read"),
    "uploads.accepted": ("入库", "Accepted"),
    "uploads.rejected": ("拒收行", "Rejected"),
    "uploads.duplicates": ("重复", "Duplicates"),
    "uploads.error": ("拒收原因", "Refusal reason"),
    "uploads.none": ("还没有上传记录。", "No uploads yet."),
    "uploads.filter": ("筛选", "Filter"),
    "uploads.all": ("全部", "All"),
    "uploads.older": ("更早的记录", "Older uploads"),
    "uploads.carrier": ("快递企业", "Carrier"),
    "upload.title": ("上传 #{id}", "Upload #{id}"),
    "upload.waiting": ("正在入库，本页面会自动刷新。", "Ingesting; this page refreshes by itself."),
    "upload.sha256": ("文件 SHA-256", "File SHA-256"),
    "upload.size": ("大小（字节）", "Size (bytes)"),
    "upload.by": ("上传人", "Uploaded by"),
    "upload.ingested_at": ("入库时间", "Ingested"),
    "upload.by_reason": ("拒收行（按原因）", "Rejected rows by reason"),
    "upload.rejects": ("拒收行明细", "Rejected rows"),
    "upload.rejects_none": ("没有拒收行。", "No rejected rows."),
    "upload.rejects_csv": ("下载全部拒收行（CSV）", "Download all rejected rows (CSV)"),
    "upload.more_rejects": ("后续拒收行", "More rejected rows"),
    "upload.row_no": ("行号", "Row"),
    "upload.reason": ("原因", "Reason"),
    "upload.back": ("返回上传记录", "Back to uploads"),
    "parcel.title": ("包裹查询", "Parcel lookup"),
    "parcel.carrier": ("快递企业", "Carrier"),
    "parcel.waybill": ("运单号", "Waybill number"),
    "parcel.submit": ("查询", "Look up"),
    "parcel.not_found": ("没有找到该包裹的扫描记录。", "No scans of this parcel were found."),
    "parcel.status": ("状态", "Status"),
    "parcel.reason": ("原因", "Reason"),
    "parcel.month": ("计入月份", "Month"),
    "parcel.departure": ("区级配送中心发出（D）", "Departure from the district center (D)"),
    "parcel.arrival": ("到达乡镇中心村（A）", "Arrival at a village hub (A)"),
    "parcel.transit": ("运输时长", "Transit time"),
    "parcel.max_transit": ("上限 {limit}", "limit {limit}"),
    "parcel.subsidy": ("补贴（元）", "Subsidy (yuan)"),
    "parcel.timeline": ("扫描时间线", "Scan timeline"),
    "parcel.decides_departure": ("决定：发出", "Decides: departure"),
    "parcel.decides_arrival": ("决定：到达", "Decides: arrival"),
    "parcel.evidence": ("来源：上传 #{upload} 第 {row} 行", "Source: upload #{upload}, row {row}"),
    "parcel.none": ("—", "—"),
    "audit.title": ("审计日志", "Audit log"),
    "audit.action": ("操作类型", "Action"),
    "audit.after": ("起始编号（之后）", "After line"),
    "audit.id": ("编号", "#"),
    "audit.at": ("时间", "When"),
    "audit.actor": ("操作人", "Who"),
    "audit.target": ("对象", "What"),
    "audit.change": ("变更（原值 → 新值）", "Change (old → new)"),
    "audit.old": ("原值", "Old"),
    "audit.new": ("新值", "New"),
    "audit.none": ("没有符合条件的记录。", "No matching lines."),
    "audit.more": ("后续记录", "Next lines"),
    "awards.title": ("区级配送中心一次性奖励", "One-time award to the district center"),
    "awards.intro": (
        "每个配送中心经认定后最多获得一次奖励，金额不超过 {cap} 元；"
        "状态依次为 已认定 → 已审批 → 已拨付。",
        "Each center gets at most one award, after accreditation, of at most {cap} yuan; its "
        "status moves accredited → approved → paid.",
    ),
    "awards.none": ("尚无奖励记录。", "No award recorded yet."),
    "awards.site": ("配送中心", "Center"),
    "awards.accredited_on": ("认定日期", "Accredited on"),
    "awards.document_no": ("认定文号", "Document no."),
    "awards.amount": ("奖励金额（元）", "Award (yuan)"),
    "awards.status": ("状态", "Status"),
    "awards.history": ("经办记录", "History"),
    "awards.record": ("登记认定与奖励", "Record an accreditation and its award"),
    "awards.submit": ("登记", "Record"),
    "awards.approve": ("审批奖励 #{id}", "Approve award #{id}"),
    "awards.pay": ("标记奖励 #{id} 已拨付", "Mark award #{id} paid"),
    "awards.confirm_approve": (
        "确认审批该奖励？此操作不可撤销。",
        "Approve this award? This cannot be undone.",
    ),
    "awards.confirm_pay": (
        "确认该奖励已拨付？此操作不可撤销。",
        "Mark this award paid? This cannot be undone.",
    ),
    "awards.recorded": ("奖励已登记。", "The award is recorded."),
    "awards.approved": ("奖励已审批。", "The award is approved."),
    "awards.paid": ("奖励已标记为已拨付。", "The award is marked paid."),
    "awards.no_centers": (
        "站点名录中没有区级配送中心。",
        "The sites registry has no district center.",
    ),
    "awards.step": ("{who},{when}", "{who}, {when}"),
    "error.title": ("出错了", "Something went wrong"),
    "error.400": ("请求有误", "Bad request"),
    "error.401": ("需要登录", "Sign-in required"),
    "error.403": ("无权访问", "Not allowed"),
    "error.404": ("未找到", "Not found"),
    "error.409": ("与现有数据冲突", "Conflict"),
    "error.413": ("文件过大", "File too large"),
    "error.422": ("输入有误", "Invalid input"),
    "error.500": ("服务器错误", "Server error"),
    "error.503": ("数据存储暂不可用", "Store unavailable"),
    "error.home": ("返回首页", "Back to the console"),
    "role.operator": ("快递企业操作员", "Carrier operator"),
    "role.finance": ("财政局", "Finance"),
    "role.auditor": ("审计局", "Auditor"),
    "role.admin": ("管理员", "Administrator"),
    "status.eligible": ("合格", "Eligible"),
    "status.pending": ("待定", "Pending"),
    "status.ineligible": ("不合格", "Ineligible"),
    "status.out_of_scope": ("不在补贴范围", "Out of scope"),
    "upload_status.received": ("已接收", "Received"),
    "upload_status.ingesting": ("入库中", "Ingesting"),
    "upload_status.ingested": ("已入库", "Ingested"),
    "upload_status.refused": ("已拒收", "Refused"),
    "award_status.accredited": ("已认定", "Accredited"),
    "award_status.approved": ("已审批", "Approved"),
    "award_status.paid": ("已拨付", "Paid"),
    "reason.no_hub_arrival": ("未到达乡镇中心村", "No hub arrival"),
    "reason.late_hub_arrival": ("超时到达", "Late hub arrival"),
    "reason.outside_policy_window": ("政策期外", "Outside policy window"),
    "reason.no_district_center_departure": (
        "未从区级配送中心发出",
        "Never left the district center",
    ),
    "reject.missing_field": ("缺少必填字段", "Missing field"),
    "reject.bad_waybill": ("运单号格式错误", "Bad waybill number"),
    "reject.unknown_scan_type": ("未知扫描类型", "Unknown scan type"),
    "reject.bad_scan_time": ("扫描时间无法解析", "Unreadable scan time"),
    "reject.implausible_scan_time": ("扫描时间不合理", "Implausible scan time"),
    "reject.carrier_mismatch": ("快递公司与上传企业不符", "Carrier mismatch"),
    "reject.unknown_carrier": ("未知快递公司", "Unknown carrier"),
    "scan.pickup": ("揽收", "Pickup"),
    "scan.depart": ("发件", "Depart"),
    "scan.arrive": ("到件", "Arrive"),
    "scan.dispatch": ("派件", "Dispatch"),
    "scan.sign": ("签收", "Signed"),
    "scan.exception": ("问题件", "Exception"),
    "scan.other": ("其他", "Other"),
    "kind.district_center": ("区级配送中心", "District center"),
    "kind.village_hub": ("乡镇中心村", "Village hub"),
    "kind.other": ("其他站点", "Other site"),
    "action.upload": ("上传", "Uploads"),
    "action.month": ("月结", "Month closing"),
    "action.award": ("中心奖励", "Center award"),
    "action.sites": ("站点名录", "Sites registry"),
    "action.token": ("令牌", "Tokens"),
    "action.store": ("数据存储", "Store upkeep"),
    "action.upload.received": ("收到上传文件", "Upload received"),
    "action.upload.ingested": ("上传文件入库", "Upload ingested"),
    "action.upload.refused": ("拒收上传文件", "Upload refused"),
    "action.month.closed": ("关闭月份", "Month closed"),
    "action.award.recorded": ("记录中心奖励", "Center award recorded"),
    "action.award.approved": ("审批中心奖励", "Center award approved"),
    "action.award.paid": ("拨付中心奖励", "Center award paid"),
    "action.sites.replaced": ("更新站点名录", "Sites registry replaced"),
    "action.token.created": ("创建令牌", "Token created"),
    "action.token.revoked": ("吊销令牌", "Token revoked"),
    "action.store.compacted": ("整理数据存储", "Store compacted"),
    "action.statement": ("结算单", "Statements"),
    "action.statement.create": ("生成结算单", "Statement created"),
    "action.statement.submit": ("提交结算单", "Statement submitted"),
    "action.statement.approve": ("审核结算单", "Statement approved"),
    "action.statement.pay": ("登记结算单拨付", "Statement paid"),
    "action.statement.reverse": ("退回结算单拨付", "Statement payment reversed"),
    "action.statement.reconciled": ("银行对账", "Bank reconciliation"),
    "action.budget": ("年度资金", "Yearly fund"),
    "action.budget.set": ("设定年度资金", "Yearly fund set"),
    "action.carrier": ("收款信息", "Payees"),
    "action.carrier.payee_set": ("登记收款信息", "Payee recorded"),
    "action.anomaly": ("异常标记", "Anomaly flags"),
    "action.anomaly.reviewed": ("复核异常标记", "Anomaly flag reviewed"),
    "action.audit": ("抽样复核", "Sampled reviews"),
    "action.audit.sampled": ("抽取复核样本", "Review sample drawn"),
    "action.audit.finding": ("记录复核结论", "Review finding recorded"),
    "action.audit.deducted": ("从下期结算单扣减", "Deducted from the next statement"),
    "target.upload": ("上传 #{id}", "Upload #{id}"),
    "target.award": ("奖励 #{id}", "Award #{id}"),
    "target.month": ("月份 {id}", "Month {id}"),
    "target.token": ("令牌 #{id}", "Token #{id}"),
    "target.store_version": ("数据版本 {id}", "Store version {id}"),
    "target.sites": ("站点名录", "Sites registry"),
    "field.id": ("编号", "ID"),
    "field.status": ("状态", "Status"),
    "field.error": ("拒收原因", "Refusal reason"),
    "field.sha256": ("文件 SHA-256", "File SHA-256"),
    "field.carrier": ("快递企业", "Carrier"),
    "field.filename": ("文件名", "File"),
    "field.bytes": ("大小（字节）", "Size (bytes)"),
    "field.rows_read": ("读取行数", "Rows read"),
    "field.accepted": ("入库", "Accepted"),
    "field.rejected": ("拒收行", "Rejected"),
    "field.duplicates": ("重复", "Duplicates"),
    "field.rejected_by_reason": ("拒收行（按原因）", "Rejected by reason"),
    "field.store_version": ("数据版本", "Store version"),
    "field.policy_digest": ("政策摘要", "Policy digest"),
    "field.as_of": ("计算截至", "Figures as of"),
    "field.subsidy_fen": ("补贴（元）", "Subsidy (yuan)"),
    "field.adjustments_fen": ("以前期间调整（元）", "Adjustments (yuan)"),
    "field.program_total_fen": ("项目合计（元）", "Program total (yuan)"),
    "field.award_fen": ("奖励金额（元）", "Award (yuan)"),
    "field.site_code": ("站点编码", "Site code"),
    "field.site_name": ("站点名称", "Site name"),
    "field.accredited_on": ("认定日期", "Accredited on"),
    "field.document_no": ("认定文号", "Document no."),
    "field.created_at": ("登记时间", "Recorded at"),
    "field.created_by": ("登记人", "Recorded by"),
    "field.approved_at": ("审批时间", "Approved at"),
    "field.approved_by": ("审批人", "Approved by"),
    "field.paid_at": ("拨付时间", "Paid at"),
    "field.paid_by": ("拨付人", "Paid by"),
    "field.updated_at": ("更新时间", "Updated at"),
    "field.role": ("角色", "Role"),
    "field.name": ("名称", "Name"),
    "field.sites": ("站点数", "Sites"),
    "field.by_kind": ("按类型", "By kind"),
    "field.partitions": ("分区", "Partitions"),
    "ui.or": ("或", " or "),
    "ui.list_sep": ("、", ", "),
    "ui.item_sep": ("；", "; "),
}

#: Every message: the pages' words and the errors' (:mod:`api.console.error_words`).
MESSAGES.update(ERROR_MESSAGES)


def pick_lang(value: str | None) -> str:
    """A supported language from a cookie or form value; zh-CN for anything else."""
    return value if value in LANGS else DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``; an unknown key shows itself (and a test catches it)."""
    index = LANGS.index(pick_lang(lang))

    def t(key: str, **values: Any) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t


def label(t: Callable[..., str], group: str, value: str | None) -> str:
    """The label of a coded value (``label(t, "reason", "late_hub_arrival")``); the code
    itself when there is no label for it, an em dash for nothing.
    """
    if value is None or value == "":
        return "—"
    key = f"{group}.{value}"
    return t(key) if key in MESSAGES else value


#: Parameters of an error whose values are codes shown with their label (``role`` ->
#: ``role.finance``); a list of them is joined, ``needs`` with "or".
_PARAM_LABELS: dict[str, str | tuple[str, ...]] = {
    "role": "role",
    "needs": "role",
    "status": ("award_status", "upload_status"),
    "target": "award_status",
    "required": "award_status",
    "kind": "kind",
    "check": "site_check",
    "reason": "reject",
    "scan_type": "scan",
}


def _param_text(t: Callable[..., str], name: str, value: object) -> object:
    """A parameter of an error as the sentence shows it: a code by its label, a list joined."""
    group = _PARAM_LABELS.get(name)
    if isinstance(value, list | tuple):
        sep = t("ui.or") if name == "needs" else t("ui.list_sep")
        return sep.join(str(_param_text(t, name, v)) for v in value)
    if group is not None and isinstance(value, str):
        for name_of_group in (group,) if isinstance(group, str) else group:
            if f"{name_of_group}.{value}" in MESSAGES:
                return label(t, name_of_group, value)
    return value


def error_text(exc: BaseException, lang: str, *, fallback: str | None = None) -> str:
    """What went wrong, in ``lang``: the message ``err.<code>`` filled with the error's params.

    The code and params are those of a domain error (:class:`core.exceptions.DomainError`), of
    a console refusal (its ``text_code``), or of the domain error an :class:`ApiError` was
    raised from. A list of records (``problems``) is shown item by item with
    ``err.<code>.item``. For a code without words here, or params that do not fill them, the
    error's own sentence: ``fallback`` when given, else ``str(exc)``.
    """
    source: BaseException = exc
    if not isinstance(exc, DomainError) and isinstance(exc.__cause__, DomainError):
        source = exc.__cause__
    code = getattr(source, "text_code", None) or getattr(source, "code", None)
    params = getattr(source, "params", None)
    key = f"err.{code}"
    if isinstance(code, str) and key in MESSAGES and isinstance(params, dict):
        t = translator(lang)
        index = LANGS.index(pick_lang(lang))
        try:
            values: dict[str, object] = {}
            for name, value in params.items():
                if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                    values[name] = t("ui.item_sep").join(
                        MESSAGES[f"{key}.item"][index].format(
                            **{k: _param_text(t, k, v) for k, v in item.items()}
                        )
                        for item in value
                    )
                else:
                    values[name] = _param_text(t, name, value)
            return MESSAGES[key][index].format(**values)
        except (KeyError, IndexError, ValueError):
            pass
    return fallback if fallback is not None else str(exc)


def refusal_text(
    english: str | None, code: str | None, params: dict[str, Any] | None, lang: str
) -> str:
    """Why an upload was refused, in ``lang``: the refusal's code and params as the ledger
    keeps them (:class:`ingest.uploads.Upload`), else its English sentence as recorded."""
    if not english:
        return ""
    if not code:
        return english
    return error_text(DomainError(english, code=code, **(params or {})), lang)


def group_digits(digits: str) -> str:
    """``"1234567" -> "1,234,567"`` (a sign is kept in front)."""
    sign = "-" if digits.startswith("-") else ""
    digits = digits.lstrip("-")
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sign + ",".join(parts)


def yuan(fen: int | None) -> str:
    """Integer fen as grouped yuan with two decimals: ``123456789 -> "1,234,567.89"``."""
    if fen is None:
        return "—"
    whole, _, cents = fen_to_yuan(fen).partition(".")
    return f"{group_digits(whole)}.{cents}"


def count(n: int | None) -> str:
    """A count grouped by thousands; an em dash for nothing."""
    return "—" if n is None else group_digits(str(n))


def local_time(value: str | datetime | None, *, seconds: bool = True) -> str:
    """An ISO 8601 instant (or datetime) as Asia/Shanghai wall time ``YYYY-MM-DD HH:MM:SS``."""
    if value is None or value == "":
        return "—"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return to_local(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None, lang: str) -> str:
    """A transit time for people: ``2天3小时4分`` / ``2 d 3 h 4 min``."""
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if pick_lang(lang) == "zh-CN":
        return f"{days}天{hours}小时{minutes}分"
    return f"{days} d {hours} h {minutes} min"

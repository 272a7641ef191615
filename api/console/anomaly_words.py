"""The console's words for the audit controls (SPEC §12): anomaly flags and their evidence,
their review, sampled review, and the parcel lists behind the figures; zh-CN first, merged
into :data:`api.console.i18n.MESSAGES` when those pages are mounted (:mod:`api.console`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "nav.anomalies": ("异常核查", "Anomalies"),
    "nav.samples": ("抽样审核", "Sampled review"),
    "report.drill_hint": (
        "点击任一数字可查看其包裹清单。",
        "Click any count to see its parcels.",
    ),
    "report.anomalies": ("查看 {month} 的异常标记 →", "See the anomaly flags of {month} →"),
    # the six codes, in words
    "flag.too_fast": ("运输用时过短", "Too fast"),
    "flag.burst": ("同一分钟集中扫描", "Scan burst"),
    "flag.cross_carrier": ("运单号多家企业发出", "Waybill under two carriers"),
    "flag.reused_waybill": ("运单号重复使用", "Reused waybill"),
    "flag.off_hours": ("深夜到达", "Off-hours arrival"),
    "flag.hub_spike": ("站点单日激增", "Hub-day spike"),
    "flag_hint.too_fast": (
        "从区级配送中心发出到到达乡镇中心村少于 {minutes} 分钟，车辆不可能这么快。",
        "Under {minutes} minutes from the district center to the hub: no van is that fast.",
    ),
    "flag_hint.burst": (
        "该站点同一分钟内的到件、派件、签收扫描超过 {limit} 次。",
        "More than {limit} arrive, dispatch or sign scans at this hub in one minute.",
    ),
    "flag_hint.cross_carrier": (
        "同一运单号也由其他快递企业从区级配送中心发出。",
        "Another carrier also sent this waybill number from a district center.",
    ),
    "flag_hint.reused_waybill": (
        "同一包裹在区级配送中心的发件扫描相隔超过 {days} 天。",
        "Depart scans of this parcel at district centers more than {days} days apart.",
    ),
    "flag_hint.off_hours": (
        "到达时间在 {quiet_from} 至 {quiet_to}（北京时间）之间。",
        "Arrival between {quiet_from} and {quiet_to} (Asia/Shanghai).",
    ),
    "flag_hint.hub_spike": (
        "该站点当天合格件数超过前 28 天中位数的 {factor} 倍，且不少于 {minimum} 件。",
        "The hub's eligible parcels that day exceed {factor} times the median of the previous "
        "28 days, and number at least {minimum}.",
    ),
    "flag_status.open": ("待复核", "Open"),
    "flag_status.cleared": ("已排除", "Cleared"),
    "flag_status.confirmed": ("已确认", "Confirmed"),
    # evidence lines
    "ev.departure": ("发出（D）", "Departure (D)"),
    "ev.arrival": ("到达（A）", "Arrival (A)"),
    "ev.transit": ("运输用时", "Time in transit"),
    "ev.transit_value": (
        "{minutes} 分钟（下限 {limit} 分钟）",
        "{minutes} min (at least {limit} min expected)",
    ),
    "ev.minute": ("扫描所在分钟", "Minute of the scan"),
    "ev.hub_minute": ("该分钟站点扫描数", "Scans at the hub that minute"),
    "ev.hub_minute_value": ("{count} 次（上限 {limit} 次）", "{count} (limit {limit})"),
    "ev.other_carriers": ("同号的其他企业", "Other carriers with this number"),
    "ev.first_depart": ("首次发件", "First depart scan"),
    "ev.last_depart": ("末次发件", "Last depart scan"),
    "ev.days_apart": ("相隔", "Apart"),
    "ev.days_apart_value": (
        "{days} 天（上限 {limit} 天），共 {scans} 次发件扫描",
        "{days} days (limit {limit} days), {scans} depart scans",
    ),
    "ev.quiet": ("夜间时段", "Quiet hours"),
    "ev.hub_day": ("当天合格件数", "Eligible parcels that day"),
    "ev.median": ("前 28 天中位数", "Median of the previous 28 days"),
    "ev.median_value": (
        "{median} 件（{days} 个有件日）；阈值：{factor} 倍且不少于 {minimum} 件",
        "{median} ({days} days with parcels); threshold: {factor} times and at least {minimum}",
    ),
    "ev.scan_at": ("{time} · {site}", "{time} · {site}"),
    "ev.kind": ("（{kind}）", " ({kind})"),
    # the anomalies page
    "anomalies.title": ("异常核查", "Anomaly flags"),
    "anomalies.intro": (
        "以下标记由系统按政策阈值自动生成；待复核的标记所涉合格包裹暂不结算，"
        "审计人员排除后在下期结算单中补付，确认后不予支付。",
        "The system raises these flags by the policy's thresholds; eligible parcels under an "
        "open flag are held from payment. Cleared by an auditor, they are paid in the next "
        "statement; confirmed, never.",
    ),
    "anomalies.month": ("月份", "Month"),
    "anomalies.code": ("异常类型", "Code"),
    "anomalies.carrier": ("快递企业", "Carrier"),
    "anomalies.state": ("复核状态", "Review state"),
    "anomalies.all": ("全部", "All"),
    "anomalies.filter": ("筛选", "Filter"),
    "anomalies.summary": ("各类异常数量", "Flags by code"),
    "anomalies.total": ("合计", "Total"),
    "anomalies.held": ("暂扣包裹", "Held parcels"),
    "anomalies.held_none": ("本月没有暂扣的包裹。", "No parcel of this month is held."),
    "anomalies.held_line": ("{carrier}：{count} 件", "{carrier}: {count}"),
    "anomalies.list": ("异常标记", "Flags"),
    "anomalies.showing": (
        "共 {total} 条，显示第 {first}–{last} 条",
        "{total} flags, {first}–{last} shown",
    ),
    "anomalies.none": ("没有符合条件的异常标记。", "No flag matches."),
    "anomalies.id": ("编号", "No."),
    "anomalies.parcel": ("包裹", "Parcel"),
    "anomalies.site_day": ("站点 · 日期", "Site · day"),
    "anomalies.evidence": ("依据", "Evidence"),
    "anomalies.review": ("复核", "Review"),
    "anomalies.hub_day_flag": ("站点单日标记", "hub-day flag"),
    "anomalies.explain": ("查看扫描记录", "See its scans"),
    "anomalies.more": ("下一页", "Next page"),
    "anomalies.first": ("第一页", "First page"),
    "anomalies.reviewed": ("{who} 于 {when} 复核", "Reviewed by {who}, {when}"),
    "anomalies.done": ("标记 #{id} 已{decision}。", "Flag #{id}: {decision}."),
    "anomalies.read_only": ("仅审计人员可以复核异常。", "Only an auditor reviews flags."),
    "review.note": ("复核意见（必填）", "Reason (required)"),
    "review.clear": ("排除（予以支付）", "Clear (pay it)"),
    "review.confirm": ("确认异常（不予支付）", "Confirm (never pay)"),
    "review.confirm_final": (
        "复核结论提交后不可更改，确定提交吗？",
        "A review is final once given. Submit it?",
    ),
    "review.cleared": ("排除", "cleared"),
    "review.confirmed": ("确认", "confirmed"),
    "parcel.flags": ("异常标记", "Anomaly flags"),
    "parcel.flags_none": ("该包裹没有异常标记。", "No anomaly flag on this parcel."),
    # sampled review
    "samples.title": ("抽样审核", "Sampled review"),
    "samples.intro": (
        "对已月结月份某快递企业的合格包裹按随机种子抽样，逐件核实；"
        "同一种子总是抽出同一批包裹。差错率按样本推算多报金额，财政局可从下一期结算单中扣减一次。",
        "Draw a random sample of a carrier's eligible parcels of a closed month and check each; "
        "the same seed always draws the same parcels. The error rate extrapolates the "
        "over-claim, which finance may deduct once from the next statement.",
    ),
    "samples.create": ("新建抽样", "Draw a sample"),
    "samples.month": ("已月结月份", "Closed month"),
    "samples.no_closed": ("还没有已月结的月份。", "No month is closed yet."),
    "samples.carrier": ("快递企业", "Carrier"),
    "samples.size": ("样本量（件）", "Sample size (parcels)"),
    "samples.seed": ("随机种子", "Seed"),
    "samples.seed_hint": (
        "种子会被记录；同一月份、企业、样本量和种子总是抽出同一批包裹。",
        "The seed is recorded; the same month, carrier, size and seed draw the same parcels.",
    ),
    "samples.submit": ("抽样", "Draw"),
    "samples.none": ("还没有抽样。", "No sample yet."),
    "samples.id": ("编号", "No."),
    "samples.population": ("总体（合格件数）", "Population (eligible)"),
    "samples.drawn": ("样本", "Sampled"),
    "samples.reviewed": ("已核实", "Checked"),
    "samples.error_rate": ("差错率", "Error rate"),
    "samples.created": ("抽样人 · 时间", "Drawn by · when"),
    "samples.deducted": ("已扣减", "Deducted"),
    "sample.title": ("抽样 #{id}", "Sample #{id}"),
    "sample.basis": (
        "{month} · {carrier} · 总体 {population} 件 · 样本 {drawn} 件 · 种子 {seed}",
        "{month} · {carrier} · population {population} · sample {drawn} · seed {seed}",
    ),
    "sample.by": ("{who} 于 {when} 抽样", "Drawn by {who}, {when}"),
    "sample.parcels": ("样本包裹", "Sampled parcels"),
    "sample.waybill": ("运单号", "Waybill"),
    "sample.finding": ("核实结论", "Finding"),
    "sample.note": ("说明", "Note"),
    "sample.save": ("保存", "Save"),
    "sample.unreviewed": ("未核实", "Not checked"),
    "sample.evidence": ("查看扫描记录", "See its scans"),
    "sample.result": ("审核结果", "Result"),
    "sample.progress": ("{reviewed} / {sampled} 件", "{reviewed} of {sampled}"),
    "sample.errors": ("未能核实（差错）件数", "Not confirmed (errors)"),
    "sample.rate": ("差错率", "Error rate"),
    "sample.interval": ("95% 置信区间（Wilson）", "95% interval (Wilson)"),
    "sample.claimed": ("该月申报补贴（元）", "Claimed that month (yuan)"),
    "sample.over_claim": ("推算多报金额（元）", "Extrapolated over-claim (yuan)"),
    "sample.incomplete": (
        "尚有包裹未核实；全部核实后结果才是最终的，财政局方可扣减。",
        "Some parcels are not checked yet; the result is final, and finance may deduct it, "
        "once every parcel is checked.",
    ),
    "sample.deduct": (
        "从下一期结算单中扣减 {amount} 元",
        "Deduct {amount} yuan from the next statement",
    ),
    "sample.confirm_deduct": (
        "确定从该企业下一期结算单中扣减 {amount} 元吗？扣减只能进行一次。",
        "Deduct {amount} yuan from the carrier's next statement? It is done once only.",
    ),
    "sample.deduct_hint": (
        "扣减只能进行一次，扣减后核实结论不再更改。",
        "The deduction is made once; the findings are final afterwards.",
    ),
    "sample.deducted": (
        "{who} 于 {when} 已从下一期结算单中扣减 {amount} 元。",
        "{who} deducted {amount} yuan from the next statement, {when}.",
    ),
    "sample.done_finding": ("已保存 {waybill} 的核实结论。", "The finding on {waybill} is saved."),
    "sample.done_deduct": ("已扣减。", "Deducted."),
    "sample.more": ("下一页", "Next page"),
    "finding.confirmed": ("核实属实", "Confirmed"),
    "finding.not_confirmed": ("未能核实", "Not confirmed"),
    # the parcel list behind a figure
    "plist.title": ("包裹清单", "Parcel list"),
    "plist.what": ("{month} · {carrier} · {status}", "{month} · {carrier} · {status}"),
    "plist.all_carriers": ("全部企业", "all carriers"),
    "plist.all_statuses": ("全部状态", "every status"),
    "plist.held": ("暂扣", "Held"),
    "plist.count": (
        "共 {count} 件，补贴合计 {amount} 元",
        "{count} parcels, {amount} yuan of subsidy",
    ),
    "plist.as_of": ("数据截至 {as_of}", "Figures as of {as_of}"),
    "plist.frozen": (
        "已月结月份：月结时冻结的数据",
        "Closed month: the figures frozen at its close",
    ),
    "plist.csv": ("下载全部（CSV）", "Download all (CSV)"),
    "plist.none": ("没有包裹。", "No parcel."),
    "plist.waybill": ("运单号", "Waybill"),
    "plist.flags": ("异常", "Flags"),
    "plist.more": ("下一页", "Next page"),
    "plist.first": ("第一页", "First page"),
    "plist.open_list": ("查看 {count} 件包裹清单", "Open the list of {count} parcels"),
    "err.review_note_required": (
        "请填写复核意见：排除或确认异常都需要说明理由。",
        "Give a reason: clearing or confirming a flag needs one.",
    ),
    "err.flag_not_found": ("没有编号为 {id} 的异常标记。", "No anomaly flag {id}."),
    "err.flag_already_reviewed": (
        "异常标记 {id} 已经复核过，复核结论不可更改。",
        "Flag {id} is already reviewed; a review is final.",
    ),
    "err.audit_not_found": ("没有编号为 {id} 的抽样。", "No sample {id}."),
    "err.month_not_closed": (
        "{month} 尚未月结；抽样审核只针对已月结的月份。",
        "{month} is not closed; sampled review is of closed months.",
    ),
    "err.nothing_to_sample": (
        "{carrier} 在 {month} 没有可抽样的合格包裹。",
        "{carrier} has no eligible parcel in {month} to sample.",
    ),
    "err.invalid_sample_size": (
        "样本量须为 1 至 100000 之间的整数，而不是 {value}。",
        "The sample size must be a whole number from 1 to 100000, not {value}.",
    ),
    "err.audit_deducted": (
        "该抽样已扣减，核实结论不可再改，也不能再次扣减。",
        "This sample was deducted; its findings are final and it cannot be deducted again.",
    ),
    "err.audit_incomplete": (
        "尚有包裹未核实，全部核实后才能扣减。",
        "Check every sampled parcel before deducting.",
    ),
    "err.not_in_sample": (
        "运单 {waybill_no} 不在该抽样中。",
        "Parcel {waybill_no} is not in this sample.",
    ),
    "err.invalid_finding": ("核实结论无效：{value}。", "Unknown finding: {value}."),
    "err.invalid_decision": ("复核结论无效：{value}。", "Unknown decision: {value}."),
}

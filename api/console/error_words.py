"""The console's words for what went wrong: ``err.<code>`` for each code of a domain error
(:class:`core.exceptions.DomainError` of ``core``, ``subsidy``) and of the console's own
refusals, in Chinese (zh-CN) and English, with the ``{params}`` the error carries. A list of
records is worded item by item with ``err.<code>.item``; ``site_check.*`` word the checks of a
sites registry. :func:`api.console.i18n.error_text` fills them.
"""

from __future__ import annotations

#: key -> (zh-CN, en)
ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "err.internal": (
        "服务器未能完成此请求，错误已记录；请稍后重试，或连同请求时间报告此问题。",
        "The server failed to answer this request; the error was logged. Please retry, or "
        "report it with the time of the request.",
    ),
    "err.store_unavailable": (
        "数据存储暂时无法使用，错误已记录；请稍后重试。",
        "The data store cannot be used right now; the error was logged. Please retry in a moment.",
    ),
    "err.no_store": (
        "该数据目录中没有数据存储；请检查 --data-dir 是否正确。",
        "This data folder holds no store; check --data-dir.",
    ),
    "err.validation_error": (
        "请求参数有误：{fields}。",
        "invalid request: {fields}",
    ),
    "err.bad_month": (
        "「{value}」不是有效的月份；请用半角数字按 YYYY-MM 填写，例如 2023-05。",
        "not a month: {value!r}; expected YYYY-MM in ASCII digits, e.g. 2023-05",
    ),
    "err.bad_instant": (
        "「{value}」不是有效的时间；请用半角数字填写，如 2023-06-10T00:00:00+08:00 或 2023-06-10。",
        "not an ISO 8601 time: {value!r}; use e.g. 2023-06-10T00:00:00+08:00 or 2023-06-10 "
        "(ASCII digits, years 1971-2999)",
    ),
    "err.as_of_too_early": (
        "计算时点「{value}」早于 1971 年，没有那么早的扫描记录。",
        "as_of {value!r} lies before 1971; no scan is that old",
    ),
    "err.as_of_in_future": (
        "计算时点「{value}」在将来（现在是北京时间 {now}）；数据只算到现在。",
        "as_of {value!r} lies in the future (now is {now} Asia/Shanghai); figures exist only "
        "up to now",
    ),
    "err.bad_yuan": (
        "「{value}」不是有效的金额；请填写元，最多两位小数，例如 500000 或 0.20。",
        "not a yuan amount with at most 2 decimals: {value!r}",
    ),
    "err.bad_date": (
        "「{value}」不是有效的日期；请用半角数字按 YYYY-MM-DD 填写。",
        "not a date: {value!r}; expected YYYY-MM-DD in ASCII digits, e.g. 2023-06-10",
    ),
    "err.month_not_begun": (
        "{month} 尚未开始（现在是北京时间 {now}）；请选择不晚于本月的月份。",
        "month {month} has not begun yet (now is {now} Asia/Shanghai); ask for a month up to "
        "the current one",
    ),
    "err.month_not_over": (
        "{month} 尚未结束，北京时间 {closes_at} 起才能月结。",
        "month {month} is not over yet; it can be closed from {closes_at} Asia/Shanghai",
    ),
    "err.month_closed": (
        "{month} 已由 {closed_by} 于 {closed_at} 月结，数据已冻结；之后的变化将作为以前期间调整"
        "计入下一个未月结月份。",
        "month {month} is already closed (by {closed_by} at {closed_at}); its figures are "
        "frozen, later changes appear as adjustments in the next open month",
    ),
    "err.month_already_closed": ("{month} 已月结。", "month {month} is already closed"),
    "err.bad_range": (
        "起始月份 {first} 晚于结束月份 {last}；请保证起始不晚于结束。",
        "from {first} is after to {last}; give from <= to",
    ),
    "err.too_many_months": (
        "所选 {count} 个月；汇总最多涵盖 {limit} 个月。",
        "{count} months asked; a summary covers at most {limit}",
    ),
    "err.award_not_found": (
        "没有编号为 {award_id} 的中心奖励。",
        "no center award with id {award_id}",
    ),
    "err.award_fen_not_integer": (
        "奖励金额须为整数分，收到的是 {value}。",
        "award_fen must be integer fen, got {value!r}",
    ),
    "err.award_out_of_range": (
        "奖励金额 {award_yuan} 元（{award_fen} 分）不允许：须大于 0 且不超过上限 {cap_yuan} 元"
        "（{cap_fen} 分，award_cap_fen）。",
        "award of {award_fen} fen ({award_yuan} yuan) is not allowed: it must be more than 0 "
        "and at most the cap of {cap_fen} fen ({cap_yuan} yuan, award_cap_fen)",
    ),
    "err.document_no_empty": (
        "认定文号为空；请填写认定文件的文号。",
        "document_no (认定文号) is empty; give the accreditation document",
    ),
    "err.accredited_in_future": (
        "认定日期 {accredited_on} 在将来（今天是 {today}）；奖励须在认定之后登记。",
        "accredited_on {accredited_on} is in the future (today is {today}); an award is "
        "recorded after accreditation",
    ),
    "err.site_not_registered": (
        "站点 {site_code} 不在站点名录中；请先导入站点名录。",
        "site {site_code!r} is not in the sites registry; import the registry first",
    ),
    "err.site_not_center": (
        "站点 {site_code} 是{kind}；只有区级配送中心才能获得中心奖励。",
        "site {site_code!r} is a {kind}; only a district_center (区级配送中心) can receive the "
        "center award",
    ),
    "err.award_exists": (
        "配送中心 {site_code} 已有奖励 #{award_id}（{status}，登记于 {created_at}）；"
        "每个中心最多获得一次奖励。",
        "center {site_code} already has award {award_id} ({status}, recorded {created_at}); at "
        "most one award per center, ever",
    ),
    "err.award_exists_now": (
        "配送中心 {site_code} 已有奖励；每个中心最多获得一次奖励。",
        "center {site_code} already has an award; at most one award per center, ever",
    ),
    "err.award_bad_step": (
        "奖励只能变为已审批或已拨付，不能变为「{status}」。",
        "an award can move to approved or paid, not {status!r}",
    ),
    "err.award_wrong_status": (
        "奖励 #{award_id} 当前为{status}；只有{required}的奖励才能变为{target}"
        "（已认定 → 已审批 → 已拨付）。",
        "award {award_id} is {status}; it can become {target} only from {required} "
        "(accredited -> approved -> paid)",
    ),
    "err.unknown_role": (
        "未知角色「{role}」；可用角色：{roles}。",
        "unknown role {role!r}; use one of {roles}",
    ),
    "err.role_has_no_carrier": (
        "只有快递企业操作员令牌才有快递企业；{role}没有。",
        "only an operator token has a carrier; {role} has none",
    ),
    "err.carrier_required": (
        "快递企业操作员令牌需要指定快递企业（例如 --carrier ZTO）。",
        "an operator token needs its carrier (e.g. --carrier ZTO)",
    ),
    "err.unknown_carrier": (
        "未知快递企业「{carrier}」；已知：{known}。",
        "unknown carrier {carrier!r}; known: {known}",
    ),
    "err.token_not_found": ("没有编号为 {token_id} 的令牌。", "no token with id {token_id}"),
    "err.token_already_revoked": (
        "令牌 {token_id} 已于 {revoked_at} 被吊销。",
        "token {token_id} was already revoked at {revoked_at}",
    ),
    "err.registry_unreadable": (
        "无法读取站点名录文件 {file}：{reason}",
        "cannot read the sites registry {file}: {reason}",
    ),
    "err.registry_missing_columns": (
        "站点名录缺少列 {missing}；应有 {expected}；实际为 {found}。",
        "sites registry: missing column {missing}; expected {expected}; found {found}",
    ),
    "err.registry_refused": (
        "站点名录被拒收，未做任何更改：{problems}",
        "sites registry refused, nothing changed: {problems}",
    ),
    "err.registry_refused.item": (
        "第 {line} 行（{site_code}）：{check}",
        "line {line} ({site_code}): {check}",
    ),
    "err.registry_empty": (
        "站点名录被拒收：文件中没有站点。",
        "sites registry refused: the file has no sites",
    ),
    "site_check.site_code_empty": ("站点编码为空", "site_code is empty"),
    "site_check.alias_names_two_sites": (
        "该名称或别名指向多个站点",
        "a name or alias names more than one site",
    ),
    "site_check.alias_is_other_code": (
        "该名称或别名是另一站点的编码",
        "a name or alias is the code of another site",
    ),
    "site_check.name_empty": ("名称为空", "name is empty"),
    "site_check.bad_kind": (
        "类型不是 district_center、village_hub 或 other 之一",
        "kind is not one of district_center, village_hub, other",
    ),
    "site_check.bad_active_from": (
        "启用日期不是 YYYY-MM-DD 格式的日期",
        "active_from is not a date YYYY-MM-DD",
    ),
    "site_check.bad_active_to": (
        "停用日期不是 YYYY-MM-DD 格式的日期",
        "active_to is not a date YYYY-MM-DD",
    ),
    "site_check.active_to_before_from": ("停用日期早于启用日期", "active_to is before active_from"),
    "site_check.duplicate_site_code": ("站点编码重复", "site_code appears twice"),
    "site_check.control_character": (
        "站点编码、名称或镇街含有控制字符",
        "site_code, name or town holds a control character",
    ),
    "err.upload_not_found": (
        "没有编号为 {upload_id} 的上传记录。",
        "no upload with id {upload_id}",
    ),
    "err.no_such_step": (
        "奖励没有「{step}」这一步；请使用审批或拨付。",
        "no such step {step!r} of an award; use approve or pay",
    ),
    "err.role_forbidden": (
        "{role}角色无权打开此页面；需要{needs}角色。",
        "the {role} role may not open this page; it needs the {needs} role",
    ),
    "err.csrf_other_site": (
        "表单被拒绝（来自其他网站：{site}）；请刷新页面后重新提交。",
        "the form was refused (sent from another site ({site})); reload the page and submit "
        "it again",
    ),
    "err.csrf_other_origin": (
        "表单被拒绝（来自其他来源：{origin}）；请刷新页面后重新提交。",
        "the form was refused (sent from another origin ({origin})); reload the page and "
        "submit it again",
    ),
    "err.csrf_no_token": (
        "表单被拒绝（缺少表单令牌）；请刷新页面后重新提交。",
        "the form was refused (no form token); reload the page and submit it again",
    ),
    "err.csrf_mismatch": (
        "表单被拒绝（表单令牌与当前登录不符）；请刷新页面后重新提交。",
        "the form was refused (the form token does not match this session); reload the page "
        "and submit it again",
    ),
}

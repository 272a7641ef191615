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
    "err.dictionary_too_large": (
        "列 {column} 的字典页解码后约 {mib} MiB，超过一次上传允许解码的上限；"
        "请让导出系统按较小的行组写出（每组不超过 1,000,000 行）后重新上传。",
        "column {column} has a dictionary page of about {mib} MiB, over the limit an upload "
        "may decode at once; export with smaller row groups (at most 1,000,000 rows each)",
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
    "err.unknown_carrier": ("未知快递企业「{carrier}」。", "unknown carrier {carrier!r}"),
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

#: The words of refusals of an upload (SPEC §3, §3a) and of the intake at the edge.
UPLOAD_ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "err.file_refused": ("文件被拒收。", "The file was refused."),
    "err.file_too_large": (
        "文件超过上传上限 {limit}；请把导出文件拆小（例如按天导出）后再上传。",
        "The file is larger than the upload limit of {limit}; split the export (by day, for "
        "instance).",
    ),
    "err.too_large": (
        "文件大小为 {size}，超过上传上限 {limit}；请把导出文件拆小后再上传。",
        "The file is {size}, over the upload limit of {limit}; split the export.",
    ),
    "err.too_large_unpacked": (
        "文件解压后为 {size}，超过上限 {limit}；请把导出文件拆小后再上传。",
        "The file would unpack to {size}, over the limit of {limit}; split the export.",
    ),
    "err.too_large_pages": (
        "文件解压后超过上限 {limit}（实际内容远大于文件元数据所写）；请把导出文件拆小后再上传。",
        "The file unpacks to more than the limit of {limit}; split the export.",
    ),
    "err.empty_file": ("文件是空的。", "The file is empty."),
    "err.no_data_rows": (
        "文件只有表头，没有数据行；请检查导出的时间范围。",
        "The file has a header but no data rows; check the export's time range.",
    ),
    "err.no_header_row": (
        "文件中找不到表头行（前 20 行内应有运单号、扫描类型、扫描网点、扫描时间等列）。",
        "The file has no header row (the first 20 rows must name the required columns).",
    ),
    "err.missing_column": (
        "文件缺少必需的列：{columns}；文件中的列为：{found}。",
        "The file lacks the column {columns}; it has: {found}.",
    ),
    "err.column_twice": (
        "有两列都表示 {field}（「{column}」重复）；请只保留一列。",
        "Two columns mean {field} ({column!r} appears twice); keep one.",
    ),
    "err.bad_column_type": (
        "列 {column} 的数据类型为 {kind}，无法作为该字段读取；请以文本或日期时间导出。",
        "Column {column} is of type {kind}; export it as text or a date-time.",
    ),
    "err.damaged": (
        "文件已损坏，无法读取（{detail}）；请重新导出。",
        "The file is damaged and cannot be read ({detail}); export it again.",
    ),
    "err.encrypted": (
        "Parquet 文件已加密；请导出未加密的文件。",
        "The Parquet file is encrypted; export it without encryption.",
    ),
    "err.truncated": (
        "Parquet 文件不完整（缺少文件尾）；可能未传完，请重新导出后上传。",
        "The Parquet file is truncated (its footer is missing); export it again.",
    ),
    "err.not_an_export": (
        "文件既不是 Parquet、CSV 文本，也不是 Excel 工作簿（含有二进制数据）。",
        "The file is neither Parquet, CSV text nor an Excel workbook (it holds binary data).",
    ),
    "err.not_text": (
        "文件既不是 Parquet，也不是 UTF-8 或 GBK 编码的 CSV 文本。",
        "The file is neither Parquet nor CSV text in UTF-8 or GBK.",
    ),
    "err.bad_text": (
        "CSV 文本不是有效的 UTF-8 或 GBK 编码（{detail}）。",
        "The CSV text is not valid UTF-8 or GBK ({detail}).",
    ),
    "err.no_line_break": (
        "文件前 64 KiB 中没有换行，因此没有 CSV 表头行；请导出为 Parquet，或带表头行的 CSV。",
        "The file's first 64 KiB hold no line break, so it has no CSV header line.",
    ),
    "err.csv_header_unreadable": (
        "无法读取 CSV 表头行（{detail}）。",
        "The CSV header line cannot be read ({detail}).",
    ),
    "err.not_csv": (
        "无法按 CSV 读取该文件（{detail}）。",
        "The file cannot be read as CSV ({detail}).",
    ),
    "err.mostly_rejected": (
        "{rows_read:,} 行中有 {rejected_rows:,} 行将被拒收（超过 {share}%），因此整个文件被拒收，"
        "未存储任何数据。主要原因：{reasons}",
        "{rejected_rows:,} of {rows_read:,} rows would be rejected (more than {share}%), so "
        "nothing was stored. Main reasons: {reasons}",
    ),
    "err.mostly_rejected.item": (
        "{reason} {count:,} 行（{values}）",
        "{reason}: {count:,} rows ({values})",
    ),
    "err.engine_failed": (
        "文件无法处理（{detail}）；原文件已保存以备审计。",
        "The file could not be processed ({detail}); it is kept unchanged for audit.",
    ),
    "err.ingest_child_failed": (
        "入库子进程异常退出（退出码 {exit_code}）；数据库保持原样，该上传稍后由入库任务重试。",
        "The ingest child process ended with code {exit_code}; the store is as it was, and the "
        "upload is retried by the ingest job.",
    ),
    "err.ingest_child_timeout": (
        "入库子进程运行超过 {seconds} 秒，已被终止；数据库保持原样，该上传稍后由入库任务重试。",
        "The ingest child process ran longer than {seconds} s and was killed; the store is as "
        "it was, and the upload is retried by the ingest job.",
    ),
    "err.ingest_attempts_failed": (
        "尝试入库 {attempts} 次均失败（最后一次错误：{detail}）；原文件已保存以备审计。",
        "The file could not be ingested in {attempts} attempts (last error: {detail}); it is "
        "kept for audit.",
    ),
    "err.upload_conflict": (
        "该文件与已有上传记录冲突。",
        "This file conflicts with an upload on record.",
    ),
    "err.bytes_of_another_upload": (
        "完全相同的文件已有记录，不能作为 {carrier} 的上传；一个导出文件只含一家快递企业的扫描，"
        "请确认这是 {carrier} 的导出文件。",
        "This exact file is already on record and cannot be an upload of {carrier}; check "
        "that this is {carrier}'s export.",
    ),
    "err.bytes_taken": (
        "该文件的内容现已属于另一条上传记录，不能再作为本上传重新判定。",
        "These bytes are now another upload; they cannot be re-judged as this one.",
    ),
    "err.not_judged_yet": (
        "上传 #{upload_id} 当前为{status}；入库或拒收后才能重新判定。",
        "Upload {upload_id} is {status}; it can be re-judged once ingested or refused.",
    ),
    "err.no_upload": ("没有编号为 {upload_id} 的上传记录。", "No upload with id {upload_id}."),
    "err.no_such_file": ("找不到文件 {name}。", "No such file: {name}."),
    "err.inbox_no_carrier": (
        "文件直接放在 inbox/ 下；请放到 inbox/<快递企业代码>/ 中（已知：{known}）。",
        "The file lies directly in inbox/; put it in inbox/<CARRIER>/ (known: {known}).",
    ),
    "err.inbox_not_a_carrier": (
        "inbox/{folder}/ 不是快递企业的文件夹（已知：{known}）。",
        "inbox/{folder}/ is not a carrier folder (known: {known}).",
    ),
    "err.incomplete_upload": (
        "上传中断（预告 {declared} 字节，只收到 {received} 字节）；未记录任何内容，请重新上传。",
        "The upload was cut off ({received} of the {declared} bytes arrived); nothing was "
        "recorded, send the file again.",
    ),
    "err.upload_unclosed": (
        "上传中断（表单数据不完整）；未记录任何内容，请重新上传。",
        "The upload was cut off (no closing boundary); nothing was recorded, send it again.",
    ),
    "err.not_multipart": (
        "请以 multipart/form-data 表单的 file 字段发送文件。",
        "Send the file as multipart/form-data, in the field 'file'.",
    ),
    "err.one_file_per_upload": (
        "每次上传只能发送一个文件。",
        "Send one file per upload.",
    ),
    "err.no_file_field": (
        "表单中没有 file 字段；请在该字段中发送文件。",
        "The form has no field 'file'; send the file in it.",
    ),
    "err.bad_multipart": (
        "上传的表单数据格式有误；请重新上传。",
        "The multipart body is malformed; send the file again.",
    ),
    "err.form_field_too_large": (
        "file 以外的表单字段超过 {limit}。",
        "A form field other than 'file' is over {limit}.",
    ),
    "err.own_carrier_only": (
        "快递企业操作员只能查看本企业（{carrier}）的数据。",
        "An operator sees only its own carrier's data ({carrier}).",
    ),
    "err.rejudge_forbidden": (
        "只有该上传的快递企业操作员或管理员可以重新判定。",
        "Only the upload's operator or an admin may re-judge it.",
    ),
    # scan-type words (SPEC §3a)
    "err.invalid_scan_word": (
        "扫描词须为 1-100 个字符的文本，收到的是「{word}」。",
        "A scan word must be 1-100 characters of text, not {word!r}.",
    ),
    "err.invalid_scan_type": (
        "「{scan_type}」不是扫描类型；请选择揽收、发件、到件、派件、签收、问题件或其他。",
        "{scan_type!r} is not a scan type.",
    ),
    "err.scan_word_exists": (
        "「{word}」已映射为{scan_type}；如需改动，请先删除原映射。",
        "{word!r} is already mapped to {scan_type}; remove it first to change it.",
    ),
    "err.scan_word_not_found": (
        "没有编号为 {word_id} 的自定义扫描词（系统默认词不能删除）。",
        "No added scan word has id {word_id} (the shipped words cannot be removed).",
    ),
}

#: The words of the other domain errors and of the API's own refusals.
OTHER_ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "err.error": ("操作未能完成。", "The operation could not be done."),
    "err.not_found": ("未找到所请求的记录。", "Not found."),
    "err.conflict": ("该请求与现有数据冲突。", "The request conflicts with what is stored."),
    "err.core_error": ("系统基础组件出错。", "The foundation failed."),
    "err.bad_value": ("输入的值无效。", "The value given is not valid."),
    "err.bad_policy": (
        "政策配置文件无效，服务未加载它；请管理员检查配置文件。",
        "The policy file is invalid and was not loaded; an administrator must check it.",
    ),
    "err.bad_rejected_share": (
        "limits.max_rejected_share 须在 0 到 1 之间，收到的是 {value}。",
        "limits.max_rejected_share must lie in [0, 1]; got {value}.",
    ),
    "err.unauthorized": (
        "需要有效的访问令牌；请登录，或向管理员申请新的令牌。",
        "A valid access token is needed; sign in or ask an administrator for a new one.",
    ),
    "err.forbidden": ("无权进行此操作。", "You may not do this."),
    "err.role_may_not": (
        "{role}角色无权进行此操作；需要{needs}角色。",
        "The {role} role may not do this; it needs the {needs} role.",
    ),
    "err.bad_as_of": (
        "「{value}」不是有效的计算时点；请按 2023-06-10T00:00:00+08:00 或 2023-06-10 填写，"
        "且不晚于现在。",
        "{value!r} is not a valid as_of; use e.g. 2023-06-10T00:00:00+08:00 or 2023-06-10, "
        "up to now.",
    ),
    "err.bad_format": (
        "不支持格式「{value}」；请选择 xlsx 或 csv。",
        "Format {value!r} is not offered; use xlsx or csv.",
    ),
    "err.payload_too_large": ("请求内容过大。", "The request is too large."),
    "err.registry_too_large": (
        "站点名录超过上限 {limit}。",
        "The sites registry is larger than the limit of {limit}.",
    ),
    "err.bank_file_too_large": (
        "银行回单文件超过 {limit} 字节。",
        "The bank file is over {limit} bytes.",
    ),
    "err.bad_json": (
        "请求内容不是有效的 JSON（{problem}）。",
        "The body is not valid JSON ({problem}).",
    ),
    "err.registry_media_type": (
        '请以 application/json（{{"sites": [...]}}）或 text/csv 发送站点名录。',
        'Send the registry as application/json ({{"sites": [...]}}) or as text/csv.',
    ),
    "err.registry_column_twice": (
        "站点名录中列 {columns} 出现了两次。",
        "Sites registry: column {columns} appears twice.",
    ),
    "err.parcel_not_found": (
        "没有找到 {carrier} 运单 {waybill_no} 的扫描记录。",
        "No scans of parcel {carrier} {waybill_no}.",
    ),
    "err.asset_not_found": ("没有名为 {name} 的页面资源。", "No console asset {name!r}."),
    "err.payment_list_month": ("拨付清单需要指定月份。", "The payment list needs a month."),
    "err.no_such_action": ("没有「{action}」这一操作。", "No such action {action!r}."),
    "err.reversal_reason_empty": (
        "退回原因为空；请说明退回拨付的原因。",
        "The reason is empty; say why the payment is reversed.",
    ),
    "err.figures_changed": (
        "该月数据在您确认后已发生变化；请核对新的数据后再确认。",
        "The month's figures changed since they were confirmed; confirm them again.",
    ),
    "err.cjk_font_missing": (
        "服务器缺少中文字体，无法生成打印文件；请管理员安装 fonts-wqy-microhei。",
        "No CJK font for the printed documents; install fonts-wqy-microhei.",
    ),
    "err.spark_missing": (
        "spark-report 需要 PySpark 与 Java 17 或更高版本；请先安装。",
        "spark-report needs PySpark and Java 17 or later.",
    ),
    "err.spark_unavailable": (
        "无法启动 Spark；请检查是否安装了 Java 17 或更高版本。",
        "Spark cannot start; is Java 17 or later installed?",
    ),
    "err.policy_changed_since_close": (
        "{month} 月结时使用的是另一份政策文件；请使用当时的政策文件重新计算。",
        "{month} was closed with another policy file; run with the policy it was closed with.",
    ),
    "err.bad_amount": (
        "金额须为不小于 0 的整数分。",
        "The amount must be integer fen, 0 or more.",
    ),
    "err.bad_year": ("年度 {year} 超出范围。", "Year {year} is out of range."),
    "err.bad_file": (
        "无法读取该文件；请上传 XLSX 或 UTF-8 CSV 格式、带表头行且不超过上限的银行回单。",
        "The file cannot be read; send an XLSX or UTF-8 CSV bank file with a header row, "
        "within the limit.",
    ),
    "err.missing_field": ("{field} 为空。", "{field} is empty."),
    "err.too_long": ("{field} 过长。", "{field} is too long."),
    "err.month_not_closed": (
        "{month} 尚未月结；抽样复核与结算只针对已月结的月份。",
        "Month {month} is not closed; this is done for closed months only.",
    ),
    # anomaly flags and sampled audits (SPEC §12, §13)
    "err.flag_not_found": ("没有编号为 {id} 的异常标记。", "No anomaly flag {id}."),
    "err.flag_already_reviewed": (
        "异常标记 #{id} 已处理（{status}）。",
        "Anomaly flag {id} is already {status}.",
    ),
    "err.invalid_decision": ("「{value}」不是有效的处理决定。", "{value!r} is not a decision."),
    "err.audit_not_found": ("没有编号为 {id} 的抽样复核。", "No audit {id}."),
    "err.audit_deducted": (
        "该抽样复核已扣减，结论不能再更改。",
        "The audit was deducted; its findings are final.",
    ),
    "err.audit_incomplete": (
        "该抽样复核尚有包裹未给出结论；请先全部复核。",
        "The audit has findings still to record; record them all first.",
    ),
    "err.invalid_finding": ("「{value}」不是有效的复核结论。", "{value!r} is not a finding."),
    "err.invalid_sample_size": (
        "抽样数量「{value}」无效。",
        "Sample size {value!r} is not allowed.",
    ),
    "err.not_in_sample": (
        "运单 {waybill_no} 不在本次抽样中。",
        "Waybill {waybill_no} is not in the sample.",
    ),
    "err.nothing_to_sample": (
        "{carrier} 在 {month} 没有合格包裹可供抽样。",
        "{carrier} has no eligible parcel in {month} to sample.",
    ),
    "err.invalid_reason": ("「{value}」不是有效的原因。", "{value!r} is not a reason."),
    "err.invalid_status": ("「{value}」不是有效的状态。", "{value!r} is not a status."),
}

ERROR_MESSAGES.update(UPLOAD_ERROR_MESSAGES)
ERROR_MESSAGES.update(OTHER_ERROR_MESSAGES)

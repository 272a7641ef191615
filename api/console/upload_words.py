"""The console's words for the preview of an upload and for the scan words of couriers'
exports (SPEC §3a), zh-CN first, merged into :data:`api.console.i18n.MESSAGES` by
:mod:`api.console.previews` and :mod:`api.console.scan_words`."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "nav.scan_words": ("扫描类型词", "Scan words"),
    "uploads.file_any": (
        "文件（Excel、CSV 或 Parquet）",
        "File (Excel, CSV or Parquet)",
    ),
    "uploads.preview_submit": ("上传并预览", "Upload and preview"),
    "uploads.preview_hint": (
        "先预览：确认能入库的行数和拒收原因后，再确认入库。",
        "Preview first: check the rows that would be stored and why others would be "
        "rejected, then confirm.",
    ),
    "uploads.checking": ("已上传，正在检查文件…", "Uploaded; checking the file…"),
    "preview.title": ("上传预览", "Upload preview"),
    "preview.file": ("文件", "File"),
    "preview.ok": (
        "可以入库：{accepted} 行将入库，{rejected} 行将被拒收，{duplicates} 行重复。",
        "Can be stored: {accepted} rows would be stored, {rejected} rejected, {duplicates} "
        "duplicates.",
    ),
    "preview.refused": ("整个文件将被拒收", "The whole file would be refused"),
    "preview.already": (
        "这个文件已经上传过（上传 #{id}）；再次确认不会重复入库。",
        "This file was uploaded before (upload #{id}); confirming again stores nothing twice.",
    ),
    "preview.format": ("文件格式", "Format"),
    "preview.header_row": ("表头所在行", "Header row"),
    "preview.rows_read": ("数据行", "Data rows"),
    "preview.accepted": ("将入库", "Would be stored"),
    "preview.rejected": ("将被拒收", "Would be rejected"),
    "preview.duplicates": ("重复", "Duplicates"),
    "preview.columns": ("识别出的列", "Columns recognised"),
    "preview.field": ("字段", "Field"),
    "preview.column": ("文件中的列", "Column in the file"),
    "preview.by_reason": ("拒收原因", "Why rows would be rejected"),
    "preview.examples": ("示例（前 {n} 行）", "Examples (first {n})"),
    "preview.unmatched": ("不认识的扫描类型", "Scan types not known"),
    "preview.unmatched_hint": (
        "这些扫描类型不在词表中，对应的行会被拒收；请联系管理员在「扫描类型词」中映射后再上传，"
        "或上传后由管理员映射并重新判定。",
        "These scan types are in no list, so their rows are rejected; ask an administrator to "
        "map them (Scan words), before uploading or afterwards with a re-judging.",
    ),
    "preview.word": ("扫描类型（原文）", "Scan type as written"),
    "preview.rows": ("行数", "Rows"),
    "preview.commit": ("确认入库", "Store this file"),
    "preview.cancel": ("取消", "Cancel"),
    "preview.expires": (
        "预览文件在服务器上保留 {minutes} 分钟，过期后请重新上传。",
        "The file is kept on the server for {minutes} minutes; after that, upload it again.",
    ),
    "preview.cancelled": ("已取消，文件未入库。", "Cancelled; nothing was stored."),
    "preview.none": ("—", "—"),
    "field.waybill_no": ("运单号", "Waybill number"),
    "field.scan_type": ("扫描类型", "Scan type"),
    "field.scan_time": ("扫描时间", "Scan time"),
    "field.next_site_code": ("下一站", "Next site"),
    "format.parquet": ("Parquet", "Parquet"),
    "format.csv": ("CSV 文本", "CSV text"),
    "format.xlsx": ("Excel 工作簿（.xlsx）", "Excel workbook (.xlsx)"),
    "format.xls": ("Excel 97-2003 工作簿（.xls）", "Excel 97-2003 workbook (.xls)"),
    "err.preview_expired": (
        "该预览已过期或已被处理；请重新上传文件。",
        "This preview has expired or was already used; upload the file again.",
    ),
    "words.title": ("扫描类型词", "Scan-type words"),
    "words.intro": (
        "快递企业导出文件中的扫描类型写法各不相同。这里列出近期上传中不认识的扫描类型及其造成的拒收行数；"
        "映射为标准类型后，受影响的上传会立即重新判定。",
        "Couriers' exports word scan types their own way. Here are the scan types recent "
        "uploads did not know, with the rows each cost; map one to a scan type and the "
        "uploads it affected are judged again at once.",
    ),
    "words.unmatched": ("近期上传中不认识的扫描类型", "Scan types recent uploads did not know"),
    "words.unmatched_none": (
        "近期上传中没有不认识的扫描类型。",
        "Recent uploads knew every scan type.",
    ),
    "words.word": ("扫描类型（原文）", "Scan type as written"),
    "words.rows": ("拒收行数", "Rows rejected"),
    "words.where": ("快递企业与上传", "Carriers and uploads"),
    "words.where_item": ("{carrier}：{rows} 行", "{carrier}: {rows} rows"),
    "words.now": ("当前映射", "Mapped now"),
    "words.map": ("映射并重新判定", "Map and re-judge"),
    "words.scan_type": ("标准扫描类型", "Scan type"),
    "words.scope": ("适用范围", "Applies to"),
    "words.all_carriers": ("全部快递企业", "Every carrier"),
    "words.reason": ("说明（记入审计日志）", "Reason (kept in the audit log)"),
    "words.default_reason": (
        "将「{word}」映射为{scan_type}",
        "map {word!r} to {scan_type}",
    ),
    "words.map_label": ("映射「{word}」", "Map {word!r}"),
    "words.choose": ("请选择", "Choose"),
    "words.result": ("映射结果", "Result of the mapping"),
    "words.mapped": (
        "已将「{word}」映射为{scan_type}（{scope}），并重新判定了 {count} 个上传。",
        "{word!r} now means {scan_type} ({scope}); {count} uploads were judged again.",
    ),
    "words.already_mapped": (
        "「{word}」已映射为{scan_type}（{scope}）；已重新判定受影响的上传。",
        "{word!r} already meant {scan_type} ({scope}); the uploads it affected were judged again.",
    ),
    "words.upload": ("上传", "Upload"),
    "words.before": ("之前", "Before"),
    "words.after": ("之后", "After"),
    "words.gained": ("新入库行", "Rows now stored"),
    "words.outcome": ("结果", "Outcome"),
    "words.skipped": ("未重新判定：{why}", "Not judged again: {why}"),
    "words.added": ("管理员添加的词", "Words added by administrators"),
    "words.added_none": ("还没有管理员添加的词。", "No word was added yet."),
    "words.defaults": ("系统默认词（{n} 个）", "Shipped words ({n})"),
    "words.id": ("编号", "ID"),
    "words.by": ("添加人", "Added by"),
    "words.at": ("添加时间", "Added at"),
    "words.delete": ("删除", "Remove"),
    "words.delete_label": ("删除「{word}」", "Remove {word!r}"),
    "words.confirm_delete": (
        "确认删除该词？之后判定的上传将不再认识它。",
        "Remove this word? Uploads judged afterwards will not know it.",
    ),
    "words.deleted": ("已删除「{word}」。", "{word!r} was removed."),
    "words.recent": (
        "统计范围：最近 {n} 个上传（已入库或已拒收）。",
        "Counted over the latest {n} uploads (ingested or refused).",
    ),
    "action.scan_word": ("扫描类型词", "Scan words"),
    "action.scan_word.added": ("添加扫描类型词", "Scan word added"),
    "action.scan_word.removed": ("删除扫描类型词", "Scan word removed"),
    "action.upload.rejudged": ("重新判定上传", "Upload re-judged"),
    "target.scan_word": ("扫描类型词 #{id}", "Scan word #{id}"),
}

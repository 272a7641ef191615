"""The words of uploads: column aliases, scan-type spellings and reject reasons (SPEC §3).

The stored event's own schema is ``core.events``.
"""

from __future__ import annotations

from core.events import SCAN_TYPES

#: The shipped scan-type words of couriers' exports (SPEC §3a), beside each canonical name
#: itself; an admin adds more (:mod:`ingest.scan_words`). Matching ignores case and spaces.
DEFAULT_SCAN_WORDS: dict[str, tuple[str, ...]] = {
    "pickup": ("揽收", "收件", "揽件", "快件揽收", "揽收扫描", "收件扫描"),
    "depart": ("发件", "发件扫描", "出仓扫描", "装车发件"),
    "arrive": ("到件", "到件扫描", "到达", "入库扫描", "代理点收入扫描", "驿站入库"),
    "dispatch": ("派件", "派件扫描", "派送", "出库扫描"),
    "sign": (
        "签收", "快件签收", "客户签收", "第三方签收", "驿站代收", "快件取出扫描", "妥投", "已签收",
    ),
    "exception": ("问题件", "问题件扫描", "退件", "退回", "拒收", "滞留"),
    "other": ("装袋", "建包", "拆包", "称重"),
}  # fmt: skip

#: Accepted spellings of each scan type (lower-cased, trimmed): the canonical names and the
#: shipped words.
SCAN_TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in SCAN_TYPES},
    **{w.lower(): t for t, words in DEFAULT_SCAN_WORDS.items() for w in words},
}

REQUIRED_COLUMNS: tuple[str, ...] = ("waybill_no", "scan_type", "site_code", "scan_time")
OPTIONAL_COLUMNS: tuple[str, ...] = ("carrier", "next_site_code")

#: The header names of each field (SPEC §3 and §3a), in order of preference; matching ignores
#: case and surrounding spaces. Among several columns naming one field, one whose name says it
#: is a code (:data:`CODE_MARKS`) wins, then the first in this order; the others are ignored.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "waybill_no": (
        "waybill_no", "运单号", "运单编号", "快递单号", "单号", "邮件号", "billCode", "mailNo",
        "waybillNo",
    ),
    "scan_type": ("scan_type", "扫描类型", "操作类型", "扫描类别", "scanType", "opType"),
    "site_code": (
        "site_code", "网点编码", "扫描网点", "网点代码", "网点编号", "操作网点", "扫描网点编码",
        "scanSite", "scanSiteCode", "siteCode",
    ),
    "scan_time": ("scan_time", "扫描时间", "操作时间", "scanDate", "scanTime", "opTime"),
    "carrier": ("carrier", "快递公司", "快递品牌", "承运商", "expressCompany"),
    "next_site_code": ("next_site_code", "下一站", "上一站/下一站", "preOrNextSite", "nextSite"),
}  # fmt: skip

#: A date column that, beside a 扫描时间 column holding the time of day, makes the scan time.
SCAN_DATE_NAMES: tuple[str, ...] = ("扫描日期",)
#: The time-of-day column paired with a :data:`SCAN_DATE_NAMES` column.
SCAN_CLOCK_NAMES: tuple[str, ...] = ("扫描时间",)

#: Words that mark a column name as a code (compared ignoring case).
CODE_MARKS: tuple[str, ...] = ("编码", "代码", "编号", "code")

#: Header spelling (lower-cased) -> (canonical field, rank in its list).
COLUMN_ALIASES: dict[str, tuple[str, int]] = {
    name.lower(): (field, rank)
    for field, names in FIELD_NAMES.items()
    for rank, name in enumerate(names)
}

#: Chinese names shown beside canonical names in messages and exports.
COLUMN_LABELS_ZH: dict[str, str] = {
    "waybill_no": "运单号",
    "scan_type": "扫描类型",
    "site_code": "网点编码",
    "scan_time": "扫描时间",
    "carrier": "快递公司",
    "next_site_code": "下一站",
}

REJECT_REASONS: tuple[str, ...] = (
    "missing_field",
    "bad_waybill",
    "unknown_scan_type",
    "bad_scan_time",
    "implausible_scan_time",
    "carrier_mismatch",
    "unknown_carrier",
)

WAYBILL_PATTERN = r"^[A-Za-z0-9-]{6,40}$"


def canonical_name(header: str) -> str | None:
    """The canonical field a header names, ``scan_date`` for a split date column, or ``None``
    for a column to ignore."""
    key = header.strip().lower()
    if key in SCAN_DATE_NAMES:
        return "scan_date"
    hit = COLUMN_ALIASES.get(key)
    return hit[0] if hit else None


def preference(header: str) -> tuple[int, int]:
    """Sort key among headers naming one field: code names first, then the list's order."""
    key = header.strip().lower()
    is_code = any(mark in key for mark in CODE_MARKS)
    return (0 if is_code else 1, COLUMN_ALIASES.get(key, ("", 99))[1])


def label(column: str) -> str:
    """``scan_time (扫描时间)``: a column's name as shown in messages."""
    zh = COLUMN_LABELS_ZH.get(column)
    return f"{column} ({zh})" if zh else column

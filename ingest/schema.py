"""The words of uploads: column aliases, scan-type spellings and reject reasons (SPEC §3).

The stored event's own schema is ``core.events``.
"""

from __future__ import annotations

from core.events import SCAN_TYPES

#: Accepted spellings of each scan type (lower-cased, trimmed), Chinese export labels included.
SCAN_TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in SCAN_TYPES},
    "揽收": "pickup",
    "收件": "pickup",
    "发件": "depart",
    "到件": "arrive",
    "派件": "dispatch",
    "签收": "sign",
    "问题件": "exception",
}

REQUIRED_COLUMNS: tuple[str, ...] = ("waybill_no", "scan_type", "site_code", "scan_time")
OPTIONAL_COLUMNS: tuple[str, ...] = ("carrier", "next_site_code")

#: Header spellings mapped to canonical names; matching ignores case and surrounding spaces.
COLUMN_ALIASES: dict[str, str] = {
    "waybill_no": "waybill_no",
    "运单号": "waybill_no",
    "scan_type": "scan_type",
    "扫描类型": "scan_type",
    "site_code": "site_code",
    "网点编码": "site_code",
    "扫描网点": "site_code",
    "scan_time": "scan_time",
    "扫描时间": "scan_time",
    "carrier": "carrier",
    "快递公司": "carrier",
    "next_site_code": "next_site_code",
    "下一站": "next_site_code",
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
    """The canonical column a header maps to, or ``None`` for a column to ignore."""
    return COLUMN_ALIASES.get(header.strip().lower())


def label(column: str) -> str:
    """``scan_time (扫描时间)``: a column's name as shown in messages."""
    zh = COLUMN_LABELS_ZH.get(column)
    return f"{column} ({zh})" if zh else column

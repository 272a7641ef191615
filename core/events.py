"""The stored scan event: its schema, its identity and the scan-type vocabulary (SPEC §3).

Shared by the store (``core.store``), ingest (which writes events) and the rule (which reads
them); the words couriers use for columns and scan types live in ``ingest.schema``.
"""

from __future__ import annotations

import polars as pl

from core.timeutil import TZ_NAME

#: ``other`` (装袋, 建包, ...) is kept as evidence and never used by the rule (SPEC §3a). Event
#: files store the type as text, so files written before it existed read unchanged.
SCAN_TYPES: tuple[str, ...] = (
    "pickup",
    "depart",
    "arrive",
    "dispatch",
    "sign",
    "exception",
    "other",
)
ScanType = pl.Enum(SCAN_TYPES)

SCAN_TIME = pl.Datetime("us", TZ_NAME)

#: One stored scan event. ``upload_id`` and ``row_no`` say where it came from, for audit.
EVENT_SCHEMA = pl.Schema(
    {
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "scan_type": ScanType,
        "site_code": pl.String(),
        "scan_time": SCAN_TIME,
        "next_site_code": pl.String(),
        "upload_id": pl.Int64(),
        "row_no": pl.Int64(),
    }
)

#: An event's identity: the same tuple in two files is one event, stored and counted once.
IDENTITY: tuple[str, ...] = ("carrier", "waybill_no", "scan_type", "site_code", "scan_time")

"""Monthly reports written as files: what finance finds in ``DIR/reports/`` each month.

Layout::

    DIR/reports/2024-05/monthly-2024-05-draft.json    the report as the API serves it, as of
    DIR/reports/2024-05/monthly-2024-05-draft.csv     the run, with the same CSV and XLSX
    DIR/reports/2024-05/monthly-2024-05-draft.xlsx    bytes as the API's downloads

The files are :func:`subsidy.report.served_report`'s report rendered by :mod:`subsidy.exports`
(the same bytes as the API's JSON and downloads): the month's figures with its prior-period
adjustments. A draft is not a close: writing it again (a later run, after late
uploads) replaces the files with the figures as of that run. A month already closed is written
as its frozen report, named ``...-closed.*``. Each file is written under a temporary name and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from core.policy import Policy
from core.store import Store
from core.timeutil import month_of, prev_month, to_local
from subsidy.exports import report_csv, report_json, report_xlsx
from subsidy.report import served_report


def previous_month(at: datetime) -> str:
    """The Asia/Shanghai calendar month before the one ``at`` lies in (``YYYY-MM``)."""
    return prev_month(month_of(to_local(at)))


def reports_dir(store: Store, month: str) -> Path:
    """``DIR/reports/YYYY-MM``."""
    return store.root / "reports" / month


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, path)


def write_monthly_draft(
    store: Store, policy: Policy, month: str, as_of: datetime
) -> dict[str, Any]:
    """Write the report of ``month`` as of ``as_of`` as JSON, CSV and XLSX files.

    Returns the month, ``as_of``, whether it is closed, the files (relative to the data dir)
    and the totals (fen), so the job history shows the figures without opening the files.
    """
    report = served_report(store, policy, month, as_of)
    state = "closed" if report.closed else "draft"
    folder = reports_dir(store, month)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, data in (
        ("json", report_json(report)),
        ("csv", report_csv(report)),
        ("xlsx", report_xlsx(report)),
    ):
        path = folder / f"monthly-{month}-{state}.{suffix}"
        _write_atomic(path, data)
        written.append(str(path.relative_to(store.root)))
    return {
        "month": month,
        "as_of": report.as_of.isoformat(),
        "closed": state == "closed",
        "files": written,
        "carriers": len(report.carriers),
        "totals": report.totals.model_dump(),
    }

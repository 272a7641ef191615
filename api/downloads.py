"""Reports as files at the edge: the one place a typed report becomes a CSV or XLSX download
(named for the month, and the operator's carrier), for the API and the console alike."""

from __future__ import annotations

from typing import Literal

from fastapi.responses import Response

from subsidy.exports import XLSX_MEDIA_TYPE, report_csv, report_xlsx
from subsidy.models import MonthlyReport


def report_file(
    report: MonthlyReport, format: Literal["csv", "xlsx"], carrier: str | None
) -> Response:
    """The report as a CSV or XLSX download (named for the month, and the operator's carrier)."""
    name = f"subsidy-{report.month}{'-' + carrier if carrier else ''}"
    if format == "csv":
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        report_xlsx(report),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )

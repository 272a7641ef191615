"""Reading what a console page shows: the ``data-value`` of its figure cells, its chart data."""

from __future__ import annotations

import json
import re
from typing import Any

from subsidy.rule import INELIGIBLE_REASONS

_ROW = re.compile(r'<tr data-carrier="([^"]+)"[^>]*>(.*?)</tr>', re.S)
_CELL = re.compile(r'data-field="([^"]+)" data-value="([^"]*)"')


def table_values(html: str, table_id: str) -> dict[str, dict[str, int | None]]:
    """``{carrier: {field: value}}`` of the figures table ``table_id`` (``__total__`` too)."""
    start = html.index(f'id="{table_id}"')
    body = html[start : html.index("</table>", start)]
    return {
        carrier: {f: (int(v) if v else None) for f, v in _CELL.findall(cells)}
        for carrier, cells in _ROW.findall(body)
    }


def api_row(row: dict[str, Any], *, rate: bool = True) -> dict[str, int | None]:
    """The fields a figures row shows, from a row of the API's JSON."""
    out: dict[str, int | None] = {
        "eligible_parcels": row["eligible_parcels"],
        "subsidy_fen": row["subsidy_fen"],
        "pending_parcels": row["pending_parcels"],
        **{r: row["ineligible"][r] for r in INELIGIBLE_REASONS},
    }
    if rate:
        out["rate_fen"] = row.get("rate_fen")
    return out


def api_table(report: dict[str, Any]) -> dict[str, dict[str, int | None]]:
    """What the carrier table of a page must show for an API report."""
    expected = {r["carrier"]: api_row(r) for r in report["carriers"]}
    expected["__total__"] = {**api_row(report["totals"], rate=False), "rate_fen": None}
    return expected


def attribute(html: str, element_id: str, name: str) -> str:
    """An attribute of the element with ``id``."""
    match = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    value = re.search(rf'\b{name}="([^"]*)"', match.group(0))
    assert value, f"#{element_id} has no {name}"
    return value.group(1)


def chart_data(html: str) -> dict[str, Any]:
    """The JSON the chart is drawn from."""
    match = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
    assert match, "the page has no chart data"
    return json.loads(match.group(1))  # type: ignore[no-any-return]

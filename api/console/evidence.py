"""An anomaly flag's evidence (its ``detail``, SPEC §12) as lines a reviewer reads: the scans
with their sites' names, the minutes in transit, the hub-minute count, the other carriers, the
hub's median, each beside the threshold it crossed. Times are Asia/Shanghai."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from api.console import i18n


def _number(value: Any) -> str:
    """A figure of the detail without a needless ``.0`` (``2.5``, ``12``)."""
    if isinstance(value, float):
        return f"{value:.1f}".removesuffix(".0")
    return str(value)


def hint(t: Callable[..., str], flag: Mapping[str, Any]) -> str:
    """The one sentence saying what the flag's code means, with its threshold."""
    d: dict[str, Any] = flag["detail"]
    code = flag["code"]
    values = {
        "too_fast": {"minutes": d.get("min_transit_minutes", "")},
        "burst": {"limit": d.get("burst_per_minute", "")},
        "reused_waybill": {"days": d.get("reuse_days", "")},
        "off_hours": {"quiet_from": d.get("quiet_from", ""), "quiet_to": d.get("quiet_to", "")},
        "hub_spike": {
            "factor": _number(d.get("spike_factor", "")),
            "minimum": d.get("spike_min", ""),
        },
    }.get(code, {})
    key = f"flag_hint.{code}"
    return t(key, **values) if key in i18n.MESSAGES else ""


def lines(
    t: Callable[..., str], flag: Mapping[str, Any], site_names: Mapping[str, str]
) -> list[tuple[str, str]]:
    """``[(label, text)]`` of the flag's evidence, in the order a reviewer checks it."""
    d: dict[str, Any] = flag["detail"]

    def site(code: str | None) -> str:
        if not code:
            return "—"
        name = site_names.get(code)
        return f"{code} {name}" if name else code

    def scan(time_key: str, site_key: str, kind_key: str | None = None) -> str:
        text = t(
            "ev.scan_at",
            time=i18n.local_time(d.get(time_key), seconds=True),
            site=site(d.get(site_key)),
        )
        if kind_key and d.get(kind_key):
            text += t("ev.kind", kind=i18n.label(t, "scan", d[kind_key]))
        return text

    out: list[tuple[str, str]] = []
    code = flag["code"]
    if "d_time" in d:
        out.append((t("ev.departure"), scan("d_time", "d_site")))
    if "a_time" in d:
        out.append((t("ev.arrival"), scan("a_time", "a_site", "a_scan_type")))
    if code == "too_fast":
        minutes = float(d["transit_seconds"]) / 60
        out.append(
            (
                t("ev.transit"),
                t(
                    "ev.transit_value",
                    minutes=_number(round(minutes, 1)),
                    limit=d["min_transit_minutes"],
                ),
            )
        )
    elif code == "burst":
        out.append((t("ev.minute"), i18n.local_time(d["minute"], seconds=False)))
        out.append(
            (
                t("ev.hub_minute"),
                t("ev.hub_minute_value", count=d["hub_minute_scans"], limit=d["burst_per_minute"]),
            )
        )
    elif code == "cross_carrier":
        others = d.get("other_carriers") or []
        out.append((t("ev.other_carriers"), t("ui.list_sep").join(others) or "—"))
    elif code == "reused_waybill":
        out.append((t("ev.first_depart"), scan("first_depart", "first_site")))
        out.append((t("ev.last_depart"), scan("last_depart", "last_site")))
        out.append(
            (
                t("ev.days_apart"),
                t(
                    "ev.days_apart_value",
                    days=_number(round(float(d["days_apart"]), 1)),
                    limit=d["reuse_days"],
                    scans=d["depart_scans"],
                ),
            )
        )
    elif code == "off_hours":
        out.append((t("ev.quiet"), f"{d['quiet_from']}–{d['quiet_to']}"))
    elif code == "hub_spike":
        out.append((t("ev.hub_day"), i18n.count(int(d["eligible_parcels"]))))
        out.append(
            (
                t("ev.median"),
                t(
                    "ev.median_value",
                    median=_number(d["median_prev"]),
                    days=d["days_with_any"],
                    factor=_number(d["spike_factor"]),
                    minimum=d["spike_min"],
                ),
            )
        )
    return out

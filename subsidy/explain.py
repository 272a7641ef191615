"""The explanation of one parcel (SPEC §5): its status, reason, ``D``, ``A``, and its scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store
from core.timeutil import to_local
from subsidy.exceptions import NotFoundError
from subsidy.rule import parcel_statuses
from subsidy.sites import load_sites


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_local(value).isoformat()


def explain_parcel(
    store: Store, policy: Policy, carrier: str, waybill_no: str, as_of: datetime
) -> dict[str, Any]:
    """Why a parcel has its status as of ``as_of``: the rule's outcome and every scan behind it.

    Raises :class:`NotFoundError` when the store holds no scan of the parcel up to ``as_of``.
    """
    cutoff = to_local(as_of)
    events = (
        store.scan_events(carriers=[carrier])
        .filter((pl.col("waybill_no") == waybill_no) & (pl.col("scan_time") <= cutoff))
        .collect()
    )
    if events.height == 0:
        raise NotFoundError(
            f"no scans of parcel {carrier} {waybill_no} up to {cutoff.isoformat()}",
            code="parcel_not_found",
            carrier=carrier,
            waybill_no=waybill_no,
        )
    sites = load_sites(store)
    status = parcel_statuses(events.lazy(), sites.lazy(), policy, cutoff).collect()
    site_info = {r["site_code"]: r for r in sites.iter_rows(named=True)}

    def site(code: str | None) -> dict[str, Any] | None:
        if code is None:
            return None
        info = site_info.get(code)
        return {
            "site_code": code,
            "name": info["name"] if info else None,
            "kind": str(info["kind"]) if info else "other",
            "town": info["town"] if info else None,
        }

    out: dict[str, Any] = {
        "carrier": carrier,
        "waybill_no": waybill_no,
        "as_of": cutoff.isoformat(),
    }
    if status.height == 0:
        out.update(
            status="out_of_scope",
            reason="no_district_center_departure",
            month=None,
            departure=None,
            arrival=None,
            rate_fen=None,
            subsidy_fen=0,
        )
        d_time = a_time = None
        d_site = a_site = None
    else:
        row = status.row(0, named=True)
        d_time, a_time, d_site, a_site = row["d_time"], row["a_time"], row["d_site"], row["a_site"]
        out.update(
            status=row["status"],
            reason=row["reason"],
            month=row["month"],
            departure={"scan_time": _iso(d_time), **(site(d_site) or {})},
            arrival=None
            if a_time is None
            else {
                "scan_time": _iso(a_time),
                "scan_type": row["a_scan_type"],
                **(site(a_site) or {}),
            },
            rate_fen=row["rate_fen"],
            subsidy_fen=row["subsidy_fen"],
        )
    out["subsidy_yuan"] = fen_to_yuan(out["subsidy_fen"])
    out["transit_seconds"] = (
        None if d_time is None or a_time is None else (a_time - d_time).total_seconds()
    )
    out["max_transit_seconds"] = int(policy.max_transit.total_seconds())
    scans = []
    for ev in events.sort("scan_time", "site_code").iter_rows(named=True):
        info = site(ev["site_code"]) or {}
        decided = None
        if ev["scan_time"] == d_time and ev["site_code"] == d_site and ev["scan_type"] == "depart":
            decided = "departure"
        elif (
            ev["scan_time"] == a_time
            and ev["site_code"] == a_site
            and ev["scan_type"] == out["arrival"]["scan_type"]
        ):
            decided = "arrival"
        scans.append(
            {
                "scan_time": _iso(ev["scan_time"]),
                "scan_type": ev["scan_type"],
                "site_code": ev["site_code"],
                "site_name": info.get("name"),
                "site_kind": info.get("kind"),
                "next_site_code": ev["next_site_code"],
                "decides": decided,
                "upload_id": ev["upload_id"],
                "row_no": ev["row_no"],
            }
        )
    out["scans"] = scans
    return out

"""The six anomaly flags (SPEC §12) on frames: each with a parcel just inside and just outside
its threshold, at a month edge, in Asia/Shanghai time (a UTC 18:00 scan is 02:00 in Jiyang)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from core.exceptions import PolicyError
from core.policy import AnomalyPolicy, Policy, anomalies_from_dict
from core.store import Store
from subsidy import anomalies
from subsidy.anomalies import compute_flags
from tests.factories import (
    CENTER,
    HUB,
    HUB2,
    cst,
    events_frame,
    ingest_rows,
    parcel,
    scan,
    sites_frame,
    utc,
)

AS_OF = cst(2023, 8, 1)
US = timedelta(microseconds=1)
#: 2023-05-01 00:10 in Jiyang, still April in UTC: the parcel counts in May.
EDGE_D = utc(2023, 4, 30, 16, 10)


def flags(
    rows: list[dict[str, Any]], policy: Policy, month: str = "2023-05", code: str | None = None
) -> list[dict[str, Any]]:
    found, _ = compute_flags(events_frame(rows), sites_frame(), policy, AS_OF, month)
    out = [dict(r, detail=json.loads(r["detail"])) for r in found.iter_rows(named=True)]
    return [f for f in out if code is None or f["code"] == code]


def waybills(found: list[dict[str, Any]]) -> set[str]:
    return {f["waybill_no"] for f in found}


def test_policy_defaults_are_those_of_spec_12(policy: Policy) -> None:
    assert policy.anomalies == AnomalyPolicy(
        min_transit_minutes=30,
        burst_per_minute=60,
        reuse_days=30,
        quiet_from=time(0, 0),
        quiet_to=time(5, 0),
        spike_factor=5,
        spike_min=50,
        action="hold",
    )
    with pytest.raises(PolicyError, match="action"):
        anomalies_from_dict({"action": "pay"})
    with pytest.raises(PolicyError, match="quiet_to"):
        anomalies_from_dict({"quiet_to": "25:00"})


def test_too_fast(policy: Policy) -> None:
    limit = timedelta(minutes=30)
    rows = parcel("IN", EDGE_D, limit - US) + parcel("OUT", EDGE_D, limit)
    # D 23:50 on 31 May (Jiyang) and A 20 minutes later, on 1 June: still May's parcel.
    rows += parcel("EDGE", cst(2023, 5, 31, 23, 50), timedelta(minutes=20))
    found = flags(rows, policy, code="too_fast")
    assert waybills(found) == {"IN", "EDGE"}
    edge = next(f for f in found if f["waybill_no"] == "EDGE")
    assert edge["day"] == date(2023, 6, 1)
    assert edge["site_code"] == HUB
    assert edge["detail"]["transit_seconds"] == 1200
    assert edge["detail"]["d_site"] == CENTER
    assert flags(rows, policy, month="2023-04", code="too_fast") == []


def test_burst(policy: Policy) -> None:
    # 1 June 00:00 in Jiyang is 16:00 UTC on 31 May; the parcels left on 31 May (Jiyang).
    minute = utc(2023, 5, 31, 16, 0)
    d = cst(2023, 5, 31, 12, 0)
    rows: list[dict[str, Any]] = []
    for i in range(60):
        rows += parcel(f"B{i}", d, minute - d)
    rows += parcel("LAST", d, minute + timedelta(seconds=59, microseconds=999_999) - d)
    rows += parcel("NEXT", d, minute + timedelta(minutes=1) - d)
    # Another hub: exactly 60 scans in one minute is not a burst.
    for i in range(60):
        rows += parcel(f"H{i}", d, minute - d, hub=HUB2)
    found = flags(rows, policy, code="burst")
    assert waybills(found) == {f"B{i}" for i in range(60)} | {"LAST"}
    assert {f["detail"]["hub_minute_scans"] for f in found} == {61}
    assert {(f["site_code"], f["day"]) for f in found} == {(HUB, date(2023, 6, 1))}


def test_cross_carrier(policy: Policy) -> None:
    rows = parcel("ZT100001", EDGE_D, carrier="ZTO") + parcel(
        "ZT100001", EDGE_D + timedelta(days=3), carrier="YTO"
    )
    # W2 under YTO has a pickup but no D: out of scope, so no second carrier.
    rows += parcel("ZT100002", EDGE_D, carrier="ZTO")
    rows += [scan("ZT100002", "pickup", CENTER, EDGE_D, carrier="YTO")]
    found = flags(rows, policy, code="cross_carrier")
    assert {(f["carrier"], f["waybill_no"]) for f in found} == {
        ("ZTO", "ZT100001"),
        ("YTO", "ZT100001"),
    }
    zto = next(f for f in found if f["carrier"] == "ZTO")
    assert zto["detail"]["other_carriers"] == ["YTO"]
    assert zto["day"] == date(2023, 5, 1)  # D's day in Jiyang (30 April in UTC)


def test_reused_waybill(policy: Policy) -> None:
    again = timedelta(days=30)
    rows = [*parcel("IN", EDGE_D), scan("IN", "depart", CENTER, EDGE_D + again + US)]
    rows += [*parcel("OUT", EDGE_D), scan("OUT", "depart", CENTER, EDGE_D + again)]
    found = flags(rows, policy, code="reused_waybill")
    assert waybills(found) == {"IN"}
    (only,) = found
    assert only["detail"]["depart_scans"] == 2
    assert only["detail"]["first_depart"].startswith("2023-05-01T00:10:00")
    assert only["day"] == date(2023, 5, 1)


@pytest.mark.parametrize(
    ("arrival", "flagged"),
    [
        pytest.param(utc(2023, 5, 31, 16, 0), True, id="00:00 Jiyang, 1 June"),
        pytest.param(utc(2023, 5, 31, 18, 0), True, id="UTC 18:00 is 02:00 Jiyang"),
        pytest.param(utc(2023, 5, 31, 21, 0) - US, True, id="04:59:59.999999"),
        pytest.param(utc(2023, 5, 31, 21, 0), False, id="05:00 Jiyang"),
        pytest.param(utc(2023, 5, 31, 16, 0) - US, False, id="23:59:59.999999"),
        pytest.param(utc(2023, 5, 31, 2, 0), False, id="UTC 02:00 is 10:00 Jiyang"),
    ],
)
def test_off_hours(policy: Policy, arrival: datetime, flagged: bool) -> None:
    d = cst(2023, 5, 30, 20, 0)
    found = flags(parcel("W", d, arrival - d), policy, code="off_hours")
    assert bool(found) is flagged
    if flagged:
        assert found[0]["detail"]["quiet_from"] == "00:00"


def test_off_hours_wraps_midnight(policy: Policy) -> None:
    wrapped = dataclasses.replace(
        policy,
        anomalies=dataclasses.replace(policy.anomalies, quiet_from=time(22), quiet_to=time(5)),
    )
    d = cst(2023, 5, 30, 12, 0)
    late = parcel("LATE", d, cst(2023, 5, 30, 22, 0) - d)
    early = parcel("EARLY", d, cst(2023, 5, 30, 21, 59, 59) - d)
    assert waybills(flags(late + early, wrapped, code="off_hours")) == {"LATE"}


def _spike_rows(hub: str, spike: int, history_days: int) -> list[dict[str, Any]]:
    """10 eligible parcels a day at ``hub`` on the ``history_days`` days before 1 June, then
    ``spike`` on 1 June (Jiyang), the last departing on 31 May."""
    rows: list[dict[str, Any]] = []
    for back in range(1, history_days + 1):
        day = cst(2023, 6, 1, 12) - timedelta(days=back)
        for i in range(10):
            rows += parcel(
                f"{hub}-h{back}-{i}", day - timedelta(hours=6), timedelta(hours=6), hub=hub
            )
    d = cst(2023, 5, 31, 20, 0)
    arrive = utc(2023, 5, 31, 18, 0)  # 02:00 on 1 June in Jiyang
    for i in range(spike):
        rows += parcel(f"{hub}-s{i}", d, arrive - d, hub=hub)
    return rows


def test_hub_spike(policy: Policy) -> None:
    rows = _spike_rows(HUB, 51, 7) + _spike_rows(HUB2, 50, 7)
    found = flags(rows, policy, code="hub_spike")
    assert [(f["site_code"], f["day"], f["carrier"], f["waybill_no"]) for f in found] == [
        (HUB, date(2023, 6, 1), None, None)
    ]
    assert found[0]["detail"]["median_prev"] == 10
    assert found[0]["detail"]["eligible_parcels"] == 51
    assert found[0]["detail"]["days_with_any"] == 7
    _, held = compute_flags(events_frame(rows), sites_frame(), policy, AS_OF, "2023-05")
    spiked = held.filter(code="hub_spike")
    assert spiked.height == 51
    assert spiked["subsidy_fen"].sum() == 51 * 20


def test_hub_spike_needs_seven_days_and_spike_min(policy: Policy) -> None:
    assert flags(_spike_rows(HUB, 51, 6), policy, code="hub_spike") == []
    low = dataclasses.replace(policy, anomalies=dataclasses.replace(policy.anomalies, spike_min=52))
    assert flags(_spike_rows(HUB, 51, 7), low, code="hub_spike") == []


def test_honest_parcel_has_no_flag(policy: Policy) -> None:
    assert flags(parcel("OK", cst(2023, 5, 10, 9), timedelta(hours=5)), policy) == []


def test_stored_flags_are_recomputed_only_when_something_changed(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open month's flags keep their ids and reviews; asking again without a new upload
    computes nothing; an upload recomputes them and the new flag gets a new id."""
    ingest_rows(store, parcel("ZT100001", cst(2023, 5, 10, 9), timedelta(minutes=10)))
    now = cst(2023, 7, 1)
    (first,) = anomalies.list_flags(store, policy, "2023-05", now)
    anomalies.review_flag(store, first["id"], decision="cleared", note=None, actor="t")
    calls: list[str] = []
    real = anomalies.flags_for_month

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(anomalies, "flags_for_month", counting)
    assert anomalies.list_flags(store, policy, "2023-05", now + timedelta(days=3))[0]["status"] == (
        "cleared"
    )
    assert calls == []
    ingest_rows(store, parcel("ZT100002", cst(2023, 5, 11, 9), timedelta(minutes=10)))
    found = anomalies.list_flags(store, policy, "2023-05", now)
    assert calls == ["2023-05"]
    assert [(f["waybill_no"], f["status"]) for f in found] == [
        ("ZT100001", "cleared"),
        ("ZT100002", "open"),
    ]
    assert found[0]["id"] == first["id"] and found[1]["id"] > first["id"]

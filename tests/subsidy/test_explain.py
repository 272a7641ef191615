"""The explanation of one parcel (SPEC §5): status, reason, D, A, sites and deciding scans."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core.policy import Policy
from core.store import Store
from subsidy.exceptions import NotFoundError
from subsidy.explain import explain_parcel
from tests.factories import (
    CENTER,
    DAY,
    HUB,
    OTHER,
    WEEK,
    cst,
    ingest_rows,
    parcel,
    scan,
)

D = cst(2023, 5, 10, 9)


def explain(store: Store, policy: Policy, waybill: str, as_of: datetime) -> dict[str, Any]:
    return explain_parcel(store, policy, "ZTO", waybill, as_of)


@pytest.fixture
def loaded(store: Store) -> Store:
    rows = (
        parcel("ZT7000000001", D, 2 * DAY)
        + parcel("ZT7000000002", D, None)
        + parcel("ZT7000000003", D, WEEK + timedelta(milliseconds=1))
        + parcel("ZT7000000004", cst(2024, 8, 30), DAY)
        + [scan("ZT7000000005", "pickup", OTHER, D), scan("ZT7000000005", "arrive", HUB, D)]
    )
    ingest_rows(store, rows)
    return store


@pytest.mark.parametrize(
    ("waybill", "as_of", "status", "reason", "subsidy_fen"),
    [
        pytest.param("ZT7000000001", D + 30 * DAY, "eligible", None, 20, id="eligible"),
        pytest.param("ZT7000000002", D + WEEK - DAY, "pending", None, 0, id="pending"),
        pytest.param(
            "ZT7000000002", D + WEEK, "ineligible", "no_hub_arrival", 0, id="no_hub_arrival"
        ),
        pytest.param("ZT7000000003", D + 30 * DAY, "ineligible", "late_hub_arrival", 0, id="late"),
        pytest.param(
            "ZT7000000004",
            cst(2024, 10, 1),
            "ineligible",
            "outside_policy_window",
            0,
            id="outside_policy_window",
        ),
        pytest.param(
            "ZT7000000005",
            D + 30 * DAY,
            "out_of_scope",
            "no_district_center_departure",
            0,
            id="out_of_scope",
        ),
    ],
)
def test_every_status_is_explained(
    loaded: Store,
    policy: Policy,
    waybill: str,
    as_of: datetime,
    status: str,
    reason: str | None,
    subsidy_fen: int,
) -> None:
    out = explain(loaded, policy, waybill, as_of)
    assert (out["status"], out["reason"], out["subsidy_fen"]) == (status, reason, subsidy_fen)
    assert out["subsidy_yuan"] == f"0.{subsidy_fen:02d}"
    assert out["as_of"] == as_of.isoformat()
    assert type(out["subsidy_fen"]) is int


def test_eligible_parcel_shows_d_a_sites_and_deciding_scans(loaded: Store, policy: Policy) -> None:
    out = explain(loaded, policy, "ZT7000000001", D + 30 * DAY)
    assert out["month"] == "2023-05"
    assert (out["rate_fen"], out["subsidy_fen"], out["subsidy_yuan"]) == (20, 20, "0.20")
    assert out["departure"] == {
        "scan_time": "2023-05-10T09:00:00+08:00",
        "site_code": CENTER,
        "name": "济阳区级配送中心",
        "kind": "district_center",
        "town": "济阳街道",
    }
    assert out["arrival"] == {
        "scan_time": "2023-05-12T09:00:00+08:00",
        "scan_type": "arrive",
        "site_code": HUB,
        "name": "仁风镇服务站",
        "kind": "village_hub",
        "town": "仁风镇",
    }
    assert out["transit_seconds"] == 2 * 86400
    assert out["max_transit_seconds"] == 7 * 86400
    assert [(s["scan_type"], s["site_code"], s["decides"]) for s in out["scans"]] == [
        ("pickup", OTHER, None),
        ("depart", CENTER, "departure"),
        ("arrive", HUB, "arrival"),
    ]
    depart = out["scans"][1]
    assert (depart["next_site_code"], depart["upload_id"], depart["row_no"]) == (HUB, 1, 2)
    assert depart["site_kind"] == "district_center"


def test_late_parcel_shows_the_transit_beyond_the_limit(loaded: Store, policy: Policy) -> None:
    out = explain(loaded, policy, "ZT7000000003", D + 30 * DAY)
    assert out["transit_seconds"] == 7 * 86400 + 0.001
    assert out["arrival"]["scan_time"] == "2023-05-17T09:00:00.001000+08:00"


def test_parcel_without_arrival_has_no_arrival(loaded: Store, policy: Policy) -> None:
    out = explain(loaded, policy, "ZT7000000002", D + 30 * DAY)
    assert (out["arrival"], out["transit_seconds"]) == (None, None)
    assert [s["decides"] for s in out["scans"]] == [None, "departure"]


def test_out_of_scope_parcel_lists_its_scans(loaded: Store, policy: Policy) -> None:
    out = explain(loaded, policy, "ZT7000000005", D + 30 * DAY)
    assert (out["departure"], out["arrival"], out["month"]) == (None, None, None)
    assert [(s["scan_type"], s["decides"]) for s in out["scans"]] == [
        ("arrive", None),
        ("pickup", None),
    ]


def test_scans_after_as_of_are_not_shown(loaded: Store, policy: Policy) -> None:
    out = explain(loaded, policy, "ZT7000000001", D + DAY)
    assert out["status"] == "pending"
    assert [s["scan_type"] for s in out["scans"]] == ["pickup", "depart"]


@pytest.mark.parametrize(
    ("carrier", "waybill", "as_of"),
    [
        pytest.param("ZTO", "ZT0000000000", D + DAY, id="unknown-waybill"),
        pytest.param("SF", "ZT7000000001", D + DAY, id="other-carrier"),
        pytest.param("ZTO", "ZT7000000001", D - DAY, id="all-scans-after-as_of"),
    ],
)
def test_unknown_parcel_is_not_found(
    loaded: Store, policy: Policy, carrier: str, waybill: str, as_of: datetime
) -> None:
    with pytest.raises(NotFoundError, match=f"no scans of parcel {carrier} {waybill}"):
        explain_parcel(loaded, policy, carrier, waybill, as_of)


def test_explanation_agrees_with_the_report(loaded: Store, policy: Policy) -> None:
    from subsidy.report import monthly_report

    as_of = D + 30 * DAY
    (zto,) = monthly_report(loaded, policy, "2023-05", as_of).carriers
    explained = [
        explain(loaded, policy, w, as_of) for w in ("ZT7000000001", "ZT7000000002", "ZT7000000003")
    ]
    assert zto.subsidy_fen == sum(e["subsidy_fen"] for e in explained)
    assert zto.eligible_parcels == sum(e["status"] == "eligible" for e in explained)

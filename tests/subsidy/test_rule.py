"""The eligibility rule (SPEC §5), checked on frames: no store, no clock."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from core.policy import Policy, Rate
from subsidy.rule import parcel_statuses
from tests.factories import (
    CENTER,
    DAY,
    HUB,
    HUB2,
    LATE_CENTER,
    OTHER,
    SHORT_HUB,
    UNKNOWN,
    WEEK,
    cst,
    events_frame,
    parcel,
    scan,
    sites_frame,
    utc,
)

D = cst(2023, 5, 10, 9, 0)
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


def statuses(
    rows: list[dict[str, Any]], as_of: datetime, policy: Policy
) -> dict[str, dict[str, Any]]:
    """The rule's outcome per waybill."""
    out = parcel_statuses(events_frame(rows), sites_frame(), policy, as_of).collect()
    return {r["waybill_no"]: r for r in out.iter_rows(named=True)}


def status_of(rows: list[dict[str, Any]], as_of: datetime, policy: Policy) -> dict[str, Any]:
    """The outcome of the single parcel in ``rows``."""
    (only,) = statuses(rows, as_of, policy).values()
    return only


# -- every status --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transit", "as_of", "status", "reason", "subsidy"),
    [
        pytest.param(2 * DAY, D + 30 * DAY, "eligible", None, 20, id="eligible"),
        pytest.param(None, D + 3 * DAY, "pending", None, 0, id="pending"),
        pytest.param(None, D + 30 * DAY, "ineligible", "no_hub_arrival", 0, id="no_hub_arrival"),
        pytest.param(8 * DAY, D + 30 * DAY, "ineligible", "late_hub_arrival", 0, id="late"),
    ],
)
def test_each_status_and_reason(
    policy: Policy,
    transit: timedelta | None,
    as_of: datetime,
    status: str,
    reason: str | None,
    subsidy: int,
) -> None:
    out = status_of(parcel("ZT1000001", D, transit), as_of, policy)
    assert (out["status"], out["reason"], out["subsidy_fen"]) == (status, reason, subsidy)
    assert out["d_time"] == D
    assert out["d_site"] == CENTER
    assert out["month"] == "2023-05"
    assert out["rate_fen"] == 20


def test_departure_outside_window_is_ineligible_even_when_on_time(policy: Policy) -> None:
    """Outside the window wins over everything, including a timely arrival."""
    out = status_of(parcel("ZT1000001", cst(2021, 8, 1, 9), DAY), cst(2021, 9, 1), policy)
    assert (out["status"], out["reason"], out["subsidy_fen"]) == (
        "ineligible",
        "outside_policy_window",
        0,
    )


def test_parcel_without_departure_at_the_center_is_out_of_scope(policy: Policy) -> None:
    rows = [
        scan("ZT1000001", "pickup", OTHER, D),
        scan("ZT1000001", "arrive", HUB, D + DAY),
    ]
    assert statuses(rows, D + 30 * DAY, policy) == {}


# -- transit limit: full precision ---------------------------------------------------------


@pytest.mark.parametrize(
    ("transit", "status", "reason"),
    [
        pytest.param(WEEK, "eligible", None, id="exactly-7d"),
        pytest.param(WEEK - US, "eligible", None, id="7d-minus-1us"),
        pytest.param(WEEK + timedelta(seconds=1), "ineligible", "late_hub_arrival", id="7d+1s"),
        pytest.param(WEEK + MS, "ineligible", "late_hub_arrival", id="7d+1ms"),
    ],
)
def test_arrival_at_the_transit_limit(
    policy: Policy, transit: timedelta, status: str, reason: str | None
) -> None:
    out = status_of(parcel("ZT1000001", D, transit), D + 30 * DAY, policy)
    assert (out["status"], out["reason"]) == (status, reason)
    assert out["a_time"] == D + transit


@pytest.mark.parametrize(
    ("as_of", "status", "reason"),
    [
        pytest.param(D + WEEK - US, "pending", None, id="D+7d-1us-pending"),
        pytest.param(D + WEEK, "ineligible", "no_hub_arrival", id="D+7d-exactly-no_hub_arrival"),
    ],
)
def test_pending_until_the_transit_limit(
    policy: Policy, as_of: datetime, status: str, reason: str | None
) -> None:
    out = status_of(parcel("ZT1000001", D, None), as_of, policy)
    assert (out["status"], out["reason"]) == (status, reason)


def test_arrival_exactly_at_as_of_counts(policy: Policy) -> None:
    """``scan_time <= as_of`` exists: an arrival at D+7d seen at as_of = D+7d is eligible."""
    out = status_of(parcel("ZT1000001", D, WEEK), D + WEEK, policy)
    assert out["status"] == "eligible"


def test_custom_transit_limit(policy: Policy) -> None:
    two_days = dataclasses.replace(policy, max_transit=2 * DAY)
    rows = parcel("ZT1000001", D, 2 * DAY) + parcel("ZT1000002", D, 2 * DAY + US)
    out = statuses(rows, D + 30 * DAY, two_days)
    assert out["ZT1000001"]["status"] == "eligible"
    assert out["ZT1000002"]["reason"] == "late_hub_arrival"


# -- the policy window, in Asia/Shanghai ---------------------------------------------------


@pytest.mark.parametrize(
    ("depart_at", "reason"),
    [
        pytest.param(cst(2021, 8, 30), None, id="start-2021-08-30T00:00CST-in"),
        pytest.param(utc(2021, 8, 29, 16), None, id="start-as-UTC-in"),
        pytest.param(utc(2021, 8, 29, 15, 59, 59), "outside_policy_window", id="1s-before-out"),
        pytest.param(cst(2024, 8, 29, 23, 59, 59, 999_999), None, id="last-us-in"),
        pytest.param(cst(2024, 8, 30), "outside_policy_window", id="end-exclusive-out"),
        pytest.param(utc(2024, 8, 29, 16), "outside_policy_window", id="end-as-UTC-out"),
    ],
)
def test_policy_window_edges(policy: Policy, depart_at: datetime, reason: str | None) -> None:
    out = status_of(parcel("ZT1000001", depart_at, DAY), depart_at + 30 * DAY, policy)
    assert out["reason"] == reason
    assert out["status"] == ("eligible" if reason is None else "ineligible")


# -- months --------------------------------------------------------------------------------


def test_departure_late_on_may_31_utc_counts_in_june(policy: Policy) -> None:
    """2023-05-31T16:30Z is 2023-06-01 00:30 in Jiyang: June."""
    out = status_of(parcel("ZT1000001", utc(2023, 5, 31, 16, 30), DAY), cst(2023, 7, 1), policy)
    assert out["month"] == "2023-06"
    assert out["d_time"] == cst(2023, 6, 1, 0, 30)


def test_every_status_counts_in_the_departure_month(policy: Policy) -> None:
    """A parcel leaving on May 31 and arriving in June is a May parcel."""
    out = status_of(parcel("ZT1000001", cst(2023, 5, 31, 23), 2 * DAY), cst(2023, 7, 1), policy)
    assert (out["month"], out["status"]) == ("2023-05", "eligible")


# -- sites and their active intervals ------------------------------------------------------


@pytest.mark.parametrize(
    ("arrive_at", "status"),
    [
        pytest.param(cst(2023, 5, 9, 23, 59, 59), "pending", id="day-before-active_from"),
        pytest.param(cst(2023, 5, 10, 0, 0), "eligible", id="on-active_from"),
        pytest.param(cst(2023, 5, 20, 23, 59, 59), "eligible", id="on-active_to"),
        pytest.param(cst(2023, 5, 21, 0, 0), "pending", id="day-after-active_to"),
        pytest.param(utc(2023, 5, 20, 15, 59), "eligible", id="active_to-in-CST-given-UTC"),
        pytest.param(utc(2023, 5, 20, 16, 1), "pending", id="next-CST-day-given-UTC"),
    ],
)
def test_hub_counts_only_inside_its_active_interval(
    policy: Policy, arrive_at: datetime, status: str
) -> None:
    """Dates are Asia/Shanghai and both ends are inclusive; outside, the hub is no hub."""
    rows = [
        scan("ZT1000001", "depart", CENTER, arrive_at - DAY),
        scan("ZT1000001", "arrive", SHORT_HUB, arrive_at),
    ]
    out = status_of(rows, arrive_at + timedelta(hours=1), policy)
    assert out["status"] == status


@pytest.mark.parametrize(
    ("depart_at", "in_scope"),
    [
        pytest.param(cst(2023, 5, 31, 23, 59, 59), False, id="day-before-active_from"),
        pytest.param(cst(2023, 6, 1, 0, 0), True, id="on-active_from"),
    ],
)
def test_center_counts_only_from_its_active_from(
    policy: Policy, depart_at: datetime, in_scope: bool
) -> None:
    rows = parcel("ZT1000001", depart_at, DAY, center=LATE_CENTER)
    assert bool(statuses(rows, depart_at + 30 * DAY, policy)) is in_scope


@pytest.mark.parametrize(
    "site",
    [pytest.param(UNKNOWN, id="unknown-code"), pytest.param(OTHER, id="kind-other")],
)
def test_departure_from_a_non_center_site_is_out_of_scope(policy: Policy, site: str) -> None:
    assert statuses(parcel("ZT1000001", D, DAY, center=site), D + 30 * DAY, policy) == {}


@pytest.mark.parametrize(
    "site",
    [
        pytest.param(UNKNOWN, id="unknown-code"),
        pytest.param(OTHER, id="kind-other"),
        pytest.param(CENTER, id="the-center-itself"),
    ],
)
def test_arrival_at_a_non_hub_site_does_not_count(policy: Policy, site: str) -> None:
    out = status_of(parcel("ZT1000001", D, DAY, hub=site), D + 30 * DAY, policy)
    assert (out["status"], out["reason"], out["a_time"]) == ("ineligible", "no_hub_arrival", None)


@pytest.mark.parametrize("arrival_type", ["arrive", "dispatch", "sign"])
def test_each_arrival_scan_type_counts(policy: Policy, arrival_type: str) -> None:
    out = status_of(parcel("ZT1000001", D, DAY, arrival_type=arrival_type), D + WEEK, policy)
    assert (out["status"], out["a_scan_type"]) == ("eligible", arrival_type)


@pytest.mark.parametrize("scan_type", ["pickup", "depart", "exception"])
def test_other_scan_types_at_a_hub_are_not_arrivals(policy: Policy, scan_type: str) -> None:
    rows = [scan("ZT1000001", "depart", CENTER, D), scan("ZT1000001", scan_type, HUB, D + DAY)]
    assert status_of(rows, D + 30 * DAY, policy)["reason"] == "no_hub_arrival"


def test_only_departures_count_as_d(policy: Policy) -> None:
    rows = [scan("ZT1000001", "arrive", CENTER, D), scan("ZT1000001", "arrive", HUB, D + DAY)]
    assert statuses(rows, D + 30 * DAY, policy) == {}


# -- earliest wins ---------------------------------------------------------------------------


def test_earliest_departure_wins(policy: Policy) -> None:
    """Two departures: D is the first, so an arrival 7.5 days after it is late."""
    rows = [
        scan("ZT1000001", "depart", CENTER, D + DAY),
        scan("ZT1000001", "depart", CENTER, D),
        scan("ZT1000001", "arrive", HUB, D + WEEK + DAY / 2),
    ]
    out = status_of(rows, D + 30 * DAY, policy)
    assert out["d_time"] == D
    assert out["reason"] == "late_hub_arrival"


def test_earliest_arrival_wins(policy: Policy) -> None:
    rows = [
        scan("ZT1000001", "depart", CENTER, D),
        scan("ZT1000001", "sign", HUB2, D + 9 * DAY),
        scan("ZT1000001", "arrive", HUB, D + 2 * DAY),
        scan("ZT1000001", "dispatch", HUB2, D + 3 * DAY),
    ]
    out = status_of(rows, D + 30 * DAY, policy)
    assert (out["a_time"], out["a_site"], out["a_scan_type"]) == (D + 2 * DAY, HUB, "arrive")
    assert out["status"] == "eligible"


def test_a_hub_scan_before_the_departure_is_not_the_arrival(policy: Policy) -> None:
    rows = [
        scan("ZT1000001", "arrive", HUB, D - DAY),
        scan("ZT1000001", "depart", CENTER, D),
        scan("ZT1000001", "arrive", HUB2, D + 9 * DAY),
    ]
    out = status_of(rows, D + 30 * DAY, policy)
    assert (out["a_site"], out["reason"]) == (HUB2, "late_hub_arrival")


def test_arrival_must_be_strictly_after_departure(policy: Policy) -> None:
    rows = [scan("ZT1000001", "depart", CENTER, D), scan("ZT1000001", "arrive", HUB, D)]
    out = status_of(rows, D + 30 * DAY, policy)
    assert (out["a_time"], out["reason"]) == (None, "no_hub_arrival")


def test_departure_at_an_inactive_center_does_not_hide_a_later_active_one(policy: Policy) -> None:
    rows = [
        scan("ZT1000001", "depart", LATE_CENTER, cst(2023, 5, 30)),  # not active yet
        scan("ZT1000001", "depart", CENTER, cst(2023, 6, 2)),
        scan("ZT1000001", "arrive", HUB, cst(2023, 6, 3)),
    ]
    out = status_of(rows, cst(2023, 7, 1), policy)
    assert (out["d_site"], out["d_time"], out["status"]) == (CENTER, cst(2023, 6, 2), "eligible")


# -- as_of: later events do not exist ------------------------------------------------------


def test_arrival_after_as_of_does_not_exist_yet(policy: Policy) -> None:
    rows = parcel("ZT1000001", D, 3 * DAY)
    assert status_of(rows, D + 3 * DAY - US, policy)["status"] == "pending"
    assert status_of(rows, D + 3 * DAY, policy)["status"] == "eligible"


def test_departure_after_as_of_does_not_exist_yet(policy: Policy) -> None:
    rows = parcel("ZT1000001", D, DAY)
    assert statuses(rows, D - US, policy) == {}


def test_late_parcel_reads_as_no_arrival_before_its_late_scan(policy: Policy) -> None:
    rows = parcel("ZT1000001", D, 10 * DAY)
    assert status_of(rows, D + 8 * DAY, policy)["reason"] == "no_hub_arrival"
    assert status_of(rows, D + 10 * DAY, policy)["reason"] == "late_hub_arrival"


def test_naive_as_of_is_asia_shanghai(policy: Policy) -> None:
    rows = parcel("ZT1000001", D, None)
    naive = (D + WEEK).replace(tzinfo=None)
    assert status_of(rows, naive, policy)["reason"] == "no_hub_arrival"
    assert status_of(rows, naive - US, policy)["status"] == "pending"


# -- parcels and carriers ------------------------------------------------------------------


def test_same_waybill_of_two_carriers_is_two_parcels(policy: Policy) -> None:
    rows = parcel("AB1000001", D, DAY, carrier="ZTO") + parcel("AB1000001", D, None, carrier="SF")
    out = parcel_statuses(events_frame(rows), sites_frame(), policy, D + 30 * DAY).collect()
    got = {(r["carrier"], r["status"]) for r in out.iter_rows(named=True)}
    assert got == {("ZTO", "eligible"), ("SF", "ineligible")}


# -- rates ---------------------------------------------------------------------------------


def test_rate_change_applies_by_departure_date(policy: Policy) -> None:
    """A rate from 2023-05-15 applies to D from 00:00 Asia/Shanghai that day (16:00Z before)."""
    changed = dataclasses.replace(
        policy, rates=(Rate(date(2021, 8, 30), 20), Rate(date(2023, 5, 15), 15))
    )
    rows = (
        parcel("ZT1000001", cst(2023, 5, 14, 23, 59, 59), DAY)
        + parcel("ZT1000002", utc(2023, 5, 14, 16), DAY)
        + parcel("ZT1000003", cst(2023, 5, 20), DAY)
    )
    out = statuses(rows, cst(2023, 7, 1), changed)
    assert {w: (r["rate_fen"], r["subsidy_fen"]) for w, r in out.items()} == {
        "ZT1000001": (20, 20),
        "ZT1000002": (15, 15),
        "ZT1000003": (15, 15),
    }


def test_result_does_not_depend_on_row_order(policy: Policy) -> None:
    rows = [
        scan("ZT1000001", "depart", CENTER, D),
        scan("ZT1000001", "arrive", HUB2, D + DAY),
        scan("ZT1000001", "sign", HUB, D + DAY),
    ]
    forward = status_of(rows, D + WEEK, policy)
    backward = status_of(rows[::-1], D + WEEK, policy)
    assert forward == backward
    assert (forward["a_site"], forward["a_scan_type"]) == (HUB, "sign")

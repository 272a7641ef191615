"""The monthly report (SPEC §6, §8): per carrier, in integer fen, from the stored events."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from core.policy import Policy, Rate
from core.store import Store
from subsidy.report import monthly_report, rates_in_month
from tests.factories import (
    CENTER,
    DAY,
    OTHER,
    cst,
    ingest_rows,
    parcel,
    report,
    scan,
    utc,
)

AS_OF = cst(2023, 6, 5)

SPEC_KEYS = {"month", "as_of", "carriers", "totals", "center_awards"}
SPEC_CARRIER_KEYS = {
    "carrier",
    "eligible_parcels",
    "rate_fen",
    "subsidy_fen",
    "subsidy_yuan",
    "pending_parcels",
    "ineligible",
}
SPEC_TOTAL_KEYS = {"eligible_parcels", "subsidy_fen", "subsidy_yuan", "pending_parcels"}
REASONS = {"no_hub_arrival", "late_hub_arrival", "outside_policy_window"}


def may_2023() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ZTO: 3 eligible, 1 pending, 1 no arrival, 1 late in May, 1 in June, 1 out of scope.
    SF: 2 eligible in May.
    """
    zto = (
        parcel("ZT7000000001", cst(2023, 5, 1, 9), DAY)
        + parcel("ZT7000000002", cst(2023, 5, 2, 9), 3 * DAY, arrival_type="sign")
        + parcel("ZT7000000003", cst(2023, 5, 3, 9), 7 * DAY)  # exactly 7 days: eligible
        + parcel("ZT7000000004", cst(2023, 5, 31, 20), None)  # pending as of 06-05
        + parcel("ZT7000000005", cst(2023, 5, 4, 9), None)  # no hub arrival
        + parcel("ZT7000000006", cst(2023, 5, 5, 9), 8 * DAY)  # late
        + parcel("ZT7000000007", utc(2023, 5, 31, 16, 30), DAY)  # June in Jiyang
        + [scan("ZT7000000008", "pickup", OTHER, cst(2023, 5, 6))]  # out of scope
    )
    sf = parcel("SF7000000001", cst(2023, 5, 10, 9), DAY) + parcel(
        "SF7000000002", cst(2023, 5, 11, 9), 2 * DAY
    )
    return zto, sf


def _doc(store: Store, policy: Policy, month: str, as_of: datetime, **kw: Any) -> dict[str, Any]:
    """The report as its JSON document (what the API and the CLI answer)."""
    return monthly_report(store, policy, month, as_of, **kw).model_dump(mode="json")


@pytest.fixture
def loaded(store: Store) -> Store:
    zto, sf = may_2023()
    ingest_rows(store, zto, name="zto.parquet", carrier="ZTO")
    ingest_rows(store, sf, name="sf.parquet", carrier="SF")
    return store


def test_report_has_the_spec_shape_and_figures(loaded: Store, policy: Policy) -> None:
    rep = _doc(loaded, policy, "2023-05", AS_OF)
    assert set(rep) == SPEC_KEYS | {"policy", "program_total_fen", "program_total_yuan"} | {
        "prior_period_adjustments",
        "adjustments_total",
        "closed",
    }
    assert rep["month"] == "2023-05"
    assert rep["as_of"] == "2023-06-05T00:00:00+08:00"
    extras = {"carrier_name", "rates_fen"}
    assert [set(c) for c in rep["carriers"]] == [SPEC_CARRIER_KEYS | extras] * 2
    assert set(rep["totals"]) >= SPEC_TOTAL_KEYS
    assert rep["carriers"] == [
        {
            "carrier": "SF",
            "carrier_name": "顺丰",
            "eligible_parcels": 2,
            "rate_fen": 20,
            "rates_fen": [20],
            "subsidy_fen": 40,
            "subsidy_yuan": "0.40",
            "pending_parcels": 0,
            "ineligible": {"no_hub_arrival": 0, "late_hub_arrival": 0, "outside_policy_window": 0},
        },
        {
            "carrier": "ZTO",
            "carrier_name": "中通",
            "eligible_parcels": 3,
            "rate_fen": 20,
            "rates_fen": [20],
            "subsidy_fen": 60,
            "subsidy_yuan": "0.60",
            "pending_parcels": 1,
            "ineligible": {"no_hub_arrival": 1, "late_hub_arrival": 1, "outside_policy_window": 0},
        },
    ]
    assert rep["totals"] == {
        "eligible_parcels": 5,
        "subsidy_fen": 100,
        "subsidy_yuan": "1.00",
        "pending_parcels": 1,
        "ineligible": {"no_hub_arrival": 1, "late_hub_arrival": 1, "outside_policy_window": 0},
    }
    assert rep["center_awards"] == []
    assert (rep["program_total_fen"], rep["program_total_yuan"]) == (100, "1.00")


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [kv for i, v in enumerate(value) for kv in _walk(v, f"{path}[{i}]")]
    return [(path, value)]


def test_no_float_anywhere_and_money_is_int_fen(loaded: Store, policy: Policy) -> None:
    rep = _doc(loaded, policy, "2023-05", AS_OF)
    leaves = _walk(rep)
    assert not [p for p, v in leaves if isinstance(v, float)]
    fen = [(p, v) for p, v in leaves if p.endswith("_fen") or "_fen[" in p]
    # rate, rates, subsidy per carrier; total subsidy; program total; adjustments total
    assert len(fen) == 9
    assert all(type(v) is int for _, v in fen), fen
    assert all(type(v) is str for p, v in leaves if p.endswith("_yuan"))


def test_departure_late_on_may_31_utc_is_in_the_june_report(loaded: Store, policy: Policy) -> None:
    june = _doc(loaded, policy, "2023-06", cst(2023, 7, 1))
    assert [(c["carrier"], c["eligible_parcels"]) for c in june["carriers"]] == [("ZTO", 1)]
    may = _doc(loaded, policy, "2023-05", cst(2023, 7, 1))
    assert may["totals"]["eligible_parcels"] == 5
    assert may["carriers"][1]["ineligible"]["no_hub_arrival"] == 2  # pending ran out by July


def test_as_of_decides_what_exists(loaded: Store, policy: Policy) -> None:
    early = _doc(loaded, policy, "2023-05", cst(2023, 5, 3, 9))
    (zto,) = early["carriers"]
    # as of 05-03 09:00: parcel 1 arrived (eligible), parcels 2 and 3 are on their way
    assert (zto["eligible_parcels"], zto["pending_parcels"]) == (1, 2)


def test_carrier_filter_keeps_only_that_row(loaded: Store, policy: Policy) -> None:
    rep = _doc(loaded, policy, "2023-05", AS_OF, carrier="SF")
    assert [c["carrier"] for c in rep["carriers"]] == ["SF"]
    assert rep["totals"]["subsidy_fen"] == 40


def test_month_without_parcels_is_empty(loaded: Store, policy: Policy) -> None:
    rep = _doc(loaded, policy, "2023-04", AS_OF)
    assert rep["carriers"] == []
    assert rep["totals"]["subsidy_fen"] == 0
    assert rep["totals"]["subsidy_yuan"] == "0.00"


def test_policy_window_edge_month(store: Store, policy: Policy) -> None:
    rows = parcel("ZT7000000001", cst(2021, 8, 29, 23, 59, 59), DAY) + parcel(
        "ZT7000000002", cst(2021, 8, 30), DAY
    )
    ingest_rows(store, rows)
    (zto,) = _doc(store, policy, "2021-08", cst(2021, 10, 1))["carriers"]
    assert (zto["eligible_parcels"], zto["subsidy_fen"]) == (1, 20)
    assert zto["ineligible"]["outside_policy_window"] == 1
    assert zto["rates_fen"] == [20]


def test_rate_change_mid_month(store: Store, policy: Policy) -> None:
    changed = dataclasses.replace(
        policy, rates=(Rate(date(2021, 8, 30), 20), Rate(date(2023, 5, 15), 15))
    )
    rows = parcel("ZT7000000001", cst(2023, 5, 14, 23), DAY) + parcel(
        "ZT7000000002", cst(2023, 5, 15, 1), DAY
    )
    ingest_rows(store, rows)
    (zto,) = _doc(store, changed, "2023-05", cst(2023, 7, 1))["carriers"]
    assert (zto["rate_fen"], zto["rates_fen"], zto["subsidy_fen"]) == (None, [20, 15], 35)
    assert zto["subsidy_yuan"] == "0.35"


@pytest.mark.parametrize(
    "time_type",
    [
        pytest.param(pa.timestamp("us"), id="naive-times-in-the-file"),
        pytest.param(pa.timestamp("ms", tz="UTC"), id="utc-times-in-the-file"),
    ],
)
def test_policy_window_edges_from_uploaded_times(
    store: Store, policy: Policy, time_type: pa.DataType
) -> None:
    """Naive file times are Asia/Shanghai; UTC ones are converted; the end is exclusive."""
    rows = (
        parcel("ZT7000000001", cst(2021, 8, 30), DAY)  # first instant: in
        + parcel("ZT7000000002", utc(2021, 8, 29, 15, 59, 59), DAY)  # 23:59:59 CST: out
        + parcel("ZT7000000003", cst(2024, 8, 29, 23, 59, 59), DAY)  # last second: in
        + parcel("ZT7000000004", cst(2024, 8, 30), DAY)  # end, exclusive: out
    )
    ingest_rows(store, rows, time_type=time_type)
    as_of = cst(2024, 10, 1)
    got = {
        month: [
            (c["carrier"], c["eligible_parcels"], c["ineligible"]["outside_policy_window"])
            for c in _doc(store, policy, month, as_of)["carriers"]
        ]
        for month in ("2021-08", "2024-08")
    }
    assert got == {"2021-08": [("ZTO", 1, 1)], "2024-08": [("ZTO", 1, 1)]}


@pytest.mark.parametrize(
    ("month", "rates"),
    [
        pytest.param("2021-07", [], id="before-window"),
        pytest.param("2021-08", [20], id="window-starts-on-the-30th"),
        pytest.param("2024-08", [20], id="window-ends-on-the-30th"),
        pytest.param("2024-09", [], id="after-window"),
    ],
)
def test_rates_in_month(policy: Policy, month: str, rates: list[int]) -> None:
    assert rates_in_month(policy, month) == rates


def test_center_award_is_listed_and_counted_once_in_its_accreditation_month(
    loaded: Store, policy: Policy
) -> None:
    with loaded.transaction() as db:
        db.execute(
            "INSERT INTO center_awards (site_code, accredited_on, document_no, award_fen, status,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (CENTER, "2022-01-10", "济阳商务〔2022〕1号", 50_000_000, "approved", "x", "x"),
        )
    rep = _doc(loaded, policy, "2023-05", AS_OF)
    assert rep["center_awards"] == [
        {
            "site_code": CENTER,
            "site_name": "济阳区级配送中心",
            "accredited_on": "2022-01-10",
            "document_no": "济阳商务〔2022〕1号",
            "award_fen": 50_000_000,
            "status": "approved",
            "award_yuan": "500000.00",
            "counted_in": "2022-01",
            "counted": False,
            "prior_period": False,
        }
    ]
    # accredited in 2022-01: listed as accredited earlier, counted only in 2022-01 (SPEC §7)
    assert (rep["program_total_fen"], rep["program_total_yuan"]) == (100, "1.00")
    january = _doc(loaded, policy, "2022-01", AS_OF)
    assert [a["counted"] for a in january["center_awards"]] == [True]
    assert january["program_total_fen"] == 50_000_000 + january["totals"]["subsidy_fen"]


@pytest.mark.parametrize("month", ["2023-5", "2023-13", "May 2023", ""])
def test_bad_month_is_refused(store: Store, policy: Policy, month: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        monthly_report(store, policy, month, AS_OF)


def test_report_is_reproducible(loaded: Store, policy: Policy) -> None:
    assert report(loaded, "2023-05", AS_OF, policy) == report(loaded, "2023-05", AS_OF, policy)

"""The fast path of the flags (a stored result set's rows, and only the scans two codes need)
gives exactly the flags of :func:`subsidy.anomalies.compute_flags` over every event, for
scans that reach across months: a waybill reused or claimed by another carrier months apart,
an arrival months after its departure in a burst, a hub-day spike with its history in the
month before; and after further uploads (the result set's delta parts)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.policy import Policy
from core.store import Store
from subsidy import anomalies
from subsidy.results import current
from subsidy.sites import load_sites
from tests.factories import CENTER, HUB2, cst, ingest_rows, make_store, parcel, scan

MONTHS = ("2023-04", "2023-05", "2023-06", "2023-07", "2023-08")
AS_OF = cst(2023, 9, 20)


def reference(store: Store, policy: Policy, month: str, as_of: datetime) -> Any:
    return anomalies.compute_flags(
        store.scan_events(), load_sites(store).lazy(), policy, as_of, month
    )


def same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    cols = sorted(a.columns)
    return (
        a.select(cols)
        .sort(cols, nulls_last=True)
        .equals(b.select(cols).sort(cols, nulls_last=True))
    )


def upload(store: Store, rows: list[dict[str, Any]], name: str) -> None:
    for carrier in sorted({r.get("carrier") or "ZTO" for r in rows}):
        mine = [
            {k: v for k, v in r.items() if k != "carrier"}
            for r in rows
            if (r.get("carrier") or "ZTO") == carrier
        ]
        ingest_rows(store, mine, name=f"{name}-{carrier}.parquet", carrier=carrier)


def spanning_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # cross_carrier with the other carrier's D two months before / after
    rows += parcel("WAYB-X1", cst(2023, 6, 3, 9), carrier="ZTO")
    rows += parcel("WAYB-X1", cst(2023, 4, 3, 9), carrier="YTO")
    rows += parcel("WAYB-X2", cst(2023, 6, 4, 9), carrier="ZTO")
    rows += parcel("WAYB-X2", cst(2023, 8, 4, 9), carrier="YTO")
    # reused two months later; just under 30 days in the month; D in May, again in June
    rows += [
        *parcel("WAYB-R1", cst(2023, 6, 5, 9)),
        scan("WAYB-R1", "depart", CENTER, cst(2023, 8, 20)),
    ]
    rows += [
        *parcel("WAYB-R2", cst(2023, 6, 1, 0, 10)),
        scan("WAYB-R2", "depart", CENTER, cst(2023, 6, 30)),
    ]
    rows += [
        *parcel("WAYB-R3", cst(2023, 5, 20, 9)),
        scan("WAYB-R3", "depart", CENTER, cst(2023, 6, 25)),
    ]
    # an arrival two months after D, in a burst of August parcels (late: any status counts)
    minute = cst(2023, 8, 15, 3, 17)
    rows += parcel("WAYB-L1", cst(2023, 6, 10, 9), minute - cst(2023, 6, 10, 9))
    for i in range(60):
        d = cst(2023, 8, 15, 1)
        rows += parcel(f"WAYB-B{i}", d, minute + timedelta(seconds=i % 50) - d, hub=HUB2)
    rows += parcel("WAYB-L2", cst(2023, 6, 11, 9), minute - cst(2023, 6, 11, 9), hub=HUB2)
    # a spike on 3 June at HUB with its history in May
    for back in range(1, 9):
        day = cst(2023, 6, 3, 12) - timedelta(days=back)
        for i in range(6):
            rows += parcel(f"WAYB-H{back}-{i}", day - timedelta(hours=6), timedelta(hours=6))
    for i in range(55):
        rows += parcel(f"WAYB-S{i}", cst(2023, 6, 2, 20), timedelta(hours=6, minutes=i % 30))
    # too fast, off hours, a burst inside the month
    rows += parcel("WAYB-F1", cst(2023, 7, 31, 23, 50), timedelta(minutes=20))
    rows += parcel("WAYB-N1", cst(2023, 6, 30, 20), timedelta(hours=6))
    for i in range(61):
        rows += parcel(f"WAYB-M{i}", cst(2023, 7, 1, 9), timedelta(hours=2), hub=HUB2)
    return rows


def later_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rows += parcel("WAYB-X3", cst(2023, 6, 6, 9), carrier="JD")
    rows += parcel("WAYB-X3", cst(2023, 7, 6, 9), carrier="ZTO")
    rows += [scan("WAYB-R2", "depart", CENTER, cst(2023, 7, 20))]  # now reused
    rows += [scan("WAYB-R3", "depart", CENTER, cst(2023, 4, 20))]  # D moves to April
    for i in range(3):
        rows += parcel(f"WAYB-S{55 + i}", cst(2023, 6, 2, 21), timedelta(hours=5))
    rows += parcel(
        "WAYB-L3", cst(2023, 6, 12, 9), cst(2023, 8, 15, 3, 17, 30) - cst(2023, 6, 12, 9)
    )
    return rows


def check(store: Store, policy: Policy, as_of: datetime) -> None:
    for month in MONTHS:
        fast = anomalies.flags_for_month(store, policy, month, as_of)
        flags, held = reference(store, policy, month, as_of)
        assert same(fast.flags, flags), month
        assert same(fast.held, held), month


def test_fast_path_equals_the_reference(store: Store, policy: Policy) -> None:
    upload(store, spanning_rows(), "first")
    check(store, policy, AS_OF)
    rs = current(store)
    assert rs is not None and rs.store_version == store.version()  # the fast path ran
    codes = set(anomalies.flags_for_month(store, policy, "2023-06", AS_OF).flags["code"])
    assert codes >= {"cross_carrier", "reused_waybill", "burst", "hub_spike", "off_hours"}
    upload(store, later_rows(), "second")
    check(store, policy, AS_OF + timedelta(days=1))
    assert any("delta" in p for p in current(store).parts)  # type: ignore[union-attr]


@pytest.mark.parametrize("month", ["2023-05", "2023-06"])
def test_look_back_before_the_stored_set_uses_the_reference(
    store: Store, policy: Policy, month: str
) -> None:
    upload(store, spanning_rows(), "first")
    anomalies.flags_for_month(store, policy, month, AS_OF)
    earlier = cst(2023, 8, 16)
    fast = anomalies.flags_for_month(store, policy, month, earlier)
    flags, _ = reference(store, policy, month, earlier)
    assert same(fast.flags, flags)


def stored(store: Store, policy: Policy, month: str, now: datetime) -> set[tuple[Any, ...]]:
    return {
        (f["code"], f["carrier"], f["waybill_no"], f["site_code"], f["day"], str(f["detail"]))
        for f in anomalies.list_flags(store, policy, month, now)
    }


def expected(store: Store, policy: Policy, month: str, now: datetime) -> set[tuple[Any, ...]]:
    flags, _ = reference(store, policy, month, now)
    return {
        (
            r["code"],
            r["carrier"],
            r["waybill_no"],
            r["site_code"],
            str(r["day"]),
            str(json.loads(r["detail"])),
        )
        for r in flags.iter_rows(named=True)
    }


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    uploads=st.integers(2, 4),
    by=st.sampled_from(["scan", "parcel", "month"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_flags_after_split_uploads_equal_flags_from_scratch(
    tmp_path_factory: pytest.TempPathFactory, policy: Policy, uploads: int, by: str, seed: int
) -> None:
    """The scenario's scans go to ``uploads`` uploads at random: each scan on its own (a
    parcel's departure and arrival may come apart), each parcel whole, or each month whole
    (so that most uploads leave most months alone); after each upload every month's stored
    flags, carried over or recomputed, equal the flags computed from scratch, and a reviewed
    flag keeps its id and review while it holds."""
    store = make_store(tmp_path_factory.mktemp("split") / "data")
    rng = random.Random(seed)
    batches: list[list[dict[str, Any]]] = [[] for _ in range(uploads)]
    chosen: dict[Any, int] = {}
    for i, row in enumerate(spanning_rows() + later_rows()):
        key = {"scan": i, "parcel": row["waybill_no"], "month": str(row["scan_time"])[:7]}[by]
        batches[chosen.setdefault(key, rng.randrange(uploads))].append(row)
    reviewed: dict[str, Any] | None = None
    for n, batch in enumerate(batches):
        if batch:
            upload(store, batch, f"u{n}")
        for month in MONTHS:
            assert stored(store, policy, month, AS_OF) == expected(store, policy, month, AS_OF), (
                n,
                month,
            )
        june = anomalies.list_flags(store, policy, "2023-06", AS_OF)
        if reviewed is None and june:
            reviewed = anomalies.review_flag(
                store, june[0]["id"], decision="cleared", note=None, actor="t"
            )
        elif reviewed is not None:
            same_flag = [f for f in june if f["id"] == reviewed["id"]]
            assert same_flag == [] or same_flag[0]["status"] == "cleared"


def test_an_upload_elsewhere_carries_a_month_over(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that touches none of May's parcels, waybills, busy hub-minutes or spike days
    leaves May's stored flags as they were, without computing them again."""
    upload(store, spanning_rows(), "first")
    before = {m: stored(store, policy, m, AS_OF) for m in MONTHS}
    calls: list[str] = []
    real = anomalies.flags_for_month

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(anomalies, "flags_for_month", counting)
    upload(store, parcel("WAYB-NEW1", cst(2023, 8, 25, 9), timedelta(minutes=10)), "aug")
    assert stored(store, policy, "2023-05", AS_OF) == before["2023-05"]
    assert stored(store, policy, "2023-06", AS_OF) == before["2023-06"]
    assert "2023-05" not in calls and "2023-06" not in calls
    assert stored(store, policy, "2023-08", AS_OF) == expected(store, policy, "2023-08", AS_OF)
    assert "2023-08" in calls
    # May parcels that raise the look-back of June's spike: June's rows are untouched, yet
    # its hub_spike flag goes
    assert "hub_spike" in {f[0] for f in before["2023-06"]}
    busy_may: list[dict[str, Any]] = []
    for day in range(26, 32):
        for i in range(40):
            busy_may += parcel(f"WAYB-Q{day}-{i}", cst(2023, 5, day, 6), timedelta(hours=6))
    upload(store, busy_may, "history")
    june = stored(store, policy, "2023-06", AS_OF)
    assert june == expected(store, policy, "2023-06", AS_OF)
    assert "hub_spike" not in {f[0] for f in june}
    # a departure of a June parcel two months later: June recomputed (reused)
    calls.clear()
    upload(store, [scan("WAYB-R2", "depart", CENTER, cst(2023, 8, 30))], "again")
    assert stored(store, policy, "2023-06", AS_OF) == expected(store, policy, "2023-06", AS_OF)
    assert "2023-06" in calls
    # an earlier departure moves a flagged May parcel to April: its May flag goes
    upload(store, [scan("WAYB-R3", "depart", CENTER, cst(2023, 4, 20))], "earlier")
    may = stored(store, policy, "2023-05", AS_OF)
    assert may == expected(store, policy, "2023-05", AS_OF)
    assert ("reused_waybill", "ZTO", "WAYB-R3") in {f[:3] for f in before["2023-05"]}
    assert ("reused_waybill", "ZTO", "WAYB-R3") not in {f[:3] for f in may}

"""Property: how scans reach the store never changes a report.

For a small generated set of scan rows (a few parcels, the fixed test sites), shuffling the
rows, splitting them into several uploads, or uploading them twice gives the same report
(carriers and totals) as one clean upload of the rows in order.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.policy import load_policy
from ingest.uploads import ingest_file
from tests.factories import (
    CENTER,
    HUB,
    HUB2,
    NOW,
    OTHER,
    SHORT_HUB,
    UNKNOWN,
    cst,
    make_store,
    report,
    report_core,
    scan,
    write_csv,
    write_parquet,
)

POLICY = load_policy()
BASE = cst(2023, 5, 25)  # scans spread over ~2 weeks: May and June, some late, some pending
AS_OF = cst(2023, 6, 6, 12)
MONTHS = ("2023-05", "2023-06")
SITE_FOR = {
    "pickup": [OTHER, UNKNOWN],
    "depart": [CENTER, CENTER, OTHER],
    "arrive": [HUB, HUB2, SHORT_HUB, UNKNOWN],
    "dispatch": [HUB, HUB2],
    "sign": [HUB, HUB2, OTHER],
    "exception": [HUB],
}


@st.composite
def scan_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few parcels' scans, repeated rows included (exports overlap)."""
    rows: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 4))):
        waybill = f"ZT70000000{n:02d}"
        for _ in range(draw(st.integers(1, 5))):
            scan_type = draw(st.sampled_from(list(SITE_FOR)))
            site = draw(st.sampled_from(SITE_FOR[scan_type]))
            # 90-minute steps over 14 days: coarse, so ties at one instant happen, as in real logs
            at = BASE + timedelta(minutes=90 * draw(st.integers(0, 14 * 24 * 60 // 90)))
            rows.append(scan(waybill, scan_type, site, at))
    repeats = draw(st.lists(st.sampled_from(rows), max_size=3))
    return rows + repeats


def _reports(store: Any) -> str:
    return "\n".join(report_core(report(store, m, AS_OF, POLICY)) for m in MONTHS)


def _ingest(store: Any, path: Path) -> Any:
    return ingest_file(store, path, POLICY, carrier="ZTO", now=NOW)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rows=scan_rows(),
    data=st.data(),
)
def test_order_splitting_and_repeats_never_change_the_report(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(rows))), label="order")
    parts = data.draw(
        st.lists(st.integers(0, 3), min_size=len(rows), max_size=len(rows)), label="upload of row"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        # one clean upload of the rows as given
        clean = make_store(root / "clean")
        whole = write_parquet(root / "whole.parquet", rows)
        _ingest(clean, whole)
        expected = _reports(clean)

        # the same bytes again: nothing changes
        assert _ingest(clean, whole).duplicate is True
        assert _reports(clean) == expected

        # shuffled, then split into up to four uploads, in that order
        split = make_store(root / "split")
        shuffled = [rows[i] for i in order]
        for k in sorted(set(parts)):
            chunk = [r for r, p in zip(shuffled, parts, strict=True) if p == k]
            _ingest(split, write_parquet(root / f"part{k}.parquet", chunk))
        assert _reports(split) == expected

        # everything once more, as other bytes (CSV): every row is a duplicate
        again = _ingest(split, write_csv(root / "whole.csv", shuffled))
        assert (again.duplicate, again.accepted, again.duplicates) == (False, 0, len(rows))
        assert _reports(split) == expected


def test_the_property_sees_real_statuses() -> None:
    """Guard against a vacuous property: a hand-made set yields every status."""
    rows = [
        scan("ZT7000000001", "depart", CENTER, BASE),
        scan("ZT7000000001", "arrive", HUB, BASE + timedelta(days=1)),
        scan("ZT7000000002", "depart", CENTER, BASE),
        scan("ZT7000000002", "sign", HUB2, BASE + timedelta(days=9)),
        scan("ZT7000000003", "depart", CENTER, BASE),
        scan("ZT7000000004", "depart", CENTER, AS_OF - timedelta(days=1)),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp) / "data")
        _ingest(store, write_parquet(Path(tmp) / "x.parquet", rows))
        may, june = (report(store, m, AS_OF, POLICY)["totals"] for m in MONTHS)
    assert (may["eligible_parcels"], may["pending_parcels"]) == (1, 0)
    assert may["ineligible"] == {
        "no_hub_arrival": 1,
        "late_hub_arrival": 1,
        "outside_policy_window": 0,
    }
    assert (june["eligible_parcels"], june["pending_parcels"]) == (0, 1)

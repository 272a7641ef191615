"""Materialised results (subsidy.results, subsidy.refresh): an incremental refresh equals a
full rebuild.

The store is a small generated one (ingest.synthetic); on top of it, parcels whose scans
arrive in separate uploads days apart, across a month boundary, out of order, and after the
month of their departure was closed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from core.policy import Policy
from core.store import Store
from ingest.synthetic import generate
from ingest.uploads import ingest_file
from subsidy import closing, counts
from subsidy import refresh as refreshing
from subsidy.closed import frozen_report
from subsidy.counts import compute_counts
from subsidy.refresh import refresh
from subsidy.report import monthly_report
from subsidy.results import ResultSet, current
from subsidy.sites import import_sites
from tests.factories import cst, scan, write_parquet

NOW = cst(2023, 6, 1)  # time of ingestion: every generated scan is plausible
CENTER, HUB, OTHER = "JY-DC-01", "JY-VH-JY01", "JN-SC-01"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, 3_000, seed=5, layout="month", start=date(2023, 1, 1), months=2)
    return out


def _store(tmp_path: Path, generated: Path, policy: Policy, months: tuple[str, ...]) -> Store:
    store = Store(tmp_path / "data").init()
    import_sites(store, generated / "sites.csv")
    for path in sorted((generated / "scans").glob("*/*.parquet")):
        if path.stem.endswith(months):
            ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
    return store


def _upload(store: Store, name: str, rows: list[dict[str, object]], policy: Policy) -> None:
    path = write_parquet(store.root.parent / name, rows)
    up = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert up.status == "ingested"


def _assert_refresh_equals_rebuild(store: Store, policy: Policy, as_of: datetime) -> None:
    rs = refresh(store, policy, as_of)
    assert rs.store_version == store.version()
    assert_frame_equal(rs.counts, compute_counts(store, policy, as_of))
    for month in ("2023-01", "2023-02"):
        served = monthly_report(store, policy, month, as_of)
        assert [r.eligible_parcels for r in served.carriers] == [
            r["eligible_parcels"]
            for r in compute_counts(store, policy, as_of, months=[month]).to_dicts()
        ]


def test_split_uploads_across_days_and_month_boundary_equal_full_rebuild(
    tmp_path: Path, generated: Path, policy: Policy
) -> None:
    """Scans of one parcel in uploads days apart (and out of order) refresh to the rebuild."""
    store = _store(tmp_path, generated, policy, ("2023-01",))
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 1, 31, 12))
    first = refresh(store, policy, cst(2023, 1, 31, 12))
    # day 1: P1 leaves the center on Jan 31 (January's parcel), P2 is seen at a hub only,
    # P3 leaves the center late on Jan 31
    _upload(
        store,
        "day1.parquet",
        [
            scan("ZT99000001", "pickup", OTHER, cst(2023, 1, 31, 9)),
            scan("ZT99000001", "depart", CENTER, cst(2023, 1, 31, 20)),
            scan("ZT99000002", "arrive", HUB, cst(2023, 2, 1, 9)),
            scan("ZT99000003", "depart", CENTER, cst(2023, 1, 31, 22)),
            scan("ZT99000003", "arrive", HUB, cst(2023, 2, 9, 8)),  # late after Jan 31 22:00
        ],
        policy,
    )
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 2, 1, 12))
    # three days later: P1 reaches the hub in February, P2's (earlier) departure shows up,
    # P3 turns out to have left the center earlier (a new, earlier D: on time now? no: late)
    _upload(
        store,
        "day4.parquet",
        [
            scan("ZT99000001", "arrive", HUB, cst(2023, 2, 3, 8)),
            scan("ZT99000002", "depart", CENTER, cst(2023, 1, 31, 23)),
            scan("ZT99000003", "depart", CENTER, cst(2023, 1, 30, 7)),
            scan("ZT99000003", "dispatch", HUB, cst(2023, 1, 30, 9)),  # the arrival it needed
        ],
        policy,
    )
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 2, 4))
    # the generated February arrives as a whole month later
    for path in sorted((generated / "scans").glob("*/*-2023-02.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 3, 1))
    last = current(store)
    assert last is not None and last.seq > first.seq and len(last.parts) > len(first.parts)


def test_time_passing_turns_pending_into_no_arrival_as_a_rebuild_does(
    tmp_path: Path, generated: Path, policy: Policy
) -> None:
    """No upload, later as_of: pending parcels past max_transit refresh like a rebuild."""
    store = _store(tmp_path, generated, policy, ("2023-01", "2023-02"))
    rs = refresh(store, policy, cst(2023, 2, 27))
    assert rs.counts["pending_parcels"].sum() > 0
    assert rs.valid_until is not None
    _assert_refresh_equals_rebuild(store, policy, rs.valid_until)
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 3, 10))
    assert current(store).counts["pending_parcels"].sum() == 0  # type: ignore[union-attr]


def test_a_look_back_is_computed_without_replacing_the_stored_set(
    tmp_path: Path, generated: Path, policy: Policy
) -> None:
    """An as_of earlier than the stored set's is answered exactly and leaves the set alone."""
    store = _store(tmp_path, generated, policy, ("2023-01",))
    rs = refresh(store, policy, cst(2023, 2, 10))
    back = cst(2023, 1, 20)
    report = monthly_report(store, policy, "2023-01", back)
    expected = compute_counts(store, policy, back, months=["2023-01"])
    assert [r.pending_parcels for r in report.carriers] == expected["pending_parcels"].to_list()
    assert current(store).seq == rs.seq  # type: ignore[union-attr]


def test_late_scans_for_a_closed_month_refresh_like_a_rebuild_and_leave_it_frozen(
    tmp_path: Path, generated: Path, policy: Policy
) -> None:
    """After January is closed, late scans of January's parcels: the live figures (which the
    prior-period adjustments compare with the frozen ones) equal a rebuild; the closed report
    is served byte for byte as frozen."""
    store = _store(tmp_path, generated, policy, ("2023-01",))
    _upload(
        store, "jan31.parquet", [scan("ZT99000011", "depart", CENTER, cst(2023, 1, 31, 8))], policy
    )
    refresh(store, policy, cst(2023, 2, 2))
    closing.close_month(store, policy, "2023-01", actor="test", now=cst(2023, 2, 2))
    frozen = frozen_report(store, "2023-01")
    _upload(store, "late.parquet", [scan("ZT99000011", "sign", HUB, cst(2023, 2, 5))], policy)
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 2, 6))
    assert frozen_report(store, "2023-01") == frozen
    zto = compute_counts(store, policy, cst(2023, 2, 6), months=["2023-01"]).filter(
        pl.col("carrier") == "ZTO"
    )
    assert zto["eligible_parcels"].item() >= 1


def test_a_changed_sites_registry_rebuilds(tmp_path: Path, generated: Path, policy: Policy) -> None:
    """The stored set depends on the registry: a new registry is never served stale figures."""
    store = _store(tmp_path, generated, policy, ("2023-01",))
    before = refresh(store, policy, cst(2023, 2, 10))
    registry = pl.read_csv(generated / "sites.csv", infer_schema=False).filter(
        pl.col("site_code") != HUB
    )
    path = tmp_path / "sites-without-hub.csv"
    registry.write_csv(path)
    import_sites(store, path)
    served = monthly_report(store, policy, "2023-01", cst(2023, 2, 10) + timedelta(hours=1))
    expected = compute_counts(store, policy, cst(2023, 2, 10), months=["2023-01"])
    assert [r.eligible_parcels for r in served.carriers] == expected["eligible_parcels"].to_list()
    assert current(store).seq > before.seq  # type: ignore[union-attr]


def test_sharding_a_carrier_by_parcel_changes_no_figure(
    tmp_path: Path, generated: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into shards of a few hundred events (every carrier into several), the rule gives
    the same counts, the same stored per-parcel statuses, and each parcel once."""
    store = _store(tmp_path, generated, policy, ("2023-01", "2023-02"))
    as_of = cst(2023, 3, 1)

    def statuses(rs: ResultSet) -> pl.DataFrame:
        parts = pl.scan_parquet([store.root / p for p in rs.parts]).collect()
        return parts.sort("carrier", "waybill_no")

    whole = compute_counts(store, policy, as_of)
    unsharded = statuses(refreshing.rebuild(store, policy, as_of))
    monkeypatch.setattr(counts, "SHARD_EVENTS", 500)
    assert min(sum(1 for _ in counts.carrier_shards(store, only=c)) for c in ("ZTO", "YTO")) > 3
    assert_frame_equal(compute_counts(store, policy, as_of), whole)
    sharded = refreshing.rebuild(store, policy, as_of)
    assert_frame_equal(sharded.counts, whole)
    assert_frame_equal(statuses(sharded), unsharded)


def test_many_shards_still_refresh_incrementally(
    tmp_path: Path, generated: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store cut into more shards than refreshing.MAX_DELTAS still refreshes by adding one
    delta part after an upload (only refresh deltas count toward a rebuild)."""
    monkeypatch.setattr(counts, "SHARD_EVENTS", 100)
    store = _store(tmp_path, generated, policy, ("2023-01",))
    base = refreshing.rebuild(store, policy, cst(2023, 1, 31, 12))
    assert len(base.parts) > refreshing.MAX_DELTAS
    _upload(
        store, "day1.parquet", [scan("ZT99000001", "depart", CENTER, cst(2023, 1, 31, 20))], policy
    )
    published = current(store)  # the ingest published: one delta part on the base
    assert published is not None and published.store_version == store.version()
    assert published.parts[:-1] == base.parts
    assert Path(published.parts[-1]).name == refreshing.DELTA_NAME
    _assert_refresh_equals_rebuild(store, policy, cst(2023, 2, 1, 12))
    after = current(store)
    assert after is not None and after.parts[:-1] == published.parts

"""Publishing the figures on the writer's side (subsidy.refresh.publish, run after each
ingest's commit): readers are served the published set and never wait for a publication.

- during a publication (held open here), a report gives the previous figures at once;
- once it is published, a report equals a full rebuild;
- a process killed in the middle of publishing leaves the previous set served; the next
  writer (or the upkeep job) publishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from core.policy import Policy
from core.store import Store
from ingest.synthetic import generate
from ingest.uploads import ingest_file
from subsidy import refresh as refreshing
from subsidy import results
from subsidy.counts import compute_counts
from subsidy.report import monthly_report
from subsidy.results import current
from subsidy.sites import import_sites
from tests.factories import cst, scan, write_parquet

ROOT = Path(__file__).resolve().parents[2]
NOW = cst(2023, 6, 1)
AS_OF = cst(2023, 2, 1)
CENTER, HUB = "JY-DC-01", "JY-VH-JY01"
#: Parcels that leave the center on Jan 30 and reach a hub on Jan 31: eligible in January.
LATE_UPLOAD = [
    row
    for i in range(40)
    for row in (
        scan(f"ZT7700{i:04d}", "depart", CENTER, cst(2023, 1, 30, 9)),
        scan(f"ZT7700{i:04d}", "arrive", HUB, cst(2023, 1, 31, 9)),
    )
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, 2_000, seed=11, layout="month", start=date(2023, 1, 1), months=1)
    return out


@pytest.fixture
def store(tmp_path: Path, generated: Path, policy: Policy) -> Store:
    """January ingested, its figures published (the first report builds them)."""
    store = Store(tmp_path / "data").init()
    import_sites(store, generated / "sites.csv")
    for path in sorted((generated / "scans").glob("*/*.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
    monthly_report(store, policy, "2023-01", AS_OF)
    return store


def _eligible(store: Store, policy: Policy) -> dict[str, int]:
    report = monthly_report(store, policy, "2023-01", AS_OF)
    return {r.carrier: r.eligible_parcels for r in report.carriers}


def _rebuilt(store: Store, policy: Policy) -> dict[str, int]:
    counts = compute_counts(store, policy, AS_OF, months=["2023-01"])
    return dict(zip(counts["carrier"], counts["eligible_parcels"], strict=True))


def test_a_report_during_a_publication_gives_the_previous_figures_at_once(
    tmp_path: Path, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, published = _eligible(store, policy), current(store)
    assert published is not None
    entered, release = threading.Event(), threading.Event()
    work = refreshing._refresh_locked

    def held(*args: object, **kwargs: object) -> results.ResultSet:
        entered.set()
        assert release.wait(60)
        return work(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(refreshing, "_refresh_locked", held)
    path = write_parquet(tmp_path / "late.parquet", LATE_UPLOAD)
    writer = threading.Thread(
        target=ingest_file, args=(store, path, policy), kwargs={"carrier": "ZTO", "now": NOW}
    )
    writer.start()
    try:
        assert entered.wait(60), "the ingest never started publishing"
        assert store.version() > published.store_version  # committed, not yet published
        t0 = time.perf_counter()
        during = _eligible(store, policy)
        assert time.perf_counter() - t0 < 5  # served, not waiting for the writer's lock
        assert during == before
        seen = current(store)
        assert seen is not None and seen.seq == published.seq  # its version and as_of
    finally:
        release.set()
        writer.join(60)
    assert not writer.is_alive()
    after = current(store)
    assert after is not None and after.store_version == store.version()
    assert _eligible(store, policy) == _rebuilt(store, policy)
    assert _eligible(store, policy)["ZTO"] == before["ZTO"] + len(LATE_UPLOAD) // 2
    assert_frame_equal(after.counts, compute_counts(store, policy, after.as_of))


def test_readers_serve_time_passing_from_the_published_set_without_the_rule(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later ``as_of``, same version: pending parcels past max_transit become no_hub_arrival,
    derived from the set (the rule does not run, nothing is stored), equal to a rebuild."""
    rs = current(store)
    assert rs is not None and rs.counts["pending_parcels"].sum() > 0
    assert rs.valid_until is not None and rs.scan_after is None

    def no_rule(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a reader ran the rule")

    monkeypatch.setattr(refreshing, "parcel_statuses", no_rule)
    monkeypatch.setattr(refreshing, "compute_counts", no_rule)
    for later in (rs.valid_until, rs.valid_until + (rs.valid_until - rs.as_of), cst(2023, 3, 1)):
        served = refreshing.month_counts(store, policy, ["2023-01"], later)
        monkeypatch.undo()
        assert_frame_equal(served, compute_counts(store, policy, later, months=["2023-01"]))
        monkeypatch.setattr(refreshing, "parcel_statuses", no_rule)
        monkeypatch.setattr(refreshing, "compute_counts", no_rule)
    assert current(store).seq == rs.seq  # type: ignore[union-attr]


CHILD = """
import sys, time
from pathlib import Path
import cli
from subsidy import results

save = results.save
def stalled(store, rs):
    Path(sys.argv[1]).write_text("publishing")  # the new set's files are written
    time.sleep(600)
    save(store, rs)

results.save = stalled
import subsidy.refresh
subsidy.refresh.save = stalled
cli.main(sys.argv[2:])
"""


def test_a_publication_killed_midway_leaves_the_old_figures_and_the_next_writer_publishes(
    tmp_path: Path, store: Store, policy: Policy
) -> None:
    before, published = _eligible(store, policy), current(store)
    assert published is not None
    marker = tmp_path / "publishing"
    path = write_parquet(tmp_path / "late.parquet", LATE_UPLOAD)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(marker), "--data-dir", str(store.root), "ingest",
         str(path), "--carrier", "ZTO"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the publication"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    assert store.version() > published.store_version  # the ingest committed
    stale = current(store)
    assert stale is not None and stale.seq == published.seq
    assert _eligible(store, policy) == before  # the previous figures, still served
    # the next writer publishes: here an ingest with nothing new (a duplicate-only file)
    again = write_parquet(tmp_path / "again.parquet", LATE_UPLOAD[:2])
    assert ingest_file(store, again, policy, carrier="ZTO", now=NOW).status == "ingested"
    fresh = current(store)
    assert fresh is not None and fresh.store_version == store.version()
    assert _eligible(store, policy) == _rebuilt(store, policy) != before
    assert {p.name for p in results.results_dir(store).iterdir() if p.is_dir()} <= {
        Path(p).parts[1] for s in (stale, fresh) for p in (*s.parts, s.pending)
    }


def test_the_upkeep_job_publishes_what_a_killed_publication_left(
    tmp_path: Path, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = current(store)
    assert published is not None

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt  # the process dies mid-publication

    monkeypatch.setattr(refreshing, "save", crash)
    path = write_parquet(tmp_path / "late.parquet", LATE_UPLOAD)
    with pytest.raises(KeyboardInterrupt):
        ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    monkeypatch.undo()
    assert current(store).seq == published.seq  # type: ignore[union-attr]
    assert refreshing.upkeep_publish(store, policy, NOW)
    assert _eligible(store, policy) == _rebuilt(store, policy)
    assert not refreshing.upkeep_publish(store, policy, NOW)  # nothing left to publish


def _count_publications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The publications run from now on, counted (the real publication still runs)."""
    from ingest import uploads

    ran: list[int] = []
    real = list(uploads.AFTER_COMMIT)

    def counted(store: Store, policy: Policy, now: object) -> None:
        ran.append(store.version())
        for hook in real:
            hook(store, policy, now)  # type: ignore[arg-type]  # now is the caller's datetime

    monkeypatch.setattr(uploads, "AFTER_COMMIT", [counted])
    return ran


def test_a_cli_call_with_several_files_publishes_once_after_the_last_commit(
    tmp_path: Path, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine next-day files in one ``ingest`` call: one publication, of the last version, and
    the served figures equal a full rebuild (an inbox pass and the ingest job batch alike)."""
    import cli

    ran = _count_publications(monkeypatch)
    files = []
    for i in range(3):
        rows = LATE_UPLOAD[i * 20 : (i + 1) * 20]
        files.append(str(write_parquet(tmp_path / f"late-{i}.parquet", rows)))
    assert cli.main(["--data-dir", str(store.root), "ingest", "--carrier", "ZTO", *files]) == 0
    assert ran == [store.version()]
    assert _eligible(store, policy) == _rebuilt(store, policy)


def test_a_batch_ended_by_an_error_still_publishes_what_it_committed(
    tmp_path: Path, store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.uploads import one_publication

    ran = _count_publications(monkeypatch)
    late = write_parquet(tmp_path / "late.parquet", LATE_UPLOAD)
    with pytest.raises(RuntimeError), one_publication(store, policy, NOW):
        with one_publication(store, policy, NOW):  # nested: the outer batch publishes
            ingest_file(store, late, policy, carrier="ZTO", now=NOW)
        assert ran == []
        raise RuntimeError("the batch stops here")
    assert ran == [store.version()]
    assert _eligible(store, policy) == _rebuilt(store, policy)
    again = write_parquet(tmp_path / "again.parquet", LATE_UPLOAD[:2])
    ingest_file(store, again, policy, carrier="ZTO", now=NOW)
    assert len(ran) == 2  # outside a batch, each ingest publishes on its own

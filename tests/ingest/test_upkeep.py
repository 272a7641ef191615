"""Store upkeep: crash debris and stale scratch files go; anything live or recent stays."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from core.policy import Policy
from core.store import Store
from ingest import upkeep
from ingest.stream import STORED_ORDER
from ingest.upkeep import RETIRED_GRACE, clean_store, compact_store
from ingest.uploads import get_upload, register_upload
from subsidy.closing import close_month
from tests.factories import (
    NOW,
    cst,
    ingest_rows,
    parcel,
    report,
    store_state,
    stored_events,
    write_parquet,
)


def aged(path: Path, age: timedelta) -> Path:
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_stale_scratch_files_go_and_recent_ones_stay(store: Store) -> None:
    old_dir = store.tmp_dir / "ingest-7"
    old_dir.mkdir()
    (old_dir / "transcoded.csv").write_text("x")
    aged(old_dir, timedelta(days=2))
    old_file = store.tmp_dir / "upload-abc"
    old_file.write_text("x")
    aged(old_file, timedelta(hours=25))
    recent = store.tmp_dir / "upload-in-flight"
    recent.write_text("x")
    aged(recent, timedelta(hours=23))
    part = store.files_dir / "ab" / ".abcdef.123.part"
    part.parent.mkdir(parents=True)
    part.write_text("x")
    aged(part, timedelta(days=3))

    result = clean_store(store, now=NOW)

    assert sorted(result["stale_tmp"]) == [
        "files/ab/.abcdef.123.part",
        "tmp/ingest-7",
        "tmp/upload-abc",
    ]
    assert not old_dir.exists() and not old_file.exists() and not part.exists()
    assert recent.exists()


def test_unlisted_event_files_go_and_committed_ones_stay(store: Store) -> None:
    ingest_rows(store, parcel("ZT7000000001", cst(2023, 5, 3, 10)))
    (committed,) = store.event_files()
    debris = committed.with_name("u00000099.parquet")
    debris.write_bytes(committed.read_bytes())

    result = clean_store(store, now=NOW)

    assert result["unlisted_event_files"] == [str(debris.relative_to(store.root))]
    assert committed.exists() and not debris.exists()


def test_upload_left_ingesting_goes_back_to_received(store: Store, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "a.parquet", parcel("ZT7000000001", cst(2023, 5, 3, 10)))
    upload = register_upload(store, path, carrier="ZTO")
    with store.connect() as db:
        db.execute("UPDATE uploads SET status='ingesting' WHERE id=?", (upload.id,))
    clean_store(store, now=NOW)
    assert get_upload(store, upload.id).status == "received"  # type: ignore[union-attr]


def test_recovery_before_an_ingest_looks_only_at_uploads_left_ingesting(store: Store) -> None:
    """Debris can only belong to an upload left 'ingesting': the recovery an ingest runs
    removes such an upload's unlisted files and leaves any other file to the upkeep sweep.
    """
    ingest_rows(store, parcel("ZT7000000001", cst(2023, 5, 3, 10)))
    (committed,) = store.event_files()
    stray = committed.with_name("u00000099.parquet")  # no upload 99 was ever ingesting
    stray.write_bytes(committed.read_bytes())
    dead = ingest_rows(store, parcel("ZT7000000002", cst(2023, 6, 3, 10))).id
    (june,) = store.event_files(months=["2023-06"])
    with store.connect() as db:  # as if the process died after writing, before committing
        db.execute("DELETE FROM event_files WHERE upload_id=?", (dead,))
        db.execute("UPDATE uploads SET status='ingesting' WHERE id=?", (dead,))

    with store.writer_lock():
        removed = store.recover()

    assert removed == [june] and not june.exists()
    assert stray.exists() and committed.exists()
    assert get_upload(store, dead).status == "received"  # type: ignore[union-attr]
    with store.writer_lock():
        assert store.recover(sweep=True) == [stray]
    assert committed.exists()


def _daily_exports(store: Store, days: int, month: int = 5) -> None:
    """``days`` daily ZTO exports of a 2023 month, each repeating the day before's last scans."""
    for day in range(1, days + 1):
        rows = parcel(f"ZT7{month:02d}00{day:05d}", cst(2023, month, day, 10))
        if day > 1:  # the overlap real exports have
            rows += parcel(f"ZT7{month:02d}00{day - 1:05d}", cst(2023, month, day - 1, 10))[-2:]
        ingest_rows(store, rows, name=f"zto-2023-{month:02d}-{day:02d}.parquet")


def test_compaction_rewrites_a_crowded_partition_as_one_file_with_the_same_events(
    store: Store,
) -> None:
    """Ten daily uploads of May make ten files; compaction leaves one, holding the same events
    (with their upload and row), as a new store version; reports do not change."""
    _daily_exports(store, 10)
    events, may = stored_events(store), report(store, "2023-05", NOW)
    assert len(store.event_files(months=["2023-05"])) == 10
    before = store.version()

    done = compact_store(store, now=NOW)

    assert (done["from_version"], done["to_version"]) == (before, before + 1)
    assert done["compacted"] == [{"carrier": "ZTO", "month": "2023-05", "files": 10, "rows": 30}]
    (compacted,) = store.event_files(months=["2023-05"])
    assert compacted.name == f"c{before + 1:08d}.parquet"
    assert_frame_equal(stored_events(store), events)
    assert report(store, "2023-05", NOW) == may
    assert len(store.event_files(months=["2023-05"], version=before)) == 10  # the old snapshot
    assert done["retired_files_deleted"] == []  # readers may still hold them: not yet
    # the next daily upload de-duplicates against the compacted file
    again = ingest_rows(store, parcel("ZT7050000010", cst(2023, 5, 10, 10)), name="dup.parquet")
    assert (again.accepted, again.duplicates) == (0, 3)


def test_a_large_partition_is_compacted_in_waybill_ranges_in_the_stored_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sorted a waybill range at a time (memory follows the range): one file, every event
    once, in the stored order across the ranges, the same reports."""
    _daily_exports(store, 10)
    events, may = stored_events(store), report(store, "2023-05", NOW)
    monkeypatch.setattr(upkeep, "COMPACT_BUCKET_ROWS", 7)
    done = compact_store(store, now=NOW)
    assert done["compacted"] == [{"carrier": "ZTO", "month": "2023-05", "files": 10, "rows": 30}]
    (compacted,) = store.event_files(months=["2023-05"])
    assert pq.ParquetFile(compacted).metadata.num_row_groups >= 4  # one range or more each
    stored = pl.read_parquet(compacted)
    assert stored.equals(stored.sort(*STORED_ORDER, "upload_id", "row_no"))
    assert_frame_equal(stored_events(store), events)
    assert report(store, "2023-05", NOW) == may


def test_retired_files_go_after_the_grace_period_unless_a_closed_month_needs_them(
    store: Store, policy: Policy
) -> None:
    _daily_exports(store, 9)
    close_month(store, policy, "2023-05", actor="finance", now=NOW)  # pins this snapshot
    pinned = store.version()
    compact_store(store, now=NOW)
    later = compact_store(store, now=NOW + RETIRED_GRACE + timedelta(seconds=1))
    assert later["retired_files_deleted"] == [] and len(store.event_files(version=pinned)) == 9

    _daily_exports(store, 8, month=6)
    june = compact_store(store, now=NOW + timedelta(days=1))
    assert [p["month"] for p in june["compacted"]] == ["2023-06"]
    old = store.event_files(months=["2023-06"], version=june["from_version"])
    late = NOW + timedelta(days=1) + RETIRED_GRACE
    gone = compact_store(store, now=late)["retired_files_deleted"]
    assert sorted(gone) == sorted(str(p.relative_to(store.root)) for p in old)
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in store.event_files())
    assert len(store.event_files(version=pinned)) == 9  # May's snapshot is still whole


def test_a_partition_with_few_files_is_sorted_once_then_left_alone(store: Store) -> None:
    """Uploads' files are not in the stored order (the ingest does not sort): the upkeep
    rewrites their partition once, then leaves its few compacted files alone."""
    _daily_exports(store, 3)
    done = compact_store(store, now=NOW)
    assert [c["files"] for c in done["compacted"]] == [3]
    assert len(store.event_files()) == 1
    again = compact_store(store, now=NOW)
    assert again["from_version"] == again["to_version"] and again["compacted"] == []
    assert len(store.event_files()) == 1


def test_a_crash_during_compaction_leaves_the_store_as_it_was(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _daily_exports(store, 8)
    state = store_state(store)

    def crash(*_args: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(upkeep, "_commit_compaction", crash)
    with pytest.raises(RuntimeError):
        compact_store(store, now=NOW)
    assert store_state(store) == state  # the compacted file written was removed

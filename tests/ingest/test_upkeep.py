"""Store upkeep: crash debris and stale scratch files go; anything live or recent stays."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from ingest.store import Store
from ingest.upkeep import clean_store
from ingest.uploads import get_upload, register_upload
from tests.factories import NOW, cst, ingest_rows, parcel, write_parquet


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

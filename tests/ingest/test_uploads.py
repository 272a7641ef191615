"""Uploads (SPEC §3): identity and duplicates, idempotency by SHA-256, atomic commits."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from core.exceptions import StoreError
from core.policy import Policy
from core.store import Store
from ingest.exceptions import FileRefused, UploadConflict
from ingest.uploads import (
    STEPS,
    Upload,
    get_upload,
    ingest_file,
    ingest_upload,
    register_upload,
    sha256_file,
    stored_file,
)
from tests.factories import (
    CENTER,
    DAY,
    HUB,
    NOW,
    cst,
    ingest_rows,
    make_store,
    parcel,
    scan,
    store_state,
    stored_events,
    utc,
    write_csv,
    write_parquet,
)

D = cst(2023, 5, 10, 9)

#: Two overlapping daily exports: the second repeats the last scan of the first.
MONDAY = parcel("ZT7000000001", D, DAY) + parcel("ZT7000000002", D, None)
TUESDAY = [MONDAY[-1], *parcel("ZT7000000003", D + DAY, DAY)]


def identities(store: Store) -> list[tuple[Any, ...]]:
    return stored_events(store).select("waybill_no", "scan_type", "site_code", "scan_time").rows()


# -- duplicates ----------------------------------------------------------------------------


def test_duplicate_rows_within_a_file_are_stored_once(store: Store) -> None:
    rows = [*MONDAY, MONDAY[1], MONDAY[1], MONDAY[0]]
    upload = ingest_rows(store, rows)
    assert (upload.rows_read, upload.accepted, upload.rejected, upload.duplicates) == (8, 5, 0, 3)
    events = stored_events(store)
    assert events.height == 5
    depart = events.filter(pl.col("scan_type") == "depart", pl.col("waybill_no") == "ZT7000000001")
    assert depart["row_no"].to_list() == [2]  # the first occurrence is the one kept


def test_overlapping_files_count_the_shared_event_once(store: Store) -> None:
    first = ingest_rows(store, MONDAY, name="monday.parquet")
    second = ingest_rows(store, TUESDAY, name="tuesday.parquet")
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (second.rows_read, second.accepted, second.duplicates) == (4, 3, 1)
    events = stored_events(store)
    assert events.height == 8
    assert events.select("waybill_no", "scan_type", "site_code", "scan_time").is_unique().all()
    shared = events.filter(pl.col("waybill_no") == "ZT7000000002", pl.col("scan_type") == "depart")
    assert shared["upload_id"].to_list() == [first.id]


def test_same_event_in_csv_and_parquet_is_one_event(store: Store, tmp_path: Path) -> None:
    """Different bytes, same scans: a new upload whose every row is a duplicate."""
    first = ingest_rows(store, MONDAY)
    version = store.version()
    csv = write_csv(tmp_path / "monday.csv", MONDAY)
    again = ingest_file(store, csv, _policy(), carrier="ZTO", now=NOW)
    assert again.id != first.id
    assert (again.duplicate, again.rows_read, again.accepted, again.duplicates) == (
        False,
        5,
        0,
        5,
    )
    assert store.version() == version  # nothing new: no new snapshot
    assert stored_events(store).height == 5


@pytest.mark.parametrize(
    ("other", "same"),
    [
        pytest.param({"next_site_code": "JY-H02"}, True, id="next_site-not-in-identity"),
        pytest.param({"scan_time": D + DAY / 86_400_000_000}, False, id="1us-later"),
        pytest.param({"site_code": HUB}, False, id="other-site"),
        pytest.param({"scan_type": "arrive"}, False, id="other-scan_type"),
        pytest.param({"scan_time": utc(2023, 5, 10, 1)}, True, id="same-instant-given-in-UTC"),
    ],
)
def test_event_identity(store: Store, other: dict[str, Any], same: bool) -> None:
    event = scan("ZT7000000001", "depart", CENTER, D, next_site_code=HUB)
    ingest_rows(store, [event], name="a.parquet")
    # written with another timestamp type, so the bytes differ even when the event is the same
    second = ingest_rows(
        store, [{**event, **other}], name="b.parquet", time_type=pa.timestamp("us", tz="UTC")
    )
    assert not second.duplicate
    assert second.duplicates == (1 if same else 0)
    assert stored_events(store).height == (1 if same else 2)


def test_same_waybill_of_another_carrier_is_not_a_duplicate(store: Store) -> None:
    zto = [scan("AB7000000001", "depart", CENTER, D, carrier="ZTO")]
    sf_rows = [scan("AB7000000001", "depart", CENTER, D, carrier="SF")]
    ingest_rows(store, zto, name="zto.parquet", carrier="ZTO")
    sf = ingest_rows(store, sf_rows, name="sf.parquet", carrier="SF")
    assert (sf.accepted, sf.duplicates) == (1, 0)
    assert sorted(stored_events(store)["carrier"].to_list()) == ["SF", "ZTO"]


def test_the_same_file_twice_answers_with_the_first_upload(store: Store, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "monday.parquet", MONDAY)
    first = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    before = store_state(store)
    copy = tmp_path / "renamed-copy.parquet"
    shutil.copyfile(path, copy)
    second = ingest_file(store, copy, _policy(), carrier="ZTO", now=NOW)
    assert second.duplicate is True
    assert first.duplicate is False
    assert {**second.as_dict(), "duplicate": False} == first.as_dict()
    assert store_state(store) == before
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 1


def test_the_original_file_is_kept_unchanged_by_its_hash(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "monday.csv", MONDAY, encoding="gbk")
    upload = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert upload.sha256 == sha256_file(path)
    kept = stored_file(store, upload.sha256)
    assert kept == store.files_dir / upload.sha256[:2] / upload.sha256
    assert kept.read_bytes() == path.read_bytes()
    assert upload.size_bytes == path.stat().st_size
    assert upload.filename == "monday.csv"


def test_register_with_move_takes_the_scratch_file(store: Store, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "incoming.part", MONDAY)
    content = path.read_bytes()
    upload = register_upload(store, path, carrier="ZTO", source="api", move=True)
    assert not path.exists()
    assert stored_file(store, upload.sha256).read_bytes() == content
    assert (upload.status, upload.source, upload.duplicate) == ("received", "api", False)
    again = write_parquet(tmp_path / "again.part", MONDAY)
    second = register_upload(store, again, carrier="ZTO", source="api", move=True)
    assert second.id == upload.id
    assert second.duplicate is False  # registered but not ingested yet: ingest it, once
    assert not again.exists()


def test_stats_add_up(store: Store) -> None:
    rows = [*MONDAY, MONDAY[0], scan("bad", "depart", CENTER, D)]
    upload = ingest_rows(store, rows)
    assert upload.rows_read == upload.accepted + upload.rejected + upload.duplicates == 7
    assert (upload.accepted, upload.rejected, upload.duplicates) == (5, 1, 1)
    assert upload.rejected_by_reason == {"bad_waybill": 1}


def test_ingest_is_idempotent_on_an_ingested_upload(store: Store, policy: Policy) -> None:
    upload = ingest_rows(store, MONDAY)
    before = store_state(store)
    again = ingest_upload(store, upload.id, policy, now=NOW)
    assert again.as_dict() == upload.as_dict()
    assert store_state(store) == before


def test_ingest_of_an_unknown_upload_id(store: Store, policy: Policy) -> None:
    with pytest.raises(StoreError, match="no upload with id 99"):
        ingest_upload(store, 99, policy, now=NOW)


def test_unknown_uploader_carrier_is_refused_before_anything(store: Store, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "x.parquet", MONDAY)
    with pytest.raises(FileRefused, match="unknown carrier 'UPS'; known: DEPPON, EMS"):
        ingest_file(store, path, _policy(), carrier="UPS", now=NOW)
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0


# -- the store layout and snapshots --------------------------------------------------------


def test_events_are_partitioned_by_carrier_and_shanghai_month(store: Store) -> None:
    rows = [
        scan("ZT7000000001", "depart", CENTER, utc(2023, 5, 31, 15, 59)),  # 23:59 CST, May
        scan("ZT7000000001", "arrive", HUB, utc(2023, 5, 31, 16, 30)),  # 00:30 CST, June
    ]
    upload = ingest_rows(store, rows)
    assert sorted(store_state(store)["files"]) == [
        f"events/carrier=ZTO/month=2023-05/u{upload.id:08d}.parquet",
        f"events/carrier=ZTO/month=2023-06/u{upload.id:08d}.parquet",
    ]
    assert [p.parent.name for p in store.event_files(months=["2023-06"])] == ["month=2023-06"]
    june = store.scan_events(months=["2023-06"]).collect()
    assert june["scan_time"].to_list() == [cst(2023, 6, 1, 0, 30)]


def test_each_upload_is_a_snapshot(store: Store) -> None:
    first = ingest_rows(store, MONDAY, name="monday.parquet")
    second = ingest_rows(store, TUESDAY, name="tuesday.parquet")
    assert (first.store_version, second.store_version, store.version()) == (1, 2, 2)
    assert store.scan_events(version=1).collect().height == 5
    assert store.scan_events(version=2).collect().height == 8
    assert store.scan_events(version=0).collect().height == 0


def test_upload_is_audited(store: Store) -> None:
    upload = ingest_rows(store, MONDAY)
    with store.connect() as db:
        actions = [
            tuple(r)
            for r in db.execute("SELECT action, target FROM audit_log WHERE target LIKE 'upload:%'")
        ]
    assert actions == [
        ("upload.received", f"upload:{upload.id}"),
        ("upload.ingested", f"upload:{upload.id}"),
    ]


# -- crashes: nothing half-done, and a retry equals one clean run ---------------------------


class Crash(Exception):
    """Injected failure."""


def crash_at(step: str, exc: type[BaseException] = Crash) -> Any:
    def hook(reached: str) -> None:
        if reached == step:
            raise exc(step)

    return hook


def _policy() -> Policy:
    from core.policy import load_policy

    return load_policy()


def clean_run(root: Path, uploads: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """The store state after ingesting ``uploads`` in order, without any crash."""
    store = make_store(root)
    for name, rows in uploads:
        ingest_rows(store, rows, name=name)
    return store_state(store)


PRE_COMMIT = [s for s in STEPS if s != "committed"]


@pytest.mark.parametrize("exc", [Crash, KeyboardInterrupt], ids=["exception", "interrupt"])
@pytest.mark.parametrize("step", PRE_COMMIT)
def test_failure_before_commit_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, step: str, exc: type[BaseException]
) -> None:
    ingest_rows(store, MONDAY, name="monday.parquet")
    before = store_state(store)
    path = write_parquet(tmp_path / "tuesday.parquet", TUESDAY)

    with pytest.raises(exc):
        ingest_file(store, path, _policy(), carrier="ZTO", now=NOW, on_step=crash_at(step, exc))

    assert store_state(store) == before
    (pending,) = [u for u in _uploads(store) if u["filename"] == "tuesday.parquet"]
    assert pending["status"] == "received"

    retried = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert (retried.status, retried.id, retried.accepted, retried.duplicates) == (
        "ingested",
        pending["id"],
        3,
        1,
    )
    expected = clean_run(
        tmp_path / "clean", [("monday.parquet", MONDAY), ("tuesday.parquet", TUESDAY)]
    )
    assert store_state(store) == expected


def test_failure_after_commit_keeps_the_whole_upload(store: Store, tmp_path: Path) -> None:
    """At ``committed`` the upload is wholly in; a retry ingests nothing more."""
    ingest_rows(store, MONDAY, name="monday.parquet")
    path = write_parquet(tmp_path / "tuesday.parquet", TUESDAY)
    with pytest.raises(Crash):
        ingest_file(store, path, _policy(), carrier="ZTO", now=NOW, on_step=crash_at("committed"))
    expected = clean_run(
        tmp_path / "clean", [("monday.parquet", MONDAY), ("tuesday.parquet", TUESDAY)]
    )
    assert store_state(store) == expected
    retried = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert retried.duplicate is True
    assert store_state(store) == expected


def test_steps_are_reached_in_order(store: Store, tmp_path: Path) -> None:
    seen: list[str] = []
    path = write_parquet(tmp_path / "monday.parquet", MONDAY)
    ingest_file(store, path, _policy(), carrier="ZTO", now=NOW, on_step=seen.append)
    assert seen == list(STEPS)


def test_debris_of_a_dead_process_is_removed_before_the_next_ingest(
    store: Store, tmp_path: Path
) -> None:
    """A killed ingest leaves unlisted files and an 'ingesting' row; the next ingest cleans up."""
    path = write_parquet(tmp_path / "monday.parquet", MONDAY)
    upload = register_upload(store, path, carrier="ZTO")
    debris = store.events_dir / "carrier=ZTO" / "month=2023-05" / f"u{upload.id:08d}.parquet"
    debris.parent.mkdir(parents=True)
    debris.write_bytes(b"half a file")
    with store.connect() as db:
        db.execute("UPDATE uploads SET status='ingesting' WHERE id=?", (upload.id,))
    assert stored_events(store).height == 0  # readers never see unlisted files

    done = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert (done.id, done.status, done.accepted) == (upload.id, "ingested", 5)
    assert store_state(store) == clean_run(tmp_path / "clean", [("monday.parquet", MONDAY)])


def test_refused_file_is_recorded_and_answers_again_with_its_refusal(
    store: Store, tmp_path: Path
) -> None:
    """Refused bytes claim nothing (SPEC §3a): sent again, they are a new upload judged
    afresh, refused alike; the first refusal stays on record."""
    path = tmp_path / "notes.txt"
    path.write_text("hello\n", encoding="utf-8")
    first = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert (first.status, first.duplicate) == ("refused", False)
    assert first.error is not None and first.error.startswith("missing column waybill_no")
    second = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert (second.status, second.duplicate, second.error) == ("refused", False, first.error)
    assert second.id != first.id
    stored = get_upload(store, first.id)
    assert stored is not None and stored.error == first.error


def _uploads(store: Store) -> list[dict[str, Any]]:
    with store.connect() as db:
        return [dict(r) for r in db.execute("SELECT * FROM uploads ORDER BY id")]


def test_same_bytes_for_another_carrier_are_a_conflict_even_in_a_race(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes on record for ZTO never become YTO's upload, also when YTO's registration
    started before ZTO's was recorded (the check inside the transaction catches it)."""
    path = write_parquet(tmp_path / "monday.parquet", MONDAY)
    first = register_upload(store, path, carrier="ZTO")
    assert first.created and not first.duplicate
    again = register_upload(store, path, carrier="ZTO")
    assert (again.id, again.created) == (first.id, False)
    with pytest.raises(UploadConflict, match="cannot be an upload of YTO") as caught:
        register_upload(store, path, carrier="YTO")
    assert "ZTO" not in str(caught.value) and str(first.id) not in str(caught.value)

    # the race: YTO's first look finds nothing, then ZTO registers the same bytes before
    # YTO's transaction; the look inside the transaction sees ZTO's row
    other = write_parquet(tmp_path / "tuesday.parquet", MONDAY[:3])
    real_connect = store.connect

    class FirstLookMisses:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if "WHERE sha256=?" in sql:
                register_upload(store, other, carrier="ZTO")
                return self.db.execute("SELECT * FROM uploads WHERE 0")
            return self.db.execute(sql, *args)

    @contextlib.contextmanager
    def connect() -> Iterator[Any]:
        monkeypatch.setattr(store, "connect", real_connect)  # only the first look is raced
        with real_connect() as db:
            yield FirstLookMisses(db)

    monkeypatch.setattr(store, "connect", connect)
    with pytest.raises(UploadConflict, match="cannot be an upload of YTO"):
        register_upload(store, other, carrier="YTO")
    with store.connect() as db:
        owners = db.execute("SELECT carrier FROM uploads ORDER BY id").fetchall()
    assert [o[0] for o in owners] == ["ZTO", "ZTO"]


@pytest.mark.parametrize("step", [s for s in PRE_COMMIT if s != "registered"])
def test_an_engine_panic_on_a_file_refuses_it_instead_of_failing_every_retry(
    store: Store, tmp_path: Path, step: str
) -> None:
    """A panic of Polars (a BaseException, like a crash) on a file's content would repeat at
    every retry: the upload is refused with the reason, nothing of it is stored."""
    ingest_rows(store, MONDAY, name="monday.parquet")
    before = store_state(store)
    path = write_parquet(tmp_path / "tuesday.parquet", TUESDAY)
    panic = crash_at(step, pl.exceptions.PanicException)
    upload = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW, on_step=panic)
    assert (upload.status, upload.error) == (
        "refused",
        f"the file could not be processed ({step}); it is kept unchanged for audit",
    )
    after = store_state(store)
    assert after.pop("uploads")[:-1] == before.pop("uploads")  # and the refusal, recorded
    assert after == before
    assert len(list(store.events_dir.rglob("*.parquet"))) == len(store.event_files())


def test_a_csv_row_with_more_fields_than_the_header_is_said_so(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "waybill_no,scan_type,site_code,scan_time\n"
        "7731000001,depart,JY-DC-01,2023-05-01 10:00:00\n"
        "7731000002,depart,JY-DC-01,2023-05-01 10:00:00,extra\n",
        encoding="utf-8",
    )
    upload = ingest_file(store, path, _policy(), carrier="ZTO", now=NOW)
    assert (upload.status, upload.error) == (
        "refused",
        "the file is damaged and cannot be read (a row has more fields than the header line)",
    )


def test_an_upload_failing_on_its_content_is_refused_after_three_attempts(
    store: Store, tmp_path: Path
) -> None:
    """Interruptions and store failures never count; the third content failure refuses it
    (the inbox then moves the file to refused/ instead of retrying it at every pass)."""
    path = write_parquet(tmp_path / "tuesday.parquet", TUESDAY)
    upload = register_upload(store, path, carrier="ZTO")

    def attempt(exc: type[BaseException]) -> Upload:
        with pytest.raises(exc):
            ingest_upload(store, upload.id, _policy(), now=NOW, on_step=crash_at("validated", exc))
        found = get_upload(store, upload.id)
        assert found is not None
        return found

    assert attempt(KeyboardInterrupt).failed_attempts == 0
    assert attempt(StoreError).failed_attempts == 0
    assert attempt(Crash).failed_attempts == 1
    second = attempt(Crash)
    assert (second.status, second.failed_attempts) == ("received", 2)
    third = attempt(Crash)
    assert (third.status, third.failed_attempts) == ("refused", 3)
    assert third.error == (
        "the file could not be ingested in 3 attempts (last error: Crash: validated); "
        "it is kept unchanged for audit"
    )
    assert store.event_files() == [] and store.version() == 0

"""The inbox (SPEC §10): settled files in inbox/<CARRIER>/ are ingested as that carrier's uploads
and moved to done/ or refused/ (with the reason beside them); nothing ever counts twice."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.policy import Policy
from core.store import Store
from ingest import inbox as inbox_module
from ingest.inbox import inbox_dir, ingest_inbox, ingest_received
from ingest.uploads import get_upload, ingest_file, register_upload
from tests.factories import NOW, cst, parcel, report, store_state, write_parquet

SETTLE = timedelta(seconds=10)
MAY = cst(2023, 5, 3, 10)


def drop(
    store: Store,
    folder: str,
    name: str,
    rows: list[dict[str, Any]] | None = None,
    *,
    data: bytes | None = None,
    age: timedelta = timedelta(minutes=1),
) -> Path:
    """Put a file into ``inbox/<folder>/`` whose last write was ``age`` before ``NOW``."""
    path = inbox_dir(store) / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        path.write_bytes(data)
    else:
        write_parquet(path, rows if rows is not None else parcel("ZT7000000001", MAY))
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def run(store: Store, policy: Policy, **kwargs: Any) -> dict[str, Any]:
    return ingest_inbox(store, policy, now=NOW, settle=SETTLE, **kwargs)


def eligible(store: Store) -> int:
    return report(store, "2023-05", NOW)["totals"]["eligible_parcels"]


def uploads(store: Store) -> list[tuple[Any, ...]]:
    with store.connect() as db:
        return [tuple(r) for r in db.execute("SELECT id, carrier, source, status FROM uploads")]


def test_settled_file_is_ingested_as_the_folders_carrier_and_moved_to_done(
    store: Store, policy: Policy
) -> None:
    drop(store, "ZTO", "a.parquet", parcel("ZT7000000001", MAY) + parcel("ZT7000000002", MAY))
    result = run(store, policy)
    assert (result["ingested"], result["refused"], result["errors"]) == (1, 0, [])
    assert result["files"][0]["moved_to"] == "ZTO/done/a.parquet"
    assert uploads(store) == [(1, "ZTO", "inbox", "ingested")]
    assert eligible(store) == 2
    folder = inbox_dir(store) / "ZTO"
    assert not (folder / "a.parquet").exists()
    note = json.loads((folder / "done" / "a.parquet.result.json").read_text())
    assert note["id"] == 1
    assert (note["status"], note["accepted"], note["already_uploaded"]) == ("ingested", 6, False)


def test_folder_name_is_matched_to_the_carrier_code_in_any_case(
    store: Store, policy: Policy
) -> None:
    drop(store, "zto", "a.parquet")
    assert run(store, policy)["ingested"] == 1
    assert uploads(store)[0][1] == "ZTO"


def test_corrupt_file_ends_in_refused_with_its_reason_beside_it(
    store: Store, policy: Policy
) -> None:
    drop(store, "ZTO", "broken.parquet", data=b"PAR1 this is not parquet PAR1")
    result = run(store, policy)
    assert result["refused"] == 1 and result["errors"] == []
    refused = inbox_dir(store) / "ZTO" / "refused"
    assert (refused / "broken.parquet").read_bytes() == b"PAR1 this is not parquet PAR1"
    reason = (refused / "broken.parquet.reason.txt").read_text()
    assert reason.strip() == get_upload(store, 1).error  # type: ignore[union-attr]
    assert uploads(store) == [(1, "ZTO", "inbox", "refused")]


def test_a_rejected_row_does_not_refuse_the_file(store: Store, policy: Policy) -> None:
    rows = [*parcel("ZT7000000001", MAY), *parcel("bad#waybill", MAY)]
    drop(store, "ZTO", "a.parquet", rows)
    result = run(store, policy)
    assert result["ingested"] == 1
    assert result["files"][0]["rejected"] == 3


def test_same_file_dropped_twice_counts_once(store: Store, policy: Policy) -> None:
    drop(store, "ZTO", "a.parquet")
    run(store, policy)
    before = store_state(store)
    drop(store, "ZTO", "a.parquet")
    result = run(store, policy)
    assert (result["ingested"], result["duplicate"]) == (0, 1)
    assert store_state(store) == before
    assert eligible(store) == 1
    done = inbox_dir(store) / "ZTO" / "done"
    assert sorted(p.name for p in done.iterdir()) == [
        "a-2.parquet",
        "a-2.parquet.result.json",
        "a.parquet",
        "a.parquet.result.json",
    ]
    assert json.loads((done / "a-2.parquet.result.json").read_text())["already_uploaded"]


def test_same_bytes_under_two_names_in_one_pass_count_once(store: Store, policy: Policy) -> None:
    drop(store, "ZTO", "a.parquet")
    drop(store, "ZTO", "copy-of-a.parquet", age=timedelta(seconds=30))
    result = run(store, policy)
    assert (result["ingested"], result["duplicate"]) == (1, 1)
    assert len(uploads(store)) == 1 and eligible(store) == 1


def test_another_carriers_bytes_end_in_refused_and_count_for_nobody_else(
    store: Store, policy: Policy
) -> None:
    """The same bytes dropped into YTO's folder after ZTO's: refused with the reason, and the
    store's events are as before (the file is ZTO's upload); the refusal is on record for YTO
    (its operator sees it in the upload list, SPEC §3a), naming no other carrier."""
    drop(store, "ZTO", "a.parquet")
    run(store, policy)
    before = store_state(store)
    drop(store, "YTO", "a.parquet")
    result = run(store, policy)
    assert (result["ingested"], result["refused"]) == (0, 1)
    after = store_state(store)
    assert {k: v for k, v in after.items() if k != "uploads"} == {
        k: v for k, v in before.items() if k != "uploads"
    }
    assert uploads(store) == [(1, "ZTO", "inbox", "ingested"), (2, "YTO", "inbox", "refused")]
    reason = (inbox_dir(store) / "YTO" / "refused" / "a.parquet.reason.txt").read_text()
    assert "cannot be an upload of YTO" in reason and "ZTO" not in reason


def test_unknown_carrier_folder_is_refused_with_a_reason(store: Store, policy: Policy) -> None:
    drop(store, "NOPE", "a.parquet")
    result = run(store, policy)
    assert result["refused"] == 1
    reason = (inbox_dir(store) / "NOPE" / "refused" / "a.parquet.reason.txt").read_text()
    assert "inbox/NOPE/ is not a carrier folder" in reason and "ZTO" in reason
    assert uploads(store) == [(1, None, "inbox", "refused")]  # in the upload list, with why


def test_file_directly_in_the_inbox_is_refused_for_want_of_a_carrier(
    store: Store, policy: Policy
) -> None:
    path = drop(store, "ZTO", "a.parquet")
    path.rename(inbox_dir(store) / "a.parquet")
    assert run(store, policy)["refused"] == 1
    reason = (inbox_dir(store) / "refused" / "a.parquet.reason.txt").read_text()
    assert "inbox/<CARRIER>/" in reason
    assert uploads(store) == [(1, None, "inbox", "refused")]  # in the upload list, with why


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(".a.parquet", id="dotfile"),
        pytest.param("a.parquet.part", id="part"),
        pytest.param("a.parquet.tmp", id="tmp"),
        pytest.param("A.PARQUET.PART", id="part-upper-case"),
    ],
)
def test_files_being_written_under_a_temporary_name_are_left_alone(
    store: Store, policy: Policy, name: str
) -> None:
    path = drop(store, "ZTO", name)
    result = run(store, policy)
    assert result["files"] == [] and result["waiting"] == 0
    assert path.exists() and uploads(store) == []


def test_file_written_less_than_the_settle_period_ago_waits(store: Store, policy: Policy) -> None:
    path = drop(store, "ZTO", "a.parquet", age=SETTLE - timedelta(seconds=1))
    result = run(store, policy)
    assert (result["waiting"], result["files"]) == (1, [])
    assert path.exists() and uploads(store) == []
    later = ingest_inbox(store, policy, now=NOW + timedelta(seconds=1), settle=SETTLE)
    assert later["ingested"] == 1 and not path.exists()


def test_crash_between_ingest_and_move_does_not_count_twice(store: Store, policy: Policy) -> None:
    """The file was ingested but the process died before moving it: the next pass moves it."""
    path = drop(store, "ZTO", "a.parquet")
    ingest_file(store, path, policy, carrier="ZTO", now=NOW, source="inbox")
    before = store_state(store)
    result = run(store, policy)
    assert (result["ingested"], result["duplicate"]) == (0, 1)
    assert store_state(store) == before and eligible(store) == 1
    assert (inbox_dir(store) / "ZTO" / "done" / "a.parquet").exists()


def test_crash_after_registering_ingests_the_file_once(store: Store, policy: Policy) -> None:
    """Registered but never ingested (the process died): the next pass ingests it."""
    path = drop(store, "ZTO", "a.parquet")
    register_upload(store, path, carrier="ZTO", filename=path.name, source="inbox")
    result = run(store, policy)
    assert result["ingested"] == 1
    assert uploads(store) == [(1, "ZTO", "inbox", "ingested")] and eligible(store) == 1


def test_unexpected_error_leaves_the_file_for_the_next_pass_and_goes_on(
    store: Store, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = drop(store, "ZTO", "a.parquet", parcel("ZT7000000001", MAY), age=timedelta(hours=1))
    drop(store, "ZTO", "b.parquet", parcel("ZT7000000002", MAY))
    real = inbox_module.ingest_upload

    def failing_first(store: Store, upload_id: int, policy: Policy, **kw: Any) -> Any:
        if upload_id == 1:
            raise OSError("disk full")
        return real(store, upload_id, policy, **kw)

    monkeypatch.setattr(inbox_module, "ingest_upload", failing_first)
    result = run(store, policy)
    assert result["ingested"] == 1
    assert result["errors"] == ["ZTO/a.parquet: OSError: disk full"]
    assert bad.exists()
    monkeypatch.undo()
    assert run(store, policy)["ingested"] == 1
    assert eligible(store) == 2


def test_stop_ends_the_pass_before_the_next_file(store: Store, policy: Policy) -> None:
    drop(store, "ZTO", "a.parquet")
    result = run(store, policy, stop=lambda: True)
    assert result["files"] == [] and uploads(store) == []


def test_files_are_taken_oldest_first(store: Store, policy: Policy) -> None:
    drop(store, "ZTO", "new.parquet", parcel("ZT7000000001", MAY), age=timedelta(minutes=1))
    drop(store, "YTO", "old.parquet", parcel("YT7000000002", MAY), age=timedelta(minutes=5))
    result = run(store, policy)
    assert [f["file"] for f in result["files"]] == ["YTO/old.parquet", "ZTO/new.parquet"]


def test_uploads_left_received_are_ingested_once(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = write_parquet(tmp_path / "api-upload.parquet", parcel("ZT7000000001", MAY))
    upload = register_upload(store, path, carrier="ZTO", source="api")
    first = ingest_received(store, policy, now=NOW)
    assert first == {
        "uploads": [{"upload_id": upload.id, "status": "ingested", "accepted": 3}],
        "errors": [],
    }
    assert ingest_received(store, policy, now=NOW) == {"uploads": [], "errors": []}
    assert eligible(store) == 1

"""Read-only ledger queries (ingest.ledger): uploads, rejects, the audit log, in pages."""

from __future__ import annotations

from pathlib import Path

from core.store import Store
from ingest.ledger import (
    find_upload_by_sha,
    iter_rejects,
    list_uploads,
    read_audit_log,
    rejects_page,
)
from ingest.uploads import register_upload
from tests.factories import cst, ingest_rows, parcel


def _bad_rows(n: int) -> list[dict[str, object]]:
    t = cst(2023, 5, 1)
    return [
        {"waybill_no": f"x{i}", "scan_type": "depart", "site_code": "S", "scan_time": t}
        for i in range(n)
    ]


def test_uploads_are_listed_newest_first_by_carrier_and_status(
    store: Store, tmp_path: Path
) -> None:
    """Filters by carrier and status; keyset pages below an id."""
    zto = ingest_rows(store, parcel("ZT0000001", cst(2023, 5, 3)), name="a.parquet")
    yto = ingest_rows(store, parcel("YT0000001", cst(2023, 5, 3)), name="b.parquet", carrier="YTO")
    raw = tmp_path / "later.csv"
    raw.write_text("waybill_no,scan_type,site_code,scan_time\n")
    waiting = register_upload(store, raw, carrier="ZTO", filename="later.csv")
    assert [u.id for u in list_uploads(store)] == [waiting.id, yto.id, zto.id]
    assert [u.id for u in list_uploads(store, carrier="ZTO")] == [waiting.id, zto.id]
    assert [u.id for u in list_uploads(store, status="received")] == [waiting.id]
    assert [u.id for u in list_uploads(store, before_id=waiting.id, limit=1)] == [yto.id]
    assert find_upload_by_sha(store, zto.sha256) == zto
    assert find_upload_by_sha(store, "0" * 64) is None


def test_rejects_come_in_row_order_pages(store: Store) -> None:
    """A page holds the rows after a row number; iterating yields every row once."""
    good = [r for i in range(3) for r in parcel(f"ZT000001{i}", cst(2023, 5, 4))]
    # valid rows after the rejects: the file is not mostly rejected
    upload = ingest_rows(store, parcel("ZT0000001", cst(2023, 5, 3)) + _bad_rows(7) + good)
    first = rejects_page(store, upload.id, limit=3)
    assert [r["row_no"] for r in first] == [4, 5, 6]
    assert first[0]["reason"] == "bad_waybill" and first[0]["waybill_no"] == "x0"
    after = rejects_page(store, upload.id, after_row=6, limit=100)
    assert [r["row_no"] for r in after] == [7, 8, 9, 10]
    assert [r["row_no"] for r in iter_rejects(store, upload.id, batch=2)] == list(range(4, 11))


def test_audit_log_filters_by_action_prefix(store: Store) -> None:
    """'upload' matches upload.received and upload.ingested, not a longer word; old and new
    values come back decoded."""
    ingest_rows(store, parcel("ZT0000001", cst(2023, 5, 3)))
    with store.transaction() as db:
        store.audit(db, "tests", "uploadish", "x", old={"a": 1}, new=[1, 2])
    actions = [x["action"] for x in read_audit_log(store, action="upload")]
    assert actions == ["upload.received", "upload.ingested"]
    [odd] = read_audit_log(store, action="uploadish")
    assert (odd["old_value"], odd["new_value"]) == ({"a": 1}, [1, 2])
    everything = read_audit_log(store)
    assert [x["id"] for x in read_audit_log(store, after_id=everything[0]["id"], limit=1)] == [
        everything[1]["id"]
    ]
    assert read_audit_log(store, action="up%") == []

"""The preview (SPEC §3a) runs the ingest's own bounded steps in a scratch folder: its counts
are the real ingest's, across spills and waybill buckets, and it leaves nothing behind."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.policy import Policy
from core.store import Store
from ingest.preview import preview_file
from ingest.stream import IngestLimits
from ingest.uploads import ingest_file
from tests.factories import CENTER, HUB, NOW, cst, scan, stored_events, write_csv

#: Small enough that 600 rows spill several times and are sorted in several waybill ranges.
TINY = IngestLimits(batch_rows=50, memory_bytes=2_000, bucket_rows=60, bucket_bytes=4_000)


def _rows(first: int, parcels: int) -> list[dict[str, object]]:
    start = cst(2023, 5, 1, 8)
    rows = []
    for i in range(first, first + parcels):
        t = start + timedelta(minutes=37 * i)
        rows.append(scan(f"ZT{i * 7919 % 100000:08d}", "depart", CENTER, t, next_site_code=HUB))
        rows.append(scan(f"ZT{i * 7919 % 100000:08d}", "arrive", HUB, t + timedelta(hours=3)))
    return rows


def test_preview_counts_equal_the_ingest_across_spills_and_buckets(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """A store holding some of the file's events; the file repeats rows within itself and has
    a bad row: the preview (tiny limits) gives the figures the real ingest then records, and
    stores nothing, and its scratch folder is gone."""
    ingest_file(store, write_csv(tmp_path / "old.csv", _rows(0, 100)), policy,
                carrier="ZTO", now=NOW)  # fmt: skip
    before = stored_events(store)
    rows = _rows(50, 300)
    rows += rows[:40]  # repeats within the file
    rows.append(scan("bad#1", "depart", CENTER, cst(2023, 5, 2)))
    path = write_csv(tmp_path / "new.csv", rows)
    preview = preview_file(store, path, policy, carrier="ZTO", now=NOW, limits=TINY)
    assert stored_events(store).equals(before)
    assert list((store.tmp_dir).iterdir()) == []
    assert (preview["rows_read"], preview["refusal"]) == (641, None)
    # 600 distinct events, 100 of them already stored; 40 repeats; 1 bad waybill
    assert (preview["accepted"], preview["duplicates"]) == (500, 140)
    assert preview["rejected"]["bad_waybill"]["count"] == 1
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW, limits=TINY)
    assert (upload.rows_read, upload.accepted, upload.duplicates, upload.rejected) == (
        641,
        500,
        140,
        1,
    )
    assert stored_events(store).height == before.height + 500
    again = preview_file(store, path, policy, carrier="ZTO", now=NOW, limits=TINY)
    assert (again["accepted"], again["duplicates"], again["already_uploaded"]) == (
        0,
        640,
        upload.id,
    )

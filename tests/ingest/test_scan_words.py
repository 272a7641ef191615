"""Scan-type words (SPEC §3a): every shipped word, ``other`` rows kept but never counted, words
an admin adds for every carrier or one carrier, applied to uploads judged after the change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.policy import Policy
from core.store import Store
from ingest.exceptions import ScanWordExists, ScanWordInvalid, ScanWordNotFound
from ingest.scan_words import add_word, delete_word, list_words
from ingest.schema import DEFAULT_SCAN_WORDS
from ingest.uploads import ingest_file
from tests.factories import CENTER, HUB, NOW, cst, reject_rows, report, stored_events

WORDS = [(t, w) for t, words in DEFAULT_SCAN_WORDS.items() for w in words]


def csv_of(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """A CSV export of ``rows``."""
    text = "运单号,扫描类型,扫描网点,扫描时间\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("scan_type", "word"), WORDS, ids=[w for _t, w in WORDS])
def test_every_shipped_word_is_stored_as_its_scan_type(
    store: Store, policy: Policy, tmp_path: Path, scan_type: str, word: str
) -> None:
    path = csv_of(tmp_path / "w.csv", [("7731000001", f" {word} ", CENTER, "2023-05-01 08:00:00")])
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.accepted, upload.rejected) == (1, 0)
    assert stored_events(store)["scan_type"].cast(str).to_list() == [scan_type]


def test_other_rows_are_evidence_never_arrivals(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """A parcel departed, then only 装袋/称重 at the hub: stored as ``other``, no hub arrival."""
    path = csv_of(
        tmp_path / "o.csv",
        [
            ("7731000001", "发件", CENTER, "2023-05-01 08:00:00"),
            ("7731000001", "装袋", HUB, "2023-05-01 10:00:00"),
            ("7731000001", "称重", HUB, "2023-05-01 11:00:00"),
        ],
    )
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.accepted == 3
    assert sorted(stored_events(store)["scan_type"].cast(str)) == ["depart", "other", "other"]
    zto = report(store, "2023-05", cst(2023, 6, 30), policy)["carriers"][0]
    assert (zto["eligible_parcels"], zto["ineligible"]["no_hub_arrival"]) == (0, 1)


def test_added_words_apply_to_uploads_judged_afterwards(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """中转扫描 is unknown; mapped for YTO only, ZTO's upload still rejects it; mapped for
    every carrier, ZTO's next upload accepts it. Removing the word takes it back."""
    policy = dataclasses.replace(policy, max_rejected_share=1.0)  # one-row files, rejected
    rows = [("7731000001", "中转扫描", CENTER, "2023-05-01 08:00:00")]
    first = ingest_file(store, csv_of(tmp_path / "a.csv", rows), policy, carrier="ZTO", now=NOW)
    assert first.rejected_by_reason == {"unknown_scan_type": 1}
    assert reject_rows(store)[0]["scan_type"] == "中转扫描"
    add_word(store, "中转扫描", "depart", "YTO", actor="admin", carriers=policy.carriers)
    rows2 = [("7731000002", "中转扫描", CENTER, "2023-05-01 08:00:00")]
    second = ingest_file(store, csv_of(tmp_path / "b.csv", rows2), policy, carrier="ZTO", now=NOW)
    assert second.rejected_by_reason == {"unknown_scan_type": 1}
    word = add_word(store, "中转扫描", "depart", None, actor="admin", carriers=policy.carriers)
    rows3 = [("7731000003", "中转扫描", CENTER, "2023-05-01 08:00:00")]
    third = ingest_file(store, csv_of(tmp_path / "c.csv", rows3), policy, carrier="ZTO", now=NOW)
    assert (third.accepted, third.rejected) == (1, 0)
    assert first.rejected == 1  # judged before the change: stays as recorded
    delete_word(store, word["id"], actor="admin")
    rows4 = [("7731000004", "中转扫描", CENTER, "2023-05-01 08:00:00")]
    fourth = ingest_file(store, csv_of(tmp_path / "d.csv", rows4), policy, carrier="ZTO", now=NOW)
    assert fourth.rejected_by_reason == {"unknown_scan_type": 1}
    with store.connect() as db:
        actions = [
            r[0] for r in db.execute("SELECT action FROM audit_log WHERE action LIKE 'scan_word%'")
        ]
    assert actions == ["scan_word.added", "scan_word.added", "scan_word.removed"]


def test_a_carriers_word_wins_over_the_shipped_one(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """滞留 is an exception by default; for ZTO an admin makes it ``other``."""
    add_word(store, "滞留", "other", "ZTO", actor="admin", carriers=policy.carriers)
    rows = [("7731000001", "滞留", HUB, "2023-05-01 08:00:00")]
    ingest_file(store, csv_of(tmp_path / "a.csv", rows), policy, carrier="ZTO", now=NOW)
    rows[0] = ("7731000001", "滞留", HUB, "2023-05-01 08:00:01")
    ingest_file(store, csv_of(tmp_path / "b.csv", rows), policy, carrier="YTO", now=NOW)
    got = stored_events(store).select("carrier", "scan_type").rows()
    assert sorted((c, str(t)) for c, t in got) == [("YTO", "exception"), ("ZTO", "other")]


def test_word_list_marks_defaults_and_refuses_bad_changes(store: Store, policy: Policy) -> None:
    added = add_word(store, "卸车", "arrive", None, actor="admin", carriers=policy.carriers)
    words = list_words(store)
    first = {k: words[0][k] for k in ("id", "word", "scan_type", "carrier", "default")}
    assert first == {
        "id": None,
        "word": "揽收",
        "scan_type": "pickup",
        "carrier": None,
        "default": True,
    }
    assert words[-1] == {**added, "default": False}
    assert sum(1 for w in words if w["default"]) == len(WORDS)
    with pytest.raises(ScanWordExists):
        add_word(store, " 卸车 ", "depart", None, actor="admin", carriers=policy.carriers)
    with pytest.raises(ScanWordExists):
        add_word(store, "揽收", "pickup", None, actor="admin", carriers=policy.carriers)
    with pytest.raises(ScanWordInvalid):
        add_word(store, "x", "teleport", None, actor="admin", carriers=policy.carriers)
    with pytest.raises(ScanWordInvalid):
        add_word(store, "x", "depart", "NOPE", actor="admin", carriers=policy.carriers)
    with pytest.raises(ScanWordNotFound):
        delete_word(store, 999, actor="admin")

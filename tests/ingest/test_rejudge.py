"""Re-judging (SPEC §3a): after a word is mapped, an upload's rejected rows are judged again;
the store and reports then equal a clean ingest with the mapping from the start, and a
closed month gets a prior-period adjustment."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from core.policy import Policy, load_policy
from core.store import Store
from ingest.rejudge import rejudge_upload
from ingest.scan_words import add_word
from ingest.uploads import ingest_file
from subsidy.closing import close_month
from subsidy.report import served_report
from tests.factories import (
    CENTER,
    HUB,
    NOW,
    cst,
    make_store,
    reject_rows,
    report,
    report_core,
    stored_events,
)


def export(path: Path) -> Path:
    """Ten May parcels: six arrive with a known word, four with 中转到达 (not known)."""
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    for i in range(10):
        word = "到件扫描" if i < 6 else "中转到达"
        lines.append(f"ZT{i:010d},发件扫描,{CENTER},2023-05-{3 + i:02d} 10:00:00")
        lines.append(f"ZT{i:010d},{word},{HUB},2023-05-{3 + i:02d} 18:00:00")
    lines.append("bad#1,发件扫描,JY-C01,2023-05-03 10:00:00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def events_of(store: Store) -> list[dict[str, object]]:
    return stored_events(store).drop("upload_id").sort("row_no").to_dicts()


def test_rejudged_upload_equals_a_clean_ingest_with_the_mapping(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = export(tmp_path / "zto.csv")
    first = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert first.rejected_by_reason == {"bad_waybill": 1, "unknown_scan_type": 4}
    closed = close_month(store, policy, "2023-05", actor="finance", now=cst(2023, 7, 1))
    assert closed is not None
    add_word(store, "中转到达", "arrive", None, actor="admin", carriers=policy.carriers)
    again = rejudge_upload(
        store, first.id, policy, reason="中转到达 mapped", actor="admin", now=NOW
    )
    assert (again.accepted, again.rejected, again.rejected_by_reason) == (
        20,
        1,
        {"bad_waybill": 1},
    )
    assert [r["row_no"] for r in reject_rows(store)] == [21]

    clean = make_store(tmp_path / "clean")
    add_word(clean, "中转到达", "arrive", None, actor="admin", carriers=policy.carriers)
    want = ingest_file(clean, path, policy, carrier="ZTO", now=NOW)
    assert (want.accepted, want.rejected) == (20, 1)
    assert events_of(store) == events_of(clean)
    as_of = cst(2023, 7, 2)
    assert report(clean, "2023-05", as_of, policy)["totals"]["eligible_parcels"] == 10
    # May is closed: its frozen figures stay (6 parcels), June carries the difference
    may = served_report(store, policy, "2023-05", as_of)
    assert may.totals.eligible_parcels == 6
    june = served_report(store, policy, "2023-06", as_of)
    assert june.adjustments_total.eligible_parcels == 4, june.prior_period_adjustments
    with store.connect() as db:
        line = db.execute(
            "SELECT actor, old_value, new_value FROM audit_log WHERE action='upload.rejudged'"
        ).fetchone()
    actor, _old, new = tuple(line)
    assert actor == "admin" and "中转到达 mapped" in str(new)


def test_rejudged_open_month_reports_equal_the_clean_ingest(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = export(tmp_path / "zto.csv")
    first = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    report(store, "2023-05", cst(2023, 7, 2), policy)  # results materialised before
    add_word(store, "中转到达", "arrive", "ZTO", actor="admin", carriers=policy.carriers)
    rejudge_upload(store, first.id, policy, reason="word", actor="cli", now=NOW)
    clean = make_store(tmp_path / "clean")
    add_word(clean, "中转到达", "arrive", "ZTO", actor="admin", carriers=policy.carriers)
    ingest_file(clean, path, policy, carrier="ZTO", now=NOW)
    as_of = cst(2023, 7, 2)
    assert report_core(report(store, "2023-05", as_of, policy)) == report_core(
        report(clean, "2023-05", as_of, policy)
    )
    assert events_of(store) == events_of(clean)


def test_a_refused_upload_is_read_again(store: Store, policy: Policy, tmp_path: Path) -> None:
    """Refused as mostly unknown words; the word mapped, re-judging ingests it."""
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"ZT{i:010d},卸车,{HUB},2023-05-03 10:00:00" for i in range(5)]
    path = tmp_path / "w.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert first.status == "refused" and "卸车 (5)" in (first.error or "")
    add_word(store, "卸车", "arrive", None, actor="admin", carriers=policy.carriers)
    again = rejudge_upload(store, first.id, policy, reason="卸车 mapped", actor="admin", now=NOW)
    assert (again.id, again.status, again.accepted) == (first.id, "ingested", 5)
    assert set(stored_events(store)["scan_type"].cast(pl.String)) == {"arrive"}


def test_cli_rejudge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cli

    data = tmp_path / "data"
    path = export(tmp_path / "zto.csv")
    assert cli.main(["--data-dir", str(data), "ingest", str(path), "--carrier", "ZTO"]) == 0
    add_word(
        Store(data), "中转到达", "arrive", None, actor="admin", carriers=load_policy().carriers
    )
    capsys.readouterr()
    args = ["--data-dir", str(data), "rejudge", "1", "--reason", "word mapped", "--format", "json"]
    assert cli.main(args) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["accepted"], answer["rejected"]) == (20, 1)
    assert cli.main(["--data-dir", str(data), "rejudge", "9", "--reason", "x"]) == 1

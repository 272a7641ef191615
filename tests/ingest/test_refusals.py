"""Mostly-rejected files are refused whole (SPEC §3a), naming the main reasons; refused
bytes claim nothing, so the right carrier can then upload them (CLI path and inbox)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from core.policy import Policy
from core.store import Store
from ingest.inbox import inbox_dir, ingest_inbox
from ingest.uploads import ingest_file
from tests.factories import CENTER, HUB, NOW, cst, report, store_state, stored_events

MAY = cst(2023, 5, 3, 10)


def yto_export(path: Path, parcels: int = 2500, zto_rows: int = 20) -> Path:
    """YTO's CSV export: 快递公司 column naming 圆通 on every row but ``zto_rows``."""
    lines = ["快递公司,运单号,扫描类型,扫描网点,扫描时间"]
    for i in range(parcels):
        carrier = "中通" if i < zto_rows else "圆通"
        lines.append(f"{carrier},YT{i:010d},发件,{CENTER},2023-05-03 10:00:00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_wrong_carriers_file_is_refused_whole_then_ingested_by_the_right_carrier(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = yto_export(tmp_path / "export.csv")
    before = store_state(store)
    zto = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert zto.status == "refused"
    assert zto.error is not None
    assert "2,480 of 2,500 rows name carrier YTO; is this YTO's export?" in zto.error
    assert zto.error.startswith("2,480 of 2,500 rows would be rejected (more than 50%)")
    assert {k: v for k, v in store_state(store).items() if k != "uploads"} == {
        k: v for k, v in before.items() if k != "uploads"
    }
    assert stored_events(store).height == 0
    again = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (again.status, again.error, again.duplicate) == ("refused", zto.error, False)
    yto = ingest_file(store, path, policy, carrier="YTO", now=NOW)
    assert (yto.status, yto.accepted, yto.rejected_by_reason) == (
        "ingested",
        2480,
        {"carrier_mismatch": 20},
    )
    assert set(stored_events(store)["carrier"]) == {"YTO"}
    assert report(store, "2023-05", cst(2023, 6, 30))["totals"]["pending_parcels"] == 0


def test_unknown_scan_words_are_named_with_their_counts(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    words = ["中转扫描"] * 1200 + ["卸车"] * 700 + ["发件"] * 100
    lines += [f"ZT{i:010d},{w},{CENTER},2023-05-03 10:00:00" for i, w in enumerate(words)]
    path = tmp_path / "words.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.status == "refused"
    assert upload.error is not None
    assert "1,900 rows have scan types not known: 中转扫描 (1,200), 卸车 (700)" in upload.error
    lenient = dataclasses.replace(policy, max_rejected_share=0.96)
    ingested = ingest_file(store, path, lenient, carrier="ZTO", now=NOW)
    assert (ingested.status, ingested.accepted) == ("ingested", 100)


def test_other_reasons_quote_example_values(store: Store, policy: Policy, tmp_path: Path) -> None:
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"bad#{i},发件,{CENTER},2023-05-03 10:00:00" for i in range(3)]
    lines += [f"ZT{i:010d},到件,{HUB},garbage" for i in range(2)]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.error is not None
    assert "3 rows have waybills that are not 6-40 letters, digits or '-' (e.g. 'bad#0'" in (
        upload.error
    )
    assert "2 rows have scan times that cannot be read (e.g. 'garbage', 'garbage')" in upload.error


def test_exactly_half_rejected_is_stored(store: Store, policy: Policy, tmp_path: Path) -> None:
    """More than half is refused; half is not."""
    lines = ["运单号,扫描类型,扫描网点,扫描时间"]
    lines += [f"ZT{i:010d},发件,{CENTER},2023-05-03 10:00:00" for i in range(2)]
    lines += [f"bad#{i},发件,{CENTER},2023-05-03 10:00:00" for i in range(2)]
    path = tmp_path / "half.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.accepted, upload.rejected) == ("ingested", 2, 2)


def test_inbox_wrong_carrier_refused_then_the_right_carriers_inbox_ingests_it(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    data = yto_export(tmp_path / "export.csv").read_bytes()
    for folder in ("ZTO", "YTO"):
        path = inbox_dir(store) / folder / "export.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = (NOW.timestamp()) - 60
        os.utime(path, (stamp, stamp))
        result = ingest_inbox(store, policy, now=NOW)
        if folder == "ZTO":
            assert result["refused"] == 1
            reason = (inbox_dir(store) / "ZTO" / "refused" / "export.csv.reason.txt").read_text()
            assert "is this YTO's export?" in reason
        else:
            assert result["ingested"] == 1, result
    assert stored_events(store).height == 2480


def test_cli_check_previews_the_refusal_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ingest --check``: the preview's keys, the refusal a real upload would get, exit 1;
    nothing stored; the real ingest then gives that refusal."""
    import json

    import cli

    data = tmp_path / "data"
    path = yto_export(tmp_path / "export.csv", parcels=50, zto_rows=0)
    code = cli.main(["--data-dir", str(data), "ingest", "--check", str(path), "--carrier", "ZTO"])
    preview = json.loads(capsys.readouterr().out)
    assert code == 1
    assert preview["refusal"].endswith("50 of 50 rows name carrier YTO; is this YTO's export?")
    assert preview["rejected"]["carrier_mismatch"]["count"] == 50
    assert len(preview["rejected"]["carrier_mismatch"]["examples"]) == 20
    assert (preview["accepted"], preview["already_uploaded"]) == (0, None)
    store = Store(data)
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] == 0
    code = cli.main(["--data-dir", str(data), "ingest", str(path), "--carrier", "ZTO"])
    assert code == 1
    assert preview["refusal"] in capsys.readouterr().err
    ok = cli.main(["--data-dir", str(data), "ingest", "--check", str(path), "--carrier", "YTO"])
    assert ok == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 50

"""A real ``parcel-subsidy ingest`` killed on the streaming path (spill files on disk,
partitions cut in waybill ranges) leaves the store as it was; the retry equals one clean run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from core.store import Store
from ingest.synthetic import write_flat
from tests.factories import store_state
from tests.test_cli import cli_process


def _killed_then_retried(tmp_path: Path, rows: int, step: str) -> None:
    export = write_flat(tmp_path / "export.parquet", rows, row_group_rows=None)
    ingest = ("ingest", export, "--carrier", "ZTO")
    clean = Store(tmp_path / "clean")
    assert cli.main(["--data-dir", str(clean.root), *(str(a) for a in ingest)]) == 0
    crashed = Store(tmp_path / "crashed").init()
    empty = store_state(crashed)

    died = cli_process("--data-dir", crashed.root, *ingest, crash_at=step)
    assert (died.returncode, died.stdout) == (75, ""), died.stderr[-2000:]
    state = store_state(crashed)
    if step in ("files_written", "before_commit"):  # unlisted debris, removed by the retry
        assert state.pop("files") and not empty.pop("files")
    assert state == empty
    if step == "validated":  # killed with its spill on disk
        assert any(p.suffix == ".arrow" for p in crashed.tmp_dir.rglob("*"))

    retry = cli_process("--data-dir", crashed.root, *ingest)
    assert retry.returncode == 0, retry.stderr[-2000:]
    assert store_state(crashed) == store_state(clean)
    assert not any(crashed.tmp_dir.iterdir())  # the dead attempt's spill is gone too


@pytest.mark.parametrize("step", ["validated", "files_written"])
def test_killed_streaming_ingest_then_retry_equals_a_clean_run(tmp_path: Path, step: str) -> None:
    """1.2M rows in ONE row group: over the memory budget (spilled) and over a bucket (each
    month cut in waybill ranges) with the default limits."""
    _killed_then_retried(tmp_path, 1_200_000, step)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["validated", "files_written", "before_commit"])
def test_killed_ingest_of_ten_million_rows_then_retry_equals_a_clean_run(
    tmp_path: Path, step: str
) -> None:
    _killed_then_retried(tmp_path, 10_000_000, step)

"""A full disk at any step of an upload (keeping the file, spilling, writing events,
committing): one line saying so, no partial file left, the store as it was, reads still
served; once space is freed, a retry ingests exactly once."""

from __future__ import annotations

import errno
import io
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cli
import core.store
from core.exceptions import StoreError
from core.policy import load_policy
from core.store import Store
from ingest.stream import IngestLimits
from ingest.uploads import Upload, get_upload, ingest_file
from tests.factories import NOW, SITES, make_store, scan, store_state, write_parquet

POLICY = load_policy()
#: Every row spilled and every month cut in ranges: each kind of file is written.
SMALL = IngestLimits(batch_rows=4, memory_bytes=0, bucket_rows=5, bucket_bytes=1 << 30)


class FullDisk:
    """An opener (the store's write seam) whose disk fills up at the ``fail_at``-th write
    (0-based; ``None``: never), recording which files it wrote."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.writes: list[Path] = []

    def __call__(self, path: Path) -> Any:
        disk = self

        class _File(io.FileIO):
            def write(self, data: Any) -> int:
                if disk.fail_at is not None and len(disk.writes) >= disk.fail_at:
                    raise OSError(errno.ENOSPC, "No space left on device")
                disk.writes.append(path)
                return super().write(data)

        return _File(path, "wb")


def _rows() -> list[dict[str, Any]]:
    return [
        scan(f"ZT7{n:09d}", kind, "JY-C01", f"2023-0{5 + n % 2}-1{n % 9} 10:00:00")
        for n in range(12)
        for kind in ("depart", "arrive")
    ]


def _ingest(store: Store, path: Path) -> Upload:
    return ingest_file(store, path, POLICY, carrier="ZTO", now=NOW, limits=SMALL)


def _debris(store: Store) -> list[Path]:
    """Partial copies and scratch files: what must never outlive a failed attempt."""
    return [*store.files_dir.rglob(".*.part"), *store.tmp_dir.rglob("*")]


def _writes_of_a_clean_run(tmp_path: Path, export: Path) -> tuple[list[Path], dict[str, Any]]:
    disk = FullDisk()
    clean = make_store(tmp_path / "clean")
    clean.open_write = disk
    assert _ingest(clean, export).status == "ingested"
    return disk.writes, store_state(clean)


def test_a_full_disk_at_every_write_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    export = write_parquet(tmp_path / "export.parquet", _rows())
    writes, clean = _writes_of_a_clean_run(tmp_path, export)
    kinds = {p.relative_to(tmp_path / "clean").parts[0] for p in writes}
    assert kinds == {"files", "tmp", "events"}  # keeping the file, spilling, event files
    # the first write of every file, the last write of all
    firsts = sorted({writes.index(p) for p in writes} | {len(writes) - 1})
    for k in firsts:
        disk = FullDisk(fail_at=k)
        store = make_store(tmp_path / f"full-{k}")
        empty = store_state(store)
        store.open_write = disk
        with pytest.raises(StoreError, match="disk of the data folder is full") as failed:
            _ingest(store, export)
        assert "\n" not in str(failed.value)
        assert _debris(store) == [], k
        assert store_state(store) == empty, k
        upload = get_upload(store, 1)  # reads keep working
        if upload is not None:  # the file was kept: the upload waits, saying why
            assert (upload.status, upload.error) == ("received", str(failed.value))
        disk.fail_at = None  # space freed: the retry ingests once
        assert _ingest(store, export).status == "ingested"
        assert store_state(store) == clean, k
        assert _ingest(store, export).duplicate is True


def test_a_full_disk_at_the_commit_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    export = write_parquet(tmp_path / "export.parquet", _rows())
    _writes, clean = _writes_of_a_clean_run(tmp_path, export)
    store = make_store(tmp_path / "full")
    empty = store_state(store)

    def full_at_commit(step: str) -> None:
        if step == "before_commit":
            raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(StoreError, match="full"):
        ingest_file(store, export, POLICY, carrier="ZTO", now=NOW, on_step=full_at_commit)
    assert _debris(store) == []
    assert store_state(store) == empty
    assert ingest_file(store, export, POLICY, carrier="ZTO", now=NOW).status == "ingested"
    assert store_state(store)["event_files"] == clean["event_files"]


def test_the_cli_says_a_full_disk_in_one_line_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_parquet(tmp_path / "export.parquet", _rows())
    root = make_store(tmp_path / "data").root
    monkeypatch.setattr(core.store, "_open_for_writing", FullDisk(fail_at=0))
    assert cli.main(["--data-dir", str(root), "ingest", str(export), "--carrier", "ZTO"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk of the data folder is full" in err
    assert "Traceback" not in err


# -- once more on a real, small filesystem -------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs, where the machine lets the tests mount one (root); else skipped."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Take every free byte of the filesystem of ``path``."""
    with path.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        for size in (4096, 512, 1):  # the last blocks, too
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                pass


def test_a_really_full_disk_keeps_reads_and_a_retry_ingests_once(
    tiny_disk: Path, tmp_path: Path
) -> None:
    export = write_parquet(tmp_path / "export.parquet", _rows() * 20)
    store = make_store(tiny_disk / "data", SITES)
    ballast = tiny_disk / "ballast"
    _fill(ballast)
    with pytest.raises(StoreError, match="full"):
        _ingest(store, export)
    assert _debris(store) == []
    assert Store(store.root).version() == 0  # reads keep working at 0 bytes free
    ballast.unlink()
    up = _ingest(store, export)
    assert (up.status, up.accepted) == ("ingested", 24)
    assert shutil.disk_usage(tiny_disk).free > 0

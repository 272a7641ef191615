"""The uploads table's rebuild (refused bytes claim nothing, SPEC §3a) keeps a store's data."""

from __future__ import annotations

from pathlib import Path

import pytest

import core.store as store_module
from core.store import MIGRATIONS, Store


def test_uploads_rebuild_keeps_rows_and_foreign_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:7])
    store = Store(tmp_path / "data").init()
    with store.connect() as db:
        db.execute(
            "INSERT INTO uploads (sha256, carrier, size_bytes, source, received_at, status)"
            " VALUES ('abc', 'ZTO', 1, 'cli', 'x', 'refused')"
        )
        db.execute(
            "INSERT INTO event_files (upload_id, carrier, month, path, rows, store_version)"
            " VALUES (1, 'ZTO', '2023-05', 'p', 1, 1)"
        )
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    store.init()
    with store.connect() as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [tuple(r) for r in db.execute("SELECT id, sha256, status FROM uploads")] == [
            (1, "abc", "refused")
        ]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # the same bytes may be uploaded again once refused; twice live is refused
        db.execute(
            "INSERT INTO uploads (sha256, carrier, size_bytes, source, received_at, status)"
            " VALUES ('abc', 'YTO', 1, 'cli', 'x', 'received')"
        )
        with pytest.raises(Exception, match="UNIQUE"):
            db.execute(
                "INSERT INTO uploads (sha256, carrier, size_bytes, source, received_at, status)"
                " VALUES ('abc', 'STO', 1, 'cli', 'x', 'ingested')"
            )
        with pytest.raises(Exception, match="FOREIGN KEY"):
            db.execute(
                "INSERT INTO event_files (upload_id, carrier, month, path, rows, store_version)"
                " VALUES (99, 'ZTO', '2023-05', 'q', 1, 1)"
            )

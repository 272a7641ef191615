"""Store upkeep: remove the debris crashes and abandoned uploads leave behind.

What :func:`clean_store` removes, under the writer lock (so no ingest is running)::

    DIR/events/.../*.parquet        files no committed manifest row lists (Store.recover)
    DIR/tmp/*                       scratch files and folders untouched for ``older_than``
                                    (uploads in flight, transcoded CSVs of a dead ingest)
    DIR/files/ab/.<sha>.<pid>.part  partial copies of uploaded files, same age rule

Uploads left ``ingesting`` go back to ``received`` (Store.recover), to be ingested again. The
age rule spares what a live process is still writing outside the writer lock (an API upload
streaming into ``tmp/``).

Not done here: compacting a partition's small event files into one. The manifest can express
it (``retired_version``), but a retired file may only be deleted once no closed month's store
version (``closed_months.store_version``) reads it and no reader holds the file list from
before the compaction; until a store has enough uploads to need it, compaction stays out.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.store import Store

DEFAULT_MAX_AGE = timedelta(days=1)


def _older(path: Path, limit: float) -> bool:
    try:
        return path.lstat().st_mtime < limit
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_store(
    store: Store, *, now: datetime, older_than: timedelta = DEFAULT_MAX_AGE
) -> dict[str, Any]:
    """Remove crash debris (see the module doc); returns what was removed, relative paths."""
    limit = (now - older_than).timestamp()
    with store.writer_lock():
        events = store.recover(sweep=True)
        stale = [p for p in store.tmp_dir.glob("*") if _older(p, limit)]
        stale += [p for p in store.files_dir.glob("*/.*.part") if _older(p, limit)]
        for path in stale:
            _remove(path)
    return {
        "unlisted_event_files": [str(p.relative_to(store.root)) for p in events],
        "stale_tmp": [str(p.relative_to(store.root)) for p in stale],
    }

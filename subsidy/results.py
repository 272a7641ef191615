"""Materialised results: how the rule's outcome is stored, so a report need not re-run it.

The result set in ``DIR/results/current.json`` says what it was computed from and for::

    store_version   the snapshot of the event files it covers
    as_of (T)       the instant it was computed for
    valid_until (H) the first instant at which a figure may change without any new upload:
                    min(D + max_transit over pending parcels, earliest stored scan after T);
                    null when nothing can change
    scan_after (S)  the earliest stored scan after T (null: none): up to S, a later
                    ``as_of`` only turns pending parcels past ``D + max_transit`` into
                    ``no_hub_arrival``, which a reader derives from ``pending``
    fingerprint     digest of the policy values the rule reads and of the sites registry
    counts          per (month, carrier): eligible, subsidy, pending, ineligible per reason
                    (:data:`subsidy.counts.COUNTS_SCHEMA`)
    parts           Parquet files of per-parcel statuses (subsidy.rule.STATUS_SCHEMA); a
                    parcel's row in a later part replaces its row in an earlier one
    pending         the parts' pending parcels, so a refresh finds them without a scan

A result set answers ``as_of`` in ``[T, H)`` at the same store version and fingerprint as
stored, and ``as_of`` in ``[T, S)`` with the pending parcels' expiry applied
(:func:`subsidy.refresh.served_counts`). The stored set is the *published* one: readers serve
it as it is, and writers replace it (``current.json``, atomically) once a new one is complete
(:func:`subsidy.refresh.publish`, after each ingest's commit). Each set's files live in a
folder ``sNNNNNN`` of its own; saving a set removes the folders that neither it nor the set it
replaces lists (a reader still on the replaced set finds its files). Writers hold
:func:`locked`. How a set is built and brought up to date is :mod:`subsidy.refresh`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.policy import Policy
from core.store import Store
from subsidy.counts import COUNTS_SCHEMA

RESULTS_DIR = "results"
CURRENT = "current.json"


@dataclass(frozen=True)
class ResultSet:
    """A stored result set (see the module doc)."""

    store_version: int
    as_of: datetime
    valid_until: datetime | None
    fingerprint: str
    counts: pl.DataFrame
    parts: tuple[str, ...]
    pending: str
    seq: int
    scan_after: datetime | None = None

    def answers(self, as_of: datetime) -> bool:
        """Whether the stored figures are those of ``as_of`` (same version and fingerprint)."""
        return self.as_of <= as_of and (self.valid_until is None or as_of < self.valid_until)


def fingerprint(policy: Policy, sites: pl.DataFrame) -> str:
    """Digest of everything besides the events that the figures depend on."""
    digest = hashlib.sha256()
    digest.update(
        repr(
            (
                policy.window_start.isoformat(),
                policy.window_end.isoformat(),
                policy.max_transit.total_seconds(),
                [(r.effective_from.isoformat(), r.rate_fen) for r in policy.rates],
            )
        ).encode()
    )
    digest.update(sites.sort("site_code").write_csv().encode())
    return digest.hexdigest()


def results_dir(store: Store) -> Path:
    """``DIR/results``."""
    return store.root / RESULTS_DIR


def set_folder(store: Store, seq: int) -> Path:
    """The folder of result set number ``seq``."""
    return results_dir(store) / f"s{seq:06d}"


@contextlib.contextmanager
def locked(store: Store) -> Iterator[None]:
    """Hold the results' writer lock (one process or thread changes the stored set at once)."""
    results_dir(store).mkdir(parents=True, exist_ok=True)
    with (results_dir(store) / ".lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: Per process, the last set read of each store, by the identity of its ``current.json``
#: (inode, size, modification time: a save replaces the file, so any of them changes).
_READ: dict[Path, tuple[tuple[int, int, int], ResultSet]] = {}


def current(store: Store) -> ResultSet | None:
    """The stored (published) result set, or ``None``."""
    path = results_dir(store) / CURRENT
    try:
        with path.open(encoding="utf-8") as fh:
            st = os.fstat(fh.fileno())
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            known = _READ.get(store.root)
            if known is not None and known[0] == key:
                return known[1]
            doc = json.loads(fh.read())
    except FileNotFoundError:
        return None
    rs = _from_doc(doc)
    _READ[store.root] = (key, rs)
    return rs


def _from_doc(doc: dict[str, Any]) -> ResultSet:
    return ResultSet(
        store_version=doc["store_version"],
        as_of=datetime.fromisoformat(doc["as_of"]),
        valid_until=None
        if doc["valid_until"] is None
        else datetime.fromisoformat(doc["valid_until"]),
        fingerprint=doc["fingerprint"],
        counts=pl.DataFrame(doc["counts"], schema=COUNTS_SCHEMA, orient="row"),
        parts=tuple(doc["parts"]),
        pending=doc["pending"],
        seq=doc["seq"],
        # a set saved before ``scan_after`` was kept: H is a safe (earlier) bound of S
        scan_after=_instant(doc.get("scan_after", doc["valid_until"])),
    )


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def save(store: Store, rs: ResultSet) -> None:
    """Make ``rs`` the stored set (atomically) and remove the files no set lists any more.

    The caller holds :func:`locked`.
    """
    doc = {
        "seq": rs.seq,
        "store_version": rs.store_version,
        "as_of": rs.as_of.isoformat(),
        "valid_until": None if rs.valid_until is None else rs.valid_until.isoformat(),
        "scan_after": None if rs.scan_after is None else rs.scan_after.isoformat(),
        "fingerprint": rs.fingerprint,
        "parts": list(rs.parts),
        "pending": rs.pending,
        "counts": [list(r) for r in rs.counts.select(COUNTS_SCHEMA.names()).iter_rows()],
    }
    target = results_dir(store) / CURRENT
    replaced = current(store)
    tmp = target.with_name(f".{CURRENT}.{os.getpid()}")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, target)
    keep = _folders(rs) | (_folders(replaced) if replaced is not None else set())
    for folder in results_dir(store).iterdir():  # earlier sets' files nobody lists any more
        if folder.is_dir() and folder.name.startswith("s") and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _folders(rs: ResultSet) -> set[str]:
    return {Path(p).parts[1] for p in (*rs.parts, rs.pending)}


def adopt_compaction(store: Store, compaction: dict[str, Any]) -> bool:
    """After :func:`ingest.upkeep.compact_store`, which rewrites files but changes no event,
    the result set of the version before holds for the version after: say so, instead of
    letting the next report rebuild everything. Returns whether the set was carried over.
    """
    before, after = compaction["from_version"], compaction["to_version"]
    if before == after:
        return False
    with locked(store):
        rs = current(store)
        if rs is None or rs.store_version != before:
            return False
        save(store, dataclasses.replace(rs, store_version=after))
    return True


def describe(rs: ResultSet) -> dict[str, Any]:
    """A JSON-ready summary of a result set (benchmarks, diagnostics)."""
    return {
        "seq": rs.seq,
        "store_version": rs.store_version,
        "as_of": rs.as_of.isoformat(),
        "valid_until": None if rs.valid_until is None else rs.valid_until.isoformat(),
        "scan_after": None if rs.scan_after is None else rs.scan_after.isoformat(),
        "parts": len(rs.parts),
        "carrier_months": rs.counts.height,
    }

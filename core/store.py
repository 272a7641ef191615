"""The embedded store in ``--data-dir``: event files in Parquet, everything else in SQLite.

Layout::

    DIR/parcel_subsidy.sqlite         ledger of uploads, event-file manifest, rejects, sites,
                                      awards, closed months, audit log (WAL mode)
    DIR/events/carrier=C/month=M/     one LZ4 Parquet file per (upload, carrier, month), in
        u00000042.parquet             row order within waybill ranges; the upkeep rewrites
        c00000107.parquet             them as one zstd file sorted by waybill_no, scan_time
    DIR/files/ab/abcdef...            every uploaded file, unchanged, named by its SHA-256
    DIR/tmp/                          scratch space (transcoded CSVs, uploads in flight)

Why not Delta Lake: an upload's commit must cover its events, its rejects and its ledger row
at once. With the events in Delta and the ledger in SQLite there would be two commit points
and a window between them; here the manifest of event files lives in the same SQLite
transaction as the rest, so a commit is one ``COMMIT``. Event files are plain Hive-partitioned
Parquet that DuckDB, Spark or Trino read directly; the manifest (``event_files``) says which
files are committed and at which store version, which is what a closed month pins.

Crash safety: event files are written and fsynced *before* the transaction that lists them;
a file on disk that no committed row lists is debris of a crashed ingest and is removed by
:meth:`Store.recover`, under the writer lock. Readers only ever read listed files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl

from core.events import EVENT_SCHEMA, ScanType
from core.exceptions import NoStoreError, StoreError
from core.timeutil import now_local

DB_NAME = "parcel_subsidy.sqlite"

#: Append-only list of schema migrations; ``PRAGMA user_version`` says how many ran.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('store_version', '0');
    CREATE TABLE uploads (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        carrier TEXT,
        filename TEXT,
        size_bytes INTEGER NOT NULL,
        source TEXT NOT NULL,
        uploaded_by TEXT,
        received_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('received','ingesting','ingested','refused')),
        error TEXT,
        format TEXT,
        rows_read INTEGER NOT NULL DEFAULT 0,
        accepted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        rejected_by_reason TEXT NOT NULL DEFAULT '{}',
        ingested_at TEXT,
        store_version INTEGER
    );
    CREATE INDEX uploads_carrier ON uploads (carrier, id);
    CREATE TABLE event_files (
        id INTEGER PRIMARY KEY,
        upload_id INTEGER NOT NULL REFERENCES uploads (id),
        carrier TEXT NOT NULL,
        month TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        rows INTEGER NOT NULL,
        store_version INTEGER NOT NULL,
        retired_version INTEGER
    );
    CREATE INDEX event_files_part ON event_files (carrier, month);
    CREATE TABLE rejects (
        upload_id INTEGER NOT NULL REFERENCES uploads (id),
        row_no INTEGER NOT NULL,
        reason TEXT NOT NULL,
        waybill_no TEXT, scan_type TEXT, site_code TEXT, scan_time TEXT,
        carrier TEXT, next_site_code TEXT,
        PRIMARY KEY (upload_id, row_no)
    ) WITHOUT ROWID;
    CREATE TABLE sites (
        site_code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('district_center','village_hub','other')),
        town TEXT,
        active_from TEXT NOT NULL,
        active_to TEXT
    );
    CREATE TABLE center_awards (
        id INTEGER PRIMARY KEY,
        site_code TEXT NOT NULL UNIQUE,
        accredited_on TEXT NOT NULL,
        document_no TEXT NOT NULL,
        award_fen INTEGER NOT NULL CHECK (award_fen >= 0),
        status TEXT NOT NULL CHECK (status IN ('accredited','approved','paid')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        old_value TEXT,
        new_value TEXT
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    """,
    # The scheduler's job-run history (SPEC §10), shown by GET /v1/jobs. Times are
    # Asia/Shanghai ISO 8601 with milliseconds; ``detail`` is a JSON object of what the run did.
    """
    CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('running','ok','failed','interrupted')),
        detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
        error TEXT
    );
    CREATE INDEX job_runs_job ON job_runs (job, id);
    """,
    # API tokens (only SHA-256 hashes), closed months with their frozen figures, and who moved
    # a center award along accredited -> approved -> paid (SPEC §6, §7, §9).
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('operator','finance','auditor','admin')),
        carrier TEXT,
        name TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT,
        CHECK ((role = 'operator') = (carrier IS NOT NULL))
    );
    CREATE TABLE closed_months (
        month TEXT PRIMARY KEY,
        closed_at TEXT NOT NULL,
        closed_by TEXT NOT NULL,
        as_of TEXT NOT NULL,
        store_version INTEGER NOT NULL,
        policy_digest TEXT NOT NULL,
        policy_name TEXT,
        report_json TEXT NOT NULL
    );
    CREATE TABLE closed_month_figures (
        month TEXT NOT NULL REFERENCES closed_months (month),
        period TEXT NOT NULL,
        carrier TEXT NOT NULL,
        eligible_parcels INTEGER NOT NULL,
        subsidy_fen INTEGER NOT NULL,
        pending_parcels INTEGER NOT NULL,
        ineligible TEXT NOT NULL CHECK (json_valid(ineligible)),
        PRIMARY KEY (month, period, carrier)
    ) WITHOUT ROWID;
    CREATE TRIGGER closed_months_frozen_u BEFORE UPDATE ON closed_months
        BEGIN SELECT RAISE(ABORT, 'a closed month is frozen'); END;
    CREATE TRIGGER closed_months_frozen_d BEFORE DELETE ON closed_months
        BEGIN SELECT RAISE(ABORT, 'a closed month is frozen'); END;
    CREATE TRIGGER closed_month_figures_frozen_u BEFORE UPDATE ON closed_month_figures
        BEGIN SELECT RAISE(ABORT, 'a closed month is frozen'); END;
    CREATE TRIGGER closed_month_figures_frozen_d BEFORE DELETE ON closed_month_figures
        BEGIN SELECT RAISE(ABORT, 'a closed month is frozen'); END;
    ALTER TABLE center_awards ADD COLUMN created_by TEXT;
    ALTER TABLE center_awards ADD COLUMN approved_at TEXT;
    ALTER TABLE center_awards ADD COLUMN approved_by TEXT;
    ALTER TABLE center_awards ADD COLUMN paid_at TEXT;
    ALTER TABLE center_awards ADD COLUMN paid_by TEXT;
    """,
    # The time range of each event file (microseconds since the epoch, UTC; NULL for files
    # written before this column existed, read as "may overlap anything"): de-duplication
    # reads only stored files whose range overlaps the new events', and the materialised
    # results (subsidy.results) find the events later than the instant they were computed for.
    """
    ALTER TABLE event_files ADD COLUMN min_time_us INTEGER;
    ALTER TABLE event_files ADD COLUMN max_time_us INTEGER;
    """,
    # How often an upload's ingestion failed on its content (not on the store or the disk):
    # after MAX_FAILED_ATTEMPTS it is refused instead of being retried forever.
    """
    ALTER TABLE uploads ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
    """,
    # Compaction (ingest.upkeep.compact_store): a compacted file holds the events of many
    # uploads (its upload_id is NULL; each event row keeps its own upload_id and row_no), and
    # a retired file is deleted some time after its retirement (retired_at).
    """
    CREATE TABLE event_files_v6 (
        id INTEGER PRIMARY KEY,
        upload_id INTEGER REFERENCES uploads (id),
        carrier TEXT NOT NULL,
        month TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        rows INTEGER NOT NULL,
        store_version INTEGER NOT NULL,
        retired_version INTEGER,
        min_time_us INTEGER,
        max_time_us INTEGER,
        retired_at TEXT
    );
    INSERT INTO event_files_v6 (id, upload_id, carrier, month, path, rows, store_version,
                                retired_version, min_time_us, max_time_us)
        SELECT id, upload_id, carrier, month, path, rows, store_version, retired_version,
               min_time_us, max_time_us FROM event_files;
    DROP TABLE event_files;
    ALTER TABLE event_files_v6 RENAME TO event_files;
    CREATE INDEX event_files_part ON event_files (carrier, month);
    """,
    # Settlement (SPEC §11): the yearly budget, the carriers registry with each payee, the
    # statements created by closing a month and every move of a statement; who recorded an
    # award by name (four eyes, SPEC §7). Money is integer fen.
    """
    CREATE TABLE budgets (
        year INTEGER PRIMARY KEY,
        amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
        document_no TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE carriers (
        carrier TEXT PRIMARY KEY,
        payee_name TEXT NOT NULL,
        bank TEXT NOT NULL,
        account_no TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE statements (
        id INTEGER PRIMARY KEY,
        month TEXT NOT NULL,
        carrier TEXT NOT NULL,
        eligible_parcels INTEGER NOT NULL,
        rate_fen INTEGER,
        claimed_fen INTEGER NOT NULL,
        held_fen INTEGER NOT NULL,
        adjustment_fen INTEGER NOT NULL,
        adjustment_lines TEXT NOT NULL CHECK (json_valid(adjustment_lines)),
        claim_fen INTEGER NOT NULL,
        payable_fen INTEGER NOT NULL CHECK (payable_fen >= 0),
        carried_fen INTEGER NOT NULL CHECK (carried_fen <= 0),
        carried_into INTEGER REFERENCES statements (id),
        prorated INTEGER NOT NULL CHECK (prorated IN (0, 1)),
        budget_fen INTEGER,
        remaining_fen INTEGER,
        total_claim_fen INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft','submitted','approved','paid')),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        submitted_at TEXT, submitted_by TEXT, submitted_name TEXT,
        approved_at TEXT, approved_by TEXT, approved_name TEXT,
        paid_at TEXT, paid_by TEXT, voucher_no TEXT, paid_on TEXT,
        payee_name TEXT, bank TEXT, account_no TEXT,
        UNIQUE (month, carrier)
    );
    CREATE TABLE statement_transitions (
        id INTEGER PRIMARY KEY,
        statement_id INTEGER NOT NULL REFERENCES statements (id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
    );
    CREATE INDEX statement_transitions_statement ON statement_transitions (statement_id, id);
    CREATE TRIGGER statement_transitions_no_update BEFORE UPDATE ON statement_transitions
        BEGIN SELECT RAISE(ABORT, 'statement_transitions is append-only'); END;
    CREATE TRIGGER statement_transitions_no_delete BEFORE DELETE ON statement_transitions
        BEGIN SELECT RAISE(ABORT, 'statement_transitions is append-only'); END;
    ALTER TABLE center_awards ADD COLUMN created_name TEXT;
    """,
    # Audit controls (SPEC §12): anomaly flags with their review, the eligible parcels each
    # flag holds (a hub-day flag holds every eligible parcel that arrived there that day), the
    # run that computed a month's flags, sampled reviews and their findings.
    """
    CREATE TABLE anomaly_flags (
        id INTEGER PRIMARY KEY,
        flag_key TEXT NOT NULL UNIQUE,
        month TEXT NOT NULL,
        code TEXT NOT NULL,
        carrier TEXT,
        waybill_no TEXT,
        site_code TEXT,
        day TEXT,
        detail TEXT NOT NULL CHECK (json_valid(detail)),
        held INTEGER NOT NULL CHECK (held IN (0, 1)),
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','cleared','confirmed')),
        computed_at TEXT NOT NULL,
        reviewed_at TEXT, reviewed_by TEXT, note TEXT
    );
    CREATE INDEX anomaly_flags_month ON anomaly_flags (month, carrier, id);
    CREATE TABLE anomaly_flag_parcels (
        flag_id INTEGER NOT NULL REFERENCES anomaly_flags (id),
        month TEXT NOT NULL,
        carrier TEXT NOT NULL,
        waybill_no TEXT NOT NULL,
        subsidy_fen INTEGER NOT NULL,
        PRIMARY KEY (flag_id, carrier, waybill_no)
    );
    CREATE INDEX anomaly_flag_parcels_parcel ON anomaly_flag_parcels (month, carrier, waybill_no);
    CREATE TABLE held_parcels (
        month TEXT NOT NULL,
        carrier TEXT NOT NULL,
        waybill_no TEXT NOT NULL,
        subsidy_fen INTEGER NOT NULL,
        statement_id INTEGER NOT NULL REFERENCES statements (id),
        outcome TEXT CHECK (outcome IN ('released', 'confirmed')),
        released_in INTEGER REFERENCES statements (id),
        PRIMARY KEY (month, carrier, waybill_no)
    );
    CREATE TABLE anomaly_adjustments (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('confirmed_flag', 'audit_deduction')),
        month TEXT NOT NULL,
        carrier TEXT NOT NULL,
        waybill_no TEXT,
        source_id INTEGER NOT NULL,
        amount_fen INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        statement_id INTEGER REFERENCES statements (id),
        UNIQUE (kind, carrier, waybill_no, source_id)
    );
    CREATE TABLE audits (
        id INTEGER PRIMARY KEY,
        month TEXT NOT NULL,
        carrier TEXT NOT NULL,
        sample_size INTEGER NOT NULL CHECK (sample_size >= 1),
        seed INTEGER NOT NULL,
        population INTEGER NOT NULL,
        claimed_fen INTEGER NOT NULL,
        sample TEXT NOT NULL CHECK (json_valid(sample)),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        deducted_fen INTEGER,
        deducted_at TEXT,
        deducted_by TEXT
    );
    CREATE TABLE audit_findings (
        audit_id INTEGER NOT NULL REFERENCES audits (id),
        waybill_no TEXT NOT NULL,
        finding TEXT NOT NULL CHECK (finding IN ('confirmed', 'not_confirmed')),
        note TEXT,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        PRIMARY KEY (audit_id, waybill_no)
    );
    CREATE TABLE anomaly_runs (
        month TEXT PRIMARY KEY,
        as_of TEXT NOT NULL,
        store_version INTEGER NOT NULL,
        policy_key TEXT NOT NULL,
        computed_at TEXT NOT NULL
    );
    """,
    # Scan-type words an admin added (SPEC §3a), for every carrier (carrier NULL) or one; the
    # shipped defaults live in code (ingest.scan_words) and are never stored.
    """
    CREATE TABLE scan_words (
        id INTEGER PRIMARY KEY,
        word TEXT NOT NULL,
        scan_type TEXT NOT NULL
            CHECK (scan_type IN ('pickup','depart','arrive','dispatch','sign','exception','other')),
        carrier TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE UNIQUE INDEX scan_words_word ON scan_words (lower(word), coalesce(carrier, ''));
    """,
    # Other names of a site as couriers' exports write them (SPEC §3a): a JSON list of text.
    """
    ALTER TABLE sites ADD COLUMN aliases TEXT NOT NULL DEFAULT '[]';
    """,
    # A file refused whole claims its bytes for no one (SPEC §3a): the same bytes may be
    # another upload once every earlier one holding them was refused. Only one upload that is
    # not refused may hold given bytes. Rebuilt with foreign keys off (SQLite's procedure for
    # changing a table others reference), then checked.
    """
    -- foreign keys off
    CREATE TABLE uploads_v10 (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        carrier TEXT,
        filename TEXT,
        size_bytes INTEGER NOT NULL,
        source TEXT NOT NULL,
        uploaded_by TEXT,
        received_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('received','ingesting','ingested','refused')),
        error TEXT,
        format TEXT,
        rows_read INTEGER NOT NULL DEFAULT 0,
        accepted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        rejected_by_reason TEXT NOT NULL DEFAULT '{}',
        ingested_at TEXT,
        store_version INTEGER,
        failed_attempts INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO uploads_v10 SELECT id, sha256, carrier, filename, size_bytes, source,
        uploaded_by, received_at, status, error, format, rows_read, accepted, rejected,
        duplicates, rejected_by_reason, ingested_at, store_version, failed_attempts
        FROM uploads;
    DROP TABLE uploads;
    ALTER TABLE uploads_v10 RENAME TO uploads;
    CREATE INDEX uploads_carrier ON uploads (carrier, id);
    CREATE INDEX uploads_sha256 ON uploads (sha256, id);
    CREATE UNIQUE INDEX uploads_claim ON uploads (sha256) WHERE status <> 'refused';
    """,
    # Why an upload was refused as a machine code and the values its sentence is made of (a
    # JSON object), beside the English ``error``: the console words it in the reader's
    # language, and the mostly-rejected refusal keeps the scan words it did not know.
    """
    ALTER TABLE uploads ADD COLUMN error_code TEXT;
    ALTER TABLE uploads ADD COLUMN error_params TEXT;
    """,
    # The frozen parcel list of a closed month (SPEC §12): the rule's per-parcel rows of the
    # month at its close, one Parquet file under the data dir (``path``, relative to it),
    # written after the close; a month closed without one is listed by running the rule.
    """
    CREATE TABLE closed_month_parcels (
        month TEXT PRIMARY KEY REFERENCES closed_months (month),
        path TEXT NOT NULL,
        rows INTEGER NOT NULL,
        written_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TRIGGER closed_month_parcels_frozen_u BEFORE UPDATE ON closed_month_parcels
        BEGIN SELECT RAISE(ABORT, 'a closed month is frozen'); END;
    """,
)


#: The first line of a migration that must run with foreign keys off (a table rebuild).
_FOREIGN_KEYS_OFF = "-- foreign keys off"


def _now_text() -> str:
    return now_local().isoformat(timespec="seconds")


#: Opens a file of the store for writing (binary, truncating): the one seam every byte the
#: store writes outside SQLite goes through (kept uploads, scratch spills, event files), so a
#: test can make the disk fail (ENOSPC) at any of those steps.
Opener = Callable[[Path], BinaryIO]


def _open_for_writing(path: Path) -> BinaryIO:
    return path.open("wb")


def disk_error(exc: BaseException, doing: str) -> StoreError:
    """A one-line :class:`StoreError` for an ``OSError`` or SQLite error met while ``doing``;
    a full disk says so (the operator frees space, then retries)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "full" in text
    if full:
        return StoreError(f"the disk of the data folder is full while {doing}; free space, retry")
    return StoreError(f"the data folder failed while {doing} ({text[:200]})")


class Store:
    """Handle on a data directory. Cheap to create; every method opens what it needs.

    ``opener`` opens the files the store writes (default: a plain binary file); tests pass
    one that fails like a full disk.
    """

    def __init__(self, data_dir: Path, *, opener: Opener | None = None) -> None:
        self.root = Path(data_dir)
        self.db_path = self.root / DB_NAME
        self.events_dir = self.root / "events"
        self.files_dir = self.root / "files"
        self.tmp_dir = self.root / "tmp"
        self.open_write: Opener = opener or _open_for_writing
        self._keeper: sqlite3.Connection | None = None  # see kept_open
        self._keeper_busy = False
        self._keeper_thread = 0

    # -- set-up ---------------------------------------------------------------------------
    def init(self) -> Store:
        """Create the folders and bring the database schema up to date; idempotent."""
        for d in (self.root, self.events_dir, self.files_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # kept in the database file
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                rebuild = script.lstrip().startswith(_FOREIGN_KEYS_OFF)
                if rebuild:  # a table others reference is rebuilt (sqlite.org/lang_altertable)
                    db.execute("PRAGMA foreign_keys=OFF")
                db.executescript(f"BEGIN; {script}; PRAGMA user_version = {i}; COMMIT;")
                if rebuild:
                    db.execute("PRAGMA foreign_keys=ON")
                    broken = db.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise StoreError(f"migration {i} broke foreign keys: {broken[:5]}")
        return self

    def open_existing(self) -> Store:
        """The store this folder already holds, brought up to date (:meth:`init`); raises
        :class:`NoStoreError` and creates nothing when it holds none (a mistyped
        ``--data-dir`` must not read as an empty store)."""
        if not self.db_path.is_file():
            raise NoStoreError(
                f"{self.root} holds no store (no {DB_NAME}); check --data-dir, or create one "
                "with 'sites import', 'ingest' or 'demo'",
                data_dir=str(self.root),
            )
        return self.init()

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A SQLite connection in WAL mode; commits on success, rolls back on error.

        An operational failure of SQLite (disk full, I/O error, locked too long) is a
        :class:`StoreError`, whichever statement meets it. When the disk is so full that
        SQLite cannot create its WAL index to open the database, and no WAL is pending (every
        commit is in the database file), the database is opened read-only as the immutable
        file it then is: reads keep working, writes fail as a StoreError. Within
        :meth:`kept_open`, the kept connection is lent when idle (same thread), instead of
        opening one.
        """
        kept = self._lend()
        if kept is not None:
            try:
                yield kept
            except sqlite3.OperationalError as exc:
                raise disk_error(exc, "using the store database") from exc
            finally:
                self._give_back(kept)
            return
        try:
            db = self._open()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store database {self.db_path}: {exc}") from None
        try:
            yield db
        except sqlite3.OperationalError as exc:
            raise disk_error(exc, "using the store database") from exc
        finally:
            db.close()

    def _lend(self) -> sqlite3.Connection | None:
        kept = self._keeper
        if kept is None or self._keeper_busy or self._keeper_thread != threading.get_ident():
            return None
        self._keeper_busy = True
        return kept

    def _give_back(self, kept: sqlite3.Connection) -> None:
        try:
            if kept.in_transaction:  # what closing a connection would do: nothing half-done
                kept.rollback()
        finally:
            self._keeper_busy = False

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            wal = self.db_path.with_name(DB_NAME + "-wal")
            full = "disk I/O error" in str(exc) or "full" in str(exc)
            if not full or (wal.exists() and wal.stat().st_size > 0):
                raise
        uri = f"{self.db_path.resolve().as_uri()}?mode=ro&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; anything raised inside rolls everything back."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextlib.contextmanager
    def kept_open(self) -> Iterator[None]:
        """Keep one connection open while the block runs and lend it to :meth:`connect`
        whenever it is idle in this thread (a nested ``connect`` opens its own, as before).

        An ingest opens the database about ten times: each open parses the schema and runs
        the pragmas, and in WAL mode the last connection to close checkpoints and removes the
        WAL, which the next open re-creates (2.7 ms of wall time an open, 0.4 with one kept
        open, none when lent). Purely an optimisation: a database that cannot be opened now
        is left to the block's own connections to report.
        """
        if self._keeper is not None:  # already kept open (an ingest within an ingest_file)
            yield
            return
        keeper: sqlite3.Connection | None = None
        with contextlib.suppress(sqlite3.Error, OSError):
            keeper = self._open()
            keeper.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # maps the WAL index
        self._keeper, self._keeper_busy = keeper, False
        self._keeper_thread = threading.get_ident()
        try:
            yield
        finally:
            self._keeper = None
            if keeper is not None:
                keeper.close()

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock for writing events: one ingest at a time, across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".writer.lock").open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def recover(self, *, sweep: bool = False) -> list[Path]:
        """Remove event files no committed row lists (debris of a crash); returns them.

        Also puts uploads left ``ingesting`` by a crashed process back to ``received``.
        Event files are written only while their upload is ``ingesting``, and the transaction
        that lists them also marks it ``ingested``, so debris can only belong to an upload
        left ``ingesting``: only those uploads' files are looked for (a glob per partition
        folder, not a walk over every event file at every ingest). ``sweep`` walks every
        event file instead (the daily upkeep job). Must be called under :meth:`writer_lock`.
        """
        with self.connect() as db:
            stuck = [r[0] for r in db.execute("SELECT id FROM uploads WHERE status='ingesting'")]
            if not (sweep or stuck):
                return []
            db.execute("UPDATE uploads SET status='received' WHERE status='ingesting'")
            if sweep:
                listed = {row[0] for row in db.execute("SELECT path FROM event_files")}
            else:
                marks = ",".join("?" * len(stuck))
                listed = {
                    row[0]
                    for row in db.execute(
                        f"SELECT path FROM event_files WHERE upload_id IN ({marks})", stuck
                    )
                }
        if sweep:
            candidates = list(self.events_dir.rglob("*.parquet"))
        else:
            candidates = [
                path
                for upload_id in stuck
                for path in self.events_dir.glob(f"carrier=*/month=*/{event_file_name(upload_id)}")
            ]
        removed = []
        for path in candidates:
            if str(path.relative_to(self.root)) not in listed:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    # -- versions and files ---------------------------------------------------------------
    def version(self) -> int:
        """The store version: how many uploads have committed events (a snapshot id)."""
        with self.connect() as db:
            return int(db.execute("SELECT value FROM meta WHERE key='store_version'").fetchone()[0])

    @staticmethod
    def _listed(
        carriers: list[str] | None,
        months: list[str] | None,
        version: int | None,
        newer_than: int | None = None,
    ) -> tuple[str, list[object]]:
        """The ``WHERE`` clause (and its arguments) of the event files of a snapshot
        (``version``; default: the current files), optionally only some carriers or months."""
        sql = " WHERE 1=1"
        args: list[object] = []
        if version is not None:
            sql += " AND store_version <= ? AND (retired_version IS NULL OR retired_version > ?)"
            args += [version, version]
        else:
            sql += " AND retired_version IS NULL"
        if newer_than is not None:
            sql += " AND store_version > ?"
            args.append(newer_than)
        if carriers is not None:
            sql += f" AND carrier IN ({','.join('?' * len(carriers))})"
            args += carriers
        if months is not None:
            sql += f" AND month IN ({','.join('?' * len(months))})"
            args += months
        return sql, args

    def event_files(
        self,
        *,
        carriers: list[str] | None = None,
        months: list[str] | None = None,
        version: int | None = None,
    ) -> list[Path]:
        """The committed event files, optionally only some carriers, months, or a snapshot."""
        where, args = self._listed(carriers, months, version)
        with self.connect() as db:
            rows = db.execute(f"SELECT path FROM event_files{where} ORDER BY id", args)
            return [self.root / row[0] for row in rows]

    def event_file_ranges(
        self,
        *,
        carriers: list[str] | None = None,
        months: list[str] | None = None,
        version: int | None = None,
        newer_than: int | None = None,
    ) -> list[tuple[Path, int, int | None, int | None]]:
        """Like :meth:`event_files`, with each file's store version and scan-time range.

        Rows are ``(path, store_version, min_time_us, max_time_us)``; the times are
        microseconds since the epoch (UTC), ``None`` for files listed before they were kept.
        ``newer_than`` keeps only files committed after that store version.
        """
        where, args = self._listed(carriers, months, version, newer_than)
        sql = f"SELECT path, store_version, min_time_us, max_time_us FROM event_files{where}"
        with self.connect() as db:
            return [
                (self.root / row[0], int(row[1]), row[2], row[3])
                for row in db.execute(sql + " ORDER BY id", args)
            ]

    def overlapping_files(
        self, carrier: str, month: str, lo_us: int, hi_us: int
    ) -> list[tuple[Path, int, int | None, int | None]]:
        """The partition's current files whose scan-time range overlaps ``[lo_us, hi_us]``
        (or is unknown), as ``(path, rows, min_time_us, max_time_us)``: what de-duplication
        against the store reads, from the manifest alone."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT path, rows, min_time_us, max_time_us FROM event_files"
                " WHERE carrier=? AND month=? AND retired_version IS NULL"
                " AND (min_time_us IS NULL OR max_time_us IS NULL"
                "      OR (min_time_us <= ? AND max_time_us >= ?)) ORDER BY id",
                (carrier, month, hi_us, lo_us),
            ).fetchall()
        return [(self.root / path, int(n), lo, hi) for path, n, lo, hi in rows]

    def carrier_rows(self, *, version: int | None = None) -> dict[str, int]:
        """How many events each carrier has in a snapshot (default: the current files)."""
        where, args = self._listed(None, None, version)
        sql = f"SELECT carrier, SUM(rows) FROM event_files{where} GROUP BY carrier ORDER BY carrier"
        with self.connect() as db:
            return {row[0]: int(row[1]) for row in db.execute(sql, args)}

    def retired_since(self, version: int) -> bool:
        """Whether any event file was retired after store version ``version``."""
        with self.connect() as db:
            row = db.execute(
                "SELECT 1 FROM event_files WHERE retired_version > ? LIMIT 1", (version,)
            ).fetchone()
        return row is not None

    def scan_events(
        self,
        *,
        carriers: list[str] | None = None,
        months: list[str] | None = None,
        version: int | None = None,
    ) -> pl.LazyFrame:
        """Lazy frame of the stored events (:data:`ingest.schema.EVENT_SCHEMA`)."""
        files = self.event_files(carriers=carriers, months=months, version=version)
        if not files:
            return pl.LazyFrame(schema=EVENT_SCHEMA)
        return pl.scan_parquet(files, glob=False, schema=FILE_SCHEMA).with_columns(
            pl.col("scan_type").cast(ScanType)
        )

    def audit(
        self,
        db: sqlite3.Connection,
        actor: str,
        action: str,
        target: str | None = None,
        old: object = None,
        new: object = None,
    ) -> None:
        """Append one line to the audit log inside the caller's transaction."""
        db.execute(
            "INSERT INTO audit_log (at, actor, action, target, old_value, new_value) "
            "VALUES (?,?,?,?,?,?)",
            (
                _now_text(),
                actor,
                action,
                target,
                None if old is None else json.dumps(old, ensure_ascii=False, default=str),
                None if new is None else json.dumps(new, ensure_ascii=False, default=str),
            ),
        )


#: Schema of event files on disk: ``scan_type`` is plain text there, for other readers.
FILE_SCHEMA = pl.Schema({**EVENT_SCHEMA, "scan_type": pl.String()})


def time_range_us(events: pl.DataFrame) -> tuple[int, int]:
    """The earliest and latest ``scan_time`` of ``events``, in microseconds since the epoch
    (UTC): what the manifest keeps of each event file (``min_time_us``, ``max_time_us``)."""
    t = pl.col("scan_time").dt.epoch("us")
    lo, hi = events.select(t.min().alias("lo"), t.max().alias("hi")).row(0)
    return lo, hi


def event_file_name(upload_id: int) -> str:
    """The name of an upload's event file in each partition folder it writes to."""
    return f"u{upload_id:08d}.parquet"


def fsync_file(path: Path, *, folder: bool = True) -> None:
    """Flush a written file, and (``folder``) the folder entry naming it, to disk before a
    transaction refers to it (after a power cut, a listed file must exist). A file renamed
    afterwards needs only its own data flushed here, and its new folder after the rename."""
    for target in (path, path.parent) if folder else (path,):
        _fsync(target)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a file renamed or created in it) to disk."""
    _fsync(folder)


def _fsync(target: Path) -> None:
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def timestamp() -> str:
    """The current Asia/Shanghai time as ISO 8601 text (ledger and audit timestamps)."""
    return _now_text()

"""The frozen parcel list of a closed month (SPEC §12 ``GET /v1/parcels``, SPEC §6).

A closed month's parcel list is the rule's per-parcel rows (:data:`subsidy.rule.STATUS_SCHEMA`)
of the month on its pinned store version, as of its close. Running the rule again for every
read costs a pass over the whole store; instead the rows are written once, right after the
close (when the stored result set answers the close, as it does after the close's own report),
to ``DIR/closed/parcels-YYYY-MM.parquet``: sorted by carrier and waybill, in row groups a
reader skips by the carrier's statistics. The file is written in ``DIR/tmp``, flushed to disk,
renamed into place and only then named in ``closed_month_parcels``; a crash on the way leaves
the month closed, no file named and the list computed by the rule (the debris in ``tmp`` is
swept by :func:`ingest.upkeep.clean_store`). Months closed without one (before this file
existed, or when no result set answered the close) get theirs from the upkeep job
(:func:`freeze_closed`), under the policy the month was closed with only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from core.policy import Policy
from core.store import Store, fsync_file, fsync_folder, timestamp
from core.timeutil import now_local
from subsidy.anomalies import answering_set, month_basis, result_frame
from subsidy.rule import STATUS_SCHEMA, parcel_statuses
from subsidy.sites import load_sites

log = logging.getLogger(__name__)

FROZEN_DIR = "closed"
ROW_GROUP = 65_536


def frozen_path(store: Store, month: str) -> Path | None:
    """The frozen parcel list of a closed ``month``, if one is named and on disk."""
    with store.connect() as db:
        row = db.execute("SELECT path FROM closed_month_parcels WHERE month=?", (month,)).fetchone()
    if row is None:
        return None
    path = store.root / row["path"]
    return path if path.is_file() else None


def frozen_frame(path: Path, where: pl.Expr) -> pl.LazyFrame:
    """The rows of a frozen list that satisfy ``where``, read lazily (row groups pruned)."""
    return pl.scan_parquet(path, schema=STATUS_SCHEMA).filter(where)


def freeze_parcels(store: Store, policy: Policy, month: str, *, rule: bool = True) -> Path | None:
    """Write the frozen parcel list of the closed ``month`` and name it; its path.

    The rows come from the stored result set when it answers the close on the pinned version,
    else (``rule``) from the rule run over that version; one carrier at a time, in carrier
    order, each sorted by waybill (a carrier's row groups are its own). ``None`` when the
    month is open, already has its list, was closed under another policy, or (``rule``
    false) no result set answers."""
    with store.connect() as db:
        row = db.execute(
            "SELECT c.as_of, c.store_version, c.policy_digest, p.path FROM closed_months c"
            " LEFT JOIN closed_month_parcels p ON p.month = c.month WHERE c.month=?",
            (month,),
        ).fetchone()
    if row is None or row["path"] is not None or row["policy_digest"] != policy.digest:
        return None
    as_of, version = month_basis(store, month, now_local())  # a closed month: its close
    if version is None:
        return None
    sites = load_sites(store)
    rs = answering_set(store, policy, sites, as_of, version)
    if rs is None and not rule:
        return None
    name = f"parcels-{month}.parquet"
    tmp = store.tmp_dir / f".{name}.{os.getpid()}.part"
    schema = pl.DataFrame(schema=STATUS_SCHEMA).to_arrow().schema
    try:
        rows = 0
        with pq.ParquetWriter(tmp, schema) as writer:
            for carrier in store.carrier_rows(version=version):  # one carrier at a time, in order
                wanted = (pl.col("month") == month) & (pl.col("carrier") == carrier)
                if rs is not None:
                    frame = result_frame(store, rs, wanted)
                else:
                    events = store.scan_events(carriers=[carrier], version=version)
                    frame = parcel_statuses(events, sites.lazy(), policy, as_of).filter(wanted)
                part = frame.select(STATUS_SCHEMA.names()).sort("waybill_no").collect()
                if part.height:
                    writer.write_table(part.to_arrow().cast(schema), row_group_size=ROW_GROUP)
                    rows += part.height
        fsync_file(tmp, folder=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = store.root / FROZEN_DIR
    folder.mkdir(exist_ok=True)
    target = folder / name
    os.replace(tmp, target)
    fsync_folder(folder)
    with store.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO closed_month_parcels (month, path, rows, written_at)"
            " VALUES (?,?,?,?)",
            (month, f"{FROZEN_DIR}/{name}", rows, timestamp()),
        )
    return target


def freeze_closed(store: Store, policy: Policy) -> list[str]:
    """The upkeep job's catch-up: write the frozen parcel list of every closed month that has
    none and was closed under ``policy``; the months written."""
    with store.connect() as db:
        months = [
            r[0]
            for r in db.execute(
                "SELECT month FROM closed_months WHERE policy_digest=? AND month NOT IN"
                " (SELECT month FROM closed_month_parcels) ORDER BY month",
                (policy.digest,),
            )
        ]
    return [m for m in months if freeze_parcels(store, policy, m) is not None]

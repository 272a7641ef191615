"""Audit controls (SPEC §12): the six anomaly flags, computed with Polars, stored, reviewed.

:func:`compute_flags` is pure: from the events, the sites registry, the policy and ``as_of``
it answers the flags of the in-scope parcels with ``D`` in a month (one lazy plan per code,
collected together so the rule's output is computed once), each with its evidence, and the
eligible parcels each flag holds. Minutes, days and hours are Asia/Shanghai (the store's
``scan_time`` is zoned). :func:`flags_for_month` computes a month as of its report (a closed
month: as of its close, on its pinned store version) and :func:`save_flags` keeps them with
stable ids: a flag is ``(month, code, carrier, waybill_no, site_code, day)``; recomputing keeps
its id and review, refreshes its evidence, and drops open flags that no longer hold.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from core.policy import Policy
from core.store import Store, timestamp
from core.timeutil import month_bounds, parse_instant, to_local
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.results import fingerprint
from subsidy.rule import ARRIVAL_TYPES, PARCEL, at_active, parcel_statuses
from subsidy.settlement.holds import on_confirmed
from subsidy.sites import load_sites

CODES: tuple[str, ...] = (
    "too_fast",
    "burst",
    "cross_carrier",
    "reused_waybill",
    "off_hours",
    "hub_spike",
)
DECISIONS: tuple[str, ...] = ("cleared", "confirmed")
FLAG_KEYS: tuple[str, ...] = (
    "id",
    "code",
    "carrier",
    "waybill_no",
    "site_code",
    "day",
    "detail",
    "status",
)
#: What :func:`compute_flags` answers for each flag (``detail`` is JSON text).
FLAG_SCHEMA = pl.Schema(
    {
        "code": pl.String(),
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "site_code": pl.String(),
        "day": pl.Date(),
        "detail": pl.String(),
    }
)
#: The eligible parcels a flag holds, by the flag's key columns.
HELD_SCHEMA = pl.Schema(
    {
        "code": pl.String(),
        "flag_carrier": pl.String(),
        "flag_waybill_no": pl.String(),
        "site_code": pl.String(),
        "day": pl.Date(),
        "carrier": pl.String(),
        "waybill_no": pl.String(),
        "subsidy_fen": pl.Int64(),
    }
)
SPIKE_LOOKBACK_DAYS = 28
SPIKE_MIN_DAYS = 7


@dataclass(frozen=True)
class Flags:
    """A month's computed flags and the eligible parcels they hold."""

    month: str
    as_of: datetime
    store_version: int
    flags: pl.DataFrame  # FLAG_SCHEMA
    held: pl.DataFrame  # HELD_SCHEMA
    policy_key: str = ""


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z")


def _detail(**fields: pl.Expr) -> pl.Expr:
    return pl.struct([e.alias(k) for k, e in fields.items()]).struct.json_encode().alias("detail")


def _flag_frame(frame: pl.LazyFrame, code: str, site: str, day: pl.Expr) -> pl.LazyFrame:
    return frame.select(
        pl.lit(code).alias("code"),
        pl.col("carrier"),
        pl.col("waybill_no"),
        pl.col(site).alias("site_code"),
        day.alias("day"),
        pl.col("detail"),
    )


def compute_flags(
    events: pl.LazyFrame,
    sites: pl.LazyFrame,
    policy: Policy,
    as_of: datetime,
    month: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The flags of ``month`` (:data:`FLAG_SCHEMA`) and the parcels they hold
    (:data:`HELD_SCHEMA`), as of ``as_of``. Pure."""
    cfg = policy.anomalies
    cutoff = to_local(as_of)
    month_bounds(month)  # validates the text
    # one pass of the rule, shared by the six codes (collect_all does not share it)
    statuses = parcel_statuses(events, sites, policy, cutoff).collect().lazy()
    mine = statuses.filter(pl.col("month") == month)
    eligible = mine.filter(pl.col("status") == "eligible")
    a_day = pl.col("a_time").dt.date()
    d_day = pl.col("d_time").dt.date()
    scans = {
        "d_time": _iso("d_time"),
        "d_site": pl.col("d_site"),
        "a_time": _iso("a_time"),
        "a_site": pl.col("a_site"),
        "a_scan_type": pl.col("a_scan_type"),
    }

    # too_fast: eligible, A - D strictly under min_transit_minutes.
    transit = pl.col("a_time") - pl.col("d_time")
    too_fast = _flag_frame(
        eligible.filter(transit < pl.lit(timedelta(minutes=cfg.min_transit_minutes))).with_columns(
            _detail(
                **scans,
                transit_seconds=transit.dt.total_microseconds() / 1_000_000,
                min_transit_minutes=pl.lit(cfg.min_transit_minutes),
            )
        ),
        "too_fast",
        "a_site",
        a_day,
    )

    # burst: A in a hub-minute holding more than burst_per_minute arrival scans of in-scope
    # parcels at that hub.
    visible = events.filter(pl.col("scan_time") <= cutoff)
    hub_scans = (
        at_active(
            visible.filter(pl.col("scan_type").is_in(ARRIVAL_TYPES)).select(
                *PARCEL, "site_code", "scan_time", pl.col("scan_type").cast(pl.String)
            ),
            sites,
            "village_hub",
        )
        .join(statuses.select(PARCEL), on=PARCEL, how="semi")
        .unique(subset=[*PARCEL, "site_code", "scan_time", "scan_type"])
    )
    minute = pl.col("scan_time").dt.truncate("1m")
    per_minute = hub_scans.group_by("site_code", minute.alias("minute")).agg(
        pl.len().alias("hub_minute_scans")
    )
    burst = _flag_frame(
        mine.filter(pl.col("a_time").is_not_null())
        .with_columns(pl.col("a_time").dt.truncate("1m").alias("minute"))
        .join(
            per_minute.rename({"site_code": "a_site"}),
            on=["a_site", "minute"],
            how="inner",
        )
        .filter(pl.col("hub_minute_scans") > cfg.burst_per_minute)
        .with_columns(
            _detail(
                **scans,
                minute=_iso("minute"),
                hub_minute_scans=pl.col("hub_minute_scans"),
                burst_per_minute=pl.lit(cfg.burst_per_minute),
            )
        ),
        "burst",
        "a_site",
        a_day,
    )

    # cross_carrier: the waybill number has a D under two or more carriers.
    carriers_of = statuses.group_by("waybill_no").agg(
        pl.col("carrier").unique().sort().alias("carriers")
    )
    cross = _flag_frame(
        mine.join(carriers_of, on="waybill_no", how="inner")
        .filter(pl.col("carriers").list.len() >= 2)
        .with_columns(
            _detail(
                d_time=_iso("d_time"),
                d_site=pl.col("d_site"),
                other_carriers=pl.col("carriers").list.set_difference(
                    pl.concat_list(pl.col("carrier"))
                ),
            )
        ),
        "cross_carrier",
        "d_site",
        d_day,
    )

    # reused_waybill: depart scans at active district centers more than reuse_days apart.
    departs = (
        at_active(
            visible.filter(pl.col("scan_type") == "depart").select(
                *PARCEL, "site_code", "scan_time"
            ),
            sites,
            "district_center",
        )
        .join(mine.select(PARCEL), on=PARCEL, how="semi")
        .group_by(PARCEL)
        .agg(
            pl.col("scan_time").min().alias("first_depart"),
            pl.col("scan_time").max().alias("last_depart"),
            pl.col("site_code").sort_by("scan_time", "site_code").first().alias("first_site"),
            pl.col("site_code").sort_by("scan_time", "site_code").last().alias("last_site"),
            pl.len().alias("depart_scans"),
        )
    )
    gap = pl.col("last_depart") - pl.col("first_depart")
    reused = _flag_frame(
        mine.join(departs, on=PARCEL, how="inner")
        .filter(gap > pl.lit(timedelta(days=cfg.reuse_days)))
        .with_columns(
            _detail(
                first_depart=_iso("first_depart"),
                first_site=pl.col("first_site"),
                last_depart=_iso("last_depart"),
                last_site=pl.col("last_site"),
                days_apart=gap.dt.total_microseconds() / 86_400_000_000,
                depart_scans=pl.col("depart_scans"),
                reuse_days=pl.lit(cfg.reuse_days),
            )
        ),
        "reused_waybill",
        "d_site",
        d_day,
    )

    # off_hours: A's time of day in [quiet_from, quiet_to), which may wrap midnight.
    clock = pl.col("a_time").dt.time()
    lo, hi = pl.lit(cfg.quiet_from), pl.lit(cfg.quiet_to)
    quiet = (
        (clock >= lo) & (clock < hi)
        if cfg.quiet_from <= cfg.quiet_to
        else (clock >= lo) | (clock < hi)
    )
    off_hours = _flag_frame(
        mine.filter(pl.col("a_time").is_not_null() & quiet).with_columns(
            _detail(
                **scans,
                quiet_from=pl.lit(cfg.quiet_from.strftime("%H:%M")),
                quiet_to=pl.lit(cfg.quiet_to.strftime("%H:%M")),
            )
        ),
        "off_hours",
        "a_site",
        a_day,
    )

    # hub_spike: a hub-day of the month's eligible parcels whose count (all carriers, any D
    # month) is > spike_factor x the median of the previous 28 days that had any (>= 7 such
    # days) and >= spike_min.
    daily = (
        statuses.filter(pl.col("status") == "eligible")
        .group_by(pl.col("a_site").alias("site_code"), a_day.alias("day"))
        .agg(pl.len().alias("parcels"))
    )
    days = eligible.select(pl.col("a_site").alias("site_code"), a_day.alias("day")).unique()
    history = (
        days.join(daily.rename({"day": "prev_day", "parcels": "prev"}), on="site_code")
        .filter(
            (pl.col("prev_day") < pl.col("day"))
            & (pl.col("prev_day") >= pl.col("day") - pl.duration(days=SPIKE_LOOKBACK_DAYS))
        )
        .group_by("site_code", "day")
        .agg(
            pl.col("prev").median().alias("median_prev"),
            pl.len().alias("days_with_any"),
        )
    )
    spikes = (
        days.join(daily, on=["site_code", "day"], how="inner")
        .join(history, on=["site_code", "day"], how="inner")
        .filter(
            (pl.col("days_with_any") >= SPIKE_MIN_DAYS)
            & (pl.col("parcels") > cfg.spike_factor * pl.col("median_prev"))
            & (pl.col("parcels") >= cfg.spike_min)
        )
    )
    hub_spike = spikes.select(
        pl.lit("hub_spike").alias("code"),
        pl.lit(None, pl.String).alias("carrier"),
        pl.lit(None, pl.String).alias("waybill_no"),
        "site_code",
        "day",
        _detail(
            eligible_parcels=pl.col("parcels"),
            median_prev=pl.col("median_prev"),
            days_with_any=pl.col("days_with_any"),
            spike_factor=pl.lit(cfg.spike_factor),
            spike_min=pl.lit(cfg.spike_min),
        ),
    )
    spike_held = eligible.join(
        spikes.select(pl.col("site_code").alias("a_site"), "day").rename({"day": "a_day"}),
        left_on=["a_site", a_day],
        right_on=["a_site", "a_day"],
        how="inner",
    ).select(
        pl.lit("hub_spike").alias("code"),
        pl.lit(None, pl.String).alias("flag_carrier"),
        pl.lit(None, pl.String).alias("flag_waybill_no"),
        pl.col("a_site").alias("site_code"),
        a_day.alias("day"),
        "carrier",
        "waybill_no",
        "subsidy_fen",
    )

    per_parcel = [too_fast, burst, cross, reused, off_hours]
    collected = pl.collect_all(
        [*per_parcel, hub_spike, spike_held, eligible.select(*PARCEL, "subsidy_fen")]
    )
    flags = (
        pl.concat([f.cast(FLAG_SCHEMA) for f in collected[:6]], how="vertical")
        .select(FLAG_SCHEMA.names())
        .sort("code", "carrier", "waybill_no", "site_code", "day", nulls_last=True)
    )
    paid = collected[7]
    parcel_held = (
        flags.filter(pl.col("carrier").is_not_null())
        .join(paid, on=PARCEL, how="inner")
        .select(
            "code",
            pl.col("carrier").alias("flag_carrier"),
            pl.col("waybill_no").alias("flag_waybill_no"),
            "site_code",
            "day",
            "carrier",
            "waybill_no",
            "subsidy_fen",
        )
    )
    held = pl.concat([parcel_held.cast(HELD_SCHEMA), collected[6].cast(HELD_SCHEMA)])
    return flags, held


def month_basis(store: Store, month: str, now: datetime) -> tuple[datetime, int | None]:
    """``(as_of, store_version)`` a month's flags are computed for: a closed month's close;
    an open one's report as of ``now`` on the current store (version ``None``)."""
    month_bounds(month)
    with store.connect() as db:
        row = db.execute(
            "SELECT as_of, store_version FROM closed_months WHERE month=?", (month,)
        ).fetchone()
    if row is None:
        return to_local(now), None
    return parse_instant(row["as_of"]), int(row["store_version"])


def flags_for_month(
    store: Store, policy: Policy, month: str, as_of: datetime, version: int | None = None
) -> Flags:
    """Compute ``month``'s flags as of ``as_of`` on store ``version`` (current: ``None``)."""
    pinned = store.version() if version is None else version
    events = store.scan_events(version=pinned)
    sites = load_sites(store)
    flags, held = compute_flags(events, sites.lazy(), policy, as_of, month)
    return Flags(month, to_local(as_of), pinned, flags, held, policy_key(policy, sites))


def _key(month: str, code: str, carrier: Any, waybill: Any, site: Any, day: Any) -> str:
    return json.dumps([month, code, carrier, waybill, site, None if day is None else str(day)])


def save_flags(store: Store, db: sqlite3.Connection, computed: Flags, policy: Policy) -> int:
    """Store ``computed`` inside the caller's transaction (see the module doc); the number of
    flags of the month afterwards."""
    month, now = computed.month, timestamp()
    held = 1 if policy.anomalies.holds else 0
    existing = {
        r["flag_key"]: (int(r["id"]), r["status"])
        for r in db.execute(
            "SELECT id, flag_key, status FROM anomaly_flags WHERE month=?", (month,)
        )
    }
    ids: dict[tuple[Any, ...], int] = {}
    seen: set[str] = set()
    for rec in computed.flags.iter_rows(named=True):
        ident = (rec["code"], rec["carrier"], rec["waybill_no"], rec["site_code"], rec["day"])
        key = _key(month, *ident)
        seen.add(key)
        day = None if rec["day"] is None else rec["day"].isoformat()
        if key in existing:
            flag_id = existing[key][0]
            db.execute(
                "UPDATE anomaly_flags SET detail=?, held=?, computed_at=? WHERE id=?",
                (rec["detail"], held, now, flag_id),
            )
        else:
            cur = db.execute(
                "INSERT INTO anomaly_flags (flag_key, month, code, carrier, waybill_no,"
                " site_code, day, detail, held, computed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    month,
                    rec["code"],
                    rec["carrier"],
                    rec["waybill_no"],
                    rec["site_code"],
                    day,
                    rec["detail"],
                    held,
                    now,
                ),
            )
            flag_id = int(cur.lastrowid or 0)
        ids[ident] = flag_id
    gone = [fid for key, (fid, status) in existing.items() if key not in seen and status == "open"]
    db.executemany("DELETE FROM anomaly_flag_parcels WHERE flag_id=?", [(f,) for f in gone])
    db.executemany("DELETE FROM anomaly_flags WHERE id=?", [(f,) for f in gone])
    db.execute("DELETE FROM anomaly_flag_parcels WHERE month=?", (month,))
    db.executemany(
        "INSERT OR IGNORE INTO anomaly_flag_parcels (flag_id, month, carrier, waybill_no,"
        " subsidy_fen) VALUES (?,?,?,?,?)",
        [
            (
                ids[(r["code"], r["flag_carrier"], r["flag_waybill_no"], r["site_code"], r["day"])],
                month,
                r["carrier"],
                r["waybill_no"],
                r["subsidy_fen"],
            )
            for r in computed.held.iter_rows(named=True)
        ],
    )
    db.execute(
        "INSERT INTO anomaly_runs (month, as_of, store_version, policy_key, computed_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT (month) DO UPDATE SET as_of=excluded.as_of,"
        " store_version=excluded.store_version, policy_key=excluded.policy_key,"
        " computed_at=excluded.computed_at",
        (month, computed.as_of.isoformat(), computed.store_version, computed.policy_key, now),
    )
    total = db.execute("SELECT COUNT(*) FROM anomaly_flags WHERE month=?", (month,)).fetchone()
    return int(total[0])


def policy_key(policy: Policy, sites: pl.DataFrame) -> str:
    """Digest of what the flags depend on besides the events: the rule's policy values and
    the sites registry (:func:`subsidy.results.fingerprint`) and the ``[anomalies]`` table."""
    return hashlib.sha256(
        (fingerprint(policy, sites) + repr(policy.anomalies)).encode()
    ).hexdigest()


def _unchanged_since(
    store: Store, run: sqlite3.Row, key: str, version: int, as_of: datetime
) -> bool:
    """Whether an open month's stored run answers ``as_of`` too: same store version and
    policy, ``as_of`` not before the run's, and no stored scan after the run's ``as_of`` (then
    the same scans are visible; between the two instants only pending parcels can turn
    ``no_hub_arrival``, which no flag reads)."""
    run_as_of = parse_instant(run["as_of"])
    if int(run["store_version"]) != version or run["policy_key"] != key or as_of < run_as_of:
        return False
    limit = int(run_as_of.timestamp() * 1_000_000)
    return all(
        hi is not None and hi <= limit for _, _, _, hi in store.event_file_ranges(version=version)
    )


def refresh_flags(store: Store, policy: Policy, month: str, now: datetime) -> None:
    """Bring ``month``'s stored flags up to date: a closed month once, as of its close (kept
    as they are afterwards); an open month as of ``now``, recomputed only when an upload, the
    policy or the sites changed or a stored scan has become visible since the last run."""
    as_of, version = month_basis(store, month, now)
    with store.connect() as db:
        run = db.execute(
            "SELECT as_of, store_version, policy_key FROM anomaly_runs WHERE month=?", (month,)
        ).fetchone()
    if version is not None:
        if (
            run is not None
            and parse_instant(run["as_of"]) == as_of
            and int(run["store_version"]) == version
        ):
            return
    elif run is not None:
        current = store.version()
        if _unchanged_since(store, run, policy_key(policy, load_sites(store)), current, as_of):
            return
    computed = flags_for_month(store, policy, month, as_of, version)
    with store.transaction() as db:
        save_flags(store, db, computed, policy)


def _row(r: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": int(r["id"]),
        "code": r["code"],
        "carrier": r["carrier"],
        "waybill_no": r["waybill_no"],
        "site_code": r["site_code"],
        "day": r["day"],
        "detail": json.loads(r["detail"]),
        "status": r["status"],
    }


def list_flags(
    store: Store,
    policy: Policy,
    month: str,
    now: datetime,
    *,
    carrier: str | None = None,
) -> list[dict[str, Any]]:
    """The flags of ``month`` (brought up to date first); with ``carrier``, that carrier's
    parcels' flags and the hub-day flags holding any of its parcels."""
    refresh_flags(store, policy, month, now)
    sql = "SELECT * FROM anomaly_flags WHERE month=?"
    args: list[Any] = [month]
    if carrier is not None:
        sql += (
            " AND (carrier=? OR (carrier IS NULL AND id IN (SELECT flag_id FROM"
            " anomaly_flag_parcels WHERE month=? AND carrier=?)))"
        )
        args += [carrier, month, carrier]
    with store.connect() as db:
        return [_row(r) for r in db.execute(sql + " ORDER BY id", args)]


def get_flag(store: Store, flag_id: int) -> dict[str, Any]:
    """One stored flag; :class:`NotFoundError` if there is none."""
    with store.connect() as db:
        row = db.execute("SELECT * FROM anomaly_flags WHERE id=?", (flag_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no anomaly flag {flag_id}", code="flag_not_found", id=flag_id)
    return _row(row)


def flag_carriers(store: Store, flag_id: int) -> set[str]:
    """The carriers a flag concerns (its own, or those of the parcels a hub-day flag holds)."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT carrier FROM anomaly_flags WHERE id=? AND carrier IS NOT NULL UNION"
            " SELECT carrier FROM anomaly_flag_parcels WHERE flag_id=?",
            (flag_id, flag_id),
        )
        return {r[0] for r in rows}


def review_flag(
    store: Store, flag_id: int, *, decision: str, note: str | None, actor: str
) -> dict[str, Any]:
    """Record an auditor's decision on an open flag (audited). A reviewed flag is final."""
    if decision not in DECISIONS:
        raise InvalidValueError(
            f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}",
            code="invalid_decision",
            value=decision,
        )
    with store.transaction() as db:
        row = db.execute("SELECT * FROM anomaly_flags WHERE id=?", (flag_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no anomaly flag {flag_id}", code="flag_not_found", id=flag_id)
        if row["status"] != "open":
            raise ConflictError(
                f"anomaly flag {flag_id} is already {row['status']}",
                code="flag_already_reviewed",
                id=flag_id,
                status=row["status"],
            )
        db.execute(
            "UPDATE anomaly_flags SET status=?, reviewed_at=?, reviewed_by=?, note=? WHERE id=?",
            (decision, timestamp(), actor, note, flag_id),
        )
        back = on_confirmed(db, flag_id) if decision == "confirmed" else 0
        store.audit(
            db,
            actor,
            "anomaly.reviewed",
            f"anomaly:{flag_id}",
            old="open",
            new={"decision": decision, "note": note, "subsidy_put_back_parcels": back},
        )
    return get_flag(store, flag_id)


def reviews(store: Store, flag_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The review of each reviewed flag among ``flag_ids``: ``{id: {"status", "reviewed_at",
    "reviewed_by", "note"}}`` (an open flag has none)."""
    out: dict[int, dict[str, Any]] = {}
    with store.connect() as db:
        for start in range(0, len(flag_ids), 500):
            chunk = flag_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in db.execute(
                "SELECT id, status, reviewed_at, reviewed_by, note FROM anomaly_flags"
                f" WHERE status != 'open' AND id IN ({marks})",
                chunk,
            ):
                out[int(r["id"])] = {
                    "status": r["status"],
                    "reviewed_at": r["reviewed_at"],
                    "reviewed_by": r["reviewed_by"],
                    "note": r["note"],
                }
    return out


def parcel_flags(
    store: Store, policy: Policy, carrier: str, waybill_no: str, month: str | None, now: datetime
) -> list[dict[str, Any]]:
    """The flags on one parcel of ``month`` (its own and those of the hub-day holding it),
    brought up to date first, each with its review (:func:`reviews`) under ``"review"``."""
    if month is None:
        return []
    refresh_flags(store, policy, month, now)
    with store.connect() as db:
        rows = [
            _row(r)
            for r in db.execute(
                "SELECT * FROM anomaly_flags WHERE month=? AND ((carrier=? AND waybill_no=?)"
                " OR (carrier IS NULL AND id IN (SELECT flag_id FROM anomaly_flag_parcels"
                " WHERE month=? AND carrier=? AND waybill_no=?))) ORDER BY id",
                (month, carrier, waybill_no, month, carrier, waybill_no),
            )
        ]
    done = reviews(store, [f["id"] for f in rows])
    return [{**f, "review": done.get(f["id"])} for f in rows]

"""Sampled review (SPEC §12, the openIMIS claim-sampling practice), on closed months.

An auditor draws a reproducible random sample of a carrier's eligible parcels of a closed
month: the population is those parcels (the rule on the month's pinned store version, as of
its close) sorted by waybill number, and the sample is ``random.Random(seed).sample`` of it,
so the same seed always gives the same sample (the seed is recorded). Findings are recorded
per sampled parcel. The result: the error rate ``x / n`` (not confirmed / sampled), its 95%
Wilson interval (z = 1.959964) and ``over_claim_fen`` = the error rate x the month's
``claimed_fen`` of that carrier, rounded half up to the fen (exact integer arithmetic).
Finance may deduct it once: ``-over_claim_fen`` joins the carrier's next statement as an
adjustment (:func:`subsidy.settlement.holds.add_deduction`). Everything is audited.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from typing import Any

import polars as pl

from core.policy import Policy
from core.store import Store, timestamp
from core.timeutil import month_bounds, parse_instant
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.rule import parcel_statuses
from subsidy.settlement.holds import add_deduction
from subsidy.sites import load_sites

Z95 = 1.959964
FINDINGS: tuple[str, ...] = ("confirmed", "not_confirmed")
MAX_SAMPLE = 100_000


def wilson_interval(errors: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``errors / n`` (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = errors / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def over_claim_fen(errors: int, n: int, claimed_fen: int) -> int:
    """``errors / n x claimed_fen`` rounded half up to the fen, exactly."""
    if n == 0:
        return 0
    return (2 * errors * claimed_fen + n) // (2 * n)


def draw_sample(population: list[str], size: int, seed: int) -> list[str]:
    """The sample of ``size`` (at most the population) drawn with ``seed``, in draw order."""
    return random.Random(seed).sample(sorted(population), min(size, len(population)))


def _population(store: Store, policy: Policy, month: str, carrier: str) -> tuple[list[str], int]:
    """The carrier's eligible waybills of the closed ``month`` and its claimed fen."""
    with store.connect() as db:
        row = db.execute(
            "SELECT as_of, store_version FROM closed_months WHERE month=?", (month,)
        ).fetchone()
        if row is None:
            raise ConflictError(
                f"month {month} is not closed; sampled review is of closed months",
                code="month_not_closed",
                month=month,
            )
        claimed = db.execute(
            "SELECT subsidy_fen FROM closed_month_figures WHERE month=? AND period=? AND carrier=?",
            (month, month, carrier),
        ).fetchone()
    events = store.scan_events(carriers=[carrier], version=int(row["store_version"]))
    statuses = parcel_statuses(
        events, load_sites(store).lazy(), policy, parse_instant(row["as_of"])
    )
    waybills = (
        statuses.filter(
            (pl.col("month") == month)
            & (pl.col("carrier") == carrier)
            & (pl.col("status") == "eligible")
        )
        .select("waybill_no")
        .collect()["waybill_no"]
        .to_list()
    )
    return waybills, 0 if claimed is None else int(claimed[0])


def create_audit(
    store: Store,
    policy: Policy,
    *,
    month: str,
    carrier: str,
    sample_size: int,
    seed: int,
    actor: str,
) -> dict[str, Any]:
    """Draw and record a sample (see the module doc)."""
    month_bounds(month)
    if not 1 <= sample_size <= MAX_SAMPLE:
        raise InvalidValueError(
            f"sample_size must be 1..{MAX_SAMPLE}", code="invalid_sample_size", value=sample_size
        )
    population, claimed = _population(store, policy, month, carrier)
    if not population:
        raise ConflictError(
            f"{carrier} has no eligible parcel in {month} to sample",
            code="nothing_to_sample",
            month=month,
            carrier=carrier,
        )
    sample = draw_sample(population, sample_size, seed)
    with store.transaction() as db:
        cur = db.execute(
            "INSERT INTO audits (month, carrier, sample_size, seed, population, claimed_fen,"
            " sample, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                month,
                carrier,
                sample_size,
                seed,
                len(population),
                claimed,
                json.dumps(sample),
                timestamp(),
                actor,
            ),
        )
        audit_id = int(cur.lastrowid or 0)
        store.audit(
            db,
            actor,
            "audit.sampled",
            f"audit:{audit_id}",
            new={
                "month": month,
                "carrier": carrier,
                "sample_size": sample_size,
                "seed": seed,
                "population": len(population),
                "drawn": len(sample),
            },
        )
    return get_audit(store, audit_id)


def _audit_row(db: sqlite3.Connection, audit_id: int) -> sqlite3.Row:
    row = db.execute("SELECT * FROM audits WHERE id=?", (audit_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no audit {audit_id}", code="audit_not_found", id=audit_id)
    return row  # type: ignore[no-any-return]  # sqlite3 rows are untyped


def get_audit(store: Store, audit_id: int, *, carrier: str | None = None) -> dict[str, Any]:
    """The audit with its sample, findings and result; ``carrier`` limits who may see it."""
    with store.connect() as db:
        row = _audit_row(db, audit_id)
        if carrier is not None and row["carrier"] != carrier:
            raise NotFoundError(f"no audit {audit_id}", code="audit_not_found", id=audit_id)
        findings = {
            r["waybill_no"]: dict(r)
            for r in db.execute("SELECT * FROM audit_findings WHERE audit_id=?", (audit_id,))
        }
    sample: list[str] = json.loads(row["sample"])
    n = len(sample)
    errors = sum(1 for f in findings.values() if f["finding"] == "not_confirmed")
    low, high = wilson_interval(errors, n)
    over = over_claim_fen(errors, n, int(row["claimed_fen"]))
    return {
        "id": int(row["id"]),
        "month": row["month"],
        "carrier": row["carrier"],
        "sample_size": int(row["sample_size"]),
        "seed": int(row["seed"]),
        "population": int(row["population"]),
        "claimed_fen": int(row["claimed_fen"]),
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "sample": [
            {
                "waybill_no": w,
                "finding": findings.get(w, {}).get("finding"),
                "note": findings.get(w, {}).get("note"),
                "evidence": f"/v1/parcels/{row['carrier']}/{w}",
            }
            for w in sample
        ],
        "result": {
            "sampled": n,
            "reviewed": len(findings),
            "not_confirmed": errors,
            "complete": len(findings) == n,
            "error_rate": errors / n if n else 0.0,
            "wilson_low": low,
            "wilson_high": high,
            "over_claim_fen": over,
        },
        "deducted_fen": row["deducted_fen"],
        "deducted_at": row["deducted_at"],
        "deducted_by": row["deducted_by"],
    }


def add_finding(
    store: Store, audit_id: int, *, waybill_no: str, finding: str, note: str | None, actor: str
) -> dict[str, Any]:
    """Record (or correct, until deducted) the finding on one sampled parcel (audited)."""
    if finding not in FINDINGS:
        raise InvalidValueError(
            f"finding must be one of {', '.join(FINDINGS)}", code="invalid_finding", value=finding
        )
    with store.transaction() as db:
        row = _audit_row(db, audit_id)
        if waybill_no not in json.loads(row["sample"]):
            raise InvalidValueError(
                f"parcel {waybill_no} is not in the sample of audit {audit_id}",
                code="not_in_sample",
                waybill_no=waybill_no,
            )
        if row["deducted_at"] is not None:
            raise ConflictError(
                f"audit {audit_id} was deducted; its findings are final", code="audit_deducted"
            )
        old = db.execute(
            "SELECT finding FROM audit_findings WHERE audit_id=? AND waybill_no=?",
            (audit_id, waybill_no),
        ).fetchone()
        db.execute(
            "INSERT INTO audit_findings (audit_id, waybill_no, finding, note, at, by)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT (audit_id, waybill_no) DO UPDATE SET"
            " finding=excluded.finding, note=excluded.note, at=excluded.at, by=excluded.by",
            (audit_id, waybill_no, finding, note, timestamp(), actor),
        )
        store.audit(
            db,
            actor,
            "audit.finding",
            f"audit:{audit_id}:{waybill_no}",
            old=None if old is None else old[0],
            new={"finding": finding, "note": note},
        )
    return get_audit(store, audit_id)


def deduct(store: Store, audit_id: int, *, actor: str) -> dict[str, Any]:
    """Finance's choice: put ``-over_claim_fen`` into the carrier's next statement (once;
    every sampled parcel must have its finding)."""
    audit = get_audit(store, audit_id)
    if audit["deducted_at"] is not None:
        raise ConflictError(f"audit {audit_id} was already deducted", code="audit_deducted")
    if not audit["result"]["complete"]:
        raise ConflictError(
            f"audit {audit_id} has {audit['result']['reviewed']} of "
            f"{audit['result']['sampled']} findings; record them all first",
            code="audit_incomplete",
        )
    amount = int(audit["result"]["over_claim_fen"])
    with store.transaction() as db:
        cur = db.execute(
            "UPDATE audits SET deducted_fen=?, deducted_at=?, deducted_by=?"
            " WHERE id=? AND deducted_at IS NULL",
            (amount, timestamp(), actor, audit_id),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"audit {audit_id} was already deducted", code="audit_deducted")
        add_deduction(db, audit_id, audit["month"], audit["carrier"], amount)
        store.audit(
            db, actor, "audit.deducted", f"audit:{audit_id}", new={"over_claim_fen": amount}
        )
    return get_audit(store, audit_id)


def list_audits(store: Store, *, carrier: str | None = None) -> list[dict[str, Any]]:
    """Every audit (a carrier's only, with ``carrier``), newest first, as :func:`get_audit`
    answers it without its sample."""
    sql = "SELECT id FROM audits"
    args: tuple[str, ...] = ()
    if carrier is not None:
        sql, args = sql + " WHERE carrier=?", (carrier,)
    with store.connect() as db:
        ids = [int(r[0]) for r in db.execute(sql + " ORDER BY id DESC", args)]
    out = []
    for audit_id in ids:
        audit = get_audit(store, audit_id)
        del audit["sample"]
        out.append(audit)
    return out

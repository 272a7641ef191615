"""Month closing (月结) and prior-period adjustments (SPEC §6).

Finance closes a month once it is over. Closing computes the month's report as of that moment
(with every carrier, the center awards and any adjustments it carries) and freezes three
things in SQLite, in one transaction: the report document itself (served byte for byte ever
after, whatever ``as_of`` is asked), the store version it was computed at, and the digest of
the policy file it came from. Closed figures never change.

Events that arrive later for a closed month ``C`` change nothing in ``C``. They show up as a
*prior-period adjustment* line, per carrier, in the report of the next month that is still
open: for every closed month ``C`` in the run of closed months just before an open month
``M``::

    adjustment(C, carrier) = figures of C now  -  (frozen figures of C
                                                    + adjustments for C frozen in later closes)

so a difference is reported exactly once, in the first open report after it appeared. When
``M`` is closed in turn, its adjustment lines are frozen with it.

Money is integer fen; every count is a signed difference (an adjustment may be negative, e.g.
a parcel pending at the close that later ran out of time). Report documents carry, beside the
SPEC §8 fields, ``prior_period_adjustments``, ``adjustments_total`` and ``closed`` (the
freeze record, ``null`` for an open month); ``program_total_fen`` is the month's parcel
subsidies plus its adjustments plus the center awards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store, timestamp
from core.timeutil import (
    month_bounds,
    month_is_over,
    months_between,
    parse_month,
    prev_month,
    to_local,
)
from subsidy.exceptions import ConflictError, InvalidValueError
from subsidy.report import assemble_report, carrier_rows, center_awards, totals_of
from subsidy.results import month_counts
from subsidy.rule import INELIGIBLE_REASONS

#: The longest range a summary covers (ten years of months).
MAX_SUMMARY_MONTHS = 120


@dataclass(frozen=True)
class ClosedMonth:
    """The freeze record of a closed month (its report is kept beside it, byte for byte)."""

    month: str
    closed_at: str
    closed_by: str
    as_of: str
    store_version: int
    policy_digest: str
    policy_name: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready)."""
        return dict(self.__dict__)


_CLOSED_COLUMNS = ", ".join(ClosedMonth.__dataclass_fields__)


def render(doc: dict[str, Any]) -> bytes:
    """The one JSON serialization of a report: compact UTF-8, keys in document order."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- reading closes ----------------------------------------------------------------------------
def closed_months(store: Store) -> list[ClosedMonth]:
    """Every closed month, oldest first."""
    with store.connect() as db:
        rows = db.execute(f"SELECT {_CLOSED_COLUMNS} FROM closed_months ORDER BY month")
        return [ClosedMonth(**dict(r)) for r in rows]


def frozen_report(store: Store, month: str) -> bytes | None:
    """The frozen report document of a closed month, exactly as stored; ``None`` if open."""
    with store.connect() as db:
        row = db.execute("SELECT report_json FROM closed_months WHERE month=?", (month,)).fetchone()
    return None if row is None else row[0].encode("utf-8")


def _closed_set(store: Store) -> set[str]:
    with store.connect() as db:
        return {r[0] for r in db.execute("SELECT month FROM closed_months")}


def adjustment_sources(closed: set[str], month: str) -> list[str]:
    """The closed months whose later changes are reported in ``month``'s report.

    That is the run of closed months immediately before ``month`` (newest first); ``month``
    is then their next open month.
    """
    out: list[str] = []
    cur = prev_month(month)
    while cur in closed:
        out.append(cur)
        cur = prev_month(cur)
    return out


def _baselines(store: Store, periods: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per ``(period, carrier)``: frozen figures plus adjustments for it frozen since."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if not periods:
        return out
    with store.connect() as db:
        rows = db.execute(
            "SELECT period, carrier, eligible_parcels, subsidy_fen, pending_parcels, ineligible"
            f" FROM closed_month_figures WHERE period IN ({','.join('?' * len(periods))})",
            periods,
        ).fetchall()
    for r in rows:
        acc = out.setdefault((r["period"], r["carrier"]), _zero())
        _add(acc, {**dict(r), "ineligible": json.loads(r["ineligible"])})
    return out


# -- figures ----------------------------------------------------------------------------------
def _zero() -> dict[str, Any]:
    return {
        "eligible_parcels": 0,
        "subsidy_fen": 0,
        "pending_parcels": 0,
        "ineligible": dict.fromkeys(INELIGIBLE_REASONS, 0),
    }


def _add(acc: dict[str, Any], row: dict[str, Any], sign: int = 1) -> None:
    for key in ("eligible_parcels", "subsidy_fen", "pending_parcels"):
        acc[key] += sign * row[key]
    for reason, n in row["ineligible"].items():
        acc["ineligible"][reason] = acc["ineligible"].get(reason, 0) + sign * n


def _is_zero(fig: dict[str, Any]) -> bool:
    return not any(fig[k] for k in ("eligible_parcels", "subsidy_fen", "pending_parcels")) and (
        not any(fig["ineligible"].values())
    )


def _adjustments(
    counts: pl.DataFrame,
    policy: Policy,
    sources: list[str],
    baselines: dict[tuple[str, str], dict[str, Any]],
    carrier: str | None,
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for period in sorted(sources):
        live = {r["carrier"]: r for r in carrier_rows(counts, policy, period)}
        frozen = {c: fig for (p, c), fig in baselines.items() if p == period}
        for code in sorted(set(live) | set(frozen)):
            if carrier is not None and code != carrier:
                continue
            delta = _zero()
            if code in live:
                _add(delta, live[code])
            if code in frozen:
                _add(delta, frozen[code], sign=-1)
            if _is_zero(delta):
                continue
            lines.append(
                {
                    "carrier": code,
                    "carrier_name": policy.carriers.get(code, ""),
                    "period": period,
                    "eligible_parcels": delta["eligible_parcels"],
                    "subsidy_fen": delta["subsidy_fen"],
                    "subsidy_yuan": fen_to_yuan(delta["subsidy_fen"]),
                    "pending_parcels": delta["pending_parcels"],
                    "ineligible": delta["ineligible"],
                }
            )
    return lines


def _assemble(
    counts: pl.DataFrame,
    policy: Policy,
    month: str,
    as_of: datetime,
    awards: list[dict[str, Any]],
    adjustments: list[dict[str, Any]],
) -> dict[str, Any]:
    adjust_total = totals_of(adjustments)
    doc = assemble_report(
        counts, policy, month, as_of, awards, adjustments_fen=adjust_total["subsidy_fen"]
    )
    doc.update(prior_period_adjustments=adjustments, adjustments_total=adjust_total, closed=None)
    return doc


def check_reportable(month: str, now: datetime) -> None:
    """Refuse a month that has not begun yet (:class:`InvalidValueError`)."""
    start, _ = month_bounds(month)
    if start > to_local(now):
        raise InvalidValueError(
            f"month {month} has not begun yet (now is {to_local(now):%Y-%m-%d %H:%M} "
            "Asia/Shanghai); ask for a month up to the current one",
            code="month_not_begun",
            month=month,
            now=f"{to_local(now):%Y-%m-%d %H:%M}",
        )


def live_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> dict[str, Any]:
    """The report of an open month as of ``as_of``, with its prior-period adjustments.

    Without ``carrier`` this is the SPEC §8 report of :func:`subsidy.report.monthly_report`
    plus the adjustment fields; with it, the view of :func:`carrier_view` for that carrier.
    """
    month_bounds(month)
    sources = adjustment_sources(_closed_set(store), month)
    counts = month_counts(store, policy, [month, *sources], as_of, carrier=carrier)
    adjustments = _adjustments(counts, policy, sources, _baselines(store, sources), carrier)
    doc = _assemble(counts, policy, month, as_of, center_awards(store, as_of), adjustments)
    return doc if carrier is None else carrier_view(doc, carrier)


def carrier_view(doc: dict[str, Any], carrier: str) -> dict[str, Any]:
    """What an operator may see of a report: its carrier's rows and totals, nothing else.

    Other carriers' rows and adjustments are removed; the center awards and the program total
    (which spans every carrier) are blanked.
    """
    rows = [r for r in doc["carriers"] if r["carrier"] == carrier]
    adjustments = [a for a in doc["prior_period_adjustments"] if a["carrier"] == carrier]
    return {
        **doc,
        "carriers": rows,
        "totals": totals_of(rows),
        "center_awards": [],
        "program_total_fen": None,
        "program_total_yuan": None,
        "prior_period_adjustments": adjustments,
        "adjustments_total": totals_of(adjustments),
    }


def served_report(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
) -> bytes:
    """The JSON bytes of a month's report: the frozen bytes of a closed month (any ``as_of``),
    else the live report; with ``carrier``, that carrier's view of either.
    """
    frozen = frozen_report(store, month)
    if frozen is None:
        return render(live_report(store, policy, month, as_of, carrier=carrier))
    if carrier is None:
        return frozen
    return render(carrier_view(json.loads(frozen), carrier))


# -- closing ----------------------------------------------------------------------------------
def close_month(
    store: Store, policy: Policy, month: str, *, actor: str, now: datetime
) -> ClosedMonth:
    """Close ``month`` as of ``now``: freeze its report, the store version and policy digest.

    Runs under the store's writer lock, so no ingest commits while the figures are computed.
    :class:`InvalidValueError` if the month is not over yet; :class:`ConflictError` if it is
    already closed.
    """
    now = to_local(now)
    with store.writer_lock():
        check_closable(store, month, now)
        version = store.version()
        doc = live_report(store, policy, month, now)
        closed_at = timestamp()
        doc["closed"] = {
            "closed_at": closed_at,
            "closed_by": actor,
            "store_version": version,
            "policy_digest": policy.digest,
        }
        text = render(doc).decode("utf-8")
        figures = [(month, month, r["carrier"], r) for r in doc["carriers"]] + [
            (month, a["period"], a["carrier"], a) for a in doc["prior_period_adjustments"]
        ]
        record = ClosedMonth(
            month=month,
            closed_at=closed_at,
            closed_by=actor,
            as_of=doc["as_of"],
            store_version=version,
            policy_digest=policy.digest,
            policy_name=policy.name,
        )
        with store.transaction() as db:
            if db.execute("SELECT 1 FROM closed_months WHERE month=?", (month,)).fetchone():
                raise ConflictError(
                    f"month {month} is already closed", code="month_already_closed", month=month
                )
            db.execute(
                f"INSERT INTO closed_months ({_CLOSED_COLUMNS}, report_json)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (*record.as_dict().values(), text),
            )
            db.executemany(
                "INSERT INTO closed_month_figures (month, period, carrier, eligible_parcels,"
                " subsidy_fen, pending_parcels, ineligible) VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        m,
                        period,
                        code,
                        f["eligible_parcels"],
                        f["subsidy_fen"],
                        f["pending_parcels"],
                        json.dumps(f["ineligible"]),
                    )
                    for m, period, code, f in figures
                ],
            )
            store.audit(
                db,
                actor,
                "month.closed",
                f"month:{month}",
                new={
                    "store_version": version,
                    "policy_digest": policy.digest,
                    "as_of": doc["as_of"],
                    "subsidy_fen": doc["totals"]["subsidy_fen"],
                    "adjustments_fen": doc["adjustments_total"]["subsidy_fen"],
                    "program_total_fen": doc["program_total_fen"],
                },
            )
    return record


def check_closable(store: Store, month: str, now: datetime) -> None:
    """Refuse a month that cannot be closed at ``now``: :class:`InvalidValueError` while it is
    not over, :class:`ConflictError` once it is closed."""
    if not month_is_over(month, now):
        _, end = month_bounds(month)
        raise InvalidValueError(
            f"month {month} is not over yet; it can be closed from "
            f"{end:%Y-%m-%d %H:%M} Asia/Shanghai",
            code="month_not_over",
            month=month,
            closes_at=f"{end:%Y-%m-%d %H:%M}",
        )
    _refuse_if_closed(store, month)


def _refuse_if_closed(store: Store, month: str) -> None:
    with store.connect() as db:
        row = db.execute(
            "SELECT closed_at, closed_by FROM closed_months WHERE month=?", (month,)
        ).fetchone()
    if row is not None:
        raise ConflictError(
            f"month {month} is already closed (by {row['closed_by']} at {row['closed_at']}); "
            "its figures are frozen, later changes appear as adjustments in the next open month",
            code="month_closed",
            month=month,
            closed_by=row["closed_by"],
            closed_at=row["closed_at"],
        )


# -- summary ----------------------------------------------------------------------------------
def summary(
    store: Store,
    policy: Policy,
    first: str,
    last: str,
    as_of: datetime,
    *,
    now: datetime,
    carrier: str | None = None,
) -> dict[str, Any]:
    """The reports of ``first``..``last`` (both inclusive) added up, per carrier.

    Each month counts as it is served: closed months with their frozen figures, open ones as
    of ``as_of`` with their adjustments; the center awards count once.
    """
    parse_month(first)
    parse_month(last)
    if first > last:
        raise InvalidValueError(
            f"from {first} is after to {last}; give from <= to",
            code="bad_range",
            first=first,
            last=last,
        )
    check_reportable(last, now)
    months = months_between(first, last)
    if len(months) > MAX_SUMMARY_MONTHS:
        raise InvalidValueError(
            f"{len(months)} months asked; a summary covers at most {MAX_SUMMARY_MONTHS}",
            code="too_many_months",
            count=len(months),
            limit=MAX_SUMMARY_MONTHS,
        )
    closed = _closed_set(store)
    open_months = [m for m in months if m not in closed]
    sources = {m: adjustment_sources(closed, m) for m in open_months}
    needed = sorted({*open_months, *(s for src in sources.values() for s in src)})
    counts = month_counts(store, policy, needed, as_of, carrier=carrier) if needed else None
    baselines = _baselines(store, sorted({s for src in sources.values() for s in src}))
    awards = center_awards(store, as_of) if carrier is None else []
    docs = []
    for m in months:
        frozen = frozen_report(store, m) if m in closed else None
        if frozen is not None:
            doc = json.loads(frozen)
            docs.append(doc if carrier is None else carrier_view(doc, carrier))
        else:
            assert counts is not None
            adjustments = _adjustments(counts, policy, sources[m], baselines, carrier)
            docs.append(_assemble(counts, policy, m, as_of, awards, adjustments))
    return _add_up(docs, policy, first, last, as_of, awards, carrier)


def _add_up(
    docs: list[dict[str, Any]],
    policy: Policy,
    first: str,
    last: str,
    as_of: datetime,
    awards: list[dict[str, Any]],
    carrier: str | None,
) -> dict[str, Any]:
    per_carrier: dict[str, dict[str, Any]] = {}
    rates: dict[str, list[int]] = {}
    adjust: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for row in doc["carriers"]:
            _add(per_carrier.setdefault(row["carrier"], _zero()), row)
            known = rates.setdefault(row["carrier"], [])
            known.extend(r for r in row["rates_fen"] if r not in known)
        for line in doc["prior_period_adjustments"]:
            _add(adjust.setdefault(line["carrier"], _zero()), line)
    rows = [
        {
            "carrier": code,
            "carrier_name": policy.carriers.get(code, ""),
            "eligible_parcels": fig["eligible_parcels"],
            "rate_fen": rates[code][0] if len(rates[code]) == 1 else None,
            "rates_fen": rates[code],
            "subsidy_fen": fig["subsidy_fen"],
            "subsidy_yuan": fen_to_yuan(fig["subsidy_fen"]),
            "pending_parcels": fig["pending_parcels"],
            "ineligible": fig["ineligible"],
        }
        for code, fig in sorted(per_carrier.items())
    ]
    adjustments = [
        {
            "carrier": code,
            "carrier_name": policy.carriers.get(code, ""),
            "period": None,
            "eligible_parcels": fig["eligible_parcels"],
            "subsidy_fen": fig["subsidy_fen"],
            "subsidy_yuan": fen_to_yuan(fig["subsidy_fen"]),
            "pending_parcels": fig["pending_parcels"],
            "ineligible": fig["ineligible"],
        }
        for code, fig in sorted(adjust.items())
    ]
    totals = totals_of(rows)
    adjust_total = totals_of(adjustments)
    program = totals["subsidy_fen"] + adjust_total["subsidy_fen"]
    program += sum(a["award_fen"] for a in awards)
    return {
        "from": first,
        "to": last,
        "as_of": to_local(as_of).isoformat(),
        "policy": policy.name,
        "months": [
            {
                "month": d["month"],
                "closed": d["closed"] is not None,
                "subsidy_fen": d["totals"]["subsidy_fen"],
                "subsidy_yuan": d["totals"]["subsidy_yuan"],
                "eligible_parcels": d["totals"]["eligible_parcels"],
                "adjustments_fen": d["adjustments_total"]["subsidy_fen"],
            }
            for d in docs
        ],
        "carriers": rows,
        "totals": totals,
        "center_awards": awards,
        "program_total_fen": None if carrier is not None else program,
        "program_total_yuan": None if carrier is not None else fen_to_yuan(program),
        "prior_period_adjustments": adjustments,
        "adjustments_total": adjust_total,
    }

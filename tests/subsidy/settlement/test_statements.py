"""Statements made from a closed month's frozen figures (SPEC §11): negative claims carried
forward, held parcels taken out before pro-rating, a spent budget, audited creation."""

from __future__ import annotations

import json
import sqlite3

import pytest

from core.policy import Policy
from core.store import Store
from subsidy.closed import closed_months
from subsidy.closing import close_month
from subsidy.settlement.budgets import set_budget
from subsidy.settlement.statements import create_statements, list_statements
from tests.factories import cst, ingest_rows, parcel


def close(
    store: Store,
    month: str,
    own: dict[str, tuple[int, int]],
    adjustments: tuple[tuple[str, str, int], ...] = (),
) -> list[int]:
    """Freeze ``month`` with per-carrier ``(eligible, subsidy_fen)`` and adjustment lines
    ``(period, carrier, fen)`` as close_month stores them, and create its statements."""
    report = {"carriers": [{"carrier": c, "rate_fen": 20} for c in own]}
    with store.transaction() as db:
        db.execute(
            "INSERT INTO closed_months VALUES (?,?,?,?,?,?,?,?)",
            (month, f"{month}-28T00:00:00+08:00", "t", "x", 0, "d", None, json.dumps(report)),
        )
        rows = [(month, month, c, e, f) for c, (e, f) in own.items()]
        rows += [(month, p, c, 0, f) for p, c, f in adjustments]
        db.executemany("INSERT INTO closed_month_figures VALUES (?,?,?,?,?,0,'{}')", rows)
        return create_statements(store, db, month, actor="tests")


def by_carrier(store: Store, month: str) -> dict[str, dict[str, object]]:
    return {s.carrier: s.as_dict() for s in list_statements(store, month=month)}


def test_a_negative_claim_pays_nothing_and_is_carried_until_used_up(store: Store) -> None:
    """June: ZTO's only line is a -100 adjustment for May -> payable 0, -100 carried. July:
    60 claimed -100 carried = -40 -> payable 0, -40 carried. August: 500 - 40 = 460."""
    close(store, "2023-06", {"YTO": (5, 100)}, (("2023-05", "ZTO", -100),))
    june = by_carrier(store, "2023-06")
    assert (june["ZTO"]["claim_fen"], june["ZTO"]["payable_fen"], june["ZTO"]["carried_fen"]) == (
        -100,
        0,
        -100,
    )
    assert june["YTO"]["payable_fen"] == 100
    close(store, "2023-07", {"ZTO": (3, 60)})
    july = by_carrier(store, "2023-07")["ZTO"]
    assert july["adjustment_lines"] == [
        {
            "kind": "carried",
            "statement_id": june["ZTO"]["id"],
            "period": "2023-06",
            "amount_fen": -100,
        }
    ]
    assert (
        july["adjustment_fen"],
        july["claim_fen"],
        july["payable_fen"],
        july["carried_fen"],
    ) == (
        -100,
        -40,
        0,
        -40,
    )
    assert by_carrier(store, "2023-06")["ZTO"]["carried_into"] == july["id"]
    close(store, "2023-08", {"ZTO": (25, 500)})
    august = by_carrier(store, "2023-08")["ZTO"]
    assert (august["adjustment_fen"], august["payable_fen"], august["carried_fen"]) == (-40, 460, 0)


def test_held_parcels_come_out_of_the_claim_before_pro_rating(store: Store) -> None:
    """With open holds on 40 fen of ZTO's parcels, ZTO claims 60 - 40 = 20; the budget of 50
    then covers 20 + 40 = 60 only in part: 17 + 33 (largest remainder, YTO's .33 < ZTO's .67)."""
    flags = [  # (month, status, parcels held): ZT1 twice, ZT2 once, ZT3 only by a cleared flag
        ("2023-05", "open", [("ZTO", "ZT1"), ("ZTO", "ZT2")]),
        ("2023-05", "open", [("ZTO", "ZT1")]),
        ("2023-05", "cleared", [("ZTO", "ZT3")]),
        ("2023-04", "open", [("YTO", "YT1")]),
    ]
    with store.transaction() as db:  # as subsidy.anomalies.save_flags keeps them
        for i, (month, status, held) in enumerate(flags, start=1):
            db.execute(
                "INSERT INTO anomaly_flags (id, flag_key, month, code, site_code, day, detail,"
                " held, status, computed_at)"
                " VALUES (?,?,?,'hub_spike','H','2023-05-01','{}',1,?,'t')",
                (i, str(i), month, status),
            )
            db.executemany(
                "INSERT INTO anomaly_flag_parcels VALUES (?,?,?,?,20)",
                [(i, month, c, w) for c, w in held],
            )
    set_budget(store, 2023, amount_fen=50, document_no="预算", actor="tests")
    close(store, "2023-05", {"ZTO": (3, 60), "YTO": (2, 40)})
    rows = by_carrier(store, "2023-05")
    assert (rows["ZTO"]["held_fen"], rows["ZTO"]["claim_fen"], rows["YTO"]["held_fen"]) == (
        40,
        20,
        0,
    )
    assert (rows["ZTO"]["payable_fen"], rows["YTO"]["payable_fen"]) == (17, 33)
    assert all(r["prorated"] for r in rows.values())


def test_a_spent_budget_pays_nothing_until_raised(store: Store) -> None:
    set_budget(store, 2023, amount_fen=100, document_no="预算", actor="tests")
    close(store, "2023-05", {"ZTO": (5, 100)})
    close(store, "2023-06", {"ZTO": (5, 100)})
    june = by_carrier(store, "2023-06")["ZTO"]
    assert (june["payable_fen"], june["budget_note"], june["forfeited_fen"]) == (
        0,
        "budget_spent",
        100,
    )
    raised = set_budget(store, 2023, amount_fen=300, document_no="追加", actor="tests")
    assert (raised.committed_fen, raised.remaining_fen) == (100, 200)
    close(store, "2023-07", {"ZTO": (5, 100)})
    assert by_carrier(store, "2023-07")["ZTO"]["payable_fen"] == 100


def test_a_month_without_figures_makes_no_statement(store: Store) -> None:
    assert close(store, "2023-05", {}) == []


def test_closing_and_its_statements_commit_together(store: Store, policy: Policy) -> None:
    """When the statements cannot be written, the month is not closed either; once they can,
    closing makes one statement per carrier from the frozen figures."""
    # (arrivals by day: one at midnight would be held by an off_hours flag, SPEC §12)
    ingest_rows(
        store, parcel("ZT100001", cst(2023, 5, 3, 9)) + parcel("ZT100002", cst(2023, 5, 4, 9))
    )
    with store.transaction() as db:
        db.execute(
            "CREATE TRIGGER no_statements BEFORE INSERT ON statements"
            " BEGIN SELECT RAISE(ABORT, 'statements refused'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="statements refused"):
        close_month(store, policy, "2023-05", actor="tests", now=cst(2023, 6, 2))
    assert closed_months(store) == [] and list_statements(store) == []
    with store.transaction() as db:
        db.execute("DROP TRIGGER no_statements")
    close_month(store, policy, "2023-05", actor="tests", now=cst(2023, 6, 2))
    [s] = list_statements(store, month="2023-05")
    assert (s.carrier, s.eligible_parcels, s.claimed_fen, s.rate_fen, s.payable_fen) == (
        "ZTO", 2, 40, 20, 40,
    )  # fmt: skip

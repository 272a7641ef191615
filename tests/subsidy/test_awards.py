"""The one-time center award (subsidy.awards): amounts, centers, one per center, steps."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.policy import Policy
from core.store import Store
from ingest.ledger import read_audit_log
from subsidy.awards import advance_award, get_award, list_awards, record_award
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.report import monthly_report
from tests.factories import CENTER, HUB, LATE_CENTER, cst

TODAY = date(2024, 1, 1)


def _record(store: Store, policy: Policy, **change: Any) -> Any:
    args: dict[str, Any] = {
        "site_code": CENTER,
        "accredited_on": date(2023, 1, 5),
        "document_no": "济阳商务〔2023〕1号",
        "award_fen": policy.award_cap_fen,
        "actor": "finance",
        "today": TODAY,
    }
    return record_award(store, policy, **(args | change))


def test_an_award_of_the_cap_is_recorded_accredited(store: Store, policy: Policy) -> None:
    """500,000 yuan exactly is allowed; the award starts accredited, with the center's name."""
    award = _record(store, policy)
    assert (award.status, award.award_fen, award.site_name) == (
        "accredited",
        50_000_000,
        "济阳区级配送中心",
    )
    assert award.as_dict()["award_yuan"] == "500000.00"
    assert list_awards(store) == [award] and get_award(store, award.id) == award


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"award_fen": 50_000_001}, "at most the cap", id="one-fen-above-cap"),
        pytest.param({"award_fen": 0}, "more than 0", id="zero"),
        pytest.param({"award_fen": -5}, "more than 0", id="negative"),
        pytest.param({"award_fen": 100.0}, "integer fen", id="float"),
        pytest.param({"award_fen": True}, "integer fen", id="bool"),
        pytest.param({"site_code": HUB}, "village_hub", id="village-hub"),
        pytest.param({"site_code": "NOPE"}, "not in the sites registry", id="unknown"),
        pytest.param({"accredited_on": date(2024, 1, 2)}, "in the future", id="future"),
        pytest.param({"document_no": "  "}, "document_no", id="no-document"),
    ],
)
def test_an_award_breaking_a_rule_is_refused(
    store: Store, policy: Policy, change: dict[str, Any], message: str
) -> None:
    """Above the cap, not integer fen, not a district center, accredited in the future, no
    document: refused with the reason, nothing recorded."""
    with pytest.raises(InvalidValueError, match=message):
        _record(store, policy, **change)
    assert list_awards(store) == []


def test_at_most_one_award_per_center_ever(store: Store, policy: Policy) -> None:
    """A second award for the same center is a conflict, even after the first is paid; another
    center may have its own."""
    first = _record(store, policy)
    advance_award(store, first.id, "approved", actor="finance", name="Wang Fang")
    advance_award(store, first.id, "paid", actor="finance")
    with pytest.raises(ConflictError, match="at most one award per center"):
        _record(store, policy, award_fen=1)
    other = _record(store, policy, site_code=LATE_CENTER, award_fen=1)
    assert [a.site_code for a in list_awards(store)] == [CENTER, LATE_CENTER]
    assert other.status == "accredited"


def test_steps_go_forward_one_at_a_time_and_are_audited(store: Store, policy: Policy) -> None:
    """accredited -> approved -> paid; skipping or going back is a conflict; each step is an
    audit line with the old and the new status, and who did it when."""
    award = _record(store, policy)
    with pytest.raises(ConflictError, match="only from approved"):
        advance_award(store, award.id, "paid", actor="finance")
    approved = advance_award(store, award.id, "approved", actor="fin-a", name="fin-a")
    assert (approved.status, approved.approved_by) == ("approved", "fin-a")
    with pytest.raises(ConflictError):
        advance_award(store, award.id, "approved", actor="fin-a")
    paid = advance_award(store, award.id, "paid", actor="fin-b")
    assert (paid.status, paid.paid_by, paid.approved_by) == ("paid", "fin-b", "fin-a")
    with pytest.raises(InvalidValueError):
        advance_award(store, award.id, "accredited", actor="fin-b")
    lines = read_audit_log(store, action="award")
    assert [(x["action"], x["actor"]) for x in lines] == [
        ("award.recorded", "finance"),
        ("award.approved", "fin-a"),
        ("award.paid", "fin-b"),
    ]
    assert lines[2]["old_value"] == {"status": "approved"}
    assert lines[2]["new_value"] == {"status": "paid"}


def test_an_unknown_award_is_not_found(store: Store) -> None:
    """Moving or reading an award that does not exist says so."""
    with pytest.raises(NotFoundError):
        get_award(store, 7)
    with pytest.raises(NotFoundError):
        advance_award(store, 7, "approved", actor="finance")


def test_a_report_shows_the_awards_accredited_by_its_as_of(store: Store, policy: Policy) -> None:
    """The award appears beside the subsidies from its accreditation date on (Asia/Shanghai);
    a look back to before it shows none, and the program total follows."""
    _record(store, policy, accredited_on=date(2023, 6, 10))
    before = monthly_report(store, policy, "2023-06", cst(2023, 6, 9, 23, 59, 59))
    on_the_day = monthly_report(store, policy, "2023-06", cst(2023, 6, 10))
    assert (before.center_awards, before.program_total_fen) == ([], 0)
    assert [a.site_code for a in on_the_day.center_awards] == [CENTER]
    assert on_the_day.program_total_fen == policy.award_cap_fen
    # an earlier month's report does not list it; a later one lists it without counting it
    may = monthly_report(store, policy, "2023-05", cst(2023, 7, 1))
    july = monthly_report(store, policy, "2023-07", cst(2023, 8, 1))
    assert (may.center_awards, may.program_total_fen) == ([], 0)
    assert [a.counted for a in july.center_awards] == [False]
    assert july.program_total_fen == 0

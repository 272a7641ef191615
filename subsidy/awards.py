"""The one-time award to the accredited district center (SPEC §7).

An award is recorded after accreditation (经认定后) with its date and document number, then
moves ``accredited -> approved -> paid``, one step at a time, never back. At most one award per
center, ever; its amount is integer fen, at most the policy's ``award_cap_fen`` (default
50,000,000 fen = 500,000 yuan). Every change is written to the audit log with the old and the
new value.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.money import fen_to_yuan
from core.policy import Policy
from core.store import Store, timestamp
from subsidy.exceptions import ConflictError, InvalidValueError, NotFoundError
from subsidy.settlement.four_eyes import require_other_person

AWARD_STATUSES: tuple[str, ...] = ("accredited", "approved", "paid")
#: The status an award must have to move to the key's status.
_PREVIOUS = {"approved": "accredited", "paid": "approved"}


@dataclass(frozen=True)
class Award:
    """A center award as stored; money in fen, dates ISO text (Asia/Shanghai)."""

    id: int
    site_code: str
    site_name: str | None
    accredited_on: str
    document_no: str
    award_fen: int
    status: str
    created_at: str
    created_by: str | None
    approved_at: str | None
    approved_by: str | None
    paid_at: str | None
    paid_by: str | None
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Award:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-ready), with the amount also as a yuan string."""
        return {**self.__dict__, "award_yuan": fen_to_yuan(self.award_fen)}


_SELECT = (
    "SELECT a.*, s.name AS site_name FROM center_awards a"
    " LEFT JOIN sites s ON s.site_code = a.site_code"
)


def list_awards(store: Store) -> list[Award]:
    """Every award, in the order they were recorded."""
    with store.connect() as db:
        return [Award.from_row(r) for r in db.execute(_SELECT + " ORDER BY a.id")]


def get_award(store: Store, award_id: int) -> Award:
    """One award; :class:`NotFoundError` if there is none with that id."""
    with store.connect() as db:
        row = db.execute(_SELECT + " WHERE a.id=?", (award_id,)).fetchone()
    if row is None:
        raise NotFoundError(
            f"no center award with id {award_id}", code="award_not_found", award_id=award_id
        )
    return Award.from_row(row)


def _check_values(
    policy: Policy, award_fen: int, doc: str, accredited_on: date, today: date
) -> None:
    """The award's own values: integer fen within the cap, a document number, a past date."""
    if isinstance(award_fen, bool) or not isinstance(award_fen, int):
        raise InvalidValueError(
            f"award_fen must be integer fen, got {award_fen!r}",
            code="award_fen_not_integer",
            value=award_fen,
        )
    if not 0 < award_fen <= policy.award_cap_fen:
        raise InvalidValueError(
            f"award of {award_fen} fen ({fen_to_yuan(award_fen)} yuan) is not allowed: it must "
            f"be more than 0 and at most the cap of {policy.award_cap_fen} fen "
            f"({fen_to_yuan(policy.award_cap_fen)} yuan, award_cap_fen)",
            code="award_out_of_range",
            award_fen=award_fen,
            award_yuan=fen_to_yuan(award_fen),
            cap_fen=policy.award_cap_fen,
            cap_yuan=fen_to_yuan(policy.award_cap_fen),
        )
    if not doc:
        raise InvalidValueError(
            "document_no (认定文号) is empty; give the accreditation document",
            code="document_no_empty",
        )
    if accredited_on > today:
        raise InvalidValueError(
            f"accredited_on {accredited_on} is in the future (today is {today}); "
            "an award is recorded after accreditation",
            code="accredited_in_future",
            accredited_on=accredited_on.isoformat(),
            today=today.isoformat(),
        )


def _check_center(db: sqlite3.Connection, code: str) -> None:
    """The site is a registered district center that has no award yet (one per center, ever)."""
    site = db.execute("SELECT kind FROM sites WHERE site_code=?", (code,)).fetchone()
    if site is None:
        raise InvalidValueError(
            f"site {code!r} is not in the sites registry; import the registry first",
            code="site_not_registered",
            site_code=code,
        )
    if site["kind"] != "district_center":
        raise InvalidValueError(
            f"site {code!r} is a {site['kind']}; only a district_center (区级配送中心) "
            "can receive the center award",
            code="site_not_center",
            site_code=code,
            kind=site["kind"],
        )
    existing = db.execute(
        "SELECT id, status, created_at FROM center_awards WHERE site_code=?", (code,)
    ).fetchone()
    if existing is not None:
        raise ConflictError(
            f"center {code} already has award {existing['id']} ({existing['status']}, "
            f"recorded {existing['created_at']}); at most one award per center, ever",
            code="award_exists",
            site_code=code,
            award_id=existing["id"],
            status=existing["status"],
            created_at=existing["created_at"],
        )


def record_award(
    store: Store,
    policy: Policy,
    *,
    site_code: str,
    accredited_on: date,
    document_no: str,
    award_fen: int,
    actor: str,
    today: date,
    name: str | None = None,
) -> Award:
    """Record the accreditation of a district center and its award (status ``accredited``).

    Refused (:class:`InvalidValueError`) when the amount is not 1..``award_cap_fen`` fen, the
    accreditation date lies after ``today``, the document number is empty or the site is not a
    ``district_center`` of the registry; :class:`ConflictError` when the center already has an
    award (at most one per center, ever).
    """
    code = site_code.strip()
    doc = document_no.strip()
    _check_values(policy, award_fen, doc, accredited_on, today)
    with store.transaction() as db:
        _check_center(db, code)
        now = timestamp()
        try:
            cur = db.execute(
                "INSERT INTO center_awards (site_code, accredited_on, document_no, award_fen,"
                " status, created_at, updated_at, created_by, created_name)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    code,
                    accredited_on.isoformat(),
                    doc,
                    award_fen,
                    "accredited",
                    now,
                    now,
                    actor,
                    name,
                ),
            )
        except sqlite3.IntegrityError:  # a concurrent second award for the same center
            raise ConflictError(
                f"center {code} already has an award; at most one award per center, ever",
                code="award_exists_now",
                site_code=code,
            ) from None
        award = Award.from_row(db.execute(_SELECT + " WHERE a.id=?", (cur.lastrowid,)).fetchone())
        store.audit(db, actor, "award.recorded", f"award:{award.id}", new=award.as_dict())
    return award


def advance_award(
    store: Store, award_id: int, status: str, *, actor: str, name: str | None = None
) -> Award:
    """Move an award one step: to ``approved`` (from accredited) or ``paid`` (from approved).

    :class:`ConflictError` when the award is not in the status that precedes ``status``, or
    when ``name`` (the approver's) is missing or the recorder's (four eyes, SPEC §7).
    """
    if status not in _PREVIOUS:
        raise InvalidValueError(
            f"an award can move to approved or paid, not {status!r}",
            code="award_bad_step",
            status=status,
        )
    with store.transaction() as db:
        row = db.execute(_SELECT + " WHERE a.id=?", (award_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no center award with id {award_id}", code="award_not_found", award_id=award_id
            )
        before = Award.from_row(row)
        if before.status != _PREVIOUS[status]:
            raise ConflictError(
                f"award {award_id} is {before.status}; it can become {status} only from "
                f"{_PREVIOUS[status]} (accredited -> approved -> paid)",
                code="award_wrong_status",
                award_id=award_id,
                status=before.status,
                target=status,
                required=_PREVIOUS[status],
            )
        if status == "approved":  # four eyes: never the person who recorded it
            require_other_person(row["created_name"], name, what="approve this award")
        now = timestamp()
        db.execute(
            f"UPDATE center_awards SET status=?, updated_at=?, {status}_at=?, {status}_by=?"
            " WHERE id=?",
            (status, now, now, actor, award_id),
        )
        after = Award.from_row(db.execute(_SELECT + " WHERE a.id=?", (award_id,)).fetchone())
        store.audit(
            db,
            actor,
            f"award.{status}",
            f"award:{award_id}",
            old={"status": before.status},
            new={"status": after.status},
        )
    return after

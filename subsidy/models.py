"""The report documents, typed: built once in the domain, rendered at the edge.

- :class:`MonthlyReport` is the monthly report of SPEC §8 with the prior-period adjustments
  and the closing of SPEC §6 and the center awards of SPEC §7. It is built by
  :func:`subsidy.report.build_report` (the only place one is assembled from figures) or
  loaded from a closed month's frozen JSON (:func:`subsidy.closed.frozen_report`).
- :class:`Summary` adds the served reports of a range of months up per carrier
  (:func:`subsidy.summary.summary`).
- :class:`ClosedMonth` is the freeze record of a closed month.

The API uses them as ``response_model``; :mod:`subsidy.exports` renders them as JSON, CSV and
XLSX; the console's templates, the CLI and the scheduler's drafts read their attributes. The
field order is the key order of the JSON documents (a closed month's frozen JSON reloads into
the same bytes). Money is integer fen (``*_fen``); yuan appear only as formatted strings
(``*_yuan``, see :func:`core.money.fen_to_yuan`). Instants are aware, in Asia/Shanghai, and
render as ISO 8601 with their offset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from core.money import fen_to_yuan
from core.timeutil import TZ
from subsidy.rule import INELIGIBLE_REASONS

Fen = Annotated[int, Field(description="integer fen (分, 0.01 yuan)")]
Yuan = Annotated[str, Field(description='yuan formatted with two decimals, e.g. "24.60"')]


def _in_shanghai(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("an instant needs its UTC offset (resolve it at the edge)")
    return value.astimezone(TZ)


#: An aware instant, kept in Asia/Shanghai, rendered as ISO 8601 with its offset.
Instant = Annotated[
    datetime,
    AfterValidator(_in_shanghai),
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
]

_DOCUMENT = ConfigDict(extra="forbid")


class Ineligible(BaseModel):
    """Ineligible parcels per reason (negative in an adjustment: fewer than frozen)."""

    model_config = _DOCUMENT

    no_hub_arrival: int
    late_hub_arrival: int
    outside_policy_window: int


if tuple(Ineligible.model_fields) != INELIGIBLE_REASONS:  # one field per reason of the rule
    raise RuntimeError(f"Ineligible's fields differ from the rule's {INELIGIBLE_REASONS}")


class CarrierRow(BaseModel):
    """One carrier's figures for the month."""

    model_config = _DOCUMENT

    carrier: str
    carrier_name: str
    eligible_parcels: int
    rate_fen: int | None = Field(description="the rate in force, if one rate for the month")
    rates_fen: list[int]
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible


class Totals(BaseModel):
    """Figures added up over carriers."""

    model_config = _DOCUMENT

    eligible_parcels: int
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible


class Adjustment(BaseModel):
    """A prior-period adjustment: how a closed month's figures changed since they were frozen."""

    model_config = _DOCUMENT

    carrier: str
    carrier_name: str
    period: str | None = Field(description="the closed month the change belongs to")
    eligible_parcels: int
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible


class ReportAward(BaseModel):
    """A center award as shown beside the parcel subsidies."""

    model_config = _DOCUMENT

    site_code: str
    site_name: str | None
    accredited_on: date
    document_no: str
    award_fen: Fen
    status: Literal["accredited", "approved", "paid"]
    award_yuan: Yuan
    # SPEC §7, counted once (subsidy.awards_in_report); null in reports frozen before the rule
    counted_in: str | None = Field(default=None, description="the month whose total counts it")
    counted: bool | None = Field(default=None, description="adds to this report's total")
    prior_period: bool | None = Field(
        default=None, description="counted here, though accredited in an earlier closed month"
    )


class Closing(BaseModel):
    """How a closed month was frozen."""

    model_config = _DOCUMENT

    closed_at: str
    closed_by: str
    store_version: int
    policy_digest: str = Field(description="SHA-256 of the policy file the figures came from")


class MonthlyReport(BaseModel):
    """The report of SPEC §8, with the prior-period adjustments and the closing, if any.

    ``program_total_fen`` = the month's subsidies + its adjustments + the center awards. For an
    operator, only its carrier's row appears and the awards and program total are blank.
    """

    model_config = _DOCUMENT

    month: str
    as_of: Instant
    policy: str
    carriers: list[CarrierRow]
    totals: Totals
    center_awards: list[ReportAward]
    program_total_fen: Fen | None
    program_total_yuan: Yuan | None
    prior_period_adjustments: list[Adjustment]
    adjustments_total: Totals
    closed: Closing | None = Field(description="null while the month is open")

    def carrier_view(self, carrier: str) -> MonthlyReport:
        """What an operator may see: its carrier's rows and totals, nothing else.

        Other carriers' rows and adjustments are removed; the center awards and the program
        total (which span every carrier) are blanked.
        """
        rows = [r for r in self.carriers if r.carrier == carrier]
        adjustments = [a for a in self.prior_period_adjustments if a.carrier == carrier]
        return self.model_copy(
            update={
                "carriers": rows,
                "totals": added_up(rows).totals(),
                "center_awards": [],
                "program_total_fen": None,
                "program_total_yuan": None,
                "prior_period_adjustments": adjustments,
                "adjustments_total": added_up(adjustments).totals(),
            }
        )

    def figures_digest(self) -> str:
        """A digest of the figures a close freezes (everything but ``as_of`` and ``closed``):
        what a confirmation names, so a close can refuse figures that changed since."""
        figures = self.model_dump(mode="json", exclude={"as_of", "closed"})
        text = json.dumps(figures, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SummaryMonth(BaseModel):
    """One month's line of a summary."""

    model_config = _DOCUMENT

    month: str
    closed: bool
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    eligible_parcels: int
    adjustments_fen: Fen


class Summary(BaseModel):
    """The monthly reports of a range of months, added up per carrier."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, serialize_by_alias=True)

    from_: str = Field(validation_alias="from", serialization_alias="from")
    to: str
    as_of: Instant
    policy: str
    months: list[SummaryMonth]
    carriers: list[CarrierRow]
    totals: Totals
    center_awards: list[ReportAward]
    program_total_fen: Fen | None
    program_total_yuan: Yuan | None
    prior_period_adjustments: list[Adjustment]
    adjustments_total: Totals


class ClosedMonth(BaseModel):
    """A closed month: when, by whom, and what its figures were computed from."""

    model_config = _DOCUMENT

    month: str
    closed_at: str
    closed_by: str
    as_of: str
    store_version: int
    policy_digest: str
    policy_name: str | None


# -- figures ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    """Parcel counts and their subsidy (fen), signed: what a carrier row, a total and an
    adjustment share, with the arithmetic adjustments and summaries need."""

    eligible_parcels: int = 0
    subsidy_fen: int = 0
    pending_parcels: int = 0
    #: per reason, in the order of :data:`subsidy.rule.INELIGIBLE_REASONS`
    ineligible: tuple[int, ...] = (0,) * len(INELIGIBLE_REASONS)

    @classmethod
    def of(cls, row: CarrierRow | Totals | Adjustment) -> Figures:
        """The figures of a document row."""
        return cls(
            row.eligible_parcels,
            row.subsidy_fen,
            row.pending_parcels,
            tuple(getattr(row.ineligible, r) for r in INELIGIBLE_REASONS),
        )

    @classmethod
    def of_counts(
        cls, rec: Mapping[str, int], ineligible: Mapping[str, int] | None = None
    ) -> Figures:
        """The figures of a counts row (:data:`subsidy.counts.COUNTS_SCHEMA`: one column per
        reason), or of a stored row whose reasons are given apart as ``ineligible``."""
        reasons = rec if ineligible is None else ineligible
        return cls(
            rec["eligible_parcels"],
            rec["subsidy_fen"],
            rec["pending_parcels"],
            tuple(reasons.get(r, 0) for r in INELIGIBLE_REASONS),
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.eligible_parcels + other.eligible_parcels,
            self.subsidy_fen + other.subsidy_fen,
            self.pending_parcels + other.pending_parcels,
            tuple(a + b for a, b in zip(self.ineligible, other.ineligible, strict=True)),
        )

    def __neg__(self) -> Figures:
        return Figures(
            -self.eligible_parcels,
            -self.subsidy_fen,
            -self.pending_parcels,
            tuple(-n for n in self.ineligible),
        )

    def __sub__(self, other: Figures) -> Figures:
        return self + -other

    def __bool__(self) -> bool:
        """Whether any figure is not zero."""
        return any((self.eligible_parcels, self.subsidy_fen, self.pending_parcels)) or any(
            self.ineligible
        )

    def ineligible_of(self) -> Ineligible:
        """The per-reason counts as the documents show them."""
        return Ineligible(**dict(zip(INELIGIBLE_REASONS, self.ineligible, strict=True)))

    def totals(self) -> Totals:
        """These figures as a totals line."""
        return Totals(
            eligible_parcels=self.eligible_parcels,
            subsidy_fen=self.subsidy_fen,
            subsidy_yuan=fen_to_yuan(self.subsidy_fen),
            pending_parcels=self.pending_parcels,
            ineligible=self.ineligible_of(),
        )

    def carrier_row(self, carrier: str, carrier_name: str, rates_fen: list[int]) -> CarrierRow:
        """These figures as a carrier's row; ``rate_fen`` is set when one rate applied."""
        return CarrierRow(
            carrier=carrier,
            carrier_name=carrier_name,
            eligible_parcels=self.eligible_parcels,
            rate_fen=rates_fen[0] if len(rates_fen) == 1 else None,
            rates_fen=rates_fen,
            subsidy_fen=self.subsidy_fen,
            subsidy_yuan=fen_to_yuan(self.subsidy_fen),
            pending_parcels=self.pending_parcels,
            ineligible=self.ineligible_of(),
        )

    def adjustment(self, carrier: str, carrier_name: str, period: str | None) -> Adjustment:
        """These figures (a difference) as an adjustment line of ``period``."""
        return Adjustment(
            carrier=carrier,
            carrier_name=carrier_name,
            period=period,
            eligible_parcels=self.eligible_parcels,
            subsidy_fen=self.subsidy_fen,
            subsidy_yuan=fen_to_yuan(self.subsidy_fen),
            pending_parcels=self.pending_parcels,
            ineligible=self.ineligible_of(),
        )


def added_up(rows: Iterable[CarrierRow | Totals | Adjustment]) -> Figures:
    """The sum of the rows' figures."""
    out = Figures()
    for row in rows:
        out += Figures.of(row)
    return out

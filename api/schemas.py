"""Request and response models of the API (they document ``/openapi.json``).

Money is integer fen (``*_fen``); yuan appear only as formatted strings (``*_yuan``). Times
are ISO 8601 with their Asia/Shanghai offset.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from subsidy.rule import INELIGIBLE_REASONS

Fen = Annotated[int, Field(description="integer fen (分, 0.01 yuan)")]
Yuan = Annotated[str, Field(description='yuan formatted with two decimals, e.g. "24.60"')]

#: Ineligible parcels per reason (one field per reason of the rule).
Ineligible: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Ineligible",
    __doc__="Ineligible parcels per reason (negative in an adjustment: fewer than frozen).",
    **{reason: (int, ...) for reason in INELIGIBLE_REASONS},
)


class Health(BaseModel):
    """The service is up and its store answers."""

    status: Literal["ok"]


# -- uploads ----------------------------------------------------------------------------------
UploadStatus = Literal["received", "ingesting", "ingested", "refused"]


class UploadOut(BaseModel):
    """An upload and what its ingestion did."""

    id: int
    sha256: str = Field(description="SHA-256 of the file's bytes: its identity")
    status: UploadStatus = Field(
        description="received -> ingesting -> ingested, or refused (see error)"
    )
    duplicate: bool = Field(description="true when these bytes had been uploaded before")
    carrier: str | None
    filename: str | None = Field(description="the client's file name, for display only")
    size_bytes: int
    source: str = Field(description="api, cli or inbox")
    uploaded_by: str | None
    received_at: str
    format: str | None = Field(description="parquet or csv, once read")
    rows_read: int
    accepted: int = Field(description="events stored (new, valid, not duplicates)")
    rejected: int
    rejected_by_reason: dict[str, int]
    duplicates: int = Field(description="rows already stored or repeated within the file")
    error: str | None = Field(description="why the file was refused, when it was")
    ingested_at: str | None
    store_version: int | None


class UploadList(BaseModel):
    """A page of uploads, newest first."""

    items: list[UploadOut]
    next_before: int | None = Field(description="pass as before= for the next page; null at end")


class RejectOut(BaseModel):
    """A rejected row: its number in the file, the reason, and its values as read."""

    row_no: int
    reason: str
    waybill_no: str | None
    scan_type: str | None
    site_code: str | None
    scan_time: str | None
    carrier: str | None
    next_site_code: str | None


class RejectPage(BaseModel):
    """A page of an upload's rejected rows, by row number."""

    upload_id: int
    rejected: int = Field(description="rejected rows of the upload in all")
    items: list[RejectOut]
    next_after: int | None = Field(description="pass as after= for the next page; null at end")


# -- reports ----------------------------------------------------------------------------------
class CarrierRow(BaseModel):
    """One carrier's figures for the month."""

    carrier: str
    carrier_name: str
    eligible_parcels: int
    rate_fen: int | None = Field(description="the rate in force, if one rate for the month")
    rates_fen: list[int]
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible  # type: ignore[valid-type]


class Totals(BaseModel):
    """Figures added up over carriers."""

    eligible_parcels: int
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible  # type: ignore[valid-type]


class Adjustment(BaseModel):
    """A prior-period adjustment: how a closed month's figures changed since they were frozen."""

    carrier: str
    carrier_name: str
    period: str | None = Field(description="the closed month the change belongs to")
    eligible_parcels: int
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    pending_parcels: int
    ineligible: Ineligible  # type: ignore[valid-type]


class ReportAward(BaseModel):
    """A center award as shown beside the parcel subsidies."""

    site_code: str
    site_name: str | None
    accredited_on: str
    document_no: str
    award_fen: Fen
    award_yuan: Yuan
    status: Literal["accredited", "approved", "paid"]


class Closing(BaseModel):
    """How a closed month was frozen."""

    closed_at: str
    closed_by: str
    store_version: int
    policy_digest: str = Field(description="SHA-256 of the policy file the figures came from")


class MonthlyReport(BaseModel):
    """The report of SPEC §8, with the prior-period adjustments and the closing, if any.

    ``program_total_fen`` = the month's subsidies + its adjustments + the center awards. For an
    operator, only its carrier's row appears and the awards and program total are blank.
    """

    month: str
    as_of: str
    policy: str
    carriers: list[CarrierRow]
    totals: Totals
    center_awards: list[ReportAward]
    program_total_fen: Fen | None
    program_total_yuan: Yuan | None
    prior_period_adjustments: list[Adjustment]
    adjustments_total: Totals
    closed: Closing | None = Field(description="null while the month is open")


class SummaryMonth(BaseModel):
    """One month's line of a summary."""

    month: str
    closed: bool
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    eligible_parcels: int
    adjustments_fen: Fen


class Summary(BaseModel):
    """The monthly reports of a range of months, added up per carrier."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    as_of: str
    policy: str
    months: list[SummaryMonth]
    carriers: list[CarrierRow]
    totals: Totals
    center_awards: list[ReportAward]
    program_total_fen: Fen | None
    program_total_yuan: Yuan | None
    prior_period_adjustments: list[Adjustment]
    adjustments_total: Totals


# -- parcels ----------------------------------------------------------------------------------
class SiteRef(BaseModel):
    """A site as it appears in a parcel explanation."""

    scan_time: str
    site_code: str
    name: str | None
    kind: str
    town: str | None
    scan_type: str | None = None


class Scan(BaseModel):
    """One scan of the parcel; ``decides`` marks the departure and arrival that decided it."""

    scan_time: str
    scan_type: str
    site_code: str
    site_name: str | None
    site_kind: str | None
    next_site_code: str | None
    decides: Literal["departure", "arrival"] | None
    upload_id: int
    row_no: int


class ParcelExplanation(BaseModel):
    """Why a parcel has its status (SPEC §5): the rule's outcome and the scans behind it."""

    carrier: str
    waybill_no: str
    as_of: str
    status: Literal["eligible", "pending", "ineligible", "out_of_scope"]
    reason: str | None
    month: str | None
    departure: SiteRef | None
    arrival: SiteRef | None
    rate_fen: int | None
    subsidy_fen: Fen
    subsidy_yuan: Yuan
    transit_seconds: float | None
    max_transit_seconds: int
    scans: list[Scan]


# -- months -----------------------------------------------------------------------------------
class ClosedMonthOut(BaseModel):
    """A closed month: when, by whom, and what its figures were computed from."""

    month: str
    closed_at: str
    closed_by: str
    as_of: str
    store_version: int
    policy_digest: str
    policy_name: str | None


# -- center awards ----------------------------------------------------------------------------
class AwardIn(BaseModel):
    """The accreditation of a district center and its one-time award."""

    model_config = ConfigDict(extra="forbid")

    site_code: str = Field(min_length=1, max_length=64, description="a district_center site")
    accredited_on: date = Field(description="date of the accreditation (认定日期)")
    document_no: str = Field(
        min_length=1, max_length=200, description="accreditation document number (认定文号)"
    )
    award_fen: int = Field(
        strict=True, gt=0, le=10**12, description="the award in integer fen, at most the cap"
    )


class AwardOut(BaseModel):
    """A center award and its progress accredited -> approved -> paid."""

    id: int
    site_code: str
    site_name: str | None
    accredited_on: str
    document_no: str
    award_fen: Fen
    award_yuan: Yuan
    status: Literal["accredited", "approved", "paid"]
    created_at: str
    created_by: str | None
    approved_at: str | None
    approved_by: str | None
    paid_at: str | None
    paid_by: str | None
    updated_at: str


# -- sites ------------------------------------------------------------------------------------
SiteKindText = Literal["district_center", "village_hub", "other"]


#: One other name of a site: text without ``|`` (the CSV registry's separator).
SiteAlias = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^|]*$")]


class SiteIn(BaseModel):
    """One entry of the sites registry (SPEC §4); dates inclusive, Asia/Shanghai."""

    model_config = ConfigDict(extra="forbid")

    site_code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKindText
    town: str | None = Field(default=None, max_length=100)
    active_from: date
    active_to: date | None = Field(default=None, description="empty: still active")
    aliases: list[SiteAlias] = Field(
        default_factory=list,
        max_length=100,
        description="other names of the site in couriers' exports (stored as its code)",
    )


class SiteOut(BaseModel):
    """A stored site."""

    site_code: str
    name: str
    kind: SiteKindText
    town: str | None
    active_from: date
    active_to: date | None
    aliases: list[str] = Field(default_factory=list)


class SitesIn(BaseModel):
    """The whole registry; it replaces the stored one."""

    model_config = ConfigDict(extra="forbid")

    sites: list[SiteIn] = Field(max_length=100_000)


class SitesOut(BaseModel):
    """The stored registry."""

    sites: list[SiteOut]


class SitesReplaced(BaseModel):
    """How many sites the registry holds now, per kind."""

    sites: int
    district_center: int = 0
    village_hub: int = 0
    other: int = 0


# -- audit log, jobs, tokens ------------------------------------------------------------------
class AuditLine(BaseModel):
    """One line of the append-only audit log."""

    id: int
    at: str
    actor: str
    action: str = Field(description="upload.received, month.closed, award.paid, ...")
    target: str | None
    old_value: Any = Field(description="the value before (JSON), if any")
    new_value: Any = Field(description="the value after (JSON), if any")


class AuditPage(BaseModel):
    """A page of the audit log, oldest first."""

    items: list[AuditLine]
    next_after: int | None = Field(description="pass as after= for the next page; null at end")


class TokenIn(BaseModel):
    """A token to create."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["operator", "finance", "auditor", "admin"]
    carrier: str | None = Field(
        default=None, max_length=20, description="operators only: the carrier code"
    )
    name: str | None = Field(default=None, max_length=100, description="who holds the token")


class TokenOut(BaseModel):
    """A token as listed (the secret is never stored, so never shown again)."""

    id: int
    role: str
    carrier: str | None
    name: str | None
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None


class TokenCreated(TokenOut):
    """A new token: ``token`` is shown this once."""

    token: str = Field(description="the secret; store it now, it cannot be shown again")


class JobRun(BaseModel):
    """One run of a scheduled job (times ISO 8601, Asia/Shanghai)."""

    id: int
    started_at: str
    finished_at: str | None = Field(description="null while running")
    outcome: Literal["running", "ok", "failed", "interrupted"]
    detail: dict[str, Any] = Field(
        description="what the run did (files ingested, rows, reports written); {} while running"
    )
    error: str | None


class JobOut(BaseModel):
    """A scheduled job, its schedule and its last runs, newest first."""

    id: str = Field(examples=["inbox_ingest"])
    description: str
    schedule: str = Field(examples=["every 300 s"])
    scheduled: bool = Field(description="whether this process runs the scheduler")
    next_run_time: str | None
    last_runs: list[JobRun]


class ScanWordIn(BaseModel):
    """A scan-type word to add: for every carrier (``carrier`` null) or for one."""

    word: str = Field(min_length=1, max_length=100, description="as written in the export")
    scan_type: Literal["pickup", "depart", "arrive", "dispatch", "sign", "exception", "other"]
    carrier: str | None = Field(default=None, description="a carrier code, or null for all")


class ScanWordOut(BaseModel):
    """One scan-type word; a shipped default has ``default`` true and no id."""

    id: int | None
    word: str
    scan_type: str
    carrier: str | None
    default: bool
    created_at: str | None
    created_by: str | None


class ScanWordList(BaseModel):
    """Every scan-type word: the defaults, then those admins added."""

    words: list[ScanWordOut]


class RejectedReason(BaseModel):
    """Rows of one reject reason in a preview: how many, and up to 20 of them."""

    count: int
    examples: list[dict[str, Any]]


class UploadPreview(BaseModel):
    """What an upload of a file would give (SPEC §3a), nothing stored: the answer of
    ``POST /v1/uploads?dry_run=true``."""

    format: str | None = Field(description="parquet, csv, xlsx or xls; null when unreadable")
    header_row: int | None = Field(description="1-based row of the header in the file")
    columns: dict[str, str] = Field(description="each field and the column that fed it")
    rows_read: int
    accepted: int
    duplicates: int
    rejected: dict[str, RejectedReason]
    unmatched_words: dict[str, int] = Field(description="scan words not known, with their rows")
    refusal: str | None = Field(description="the sentence a real upload would get, or null")
    already_uploaded: int | None = Field(description="the upload holding these bytes, or null")


class RejudgeIn(BaseModel):
    """Why an upload is judged again (written to the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)

"""Request and response models of the API (they document ``/openapi.json``).

The report documents (the monthly report, the summary, a closed month) are the domain's own
typed models, :mod:`subsidy.models`, used by the routes as they are.

Money is integer fen (``*_fen``); yuan appear only as formatted strings (``*_yuan``). Times
are ISO 8601 with their Asia/Shanghai offset.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from core.timeutil import DATE_PATTERN, parse_date
from subsidy.models import Fen, Yuan


def _date_text(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}; expected text YYYY-MM-DD, e.g. 2023-06-10")
    return parse_date(value)


#: Text a person gives (a code, a name, a document number): no control characters (they end
#: up in the report's spreadsheet, where they cannot be written) and something visible.
VISIBLE_TEXT = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
#: Optional text: no control characters.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"


def _integer_fen(value: object) -> int:
    # JSON Schema's "integer" is any number without a fraction (100.0 is one); text, booleans
    # and fractions of a fen are not amounts.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"not an amount of fen: {value!r}; give an integer number of fen, e.g. 5000")


#: An amount given by a user, in integer fen: a JSON number without a fraction (never text,
#: never true/false, never 0.5 fen).
FenIn = Annotated[int, BeforeValidator(_integer_fen)]


#: A calendar date given by a user: text ``YYYY-MM-DD`` in ASCII digits, read by
#: :func:`core.timeutil.parse_date` (never a number of seconds, nor full-width digits).
DateText = Annotated[
    date,
    BeforeValidator(_date_text),
    WithJsonSchema({"type": "string", "pattern": DATE_PATTERN, "examples": ["2023-06-10"]}),
]


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


# -- center awards ----------------------------------------------------------------------------
class AwardIn(BaseModel):
    """The accreditation of a district center and its one-time award."""

    model_config = ConfigDict(extra="forbid")

    site_code: str = Field(
        min_length=1, max_length=64, pattern=VISIBLE_TEXT, description="a district_center site"
    )
    accredited_on: DateText = Field(description="date of the accreditation (认定日期)")
    document_no: str = Field(
        min_length=1,
        max_length=200,
        pattern=VISIBLE_TEXT,
        description="accreditation document number (认定文号), not blank",
    )
    award_fen: FenIn = Field(
        gt=0, le=10**12, description="the award in integer fen, at most the policy's cap"
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

    site_code: str = Field(min_length=1, max_length=64, pattern=VISIBLE_TEXT)
    name: str = Field(min_length=1, max_length=200, pattern=VISIBLE_TEXT)
    kind: SiteKindText
    town: str | None = Field(default=None, max_length=100, pattern=PLAIN_TEXT)
    active_from: DateText
    active_to: DateText | None = Field(default=None, description="empty: still active")
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


class OperatorTokenIn(BaseModel):
    """An operator's token to create: bound to one carrier."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["operator"]
    carrier: str = Field(
        max_length=20, description="the carrier code, one of the policy's (e.g. ZTO)"
    )
    name: str | None = Field(default=None, max_length=100, description="who holds the token")


class StaffTokenIn(BaseModel):
    """A finance, auditor or admin token to create: these roles have no carrier."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["finance", "auditor", "admin"]
    carrier: None = Field(default=None, description="none: only operators have a carrier")
    name: str | None = Field(default=None, max_length=100, description="who holds the token")


#: A token to create; the role says which fields it has.
TokenIn = Annotated[OperatorTokenIn | StaffTokenIn, Field(discriminator="role")]


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

"""Statements (SPEC §11): list, read, sign, pay, reverse, reconcile; the printed documents.

Finance moves statements (``submit``, ``approve`` by another person, ``pay``, ``reverse``) and
reconciles the bank's file; auditors and administrators read; an operator reads its own
carrier's statements only (another's is 404). ``?format=`` gives the documents: the
statement as PDF, its parcel list as CSV or XLSX, the month's payment list as XLSX.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response

from api.deps import Finance, MonthText, PolicyDep, Reader, StoreDep
from api.errors import ApiError, responses
from api.schemas_settlement import PayIn, ReconcileOut, ReverseIn, StatementOut
from core.timeutil import now_local
from subsidy.exports import XLSX_MEDIA_TYPE
from subsidy.settlement import documents, parcel_list, payment_list, statements
from subsidy.settlement.reconcile import RESULTS, reconcile

router = APIRouter(prefix="/v1/statements", tags=["settlement"])

StatementId = Annotated[int, PathParam(ge=1, le=2**62, description="the statement's id")]
#: The largest bank file accepted (a year of statements is a few hundred rows).
MAX_BANK_FILE = 5 * 1024 * 1024
PDF_MEDIA_TYPE = "application/pdf"


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _files(*types: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "JSON, or the file asked for with format=",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in types},
        }
    }


@router.get(
    "",
    response_model=list[StatementOut],
    summary="The statements of a month, or its payment list (format=xlsx)",
    responses={**_files(XLSX_MEDIA_TYPE), **responses(401, 403, 422)},
)
def list_(
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    month: Annotated[MonthText | None, Query(description="YYYY-MM; all months if absent")] = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="xlsx: 拨付清单")] = "json",
) -> Any:
    """An operator gets its own carrier's statements only. ``format=xlsx`` is the payment
    list for the bank (the month's, or every month's): A4 landscape, one page wide."""
    rows = statements.list_statements(store, month=month, carrier=principal.carrier)
    if format == "xlsx":  # without month: every month's signed statements
        content = payment_list.payment_list_xlsx(store, policy, month, rows)
        return _download(content, XLSX_MEDIA_TYPE, f"payment-list-{month or 'all'}.xlsx")
    return [s.as_dict() for s in rows]


@router.get(
    "/{statement_id:int}",
    response_model=StatementOut,
    summary="One statement with its moves, or its documents (format=pdf|csv|xlsx)",
    responses={
        **_files(PDF_MEDIA_TYPE, "text/csv", XLSX_MEDIA_TYPE),
        **responses(401, 403, 404, 422),
    },
)
def get(
    statement_id: StatementId,
    principal: Reader,
    store: StoreDep,
    policy: PolicyDep,
    format: Annotated[
        Literal["json", "pdf", "csv", "xlsx"],
        Query(description="pdf: the printable statement; csv, xlsx: its parcel list"),
    ] = "json",
) -> Any:
    """Another carrier's statement is 404 for an operator."""
    s = statements.get_statement(store, statement_id, carrier=principal.carrier)
    name = f"statement-{s.month}-{s.carrier}-{s.id}"
    if format == "pdf":
        content = documents.statement_pdf(store, policy, s, printed_at=now_local())
        return _download(content, PDF_MEDIA_TYPE, f"{name}.pdf")
    if format == "csv":
        return _download(parcel_list.parcel_list_csv(store, policy, s), "text/csv", f"{name}.csv")
    if format == "xlsx":
        content = parcel_list.parcel_list_xlsx(store, policy, s)
        return _download(content, XLSX_MEDIA_TYPE, f"{name}.xlsx")
    return {**s.as_dict(), "transitions": statements.transitions(store, s.id)}


_MOVE = responses(401, 403, 404, 409, 422)


@router.post(
    "/{statement_id:int}/submit",
    response_model=StatementOut,
    summary="draft -> submitted (finance, a named token)",
    responses=_MOVE,
)
def submit(statement_id: StatementId, principal: Finance, store: StoreDep) -> Any:
    """409 from any other status, or for a token without a name."""
    return statements.submit(
        store, statement_id, actor=principal.actor, name=principal.name
    ).as_dict()


@router.post(
    "/{statement_id:int}/approve",
    response_model=StatementOut,
    summary="submitted -> approved (finance, another person than the submitter)",
    responses=_MOVE,
)
def approve(statement_id: StatementId, principal: Finance, store: StoreDep) -> Any:
    """409 for the submitter (names compared ignoring case and spaces), a token without a
    name, or any other status. Approval fixes the payee printed on the payment list."""
    return statements.approve(
        store, statement_id, actor=principal.actor, name=principal.name
    ).as_dict()


@router.post(
    "/{statement_id:int}/pay",
    response_model=StatementOut,
    summary="approved -> paid (finance)",
    responses=_MOVE,
)
def pay(statement_id: StatementId, body: PayIn, principal: Finance, store: StoreDep) -> Any:
    """``amount_fen`` must equal ``payable_fen`` (else 422); 409 from any status but approved."""
    return statements.pay(
        store,
        statement_id,
        voucher_no=body.voucher_no,
        paid_on=body.paid_on,
        amount_fen=body.amount_fen,
        actor=principal.actor,
    ).as_dict()


@router.post(
    "/{statement_id:int}/reverse",
    response_model=StatementOut,
    summary="paid -> approved, a failed transfer (finance)",
    responses=_MOVE,
)
def reverse(statement_id: StatementId, body: ReverseIn, principal: Finance, store: StoreDep) -> Any:
    """The payable stays committed; 409 unless the statement is paid."""
    return statements.reverse(
        store, statement_id, reason=body.reason, actor=principal.actor
    ).as_dict()


@router.post(
    "/reconcile",
    response_model=ReconcileOut,
    summary="Match the bank's file of payments (finance; CSV or XLSX)",
    responses=responses(401, 403, 413, 422),
)
def reconcile_file(
    principal: Finance,
    store: StoreDep,
    file: Annotated[
        UploadFile,
        File(description="statement_id or carrier+month, voucher_no, paid_on, amount_fen"),
    ],
) -> Any:
    """One result per row; a row that is not ``paid`` changes nothing."""
    content = file.file.read(MAX_BANK_FILE + 1)
    if len(content) > MAX_BANK_FILE:
        raise ApiError(
            413,
            "payload_too_large",
            f"the bank file is over {MAX_BANK_FILE} bytes",
            text_code="bank_file_too_large",
            limit=MAX_BANK_FILE,
        )
    rows = reconcile(store, content, actor=principal.actor)
    counts = {r: sum(1 for x in rows if x.result == r) for r in RESULTS}
    return {"rows": [r.as_dict() for r in rows], "counts": counts}

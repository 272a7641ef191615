"""Behind every figure, its parcels (SPEC §12 ``GET /v1/parcels``).

:func:`parcels_frame` is the lazy list of the parcels a report cell counts: the rule of
:mod:`subsidy.rule` over the store for ``month`` as of ``as_of`` (a closed month: on its pinned
store version, as of its close: the parcels of its frozen figures), filtered by carrier,
status and reason -- read from the stored result set when it answers (an open month: the
report's own rows; a closed month: the list frozen at its close, :mod:`subsidy.frozen`),
else the rule run over the carrier's events -- with ``D``, ``A``, their
sites and the codes of the flags on each parcel.
``status = "held"`` lists the eligible parcels held by open flags (a closed month: those its
statements held). :func:`page` answers one JSON page after a cursor; :func:`csv_chunks` and
:func:`parquet_chunks` stream all of them batch by batch, never the whole list in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from core.policy import Policy
from core.store import Store
from core.timeutil import month_bounds, to_local
from subsidy.anomalies import answering_set, month_basis, refresh_flags, result_frame
from subsidy.exceptions import InvalidValueError
from subsidy.frozen import frozen_frame, frozen_path
from subsidy.rule import INELIGIBLE_REASONS, parcel_statuses
from subsidy.settlement.holds import held_rows
from subsidy.sites import load_sites

STATUSES: tuple[str, ...] = ("eligible", "pending", "ineligible", "held")
COLUMNS: tuple[str, ...] = (
    "carrier",
    "waybill_no",
    "month",
    "status",
    "reason",
    "d_time",
    "d_site",
    "a_time",
    "a_site",
    "rate_fen",
    "subsidy_fen",
    "flags",
)
PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000
_PARCEL = ["carrier", "waybill_no"]


def _check(status: str | None, reason: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidValueError(
            f"status must be one of {', '.join(STATUSES)}, not {status!r}",
            code="invalid_status",
            value=status,
        )
    if reason is not None and reason not in INELIGIBLE_REASONS:
        raise InvalidValueError(
            f"reason must be one of {', '.join(INELIGIBLE_REASONS)}, not {reason!r}",
            code="invalid_reason",
            value=reason,
        )


def _flag_codes(store: Store, month: str) -> pl.DataFrame:
    """``(carrier, waybill_no, flags)``: the codes of the stored flags on each parcel."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT carrier, waybill_no, code FROM anomaly_flags"
            " WHERE month=? AND carrier IS NOT NULL"
            " UNION SELECT p.carrier, p.waybill_no, f.code FROM anomaly_flag_parcels p"
            " JOIN anomaly_flags f ON f.id = p.flag_id WHERE p.month=? AND f.carrier IS NULL",
            (month, month),
        ).fetchall()
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"carrier": pl.String(), "waybill_no": pl.String(), "code": pl.String()},
        orient="row",
    )
    return frame.group_by(_PARCEL).agg(pl.col("code").unique().sort().alias("flags"))


def _held(store: Store, month: str, closed: bool) -> pl.DataFrame:
    with store.connect() as db:
        if closed:
            rows = db.execute(
                "SELECT carrier, waybill_no FROM held_parcels WHERE month=?", (month,)
            ).fetchall()
        else:
            rows = held_rows(db, month)
    return pl.DataFrame(
        [(r["carrier"], r["waybill_no"]) for r in rows],
        schema={"carrier": pl.String(), "waybill_no": pl.String()},
        orient="row",
    )


def held_counts(store: Store, month: str, *, carrier: str | None = None) -> dict[str, int]:
    """Per carrier, the parcels ``status="held"`` lists for ``month`` (a closed month: those
    its statements held), counted from the stored holds without running the rule; the flags
    of an open month are brought up to date by the caller (:func:`refresh_flags`)."""
    month_bounds(month)
    with store.connect() as db:
        closed = db.execute("SELECT 1 FROM closed_months WHERE month=?", (month,)).fetchone()
    held = _held(store, month, closed is not None)
    if carrier is not None:
        held = held.filter(pl.col("carrier") == carrier)
    counted = held.unique().group_by("carrier").len().sort("carrier")
    return dict(zip(counted["carrier"].to_list(), counted["len"].to_list(), strict=True))


def parcels_frame(
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime,
    *,
    carrier: str | None = None,
    status: str | None = None,
    reason: str | None = None,
) -> pl.LazyFrame:
    """The parcels of one report cell (see the module doc), sorted by carrier, waybill."""
    month_bounds(month)
    _check(status, reason)
    basis_as_of, version = month_basis(store, month, as_of)
    closed = version is not None
    if status == "held":
        refresh_flags(store, policy, month, as_of)
    sites = load_sites(store)
    wanted = pl.col("month") == month
    if carrier is not None:
        wanted = wanted & (pl.col("carrier") == carrier)
    frozen = frozen_path(store, month) if closed else None
    rs = None if frozen is not None else answering_set(store, policy, sites, basis_as_of, version)
    if frozen is not None:  # a closed month's list as frozen at its close
        frame = frozen_frame(frozen, wanted)
    elif rs is not None:  # the stored result set's rows: no rule to run
        frame = result_frame(store, rs, wanted)
    else:
        events = store.scan_events(
            carriers=None if carrier is None else [carrier],
            version=store.version() if version is None else version,
        )
        frame = parcel_statuses(events, sites.lazy(), policy, basis_as_of).filter(wanted)
    if status == "held":
        frame = frame.filter(pl.col("status") == "eligible").join(
            _held(store, month, closed).lazy(), on=_PARCEL, how="semi"
        )
    elif status is not None:
        frame = frame.filter(pl.col("status") == status)
    if reason is not None:
        frame = frame.filter(pl.col("reason") == reason)
    return (
        frame.join(_flag_codes(store, month).lazy(), on=_PARCEL, how="left")
        .with_columns(pl.col("flags").fill_null(pl.lit([], pl.List(pl.String()))))
        .select(COLUMNS)
        .sort(_PARCEL)
    )


def cursor_of(carrier: str, waybill_no: str) -> str:
    """The ``after`` cursor of a parcel (carrier and waybill; waybills hold no space)."""
    return f"{carrier} {waybill_no}"


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("d_time", "a_time"):
        if row[key] is not None:
            row[key] = to_local(row[key]).isoformat()
    return row


def page(frame: pl.LazyFrame, after: str | None, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One JSON page: ``{"items", "next_after"}`` (``next_after`` null on the last page)."""
    if after is not None:
        carrier, _, waybill = after.partition(" ")
        frame = frame.filter(
            (pl.col("carrier") > carrier)
            | ((pl.col("carrier") == carrier) & (pl.col("waybill_no") > waybill))
        )
    rows = frame.head(size + 1).collect()
    items = [_json_row(r) for r in rows.head(size).iter_rows(named=True)]
    more = rows.height > size
    last = items[-1] if items else None
    return {
        "items": items,
        "next_after": cursor_of(last["carrier"], last["waybill_no"]) if more and last else None,
    }


def _for_files(batch: pl.DataFrame) -> pl.DataFrame:
    return batch.with_columns(
        pl.col("d_time", "a_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.f%:z"),
        pl.col("flags").list.join(";"),
    )


def csv_chunks(frame: pl.LazyFrame) -> Iterator[bytes]:
    """The whole list as UTF-8 CSV, one chunk per batch the engine hands over."""
    header = True
    for batch in frame.collect_batches():
        buf = io.BytesIO()
        _for_files(batch).write_csv(buf, include_header=header)
        header = False
        yield buf.getvalue()
    if header:  # no batch at all: the header alone
        buf = io.BytesIO()
        _for_files(frame.clear().collect()).write_csv(buf)
        yield buf.getvalue()


class _Chunks(io.RawIOBase):
    """A write-only sink that hands back what was written since the last :meth:`take`."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_chunks(frame: pl.LazyFrame) -> Iterator[bytes]:
    """The whole list as Parquet, one row group per batch, streamed as it is written."""
    sink = _Chunks()
    schema = frame.clear().collect().to_arrow().schema
    with pq.ParquetWriter(sink, schema) as writer:
        for batch in frame.collect_batches():
            writer.write_table(pa.Table.from_batches(batch.to_arrow().to_batches(), schema))
            yield sink.take()
    yield sink.take()

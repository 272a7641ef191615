"""Open an upload (Parquet or CSV) as a lazy frame of canonical columns, or refuse it whole.

Every check that can be made from the file's metadata (format, size once decompressed, columns,
column types) is made before any data is read. The frame returned carries ``row_no`` (1-based
data row number, header excluded) and the canonical columns present, still as typed in the
file: :mod:`ingest.validate` turns them into events and rejects.
"""

from __future__ import annotations

import codecs
import csv
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from ingest.exceptions import FileRefused, FileTooLarge
from ingest.schema import (
    REQUIRED_COLUMNS,
    SCAN_CLOCK_NAMES,
    canonical_name,
    label,
    preference,
)

PARQUET_MAGIC = b"PAR1"
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def excel_format(head: bytes) -> str | None:
    """``xlsx`` or ``xls`` from a file's first 8 bytes (zip, OLE2 compound file), else None."""
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith(XLS_MAGIC):
        return "xls"
    return None


ENCRYPTED_MAGIC = b"PARE"
_SNIFF_BYTES = 64 * 1024


#: Rows decoded at a time. The decoded size is added up batch by batch, so a file whose pages
#: expand far beyond what its metadata says (long values in dictionary-encoded pages) is
#: refused before it holds more than the limit and one batch in memory.
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class RawFile:
    """An opened upload: its format, rows per metadata (``None`` for CSV) and its rows, read
    batch by batch (:meth:`batches`), so a file of any size is never held whole."""

    format: str
    rows_hint: int | None
    _read: Callable[[int], Iterator[pl.DataFrame]]
    #: 1-based row of the header in the file (title lines above it are skipped)
    header_row: int = 1
    #: each field and the file's column that fed it (``scan_date``: a split date column)
    columns: dict[str, str] = field(default_factory=dict)

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
        """The canonical columns and ``row_no``, at most ``rows`` rows at a time, in file
        order. A file found damaged while reading raises :class:`FileRefused`."""
        try:
            for batch in self._read(rows):
                if batch.height:
                    yield batch
        except FileRefused:
            raise
        except (Exception, pl.exceptions.PanicException) as exc:
            raise damaged(exc) from None

    @property
    def frame(self) -> pl.LazyFrame:
        """Every row at once (small files and tests; ingest reads :meth:`batches`)."""
        parts = list(self.batches())
        if not parts:
            raise FileRefused("the file has no data rows", code="no_data_rows")
        return pl.concat(parts).lazy()


def human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def first_line(exc: BaseException) -> str:
    """An error's first line, without control characters, at most 300 characters: what a
    refusal quotes of a library's message (it must stay one line a person can read)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()[:300]


def damaged(exc: BaseException) -> FileRefused:
    """The refusal of a file that failed while its data was read (not from its metadata)."""
    first = first_line(exc)
    if "crypt" in first.lower():  # plaintext footer, encrypted columns: not damaged
        return FileRefused(
            f"the Parquet file is encrypted ({first}); export it without encryption",
            code="encrypted",
        )
    if "more fields than defined" in first:  # Polars' words for a ragged CSV row
        first = "a row has more fields than the header line"
    return FileRefused(
        f"the file is damaged and cannot be read ({first})", code="damaged", detail=first
    )


def _map_columns(names: list[str]) -> dict[str, str]:
    """Map canonical name -> the file's column name (SPEC §3a: among several columns naming
    one field, a code column wins, then the first in :data:`FIELD_NAMES`' order); refuse
    missing columns and a name written twice. A split date column is mapped as
    ``scan_date`` when the time column beside it is 扫描时间."""
    seen: set[str] = set()
    candidates: dict[str, list[str]] = {}
    for name in names:
        canon = canonical_name(name)
        if canon is None:
            continue
        if name.strip().lower() in seen:
            raise FileRefused(
                f"two columns mean {label(canon)}: {name!r} and {name!r}; keep one",
                code="column_twice",
                column=name,
                field=canon,
            )
        seen.add(name.strip().lower())
        candidates.setdefault(canon, []).append(name)
    mapping = {
        canon: min(found, key=preference)
        for canon, found in candidates.items()
        if canon != "scan_date"
    }
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    if missing:
        found_names = ", ".join(repr(n) for n in names[:20]) or "no columns"
        raise FileRefused(
            f"missing column {', '.join(label(c) for c in missing)}; found: {found_names}",
            code="missing_column",
            columns=missing,
            found=found_names,
        )
    if "scan_date" in candidates and mapping["scan_time"].strip() in SCAN_CLOCK_NAMES:
        mapping["scan_date"] = candidates["scan_date"][0]
    return mapping


#: How many rows at the top of a file may hold the header (title lines above it are skipped).
HEADER_SEARCH_ROWS = 20


def find_header(rows: list[list[str]]) -> tuple[int, dict[str, str]]:
    """The index of the first of ``rows`` (the first :data:`HEADER_SEARCH_ROWS` of a file) that
    names the required columns, and its mapping; refused with the first row's reason."""
    first: FileRefused | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [str(v) if v is not None else "" for v in row]
        try:
            return index, _map_columns(names)
        except FileRefused as exc:
            if exc.code == "column_twice":
                raise
            first = first or exc
    raise first or FileRefused("the file has no header row", code="no_header_row")


def _arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type)
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_date(t):
        return "date"
    return str(t)


_ALLOWED = {
    "scan_time": {"timestamp", "string", "binary", "integer", "null"},
    "waybill_no": {"string", "binary", "integer", "null"},
    "scan_date": {"timestamp", "date", "string", "binary", "null"},
}
_STRING_KINDS = {"string", "binary", "null"}


def _check_types(kinds: dict[str, str]) -> None:
    for canon, kind in kinds.items():
        if canon == "scan_time" and kind == "timestamp" and "scan_date" in kinds:
            continue  # a time-of-day cell Excel stores as a date-time
        allowed = _ALLOWED.get(canon, _STRING_KINDS)
        if kind not in allowed:
            want = {
                "scan_time": "a timestamp, a string or an integer",
                "waybill_no": "a string or an integer",
            }.get(canon, "a string")
            raise FileRefused(
                f"column {label(canon)} is of type {kind}; it must be {want}",
                code="bad_column_type",
                column=canon,
                kind=kind,
            )


def _as_text(name: str, kind: str, part: str = "") -> pl.Expr:
    """A column as text; a timestamp's date (``part="date"``) or time of day (``"time"``)."""
    expr = pl.col(name)
    if kind == "timestamp" and part:
        return expr.dt.strftime("%Y-%m-%d" if part == "date" else "%H:%M:%S%.f")
    return expr.cast(pl.String, strict=False)


def _split_time(mapping: dict[str, str], kinds: dict[str, str]) -> pl.Expr:
    """扫描日期 + 扫描时间 as one text time; a time cell that already holds a date is used alone.

    An Excel date cell reads ``2023-05-01 00:00:00`` (its date is taken) and an Excel time
    cell ``1899-12-31 08:30:00`` (the day Excel counts from: its time of day is taken)."""
    date_text = _as_text(mapping["scan_date"], kinds["scan_date"], "date").str.strip_chars()
    date = pl.coalesce(
        date_text.str.extract(r"^([0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2})(?:[ T]|$)"), date_text
    )
    clock = (
        _as_text(mapping["scan_time"], kinds["scan_time"], "time")
        .str.strip_chars()
        .str.replace(r"^(?:1899-12-3[01]|1900-01-0[0-9])[ T]", "")
    )
    return (
        pl.when(clock.str.contains(r"^[0-9]{4}[-/]"))
        .then(clock)
        .otherwise(pl.concat_str([date, clock], separator=" "))
    )


def canonical_frame(
    lf: pl.LazyFrame, mapping: dict[str, str], kinds: dict[str, str], first_row: int = 1
) -> pl.LazyFrame:
    exprs = []
    for canon, name in mapping.items():
        if canon == "scan_date":
            continue
        if canon == "scan_time" and "scan_date" in mapping:
            exprs.append(_split_time(mapping, kinds).alias(canon))
            continue
        expr = pl.col(name)
        if kinds[canon] != "timestamp":
            expr = expr.cast(pl.String, strict=False)
        exprs.append(expr.alias(canon))
    return (
        lf.select(exprs)
        .with_row_index("row_no", offset=first_row)
        .with_columns(pl.col("row_no").cast(pl.Int64))
    )


def _parquet_columns(
    path: Path, max_uncompressed: int
) -> tuple[dict[str, str], dict[str, str], int]:
    """Every check a Parquet file's metadata allows; returns the column mapping, the kinds of
    the mapped columns and the number of rows. No data page is read."""
    try:
        meta = pq.ParquetFile(path).metadata
        schema = pq.read_schema(path)
    except Exception as exc:
        raise FileRefused(
            f"the file is damaged and cannot be read as Parquet ({first_line(exc)})",
            code="damaged",
            detail=first_line(exc),
        ) from None
    uncompressed = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if uncompressed > max_uncompressed:
        raise FileTooLarge(
            f"the file would decompress to {human(uncompressed)}, over the limit of "
            f"{human(max_uncompressed)}; split the export into smaller files",
            code="too_large_unpacked",
            size=human(uncompressed),
            limit=human(max_uncompressed),
        )
    if meta.num_rows == 0:
        raise FileRefused("the file has no data rows", code="no_data_rows")
    mapping = _map_columns(list(schema.names))
    kinds = {canon: _arrow_kind(schema.field(name).type) for canon, name in mapping.items()}
    _check_types(kinds)
    return mapping, kinds, meta.num_rows


def _parquet_batches(
    path: Path, columns: list[str], max_uncompressed: int, rows: int
) -> Iterator[pa.Table]:
    """The file's ``columns``, ``rows`` at a time, adding up the decoded size as it goes."""
    # pyarrow, not pl.scan_parquet: it verifies page CRC checksums where the writer stored
    # them (Polars silently decodes a corrupted page), and reads INT96 without overflow.
    # Without pre-buffering, a row group is read page by page rather than whole, so a file
    # written as ONE row group is still held one batch at a time.
    reader = pq.ParquetFile(
        path,
        page_checksum_verification=True,
        coerce_int96_timestamp_unit="us",
        pre_buffer=False,
        buffer_size=1 << 20,
    )
    decoded = 0
    for batch in reader.iter_batches(batch_size=rows, columns=columns, use_threads=True):
        decoded += batch.nbytes
        if decoded > max_uncompressed:
            raise FileTooLarge(
                f"the file decompresses to more than the limit of {human(max_uncompressed)} "
                "(its pages expand far beyond what its metadata says); split the export into "
                "smaller files",
                code="too_large_pages",
                limit=human(max_uncompressed),
            )
        yield pa.Table.from_batches([batch])


def _valid_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text or binary column as valid UTF-8 text: bytes that are not UTF-8 become U+FFFD,
    so the row is judged on what can be read (a waybill with such bytes is a
    ``bad_waybill``), its content is kept, and Polars never meets invalid text.
    """
    try:
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            wide = pa.types.is_large_binary(column.type)
            return column.cast(pa.large_string() if wide else pa.string())  # checks UTF-8
        column.validate(full=True)  # pyarrow reads text without checking it
        return column
    except pa.ArrowInvalid:
        pass
    return pa.chunked_array(
        [
            pa.array(
                [None if v is None else v.decode("utf-8", "replace") for v in chunk.to_pylist()],
                pa.large_string(),
            )
            for chunk in column.cast(pa.large_binary()).chunks
        ],
        pa.large_string(),
    )


def _readable(table: pa.Table, kinds: dict[str, str], mapping: dict[str, str]) -> pa.Table:
    """The table as Polars can take it whole: zoned timestamps in UTC (the same instants;
    Polars knows no zone like ``-02:15``) and valid UTF-8 text."""
    for canon, name in mapping.items():
        index = table.schema.get_field_index(name)
        column = table.column(index)
        kind = kinds[canon]
        if kind == "timestamp" and getattr(column.type, "tz", None):
            column = column.cast(pa.timestamp(column.type.unit, "UTC"))
        elif kind in ("string", "binary"):
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            column = _valid_text(column)
        else:
            continue
        table = table.set_column(index, name, column)
    return table


def _open_parquet(path: Path, max_uncompressed: int) -> RawFile:
    mapping, kinds, rows = _parquet_columns(path, max_uncompressed)

    def read(batch_rows: int) -> Iterator[pl.DataFrame]:
        # Only the mapped columns are read; each batch is made readable and numbered alone.
        first = 1
        for table in _parquet_batches(path, list(mapping.values()), max_uncompressed, batch_rows):
            frame = pl.from_arrow(_readable(table, kinds, mapping), rechunk=False)
            assert isinstance(frame, pl.DataFrame)
            yield canonical_frame(frame.lazy(), mapping, kinds, first).collect()
            first += frame.height

    return RawFile("parquet", rows, read, columns=mapping)


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file is text in ``encoding`` (read in 1 MiB chunks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text_sample(path: Path) -> bytes:
    """The first 64 KiB of a file meant to be CSV text; refused when empty or binary."""
    with path.open("rb") as fh:
        sample = fh.read(_SNIFF_BYTES)
    if not sample.strip():
        raise FileRefused("the file is empty", code="empty_file")
    if b"\x00" in sample:
        raise FileRefused(
            "the file is neither Parquet nor CSV text nor an Excel workbook (it holds binary data)",
            code="not_an_export",
        )
    return sample


def _sniff_encoding(path: Path) -> str:
    """``utf-8-sig`` or ``gb18030``: the whole file is checked, since a GBK export may hold
    only ASCII in its first lines (Chinese names come later)."""
    _text_sample(path)
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    raise FileRefused("the file is neither Parquet nor CSV text in UTF-8 or GBK", code="not_text")


_NO_HEADER = (
    "the file's first 64 KiB hold no line break, so it has no CSV header line; export it as "
    "Parquet, or as CSV with a header line"
)


@dataclass(frozen=True)
class CsvHeader:
    """Where a CSV export's header is (0-based line, title lines above it), its separator and
    its mapping of fields to columns."""

    line: int
    separator: str
    mapping: dict[str, str]


def _check_header(lines: list[str]) -> CsvHeader:
    """The header among the first lines of a CSV export: the first that names the required
    columns (refused as the first line would be when none does)."""
    rows: list[list[str]] = []
    separators: list[str] = []
    for line in lines[:HEADER_SEARCH_ROWS]:
        separator = "\t" if line.count("\t") > line.count(",") else ","
        try:
            rows.append(next(csv.reader([line.lstrip("\ufeff")], delimiter=separator), []))
        except csv.Error as exc:
            raise FileRefused(
                f"the CSV header line cannot be read ({first_line(exc)})",
                code="csv_header_unreadable",
                detail=first_line(exc),
            ) from None
        separators.append(separator)
    # Polars renames a repeated header ("waybill_no_duplicated_0"); refuse it as written.
    index, mapping = find_header(rows)
    return CsvHeader(index, separators[index], mapping)


def _first_lines(path: Path) -> tuple[list[str], bool]:
    """The first lines of a CSV export from its first 64 KiB alone (UTF-8, else GBK), and
    whether those 64 KiB are the whole file."""
    sample = _text_sample(path)
    whole = len(sample) < _SNIFF_BYTES
    if b"\n" not in sample and not whole:
        raise FileRefused(_NO_HEADER, code="no_line_break")
    raw = sample.split(b"\n")
    if not whole:
        raw = raw[:-1]  # a line cut off by the sample's end
    lines: list[str] = []
    for chunk in raw[: HEADER_SEARCH_ROWS + 1]:
        line = chunk.rstrip(b"\r")
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                lines.append(line.decode(encoding))
                break
            except UnicodeDecodeError:
                continue
        else:
            raise FileRefused(
                "the file is neither Parquet nor CSV text in UTF-8 or GBK", code="not_text"
            )
    return lines, whole


def _open_csv(path: Path, scratch: Path) -> RawFile:
    encoding = _sniff_encoding(path)
    source = path
    if encoding == "gb18030":
        source = scratch / f"{path.name}.utf8.csv"
        try:
            with (
                path.open("r", encoding="gb18030") as src,
                source.open("w", encoding="utf-8") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
        except UnicodeDecodeError as exc:
            raise FileRefused(
                f"the CSV text is not valid UTF-8 or GBK ({exc.reason})",
                code="bad_text",
                detail=exc.reason,
            ) from None
    lines: list[str] = []
    try:
        with source.open("r", encoding="utf-8-sig") as fh:
            for _ in range(HEADER_SEARCH_ROWS):
                line = fh.readline(_SNIFF_BYTES)
                if not line:
                    break
                if not line.endswith("\n") and fh.read(1):
                    raise FileRefused(_NO_HEADER, code="no_line_break")
                lines.append(line.rstrip("\r\n"))
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"the CSV text is not valid UTF-8 or GBK ({exc.reason})",
            code="bad_text",
            detail=exc.reason,
        ) from None
    header = _check_header(lines)
    try:
        lf = pl.scan_csv(
            source,
            infer_schema=False,
            separator=header.separator,
            encoding="utf8",
            glob=False,
            skip_lines=header.line,
        )
        names = lf.collect_schema().names()
    except Exception as exc:
        raise FileRefused(
            f"the file cannot be read as CSV ({first_line(exc)})",
            code="not_csv",
            detail=first_line(exc),
        ) from None
    clean = [n.lstrip("\ufeff") for n in names]
    lf = lf.rename(dict(zip(names, clean, strict=True)))
    mapping = _map_columns(clean)
    kinds = dict.fromkeys(mapping, "string")
    frame = canonical_frame(lf, mapping, kinds)

    def read(batch_rows: int) -> Iterator[pl.DataFrame]:
        # The streaming engine writes the parsed text to an Arrow file in the scratch folder
        # (collecting its batches instead held more the longer the file: 0.68 GiB at 5M rows,
        # 0.86 at 10M), which is then read back a batch at a time.
        columns = scratch / f"{path.name}.columns.arrow"
        frame.sink_ipc(columns, compression="lz4")
        with pa.OSFile(str(columns)) as source:  # not mapped: mapped pages count in RSS
            reader = pa.ipc.open_file(source)
            pending: list[pa.RecordBatch] = []
            held = 0
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                pending.append(batch)
                held += batch.num_rows
                if held >= batch_rows or i == reader.num_record_batches - 1:
                    table = pa.Table.from_batches(pending)
                    pending, held = [], 0
                    out = pl.from_arrow(table, rechunk=False)
                    assert isinstance(out, pl.DataFrame)
                    yield out
        columns.unlink(missing_ok=True)

    return RawFile("csv", None, read, header_row=header.line + 1, columns=mapping)


def _format_of(path: Path, max_bytes: int) -> str:
    """``parquet``, ``xlsx``, ``xls`` or ``csv`` (to be confirmed by reading), from the size
    and magic bytes."""
    size = path.stat().st_size
    if size == 0:
        raise FileRefused("the file is empty", code="empty_file")
    if size > max_bytes:
        raise FileTooLarge(
            f"the file is {human(size)}, over the upload limit of {human(max_bytes)}",
            code="too_large",
            size=human(size),
            limit=human(max_bytes),
        )
    with path.open("rb") as fh:
        start = fh.read(8)
        fh.seek(max(size - 4, 0))
        tail = fh.read(4)
    head = start[:4]
    workbook = excel_format(start)
    if workbook is not None:
        return workbook
    if head == ENCRYPTED_MAGIC or tail == ENCRYPTED_MAGIC:
        raise FileRefused(
            "the Parquet file is encrypted; export it without encryption", code="encrypted"
        )
    if head == PARQUET_MAGIC:
        if tail != PARQUET_MAGIC:
            raise FileRefused(
                "the Parquet file is truncated (its footer is missing)", code="truncated"
            )
        return "parquet"
    return "csv"


def open_upload(path: Path, *, max_bytes: int, max_uncompressed: int, scratch: Path) -> RawFile:
    """Open ``path`` as Parquet or CSV, or raise :class:`FileRefused` saying why not.

    ``scratch`` is a private folder for a transcoded copy (GBK CSV exports become UTF-8).
    """
    fmt = _format_of(path, max_bytes)
    if fmt == "parquet":
        return _open_parquet(path, max_uncompressed)
    if fmt in ("xlsx", "xls"):
        from ingest.excel import open_excel  # ingest.excel builds on this module

        return open_excel(path, fmt, max_uncompressed)
    return _open_csv(path, scratch)


def check_upload(path: Path, *, max_bytes: int, max_uncompressed: int) -> str:
    """The checks of :func:`open_upload` that read no data: size, format, and a Parquet
    file's metadata (size once decompressed, rows, columns and their types) or a CSV's
    header (from its first 64 KiB; a CSV holding only its header has no data rows). Returns
    the format; raises :class:`FileRefused` as ``open_upload`` would for these. Cheap
    whatever the file's size.
    """
    fmt = _format_of(path, max_bytes)
    if fmt == "parquet":
        _parquet_columns(path, max_uncompressed)
        return "parquet"
    if fmt in ("xlsx", "xls"):
        from ingest.excel import check_excel  # ingest.excel builds on this module

        return check_excel(path, fmt, max_uncompressed)
    lines, whole = _first_lines(path)
    header = _check_header(lines)
    if whole and not any(line.strip() for line in lines[header.line + 1 :]):
        raise FileRefused("the file has no data rows", code="no_data_rows")
    return "csv"

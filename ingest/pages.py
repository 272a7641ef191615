"""Dictionary pages too large to decode: refused from the file's metadata and page headers.

A Parquet reader decodes a column chunk's dictionary page whole before its first row. Writers
that cap dictionaries (pyarrow, parquet-mr, Spark, DuckDB: about 1 MiB, then plain encoding)
never make a large one, but Polars writing 50M rows as ONE row group made dictionary pages of
12.5M waybills and times: reading such a file holds them all, past the 1 GiB an ingest may
use, before a row is validated. :func:`check_dictionary_pages` reads each column chunk's
dictionary page header (a few bytes at the offset the footer gives) and refuses the file
when one of the columns the ingest reads would decode to more than the limit, saying which
column, how large and what to do. Nothing is decoded. It runs at ingest, after the reader's
own checks of the metadata (so a damaged or encrypted file gets the reader's reason).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from ingest.exceptions import FileTooLarge

#: A dictionary page decoding to more than this refuses the file (the largest made by
#: writers that cap dictionaries is ~1 MiB; 1M distinct waybills take ~20 MiB).
MAX_DICTIONARY_BYTES = 64 << 20
_DICTIONARY_PAGE = 2  # parquet.thrift PageType.DICTIONARY_PAGE
_I32 = 5  # thrift compact protocol: the type nibble of an i32 field


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 35:
            raise ValueError("truncated page header")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def page_sizes(header: bytes) -> tuple[int, int]:
    """``(type, uncompressed_page_size)`` from the start of a Thrift-compact ``PageHeader``
    (fields 1 and 2, both i32, written first by every writer). Raises ``ValueError`` for
    bytes that are not such a header."""
    found: dict[int, int] = {}
    field = at = 0
    while len(found) < 2:
        if at >= len(header):
            raise ValueError("truncated page header")
        byte = header[at]
        at += 1
        delta, kind = byte >> 4, byte & 0x0F
        if delta == 0 or kind != _I32:
            raise ValueError("not a page header")
        field += delta
        raw, at = _varint(header, at)
        found[field] = (raw >> 1) ^ -(raw & 1)  # zigzag
    if 1 not in found or 2 not in found:
        raise ValueError("not a page header")
    return found[1], found[2]


def _skip(data: bytes, at: int, kind: int) -> int:
    """The offset after a Thrift-compact value of type ``kind`` starting at ``at``."""
    if kind in (1, 2):  # booleans live in the field header
        return at
    if kind == 3:
        return at + 1
    if kind in (4, 5, 6):
        return _varint(data, at)[1]
    if kind == 7:
        return at + 8
    if kind == 8:
        size, at = _varint(data, at)
        return at + size
    if kind in (9, 10):
        head = data[at]
        at += 1
        count, element = head >> 4, head & 0x0F
        if count == 15:
            count, at = _varint(data, at)
        for _ in range(count):
            at = _skip(data, at, element)
        return at
    if kind == 11:
        count, at = _varint(data, at)
        if count:
            types = data[at]
            at += 1
            for _ in range(count):
                at = _skip(data, at, types >> 4)
                at = _skip(data, at, types & 0x0F)
        return at
    if kind == 12:
        while True:
            head = data[at]
            at += 1
            if head == 0:
                return at
            if head >> 4 == 0:  # a long-form field id follows
                at = _varint(data, at)[1]
            at = _skip(data, at, head & 0x0F)
    raise ValueError(f"not a Thrift type: {kind}")


def _footer_encrypted(path: Path) -> bool:
    """Whether a Parquet file with a plaintext footer has encrypted columns (its FileMetaData
    holds field 8, ``encryption_algorithm``): pyarrow aborts the process, rather than
    raising, when such a column's metadata is read without keys, so they are not read."""
    with path.open("rb") as fh:
        fh.seek(-8, 2)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        fh.seek(-8 - length, 2)
        footer = fh.read(length)
    at = field = 0
    while at < len(footer):
        head = footer[at]
        at += 1
        if head == 0:
            return False
        delta, kind = head >> 4, head & 0x0F
        if delta:
            field += delta
        else:
            raw, at = _varint(footer, at)
            field = (raw >> 1) ^ -(raw & 1)
        if field == 8:
            return True
        at = _skip(footer, at, kind)
    return False


def check_dictionary_pages(
    path: Path, columns: set[str] | None = None, limit: int | None = None
) -> None:
    """Refuse (:class:`FileTooLarge`) a Parquet file with a dictionary page decoding to more
    than ``limit`` bytes (default :data:`MAX_DICTIONARY_BYTES`) in one of ``columns`` (the
    columns the ingest reads; default: all). Anything that is not a readable Parquet file, or
    a header that cannot be parsed, is left to the reader."""
    limit = MAX_DICTIONARY_BYTES if limit is None else limit
    try:
        meta = pq.ParquetFile(path).metadata
        if _footer_encrypted(path):  # refused by the reader, with its own reason
            return
    except Exception:  # not Parquet, or damaged: the reader says which
        return
    with path.open("rb") as fh:
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                if not chunk.has_dictionary_page:
                    continue
                if columns is not None and chunk.path_in_schema not in columns:
                    continue  # not read
                fh.seek(chunk.dictionary_page_offset or chunk.data_page_offset)
                try:
                    kind, size = page_sizes(fh.read(64))
                except ValueError:
                    continue
                if kind == _DICTIONARY_PAGE and size > limit:
                    raise FileTooLarge(
                        f"column {chunk.path_in_schema} has a dictionary page of "
                        f"{size / (1 << 20):,.0f} MiB (row group {g + 1} of "
                        f"{meta.num_row_groups}, {group.num_rows:,} rows), over the limit of "
                        f"{limit >> 20} MiB that an upload may decode at once; write the "
                        "export with smaller row groups (at most 1,000,000 rows each)",
                        code="dictionary_too_large",
                        column=chunk.path_in_schema,
                        mib=round(size / (1 << 20)),
                    )

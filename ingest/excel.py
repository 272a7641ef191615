"""Excel workbooks (``.xlsx`` and the older ``.xls``, SPEC §3a), read with calamine through
``fastexcel``: sheet by sheet into Arrow, never cell by cell in Python.

Every sheet whose header (the first of its first 20 rows naming the required columns) is
read, in sheet order; other sheets are skipped; data row numbers count on across sheets.
Every cell is read as text: a number with no fraction is written without one (a waybill
``780000000001``, never ``780000000001.0``), a date-time cell as ``YYYY-MM-DD HH:MM:SS``
(Asia/Shanghai wall clock, like every time without a zone).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl

from ingest.exceptions import FileRefused, FileTooLarge
from ingest.reader import (
    HEADER_SEARCH_ROWS,
    RawFile,
    canonical_frame,
    find_header,
    first_line,
    human,
)


@dataclass(frozen=True)
class _Sheet:
    index: int
    name: str
    header: int  # 0-based row of the header in the sheet
    mapping: dict[str, str]  # field -> header text
    positions: list[int]  # column index of each mapped field, in mapping order


def _unreadable(fmt: str, exc: BaseException) -> FileRefused:
    return FileRefused(
        f"the file looks like an Excel workbook ({fmt}) but cannot be read ({first_line(exc)})",
        code="damaged",
        detail=first_line(exc),
    )


def _check_size(path: Path, fmt: str, max_uncompressed: int) -> None:
    """An ``.xlsx`` is a zip: its central directory says how large it unpacks, before any
    sheet is read (a decompression bomb is refused here)."""
    if fmt != "xlsx":
        return
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(fmt, exc) from None
    if unpacked > max_uncompressed:
        raise FileTooLarge(
            f"the workbook would unpack to {human(unpacked)}, over the limit of "
            f"{human(max_uncompressed)}; split the export into smaller files",
            code="too_large_unpacked",
            size=human(unpacked),
            limit=human(max_uncompressed),
        )


def _workbook(path: Path, fmt: str) -> Any:
    try:
        return fastexcel.read_excel(path)
    except Exception as exc:
        raise _unreadable(fmt, exc) from None


def _sheets(workbook: Any, fmt: str) -> list[tuple[_Sheet, int]]:
    """The sheets to read, each with its number of data rows below the header; refused with
    the first sheet's reason when no sheet names the required columns."""
    found: list[tuple[_Sheet, int]] = []
    first: FileRefused | None = None
    for index, name in enumerate(workbook.sheet_names):
        try:
            probe = workbook.load_sheet(
                index, header_row=None, n_rows=HEADER_SEARCH_ROWS, dtypes="string", skip_rows=0
            )
            rows = probe.to_polars().rows()
            total = int(probe.total_height)
        except Exception as exc:
            raise _unreadable(fmt, exc) from None
        if not rows:
            continue
        try:
            header, mapping = find_header([list(r) for r in rows])
        except FileRefused as exc:
            if exc.code == "column_twice":
                raise
            first = first or exc
            continue
        names = [str(v).strip() if v is not None else "" for v in rows[header]]
        positions = [names.index(col.strip()) for col in mapping.values()]
        found.append((_Sheet(index, name, header, mapping, positions), total - header - 1))
    if not found:
        if first is None:
            raise FileRefused("the file has no data rows", code="no_data_rows")
        raise FileRefused(
            f"{first} (no sheet of the workbook names the required columns in its first "
            f"{HEADER_SEARCH_ROWS} rows)",
            code=first.code,
            **first.params,
        )
    return found


def _sheet_frame(workbook: Any, sheet: _Sheet) -> pl.DataFrame:
    loaded = workbook.load_sheet(
        sheet.index, header_row=sheet.header, dtypes="string", use_columns=sheet.positions
    )
    frame = loaded.to_polars()
    assert isinstance(frame, pl.DataFrame)
    # fastexcel returns the columns in sheet order: name them by position, as mapped.
    by_position = sorted(zip(sheet.positions, sheet.mapping.values(), strict=True))
    return frame.rename(dict(zip(frame.columns, [name for _pos, name in by_position], strict=True)))


def open_excel(path: Path, fmt: str, max_uncompressed: int) -> RawFile:
    """Open a workbook; its rows are read one sheet at a time (see the module docstring)."""
    _check_size(path, fmt, max_uncompressed)
    sheets = _sheets(_workbook(path, fmt), fmt)

    def read(batch_rows: int) -> Iterator[pl.DataFrame]:
        workbook = _workbook(path, fmt)
        first = 1
        for sheet, _rows in sheets:
            frame = _sheet_frame(workbook, sheet)
            kinds = dict.fromkeys(sheet.mapping, "string")
            canonical = canonical_frame(frame.lazy(), sheet.mapping, kinds, first).collect()
            del frame
            first += canonical.height
            for offset in range(0, canonical.height, batch_rows):
                yield canonical.slice(offset, batch_rows)

    head = sheets[0][0]
    return RawFile(fmt, None, read, header_row=head.header + 1, columns=head.mapping)


def check_excel(path: Path, fmt: str, max_uncompressed: int) -> str:
    """The checks of :func:`open_excel` that read no data rows: size once unpacked, each
    sheet's header, and that some sheet holds a data row."""
    _check_size(path, fmt, max_uncompressed)
    sheets = _sheets(_workbook(path, fmt), fmt)
    if not any(rows > 0 for _sheet, rows in sheets):
        raise FileRefused("the file has no data rows", code="no_data_rows")
    return fmt

"""Excel workbooks (``.xlsx`` and the older ``.xls``, SPEC §3a), read with calamine through
``fastexcel``: sheet by sheet into Arrow, never cell by cell in Python.

Every sheet whose header (the first of its first 20 rows naming the required columns) is
read, in sheet order; other sheets are skipped; data row numbers count on across sheets.
Every cell is read as text: a number with no fraction is written without one (a waybill
``780000000001``, never ``780000000001.0``), a date-time cell as ``YYYY-MM-DD HH:MM:SS``
(Asia/Shanghai wall clock, like every time without a zone).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError, iterparse

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
        raise _no_sheet_names_the_columns(first)
    return found


def _no_sheet_names_the_columns(first: FileRefused) -> FileRefused:
    """The refusal of a workbook none of whose sheets has a header: the first sheet's reason."""
    return FileRefused(
        f"{first} (no sheet of the workbook names the required columns in its first "
        f"{HEADER_SEARCH_ROWS} rows)",
        code=first.code,
        **first.params,
    )


def _sheet_frame(workbook: Any, sheet: _Sheet) -> pl.DataFrame:
    # Asked for in sheet order, the columns come back in it (fastexcel keeps the order it is
    # given: 扫描时间 mapped before 扫描日期 would otherwise be named after each other).
    by_position = sorted(zip(sheet.positions, sheet.mapping.values(), strict=True))
    loaded = workbook.load_sheet(
        sheet.index,
        header_row=sheet.header,
        dtypes="string",
        use_columns=[position for position, _name in by_position],
    )
    frame = loaded.to_polars()
    assert isinstance(frame, pl.DataFrame)
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
    sheet's header, and that some sheet holds a data row.

    An ``.xlsx`` is checked from its zip directory and the first rows of each sheet's XML
    (:func:`_xlsx_tops`), never loading a sheet or the whole string table: the check of a
    1M-row workbook costs what a small one's does. A workbook laid out otherwise than this
    reading expects (parts where no common writer puts them, XML it cannot parse) is judged
    by calamine instead, as an ``.xls`` (at most 65,536 rows a sheet) always is: the check
    never refuses what the ingest would read."""
    _check_size(path, fmt, max_uncompressed)
    tops = None
    if fmt == "xlsx":
        try:
            tops = _xlsx_tops(path)
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, ParseError):
            tops = None  # calamine judges it (and says why it is damaged, if it is)
    if tops is not None:
        first: FileRefused | None = None
        found: list[bool] = []
        for rows, has_data in tops:
            if not rows:
                continue
            try:
                header, _mapping = find_header(rows)
            except FileRefused as exc:
                if exc.code == "column_twice":
                    raise
                first = first or exc
                continue
            found.append(has_data(header))
        if not found and first is not None:
            raise _no_sheet_names_the_columns(first)
        if not any(found):
            raise FileRefused("the file has no data rows", code="no_data_rows")
        return fmt
    sheets = _sheets(_workbook(path, fmt), fmt)
    if not any(rows > 0 for _sheet, rows in sheets):
        raise FileRefused("the file has no data rows", code="no_data_rows")
    return fmt


# -- the first rows of an .xlsx, from its XML ------------------------------------------------
_COLUMN = re.compile(r"^([A-Z]+)([0-9]+)$")


def _local(tag: str) -> str:
    """An element's name without its namespace (transitional and strict OOXML alike)."""
    return tag.rsplit("}", 1)[-1]


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child.tag) == name]


def _column_index(ref: str | None, default: int) -> int:
    match = _COLUMN.match(ref or "")
    if not match:
        return default
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _text_of(element: Any) -> str:
    """The text of a shared or inline string: its ``<t>``, or the ``<t>`` of its rich-text
    runs ``<r>``; phonetic runs ``<rPh>`` are left out."""
    parts: list[str] = []
    for child in element:
        if _local(child.tag) == "t":
            parts.append(child.text or "")
        elif _local(child.tag) == "r":
            parts += [t.text or "" for t in _children(child, "t")]
    return "".join(parts)


def _number_text(value: str) -> str:
    """A number cell as calamine prints it: no fraction when it has none."""
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 2**63:
        return str(int(number))
    return repr(number)


def _sheet_paths(archive: zipfile.ZipFile) -> tuple[list[str], str | None]:
    """The worksheets' paths inside the zip, in the workbook's sheet order, and the shared
    strings' path (from the workbook's relationships)."""
    targets: dict[str, tuple[str, str]] = {}
    with archive.open("xl/_rels/workbook.xml.rels") as fh:
        for _event, el in iterparse(fh):
            if _local(el.tag) == "Relationship":
                target = el.get("Target", "")
                if target.startswith("/"):
                    target = target.lstrip("/")
                else:
                    target = posixpath.normpath(posixpath.join("xl", target))
                targets[el.get("Id", "")] = (el.get("Type", ""), target)
    paths: list[str] = []
    with archive.open("xl/workbook.xml") as fh:
        for _event, el in iterparse(fh):
            if _local(el.tag) == "sheet":
                rel = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
                kind, target = targets.get(rel, ("", ""))
                if kind.endswith("/worksheet"):
                    paths.append(target)
    if not paths:
        raise ValueError("no worksheet found in the workbook's relationships")
    strings = [t for kind, t in targets.values() if kind.endswith("/sharedStrings")]
    return paths, strings[0] if strings else None


#: One row of a sheet's top: its 1-based row number and its cells (column index, kind, value).
_Cells = list[tuple[int, str, str]]


def _sheet_top(fh: IO[bytes]) -> tuple[list[tuple[int, _Cells]], bool]:
    """The first rows of a sheet (from the first non-empty one, :data:`HEADER_SEARCH_ROWS` of
    them, as calamine's range starts) and whether a non-empty row follows them. Reading
    stops there: a sheet of a million rows costs what its first rows do."""
    rows: list[tuple[int, _Cells]] = []
    first_row: int | None = None
    more = False
    number = 0
    for _event, el in iterparse(fh):
        if _local(el.tag) != "row":
            continue
        number = int(el.get("r") or number + 1)
        cells: _Cells = []
        for position, c in enumerate(_children(el, "c")):
            kind = c.get("t", "n")
            if kind == "inlineStr":
                nodes = _children(c, "is")
                value = _text_of(nodes[0]) if nodes else ""
            else:
                nodes = _children(c, "v")
                value = (nodes[0].text or "") if nodes else ""
            if value != "":
                cells.append((_column_index(c.get("r"), position), kind, value))
        el.clear()
        if not cells:
            continue
        if first_row is None:
            first_row = number
        if number - first_row >= HEADER_SEARCH_ROWS:
            more = True
            break
        rows.append((number, cells))
    return rows, more


def _shared_strings(
    archive: zipfile.ZipFile, member: str | None, wanted: set[int]
) -> dict[int, str]:
    """The shared strings of the given indices, read until the largest of them."""
    if not wanted or member is None:
        return {}
    out: dict[int, str] = {}
    last = max(wanted)
    index = 0
    with archive.open(member) as fh:
        for _event, el in iterparse(fh):
            if _local(el.tag) != "si":
                continue
            if index in wanted:
                out[index] = _text_of(el)
            el.clear()
            if index >= last:
                break
            index += 1
    return out


def _xlsx_tops(path: Path) -> list[tuple[list[list[str]], Any]]:
    """Each worksheet's first rows as text (the grid calamine would give, from its first
    non-empty row and column) and a function telling, for a header at a given index of those
    rows, whether a non-empty row lies below it."""
    out: list[tuple[list[list[str]], Any]] = []
    with zipfile.ZipFile(path) as archive:
        tops = []
        members, shared = _sheet_paths(archive)
        for member in members:
            with archive.open(member) as fh:
                tops.append(_sheet_top(fh))
        wanted = {
            int(value)
            for rows, _more in tops
            for _number, cells in rows
            for _col, kind, value in cells
            if kind == "s" and value.isdigit()
        }
        strings = _shared_strings(archive, shared, wanted)
    for rows, more in tops:
        if not rows:
            out.append(([], lambda _header: False))
            continue
        first_row = rows[0][0]
        first_col = min(col for _n, cells in rows for col, _k, _v in cells)
        width = max(col for _n, cells in rows for col, _k, _v in cells) - first_col + 1
        grid = [[""] * width for _ in range(rows[-1][0] - first_row + 1)]
        for number, cells in rows:
            for col, kind, value in cells:
                if kind == "s":
                    text = strings.get(int(value), "") if value.isdigit() else ""
                elif kind in ("n", ""):
                    text = _number_text(value)
                else:
                    text = value
                grid[number - first_row][col - first_col] = text
        filled = {number - first_row for number, _cells in rows}

        def has_data(header: int, filled: set[int] = filled, more: bool = more) -> bool:
            return more or any(i > header for i in filled)

        out.append((grid, has_data))
    return out

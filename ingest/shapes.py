"""Couriers' export shapes (SPEC §3a) for generated data: the rows of a canonical scan log,
written the way each carrier's system exports them.

One shape per carrier (:data:`SHAPES`), each in its own words, columns, time format and
container: J&T's ``.xlsx`` (运单号/扫描类型/扫描网点/扫描时间, sites by name, date-time
cells), ZTO's open-platform CSV (billCode/scanType/scanSite/scanDate in epoch milliseconds),
STO's GB18030 CSV with a title line and split 扫描日期/扫描时间, YTO's TSV with sites by
alias and ``YYYY/M/D H:MM:SS`` text, EMS's ``.xls`` with waybills as number cells, and so on.
Every shape carries the row's carrier (code or Chinese name) and keeps times to the
millisecond, so the same rows read back give the same events as the canonical Parquet file
(:func:`write_shaped` and the canonical file hold the same rows; the tests compare stores
and reports).

Large files are written in slices (:data:`SLICE_ROWS`) and split across sheets where a
workbook's sheet ends (1,048,576 rows in ``.xlsx``, 65,536 in ``.xls``), the header repeated
on each sheet.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

#: Scan words by style: canonical scan type -> the word the export writes.
WORDS: dict[str, dict[str, str]] = {
    "jt": {"pickup": "快件揽收", "depart": "发件扫描", "arrive": "到件扫描",
           "dispatch": "派件扫描", "sign": "快件签收", "exception": "问题件扫描", "other": "装袋"},
    "zto": {"pickup": "收件", "depart": "发件", "arrive": "到件", "dispatch": "派件",
            "sign": "签收", "exception": "问题件", "other": "建包"},
    "sto": {"pickup": "揽收扫描", "depart": "出仓扫描", "arrive": "入库扫描",
            "dispatch": "出库扫描", "sign": "驿站代收", "exception": "滞留", "other": "拆包"},
    "yto": {"pickup": "揽收", "depart": "装车发件", "arrive": "到达", "dispatch": "派送",
            "sign": "已签收", "exception": "退回", "other": "称重"},
    "canonical": {},
}  # fmt: skip
#: The word written for a scan type no style knows (a generated bad row): not in any list.
UNKNOWN_WORD = "中转扫描"

#: Fields a shape's column may hold: the canonical ones, and ``site_name`` (the site's
#: registered name, the code when it has none), ``site_alias`` (the alias exports use, the
#: code when it has none), ``next_site_name``, ``carrier_name`` (the carrier's Chinese name),
#: ``scan_date`` and ``scan_clock`` (a split time).
FIELDS = ("waybill_no", "scan_type", "site_code", "site_name", "site_alias", "scan_time",
          "scan_date", "scan_clock", "carrier", "carrier_name", "next_site_code",
          "next_site_name")  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """How one carrier's system exports its scans."""

    #: ``csv``, ``tsv``, ``xlsx`` or ``xls`` (also the file's suffix)
    container: str
    #: (field of :data:`FIELDS`, header) in column order
    columns: tuple[tuple[str, str], ...]
    #: the style of :data:`WORDS`
    words: str = "canonical"
    #: text times (CSV/TSV): ``wall`` YYYY-MM-DD HH:MM:SS.fff, ``slash`` YYYY/M/D H:MM:SS.fff,
    #: ``iso`` with +08:00, ``epoch_ms``; a workbook writes date-time cells
    time: str = "wall"
    encoding: str = "utf-8"
    #: a title line above the header (``{month}``: the month most of the file's scans are of)
    title: str | None = None
    #: waybills made only of digits written as number cells (workbooks)
    number_waybills: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        unknown = [name for name, _header in self.columns if name not in FIELDS]
        if unknown or self.container not in ("csv", "tsv", "xlsx", "xls"):
            raise ValueError(f"shape of unknown fields {unknown} or container {self.container}")
        if self.words not in WORDS or self.time not in ("wall", "slash", "iso", "epoch_ms"):
            raise ValueError(f"shape of unknown words {self.words!r} or time {self.time!r}")


#: Carrier code -> its export shape.
SHAPES: dict[str, Shape] = {
    "JT": Shape(
        "xlsx",
        (("waybill_no", "运单号"), ("scan_type", "扫描类型"), ("site_name", "扫描网点"),
         ("scan_time", "扫描时间"), ("next_site_name", "下一站"), ("carrier_name", "快递公司")),
        words="jt", title="极兔速递扫描明细 {month}",
        description="J&T .xlsx: sites by name, date-time cells, a title line",
    ),
    "ZTO": Shape(
        "csv",
        (("waybill_no", "billCode"), ("scan_type", "scanType"), ("site_code", "scanSite"),
         ("scan_time", "scanDate"), ("next_site_code", "nextSite"),
         ("carrier", "expressCompany")),
        words="zto", time="epoch_ms",
        description="ZTO open-platform CSV: scanDate in epoch milliseconds",
    ),
    "STO": Shape(
        "csv",
        (("waybill_no", "运单编号"), ("scan_type", "操作类型"), ("site_name", "扫描网点"),
         ("site_code", "扫描网点编码"), ("scan_date", "扫描日期"), ("scan_clock", "扫描时间"),
         ("next_site_code", "下一站"), ("carrier_name", "快递公司")),
        words="sto", encoding="gb18030", title="申通快递扫描明细 {month}",
        description="STO GB18030 CSV: a title line, split 扫描日期/扫描时间, name and code",
    ),
    "YTO": Shape(
        "tsv",
        (("waybill_no", "运单号"), ("scan_type", "扫描类型"), ("site_alias", "操作网点"),
         ("scan_time", "扫描时间"), ("carrier_name", "承运商"), ("next_site_name", "下一站")),
        words="yto", time="slash", encoding="utf-8-sig",
        description="YTO TSV (UTF-8 with BOM): sites by alias, YYYY/M/D H:MM:SS text",
    ),
    "YUNDA": Shape(
        "xlsx",
        (("waybill_no", "快递单号"), ("scan_type", "扫描类别"), ("site_code", "网点编号"),
         ("scan_date", "扫描日期"), ("scan_clock", "扫描时间"), ("carrier_name", "快递品牌"),
         ("next_site_code", "上一站/下一站")),
        words="zto", number_waybills=True,
        description="YUNDA .xlsx: date cell + time cell, waybills as number cells",
    ),
    "EMS": Shape(
        "xls",
        (("waybill_no", "邮件号"), ("scan_type", "操作类型"), ("site_code", "操作网点"),
         ("scan_time", "操作时间"), ("carrier_name", "快递公司"), ("next_site_code", "下一站")),
        words="yto", title="中国邮政邮件处理明细 {month}", number_waybills=True,
        description="EMS .xls: waybills as number cells, date-time cells, a title line",
    ),
    "SF": Shape(
        "csv",
        (("waybill_no", "mailNo"), ("scan_type", "opType"), ("site_code", "siteCode"),
         ("scan_time", "opTime"), ("carrier", "carrier"), ("next_site_code", "nextSite")),
        words="zto", time="iso",
        description="SF CSV: English headers, ISO 8601 times with +08:00",
    ),
    "JD": Shape(
        "tsv",
        (("waybill_no", "快递单号"), ("scan_type", "扫描类型"), ("site_alias", "扫描网点"),
         ("scan_time", "扫描时间"), ("carrier_name", "快递公司"), ("next_site_name", "下一站")),
        words="jt", encoding="gb18030",
        description="JD TSV in GB18030: sites by alias",
    ),
    "DEPPON": Shape(
        "xls",
        (("waybill_no", "运单号"), ("scan_type", "扫描类型"), ("site_name", "扫描网点"),
         ("scan_date", "扫描日期"), ("scan_clock", "扫描时间"), ("carrier_name", "快递公司"),
         ("next_site_name", "preOrNextSite")),
        words="sto", title="德邦快递扫描明细 {month}",
        description="DEPPON .xls: sites by name, date cell + time cell",
    ),
}  # fmt: skip

#: Rows a sheet holds below its title and header lines.
SHEET_ROWS = {"xlsx": 1_048_576, "xls": 65_536}
#: Rows turned into text or cells at a time.
SLICE_ROWS = 200_000
_EXCEL_EPOCH = datetime(1899, 12, 30)


@dataclass(frozen=True)
class Registry:
    """What a shape needs of the sites registry and the carriers: names, aliases."""

    names: dict[str, str]  # site code -> name
    aliases: dict[str, str]  # site code -> the alias the exports use
    carriers: dict[str, str]  # carrier code -> Chinese name


def _word(style: str) -> pl.Expr:
    words = WORDS[style]
    col = pl.col("scan_type")
    if not words:
        return col
    return col.replace_strict(words, default=pl.lit(UNKNOWN_WORD), return_dtype=pl.String)


def _lookup(column: str, table: dict[str, str]) -> pl.Expr:
    col = pl.col(column)
    return col.replace_strict(table, default=col, return_dtype=pl.String)


def _time_text(style: str) -> pl.Expr:
    t = pl.col("scan_time")
    if style == "epoch_ms":  # the wall clock is Asia/Shanghai (UTC+8 since 1992)
        return (t.dt.epoch("ms") - 8 * 3_600_000).cast(pl.String)
    if style == "iso":
        return t.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f+08:00")
    if style == "slash":
        return pl.format(
            "{}/{}/{} {}:{}",
            t.dt.year(),
            t.dt.month(),
            t.dt.day(),
            t.dt.hour(),
            t.dt.strftime("%M:%S%.3f"),
        )
    return t.dt.strftime("%Y-%m-%d %H:%M:%S%.3f")


def _columns(shape: Shape, reg: Registry, text_times: bool) -> list[pl.Expr]:
    """The shape's columns, named by their headers; times as text or as naive values."""
    exprs: dict[str, pl.Expr] = {
        "waybill_no": pl.col("waybill_no"),
        "scan_type": _word(shape.words),
        "site_code": pl.col("site_code"),
        "site_name": _lookup("site_code", reg.names),
        "site_alias": _lookup("site_code", reg.aliases),
        "carrier": pl.col("carrier"),
        "carrier_name": _lookup("carrier", reg.carriers),
        "next_site_code": pl.col("next_site_code"),
        "next_site_name": _lookup("next_site_code", reg.names),
    }
    t = pl.col("scan_time")
    if text_times:
        exprs |= {
            "scan_time": _time_text(shape.time),
            "scan_date": t.dt.strftime("%Y-%m-%d"),
            "scan_clock": t.dt.strftime("%H:%M:%S%.3f"),
        }
    else:
        exprs |= {"scan_time": t, "scan_date": t.dt.date(), "scan_clock": t.dt.time()}
    return [exprs[name].alias(header) for name, header in shape.columns]


def _title(shape: Shape, frame: pl.DataFrame) -> str | None:
    if shape.title is None:
        return None
    months = frame["scan_time"].dt.strftime("%Y-%m").drop_nulls()
    month = months.mode().sort()[-1] if months.len() else ""  # the month most rows are of
    return shape.title.format(month=month)


def _slices(frame: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, max(frame.height, 1), rows):
        yield frame.slice(offset, rows)


def _write_text(frame: pl.DataFrame, path: Path, shape: Shape, reg: Registry) -> None:
    separator = "\t" if shape.container == "tsv" else ","
    title = _title(shape, frame)
    with path.open("wb") as fh:
        if shape.encoding == "utf-8-sig":
            fh.write("\ufeff".encode())
        encoding = "utf-8" if shape.encoding == "utf-8-sig" else shape.encoding
        if title is not None:
            fh.write(f"{title}\n".encode(encoding))
        for i, part in enumerate(_slices(frame, SLICE_ROWS)):
            buf = io.BytesIO()
            part.select(_columns(shape, reg, text_times=True)).write_csv(
                buf, separator=separator, include_header=i == 0
            )
            data = buf.getvalue()
            fh.write(data if encoding == "utf-8" else data.decode().encode(encoding))


def _cell(value: Any, number_waybill: bool) -> Any:
    if number_waybill and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if value == "":
        return None
    return value


def _excel_rows(frame: pl.DataFrame, shape: Shape, reg: Registry) -> Iterator[list[Any]]:
    waybill = [name for name, _h in shape.columns].index("waybill_no")
    for part in _slices(frame, SLICE_ROWS):
        for row in part.select(_columns(shape, reg, text_times=False)).iter_rows():
            cells = [_cell(v, shape.number_waybills and i == waybill) for i, v in enumerate(row)]
            yield cells


def _write_xlsx(frame: pl.DataFrame, path: Path, shape: Shape, reg: Registry) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "default_date_format": "yyyy-mm-dd hh:mm:ss.000"},
    )
    clock = book.add_format({"num_format": "hh:mm:ss.000"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    header = [h for _f, h in shape.columns]
    title = _title(shape, frame)
    per_sheet = SHEET_ROWS["xlsx"] - 1 - (title is not None)
    sheet, r = None, 0
    for n, cells in enumerate(_excel_rows(frame, shape, reg)):
        if n % per_sheet == 0:
            sheet = book.add_worksheet(f"明细{n // per_sheet + 1}")
            r = 0
            if title is not None:
                sheet.write_string(r, 0, title)
                r += 1
            sheet.write_row(r, 0, header)
            r += 1
        assert sheet is not None
        for c, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, time):
                sheet.write_datetime(r, c, value, clock)
            elif isinstance(value, date) and not isinstance(value, datetime):
                sheet.write_datetime(r, c, value, day)
            else:
                sheet.write(r, c, value)
        r += 1
    if sheet is None:  # no rows: the header alone
        sheet = book.add_worksheet("明细1")
        sheet.write_row(0, 0, header)
    book.close()


def _serial(value: datetime | date | time) -> float:
    """An Excel 1900-system serial (days), to the microsecond (xlwt's own drops them)."""
    if isinstance(value, time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400 + (
            value.microsecond / 86_400_000_000
        )
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return (value - _EXCEL_EPOCH) / timedelta(days=1)


def _write_xls(frame: pl.DataFrame, path: Path, shape: Shape, reg: Registry) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    styles = {
        datetime: xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss.000"),
        date: xlwt.easyxf(num_format_str="yyyy-mm-dd"),
        time: xlwt.easyxf(num_format_str="hh:mm:ss.000"),
    }
    header = [h for _f, h in shape.columns]
    title = _title(shape, frame)
    per_sheet = SHEET_ROWS["xls"] - 1 - (title is not None)
    sheet, r = None, 0
    for n, cells in enumerate(_excel_rows(frame, shape, reg)):
        if n % per_sheet == 0:
            sheet = book.add_sheet(f"明细{n // per_sheet + 1}")
            r = 0
            if title is not None:
                sheet.write(r, 0, title)
                r += 1
            for c, name in enumerate(header):
                sheet.write(r, c, name)
            r += 1
        assert sheet is not None
        for c, value in enumerate(cells):
            if value is None:
                continue
            kind = type(value)
            if kind in styles:
                sheet.write(r, c, _serial(value), styles[kind])
            else:
                sheet.write(r, c, value)
        r += 1
    if sheet is None:
        sheet = book.add_sheet("明细1")
        for c, name in enumerate(header):
            sheet.write(0, c, name)
    book.save(str(path))


def write_shaped(frame: pl.DataFrame, path: Path, carrier: str, reg: Registry) -> Path:
    """Write ``frame`` (canonical columns: waybill_no, scan_type, site_code, scan_time as a
    naive Asia/Shanghai wall clock, carrier, next_site_code) in ``carrier``'s shape, as
    ``path`` with the shape's suffix; returns that path."""
    shape = SHAPES[carrier]
    target = path.with_suffix(f".{shape.container}")
    if shape.container in ("csv", "tsv"):
        _write_text(frame, target, shape, reg)
    elif shape.container == "xlsx":
        _write_xlsx(frame, target, shape, reg)
    else:
        _write_xls(frame, target, shape, reg)
    return target

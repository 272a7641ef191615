"""Couriers' real exports (SPEC §3a): title lines, column aliases, the code column's preference,
split date and time, every time shape, TSV and GB18030. Each shape's store and report equal
those of the same rows as canonical Parquet.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable
from datetime import UTC, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.policy import Policy
from core.store import Store
from ingest.uploads import ingest_file
from tests.factories import (
    CENTER,
    HUB,
    NOW,
    OTHER,
    SITES,
    cst,
    make_store,
    reject_rows,
    report,
    report_core,
    scan,
    stored_events,
    write_parquet,
)

#: A parcel picked up, departed, arrived (eligible); another departed at the end of May.
ROWS = [
    scan("7731000001", "pickup", OTHER, cst(2023, 5, 1, 8, 0, 0)),
    scan("7731000001", "depart", CENTER, cst(2023, 5, 1, 12, 30, 15), next_site_code=HUB),
    scan("7731000001", "arrive", HUB, cst(2023, 5, 2, 9, 5, 0)),
    scan("7731000002", "depart", CENTER, cst(2023, 5, 31, 23, 59, 59)),
]
WORDS = {"pickup": "揽收", "depart": "发件", "arrive": "到件"}
AS_OF = cst(2023, 6, 30)


def table(
    header: dict[str, str],
    *,
    time: Callable[[datetime], str] = lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
    extra: dict[str, Callable[[dict[str, Any]], str]] | None = None,
) -> list[list[str]]:
    """ROWS as a header and text rows: ``header`` maps field -> column name."""
    fields = list(header)
    out = [[header[f] for f in fields] + list(extra or {})]
    for row in ROWS:
        cells = []
        for f in fields:
            value = row.get(f)
            if f == "scan_time":
                cells.append(time(value))
            elif f == "scan_type":
                cells.append(WORDS[value])
            else:
                cells.append("" if value is None else str(value))
        out.append(cells + [fn(row) for fn in (extra or {}).values()])
    return out


def text_file(
    rows: list[list[str]], *, encoding: str = "utf-8", sep: str = ",", titles: int = 0
) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        buf = io.StringIO()
        for i in range(titles):
            buf.write(f"中通快递扫描明细 2023-05 第{i + 1}页\n")
        csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
        path.write_bytes(buf.getvalue().encode(encoding))
        return path

    return write


ZH = {
    "waybill_no": "运单编号",
    "scan_type": "操作类型",
    "site_code": "网点代码",
    "scan_time": "操作时间",
    "next_site_code": "下一站",
}
ZTO_OPEN = {
    "waybill_no": "billCode",
    "scan_type": "scanType",
    "site_code": "scanSite",
    "scan_time": "scanDate",
    "next_site_code": "nextSite",
}


def epoch_ms(t: datetime) -> str:
    return str(int(t.timestamp() * 1000))


def epoch_s(t: datetime) -> str:
    return str(int(t.timestamp()))


def unpadded(t: datetime) -> str:
    return f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}:{t.second:02d}"


def split(header: dict[str, str]) -> list[list[str]]:
    rows = table(
        {**header, "scan_time": "扫描时间"},
        time=lambda t: t.strftime("%H:%M:%S"),
        extra={"扫描日期": lambda r: r["scan_time"].strftime("%Y-%m-%d")},
    )
    return rows


def integer_time_parquet(path: Path) -> Path:
    frame = write_parquet(path, ROWS)
    t = pq.read_table(frame)
    ms = pa.array([int(r["scan_time"].timestamp() * 1000) for r in ROWS], pa.int64())
    t = t.set_column(t.schema.get_field_index("scan_time"), "扫描时间", ms)
    pq.write_table(t, path)
    return path


SHAPES = [
    pytest.param(text_file(table(ZH), titles=2), id="csv-aliases-title-lines"),
    pytest.param(text_file(table(ZH), encoding="gb18030", sep="\t", titles=1), id="tsv-gb18030"),
    pytest.param(text_file(table(ZH), encoding="gbk"), id="csv-gbk"),
    pytest.param(text_file(table(ZH), encoding="utf-8-sig", titles=3), id="csv-bom-titles"),
    pytest.param(text_file(table(ZTO_OPEN, time=epoch_ms)), id="zto-open-epoch-ms"),
    pytest.param(text_file(table(ZH, time=epoch_s)), id="epoch-seconds"),
    pytest.param(
        text_file(table(ZH, time=lambda t: t.strftime("%Y%m%d%H%M%S"))), id="fourteen-digits"
    ),
    pytest.param(text_file(table(ZH, time=unpadded)), id="slashes-unpadded"),
    pytest.param(text_file(split(ZH), titles=1), id="split-date-and-time"),
    pytest.param(
        text_file(
            table(
                {**ZH, "site_code": "扫描网点编码"},
                extra={"扫描网点": lambda r: "济阳" + r["site_code"]},
            )
        ),
        id="code-column-beats-name-column",
    ),
    pytest.param(
        text_file(
            table(
                {**ZH, "site_code": "操作网点"},
                extra={"scanSiteCode": lambda r: r["site_code"]},
            )
        ),
        id="code-column-later-in-list-wins",
    ),
    pytest.param(integer_time_parquet, id="parquet-integer-epoch-ms"),
]


def canonical(tmp_path: Path, policy: Policy) -> tuple[pl.DataFrame, str]:
    """The events and report of ROWS ingested as canonical Parquet into a store of their own."""
    store = make_store(tmp_path / "canonical")
    path = write_parquet(tmp_path / "canonical.parquet", ROWS)
    ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    return stored_events(store).drop("upload_id"), report_core(report(store, "2023-05", AS_OF))


@pytest.mark.parametrize("write", SHAPES)
def test_real_export_shape_gives_the_canonical_store_and_report(
    store: Store, policy: Policy, tmp_path: Path, write: Callable[[Path], Path]
) -> None:
    """The same rows in a courier's own shape give the events and report of canonical Parquet."""
    upload = ingest_file(store, write(tmp_path / "export.bin"), policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.error) == ("ingested", None)
    assert (upload.rows_read, upload.accepted, upload.rejected) == (4, 4, 0)
    want_events, want_report = canonical(tmp_path, policy)
    got = stored_events(store).drop("upload_id")
    assert got.to_dicts() == want_events.to_dicts()
    assert report_core(report(store, "2023-05", AS_OF, policy)) == want_report
    rep = report(store, "2023-05", AS_OF, policy)
    assert rep["carriers"][0]["eligible_parcels"] == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("12345", "bad_scan_time", id="other-integer"),
        pytest.param("16829010001", "bad_scan_time", id="eleven-digits"),
        pytest.param("20231301083000", "bad_scan_time", id="fourteen-digits-invalid-month"),
        pytest.param("２０２３０５０１０８３０００", "bad_scan_time", id="full-width-digits"),
        pytest.param("１６８２９０１０００", "bad_scan_time", id="full-width-epoch"),
        pytest.param("946684800", "implausible_scan_time", id="epoch-2000-is-implausible"),
        pytest.param("2023/5/1 8:30", None, id="slashes-short"),
        pytest.param("1682901000", None, id="epoch-seconds"),
    ],
)
def test_time_shapes_outside_the_list_are_bad_scan_time(
    store: Store, policy: Policy, tmp_path: Path, value: str, reason: str | None
) -> None:
    """Only ASCII-digit epochs of 9-10 and 12-13 digits and valid 14-digit times are times."""
    path = tmp_path / "times.csv"
    path.write_text(
        f"运单号,扫描类型,扫描网点,扫描时间\n7731000009,发件,{CENTER},{value}\n", encoding="utf-8"
    )
    lenient = dataclasses.replace(policy, max_rejected_share=1.0)  # one row, maybe rejected
    upload = ingest_file(store, path, lenient, carrier="ZTO", now=NOW)
    assert upload.status == "ingested"
    if reason is None:
        assert upload.accepted == 1
        assert stored_events(store)["scan_time"].to_list()[0].year == 2023
    else:
        assert upload.rejected_by_reason == {reason: 1}
        assert [(r["row_no"], r["reason"], r["scan_time"]) for r in reject_rows(store)] == [
            (1, reason, value)
        ]


def test_epoch_is_an_instant_and_fourteen_digits_a_wall_clock(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """1682901000 is 2023-05-01 00:30 UTC = 08:30 in Jiyang; 20230501083000 is 08:30 there."""
    path = tmp_path / "t.csv"
    path.write_text(
        "运单号,扫描类型,扫描网点,扫描时间\n"
        f"7731000009,发件,{CENTER},1682901000\n"
        f"7731000009,到件,{HUB},1682901000123\n"
        f"7731000009,派件,{HUB},20230501083000\n",
        encoding="utf-8",
    )
    ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    times = stored_events(store).sort("row_no")["scan_time"].to_list()
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2023, 5, 1, 0, 30, tzinfo=UTC),
        datetime(2023, 5, 1, 0, 30, 0, 123000, tzinfo=UTC),
        datetime(2023, 5, 1, 0, 30, tzinfo=UTC),
    ]


def test_header_beyond_the_first_20_rows_is_not_found(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """The header is looked for in the first 20 rows only; the refusal names what it found."""
    path = text_file(table(ZH), titles=20)(tmp_path / "deep.csv")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.status == "refused"
    assert upload.error is not None and upload.error.startswith("missing column waybill_no")


def test_title_lines_do_not_count_as_rows(store: Store, policy: Policy, tmp_path: Path) -> None:
    """Row numbers count data rows after the header: a rejected row names its data row."""
    rows = table(ZH)
    rows[2][0] = "bad!"
    path = text_file(rows, titles=4)(tmp_path / "t.csv")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.accepted, upload.rejected_by_reason) == (3, {"bad_waybill": 1})
    assert [(r["row_no"], r["waybill_no"]) for r in reject_rows(store)] == [(2, "bad!")]
    assert sorted(stored_events(store)["row_no"].to_list()) == [1, 3, 4]


# -- Excel workbooks, written by the libraries courier systems use ----------------------------

Cell = str | int | float | datetime | None


def excel_rows(
    header: dict[str, str],
    *,
    time: Callable[[datetime], Cell] = lambda t: t.replace(tzinfo=None),
    waybill: Callable[[str], Cell] = lambda w: int(w) if w.isdigit() else w,
    split_date: bool = False,
) -> list[list[Cell]]:
    """ROWS as typed cells: numeric waybills as numbers, times as date-time cells."""
    fields = list(header)
    out: list[list[Cell]] = [[header[f] for f in fields] + (["扫描日期"] if split_date else [])]
    for row in ROWS:
        cells: list[Cell] = []
        for f in fields:
            value = row.get(f)
            if f == "scan_time":
                cells.append(time(value))
            elif f == "scan_type":
                cells.append(WORDS[value])
            elif f == "waybill_no":
                cells.append(waybill(value))
            else:
                cells.append(value)
        if split_date:
            cells.append(row["scan_time"].replace(tzinfo=None, hour=0, minute=0, second=0))
        out.append(cells)
    return out


def xlsxwriter_book(
    sheets: list[tuple[str, list[list[Cell]]]], titles: int = 0
) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        import xlsxwriter

        book = xlsxwriter.Workbook(path)
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        clock = book.add_format({"num_format": "hh:mm:ss"})
        for name, rows in sheets:
            sheet = book.add_worksheet(name)
            for i in range(titles):
                sheet.write(i, 0, f"中通快递扫描明细 2023-05 ({i + 1})")
            for r, cells in enumerate(rows, start=titles):
                for c, cell in enumerate(cells):
                    if isinstance(cell, datetime):
                        sheet.write_datetime(r, c, cell, stamp)
                    elif isinstance(cell, time_of_day):
                        sheet.write_datetime(r, c, cell, clock)
                    elif cell is not None:
                        sheet.write(r, c, cell)
        book.close()
        return path

    return write


def openpyxl_book(rows: list[list[Cell]], titles: int = 0) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for i in range(titles):
            sheet.append([f"扫描明细 第{i + 1}行"])
        for cells in rows:
            sheet.append(cells)
        book.save(path)
        return path

    return write


def xlwt_book(
    sheets: list[tuple[str, list[list[Cell]]]], titles: int = 0
) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        stamp = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
        clock = xlwt.easyxf(num_format_str="hh:mm:ss")
        for name, rows in sheets:
            sheet = book.add_sheet(name)
            for i in range(titles):
                sheet.write(i, 0, f"申通快递扫描明细 {i + 1}")
            for r, cells in enumerate(rows, start=titles):
                for c, cell in enumerate(cells):
                    if isinstance(cell, datetime):
                        sheet.write(r, c, cell, stamp)
                    elif isinstance(cell, time_of_day):
                        sheet.write(r, c, cell, clock)
                    elif cell is not None:
                        sheet.write(r, c, cell)
        book.save(str(path))
        return path

    return write


JT = {
    "waybill_no": "运单号",
    "scan_type": "扫描类型",
    "site_code": "扫描网点",
    "scan_time": "扫描时间",
    "next_site_code": "下一站",
}


def split_cells() -> list[list[Cell]]:
    rows = excel_rows(JT, time=lambda t: t.replace(tzinfo=None).time(), split_date=True)
    return rows


def two_sheets(rows: list[list[Cell]]) -> list[tuple[str, list[list[Cell]]]]:
    """The rows over two sheets (header repeated), with a notes sheet between them."""
    return [
        ("扫描1", rows[:3]),
        ("说明", [["本表由系统导出"], ["共两页"]]),
        ("扫描2", [rows[0], *rows[3:]]),
    ]


EXCEL_SHAPES = [
    pytest.param(xlsxwriter_book([("明细", excel_rows(JT))], titles=2), id="xlsx-xlsxwriter"),
    pytest.param(openpyxl_book(excel_rows(ZH), titles=1), id="xlsx-openpyxl-aliases"),
    pytest.param(xlwt_book([("明细", excel_rows(JT))], titles=1), id="xls-xlwt"),
    pytest.param(xlsxwriter_book([("s", split_cells())]), id="xlsx-split-date-time"),
    pytest.param(xlwt_book([("s", split_cells())], titles=3), id="xls-split-date-time"),
    pytest.param(
        xlsxwriter_book([("s", excel_rows(ZTO_OPEN, time=lambda t: int(epoch_ms(t))))]),
        id="xlsx-epoch-ms-numbers",
    ),
    pytest.param(
        xlwt_book([("s", excel_rows(ZH, time=lambda t: int(t.strftime("%Y%m%d%H%M%S"))))]),
        id="xls-fourteen-digit-numbers",
    ),
    pytest.param(openpyxl_book(excel_rows(ZH, time=unpadded, waybill=str)), id="xlsx-text-slashes"),
    pytest.param(xlsxwriter_book(two_sheets(excel_rows(JT)), titles=1), id="xlsx-two-sheets"),
    pytest.param(xlwt_book(two_sheets(excel_rows(JT))), id="xls-two-sheets"),
]


@pytest.mark.parametrize("write", EXCEL_SHAPES)
def test_excel_export_gives_the_canonical_store_and_report(
    store: Store, policy: Policy, tmp_path: Path, write: Callable[[Path], Path]
) -> None:
    """A workbook's rows give the events (row numbers counting on across sheets) and the
    report of the same rows as canonical Parquet; numeric waybills stay integers."""
    upload = ingest_file(store, write(tmp_path / "export.bin"), policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.error) == ("ingested", None)
    assert upload.format in ("xlsx", "xls")
    assert (upload.rows_read, upload.accepted, upload.rejected) == (4, 4, 0)
    want_events, want_report = canonical(tmp_path, policy)
    got = stored_events(store).drop("upload_id")
    assert got.to_dicts() == want_events.to_dicts()
    assert report_core(report(store, "2023-05", AS_OF, policy)) == want_report


def test_excel_waybill_number_is_an_integer_and_other_rows_keep_their_row_numbers(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """780000000001 as a number cell is the waybill '780000000001'; a bad row on the second
    sheet is rejected with the row number counted on from the first sheet."""
    rows = excel_rows(JT)
    rows[4][0] = 780000000001
    rows[3][0] = "x"  # third data row: bad waybill
    write = xlsxwriter_book([("a", rows[:3]), ("b", [rows[0], *rows[3:]])])
    upload = ingest_file(store, write(tmp_path / "w.xlsx"), policy, carrier="ZTO", now=NOW)
    assert (upload.accepted, upload.rejected_by_reason) == (3, {"bad_waybill": 1})
    assert [(r["row_no"], r["waybill_no"]) for r in reject_rows(store)] == [(3, "x")]
    events = stored_events(store)
    assert "780000000001" in events["waybill_no"].to_list()
    assert events.filter(pl.col("waybill_no") == "780000000001")["row_no"].to_list() == [4]


def test_workbook_without_the_columns_is_refused_naming_them(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    write = xlsxwriter_book([("s", [["订单号", "金额"], ["1", 2]])])
    upload = ingest_file(store, write(tmp_path / "w.xlsx"), policy, carrier="ZTO", now=NOW)
    assert upload.status == "refused"
    assert upload.error is not None
    assert upload.error.startswith("missing column waybill_no (运单号)")
    assert "no sheet of the workbook" in upload.error


# -- sites given by name or alias ---------------------------------------------------------------


def aliased_store(root: Path) -> Store:
    """The test registry with aliases: the center is also '济阳分拨', the hub '仁风站'."""
    from subsidy.sites import import_sites

    store = make_store(root, sites=None)
    lines = ["site_code,name,kind,town,active_from,active_to,aliases"]
    for site in SITES:
        alias = {CENTER: "济阳分拨|济阳中心", HUB: "仁风站"}.get(site["site_code"], "")
        lines.append(
            ",".join(site[c] for c in ("site_code", "name", "kind", "town", "active_from"))
            + f",{site['active_to']},{alias}"
        )
    path = root.parent / "aliased-sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_sites(store, path)
    return store


NAMES = {CENTER: "济阳分拨", HUB: "仁风镇服务站", OTHER: "曲堤街道中转点"}


def named_rows(header: dict[str, str]) -> list[list[str]]:
    """ROWS with each site cell holding the site's name or alias instead of its code."""
    rows = table(header)
    at = list(header).index("site_code")
    nxt = list(header).index("next_site_code")
    for cells in rows[1:]:
        cells[at] = NAMES.get(cells[at], cells[at])
        cells[nxt] = {HUB: "仁风站"}.get(cells[nxt], cells[nxt])
    return rows


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(text_file(named_rows(ZH)), id="csv"),
        pytest.param(text_file(named_rows(ZH), encoding="gb18030", sep="\t"), id="tsv-gb18030"),
        pytest.param(openpyxl_book([list(r) for r in named_rows(ZH)]), id="xlsx"),
        pytest.param(xlwt_book([("s", [list(r) for r in named_rows(ZH)])]), id="xls"),
    ],
)
def test_sites_by_name_or_alias_are_stored_as_codes(
    policy: Policy, tmp_path: Path, write: Callable[[Path], Path]
) -> None:
    """济阳分拨 (an alias), 仁风镇服务站 (a name) and 曲堤街道中转点 are stored as their codes;
    the events and report equal those of the codes as canonical Parquet."""
    store = aliased_store(tmp_path / "data")
    upload = ingest_file(store, write(tmp_path / "named.bin"), policy, carrier="ZTO", now=NOW)
    assert (upload.accepted, upload.rejected) == (4, 0)
    want_events, want_report = canonical(tmp_path, policy)
    assert stored_events(store).drop("upload_id").to_dicts() == want_events.to_dicts()
    assert report_core(report(store, "2023-05", AS_OF, policy)) == want_report


@pytest.mark.parametrize(
    ("aliases", "match"),
    [
        pytest.param({HUB: "济阳分拨"}, "more than one site", id="alias-of-two-sites"),
        pytest.param({HUB: "济阳区级配送中心"}, "more than one site", id="alias-is-another-name"),
        pytest.param({HUB: CENTER}, "is the code of another site", id="alias-is-another-code"),
    ],
)
def test_a_name_or_alias_naming_two_sites_is_refused_at_import(
    tmp_path: Path, aliases: dict[str, str], match: str
) -> None:
    from subsidy.exceptions import SiteRegistryError
    from subsidy.sites import import_sites

    store = aliased_store(tmp_path / "data")
    lines = ["site_code,name,kind,town,active_from,active_to,aliases"]
    for site in SITES:
        alias = {CENTER: "济阳分拨", **aliases}.get(site["site_code"], "")
        lines.append(
            ",".join(site[c] for c in ("site_code", "name", "kind", "town", "active_from"))
            + f",{site['active_to']},{alias}"
        )
    path = tmp_path / "bad-sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SiteRegistryError, match=match):
        import_sites(store, path)

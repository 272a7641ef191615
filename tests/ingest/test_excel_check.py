"""The upload-time check of an ``.xlsx`` (SPEC §3a, the 202 of ``POST /v1/uploads``) reads the
zip directory and the first rows of each sheet's XML only: it never opens the workbook with
calamine, and it judges every workbook as the ingest does. Excel times keep their
milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.policy import Policy
from core.store import Store
from ingest.exceptions import FileRefused
from ingest.reader import check_upload
from ingest.uploads import ingest_file
from tests.factories import CENTER, HUB, NOW, cst, report, stored_events
from tests.ingest.test_exports import (
    EXCEL_SHAPES,
    JT,
    excel_rows,
    openpyxl_book,
    two_sheets,
    xlsxwriter_book,
)

LIMITS = {"max_bytes": 10**9, "max_uncompressed": 10**10}


@pytest.fixture
def no_calamine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a workbook with calamine fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the check opened the whole workbook")

    monkeypatch.setattr("ingest.excel.fastexcel.read_excel", refuse)


XLSX_SHAPES = [p for p in EXCEL_SHAPES if str(p.id).startswith("xlsx")]


@pytest.mark.parametrize("write", XLSX_SHAPES)
def test_check_accepts_every_xlsx_shape_without_opening_the_workbook(
    tmp_path: Path, write: Callable[[Path], Path], no_calamine: None
) -> None:
    assert check_upload(write(tmp_path / "export.bin"), **LIMITS) == "xlsx"


HEADER_ONLY = [excel_rows(JT)[0]]


@pytest.mark.parametrize(
    ("write", "code", "words"),
    [
        pytest.param(
            xlsxwriter_book([("s", HEADER_ONLY)], titles=2),
            "no_data_rows",
            "no data rows",
            id="header-only",
        ),
        pytest.param(
            xlsxwriter_book([("s", [["订单号", "金额"], ["1", 2]])]),
            "missing_column",
            "no sheet of the workbook names the required columns",
            id="no-columns",
        ),
        pytest.param(
            xlsxwriter_book([("s", [["运单号", "运单号", "扫描类型", "扫描网点", "扫描时间"]])]),
            "column_twice",
            "two columns mean",
            id="column-twice",
        ),
        pytest.param(
            xlsxwriter_book([("a", HEADER_ONLY), ("b", [["说明"], ["无数据"]])]),
            "no_data_rows",
            "no data rows",
            id="two-sheets-header-only",
        ),
        pytest.param(
            openpyxl_book(HEADER_ONLY, titles=1),
            "no_data_rows",
            "no data rows",
            id="openpyxl-header-only",
        ),
    ],
)
def test_check_refuses_as_the_ingest_does(
    store: Store,
    policy: Policy,
    tmp_path: Path,
    write: Callable[[Path], Path],
    code: str,
    words: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check's refusal (read without calamine) is the ingest's (read with it)."""
    path = write(tmp_path / "w.xlsx")
    with monkeypatch.context() as patched:
        patched.setattr("ingest.excel.fastexcel.read_excel", None)
        with pytest.raises(FileRefused) as refused:
            check_upload(path, **LIMITS)
    assert refused.value.code == code
    assert words in str(refused.value)
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.status == "refused"
    if code != "no_data_rows":  # a header-only file is refused at upload, before any row
        assert upload.error == str(refused.value)


def test_header_on_a_later_sheet_behind_a_cover_sheet(tmp_path: Path, no_calamine: None) -> None:
    write = xlsxwriter_book([("封面", [["中通快递"], ["2023年5月"]]), *two_sheets(excel_rows(JT))])
    assert check_upload(write(tmp_path / "w.xlsx"), **LIMITS) == "xlsx"


def test_damaged_xlsx_is_refused_at_check(tmp_path: Path) -> None:
    path = xlsxwriter_book([("s", excel_rows(JT))])(tmp_path / "w.xlsx")
    data = bytearray(path.read_bytes())
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(FileRefused, match="looks like an Excel workbook"):
        check_upload(cut, **LIMITS)


# -- milliseconds ---------------------------------------------------------------------------
MS = [
    cst(2023, 5, 1, 12, 30, 15) + timedelta(milliseconds=123),
    cst(2023, 5, 1, 15, 0, 0) + timedelta(milliseconds=999),
]


def _ms_rows(split: bool) -> list[list[Any]]:
    if split:
        head: list[Any] = ["运单号", "扫描类型", "扫描网点", "扫描日期", "扫描时间"]
    else:
        head = ["运单号", "扫描类型", "扫描网点", "扫描时间"]
    out = [head]
    for waybill, word, site, t in (
        ("JT5800000001", "发件扫描", CENTER, MS[0]),
        ("JT5800000001", "到件扫描", HUB, MS[1]),
        ("JT5800000002", "发件扫描", CENTER, MS[1] - timedelta(milliseconds=2)),
        ("JT5800000002", "到件扫描", HUB, MS[1] + timedelta(days=7)),  # 7 days 2 ms: late
    ):
        naive = t.replace(tzinfo=None)
        when: list[Any] = [naive.date(), naive.time()] if split else [naive]
        out.append([waybill, word, site, *when])
    return out


def _ms_book(rows: list[list[Any]], path: Path) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(path)
    formats = {
        datetime: book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"}),
        time_of_day: book.add_format({"num_format": "hh:mm:ss.000"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
    }
    sheet = book.add_worksheet()
    for r, cells in enumerate(rows):
        for c, cell in enumerate(cells):
            if isinstance(cell, datetime):
                sheet.write_datetime(r, c, cell, formats[datetime])
            elif isinstance(cell, time_of_day):
                sheet.write_datetime(r, c, cell, formats[time_of_day])
            elif hasattr(cell, "isoformat"):
                sheet.write_datetime(r, c, cell, formats["date"])
            else:
                sheet.write(r, c, cell)
    book.close()
    return path


@pytest.mark.parametrize("split", [False, True], ids=["date-time-cells", "split-date-and-time"])
def test_excel_times_keep_their_milliseconds(
    store: Store, policy: Policy, tmp_path: Path, split: bool
) -> None:
    """Date-time cells (and a time-of-day cell beside a date cell) holding milliseconds are
    stored to the millisecond; a parcel arriving 7 days and 2 ms after its departure is late
    (to the second it would be on time)."""
    path = _ms_book(_ms_rows(split), tmp_path / "ms.xlsx")
    upload = ingest_file(store, path, policy, carrier="JT", now=NOW)
    assert (upload.status, upload.accepted, upload.rejected) == ("ingested", 4, 0)
    events = stored_events(store)
    got = events.select("waybill_no", pl.col("scan_time").dt.strftime("%H:%M:%S%.3f")).rows()
    assert got == [
        ("JT5800000001", "12:30:15.123"),
        ("JT5800000001", "15:00:00.999"),
        ("JT5800000002", "15:00:00.997"),
        ("JT5800000002", "15:00:00.999"),
    ]
    carriers = report(store, "2023-05", cst(2023, 6, 1), policy)["carriers"]
    jt = next(c for c in carriers if c["carrier"] == "JT")
    assert (jt["eligible_parcels"], jt["ineligible"]["late_hub_arrival"]) == (1, 1)


def test_parquet_split_date_and_timestamp_clock_keep_their_milliseconds(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """The same split in Parquet: 扫描日期 a date column, 扫描时间 a timestamp holding the
    time of day (as a spreadsheet saved it), milliseconds kept."""
    rows = _ms_rows(split=True)
    frame = pl.DataFrame(
        [[*r[:4], datetime.combine(date(1899, 12, 31), r[4])] for r in rows[1:]],
        schema=rows[0],
        orient="row",
    )
    path = tmp_path / "split.parquet"
    frame.write_parquet(path)
    upload = ingest_file(store, path, policy, carrier="JT", now=NOW)
    assert (upload.status, upload.accepted) == ("ingested", 4)
    got = stored_events(store)["scan_time"].dt.strftime("%m-%d %H:%M:%S%.3f").to_list()
    assert got == ["05-01 12:30:15.123", "05-01 15:00:00.999", "05-01 15:00:00.997",
                   "05-08 15:00:00.999"]  # fmt: skip


def test_a_workbook_laid_out_unexpectedly_is_judged_by_calamine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the light reading cannot follow the workbook's parts, calamine judges it: the
    check never refuses what the ingest would read."""
    path = xlsxwriter_book([("s", excel_rows(JT))])(tmp_path / "w.xlsx")

    def unexpected(_archive: object) -> None:
        raise KeyError("xl/_rels/workbook.xml.rels")

    monkeypatch.setattr("ingest.excel._sheet_paths", unexpected)
    assert check_upload(path, **LIMITS) == "xlsx"
    header_only = xlsxwriter_book([("s", HEADER_ONLY)])(tmp_path / "h.xlsx")
    with pytest.raises(FileRefused, match="no data rows"):
        check_upload(header_only, **LIMITS)

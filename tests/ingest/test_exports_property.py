"""Property (SPEC §3a): the same rows in canonical Parquet and in each courier shape (CSV in
GB18030 with title lines, TSV, .xlsx, .xls, J&T's and ZTO's words and headers, split date and
time, epoch milliseconds) give identical stores and reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.policy import load_policy
from ingest.uploads import ingest_file
from tests.factories import (
    CENTER,
    HUB,
    HUB2,
    NOW,
    OTHER,
    SHORT_HUB,
    cst,
    make_store,
    report,
    report_core,
    stored_events,
    write_parquet,
)

WORD = {
    "pickup": "快件揽收",
    "depart": "发件扫描",
    "arrive": "到件扫描",
    "dispatch": "派件扫描",
    "sign": "快件签收",
    "exception": "问题件",
    "other": "装袋",
}
START = cst(2023, 5, 1)

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "waybill_no": st.integers(1, 40).map(lambda i: f"{780000000000 + i}"),
            "scan_type": st.sampled_from(sorted(WORD)),
            "site_code": st.sampled_from([CENTER, HUB, HUB2, SHORT_HUB, OTHER]),
            "scan_time": st.integers(0, 60 * 24 * 40).map(lambda m: START + timedelta(minutes=m)),
        }
    ),
    min_size=1,
    max_size=40,
)


def _text(rows: list[dict[str, Any]], *, header: list[str], cell: Callable[..., list[str]],
          sep: str = ",", titles: int = 0) -> str:  # fmt: skip
    buf = io.StringIO()
    for i in range(titles):
        buf.write(f"扫描明细 {i}\n")
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(cell(r) for r in rows)
    return buf.getvalue()


def _wall(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def csv_gb18030(rows: list[dict[str, Any]], path: Path) -> None:
    text = _text(
        rows,
        header=["运单编号", "操作类型", "网点代码", "操作时间"],
        cell=lambda r: [
            r["waybill_no"], WORD[r["scan_type"]], r["site_code"], _wall(r["scan_time"])
        ],
        titles=2,
    )  # fmt: skip
    path.write_bytes(text.encode("gb18030"))


def tsv_split(rows: list[dict[str, Any]], path: Path) -> None:
    text = _text(
        rows,
        header=["运单号", "扫描类型", "扫描网点编码", "扫描日期", "扫描时间"],
        cell=lambda r: [r["waybill_no"], WORD[r["scan_type"]], r["site_code"],
                        r["scan_time"].strftime("%Y/%m/%d"), r["scan_time"].strftime("%H:%M:%S")],
        sep="\t",
    )  # fmt: skip
    path.write_text(text, encoding="utf-8-sig")


def zto_epoch(rows: list[dict[str, Any]], path: Path) -> None:
    text = _text(
        rows,
        header=["billCode", "scanType", "scanSite", "scanDate"],
        cell=lambda r: [r["waybill_no"], WORD[r["scan_type"]], r["site_code"],
                        str(int(r["scan_time"].timestamp() * 1000))],
    )  # fmt: skip
    path.write_text(text, encoding="utf-8")


def xlsx(rows: list[dict[str, Any]], path: Path) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(path)
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet()
    sheet.write(0, 0, "极兔扫描明细")
    sheet.write_row(1, 0, ["运单号", "扫描类型", "扫描网点", "扫描时间"])
    for i, r in enumerate(rows, start=2):
        sheet.write_number(i, 0, int(r["waybill_no"]))
        sheet.write(i, 1, WORD[r["scan_type"]])
        sheet.write(i, 2, r["site_code"])
        sheet.write_datetime(i, 3, r["scan_time"].replace(tzinfo=None), stamp)
    book.close()


def xls(rows: list[dict[str, Any]], path: Path) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    stamp = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    sheet = book.add_sheet("s")
    for c, name in enumerate(["运单号", "扫描类型", "扫描网点", "扫描时间"]):
        sheet.write(0, c, name)
    for i, r in enumerate(rows, start=1):
        sheet.write(i, 0, int(r["waybill_no"]))
        sheet.write(i, 1, WORD[r["scan_type"]])
        sheet.write(i, 2, r["site_code"])
        sheet.write(i, 3, r["scan_time"].replace(tzinfo=None), stamp)
    book.save(str(path))


SHAPES = [
    pytest.param(csv_gb18030, id="csv-gb18030-titles-aliases"),
    pytest.param(tsv_split, id="tsv-split-date-time-code-column"),
    pytest.param(zto_epoch, id="zto-epoch-ms"),
    pytest.param(xlsx, id="xlsx"),
    pytest.param(xls, id="xls"),
]


@pytest.mark.parametrize("shape", SHAPES)
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy)
def test_shape_equals_canonical_parquet(
    tmp_path_factory: pytest.TempPathFactory,
    shape: Callable[[list[dict[str, Any]], Path], None],
    rows: list[dict[str, Any]],
) -> None:
    policy = load_policy()
    root = tmp_path_factory.mktemp("prop")
    canonical = make_store(root / "canonical")
    ingest_file(canonical, write_parquet(root / "c.parquet", rows), policy, carrier="JT", now=NOW)
    shaped = make_store(root / "shaped")
    path = root / "export.bin"
    shape(rows, path)
    upload = ingest_file(shaped, path, policy, carrier="JT", now=NOW)
    assert (upload.status, upload.error) == ("ingested", None)
    assert stored_events(shaped).to_dicts() == stored_events(canonical).to_dicts()
    for month in ("2023-05", "2023-06"):
        as_of = cst(2023, 7, 1)
        assert report_core(report(shaped, month, as_of, policy)) == report_core(
            report(canonical, month, as_of, policy)
        )

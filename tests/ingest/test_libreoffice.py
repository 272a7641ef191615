"""Workbooks written by LibreOffice (SPEC §3a): ``soffice --headless --convert-to xlsx|xls`` of
CSV exports, as an outlet that opens its courier's CSV in LibreOffice and saves it as Excel
sends them. The CSV import filter types the time columns (YMD, "detect special numbers"), so
the workbooks hold true date, time and date-time cells, not text. Each is ingested and gives
the events and the report of the same rows as canonical Parquet.

LibreOffice is installed in CI (libreoffice-calc-nogui); where ``soffice`` is absent these
tests are skipped, saying so. Each conversion has its own LibreOffice profile
(``-env:UserInstallation``), so parallel runs do not share one.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl
import pytest

from core.policy import Policy
from core.store import Store
from ingest.reader import check_upload
from ingest.uploads import ingest_file
from tests.factories import (
    CENTER,
    HUB,
    NOW,
    OTHER,
    cst,
    make_store,
    report,
    report_core,
    scan,
    stored_events,
    write_parquet,
)

SOFFICE = shutil.which("soffice") or (
    "/usr/bin/soffice" if Path("/usr/bin/soffice").exists() else None
)
pytestmark = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed here; CI installs libreoffice-calc-nogui",
)

MS = timedelta(milliseconds=1)
#: One eligible parcel (arrival 20 h after departure), one late by 7 days and 2 ms, a pickup
#: and a bagging scan (``other``); times with milliseconds.
ROWS = [
    scan("780000000001", "pickup", OTHER, cst(2023, 5, 1, 8, 0, 0) + 250 * MS),
    scan("780000000001", "other", CENTER, cst(2023, 5, 1, 11, 0, 0) + 5 * MS),
    scan("780000000001", "depart", CENTER, cst(2023, 5, 1, 12, 30, 15) + 123 * MS,
         next_site_code=HUB),
    scan("780000000001", "arrive", HUB, cst(2023, 5, 2, 8, 30, 15) + 123 * MS),
    scan("JT5800000002", "depart", CENTER, cst(2023, 5, 3, 9, 0, 0) + 997 * MS,
         next_site_code=HUB),
    scan("JT5800000002", "arrive", HUB, cst(2023, 5, 10, 9, 0, 0) + 999 * MS),
]  # fmt: skip
WORDS = {"pickup": "快件揽收", "other": "装袋", "depart": "发件扫描", "arrive": "到件扫描"}


def _wall(t: datetime, fmt: str = "%Y-%m-%d %H:%M:%S.%f") -> str:
    return t.strftime(fmt)[:-3] if fmt.endswith("%f") else t.strftime(fmt)


def jt_title_csv(path: Path) -> tuple[Path, str]:
    """J&T's columns under a title line; one date-time column (typed YMD: date-time cells)."""
    lines = ["极兔速递扫描明细 2023-05", "运单号,扫描类型,扫描网点,扫描时间,下一站"]
    for r in ROWS:
        lines.append(f"{r['waybill_no']},{WORDS[r['scan_type']]},{r['site_code']},"
                     f"{_wall(r['scan_time'])},{r.get('next_site_code') or ''}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # columns: 1 standard (a numeric waybill becomes a number cell), 2-3 text, 4 YMD, 5 text
    return path, "1/1/2/2/3/2/4/5/5/2"


def split_date_time_csv(path: Path) -> tuple[Path, str]:
    """扫描日期 (YMD: date cells) and 扫描时间 (detected: time cells), the code column beside
    the name column."""
    lines = ["运单编号,操作类型,扫描网点,扫描网点编码,扫描日期,扫描时间,下一站"]
    for r in ROWS:
        t, nxt = r["scan_time"], r.get("next_site_code") or ""
        lines.append(f"{r['waybill_no']},{WORDS[r['scan_type']]},某网点,{r['site_code']},"
                     f"{t:%Y/%m/%d},{_wall(t, '%H:%M:%S.%f')},{nxt}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, "1/2/2/2/3/2/4/2/5/5/6/1/7/2"


def zto_epoch_csv(path: Path) -> tuple[Path, str]:
    """ZTO's open-platform columns, scanDate in epoch milliseconds: number cells."""
    lines = ["billCode,scanType,scanSite,scanDate,nextSite"]
    for r in ROWS:
        ms = int(r["scan_time"].timestamp() * 1000)
        lines.append(f"{r['waybill_no']},{WORDS[r['scan_type']]},{r['site_code']},{ms},"
                     f"{r.get('next_site_code') or ''}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, "1/2/2/2/3/2/4/1/5/2"


def convert(source: Path, columns: str, fmt: str, work: Path) -> Path:
    """``soffice --headless --convert-to FMT`` of a UTF-8 CSV, its columns typed by
    ``columns`` (LibreOffice's CSV filter: ``col/format`` pairs, 1 standard, 2 text, 5 YMD)."""
    out = work / "out"
    out.mkdir(exist_ok=True)
    profile = (work / "lo-profile").as_uri()
    assert SOFFICE is not None
    done = subprocess.run(
        [SOFFICE, f"-env:UserInstallation={profile}", "--headless",
         f"--infilter=CSV:44,34,76,1,{columns},1033,false,true", "--convert-to", fmt,
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    target = out / f"{source.stem}.{fmt}"
    assert done.returncode == 0 and target.exists(), done.stderr + done.stdout
    return target


def _cell_types(path: Path, header_row: int) -> dict[str, Any]:
    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=header_row)
    return dict(sheet.to_polars().schema)


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> tuple[Any, str]:
    root = tmp_path_factory.mktemp("canonical")
    store = make_store(root / "data")
    ingest_file(store, write_parquet(root / "c.parquet", ROWS), policy, carrier="JT", now=NOW)
    return stored_events(store), report_core(report(store, "2023-05", cst(2023, 6, 1), policy))


DATE_CELLS = pl.Datetime("ms")
SHAPES = [
    pytest.param(jt_title_csv, 1, {"扫描时间": DATE_CELLS}, id="title-line-date-time-cells"),
    pytest.param(split_date_time_csv, 0, {"扫描日期": DATE_CELLS}, id="split-date-time-cells"),
    pytest.param(zto_epoch_csv, 0, {"scanDate": pl.Float64}, id="zto-epoch-ms-number-cells"),
]


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
@pytest.mark.parametrize(("shape", "header_row", "typed"), SHAPES)
def test_libreoffice_workbook_gives_the_canonical_store_and_report(
    tmp_path: Path,
    policy: Policy,
    canonical: tuple[Any, str],
    shape: Any,
    header_row: int,
    typed: dict[str, Any],
    fmt: str,
) -> None:
    source, columns = shape(tmp_path / "export.csv")
    workbook = convert(source, columns, fmt, tmp_path)
    types = _cell_types(workbook, header_row)
    for column, dtype in typed.items():  # true date / number cells, not text
        assert types[column] == dtype, types
    assert check_upload(workbook, max_bytes=10**9, max_uncompressed=10**10) == fmt
    store: Store = make_store(tmp_path / "data")
    upload = ingest_file(store, workbook, policy, carrier="JT", now=NOW)
    assert (upload.status, upload.error, upload.format) == ("ingested", None, fmt)
    assert (upload.rows_read, upload.accepted, upload.rejected) == (6, 6, 0)
    want_events, want_report = canonical
    assert (
        stored_events(store).drop("upload_id").to_dicts()
        == want_events.drop("upload_id").to_dicts()
    )
    got_report = report_core(report(store, "2023-05", cst(2023, 6, 1), policy))
    assert got_report == want_report
    jt = next(c for c in report(store, "2023-05", cst(2023, 6, 1), policy)["carriers"])
    assert (jt["eligible_parcels"], jt["ineligible"]["late_hub_arrival"]) == (1, 1)

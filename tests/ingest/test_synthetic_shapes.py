"""The generator's couriers' shapes (``ingest.synthetic --shapes mixed``, ``ingest.shapes``):
every other export of each carrier comes in the carrier's own words and format, and the
shaped set gives the store and the reports of the same rows as canonical Parquet
(``--shapes canonical``), file by file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl
import pytest

from core.policy import Policy
from core.store import Store
from ingest.reader import check_upload
from ingest.synthetic import generate
from ingest.uploads import Upload, ingest_file
from subsidy.sites import import_sites
from tests.factories import cst, report, report_core, stored_events

NOW = cst(2023, 8, 1)
MONTHS = ("2023-01", "2023-02", "2023-03")


def _ingest(src: Path, root: Path, policy: Policy) -> tuple[Store, list[Upload]]:
    store = Store(root).init()
    import_sites(store, src / "sites.csv")
    uploads = [
        ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
        for path in sorted((src / "scans").glob("*/*"))
    ]
    return store, uploads


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A mixed set (sheets cut small, so workbooks span several sheets) and its canonical
    twin, 4,000 parcels over three months."""
    root = tmp_path_factory.mktemp("shapes")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ingest.shapes.SHEET_ROWS", {"xlsx": 900, "xls": 400})
        mixed = generate(root / "mixed", 4_000, seed=3, layout="month", start=date(2023, 1, 1),
                         months=3, shapes="mixed")  # fmt: skip
    canonical = generate(root / "canonical", 4_000, seed=3, layout="month",
                         start=date(2023, 1, 1), months=3, shapes="canonical")  # fmt: skip
    return {"root": root, "mixed": mixed, "canonical": canonical}


def test_every_carrier_sends_shaped_exports_in_every_container(sets: dict[str, Any]) -> None:
    scans = sets["root"] / "mixed" / "scans"
    by_carrier: dict[str, set[str]] = {}
    for path in scans.glob("*/*"):
        by_carrier.setdefault(path.parent.name, set()).add(path.suffix)
    assert len(by_carrier) == 9
    assert all(".parquet" in suffixes and len(suffixes) == 2 for suffixes in by_carrier.values())
    assert {s for v in by_carrier.values() for s in v} == {".parquet", ".xlsx", ".xls", ".csv",
                                                           ".tsv"}  # fmt: skip
    assert set(sets["mixed"]["shaped_files"]) == {
        str(p.relative_to(scans)) for p in scans.glob("*/*") if p.suffix != ".parquet"
    }
    assert not any(p.suffix != ".parquet" for p in (sets["root"] / "canonical").rglob("scans/*/*"))


def test_shapes_are_written_in_the_couriers_words_and_formats(sets: dict[str, Any]) -> None:
    scans = sets["root"] / "mixed" / "scans"
    jt = next(scans.glob("JT/*.xlsx"))
    book = fastexcel.read_excel(jt)
    assert len(book.sheet_names) > 1  # cut at 900 rows a sheet here
    top = book.load_sheet(0, header_row=None, n_rows=3, dtypes="string").to_polars().rows()
    assert top[0][0] == f"极兔速递扫描明细 {jt.stem[-7:]}"  # the export's month
    assert list(top[1][:4]) == ["运单号", "扫描类型", "扫描网点", "扫描时间"]
    jt_rows = book.load_sheet(0, header_row=1).to_polars()
    assert jt_rows.schema["扫描时间"] == pl.Datetime("ms")  # date-time cells
    assert {"发件扫描", "到件扫描"} <= set(jt_rows["扫描类型"])
    assert "济阳区电商物流配送中心" in set(jt_rows["扫描网点"])  # a site by its name
    zto = pl.read_csv(next(scans.glob("ZTO/*.csv")), infer_schema=False)
    assert zto.columns[:4] == ["billCode", "scanType", "scanSite", "scanDate"]
    assert zto["scanDate"].str.contains(r"^1[0-9]{12}$").mean() > 0.99  # epoch milliseconds
    sto_path = next(scans.glob("STO/*.csv"))
    title, header = sto_path.read_bytes().decode("gb18030").splitlines()[:2]
    assert title == f"申通快递扫描明细 {sto_path.stem[-7:]}" and "扫描日期,扫描时间" in header
    yto = pl.read_csv(next(scans.glob("YTO/*.tsv")), separator="\t", infer_schema=False)
    assert "仁风1号站" in set(yto["操作网点"])  # a site by its alias
    slashed = yto["扫描时间"].str.contains(r"^2023/[0-9]{1,2}/[0-9]{1,2} [0-9]{1,2}:[0-9]{2}:")
    assert slashed.mean() > 0.99  # (a few generated rows are dated 1970 or 2019)
    with pytest.MonkeyPatch.context() as patch:  # the upload-time check reads the XML alone
        patch.setattr("ingest.excel.fastexcel.read_excel", None)
        for path in scans.glob("*/*.xlsx"):
            assert check_upload(path, max_bytes=10**9, max_uncompressed=10**10) == "xlsx"
    ems = fastexcel.read_excel(next(scans.glob("EMS/*.xls")))
    assert len(ems.sheet_names) > 1
    words = set()
    for path in scans.glob("*/*.parquet"):
        words |= set(pl.read_parquet(path, columns=["scan_type"])["scan_type"])
    assert "other" in words
    sites = pl.read_csv(sets["root"] / "mixed" / "sites.csv", infer_schema=False)
    assert sites.filter(pl.col("site_code") == "JY-VH-RF01")["aliases"].item() == "仁风1号站"


def test_the_shaped_set_gives_the_canonical_store_and_reports(
    sets: dict[str, Any], policy: Policy
) -> None:
    """File by file the same figures (rejected counts included; a 1970 time in epoch
    milliseconds is a bad rather than an implausible time, so reasons may move), the same
    events, the same report of every month."""
    mixed, got = _ingest(sets["root"] / "mixed", sets["root"] / "s-mixed", policy)
    canonical, want = _ingest(sets["root"] / "canonical", sets["root"] / "s-canonical", policy)
    assert [u.status for u in got] == ["ingested"] * len(want)
    assert [(u.rows_read, u.accepted, u.rejected, u.duplicates) for u in got] == [
        (u.rows_read, u.accepted, u.rejected, u.duplicates) for u in want
    ]
    shaped = [u for u in got if not (u.filename or "").endswith(".parquet")]
    assert len(shaped) >= 9 and all(u.accepted > 0 for u in shaped)
    assert {u.format for u in shaped} == {"xlsx", "xls", "csv"}
    events = stored_events(mixed)
    assert events.height > 15_000
    assert events.equals(stored_events(canonical))
    assert events.filter(pl.col("scan_type") == "other").height > 0
    for month in MONTHS:
        as_of = cst(2023, 4, 10)
        assert report_core(report(mixed, month, as_of, policy)) == report_core(
            report(canonical, month, as_of, policy)
        )


def test_a_day_layout_set_is_shaped_too(tmp_path: Path, policy: Policy) -> None:
    """Every other daily export of each carrier is shaped; the first days' ingest."""
    made = generate(tmp_path / "day", 800, seed=5, layout="day", start=date(2023, 3, 1),
                    months=1, shapes="mixed")  # fmt: skip
    files = list((tmp_path / "day" / "scans").glob("*/*"))
    shaped = [p for p in files if p.suffix != ".parquet"]
    assert len(shaped) == len(made["shaped_files"]) and abs(len(shaped) * 2 - len(files)) <= 9
    store = Store(tmp_path / "store").init()
    import_sites(store, tmp_path / "day" / "sites.csv")
    first_days = sorted(p for p in files if p.stem[-10:] <= "2023-03-03")
    assert {p.suffix for p in first_days} == {".parquet", ".xlsx", ".xls", ".csv", ".tsv"}
    uploads = [
        ingest_file(store, path, policy, carrier=path.parent.name, now=NOW) for path in first_days
    ]
    assert all(u.status == "ingested" and u.accepted > 0 for u in uploads)
    assert sum(u.accepted for u in uploads) == stored_events(store).height

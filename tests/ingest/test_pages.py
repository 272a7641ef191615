"""Dictionary pages too large to decode (ingest.pages): refused from the page headers, before
a row is read, with a one-line reason; files of ordinary writers pass untouched."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ingest.pages as pages
from core.policy import load_policy
from ingest.exceptions import FileTooLarge
from ingest.uploads import ingest_file
from tests.factories import CENTER, NOW, cst, make_store, scan, stored_events, write_parquet

POLICY = load_policy()


def _one_group(path: Path, n: int) -> Path:
    rows = [scan(f"ZT7{i:09d}", "depart", CENTER, cst(2023, 5, 25)) for i in range(n)]
    write_parquet(path, rows)
    # as Polars writes 50M rows in one row group: dictionaries of every distinct value
    table = pq.read_table(path)
    pq.write_table(table, path, row_group_size=n, dictionary_pagesize_limit=1 << 30)
    return path


def test_the_header_gives_the_decoded_size_of_a_dictionary_page(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"w": [f"W{i:09d}" for i in range(1000)]}), path)
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert chunk.has_dictionary_page
    with path.open("rb") as fh:
        fh.seek(chunk.dictionary_page_offset)
        kind, size = pages.page_sizes(fh.read(64))
    assert (kind, size) == (2, 1000 * (4 + 10))  # PLAIN: a 4-byte length, then the bytes
    with pytest.raises(ValueError, match="page header"):
        pages.page_sizes(b"\x00\x01")


def test_a_file_with_a_dictionary_page_over_the_limit_is_refused_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _one_group(tmp_path / "one.parquet", 5000)
    pages.check_dictionary_pages(path)  # the default limit: far below it
    with pytest.raises(FileTooLarge, match=r"column waybill_no has a dictionary page of") as e:
        pages.check_dictionary_pages(path, limit=10_000)
    assert "\n" not in str(e.value) and "smaller row groups" in str(e.value)
    pages.check_dictionary_pages(path, {"scan_type"}, limit=10_000)  # a column not read

    monkeypatch.setattr(pages, "MAX_DICTIONARY_BYTES", 10_000)
    store = make_store(tmp_path / "data")
    up = ingest_file(store, path, POLICY, carrier="ZTO", now=NOW)
    assert up.status == "refused" and "dictionary page" in (up.error or "")
    assert stored_events(store).height == 0


def test_files_that_are_not_parquet_are_left_to_the_reader(tmp_path: Path) -> None:
    text = tmp_path / "x.csv"
    text.write_text("waybill_no\n1\n")
    pages.check_dictionary_pages(text, limit=0)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"w": ["a", "b"]}), plain, use_dictionary=False)
    pages.check_dictionary_pages(plain, limit=0)

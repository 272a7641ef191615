"""Reading uploads (SPEC §3): every export shape gives the same events; a bad file is refused
whole, with a one-line reason, and nothing of it is ingested.
"""

from __future__ import annotations

import base64
import dataclasses
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pqe
import pytest

from core.policy import Policy
from core.store import Store
from ingest.exceptions import FileRefused, FileTooLarge
from ingest.reader import check_upload, open_upload
from ingest.uploads import ingest_file, stored_file
from tests.factories import (
    CENTER,
    HUB,
    NOW,
    OTHER,
    arrow_table,
    cst,
    scan,
    stored_events,
    write_csv,
    write_parquet,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "parquet-testing"

#: One export: a parcel picked up, departed, arrived; another departed at the end of May.
ROWS = [
    scan("7731000001", "pickup", OTHER, cst(2023, 5, 1, 8, 0, 0)),
    scan("7731000001", "depart", CENTER, cst(2023, 5, 1, 12, 30, 15), next_site_code=HUB),
    scan("7731000001", "arrive", HUB, cst(2023, 5, 2, 9, 5, 0)),
    scan("7731000002", "depart", CENTER, cst(2023, 5, 31, 23, 59, 59)),
]
EXPECTED = [
    ("7731000001", "pickup", OTHER, cst(2023, 5, 1, 8, 0, 0), None),
    ("7731000001", "depart", CENTER, cst(2023, 5, 1, 12, 30, 15), HUB),
    ("7731000001", "arrive", HUB, cst(2023, 5, 2, 9, 5, 0), None),
    ("7731000002", "depart", CENTER, cst(2023, 5, 31, 23, 59, 59), None),
]
CHINESE = {
    "waybill_no": "运单号",
    "scan_type": "扫描类型",
    "site_code": "扫描网点",
    "scan_time": "扫描时间",
    "carrier": "快递公司",
    "next_site_code": "下一站",
}
CHINESE_SCAN_TYPES = {"pickup": "揽收", "depart": "发件", "arrive": "到件"}


def rows_with(**changes: Callable[[Any], Any]) -> list[dict[str, Any]]:
    """ROWS with some columns transformed (``scan_time=str`` etc.)."""
    return [{**r, **{k: f(r[k]) for k, f in changes.items()}} for r in ROWS]


def chinese_rows() -> list[dict[str, Any]]:
    return [{**r, "scan_type": CHINESE_SCAN_TYPES[r["scan_type"]], "carrier": "中通"} for r in ROWS]


def fmt_time(pattern: str, zone: Any = None) -> Callable[[Any], str]:
    return lambda t: t.astimezone(zone).strftime(pattern) if zone else t.strftime(pattern)


# -- writers: one per export shape ---------------------------------------------------------


def pyarrow_ts(unit: str, tz: str | None) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_parquet(path, ROWS, time_type=pa.timestamp(unit, tz=tz))

    return write


def int96(path: Path) -> Path:
    return write_parquet(
        path, ROWS, time_type=pa.timestamp("ns"), use_deprecated_int96_timestamps=True
    )


def pyarrow_compressed(codec: str) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_parquet(path, ROWS, compression=codec)

    return write


def polars_writer(dtype: pl.DataType, compression: str = "zstd") -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        frame = pl.from_arrow(arrow_table(ROWS))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(
            pl.col("scan_time").dt.convert_time_zone("Asia/Shanghai")
            if getattr(dtype, "time_zone", None)
            else pl.col("scan_time").dt.replace_time_zone(None),
            pl.col("site_code").cast(pl.Categorical),
        ).with_columns(pl.col("scan_time").cast(dtype))
        frame.write_parquet(path, compression=compression)  # type: ignore[arg-type]
        return path

    return write


def duckdb_writer(column_type: str) -> Callable[[Path], Path]:
    """DuckDB ``COPY ... TO (FORMAT parquet)``; TIMESTAMP is naive, TIMESTAMPTZ is UTC."""

    def write(path: Path) -> Path:
        naive = column_type == "TIMESTAMP"
        source = arrow_table(
            ROWS, time_type=pa.timestamp("us") if naive else pa.timestamp("us", tz="UTC")
        )
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register("source", source)
            con.execute(
                f"COPY (SELECT next_site_code, scan_time::{column_type} AS scan_time, site_code,"
                f" scan_type, waybill_no FROM source) TO '{path}' (FORMAT parquet)"
            )
        finally:
            con.close()
        return path

    return write


def string_times(pattern: str, zone: Any = None) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_parquet(path, rows_with(scan_time=fmt_time(pattern, zone)))

    return write


def integer_waybills(path: Path) -> Path:
    return write_parquet(path, rows_with(waybill_no=int))


def chinese_headers(site_header: str) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_parquet(path, chinese_rows(), rename={**CHINESE, "site_code": site_header})

    return write


def reordered_with_extras(path: Path) -> Path:
    table = arrow_table(ROWS)
    table = table.select(list(reversed(table.column_names)))
    table = table.append_column("weight_kg", pa.array([0.5, 1.25, None, 3.0]))
    table = table.append_column("tags", pa.array([["a"], [], None, ["b", "c"]]))
    table = table.append_column("运费", pa.array([10, 12, 8, 9]))
    pq.write_table(table, path)
    return path


def header_variants(path: Path) -> Path:
    rename = {
        "waybill_no": " Waybill_No ",
        "scan_type": "SCAN_TYPE",
        "site_code": "Site_Code  ",
        "scan_time": "  scan_time",
        "next_site_code": "Next_Site_Code",
    }
    return write_parquet(path, ROWS, rename=rename)


def dictionary_and_large_strings(path: Path) -> Path:
    table = arrow_table(ROWS)
    table = table.set_column(
        table.schema.get_field_index("site_code"),
        "site_code",
        table["site_code"].dictionary_encode(),
    )
    table = table.set_column(
        table.schema.get_field_index("waybill_no"),
        "waybill_no",
        table["waybill_no"].cast(pa.large_string()),
    )
    pq.write_table(table, path)
    return path


def many_row_groups(path: Path) -> Path:
    return write_parquet(path, ROWS, row_group_size=1, data_page_size=64)


def csv_writer(encoding: str, **options: Any) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_csv(path, ROWS, encoding=encoding, **options)

    return write


def csv_chinese(encoding: str) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        return write_csv(path, chinese_rows(), encoding=encoding, rename=CHINESE)

    return write


def csv_iso_times_crlf(path: Path) -> Path:
    rows = rows_with(scan_time=fmt_time("%Y-%m-%dT%H:%M:%SZ", pytz_utc()))
    write_csv(path, rows, rename={"scan_type": " Scan_Type "})
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    return path


def pytz_utc() -> Any:
    from datetime import UTC

    return UTC


SHAPES = [
    *(
        pytest.param(pyarrow_ts(unit, tz), "parquet", id=f"pyarrow-{unit}-{tz or 'naive'}")
        for unit in ("s", "ms", "us", "ns")
        for tz in (None, "UTC", "Asia/Shanghai", "+08:00", "-02:15")
    ),
    pytest.param(int96, "parquet", id="pyarrow-int96"),
    *(
        pytest.param(pyarrow_compressed(c), "parquet", id=f"pyarrow-{c}")
        for c in ("snappy", "zstd", "gzip", "brotli", "lz4", "none")
    ),
    pytest.param(polars_writer(pl.Datetime("ns")), "parquet", id="polars-ns-naive"),
    pytest.param(polars_writer(pl.Datetime("ms", "UTC")), "parquet", id="polars-ms-utc"),
    pytest.param(
        polars_writer(pl.Datetime("us", "Asia/Shanghai"), "gzip"), "parquet", id="polars-gzip"
    ),
    pytest.param(polars_writer(pl.Datetime("us"), "snappy"), "parquet", id="polars-snappy-naive"),
    pytest.param(duckdb_writer("TIMESTAMP"), "parquet", id="duckdb-timestamp"),
    pytest.param(duckdb_writer("TIMESTAMPTZ"), "parquet", id="duckdb-timestamptz"),
    pytest.param(string_times("%Y-%m-%d %H:%M:%S"), "parquet", id="text-time-plain"),
    pytest.param(string_times("%Y-%m-%dT%H:%M:%S+08:00"), "parquet", id="text-iso-offset"),
    pytest.param(
        string_times("%Y-%m-%dT%H:%M:%S.000Z", pytz_utc()), "parquet", id="text-iso-utc-Z"
    ),
    pytest.param(string_times("%Y/%m/%d %H:%M:%S"), "parquet", id="text-slashes"),
    pytest.param(integer_waybills, "parquet", id="integer-waybills"),
    pytest.param(chinese_headers("扫描网点"), "parquet", id="chinese-headers-扫描网点"),
    pytest.param(chinese_headers("网点编码"), "parquet", id="chinese-headers-网点编码"),
    pytest.param(reordered_with_extras, "parquet", id="any-order-extra-columns"),
    pytest.param(header_variants, "parquet", id="header-case-and-spaces"),
    pytest.param(dictionary_and_large_strings, "parquet", id="dictionary-large-string"),
    pytest.param(many_row_groups, "parquet", id="one-row-per-row-group"),
    pytest.param(csv_writer("utf-8"), "csv", id="csv-utf8"),
    pytest.param(csv_writer("utf-8-sig"), "csv", id="csv-utf8-bom"),
    pytest.param(csv_writer("utf-8", delimiter="\t"), "csv", id="csv-tab-separated"),
    pytest.param(csv_chinese("utf-8-sig"), "csv", id="csv-chinese-utf8-bom"),
    pytest.param(csv_chinese("gbk"), "csv", id="csv-chinese-gbk"),
    pytest.param(csv_iso_times_crlf, "csv", id="csv-iso-utc-crlf"),
]


@pytest.mark.parametrize(("write", "fmt"), SHAPES)
def test_every_export_shape_gives_the_same_events(
    store: Store,
    policy: Policy,
    tmp_path: Path,
    write: Callable[[Path], Path],
    fmt: str,
) -> None:
    path = write(tmp_path / f"export.{fmt}")
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.error, upload.format) == ("ingested", None, fmt)
    assert (upload.rows_read, upload.accepted, upload.rejected, upload.duplicates) == (4, 4, 0, 0)
    events = stored_events(store)
    got = events.select(
        "waybill_no", "scan_type", "site_code", "scan_time", "next_site_code"
    ).rows()
    assert got == EXPECTED
    assert set(events["carrier"]) == {"ZTO"}
    assert events.sort("row_no")["row_no"].to_list() == [1, 2, 3, 4]


def test_nanoseconds_are_truncated_to_microseconds(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    t = cst(2023, 5, 1, 12)
    table = pa.table(
        {
            "waybill_no": ["7731000001"],
            "scan_type": ["depart"],
            "site_code": [CENTER],
            "scan_time": pa.array([t.timestamp() * 10**9 + 123_456_789], pa.int64()).cast(
                pa.timestamp("ns", tz="UTC")
            ),
        }
    )
    pq.write_table(table, tmp_path / "ns.parquet")
    ingest_file(store, tmp_path / "ns.parquet", policy, carrier="ZTO", now=NOW)
    assert stored_events(store)["scan_time"].to_list() == [t + timedelta(microseconds=123_456)]


def test_ambiguous_naive_timestamp_is_a_rejected_row_not_a_refused_file(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """1990-09-16 01:30 happened twice in Asia/Shanghai (DST): one bad row, not a bad file."""
    rows = [*ROWS, scan("7731000003", "depart", CENTER, cst(1990, 9, 16, 1, 30))]
    path = write_parquet(tmp_path / "x.parquet", rows, time_type=pa.timestamp("us"))
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.accepted) == ("ingested", 4)
    assert upload.rejected_by_reason == {"implausible_scan_time": 1}


# -- files refused whole -------------------------------------------------------------------


def one_line(message: str | None) -> str:
    assert message
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def assert_refused(
    store: Store, policy: Policy, path: Path, *, match: str, carrier: str | None = "ZTO"
) -> str:
    """Ingest ``path``; it must be refused with ``match`` in a one-line reason, and the store
    must hold no event, reject or event file afterwards (the original file is kept for audit).
    """
    upload = ingest_file(store, path, policy, carrier=carrier, now=NOW)
    assert upload.status == "refused"
    message = one_line(upload.error)
    assert match.lower() in message.lower(), message
    assert (upload.rows_read, upload.accepted, upload.rejected) == (0, 0, 0)
    assert store.version() == 0
    assert stored_events(store).height == 0
    assert list(store.events_dir.rglob("*")) == []
    with store.connect() as db:
        assert db.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM event_files").fetchone()[0] == 0
    assert stored_file(store, upload.sha256).read_bytes() == path.read_bytes()
    return message


def good_parquet(path: Path) -> Path:
    return write_parquet(path, ROWS)


REFUSED = [
    pytest.param(
        lambda p: p.write_bytes(random.Random(0).randbytes(4096)),
        "neither Parquet nor CSV",
        id="random-bytes",
    ),
    pytest.param(
        lambda p: p.write_bytes(bytes(range(1, 256)) * 16),
        "neither Parquet nor CSV text in UTF-8 or GBK",
        id="binary-without-nul",
    ),
    pytest.param(
        lambda p: p.write_bytes(good_parquet(p).read_bytes()[:-100]),
        "truncated",
        id="truncated-parquet",
    ),
    pytest.param(
        lambda p: p.write_bytes(b"PAR1" + random.Random(1).randbytes(2000) + b"PAR1"),
        "cannot be read as Parquet",
        id="parquet-magic-garbage-inside",
    ),
    pytest.param(lambda p: p.write_bytes(b""), "empty", id="empty-file"),
    pytest.param(lambda p: p.write_text("  \n\n ", encoding="utf-8"), "empty", id="blank-text"),
    pytest.param(
        lambda p: pq.write_table(arrow_table(ROWS).slice(0, 0), p),
        "no data rows",
        id="zero-row-parquet",
    ),
    pytest.param(
        lambda p: p.write_text("waybill_no,scan_type,site_code,scan_time\n", encoding="utf-8"),
        "no data rows",
        id="header-only-csv",
    ),
    pytest.param(
        lambda p: p.write_bytes(b"PARE" + random.Random(2).randbytes(500) + b"PARE"),
        "encrypted",
        id="encrypted-footer-magic",
    ),
    pytest.param(
        lambda p: p.write_text(
            "waybill_no,scan_type,site_code,scan_time,waybill_no\n"
            "7731000001,depart,JY-C01,2023-05-01 12:00:00,7731000009\n",
            encoding="utf-8",
        ),
        "two columns mean waybill_no (运单号): 'waybill_no' and 'waybill_no'; keep one",
        id="csv-same-header-twice",
    ),
    pytest.param(
        lambda p: p.write_text('{"waybill_no": "7731000001"}\n', encoding="utf-8"),
        "missing column",
        id="json-text",
    ),
]


@pytest.mark.parametrize(("write", "match"), REFUSED)
def test_bad_file_is_refused_whole(
    store: Store, policy: Policy, tmp_path: Path, write: Callable[[Path], Any], match: str
) -> None:
    path = tmp_path / "upload.bin"
    write(path)
    assert_refused(store, policy, path, match=match)


@pytest.mark.parametrize(
    ("dropped", "fmt"),
    [
        pytest.param("scan_time", "parquet", id="no-scan_time-parquet"),
        pytest.param("waybill_no", "csv", id="no-waybill_no-csv"),
    ],
)
def test_missing_column_is_named_with_the_columns_found(
    store: Store, policy: Policy, tmp_path: Path, dropped: str, fmt: str
) -> None:
    rows = [{k: v for k, v in r.items() if k != dropped} for r in ROWS]
    path = tmp_path / f"export.{fmt}"
    (write_parquet if fmt == "parquet" else write_csv)(path, rows)
    message = assert_refused(store, policy, path, match="missing column")
    zh = {"scan_time": "扫描时间", "waybill_no": "运单号"}[dropped]
    assert f"missing column {dropped} ({zh})" in message
    found = message.split("found: ")[1]
    assert all(f"'{c}'" in found for c in rows[0])
    assert f"'{dropped}'" not in found


def test_missing_columns_are_all_named(store: Store, policy: Policy, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("运单号,weight\n7731000001,1.5\n", encoding="utf-8")
    message = assert_refused(store, policy, path, match="missing column")
    assert message.startswith(
        "missing column scan_type (扫描类型), site_code (网点编码), scan_time (扫描时间); found: "
    )
    assert "'运单号', 'weight'" in message


@pytest.mark.parametrize(
    ("column", "array", "want"),
    [
        pytest.param(
            "scan_time", pa.array([1.5] * 4), "a timestamp, a string or an integer", id="time-float"
        ),
        pytest.param(
            "scan_time",
            pa.array([cst(2023, 5, 1).date()] * 4, pa.date32()),
            "a timestamp, a string or an integer",
            id="time-date32",
        ),
        pytest.param(
            "waybill_no", pa.array([7731000001.0] * 4), "a string or an integer", id="waybill-float"
        ),
        pytest.param("site_code", pa.array([["a", "b"]] * 4), "a string", id="site-list"),
        pytest.param(
            "scan_type", pa.array([{"kind": "depart"}] * 4), "a string", id="scan_type-struct"
        ),
        pytest.param("carrier", pa.array([1.0] * 4), "a string", id="carrier-float"),
        pytest.param(
            "waybill_no",
            pa.array([[1]] * 4, pa.list_(pa.int64())),
            "a string or an integer",
            id="waybill-list",
        ),
        pytest.param("site_code", pa.array([True] * 4), "a string", id="site-bool"),
    ],
)
def test_column_of_a_type_that_cannot_hold_its_values_is_refused(
    store: Store, policy: Policy, tmp_path: Path, column: str, array: pa.Array, want: str
) -> None:
    table = arrow_table(ROWS)
    if column in table.column_names:
        table = table.set_column(table.schema.get_field_index(column), column, array)
    else:
        table = table.append_column(column, array)
    pq.write_table(table, tmp_path / "typed.parquet")
    message = assert_refused(store, policy, tmp_path / "typed.parquet", match="of type")
    assert message.startswith(f"column {column} (")
    assert message.endswith(f"it must be {want}")


def test_file_over_the_size_limit_is_refused(store: Store, policy: Policy, tmp_path: Path) -> None:
    path = good_parquet(tmp_path / "big.parquet")
    small = dataclasses.replace(policy, max_upload_bytes=path.stat().st_size - 1)
    message = assert_refused(store, small, path, match="over the upload limit")
    with pytest.raises(FileTooLarge):
        open_upload(
            path, max_bytes=small.max_upload_bytes, max_uncompressed=10**9, scratch=tmp_path
        )
    assert "split" not in message  # the hint belongs to the decompression limit
    at_limit = open_upload(
        path, max_bytes=path.stat().st_size, max_uncompressed=10**9, scratch=tmp_path
    )
    assert at_limit.format == "parquet"  # the limit itself is allowed


def test_file_that_would_decompress_over_the_limit_is_refused(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    rows = [scan(f"77310{i:05d}", "depart", CENTER, cst(2023, 5, 1)) for i in range(5000)]
    path = write_parquet(tmp_path / "zip.parquet", rows, compression="zstd")
    uncompressed = pq.ParquetFile(path).metadata.row_group(0).total_byte_size
    assert uncompressed > path.stat().st_size
    tight = dataclasses.replace(policy, max_uncompressed_bytes=uncompressed - 1)
    message = assert_refused(store, tight, path, match="would decompress to")
    assert "split the export" in message


def test_pages_that_expand_beyond_their_metadata_are_refused_while_reading(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """One long value in a dictionary page, repeated: the metadata promises little, the
    decoded rows are far more; reading stops at the limit instead of filling the memory."""
    rows = [scan("W" * 1000, "depart", CENTER, cst(2023, 5, 1)) for _ in range(60_000)]
    path = write_parquet(tmp_path / "expands.parquet", rows, compression="zstd")
    meta = pq.ParquetFile(path).metadata
    promised = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    limit = 20 * 2**20
    assert promised < limit < 60_000 * 1000  # the metadata check cannot see it
    tight = dataclasses.replace(policy, max_uncompressed_bytes=limit)
    message = assert_refused(store, tight, path, match="decompresses to more than the limit")
    assert "split the export" in message


def _text_view(values: list[bytes | None]) -> pa.Array:
    """Bytes labelled as UTF-8 text without any check (what a careless writer produces)."""
    return pa.array(values, pa.binary()).view(pa.string())


@pytest.mark.parametrize(
    "as_text",
    [pytest.param(_text_view, id="string-column"), pytest.param(pa.array, id="binary-column")],
)
def test_bytes_that_are_not_utf8_make_a_rejected_row_never_a_crash(
    store: Store, policy: Policy, tmp_path: Path, as_text: Callable[[list[Any]], pa.Array]
) -> None:
    """Invalid UTF-8 in one waybill and one scan type: those rows are rejected with their
    content (the bad bytes shown as U+FFFD), the others are stored."""
    table = arrow_table(ROWS)
    waybills = [r["waybill_no"].encode() for r in ROWS]
    waybills[1] = b"7731\xff\xfe0001"
    kinds = [r["scan_type"].encode() for r in ROWS]
    kinds[2] = b"arr\xc3ive"
    table = table.set_column(0, "waybill_no", as_text(waybills))
    table = table.set_column(1, "scan_type", as_text(kinds))
    path = tmp_path / "not-utf8.parquet"
    pq.write_table(table, path)
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.accepted, upload.rejected) == ("ingested", 2, 2)
    assert upload.rejected_by_reason == {"bad_waybill": 1, "unknown_scan_type": 1}
    with store.connect() as db:
        kept = db.execute("SELECT row_no, waybill_no, scan_type FROM rejects ORDER BY row_no")
        assert [tuple(r) for r in kept] == [
            (2, "7731\ufffd\ufffd0001", "depart"),
            (3, "7731000001", "arr\ufffdive"),
        ]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/parquet-testing is not present")
def test_decompression_bomb_is_refused_from_metadata_alone(tmp_path: Path) -> None:
    """A 4 KB file that decompresses to 2 GB: refused before a byte of data is read."""
    bomb = SHARED / "data" / "large_string_map.brotli.parquet"
    with pytest.raises(FileTooLarge, match=r"decompress to 2\.0 GiB"):
        open_upload(bomb, max_bytes=10**6, max_uncompressed=2**30, scratch=tmp_path)


class _PlainKms(pqe.KmsClient):
    """A test KMS that 'wraps' keys in base64 (no security, just the file format)."""

    def __init__(self, config: pqe.KmsConnectionConfig) -> None:
        super().__init__()

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> bytes:
        return base64.b64encode(key_bytes)

    def unwrap_key(self, wrapped_key: bytes, master_key_identifier: str) -> bytes:
        return base64.b64decode(wrapped_key)


@pytest.mark.parametrize(
    "plaintext_footer",
    [pytest.param(False, id="encrypted-footer"), pytest.param(True, id="plaintext-footer")],
)
def test_encrypted_parquet_is_refused(
    store: Store, policy: Policy, tmp_path: Path, plaintext_footer: bool
) -> None:
    factory = pqe.CryptoFactory(_PlainKms)
    config = pqe.EncryptionConfiguration(
        footer_key="footer",
        column_keys={"columns": ["waybill_no", "scan_time"]},
        plaintext_footer=plaintext_footer,
        double_wrapping=False,
        cache_lifetime=timedelta(minutes=1),
    )
    properties = factory.file_encryption_properties(pqe.KmsConnectionConfig(), config)
    table = arrow_table(ROWS)
    path = tmp_path / "secret.parquet"
    with pq.ParquetWriter(path, table.schema, encryption_properties=properties) as writer:
        writer.write_table(table)
    message = assert_refused(store, policy, path, match="the Parquet file is encrypted")
    assert message.endswith("export it without encryption")


def test_refused_csv_without_our_columns_lists_what_it_found(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("订单号,金额\nA1,1.00\n", encoding="gbk")
    message = assert_refused(store, policy, path, match="missing column")
    assert message.endswith("found: '订单号', '金额'")


def test_csv_blank_line_is_a_rejected_row_and_keeps_row_numbers(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(
        "waybill_no,scan_type,site_code,scan_time\n"
        "7731000001,depart,JY-C01,2023-05-01 12:00:00\n"
        "\n"
        "7731000002,depart,JY-C01,2023-05-01 13:00:00\n",
        encoding="utf-8",
    )
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert upload.rejected_by_reason == {"missing_field": 1}
    assert sorted(stored_events(store)["row_no"].to_list()) == [1, 3]


def test_open_upload_is_lazy_and_numbers_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", ROWS)
    raw = open_upload(path, max_bytes=10**6, max_uncompressed=10**6, scratch=tmp_path)
    assert isinstance(raw.frame, pl.LazyFrame)
    frame = raw.frame.collect()
    assert frame["row_no"].to_list() == [1, 2, 3, 4]
    assert set(frame.columns) == {
        "row_no",
        "waybill_no",
        "scan_type",
        "site_code",
        "scan_time",
        "next_site_code",
    }


def test_open_upload_raises_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 nonsense")
    with pytest.raises(FileRefused, match="truncated"):
        open_upload(path, max_bytes=10**6, max_uncompressed=10**6, scratch=tmp_path)


# -- hostile files from apache/parquet-testing --------------------------------------------


def _hostile_files() -> list[Any]:
    if not SHARED.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SHARED} is absent"))]
    files = sorted(p for d in ("bad_data", "data") for p in (SHARED / d).iterdir() if p.is_file())
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in files]


@pytest.mark.parametrize("hostile", _hostile_files())
def test_hostile_parquet_file_is_refused_cleanly(
    store: Store, policy: Policy, hostile: Path
) -> None:
    """Read from ../shared in place; every one is refused with a reason, never a crash."""
    upload = ingest_file(store, hostile, policy, carrier="ZTO", now=NOW)
    assert upload.status == "refused"
    message = one_line(upload.error)
    assert message.startswith(
        ("missing column", "the file is damaged", "the Parquet file is encrypted")
    ), message
    if message.startswith("missing column"):
        assert "; found: '" in message
    assert store.version() == 0
    assert stored_events(store).height == 0
    assert list(store.events_dir.rglob("*")) == []
    # Refused bytes claim nothing (SPEC §3a): sent again, they are judged afresh, alike.
    again = ingest_file(store, hostile, policy, carrier="ZTO", now=NOW)
    assert (again.status, again.duplicate, again.error) == ("refused", False, upload.error)
    assert again.id != upload.id


def test_gbk_csv_whose_first_lines_are_ascii_is_read_as_gbk(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """The encoding is judged on the whole file: 100 KB of ASCII rows, then a Chinese site."""
    lines = ["waybill_no,scan_type,site_code,scan_time"]
    lines += [f"77310{i:05d},pickup,{OTHER},2023-05-01 08:00:00" for i in range(2500)]
    lines.append("7731999999,揽收,济阳网点,2023-05-01 08:00:00")
    path = tmp_path / "gbk.csv"
    path.write_bytes("\n".join(lines).encode("gbk"))
    assert len(path.read_bytes().split("济".encode("gbk"))[0]) > 64 * 1024
    upload = ingest_file(store, path, policy, carrier="ZTO", now=NOW)
    assert (upload.status, upload.accepted) == ("ingested", 2501)
    assert "济阳网点" in stored_events(store)["site_code"].to_list()


def test_the_quick_check_reads_a_csvs_header_alone(tmp_path: Path) -> None:
    """The API answers an upload at once: for a CSV it checks the header of the first 64 KiB
    (a GBK header too); a bad byte further down is for the ingest to find."""
    header = "运单号,扫描类型,扫描网点,扫描时间\n".encode("gbk")
    body = b"".join(f"77310{i:05d},pickup,S1,2023-05-01 08:00:00\n".encode() for i in range(5000))
    good = tmp_path / "gbk.csv"
    good.write_bytes(header + body + b"\xff\xfe broken tail\n")
    assert check_upload(good, max_bytes=10**9, max_uncompressed=10**9) == "csv"
    missing = tmp_path / "missing.csv"
    missing.write_bytes("运单号,扫描类型,扫描时间\n".encode("gbk") + body)
    with pytest.raises(FileRefused, match=r"missing column site_code \(网点编码\)"):
        check_upload(missing, max_bytes=10**9, max_uncompressed=10**9)


def test_text_without_a_line_break_is_refused_not_a_crash(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    """200 KB of text on one line (no header line to read): a one-line refusal, where the
    CSV module used to raise 'field larger than field limit'."""
    path = tmp_path / "one-line.csv"
    path.write_text("waybill_no," + "x" * 200_000, encoding="utf-8")
    assert_refused(store, policy, path, match="hold no line break")
    with pytest.raises(FileRefused, match="no CSV header line"):
        check_upload(path, max_bytes=10**9, max_uncompressed=10**9)

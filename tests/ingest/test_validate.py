"""Row validation (SPEC §3): every row is an event or a reject with one reason and its content."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.policy import Policy
from core.store import Store
from ingest.uploads import ingest_file
from ingest.validate import accepted_events, parse_scan_time, rejected_rows, validate
from tests.factories import (
    CENTER,
    NOW,
    cst,
    reject_rows,
    scan,
    stored_events,
    write_csv,
    write_parquet,
)

GOOD_TIME = "2023-05-01 12:00:00"


def text_row(**values: Any) -> dict[str, Any]:
    """One row as text, valid unless a value says otherwise."""
    row = {
        "waybill_no": "ZT7000000001",
        "scan_type": "depart",
        "site_code": CENTER,
        "scan_time": GOOD_TIME,
        "carrier": None,
        "next_site_code": None,
    }
    return {**row, **values}


def outcome(
    rows: list[dict[str, Any]],
    policy: Policy,
    *,
    uploader: str | None = "ZTO",
    now: datetime = NOW,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate text rows as the reader gives them; returns (events, rejects)."""
    raw = pl.LazyFrame(
        [{"row_no": i, **r} for i, r in enumerate(rows, start=1)],
        schema={"row_no": pl.Int64, **dict.fromkeys(rows[0], pl.String)},
    )
    validated = validate(
        raw, uploader_carrier=uploader, carriers=policy.carriers, now=now, upload_id=7
    )
    events, rejects = pl.collect_all([accepted_events(validated), rejected_rows(validated)])
    return events, rejects


def reason_of(row: dict[str, Any], policy: Policy, **kwargs: Any) -> str | None:
    events, rejects = outcome([row], policy, **kwargs)
    assert events.height + rejects.height == 1
    return rejects["reason"][0] if rejects.height else None


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param({"waybill_no": None}, "missing_field", id="waybill-null"),
        pytest.param({"waybill_no": "   "}, "missing_field", id="waybill-blank"),
        pytest.param({"scan_type": ""}, "missing_field", id="scan_type-empty"),
        pytest.param({"site_code": " "}, "missing_field", id="site-blank"),
        pytest.param({"scan_time": None}, "missing_field", id="time-null"),
        pytest.param({"scan_time": "  "}, "missing_field", id="time-blank"),
        pytest.param({"waybill_no": "ZT123"}, "bad_waybill", id="waybill-5-chars"),
        pytest.param({"waybill_no": "Z" * 41}, "bad_waybill", id="waybill-41-chars"),
        pytest.param({"waybill_no": "ZT 1234567"}, "bad_waybill", id="waybill-inner-space"),
        pytest.param({"waybill_no": "ZT_1234567"}, "bad_waybill", id="waybill-underscore"),
        pytest.param({"waybill_no": "中通1234567"}, "bad_waybill", id="waybill-chinese"),
        pytest.param({"scan_type": "deliver"}, "unknown_scan_type", id="scan_type-english"),
        pytest.param({"scan_type": "中转扫描"}, "unknown_scan_type", id="scan_type-chinese"),
        pytest.param({"scan_time": "yesterday"}, "bad_scan_time", id="time-text"),
        pytest.param({"scan_time": "2023-02-30 10:00:00"}, "bad_scan_time", id="time-feb-30"),
        pytest.param({"scan_time": "2023-05-01 25:00:00"}, "bad_scan_time", id="time-hour-25"),
        pytest.param(
            {"scan_time": "2019-12-31 23:59:59"}, "implausible_scan_time", id="before-2020"
        ),
        pytest.param(
            {"scan_time": "2019-12-31T15:59:59Z"}, "implausible_scan_time", id="before-2020-utc"
        ),
        pytest.param(
            {"scan_time": "2024-12-02 00:00:01"}, "implausible_scan_time", id="1d+1s-after-now"
        ),
        pytest.param(
            {"scan_time": "2030-01-01 00:00:00"}, "implausible_scan_time", id="far-future"
        ),
        pytest.param(
            {"scan_time": "1990-09-16 01:30:00"},
            "implausible_scan_time",
            id="ambiguous-local-time-of-1990-DST",
        ),
        pytest.param({"carrier": "SF"}, "carrier_mismatch", id="other-carrier"),
        pytest.param({"carrier": "顺丰"}, "carrier_mismatch", id="other-carrier-chinese"),
        pytest.param({"carrier": "FOO"}, "carrier_mismatch", id="unknown-code-by-operator"),
    ],
)
def test_each_reject_reason(values: dict[str, Any], reason: str, policy: Policy) -> None:
    assert reason_of(text_row(**values), policy) == reason


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param({"carrier": "FOO"}, "unknown_carrier", id="unknown-code"),
        pytest.param({"carrier": None}, "missing_field", id="no-carrier-at-all"),
        pytest.param({"carrier": "SF"}, None, id="any-known-carrier"),
    ],
)
def test_carrier_without_an_uploader_carrier(
    values: dict[str, Any], reason: str | None, policy: Policy
) -> None:
    """An upload without a carrier (admin, multi-carrier file) needs a known code per row."""
    assert reason_of(text_row(**values), policy, uploader=None) == reason


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"scan_time": "2020-01-01 00:00:00"}, id="first-plausible-instant"),
        pytest.param({"scan_time": "2024-12-02 00:00:00"}, id="exactly-1d-after-now"),
        pytest.param({"waybill_no": "ZT1234"}, id="waybill-6-chars"),
        pytest.param({"waybill_no": "Z" * 40}, id="waybill-40-chars"),
        pytest.param({"waybill_no": "  ZT-123-456  "}, id="waybill-trimmed-dashes"),
        pytest.param({"carrier": "ZTO"}, id="carrier-code"),
        pytest.param({"carrier": "zto"}, id="carrier-lower"),
        pytest.param({"carrier": "Zto"}, id="carrier-mixed-case"),
        pytest.param({"carrier": " 中通 "}, id="carrier-chinese-name"),
        pytest.param({"carrier": ""}, id="carrier-empty-means-uploader"),
        pytest.param({"scan_type": " DEPART "}, id="scan_type-case-and-space"),
        pytest.param({"scan_type": "发件"}, id="scan_type-chinese"),
    ],
)
def test_valid_variants_are_accepted(values: dict[str, Any], policy: Policy) -> None:
    events, rejects = outcome([text_row(**values)], policy)
    assert rejects.height == 0
    assert events["carrier"].to_list() == ["ZTO"]


@pytest.mark.parametrize(
    ("label", "scan_type"),
    [
        ("揽收", "pickup"),
        ("收件", "pickup"),
        ("发件", "depart"),
        ("到件", "arrive"),
        ("派件", "dispatch"),
        ("签收", "sign"),
        ("问题件", "exception"),
        ("Sign", "sign"),
        ("EXCEPTION", "exception"),
    ],
)
def test_scan_type_aliases(label: str, scan_type: str, policy: Policy) -> None:
    events, _ = outcome([text_row(scan_type=label)], policy)
    assert events["scan_type"].cast(pl.String).to_list() == [scan_type]


def test_accepted_event_is_canonical(policy: Policy) -> None:
    events, _ = outcome(
        [
            text_row(
                waybill_no=" ZT7000000001 ",
                site_code=f" {CENTER} ",
                scan_time="2023-05-01T04:00:00Z",
                next_site_code="  ",
            )
        ],
        policy,
    )
    assert events.row(0, named=True) == {
        "carrier": "ZTO",
        "waybill_no": "ZT7000000001",
        "scan_type": "depart",
        "site_code": CENTER,
        "scan_time": cst(2023, 5, 1, 12),
        "next_site_code": None,
        "upload_id": 7,
        "row_no": 1,
    }


def test_first_reason_in_spec_order_wins(policy: Policy) -> None:
    row = text_row(waybill_no="x", scan_type="fly", scan_time="never", carrier="SF")
    assert reason_of(row, policy) == "bad_waybill"
    row = text_row(scan_type="fly", scan_time="never", carrier="SF")
    assert reason_of(row, policy) == "unknown_scan_type"
    row = text_row(scan_time="never", carrier="SF")
    assert reason_of(row, policy) == "bad_scan_time"


def test_plausibility_limit_follows_the_time_of_ingestion(policy: Policy) -> None:
    row = text_row(scan_time="2023-05-02 12:00:01")
    assert reason_of(row, policy, now=cst(2023, 5, 1, 12)) == "implausible_scan_time"
    assert reason_of(row, policy, now=cst(2023, 5, 1, 12, 0, 1)) is None


def test_rejects_keep_row_numbers_and_content(policy: Policy) -> None:
    rows = [
        text_row(),
        text_row(waybill_no="bad!", next_site_code="JY-H01"),
        text_row(),
        text_row(scan_type="teleport", carrier="中通"),
    ]
    events, rejects = outcome(rows, policy)
    assert events["row_no"].to_list() == [1, 3]
    assert rejects.to_dicts() == [
        {
            "row_no": 2,
            "reason": "bad_waybill",
            "waybill_no": "bad!",
            "scan_type": "depart",
            "site_code": CENTER,
            "scan_time": GOOD_TIME,
            "carrier": None,
            "next_site_code": "JY-H01",
        },
        {
            "row_no": 4,
            "reason": "unknown_scan_type",
            "waybill_no": "ZT7000000001",
            "scan_type": "teleport",
            "site_code": CENTER,
            "scan_time": GOOD_TIME,
            "carrier": "中通",
            "next_site_code": None,
        },
    ]


# -- through a real upload: the rejects table in the store --------------------------------


def every_reason_rows() -> list[dict[str, Any]]:
    """One valid row, then one row per reject reason (an operator upload of ZTO)."""
    ok = cst(2023, 5, 1, 12)
    return [
        scan("ZT7000000001", "depart", CENTER, ok),
        scan("   ", "depart", CENTER, ok),
        scan("ZT-1", "depart", CENTER, ok),
        scan("ZT7000000003", "fly", CENTER, ok),
        scan("ZT7000000004", "depart", CENTER, "31/05/2023"),
        scan("ZT7000000005", "depart", CENTER, "2019-06-01 08:00:00"),
        scan("ZT7000000006", "depart", CENTER, "2024-12-02T00:00:01+08:00"),
        scan("ZT7000000007", "depart", CENTER, ok, carrier="SF"),
    ]


EXPECTED_REJECTS = [
    (2, "missing_field", "   "),
    (3, "bad_waybill", "ZT-1"),
    (4, "unknown_scan_type", "ZT7000000003"),
    (5, "bad_scan_time", "ZT7000000004"),
    (6, "implausible_scan_time", "ZT7000000005"),
    (7, "implausible_scan_time", "ZT7000000006"),
    (8, "carrier_mismatch", "ZT7000000007"),
]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_upload_stores_rejects_with_row_numbers_and_content(
    store: Store, policy: Policy, tmp_path: Path, fmt: str
) -> None:
    rows = every_reason_rows()
    rows[0]["carrier"] = "ZTO"  # the carrier column exists; empty cells mean the uploader's
    path = tmp_path / f"ZTO.{fmt}"
    if fmt == "csv":
        write_csv(path, rows)
    else:
        # text times must be text in Parquet too: write every time as text
        write_parquet(path, [{**r, "scan_time": _as_text(r["scan_time"])} for r in rows])
    # every row but one is rejected: the mostly-rejected refusal (SPEC §3a) is off here
    lenient = dataclasses.replace(policy, max_rejected_share=1.0)
    upload = ingest_file(store, path, lenient, carrier="ZTO", now=NOW)

    assert (upload.status, upload.rows_read, upload.accepted, upload.rejected) == (
        "ingested",
        8,
        1,
        7,
    )
    assert upload.rejected_by_reason == {
        "missing_field": 1,
        "bad_waybill": 1,
        "unknown_scan_type": 1,
        "bad_scan_time": 1,
        "implausible_scan_time": 2,
        "carrier_mismatch": 1,
    }
    stored = reject_rows(store)
    assert [(r["row_no"], r["reason"], r["waybill_no"]) for r in stored] == EXPECTED_REJECTS
    assert {r["upload_id"] for r in stored} == {upload.id}
    bad_time = stored[3]
    assert (bad_time["scan_time"], bad_time["site_code"], bad_time["scan_type"]) == (
        "31/05/2023",
        CENTER,
        "depart",
    )
    assert stored[6]["carrier"] == "SF"
    assert stored_events(store)["waybill_no"].to_list() == ["ZT7000000001"]


def test_unknown_carrier_in_an_upload_without_carrier(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    rows = [
        scan("ZT7000000001", "depart", CENTER, cst(2023, 5, 1), carrier="ZTO"),
        scan("SF70000000002", "depart", CENTER, cst(2023, 5, 1), carrier="SF"),
        scan("XX7000000003", "depart", CENTER, cst(2023, 5, 1), carrier="XPRESS"),
    ]
    upload = ingest_file(
        store, write_csv(tmp_path / "all.csv", rows), policy, carrier=None, now=NOW
    )
    assert upload.rejected_by_reason == {"unknown_carrier": 1}
    assert [(r["row_no"], r["carrier"]) for r in reject_rows(store)] == [(3, "XPRESS")]
    assert sorted(stored_events(store)["carrier"].to_list()) == ["SF", "ZTO"]


def test_parquet_timestamp_rejects_keep_the_time(
    store: Store, policy: Policy, tmp_path: Path
) -> None:
    rows = [scan("ZT7000000001", "depart", CENTER, cst(2019, 6, 1, 8, 30))]
    path = write_parquet(tmp_path / "old.parquet", rows)
    lenient = dataclasses.replace(policy, max_rejected_share=1.0)  # one row, rejected
    upload = ingest_file(store, path, lenient, carrier="ZTO", now=NOW)
    assert upload.rejected_by_reason == {"implausible_scan_time": 1}
    (stored,) = reject_rows(store)
    assert stored["scan_time"].startswith("2019-06-01 08:30:00")


def _as_text(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2023-05-01 10:00:00", (2023, 5, 1, 10, 0, 0), id="plain"),
        pytest.param("2023-05-01T10:00:00", (2023, 5, 1, 10, 0, 0), id="iso-naive"),
        pytest.param("2023-05-01T10:00", (2023, 5, 1, 10, 0, 0), id="iso-no-seconds"),
        pytest.param("2023-05-01 10:00", (2023, 5, 1, 10, 0, 0), id="no-seconds"),
        pytest.param("2023-05-01T02:00:00Z", (2023, 5, 1, 10, 0, 0), id="utc-Z"),
        pytest.param("2023-05-01T10:00:00+08:00", (2023, 5, 1, 10, 0, 0), id="offset"),
        pytest.param("2023-05-01T10:00:00+0800", (2023, 5, 1, 10, 0, 0), id="offset-no-colon"),
        pytest.param("2023-05-01T10:00:00+08", (2023, 5, 1, 10, 0, 0), id="offset-hours"),
        pytest.param("2023-05-01T02:00+00", (2023, 5, 1, 10, 0, 0), id="no-seconds-offset-hours"),
        pytest.param("2023-05-01T03:30:00.5+01:30", (2023, 5, 1, 10, 0, 0, 500000), id="fraction"),
        pytest.param("2023/5/1 10:00:00", (2023, 5, 1, 10, 0, 0), id="slashes"),
        pytest.param("2023-05-01", None, id="date-alone-is-no-scan-time"),
        pytest.param("10:00:00", None, id="time-alone"),
        pytest.param("2023-05-01 25:00:00", None, id="hour-25"),
    ],
)
def test_text_scan_times_in_iso_8601_forms(text: str, expected: tuple[int, ...] | None) -> None:
    """Text times are read in every ISO 8601 form an export writes; a naive one is
    Asia/Shanghai; what cannot be read is null (a ``bad_scan_time`` row)."""
    parsed = pl.select(parse_scan_time(pl.lit(text)).alias("t")).item()
    assert parsed == (None if expected is None else cst(*expected))

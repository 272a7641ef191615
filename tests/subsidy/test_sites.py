"""The sites registry (SPEC §4): import, validation, and what the rule reads back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.store import Store
from subsidy.exceptions import SiteRegistryError
from subsidy.sites import SITES_SCHEMA, import_sites, load_sites, parse_registry
from tests.factories import CENTER, HUB, SHORT_HUB, SITES, make_store, write_sites_csv


def test_import_stores_every_site_with_its_interval(tmp_path: Path) -> None:
    store = Store(tmp_path / "data").init()
    counts = import_sites(store, write_sites_csv(tmp_path / "sites.csv"))
    assert list(counts.items()) == [
        ("sites", 6),
        ("district_center", 2),
        ("village_hub", 3),
        ("other", 1),
    ]
    sites = load_sites(store)
    assert sites.schema == SITES_SCHEMA
    short = sites.filter(pl.col("site_code") == SHORT_HUB).row(0, named=True)
    assert short == {
        "site_code": SHORT_HUB,
        "name": "回河街道服务站",
        "kind": "village_hub",
        "town": "回河街道",
        "active_from": date(2023, 5, 10),
        "active_to": date(2023, 5, 20),
    }
    center = sites.filter(pl.col("site_code") == CENTER).row(0, named=True)
    assert center["active_to"] is None  # empty = still active


def test_import_replaces_the_registry_and_is_audited(tmp_path: Path) -> None:
    store = make_store(tmp_path / "data")
    import_sites(store, write_sites_csv(tmp_path / "one.csv", [SITES[0]]), actor="admin-li")
    assert load_sites(store)["site_code"].to_list() == [CENTER]
    with store.connect() as db:
        log = [tuple(r) for r in db.execute("SELECT actor, action, old_value FROM audit_log")]
    assert log[-1] == ("admin-li", "sites.replaced", '{"sites": 6}')


def test_registry_in_parquet_with_real_dates(tmp_path: Path) -> None:
    table = pa.table(
        {
            "site_code": [CENTER, HUB],
            "name": ["中心", "站"],
            "kind": ["district_center", "village_hub"],
            "town": ["济阳街道", "仁风镇"],
            "active_from": pa.array([date(2021, 1, 1), date(2022, 3, 1)], pa.date32()),
            "active_to": pa.array([None, date(2024, 1, 31)], pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "sites.parquet")
    sites = parse_registry(tmp_path / "sites.parquet")
    assert sites["active_from"].to_list() == [date(2021, 1, 1), date(2022, 3, 1)]
    assert sites["active_to"].to_list() == [None, date(2024, 1, 31)]


def test_header_with_bom_spaces_and_case_and_no_active_to(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        "\ufeff Site_Code ,NAME,Kind,town,Active_From\n"
        "JY-C01,中心,district_center,济阳街道,2021-01-01\n",
        encoding="utf-8",
    )
    sites = parse_registry(path)
    assert sites.row(0) == (
        CENTER,
        "中心",
        "district_center",
        "济阳街道",
        date(2021, 1, 1),
        None,
        [],
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"kind": "warehouse"}, "kind is not one of", id="bad-kind"),
        pytest.param({"active_from": "2021/01/01"}, "active_from is not a date", id="bad-date"),
        pytest.param({"active_from": ""}, "active_from is not a date", id="no-active_from"),
        pytest.param({"active_to": "2020-12-31"}, "active_to is before active_from", id="reversed"),
        pytest.param({"site_code": " "}, "site_code is empty", id="empty-code"),
        pytest.param({"name": ""}, "name is empty", id="empty-name"),
        pytest.param({"site_code": HUB}, "site_code appears twice", id="duplicate-code"),
    ],
)
def test_bad_registry_is_refused_whole_and_names_the_line(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    store = make_store(tmp_path / "data")
    before = load_sites(store)
    bad = [{**SITES[0], **change}, *SITES[1:]]
    with pytest.raises(SiteRegistryError, match=message) as err:
        import_sites(store, write_sites_csv(tmp_path / "bad.csv", bad))
    assert "line 2 (" in str(err.value)  # the header is line 1
    assert load_sites(store).equals(before)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site_code,name,town,active_from\nA,B,C,2021-01-01\n", encoding="utf-8")
    with pytest.raises(SiteRegistryError, match="missing column kind"):
        parse_registry(path)


def test_empty_registry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SiteRegistryError, match="no sites"):
        parse_registry(write_sites_csv(tmp_path / "empty.csv", []))


def test_a_column_given_twice_is_refused(tmp_path: Path) -> None:
    """Headers equal once trimmed and lower-cased are one column given twice: refused with a
    reason (it was a 500 from the data frame library)."""
    path = tmp_path / "sites.csv"
    path.write_text("site_code, Site_Code,name,kind,town,active_from\nA,A,n,other,t,2023-01-01\n")
    with pytest.raises(SiteRegistryError, match="site_code appears twice"):
        parse_registry(path)

"""The DuckDB peer (benchmarks.peer_duckdb) and the product's pipeline give the same figures,
the peer reading the raw uploads and, as the second yardstick, the store's own event files.

About 1M generated scan rows (200k parcels), ingested through the product's ingest path, one
upload per carrier-month file: every (month, carrier) figure of the rule must be identical.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from benchmarks.peer_duckdb import FIGURES, peer_counts, peer_store_counts
from core.policy import Policy
from core.store import Store
from ingest.synthetic import generate
from ingest.uploads import ingest_file
from subsidy.counts import compute_counts
from subsidy.refresh import refresh
from subsidy.sites import import_sites
from tests.factories import cst

NOW = cst(2023, 8, 1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen1m")
    manifest = generate(out, 200_000, seed=11, layout="month", start=date(2023, 1, 1), months=6)
    assert manifest["counts"]["rows_written"] > 1_000_000
    return out


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, generated: Path, policy: Policy) -> Store:
    """The generated files ingested through the product's path, one upload per file."""
    store = Store(tmp_path_factory.mktemp("store") / "data").init()
    import_sites(store, generated / "sites.csv")
    for path in sorted((generated / "scans").glob("*/*.parquet")):
        up = ingest_file(store, path, policy, carrier=path.parent.name, now=NOW)
        assert up.status == "ingested"
    return store


@pytest.mark.parametrize(
    "as_of",
    [pytest.param(cst(2023, 7, 1), id="end-of-period"), pytest.param(cst(2023, 4, 3), id="mid")],
)
def test_duckdb_peer_and_pipeline_agree_on_a_1m_row_generated_set(
    ingested: Store, generated: Path, policy: Policy, as_of: datetime
) -> None:
    """Same per-carrier-month figures (eligible, subsidy, pending, ineligible per reason)."""
    ours = compute_counts(ingested, policy, as_of)
    stored = refresh(ingested, policy, as_of).counts
    theirs = pl.DataFrame(
        peer_counts(generated, policy, as_of, now=NOW),
        schema_overrides=dict.fromkeys(FIGURES, pl.Int64),
    )
    key = ["month", "carrier", *FIGURES]
    assert ours.height > 30
    assert (
        ours.select(key).sort("month", "carrier").rows()
        == theirs.select(key).sort("month", "carrier").rows()
    )
    assert stored.select(key).rows() == ours.select(key).rows()
    over_store = pl.DataFrame(
        peer_store_counts(ingested.root, policy, as_of),
        schema_overrides=dict.fromkeys(FIGURES, pl.Int64),
    )
    assert (
        over_store.select(key).sort("month", "carrier").rows()
        == ours.select(key).sort("month", "carrier").rows()
    )

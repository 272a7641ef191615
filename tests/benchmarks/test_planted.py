"""The planted-fraud benchmark on a small generated set: every planted pattern just inside its
threshold is caught, none just outside is, and few honest parcels are flagged (SPEC §12)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.anomalies import run


def test_planted_fraud_is_caught(tmp_path: Path) -> None:
    result = run(parcels=30_000, plant=30, seed=3, root=tmp_path / "bench")
    for row in result["rows"]:
        assert row["planted_inside"] >= 30, row
        assert row["recall"] >= 0.95, row
        assert row["outside_flagged"] == 0, row
    assert result["honest_share_any_code"] < 0.005

"""Sampled review (SPEC §12): reproducible samples, the Wilson interval against published
hand-computed values, over-claim rounded half up, and the deduction reaching the next
statement exactly, through the HTTP API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from subsidy.audits import draw_sample, over_claim_fen, wilson_interval
from tests.api.conftest import bearer, upload
from tests.factories import cst, parcel, write_parquet


@pytest.mark.parametrize(
    ("errors", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval(errors: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(errors, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_by_hand() -> None:
    """1 error in 4, z = 1.959964: centre (0.25 + z²/8) / (1 + z²/4), half-width
    z·sqrt(0.25·0.75/4 + z²/64) / (1 + z²/4), worked out by hand to 6 places."""
    assert wilson_interval(1, 4) == pytest.approx((0.045587, 0.699358), abs=1e-6)


@pytest.mark.parametrize(
    ("errors", "n", "claimed", "fen"),
    [
        (1, 4, 2, 1),
        (1, 4, 10, 3),
        (3, 40, 1234, 93),
        (1, 3, 100, 33),
        (2, 3, 100, 67),
        (0, 5, 99, 0),
    ],
)
def test_over_claim_rounds_half_up(errors: int, n: int, claimed: int, fen: int) -> None:
    assert over_claim_fen(errors, n, claimed) == fen


def test_same_seed_same_sample() -> None:
    population = [f"W{i:04}" for i in range(500)]
    first = draw_sample(population, 20, seed=2023)
    assert first == draw_sample(list(reversed(population)), 20, seed=2023)
    assert first != draw_sample(population, 20, seed=2024)
    assert len(set(first)) == 20 and set(first) <= set(population)
    assert sorted(draw_sample(population[:3], 20, seed=1)) == population[:3]


def test_sampled_review_and_deduction(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    may = [r for i in range(5) for r in parcel(f"ZT10000{i}", cst(2023, 5, 3 + i, 10))]
    assert (
        upload(client, tokens["operator"], write_parquet(tmp_path / "m.parquet", may)).status_code
        == 202
    )
    aud, fin = bearer(tokens["auditor"]), bearer(tokens["finance"])
    body = {"month": "2023-05", "carrier": "ZTO", "sample_size": 3, "seed": 7}
    assert client.post("/v1/audits", headers=aud, json=body).status_code == 409  # not closed
    assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
    assert client.post("/v1/audits", headers=fin, json=body).status_code == 403
    first = client.post("/v1/audits", headers=aud, json=body)
    assert first.status_code == 201, first.text
    again = client.post("/v1/audits", headers=aud, json=body).json()
    audit = first.json()
    assert [s["waybill_no"] for s in audit["sample"]] == [s["waybill_no"] for s in again["sample"]]
    assert (audit["seed"], audit["population"], audit["claimed_fen"]) == (7, 5, 100)
    sample = [s["waybill_no"] for s in audit["sample"]]
    assert len(set(sample)) == 3
    url = f"/v1/audits/{audit['id']}"
    assert client.post(f"{url}/deduct", headers=fin).status_code == 409  # no findings yet
    for i, waybill in enumerate(sample):
        finding = {"waybill_no": waybill, "finding": "not_confirmed" if i == 0 else "confirmed"}
        assert client.post(f"{url}/findings", headers=aud, json=finding).status_code == 200
    outsider = {"waybill_no": "ZT999999", "finding": "confirmed"}
    assert client.post(f"{url}/findings", headers=aud, json=outsider).status_code == 422
    result = client.get(url, headers=fin).json()["result"]
    assert result["error_rate"] == pytest.approx(1 / 3)
    assert (result["wilson_low"], result["wilson_high"]) == pytest.approx(wilson_interval(1, 3))
    assert result["over_claim_fen"] == 33  # 100 / 3 = 33.33
    assert client.get(url, headers=bearer(tokens["other_operator"])).status_code == 404
    assert client.get(url, headers=bearer(tokens["operator"])).status_code == 200
    assert client.post(f"{url}/deduct", headers=aud).status_code == 403
    assert client.post(f"{url}/deduct", headers=fin).status_code == 200
    assert client.post(f"{url}/deduct", headers=fin).status_code == 409  # once
    assert client.post(f"{url}/findings", headers=aud, json=finding).status_code == 409

    june = [r for i in range(3) for r in parcel(f"ZT20000{i}", cst(2023, 6, 3 + i, 10))]
    assert (
        upload(client, tokens["operator"], write_parquet(tmp_path / "j.parquet", june)).status_code
        == 202
    )
    assert client.post("/v1/months/2023-06/close", headers=fin).status_code == 201
    (statement,) = client.get("/v1/statements?month=2023-06", headers=fin).json()
    assert (statement["claimed_fen"], statement["adjustment_fen"], statement["payable_fen"]) == (
        60,
        -33,
        27,
    )

"""Audit controls on planted fraud (SPEC §12): recall per code and the share of honest parcels
flagged, with the policy's defaults.

    python -m benchmarks.anomalies --parcels 200000 --plant 200 [--seed 42] [--root DIR]

Generates three months of honest logs with ``--plant`` parcels per code on each side of each
threshold (:mod:`ingest.planted`), ingests every file into a fresh store as the CLI does,
computes every month's flags as of eight days after the period (:func:`subsidy.anomalies.
flags_for_month`), and prints, per code: recall on the planted parcels just inside, how many
planted just outside were flagged, and the share of honest in-scope parcels flagged. A parcel
caught by ``hub_spike`` is one held by a flagged hub-day. Writes the figures as JSON beside.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.policy import load_policy
from core.store import Store
from core.timeutil import TZ
from ingest.planted import PLANT_CODES
from ingest.synthetic import generate
from ingest.uploads import ingest_file
from subsidy.anomalies import flags_for_month
from subsidy.rule import parcel_statuses
from subsidy.sites import import_sites, load_sites


def run(parcels: int, plant: int, seed: int, root: Path) -> dict[str, Any]:
    start, months = date(2023, 1, 1), 3
    shutil.rmtree(root, ignore_errors=True)
    gen = root / "gen"
    generate(gen, parcels, seed, "month", start, months, plant=plant)
    policy = load_policy()
    store = Store(root / "data").init()
    import_sites(store, gen / "sites.csv")
    now = datetime(2023, 4, 9, tzinfo=TZ)
    t0 = time.perf_counter()
    for path in sorted((gen / "scans").glob("*/*.parquet")):
        ingest_file(store, path, policy, carrier=path.parent.name, now=now)
    ingest_s = time.perf_counter() - t0
    planted = pl.read_csv(gen / "planted.csv", schema_overrides={"waybill_no": pl.String})
    flagged: list[pl.DataFrame] = []
    held: list[pl.DataFrame] = []
    t0 = time.perf_counter()
    for month in ("2023-01", "2023-02", "2023-03"):
        computed = flags_for_month(store, policy, month, now)
        flagged.append(computed.flags.filter(pl.col("carrier").is_not_null()))
        held.append(computed.held.filter(pl.col("code") == "hub_spike"))
    flags_s = time.perf_counter() - t0
    per_parcel = pl.concat(
        [
            pl.concat(flagged).select("code", "carrier", "waybill_no"),
            pl.concat(held).select("code", "carrier", "waybill_no"),
        ]
    ).unique()
    statuses = (
        parcel_statuses(store.scan_events(), load_sites(store).lazy(), policy, now)
        .filter(pl.col("month").is_in(["2023-01", "2023-02", "2023-03"]))
        .select("carrier", "waybill_no")
        .collect()
    )
    keys = ["carrier", "waybill_no"]
    honest = statuses.join(planted.select(keys), on=keys, how="anti")
    rows: list[dict[str, Any]] = []
    for code in PLANT_CODES:
        caught = per_parcel.filter(pl.col("code") == code).select(keys)
        mine = planted.filter(pl.col("code") == code)
        inside = mine.filter(pl.col("side") == "inside").select(keys).unique()
        outside = mine.filter(pl.col("side") == "outside").select(keys).unique()
        hit = inside.join(caught, on=keys, how="semi").height
        false_out = outside.join(caught, on=keys, how="semi").height
        honest_hit = honest.join(caught, on=keys, how="semi").height
        rows.append(
            {
                "code": code,
                "planted_inside": inside.height,
                "caught": hit,
                "recall": hit / inside.height if inside.height else None,
                "planted_outside": outside.height,
                "outside_flagged": false_out,
                "honest_parcels": honest.height,
                "honest_flagged": honest_hit,
                "honest_share": honest_hit / honest.height if honest.height else None,
            }
        )
    any_honest = honest.join(per_parcel.select(keys).unique(), on=keys, how="semi").height
    return {
        "parameters": {"parcels": parcels, "plant": plant, "seed": seed, "months": months},
        "rows": rows,
        "honest_flagged_any_code": any_honest,
        "honest_share_any_code": any_honest / honest.height if honest.height else None,
        "ingest_seconds": round(ingest_s, 2),
        "flags_seconds_three_months": round(flags_s, 2),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| code | planted inside | recall | outside flagged | honest flagged | honest share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| `{r['code']}` | {r['planted_inside']} | {100 * (r['recall'] or 0):.1f}% | "
            f"{r['outside_flagged']} / {r['planted_outside']} | {r['honest_flagged']} | "
            f"{100 * (r['honest_share'] or 0):.3f}% |"
        )
    lines.append(
        f"| any | | | | {result['honest_flagged_any_code']} | "
        f"{100 * (result['honest_share_any_code'] or 0):.3f}% |"
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.anomalies", description=__doc__)
    p.add_argument("--parcels", type=int, default=200_000)
    p.add_argument("--plant", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--root", type=Path, default=Path("/tmp/parcel-bench-anomalies"))
    a = p.parse_args()
    result = run(a.parcels, a.plant, a.seed, a.root)
    out = Path(__file__).with_name("results") / "anomalies.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(
        f"ingest {result['ingest_seconds']} s, "
        f"flags of 3 months {result['flags_seconds_three_months']} s"
    )


if __name__ == "__main__":
    main()

"""Anomaly flags and holds through the HTTP API (SPEC §12 with §11): flagged parcels leave the
payable; a cleared one comes back as an adjustment in the next statement; a confirmed one
never does; only an auditor reviews; an operator sees its own carrier's flags only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from cli import main
from core.policy import DEFAULT_POLICY_PATH
from core.settings import Settings
from core.store import Store
from tests.api.conftest import bearer, upload
from tests.factories import HUB, cst, ingest_rows, parcel, write_parquet

MAY = [
    *parcel("ZT100001", cst(2023, 5, 3, 10)),  # honest
    *parcel("ZT100002", cst(2023, 5, 4, 20), timedelta(hours=6)),  # A 02:00 -> off_hours
    *parcel("ZT100003", cst(2023, 5, 6, 10), timedelta(minutes=10)),  # too_fast
]


def _flags(client: TestClient, token: str, query: str = "month=2023-05") -> Any:
    return client.get(f"/v1/anomalies?{query}", headers=bearer(token))


def _statement(client: TestClient, token: str, month: str) -> dict[str, Any]:
    resp = client.get(f"/v1/statements?month={month}", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    (only,) = resp.json()
    return only  # type: ignore[no-any-return]


def test_holds_and_review(
    client: TestClient, tokens: dict[str, str], tmp_path: Path, store: Store
) -> None:
    assert (
        upload(client, tokens["operator"], write_parquet(tmp_path / "may.parquet", MAY)).status_code
        == 202
    )
    resp = _flags(client, tokens["auditor"])
    assert resp.status_code == 200, resp.text
    flags = {f["waybill_no"]: f for f in resp.json()}
    assert {w: f["code"] for w, f in flags.items()} == {
        "ZT100002": "off_hours",
        "ZT100003": "too_fast",
    }
    assert set(flags["ZT100002"]) == {
        "id", "code", "carrier", "waybill_no", "site_code", "day", "detail", "status",
    }  # fmt: skip
    assert (
        flags["ZT100002"]["site_code"],
        flags["ZT100002"]["day"],
        flags["ZT100002"]["status"],
    ) == (
        HUB,
        "2023-05-05",
        "open",
    )
    assert flags["ZT100002"]["detail"]["a_time"].startswith("2023-05-05T02:00:00")
    # Stable ids: asking again gives the same flags.
    assert _flags(client, tokens["finance"]).json() == resp.json()
    # Operators: their own carrier's only; another carrier's is 404.
    assert len(_flags(client, tokens["operator"]).json()) == 2
    assert _flags(client, tokens["other_operator"]).json() == []
    assert _flags(client, tokens["other_operator"], "month=2023-05&carrier=ZTO").status_code == 404

    fin = bearer(tokens["finance"])
    assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
    may = _statement(client, tokens["finance"], "2023-05")
    assert (may["claimed_fen"], may["held_fen"], may["payable_fen"]) == (60, 40, 20)
    # Behind held_fen, its parcels (SPEC §12 drill-down), with their flags.
    held = client.get("/v1/parcels?month=2023-05&status=held", headers=fin).json()
    assert [(i["waybill_no"], i["flags"]) for i in held["items"]] == [
        ("ZT100002", ["off_hours"]),
        ("ZT100003", ["too_fast"]),
    ]
    assert sum(i["subsidy_fen"] for i in held["items"]) == may["held_fen"]

    off, fast = flags["ZT100002"]["id"], flags["ZT100003"]["id"]
    clear = {"decision": "cleared", "note": "night shift confirmed by the hub"}
    assert client.post(f"/v1/anomalies/{off}/review", headers=fin, json=clear).status_code == 403
    aud = bearer(tokens["auditor"])
    resp = client.post(f"/v1/anomalies/{off}/review", headers=aud, json=clear)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cleared"
    confirm = {"decision": "confirmed", "note": "no van"}
    assert client.post(f"/v1/anomalies/{fast}/review", headers=aud, json=confirm).status_code == 200
    assert client.post(f"/v1/anomalies/{fast}/review", headers=aud, json=clear).status_code == 409
    assert client.post("/v1/anomalies/999/review", headers=aud, json=clear).status_code == 404
    # The closed month's flags keep their review and their ids.
    after = {f["waybill_no"]: f for f in _flags(client, tokens["auditor"]).json()}
    assert (after["ZT100002"]["id"], after["ZT100002"]["status"]) == (off, "cleared")
    assert after["ZT100003"]["status"] == "confirmed"

    june = parcel("ZT100004", cst(2023, 6, 5, 10))
    assert (
        upload(
            client, tokens["operator"], write_parquet(tmp_path / "jun.parquet", june)
        ).status_code
        == 202
    )
    assert client.post("/v1/months/2023-06/close", headers=fin).status_code == 201
    jun = _statement(client, tokens["finance"], "2023-06")
    assert (jun["claimed_fen"], jun["held_fen"], jun["adjustment_fen"], jun["payable_fen"]) == (
        20,
        0,
        20,  # ZT2 released; ZT3 never paid
        40,
    )
    july = parcel("ZT1000005", cst(2023, 7, 5, 10))
    assert (
        upload(
            client, tokens["operator"], write_parquet(tmp_path / "jul.parquet", july)
        ).status_code
        == 202
    )
    assert client.post("/v1/months/2023-07/close", headers=fin).status_code == 201
    jul = _statement(client, tokens["finance"], "2023-07")
    assert (jul["adjustment_fen"], jul["payable_fen"]) == (0, 20)  # released once only
    with store.connect() as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
        lines = json.loads(
            db.execute("SELECT adjustment_lines FROM statements WHERE month='2023-06'").fetchone()[
                0
            ]
        )
    assert actions.count("anomaly.reviewed") == 2
    assert lines == [
        {"kind": "released_hold", "period": "2023-05", "waybill_no": "ZT100002", "amount_fen": 20}
    ]


def test_cli_anomalies_json(store: Store, capsys: Any) -> None:
    ingest_rows(store, MAY)
    assert (
        main(["--data-dir", str(store.root), "anomalies", "--month", "2023-05", "--format", "json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert sorted((f["code"], f["waybill_no"]) for f in out) == [
        ("off_hours", "ZT100002"),
        ("too_fast", "ZT100003"),
    ]
    assert all(f["status"] == "open" for f in out)


def test_report_only_pays_and_a_later_confirmation_puts_the_subsidy_back(
    store: Store, tokens: dict[str, str], tmp_path: Path
) -> None:
    """With ``action = "report"`` flagged parcels are paid; confirming one afterwards puts its
    subsidy back as a negative adjustment in the carrier's next statement."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    (store.root / "policy.toml").write_text(
        text.replace('action = "hold"', 'action = "report"'), encoding="utf-8"
    )
    app = create_app(store.root, settings=Settings())
    with TestClient(app) as client:
        path = write_parquet(tmp_path / "may.parquet", MAY)
        assert upload(client, tokens["operator"], path).status_code == 202
        fin, aud = bearer(tokens["finance"]), bearer(tokens["auditor"])
        assert client.post("/v1/months/2023-05/close", headers=fin).status_code == 201
        may = _statement(client, tokens["finance"], "2023-05")
        assert (may["held_fen"], may["payable_fen"]) == (0, 60)
        fast = next(f for f in _flags(client, tokens["auditor"]).json() if f["code"] == "too_fast")
        body = {"decision": "confirmed", "note": "no van"}
        assert (
            client.post(f"/v1/anomalies/{fast['id']}/review", headers=aud, json=body).status_code
            == 200
        )
        june = parcel("ZT1000004", cst(2023, 6, 5, 10))
        assert (
            upload(
                client, tokens["operator"], write_parquet(tmp_path / "j.parquet", june)
            ).status_code
            == 202
        )
        assert client.post("/v1/months/2023-06/close", headers=fin).status_code == 201
        jun = _statement(client, tokens["finance"], "2023-06")
        assert (jun["adjustment_fen"], jun["payable_fen"]) == (-20, 0)

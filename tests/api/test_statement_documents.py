"""The printed documents of settlement (SPEC §11), rendered as a person would see them.

The statement PDF is one A4 page that embeds its font and whose text holds the carrier, the
month and the amounts in figures and in capital numerals; the payment list XLSX, converted by
LibreOffice, prints on A4 landscape with every column on the first page. Each document is
rendered to PNG under ``results/documents/`` for a person to look at.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from core.store import Store
from subsidy.settlement.capitals import capitals
from tests.api.conftest import bearer
from tests.api.test_statements import closed_may, finance

__all__ = ["closed_may"]  # the fixture, used by name

REPO = Path(__file__).resolve().parents[2]
RENDERED = REPO / "results" / "documents"
PAYEES = {
    "ZTO": ("济阳中通快递服务有限公司", "中国农业银行济阳支行", "6228 4800 1234 5678 901"),
    "YTO": ("济阳圆通速递有限公司", "济南农商银行济阳支行", "9001 2000 3344 5566"),
}


def run(*args: str, cwd: Path | None = None) -> str:
    """Run a command; its standard output (fails the test on a non-zero exit)."""
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=180)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def render_png(pdf: Path, name: str) -> list[Path]:
    """The PDF's pages as PNGs under results/documents/ (kept for people to look at)."""
    RENDERED.mkdir(parents=True, exist_ok=True)
    for old in RENDERED.glob(f"{name}-*.png"):
        old.unlink()
    run("pdftoppm", "-r", "100", "-png", str(pdf), str(RENDERED / name))
    return sorted(RENDERED.glob(f"{name}-*.png"))


def pdf_info(pdf: Path) -> dict[str, str]:
    out = run("pdfinfo", str(pdf))
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


@pytest.fixture
def paid_zto(closed_may: TestClient, tokens: dict[str, str], store: Store) -> dict[str, Any]:
    """Payees registered; ZTO's May statement submitted, approved by another person, paid."""
    client = closed_may
    for code, (name, bank, account) in PAYEES.items():
        body = {"payee_name": name, "bank": bank, "account_no": account}
        assert (
            client.put(
                f"/v1/carriers/{code}", headers=bearer(tokens["admin"]), json=body
            ).status_code
            == 200
        )
    fin = bearer(tokens["finance"])
    rows = {s["carrier"]: s for s in client.get("/v1/statements?month=2023-05", headers=fin).json()}
    sid = rows["ZTO"]["id"]
    assert client.post(f"/v1/statements/{sid}/submit", headers=fin).status_code == 200
    assert (
        client.post(f"/v1/statements/{sid}/approve", headers=finance(store, "王芳")).status_code
        == 200
    )
    pay = {
        "voucher_no": "拨-2023-061",
        "paid_on": "2023-06-20",
        "amount_fen": rows["ZTO"]["payable_fen"],
    }
    assert client.post(f"/v1/statements/{sid}/pay", headers=fin, json=pay).status_code == 200
    return rows["ZTO"]


def test_statement_pdf_is_one_page_with_embedded_font_and_the_amounts(
    closed_may: TestClient, tokens: dict[str, str], paid_zto: dict[str, Any], tmp_path: Path
) -> None:
    resp = closed_may.get(
        f"/v1/statements/{paid_zto['id']}?format=pdf", headers=bearer(tokens["operator"])
    )
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(resp.content)
    info = pdf_info(pdf)
    assert info["Pages"] == "1"
    assert re.match(r"595(\.\d+)? x 841(\.\d+)? pts", info["Page size"]), info["Page size"]
    fonts = run("pdffonts", str(pdf)).splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # emb column
    text = run("pdftotext", "-layout", str(pdf), "-")
    payable = paid_zto["payable_fen"]
    for expected in (
        "ZTO", "中通", "2023年05月", PAYEES["ZTO"][0], PAYEES["ZTO"][2],
        "0.60", f"{payable // 100}.{payable % 100:02d}", capitals(payable),
        "制表人", "审核人", "区财政局", "按比例核减", "王芳", "拨-2023-061",
    ):  # fmt: skip
        assert expected in text, expected
    [png] = render_png(pdf, "statement-2023-05-ZTO")
    assert png.stat().st_size > 10_000


def test_operator_cannot_print_another_carriers_statement(
    closed_may: TestClient, tokens: dict[str, str], paid_zto: dict[str, Any]
) -> None:
    fin = bearer(tokens["finance"])
    rows = {
        s["carrier"]: s for s in closed_may.get("/v1/statements?month=2023-05", headers=fin).json()
    }
    for fmt in ("pdf", "csv", "xlsx", "json"):
        resp = closed_may.get(
            f"/v1/statements/{rows['YTO']['id']}?format={fmt}", headers=bearer(tokens["operator"])
        )
        assert resp.status_code == 404, fmt


def test_parcel_list_holds_the_statements_parcels(
    closed_may: TestClient, tokens: dict[str, str], paid_zto: dict[str, Any]
) -> None:
    """CSV and XLSX list the eligible parcels the statement claims, as many as it counts."""
    url = f"/v1/statements/{paid_zto['id']}"
    text = closed_may.get(f"{url}?format=csv", headers=bearer(tokens["finance"])).content.decode(
        "utf-8-sig"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == paid_zto["eligible_parcels"] == 3
    assert {r["waybill_no"] for r in rows} == {"ZT100000", "ZT100001", "ZT100002"}
    assert sum(int(r["subsidy_fen"]) for r in rows) == paid_zto["claimed_fen"]
    book = load_workbook(
        io.BytesIO(closed_may.get(f"{url}?format=xlsx", headers=bearer(tokens["finance"])).content)
    )
    assert book.active.max_row == 2 + 3


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is installed by .ci/run")
def test_payment_list_prints_a4_landscape_one_page_wide(
    closed_may: TestClient, tokens: dict[str, str], paid_zto: dict[str, Any], tmp_path: Path
) -> None:
    resp = closed_may.get(
        "/v1/statements?month=2023-05&format=xlsx", headers=bearer(tokens["finance"])
    )
    assert resp.status_code == 200
    xlsx = tmp_path / "payment-list.xlsx"
    xlsx.write_bytes(resp.content)
    sheet = load_workbook(xlsx).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    # only what two people signed: ZTO (paid); YTO is a draft, counted in a note
    assert PAYEES["ZTO"][2] in cells and "合计" in cells and capitals(50) in cells
    assert PAYEES["YTO"][2] not in cells and any("1 张结算单未经审核" in c for c in cells)
    profile = (tmp_path / "lo-profile").as_uri()
    run(
        "soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
        "--outdir", str(tmp_path), str(xlsx),
    )  # fmt: skip
    pdf = tmp_path / "payment-list.pdf"
    info = pdf_info(pdf)
    assert re.match(r"841(\.\d+)? x 595(\.\d+)? pts", info["Page size"]), info["Page size"]
    assert info["Pages"] == "1"
    first_page = run("pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-")
    for header in ("序号", "收款单位", "银行账号", "金额大写", "拨付凭证号"):
        assert header in first_page, header  # every column on the one page
    assert PAYEES["ZTO"][2] in first_page and "拨-2023-061" in first_page
    render_png(pdf, "payment-list-2023-05")

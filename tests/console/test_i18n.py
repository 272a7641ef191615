"""The console's words in both languages, and how it shows money and times."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.console import i18n
from api.console.records import ACTIONS
from core.events import SCAN_TYPES
from ingest.schema import REJECT_REASONS
from subsidy.rule import INELIGIBLE_REASONS
from tests.console.conftest import MONTH, Seeded, form_csrf, sign_in
from tests.factories import utc

TEMPLATES = Path(i18n.__file__).parent / "templates"
#: Keys built from a value in the templates (``t('awards.' + step)``, ``label(...)``).
DYNAMIC = {
    "awards.approve",
    "awards.pay",
    "awards.confirm_approve",
    "awards.confirm_pay",
    "parcel.decides_departure",
    "parcel.decides_arrival",
}


def test_every_message_has_both_languages() -> None:
    for key, pair in i18n.MESSAGES.items():
        assert len(pair) == len(i18n.LANGS), key
        assert all(text.strip() for text in pair), key


def test_every_key_the_templates_use_exists() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_0-9.]+)'\s*[,)]", template.read_text("utf-8")))
    assert used - set(i18n.MESSAGES) == set()
    assert set(i18n.MESSAGES) >= DYNAMIC


def test_every_reason_and_status_has_a_label() -> None:
    for group, values in (
        ("reason", INELIGIBLE_REASONS),
        ("reject", REJECT_REASONS),
        ("scan", SCAN_TYPES),
        ("upload_status", ("received", "ingesting", "ingested", "refused")),
        ("award_status", ("accredited", "approved", "paid")),
        ("status", ("eligible", "pending", "ineligible", "out_of_scope")),
    ):
        for value in values:
            assert f"{group}.{value}" in i18n.MESSAGES, (group, value)


def _audited_actions() -> set[str]:
    """Every action the product writes to the audit log (``store.audit(db, actor, ACTION,
    ...)``), read from the source; an f-string's placeholder stands for each of its values."""
    found: set[str] = set()
    root = Path(__file__).resolve().parents[2]
    for package in ("core", "ingest", "subsidy", "api"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "audit"
                    and len(node.args) >= 3
                ):
                    found.add(ast.unparse(node.args[2]).strip("'\"").removeprefix("f'"))
    return found


#: The values an f-string action takes (``statement.{action}``, ``award.{status}``).
_FILLED = {
    "statement.{action}": ("create", "submit", "approve", "pay", "reverse"),
    "award.{status}": ("approved", "paid"),
}


def test_every_audited_action_has_words_and_a_filter() -> None:
    """The audit page words every action in both languages and offers its group as a filter."""
    actions = _audited_actions()
    assert {"upload.received", "statement.{action}", "audit.deducted"} <= actions
    for action in actions:
        names = (
            [action.replace(action[action.index("{") :], v) for v in _FILLED[action]]
            if ("{" in action)
            else [action]
        )
        for name in names:
            assert f"action.{name}" in i18n.MESSAGES, name
            group = name.split(".")[0]
            assert group in ACTIONS and f"action.{group}" in i18n.MESSAGES, group


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        pytest.param(0, "0.00", id="zero"),
        pytest.param(5, "0.05", id="one-fen-digit"),
        pytest.param(20, "0.20", id="rate"),
        pytest.param(123_456_789, "1,234,567.89", id="grouped"),
        pytest.param(50_000_000, "500,000.00", id="award-cap"),
        pytest.param(-250, "-2.50", id="negative-adjustment"),
        pytest.param(-100_000, "-1,000.00", id="negative-grouped"),
        pytest.param(None, "—", id="none"),
    ],
)
def test_money_is_yuan_with_two_decimals_from_fen(fen: int | None, shown: str) -> None:
    assert i18n.yuan(fen) == shown


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        i18n.yuan(0.2)  # type: ignore[arg-type]


def test_times_are_shown_in_asia_shanghai() -> None:
    assert i18n.local_time(utc(2023, 5, 31, 16, 30)) == "2023-06-01 00:30:00"
    assert i18n.local_time("2023-05-31T16:30:00+00:00") == "2023-06-01 00:30:00"
    assert i18n.local_time("2023-06-01T00:30:00") == "2023-06-01 00:30:00"  # naive: Shanghai
    assert i18n.local_time(None) == "—"


def test_transit_times_read_in_both_languages() -> None:
    assert i18n.duration(2 * 86400 + 3 * 3600 + 4 * 60, "zh-CN") == "2天3小时4分"
    assert i18n.duration(7 * 86400, "en") == "7 d 0 h 0 min"


def test_pages_are_chinese_by_default_and_english_by_the_switch(
    client: TestClient, seeded: Seeded
) -> None:
    csrf = sign_in(client, seeded.tokens["finance"])
    page = client.get(f"/console/report?month={MONTH}").text
    assert '<html lang="zh-CN">' in page
    assert "月度补贴报表" in page
    switched = client.post(
        "/console/lang",
        data={"lang": "en", "csrf": csrf, "next": f"/console/report?month={MONTH}"},
        follow_redirects=False,
    )
    assert switched.headers["location"] == f"/console/report?month={MONTH}"
    page = client.get(switched.headers["location"]).text
    assert '<html lang="en">' in page
    assert "Monthly subsidy report" in page
    back = client.post("/console/lang", data={"lang": "zh-CN", "csrf": form_csrf(page)})
    assert '<html lang="zh-CN">' in back.text


def test_an_unknown_language_falls_back_to_chinese() -> None:
    assert i18n.pick_lang("fr") == "zh-CN"
    assert i18n.translator("fr")("auth.title") == "登录"

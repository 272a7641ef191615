"""The policy file: the notice's numbers by default, and a bad policy refused at load."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.exceptions import PolicyError
from core.policy import (
    DEFAULT_POLICY_PATH,
    Policy,
    Rate,
    load_policy,
    policy_from_dict,
    resolve_policy,
)
from core.timeutil import TZ
from tests.factories import cst, utc


def default_dict() -> dict[str, Any]:
    """The default policy as parsed TOML, to edit one value at a time."""
    return tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def edited(**changes: Any) -> dict[str, Any]:
    """The default policy with ``table__key=value`` changes (``rates=[...]`` replaces)."""
    raw = copy.deepcopy(default_dict())
    for key, value in changes.items():
        if "__" in key:
            table, name = key.split("__")
            raw[table][name] = value
        else:
            raw[key] = value
    return raw


def test_default_policy_has_the_notice_numbers(policy: Policy) -> None:
    assert policy.window_start == cst(2021, 8, 30)
    assert policy.window_end == cst(2024, 8, 30)
    assert policy.window_start.utcoffset() == timedelta(hours=8)
    assert policy.max_transit == timedelta(days=7)
    assert policy.rate_cap_fen == 20
    assert policy.award_cap_fen == 50_000_000
    assert policy.rates == (Rate(date(2021, 8, 30), 20),)
    assert set(policy.carriers) == {"EMS", "SF", "ZTO", "YTO", "STO", "YUNDA", "JT", "JD", "DEPPON"}
    assert policy.carriers["ZTO"] == "中通"
    assert "济阳政字〔2021〕80号" in policy.name
    assert isinstance(policy.rate_cap_fen, int)
    assert len(policy.digest) == 64


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        pytest.param(date(2021, 8, 29), None, id="before-first-rate"),
        pytest.param(date(2021, 8, 30), 20, id="first-day"),
        pytest.param(date(2024, 8, 29), 20, id="last-day"),
    ],
)
def test_rate_on(policy: Policy, day: date, rate: int | None) -> None:
    assert policy.rate_on(day) == rate


def test_rate_table_applies_each_rate_from_its_date() -> None:
    pol = policy_from_dict(
        edited(
            rates=[
                {"effective_from": date(2023, 1, 1), "rate_fen": 15},
                {"effective_from": date(2021, 8, 30), "rate_fen": 20},
            ]
        )
    )
    assert [r.rate_fen for r in pol.rates] == [20, 15]  # sorted by date
    assert pol.rate_on(date(2022, 12, 31)) == 20
    assert pol.rate_on(date(2023, 1, 1)) == 15


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"rates": [{"effective_from": date(2021, 8, 30), "rate_fen": 21}]},
            "rate 21 fen from 2021-08-30 is above the cap of 20 fen",
            id="rate-above-cap",
        ),
        pytest.param(
            {
                "rates": [
                    {"effective_from": date(2021, 8, 30), "rate_fen": 20},
                    {"effective_from": date(2023, 1, 1), "rate_fen": 25},
                ]
            },
            "rate 25 fen",
            id="later-rate-above-cap",
        ),
        pytest.param(
            {"policy__rate_cap_fen": 10},
            "above the cap of 10 fen",
            id="cap-lowered-below-rate",
        ),
        pytest.param(
            {"rates": [{"effective_from": date(2021, 8, 31), "rate_fen": 20}]},
            "after the window start",
            id="first-rate-after-window-start",
        ),
        pytest.param(
            {"policy__window_end": datetime(2021, 8, 30)},
            "must be after window_start",
            id="end-equals-start",
        ),
        pytest.param(
            {"policy__window_end": date(2020, 1, 1)},
            "must be after window_start",
            id="end-before-start",
        ),
        pytest.param({"rates": []}, "empty", id="no-rates"),
        pytest.param(
            {
                "rates": [
                    {"effective_from": date(2021, 8, 30), "rate_fen": 20},
                    {"effective_from": date(2021, 8, 30), "rate_fen": 10},
                ]
            },
            "same effective_from",
            id="two-rates-same-day",
        ),
        pytest.param({"policy__max_transit_hours": 0}, "must be positive", id="zero-transit"),
        pytest.param({"policy__rate_cap_fen": "20"}, "wrong type", id="cap-as-text"),
        pytest.param({"carriers": {}}, "at least one carrier", id="no-carriers"),
    ],
)
def test_invalid_policy_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_from_dict(edited(**changes))


def test_missing_key_is_named() -> None:
    raw = default_dict()
    del raw["policy"]["window_start"]
    with pytest.raises(PolicyError, match="missing 'window_start'"):
        policy_from_dict(raw)


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(datetime(2021, 8, 30), id="naive-local"),
        pytest.param(date(2021, 8, 30), id="date"),
        pytest.param(utc(2021, 8, 29, 16), id="UTC-aware"),
        pytest.param(cst(2021, 8, 30), id="CST-aware"),
    ],
)
def test_window_given_naive_date_or_aware_is_the_same_instant(start: datetime | date) -> None:
    pol = policy_from_dict(edited(policy__window_start=start))
    assert pol.window_start == cst(2021, 8, 30)
    assert pol.window_start.tzinfo is not None


def test_policy_file_round_trip(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace("window_start = 2021-08-30T00:00:00+08:00", "window_start = 2021-08-30")
    text = text.replace(
        "window_end = 2024-08-30T00:00:00+08:00", "window_end = 2022-08-29T16:00:00Z"
    )
    path = tmp_path / "other-district.toml"
    path.write_text(text, encoding="utf-8")
    pol = load_policy(path)
    assert (pol.window_start, pol.window_end) == (cst(2021, 8, 30), cst(2022, 8, 30))


def test_rate_above_cap_in_a_file_is_refused_at_load(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("rate_fen = 20", "rate_fen = 30")
    path = tmp_path / "greedy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="above the cap"):
        load_policy(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read", id="missing-file"),
        pytest.param("[policy\n", "not valid TOML", id="bad-toml"),
    ],
)
def test_unreadable_policy_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "policy.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_resolve_policy_prefers_override_then_data_dir_then_default(tmp_path: Path) -> None:
    assert resolve_policy(tmp_path).rate_cap_fen == 20
    local = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        "max_transit_hours = 168", "max_transit_hours = 48"
    )
    (tmp_path / "policy.toml").write_text(local, encoding="utf-8")
    assert resolve_policy(tmp_path).max_transit == timedelta(hours=48)
    assert resolve_policy(tmp_path, DEFAULT_POLICY_PATH).max_transit == timedelta(days=7)


def test_policy_months_run_from_the_window_to_now_or_its_end() -> None:
    """2021-08-30 .. 2024-08-30 (end exclusive): 2021-08 to 2024-08, cut at now's month."""
    policy = load_policy()
    assert policy.months_until(datetime(2026, 1, 1, tzinfo=TZ)) == ("2021-08", "2024-08")
    assert policy.months_until(datetime(2023, 5, 31, 16, 30, tzinfo=UTC)) == ("2021-08", "2023-06")
    assert policy.months_until(datetime(2021, 7, 31, tzinfo=TZ)) is None

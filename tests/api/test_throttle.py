"""Sign-in throttling: wrong tokens are answered 401 as ever, but past 20 a minute from one
address each waits longer (at most 1 s); a valid token never waits. Time is injected: a
fake clock and an async sleep that only records, so nothing here waits or flakes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.throttle import SignInThrottle
from tests.api.conftest import bearer


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    """An async sleep that records how long it was asked to wait, and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 6))


def test_twenty_free_failures_then_longer_waits_up_to_the_cap() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    delays = [throttle.failed("10.0.0.1") for _ in range(45)]
    assert delays[:20] == [0.0] * 20
    assert delays[20:23] == pytest.approx([0.05, 0.10, 0.15])
    assert delays[38] == pytest.approx(0.95)
    assert delays[39:] == [1.0] * 6  # the 40th failure reaches the cap and it stays there
    assert throttle.failed("10.0.0.2") == 0.0  # another address is not slowed


def test_failures_older_than_a_minute_are_forgotten() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    for _ in range(30):
        throttle.failed("10.0.0.1")
        clock.now += 1.0  # 30 failures over 30 s
    assert throttle.failed("10.0.0.1") > 0
    clock.now += 60.0
    assert throttle.failed("10.0.0.1") == 0.0


def test_memory_stays_bounded_whatever_the_number_of_addresses() -> None:
    throttle = SignInThrottle(clock=Clock(), max_clients=100)
    for i in range(1000):
        for _ in range(50):
            throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._failures) == 100
    assert all(len(times) <= throttle._keep for times in throttle._failures.values())


@pytest.fixture
def slept(app: FastAPI) -> Iterator[Sleeps]:
    """The app's throttle, on a fake clock, recording its waits instead of waiting."""
    sleeps = Sleeps()
    app.state.throttle = SignInThrottle(clock=Clock(), sleep=sleeps)
    yield sleeps


def test_api_wrong_tokens_stay_401_and_wait_past_twenty(
    client: TestClient, tokens: dict[str, str], slept: Sleeps
) -> None:
    answers = [
        client.get("/v1/months", headers=bearer(f"pst_wrong{i}")).status_code for i in range(24)
    ]
    assert answers == [401] * 24
    assert slept == pytest.approx([0.05, 0.10, 0.15, 0.20])


def test_a_valid_token_is_never_delayed_nor_locked_out(
    client: TestClient, tokens: dict[str, str], slept: Sleeps
) -> None:
    """After 60 failures from its address, the right token is answered at once, every time."""
    for i in range(60):
        client.get("/v1/months", headers=bearer(f"pst_wrong{i}"))
    waited = len(slept)
    for _ in range(5):
        assert client.get("/v1/months", headers=bearer(tokens["finance"])).status_code == 200
    assert len(slept) == waited


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    return found.group(1) if found else ""


def test_console_sign_in_shares_the_throttle_with_the_api(
    client: TestClient, tokens: dict[str, str], slept: Sleeps
) -> None:
    """10 wrong API tokens, then wrong console sign-ins: the 11th of those is the 21st failure
    of the address and waits; each answer is still the form again with 401; the right token
    then signs in at once."""
    for i in range(10):
        assert client.get("/v1/months", headers=bearer(f"pst_wrong{i}")).status_code == 401
    csrf = _csrf(client.get("/console/login").text)
    for i in range(12):
        answer = client.post("/console/login", data={"token": f"pst_bad{i}", "csrf": csrf})
        assert answer.status_code == 401
    assert slept == pytest.approx([0.05, 0.10])
    signed_in = client.post(
        "/console/login",
        data={"token": tokens["finance"], "csrf": csrf},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert slept == pytest.approx([0.05, 0.10])

"""Shared fixtures: the default policy, a fresh store with the test sites registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.policy import Policy, load_policy
from core.store import Store
from tests.factories import make_store


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The embedded Jiyang default policy (frozen, so one for the whole session)."""
    return load_policy()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A fresh data dir with the test sites registry (see ``tests.factories.SITES``)."""
    return make_store(tmp_path / "data")

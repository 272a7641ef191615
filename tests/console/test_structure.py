"""The console is an edge over the same dependencies and domain calls as the API: it calls no
route function, parses no JSON answer back, and takes the store, policy and settings from
:mod:`api.deps`, never from the app's state itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api import console

CONSOLE = Path(console.__file__).parent
MODULES = sorted(CONSOLE.glob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_console_calls_no_route_function(path: Path) -> None:
    assert not {n for n in _imports(path) if n.startswith("api.routes")}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_console_parses_no_json_answer_back(path: Path) -> None:
    assert "json.loads" not in path.read_text("utf-8")


@pytest.mark.parametrize(
    "path", [*MODULES, *sorted((CONSOLE / "templates").glob("*.html"))], ids=lambda p: p.name
)
def test_the_store_policy_and_settings_come_from_api_deps(path: Path) -> None:
    assert not re.search(r"app\.state\.(store|policy|settings)\b", path.read_text("utf-8"))

"""The layers of the product never point up (docs/ARCHITECTURE.md).

Bottom to top: ``core`` (foundation) -> ``ingest`` -> ``subsidy`` -> ``api``, ``scheduler``,
``cli``. Every import of every product module is parsed (top-level and inside functions, and
``if TYPE_CHECKING`` blocks alike): a module may import its own layer and those below, never
one above; the domain layers import no web or scheduler library; nothing in the product
imports ``benchmarks`` or ``tests``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The rank of each top-level product module or package; higher may import lower.
LAYERS: dict[str, int] = {
    "core": 0,
    "ingest": 1,
    "subsidy": 2,
    "api": 3,
    "scheduler": 3,
    "cli": 4,
}
#: Sideways imports allowed at the top: the API reads the scheduler's job list and starts it
#: in its lifespan; the CLI starts the API.
ALLOWED_SIDEWAYS = {("api", "scheduler")}

#: Libraries that belong to the edge: HTTP and scheduling.
EDGE_LIBRARIES = {"fastapi", "starlette", "uvicorn", "apscheduler", "multipart", "jinja2"}
NEVER_IMPORTED = {"benchmarks", "tests"}


def product_files() -> list[Path]:
    files = [ROOT / "cli.py", ROOT / "scheduler.py"]
    for package in ("core", "ingest", "subsidy", "api"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def top_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def imported_tops(path: Path) -> list[tuple[int, str]]:
    """Every (line, top-level name) the module imports; relative imports stay in the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(path: Path) -> list[str]:
    here = top_of(path)
    rank = LAYERS[here]
    out = []
    for line, name in imported_tops(path):
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        if name in NEVER_IMPORTED:
            out.append(f"{where}: the product never imports {name}/")
        elif name in LAYERS and name != here:
            if LAYERS[name] > rank or (
                LAYERS[name] == rank and (here, name) not in ALLOWED_SIDEWAYS
            ):
                out.append(f"{where}: {name} is a layer above (or beside) {here}")
        elif name in EDGE_LIBRARIES and rank < LAYERS["api"]:
            out.append(f"{where}: the domain layer {here} imports a web or scheduler library")
    return out


def test_no_import_points_up_a_layer() -> None:
    found = [v for path in product_files() for v in violations(path)]
    assert found == [], "\n".join(found)


def test_the_product_files_are_all_found() -> None:
    """The test looks where the product is (a moved package would pass it silently)."""
    names = {p.relative_to(ROOT).as_posix() for p in product_files()}
    for expected in ("core/store.py", "ingest/uploads.py", "subsidy/rule.py", "api/app.py"):
        assert expected in names


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        pytest.param("ingest/x.py", "from subsidy.rule import x", "layer above", id="up"),
        pytest.param("core/x.py", "import ingest.uploads", "layer above", id="core-up"),
        pytest.param("subsidy/x.py", "from fastapi import Depends", "web or", id="web"),
        pytest.param("ingest/x.py", "import apscheduler", "web or", id="scheduler-lib"),
        pytest.param("cli.py", "from benchmarks.run import x", "never imports", id="bench"),
        pytest.param(
            "subsidy/x.py",
            "def f():\n    from api.deps import StoreDep\n",
            "layer above",
            id="in-function",
        ),
        pytest.param("scheduler.py", "import api.app", "beside", id="sideways"),
    ],
)
def test_the_checker_catches_each_kind_of_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str, expected: str
) -> None:
    """The checker itself fails on every kind of violation it is there to catch."""
    fake_root = tmp_path
    target = fake_root / module
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source + "\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    found = violations(target)
    assert found and expected in found[0]

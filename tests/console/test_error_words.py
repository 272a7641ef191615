"""Every error code the product raises has words in Chinese and English, filled by the
params every raise of it carries.

The codes are found by reading the product's source (``ast``), not by a list kept by hand:
each call of a :class:`core.exceptions.DomainError` subclass (its ``code=``, else its class's
``code``) and of :class:`api.errors.ApiError` (its ``text_code=``, else its code). A new code
without ``err.<code>`` words, or words naming a value that a raise of the code does not
give, fails here. A code passed on from another error (``code=exc.code``) is that error's,
checked where it is raised.
"""

from __future__ import annotations

import ast
import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import api.console  # noqa: F401  (mounts every page: their words join i18n.MESSAGES)
from api.console import i18n

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "ingest", "subsidy", "api")
#: Keywords of the error classes that are not params of the sentence.
NOT_PARAMS = {"code", "text_code", "headers", "delay"}
API_ERRORS = {"ApiError", "DelayedApiError", "ConsoleRefusal"}


@dataclass
class Raised:
    """The params each raise of a code gives (``None``: not known, ``**params`` passed on)."""

    sites: list[str] = field(default_factory=list)
    params: list[frozenset[str] | None] = field(default_factory=list)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _sources() -> list[tuple[str, ast.Module]]:
    files = [p for part in PRODUCT for p in sorted((REPO / part).rglob("*.py"))]
    return [(str(p.relative_to(REPO)), ast.parse(p.read_text("utf-8"))) for p in files]


def _error_classes(trees: list[tuple[str, ast.Module]]) -> dict[str, str]:
    """Every DomainError subclass of the product -> its code (inherited when not its own)."""
    bases: dict[str, list[str]] = {}
    own: dict[str, str] = {}
    for _, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases[node.name] = [n for n in map(_name, node.bases) if n]
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and [_name(t) for t in item.targets] == ["code"]
                    and isinstance(item.value, ast.Constant)
                ):
                    own[node.name] = item.value.value

    def code_of(name: str, seen: frozenset[str] = frozenset()) -> str | None:
        if name in own:
            return own[name]
        for base in bases.get(name, []):
            if base not in seen and (found := code_of(base, seen | {name})) is not None:
                return found
        return None

    def is_domain(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "DomainError":
            return True
        return any(b not in seen and is_domain(b, seen | {name}) for b in bases.get(name, []))

    return {name: code_of(name) or "error" for name in bases if is_domain(name)}


def raised_codes() -> dict[str, Raised]:
    """``err.<code>`` key -> where it is raised and the params of each raise."""
    trees = _sources()
    classes = _error_classes(trees)
    found: dict[str, Raised] = defaultdict(Raised)
    for path, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            cls = _name(node.func)
            keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
            spread = any(k.arg is None for k in node.keywords)
            params = None if spread else frozenset(set(keywords) - NOT_PARAMS)
            codes: list[str] = []
            if cls in API_ERRORS:
                given = keywords.get("text_code")
                if given is None and len(node.args) >= 2:
                    given = node.args[1]
                if isinstance(given, ast.Constant) and isinstance(given.value, str):
                    codes = [given.value]
                elif isinstance(given, ast.JoinedStr):  # f"csrf_{reason}": each key of it
                    prefix = "".join(
                        str(v.value) for v in given.values if isinstance(v, ast.Constant)
                    )
                    codes = [k[4:] for k in i18n.MESSAGES if k.startswith(f"err.{prefix}")]
                    assert codes, f"{path}:{node.lineno}: no words for err.{prefix}*"
            elif cls in classes:
                given = keywords.get("code")
                if given is None:
                    codes = [classes[cls]]
                elif isinstance(given, ast.Constant) and isinstance(given.value, str):
                    codes = [given.value]
            for code in codes:
                found[code].sites.append(f"{path}:{node.lineno}")
                found[code].params.append(params)
    return dict(found)


RAISED = raised_codes()


class _Any:
    """A value that fills any format field (``{n:,}`` too)."""

    def __format__(self, spec: str) -> str:
        return "X"

    def __repr__(self) -> str:
        return "X"


def _fields(text: str) -> set[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(text):
        if name:
            names.add(name.split(".")[0].split("[")[0].split("!")[0])
    return names


def test_the_source_is_read() -> None:
    """The walk finds the codes it must (a broken walk would pass every other test)."""
    for code in ("mostly_rejected", "missing_column", "scan_word_exists", "incomplete_upload"):
        assert code in RAISED, code
    assert len(RAISED) > 100


@pytest.mark.parametrize("code", sorted(RAISED))
def test_every_raised_code_has_words_in_both_languages_filled_by_its_params(code: str) -> None:
    key = f"err.{code}"
    raised = RAISED[code]
    assert key in i18n.MESSAGES, f"no words for {key}, raised at {raised.sites}"
    zh, en = i18n.MESSAGES[key]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), f"{key} is not Chinese: {zh}"
    for text in (zh, en):
        needed = _fields(text)
        for site, params in zip(raised.sites, raised.params, strict=True):
            if params is not None:
                missing = needed - params
                assert not missing, f"{key} needs {missing}; {site} gives {sorted(params)}"
        text.format(**dict.fromkeys(needed, _Any()))
    if f"{key}.item" in i18n.MESSAGES:
        for text in i18n.MESSAGES[f"{key}.item"]:
            text.format(**dict.fromkeys(_fields(text), _Any()))

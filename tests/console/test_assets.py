"""Everything a page loads comes from the service itself; pages carry a strict CSP; the
colours keep a readable contrast.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.console.assets import ASSETS
from api.console.render import STATIC_DIR
from tests.console.conftest import MONTH, Seeded, sign_in

TEMPLATES = STATIC_DIR.parent / "templates"


def test_every_listed_asset_exists_and_is_served_for_a_year(client: TestClient) -> None:
    for name, media in ASSETS.items():
        assert (STATIC_DIR / name).is_file(), name
        answer = client.get(f"/console/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == media
        assert "max-age=31536000" in answer.headers["cache-control"]


@pytest.mark.parametrize(
    "name", ["../render.py", "..%2Frender.py", "vendor", "templates/base.html"]
)
def test_nothing_but_the_listed_assets_is_served(client: TestClient, name: str) -> None:
    assert client.get(f"/console/static/{name}").status_code == 404


def test_the_chart_library_is_vendored_with_its_licence() -> None:
    vendor = STATIC_DIR / "vendor"
    assert sorted(p.name for p in vendor.iterdir()) == [
        "LICENSE",
        "LICENSE-d3",
        "NOTICE",
        "echarts.min.js",
    ]
    assert "Apache License" in (vendor / "LICENSE").read_text("utf-8")
    assert "Apache ECharts" in (vendor / "NOTICE").read_text("utf-8")


def test_pages_load_nothing_from_elsewhere() -> None:
    """No template, style or script of the console names another host (no CDN, no web font)."""
    sources = [*TEMPLATES.glob("*.html"), STATIC_DIR / "console.css", STATIC_DIR / "console.js"]
    for path in sources:
        text = path.read_text("utf-8")
        assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), path.name
        assert "@font-face" not in text and "@import" not in text, path.name


def test_pages_carry_a_strict_content_security_policy(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.tokens["finance"])
    answer = client.get(f"/console/report?month={MONTH}")
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp  # no inline script, no eval
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in answer.text  # only src= scripts and JSON data blocks


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _variables() -> dict[str, str]:
    css = (STATIC_DIR / "console.css").read_text("utf-8")
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))


@pytest.mark.parametrize(
    ("ink", "paper", "minimum"),
    [
        pytest.param("ink", "paper", 4.5, id="text"),
        pytest.param("muted", "paper", 4.5, id="muted-text"),
        pytest.param("muted", "wash", 4.5, id="muted-on-wash"),
        pytest.param("link", "paper", 4.5, id="links"),
        pytest.param("link", "wash", 4.5, id="links-on-wash"),
        pytest.param("ok-ink", "ok-bg", 4.5, id="ok-badge"),
        pytest.param("warn-ink", "warn-bg", 4.5, id="warn-badge"),
        pytest.param("bad-ink", "bad-bg", 4.5, id="problem"),
        pytest.param("focus", "paper", 3.0, id="focus-ring"),
    ],
)
def test_colours_keep_a_readable_contrast(ink: str, paper: str, minimum: float) -> None:
    colours = _variables()
    assert _contrast(colours[ink], colours[paper]) >= minimum


def test_white_on_the_header_and_buttons_is_readable() -> None:
    colours = _variables()
    for name in ("brand", "link", "danger"):
        assert _contrast("#ffffff", colours[name]) >= 4.5, name


def test_the_pages_work_without_the_script_for_every_form() -> None:
    """Every form posts or gets to a console URL of its own (the script only adds to them)."""
    for path in TEMPLATES.glob("*.html"):
        for form in re.findall(r"<form[^>]*>", path.read_text("utf-8")):
            assert re.search(r'action="/console/', form), (path.name, form)
            assert re.search(r'method="(get|post)"', form), (path.name, form)

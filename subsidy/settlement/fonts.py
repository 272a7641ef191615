"""The CJK font the printed documents embed.

The project installs Debian's ``fonts-wqy-microhei`` (``.ci/run``); a PDF embeds (a subset
of) this TrueType font, so it prints the same on any machine, with or without Chinese fonts.
Other Debian CJK TrueType fonts are tried after it (``.ttc``: the first face).
"""

from __future__ import annotations

from pathlib import Path

from core.exceptions import CoreError

CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class FontMissing(CoreError):
    """No CJK TrueType font is installed for the printed documents."""

    code = "cjk_font_missing"


def cjk_font(paths: tuple[str, ...] = CANDIDATES) -> Path:
    """The first of ``paths`` that exists; :class:`FontMissing` when none does."""
    for path in paths:
        if Path(path).is_file():
            return Path(path)
    raise FontMissing(
        f"no CJK font for the printed documents; looked for {', '.join(paths)}; install "
        "Debian's fonts-wqy-microhei (apt-get install fonts-wqy-microhei)"
    )

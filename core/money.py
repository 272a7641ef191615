"""Money is integer fen (分, 0.01 yuan). Yuan exist only as formatted strings."""

from __future__ import annotations

from core.exceptions import BadValue


def fen_to_yuan(fen: int) -> str:
    """Format integer fen as a yuan string with two decimals: ``2460 -> "24.60"``.

    Exact for any integer (no float involved); negative amounts (adjustments) keep their sign.
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money must be integer fen, got {type(fen).__name__}: {fen!r}")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"


def yuan_to_fen(text: str) -> int:
    """Parse a yuan string (``"500000"``, ``"0.20"``) into integer fen, refusing sub-fen values."""
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    raw = raw.lstrip("+-")
    whole, _, frac = raw.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2:
        raise BadValue(
            f"not a yuan amount with at most 2 decimals: {text!r}", code="bad_yuan", value=text
        )
    return sign * (int(whole) * 100 + int(frac.ljust(2, "0") or 0))

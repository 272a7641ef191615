"""Amounts in Chinese capital numerals (大写), as Chinese finance forms write them.

``capitals(123456)`` is ``壹仟贰佰叁拾肆元伍角陆分``. The rules (《支付结算办法》 附一):
digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 within a group of four digits, 万 and 亿 between
groups; one 零 stands for any run of zeros inside the number; ``整`` closes an amount with no
fen; an amount under one yuan starts with its 角 or 分; 0 is ``零元整``; negative amounts
start with ``负``.
"""

from __future__ import annotations

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = ("", "万", "亿", "万亿")


def _group(n: int) -> str:
    """A number 1..9999 without leading zero marks (``1005`` -> ``壹仟零伍``)."""
    out = ""
    zero = False
    for pos in range(3, -1, -1):
        d = n // 10**pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + _SMALL_UNITS[pos]
    return out


def _yuan(n: int) -> str:
    """The whole-yuan part, ``n`` >= 1."""
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_BIG_UNITS):
        raise ValueError("amount too large for Chinese capital numerals")
    out = ""
    need_zero = False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out += "零"
        out += _group(g) + _BIG_UNITS[i]
        need_zero = False
    return out


def capitals(fen: int) -> str:
    """Integer fen in Chinese capital numerals: ``100005`` -> ``壹仟元零伍分``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be integer fen, got {type(fen).__name__}: {fen!r}")
    if fen < 0:
        return "负" + capitals(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    if fen == 0:
        return "零元整"
    out = _yuan(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    elif cents and yuan:
        out += "零"
    if cents:
        out += DIGITS[cents] + "分"
    else:
        out += "整"
    return out

"""Business time: everything is Asia/Shanghai (UTC+8, no daylight saving since 1991).

A naive datetime given by a user or found in an upload is Asia/Shanghai local time; an aware
one is converted. Months are calendar months in Asia/Shanghai.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.exceptions import BadValue

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def to_local(value: datetime) -> datetime:
    """Return ``value`` as an aware Asia/Shanghai datetime (naive means Asia/Shanghai)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant given by a user (``--as-of``, ``?as_of=``).

    A date alone means its midnight in Asia/Shanghai; a naive time is Asia/Shanghai.
    Raises ``ValueError`` with a hint on anything else.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), TZ)
        return to_local(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise BadValue(
            f"not an ISO 8601 time: {text!r}; use e.g. 2023-06-10T00:00:00+08:00 or 2023-06-10",
            code="bad_instant",
            value=text,
        ) from None


def parse_month(text: str) -> tuple[int, int]:
    """Parse ``YYYY-MM`` into ``(year, month)``; raises ``ValueError`` with the expected form."""
    m = _MONTH_RE.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise BadValue(
            f"not a month: {text!r}; expected YYYY-MM, e.g. 2023-05", code="bad_month", value=text
        )
    return int(m.group(1)), int(m.group(2))


def month_key(year: int, month: int) -> str:
    """Format ``(2023, 5)`` as ``"2023-05"``."""
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of a ``YYYY-MM`` month as aware Asia/Shanghai datetimes."""
    year, mon = parse_month(month)
    start = datetime(year, mon, 1, tzinfo=TZ)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=TZ)
    return start, end


def next_month(month: str) -> str:
    """The month after ``month`` (``2023-12`` -> ``2024-01``)."""
    year, mon = parse_month(month)
    return month_key(year + (mon == 12), mon % 12 + 1)


def prev_month(month: str) -> str:
    """The month before ``month`` (``2024-01`` -> ``2023-12``)."""
    year, mon = parse_month(month)
    return month_key(year - (mon == 1), 12 if mon == 1 else mon - 1)


def month_is_over(month: str, now: datetime) -> bool:
    """Whether the Asia/Shanghai calendar month has ended at ``now`` (its end is exclusive)."""
    return month_bounds(month)[1] <= to_local(now)


def month_of(value: datetime) -> str:
    """The Asia/Shanghai calendar month of an instant, as ``YYYY-MM``."""
    local = to_local(value)
    return month_key(local.year, local.month)


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both inclusive."""
    out: list[str] = []
    cur = first
    while cur <= last:
        out.append(cur)
        cur = next_month(cur)
    return out


def now_local() -> datetime:
    """The current instant in Asia/Shanghai (the only place the clock is read)."""
    return datetime.now(TZ)


ONE_DAY = timedelta(days=1)

#: The earliest ``as_of`` a report or explanation is computed at.
EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=TZ)


def resolve_as_of(text: str | None, now: datetime) -> datetime:
    """The instant figures are computed as of: ``text`` (see :func:`parse_instant`), or ``now``.

    Raises ``ValueError`` saying why for text that is no instant, lies before 1970, or lies
    more than a day after ``now``: figures as of a time to come are not figures yet (no scan
    of then exists), and the stored results (:mod:`subsidy.results`) only move forward, so
    one far-future request would make every later report recompute. A day of slack allows
    for callers' clocks, as the plausibility limit of scan times does.
    """
    if text is None or not text.strip():
        return to_local(now)
    value = parse_instant(text)
    if value < EARLIEST_AS_OF:
        raise BadValue(
            f"as_of {text!r} lies before 1970; no scan is that old",
            code="as_of_too_early",
            value=text,
        )
    if value > to_local(now) + ONE_DAY:
        raise BadValue(
            f"as_of {text!r} lies in the future (now is {to_local(now):%Y-%m-%d %H:%M} "
            "Asia/Shanghai); figures exist only up to now",
            code="as_of_in_future",
            value=text,
            now=f"{to_local(now):%Y-%m-%d %H:%M}",
        )
    return value

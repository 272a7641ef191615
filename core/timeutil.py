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

# -- the one grammar of months, dates and instants given by users ---------------------------
# Digits are written [0-9], never \d: Python's ``\d``, ``int()``, ``date.fromisoformat`` and
# pydantic's patterns all take full-width or Arabic-Indic digits (``２０２４-07``), which would
# pass as a month no report holds. Each pattern names only real calendar values, so whatever
# matches is a month, date or instant (the API documents these same patterns in its schema).

#: Years of a month: 1900-2999.
MONTH_YEAR = "(19[0-9]{2}|2[0-9]{3})"
#: Years of an instant (``as_of``): 1971-2999; with any offset the instant is after 1970.
INSTANT_YEAR = "(19[7-9][0-9]|2[0-9]{3})"
_MM = "(0[1-9]|1[0-2])"


def _calendar_date(year: str, leap_year: str) -> str:
    """``YYYY-MM-DD`` of real calendar days only (30 days hath September; 29 February only in
    a leap year ``leap_year`` matches)."""
    days = (
        f"{year}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
        f"|(0[13-9]|1[0-2])-(29|30)"
        f"|(0[13578]|1[02])-31)"
    )
    return f"({days}|{leap_year}-02-29)"


#: Leap years among 1900-2999, and among 1971-2999 (2000 and 2400 are; 1900, 2100 are not).
_LEAP_2X = "2[0-9](0[48]|[2468][048]|[13579][26])|2000|2400|2800"
_MONTH_LEAP_YEAR = f"(19(0[48]|[2468][048]|[13579][26])|{_LEAP_2X})"
_INSTANT_LEAP_YEAR = f"(19(7[26]|8[048]|9[26])|{_LEAP_2X})"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])"

#: ``YYYY-MM``, month 01-12, years 1900-2999.
MONTH_PATTERN = f"^{MONTH_YEAR}-{_MM}$"
#: ``YYYY-MM-DD``, a real calendar day of 1900-2999.
DATE_PATTERN = f"^{_calendar_date(MONTH_YEAR, _MONTH_LEAP_YEAR)}$"
#: A date (its midnight) or a date and time ``T`` or space separated, to the minute, second or
#: microsecond, with an optional ``Z`` or ``+08:00`` offset (none: Asia/Shanghai).
INSTANT_PATTERN = f"^{_calendar_date(INSTANT_YEAR, _INSTANT_LEAP_YEAR)}([T ]{_TIME}{_OFFSET}?)?$"

_MONTH_RE = re.compile(MONTH_PATTERN, re.ASCII)
_DATE_RE = re.compile(DATE_PATTERN, re.ASCII)
_INSTANT_RE = re.compile(INSTANT_PATTERN, re.ASCII)
#: Blanks that make an ``as_of`` absent (``str.strip`` alone would also take U+3000).
_BLANKS = " \t\r\n"


def to_local(value: datetime) -> datetime:
    """Return ``value`` as an aware Asia/Shanghai datetime (naive means Asia/Shanghai)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant given by a user (``--as-of``, ``?as_of=``), ASCII digits only.

    A date alone means its midnight in Asia/Shanghai; a naive time is Asia/Shanghai. The
    accepted forms are :data:`INSTANT_PATTERN`. Raises :class:`BadValue` (``bad_instant``)
    with a hint on anything else.
    """
    if not _INSTANT_RE.fullmatch(text):
        year = text[:4]
        if (
            year.isascii()
            and year.isdigit()
            and year < "1971"
            and _INSTANT_RE.fullmatch("1972" + text[4:])
        ):
            raise BadValue(
                f"as_of {text!r} lies before 1971; no scan is that old",
                code="as_of_too_early",
                value=text,
            )
        raise BadValue(
            f"not an ISO 8601 time: {text!r}; use e.g. 2023-06-10T00:00:00+08:00 or 2023-06-10 "
            "(ASCII digits, years 1971-2999)",
            code="bad_instant",
            value=text,
        )
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), TZ)
    return to_local(datetime.fromisoformat(text.replace("Z", "+00:00")))


def parse_date(text: str) -> date:
    """Parse a calendar date ``YYYY-MM-DD`` given by a user (an accreditation date, a site's
    active dates), ASCII digits only; raises :class:`BadValue` (``bad_date``) otherwise."""
    if not _DATE_RE.fullmatch(text):
        raise BadValue(
            f"not a date: {text!r}; expected YYYY-MM-DD in ASCII digits, e.g. 2023-06-10",
            code="bad_date",
            value=text,
        )
    return date.fromisoformat(text)


def parse_month(text: str) -> tuple[int, int]:
    """Parse ``YYYY-MM`` (ASCII digits, years 1900-2999) into ``(year, month)``; raises
    :class:`BadValue` (``bad_month``) with the expected form."""
    m = _MONTH_RE.fullmatch(text)
    if not m:
        raise BadValue(
            f"not a month: {text!r}; expected YYYY-MM in ASCII digits, e.g. 2023-05",
            code="bad_month",
            value=text,
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


def resolve_as_of(text: str | None, now: datetime) -> datetime:
    """The instant figures are computed as of: ``text`` (see :func:`parse_instant`), or ``now``.

    Raises :class:`BadValue` saying why for text that is no instant (``bad_instant``), lies
    before 1971 (``as_of_too_early``: no scan is that old), or lies more than a day after
    ``now`` (``as_of_in_future``): figures as of a time to come are not figures yet (no scan
    of then exists), and the stored results (:mod:`subsidy.results`) only move forward, so
    one far-future request would make every later report recompute. A day of slack allows
    for callers' clocks, as the plausibility limit of scan times does.
    """
    if text is None or not text.strip(_BLANKS):
        return to_local(now)
    value = parse_instant(text)
    if value > to_local(now) + ONE_DAY:
        raise BadValue(
            f"as_of {text!r} lies in the future (now is {to_local(now):%Y-%m-%d %H:%M} "
            "Asia/Shanghai); figures exist only up to now",
            code="as_of_in_future",
            value=text,
            now=f"{to_local(now):%Y-%m-%d %H:%M}",
        )
    return value

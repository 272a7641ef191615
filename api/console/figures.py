"""The figures the pages show, from the same domain functions the API calls, kept for reuse.

- A month's report is :func:`subsidy.report.served_report` (a closed month's frozen report,
  else the live report with its prior-period adjustments), scoped to an operator's carrier the
  way the API scopes it.
- The chart is :func:`subsidy.summary.summary` over the policy period, once per carrier.

A page view does not recompute the rule when the same figures were computed before: results
are kept per *change stamp* (the store version and the last audit line: every ingest, close,
award change and sites change moves one of them, in the transaction that makes the change),
month, carrier and ``as_of``. Figures "as of now" (no ``as_of`` asked) are reused for
:data:`FRESH` while the stamp is unchanged; the page shows the instant they were computed as
of, and its downloads ask the API for that same instant. A closed month is frozen anyway.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import Request

from api.errors import ApiError
from core import timeutil
from core.policy import Policy
from core.store import Store
from core.timeutil import month_of, now_local, parse_month
from subsidy.models import MonthlyReport
from subsidy.report import check_reportable, served_report
from subsidy.summary import summary

T = TypeVar("T")

#: Results kept per app (a report is a few kilobytes; a chart a few more).
CACHE_SIZE = 128
#: How long figures computed "as of now" are shown while nothing changes in the store: only
#: pending parcels running out of time change them, and the page says the instant they are of.
FRESH = timedelta(minutes=5)


class FigureCache:
    """A small least-recently-used map of computed figures; thread-safe."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        key: tuple[Any, ...],
        compute: Callable[[], T],
        usable: Callable[[T], bool] = lambda _: True,
    ) -> T:
        """The value kept under ``key`` if ``usable``, else computed (outside the lock) and kept."""
        with self._lock:
            if key in self._items and usable(self._items[key]):
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def figure_cache(request: Request) -> FigureCache:
    """The app's figure cache (made by :func:`api.console.install`)."""
    return request.app.state.console_figures  # type: ignore[no-any-return]


def change_stamp(store: Store) -> tuple[int, int]:
    """``(store version, id of the last audit line)``: moves with anything a figure uses."""
    with store.connect() as db:
        last = db.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
    return store.version(), int(last)


def resolve_as_of(text: str | None) -> datetime | None:
    """The parsed ``?as_of=``; ``None`` (meaning now) when absent.

    Raises ``ValueError`` saying why for text that is not an instant, or one before 1970 or
    in the future (:func:`core.timeutil.resolve_as_of`).
    """
    if text and text.strip():
        return timeutil.resolve_as_of(text, now_local())
    return None


def _of_now(as_of: datetime | None) -> tuple[datetime, str, Callable[[datetime], bool]]:
    """The instant to compute at, the cache key part, and whether figures computed as of an
    instant are still usable."""
    if as_of is not None:
        return as_of, as_of.isoformat(), lambda _: True
    now = now_local()
    oldest = now - FRESH
    return now, "now", lambda computed_as_of: computed_as_of >= oldest


def monthly_report(
    cache: FigureCache,
    store: Store,
    policy: Policy,
    month: str,
    as_of: datetime | None,
    carrier: str | None,
) -> MonthlyReport:
    """The report of ``month`` as the API serves it; as of now (see :data:`FRESH`) when
    ``as_of`` is ``None``.
    """
    check_reportable(month, now_local())
    at, when, usable = _of_now(as_of)
    key = ("monthly", change_stamp(store), month, carrier, when)
    return cache.get(
        key,
        lambda: served_report(store, policy, month, at, carrier=carrier),
        lambda report: usable(report.as_of),
    )


def chart(
    cache: FigureCache,
    store: Store,
    policy: Policy,
    as_of: datetime | None,
    carrier: str | None,
) -> dict[str, Any]:
    """Monthly subsidy (fen) per carrier over the policy period, from the summary.

    ``{"as_of", "months": [...], "closed": [...], "series": [{"carrier", "name",
    "subsidy_fen": [...], "eligible_parcels": [...]}]}``; carriers without any parcel in the
    period are left out. As of now (see :data:`FRESH`) when ``as_of`` is ``None``.
    """
    now = now_local()
    at, when, usable = _of_now(as_of)
    period = policy.months_until(now)
    if period is None:
        return {"as_of": at.isoformat(), "months": [], "closed": [], "series": []}
    key = ("chart", change_stamp(store), period, carrier, when)

    def compute() -> dict[str, Any]:
        codes = [carrier] if carrier else list(policy.carriers)
        months: list[str] = []
        closed: list[bool] = []
        series = []
        for code in codes:
            lines = summary(store, policy, period[0], period[1], at, now=now, carrier=code).months
            months = [m.month for m in lines]
            closed = [m.closed for m in lines]
            subsidy = [m.subsidy_fen for m in lines]
            eligible = [m.eligible_parcels for m in lines]
            if any(subsidy) or any(eligible):
                series.append(
                    {
                        "carrier": code,
                        "name": policy.carriers.get(code, code),
                        "subsidy_fen": subsidy,
                        "eligible_parcels": eligible,
                    }
                )
        return {"as_of": at.isoformat(), "months": months, "closed": closed, "series": series}

    _computed_at, data = cache.get(key, lambda: (at, compute()), lambda kept: usable(kept[0]))
    return data


def default_month(chart_data: dict[str, Any], now: datetime) -> str:
    """The month a report page opens on: the first open month with parcels in the chart, else
    the last month with parcels, else the current month.
    """
    months: list[str] = chart_data["months"]
    busy = [
        i
        for i in range(len(months))
        if any(s["subsidy_fen"][i] or s["eligible_parcels"][i] for s in chart_data["series"])
    ]
    for i in busy:
        if not chart_data["closed"][i]:
            return months[i]
    if busy:
        return months[busy[-1]]
    return months[-1] if months else month_of(now)


def month_text(text: str) -> str:
    """A ``YYYY-MM`` month asked of a page, or 422 with the expected form (``bad_month``)."""
    try:
        year, mon = parse_month(text)
    except ValueError as exc:
        raise ApiError(
            422, "validation_error", str(exc), text_code="bad_month", value=text
        ) from exc
    return f"{year:04d}-{mon:02d}"

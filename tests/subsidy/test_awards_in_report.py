"""An award counts once (SPEC §7): in its accreditation month, or, recorded after that month
was closed, in the next month still open then."""

from __future__ import annotations

from datetime import date

import pytest

from subsidy.awards_in_report import awards_in_month, counted_fen, counting_month
from subsidy.models import ReportAward

CLOSED = {"2023-05": "2023-06-02T09:00:00+08:00", "2023-06": "2023-07-03T09:00:00+08:00"}


@pytest.mark.parametrize(
    ("accredited_on", "recorded_at", "month"),
    [
        pytest.param("2023-05-10", "2023-05-20T10:00:00+08:00", "2023-05", id="recorded-in-time"),
        pytest.param("2023-05-10", "2023-06-01T10:00:00+08:00", "2023-05", id="before-close"),
        pytest.param("2023-05-10", "2023-06-10T10:00:00+08:00", "2023-06", id="after-may-closed"),
        pytest.param("2023-05-10", "2023-07-10T10:00:00+08:00", "2023-07", id="after-june-too"),
        pytest.param("2023-04-10", "2023-07-10T10:00:00+08:00", "2023-04", id="april-open"),
    ],
)
def test_counting_month(accredited_on: str, recorded_at: str, month: str) -> None:
    assert counting_month(accredited_on, recorded_at, CLOSED) == month


def _award(accredited_on: str, counted_in: str, fen: int) -> ReportAward:
    return ReportAward(
        site_code="C",
        site_name=None,
        accredited_on=date.fromisoformat(accredited_on),
        document_no="d",
        award_fen=fen,
        status="accredited",
        award_yuan="0.00",
        counted_in=counted_in,
    )


def test_a_month_lists_earlier_awards_without_counting_them() -> None:
    awards = [
        _award("2023-05-10", "2023-06", 7),
        _award("2023-03-01", "2023-03", 5),
        _award("2023-08-01", "2023-08", 3),
    ]
    june = awards_in_month(awards, "2023-06")
    assert [(a.counted, a.prior_period) for a in june] == [(True, True), (False, False)]
    assert counted_fen(june, "2023-06", "2023-06") == 7
    assert counted_fen(awards, "2023-01", "2023-12") == 15
    assert counted_fen(awards, "2023-04", "2023-07") == 7

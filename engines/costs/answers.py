"""What the cost questions answer: grouped lines with a comparison (``Answer``), a trend
(``Trend``), a month-end forecast (``ForecastAnswer``) and a team's days (``TeamDays``), each
frozen, rendered by the builders and printed by the CLI as JSON (``as_json``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engines.costs.forecast import MonthEndForecast
from engines.costs.forecast_models import Forecast
from engines.costs.query import Dimension, DimensionKind
from engines.models import Metric, Period

if TYPE_CHECKING:
    from engines.costs.month_view import MonthView


_ZERO = Decimal(0)
TEAM = "team"  # the pseudo-dimension "by team" (allocation, not a column)
DAY = Dimension(DimensionKind.DAY)
UNTAGGED = "(untagged)"
NO_VALUE = "(none)"
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True)
class Line:
    """One row of an answer: a group's cost now and in the period compared with."""

    key: str
    amount: Decimal
    previous: Decimal = _ZERO

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous


@dataclass(frozen=True)
class Answer:
    """A grouped cost answer for one currency, with the comparison period's figures.

    ``subject`` is the team, "all teams" or "untagged"; ``lines`` are sorted largest first
    and cut at ``count`` with the rest summed in ``others``.
    """

    subject: str
    period: Period
    previous_period: Period | None
    metric: Metric
    currency: str
    dimension: str
    total: Decimal
    previous_total: Decimal
    lines: tuple[Line, ...]
    others: Decimal = _ZERO
    others_previous: Decimal = _ZERO
    shared: tuple[Line, ...] = ()
    other_currencies: Mapping[str, Decimal] = field(default_factory=dict)
    source: str = ""
    notes: tuple[str, ...] = ()
    lines_compared: bool = True  # False when lines have no counterpart before (by day)
    data_through: dt.date | None = None  # the last day the source's data covers
    month: MonthView | None = None  # the subject's month view (``engines.costs.month_view``)

    @property
    def compared(self) -> bool:
        """Whether there is a fair comparison (else no change figure at all)."""
        return self.previous_period is not None

    @property
    def change(self) -> Decimal:
        return self.total - self.previous_total

    @property
    def change_pct(self) -> Decimal | None:
        if not self.compared or not self.previous_total:
            return None
        return (self.change / abs(self.previous_total) * 100).quantize(Decimal("0.01"))

    def as_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: decimals as strings, ``end`` exclusive."""
        return {
            "team": self.subject,
            "period": _period_json(self.period),
            "previous_period": _period_json(self.previous_period) if self.previous_period else None,
            "metric": self.metric.value,
            "currency": self.currency,
            "total": str(self.total),
            "previous_total": str(self.previous_total) if self.compared else None,
            "by": self.dimension,
            "groups": [
                {
                    "key": line.key,
                    "cost": str(line.amount),
                    "previous": str(line.previous) if self.lines_compared else None,
                }
                for line in self.lines
            ]
            + (
                [
                    {
                        "key": "(others)",
                        "cost": str(self.others),
                        "previous": str(self.others_previous) if self.lines_compared else None,
                    }
                ]
                if self.others
                else []
            ),
            "shared": [{"key": line.key, "cost": str(line.amount)} for line in self.shared],
            "other_currencies": {
                code: str(amount) for code, amount in self.other_currencies.items()
            },
            "source": self.source,
            "notes": list(self.notes),
            "data_through": self.data_through.isoformat() if self.data_through else None,
            "month_to_date": _cents(self.month.month_to_date) if self.month else None,
            "month": self.month.as_json() if self.month else None,
        }


DAILY_UP_TO = 90
"""A trend over more days than this is drawn week by week."""
WEEKLY_UP_TO = 730
"""... and over more than this (two years) month by month."""


class TrendUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def adjective(self) -> str:
        return {"day": "daily", "week": "weekly", "month": "monthly"}[self.value]


def trend_unit(days: int) -> TrendUnit:
    """What one bar of a trend over ``days`` days adds up: a day up to 90 days, a week up to
    two years, a month beyond (so a chart never has more than about 100 bars)."""
    if days > WEEKLY_UP_TO:
        return TrendUnit.MONTH
    if days > DAILY_UP_TO:
        return TrendUnit.WEEK
    return TrendUnit.DAY


@dataclass(frozen=True)
class Trend:
    """A team's cost over a period, one figure per ``unit`` (day, week or month).

    ``days`` holds each bar's first day and its cost, every bar of the period (zero where
    there is none); a week is 7 days counted from the period's first day, a month a
    calendar month; the first and last bars may be shorter, cut by the period.
    """

    subject: str
    period: Period
    metric: Metric
    currency: str
    days: tuple[tuple[dt.date, Decimal], ...]
    source: str
    unit: TrendUnit = TrendUnit.DAY
    notes: tuple[str, ...] = ()
    data_through: dt.date | None = None  # the last day of data in the bars

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.days), _ZERO)

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.subject,
            "period": _period_json(self.period),
            "metric": self.metric.value,
            "currency": self.currency,
            "total": str(self.total),
            "unit": self.unit.value,
            "groups": [{"key": day.isoformat(), "cost": str(amount)} for day, amount in self.days],
            "notes": list(self.notes),
            "data_through": self.data_through.isoformat() if self.data_through else None,
        }


@dataclass(frozen=True)
class ForecastAnswer:
    subject: str
    forecast: Forecast | MonthEndForecast
    budget: Decimal | None
    source: str
    month_to_date: Decimal | None = None  # through ``data_through``, shared costs included
    data_through: dt.date | None = None  # the last complete day in ``month_to_date``

    def as_json(self) -> dict[str, Any]:
        f = self.forecast
        return {
            "team": self.subject,
            "period": _period_json(f.period),
            "metric": f.metric.value,
            "currency": f.currency,
            "total": str(f.amount),
            "lower": None if f.lower is None else str(f.lower),
            "upper": None if f.upper is None else str(f.upper),
            "method": f.method,
            "budget": None if self.budget is None else str(self.budget),
            "groups": [],
            "month_to_date": _cents(self.month_to_date),
            "data_through": self.data_through.isoformat() if self.data_through else None,
        }


def _cents(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(Decimal("0.01")))


def _period_json(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat(), "label": period.label}


@dataclass(frozen=True)
class TeamDays:
    """A team's cost per day and per key (a service, ...) in its main currency.

    Shared costs appear as keys ``shared: <name>``: the team's share of each, spread over
    the days in proportion to the shared cost's own daily amounts.
    """

    subject: str
    period: Period
    metric: Metric
    currency: str
    days: Mapping[dt.date, Mapping[str, Decimal]]
    source: str

    def total_on(self, day: dt.date) -> Decimal:
        return sum(self.days.get(day, {}).values(), _ZERO)

    def totals(self) -> list[tuple[dt.date, Decimal]]:
        """Every day of the period with its total (zero where there is no cost)."""
        first = self.period.start
        return [
            (day, self.total_on(day))
            for day in (first + dt.timedelta(days=n) for n in range(self.period.days))
        ]

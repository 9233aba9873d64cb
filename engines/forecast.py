"""Month-end forecasts from daily costs, for sources without a forecast of their own (FOCUS, CUR).

The month end is the month-to-date actual plus the rest of the month at a daily run-rate:

* **Complete days.** Today's cost so far is partial, so today is never actual: it is
  forecast, as a whole day, like every later day. Exports also lag, so the last complete day
  is the last day in the series before today; the days after it are forecast too.
* **Actual** is the sum of the month's complete days.
* **Run-rate** is the mean of the last 14 complete days (two whole weeks, so every weekday
  counts twice), or of the last 7 when there are 7 to 13. A day inside the window that is
  missing from the series cost nothing. Fewer than 7 complete days: no forecast.
* **Band** (80%): ± 1.2816 · σ · √(R + R²/n), where σ is the standard deviation of the
  window's daily costs, R the days forecast and n the window's days: the day-to-day noise of
  the R days plus the uncertainty of the run-rate itself. When no day in the window is
  negative, the rest of the month cannot be negative, so the band stops at zero.

``Forecast`` (``engines.forecast_models``) always means the days forecast only, as Cost
Explorer's does; ``MonthEndForecast`` adds the actual before them, for either source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal, localcontext

from engines.errors import CostSourceError
from engines.forecast_models import Forecast
from engines.models import Metric, Period

WINDOWS = (14, 7)
"""Run-rate windows in days, the longest the history allows; whole weeks only."""
MIN_DAYS = min(WINDOWS)
BAND_Z = Decimal("1.2816")
"""The normal quantile for a two-sided 80% band."""
BAND_PERCENT = 80

_ONE_DAY = timedelta(days=1)
_ZERO = Decimal(0)
_ARITHMETIC = Context(prec=28)


class NotEnoughHistoryError(CostSourceError):
    """Too few complete days of cost to estimate a run-rate."""


@dataclass(frozen=True)
class MonthEndForecast:
    """Where a month will end: the actual so far plus a forecast of the rest.

    Reads like a ``Forecast`` of the whole month (``period``, ``metric``, ``currency``,
    ``amount``, ``lower``, ``upper``, ``method``), and keeps its parts.

    Args:
        actual: the cost of the month's days before ``rest.period.start`` (complete days).
        rest: the forecast of the days from ``rest.period.start`` to the month's end; from
            ``forecast_month_end`` or from Cost Explorer.
    """

    actual: Decimal
    rest: Forecast

    @property
    def period(self) -> Period:
        first = self.rest.period.start.replace(day=1)
        return Period(first, self.rest.period.end, f"{first:%B %Y}")

    @property
    def metric(self) -> Metric:
        return self.rest.metric

    @property
    def currency(self) -> str:
        return self.rest.currency

    @property
    def amount(self) -> Decimal:
        return self.actual + self.rest.amount

    @property
    def lower(self) -> Decimal | None:
        return None if self.rest.lower is None else self.actual + self.rest.lower

    @property
    def upper(self) -> Decimal | None:
        return None if self.rest.upper is None else self.actual + self.rest.upper

    @property
    def method(self) -> str:
        start, last = self.period.start, self.rest.period.start - _ONE_DAY
        if last < start:
            return self.rest.method
        return f"month to date ({_span(start, last)}) + {self.rest.method}"


def forecast_month_end(
    daily: Sequence[tuple[date, Decimal]], *, today: date, metric: Metric, currency: str
) -> MonthEndForecast:
    """Forecast where ``today``'s month will end, from daily costs in one currency.

    Args:
        daily: (day, cost) pairs in ``currency`` and ``metric``, any order; a day listed
            twice is summed. Days from ``today`` on are ignored (today is partial).
        today: the user's today (engines never read the clock).
        metric: the cost type of ``daily``.
        currency: the currency of ``daily``.

    Raises:
        NotEnoughHistoryError: fewer than 7 complete days before today.
        ValueError: an amount is not a finite number.
    """
    costs = _complete_days(daily, today)
    month = _month_of(today)
    last_complete = max(costs) if costs else None
    window = _window(costs, last_complete, month)
    start = month.start if last_complete is None else max(last_complete + _ONE_DAY, month.start)
    rest_period = Period(start, month.end, f"rest of {month.label}")
    actual = sum((cost for day, cost in costs.items() if month.start <= day), _ZERO)
    return MonthEndForecast(actual, _run_rate_forecast(window, rest_period, metric, currency))


def _complete_days(daily: Sequence[tuple[date, Decimal]], today: date) -> dict[date, Decimal]:
    costs: dict[date, Decimal] = {}
    for day, cost in daily:
        if not cost.is_finite():
            raise ValueError(f"the cost of {day} is {cost}")
        if day < today:
            costs[day] = costs.get(day, _ZERO) + cost
    return costs


def _month_of(today: date) -> Period:
    first = today.replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    return Period(first, following, f"{first:%B %Y}")


def _window(costs: dict[date, Decimal], last: date | None, month: Period) -> list[Decimal]:
    """The daily costs the run-rate is the mean of, oldest first (missing days cost 0)."""
    history = 0 if last is None else (last - min(costs)).days + 1
    size = next((days for days in WINDOWS if days <= history), None)
    if last is None or size is None:
        raise NotEnoughHistoryError(_not_enough_message(costs, last, month))
    return [costs.get(last - timedelta(days=back), _ZERO) for back in reversed(range(size))]


def _not_enough_message(costs: dict[date, Decimal], last: date | None, month: Period) -> str:
    if last is None:
        covered = "have no complete day yet"
    else:
        first = min(costs)
        span = _span(first, last)
        count = (last - first).days + 1
        covered = f"cover {count} complete day{'s' if count != 1 else ''} ({span})"
    return (
        f"I can't forecast {month.label} yet: the daily costs {covered}, "
        f"and I need at least {MIN_DAYS} to estimate a daily run-rate."
    )


def _span(first: date, last: date) -> str:
    """``Mar 4``, ``Mar 1–19`` or ``Feb 17–Mar 2``."""
    if first == last:
        return f"{first:%b %-d}"
    end = (
        f"{last:%-d}" if (first.year, first.month) == (last.year, last.month) else f"{last:%b %-d}"
    )
    return f"{first:%b %-d}–{end}"


def _run_rate_forecast(
    window: list[Decimal], period: Period, metric: Metric, currency: str
) -> Forecast:
    with localcontext(_ARITHMETIC):
        rate = sum(window, _ZERO) / len(window)
        amount = rate * period.days
        band = BAND_Z * _std_dev(window, rate) * _band_width(period.days, len(window))
        lower = amount - band
        if min(window) >= 0:
            lower = max(lower, _ZERO)
    return Forecast(
        period=period,
        metric=metric,
        currency=currency,
        amount=amount,
        lower=lower,
        upper=amount + band,
        method=_method(window, rate, period, currency),
    )


def _std_dev(values: list[Decimal], mean: Decimal) -> Decimal:
    """The sample standard deviation (n - 1)."""
    squares = sum(((value - mean) ** 2 for value in values), _ZERO)
    return (squares / (len(values) - 1)).sqrt()


def _band_width(days: int, window: int) -> Decimal:
    """√(R + R²/n): R days of daily noise plus the error of a mean of n days, scaled by R."""
    return (Decimal(days) + Decimal(days * days) / window).sqrt()


def _method(window: list[Decimal], rate: Decimal, period: Period, currency: str) -> str:
    days = f"{period.days} day{'s' if period.days != 1 else ''}"
    return (
        f"{days} × {rate:,.2f} {currency}/day (mean of the last {len(window)} complete days); "
        f"{BAND_PERCENT}% band from day-to-day variation"
    )

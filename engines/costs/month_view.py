"""One month view per team and as-of date: the figures every surface shows of this month.

``/cost team`` (its budget line), ``/cost forecast``, the digest, App Home and budget alerts
all show a team's month to date, its budget used and its month-end forecast. They all take
them from ``month_view``, so the same team and as-of date give the same figures everywhere,
to the cent, and each surface says which day the data runs through.

The decisions, in one place:

* **As of ``today``**: today's costs are still arriving, so the month to date runs through
  the last complete day: yesterday, or the last day the source's data covers when it lags
  (``data_through``).
* **Shared costs included**, split as ``/cost team`` splits them: one allocation
  (``engines.costs.allocation``) over the month to date, so a proportional share is weighed by the
  team's direct cost in the same days. Days of earlier months (the forecast's history) are
  split per calendar month, as ``/cost team <that month>`` splits them. A team's share of a
  shared cost is spread over the days in proportion to that cost's own daily amounts.
* **The forecast** is ``engines.costs.forecast.forecast_month_end`` over those daily costs; its
  actual is the month to date above, exactly. A source with its own forecast (Cost
  Explorer) forecasts the rest of the month instead; a team's shared costs are added to it
  at their share of the team's month to date, and its method says so.
* Without a team it is the whole organisation: every cost line, shared and untagged
  included, against the sum of the budgets.

Pure apart from the source it is handed: ``today`` is an argument, never the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from engines.costs import answers, asking
from engines.costs.allocation_cache import AllocationCache
from engines.costs.forecast import MonthEndForecast, NotEnoughHistoryError, forecast_month_end
from engines.costs.query import CostQuery, CostResult
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import ForecastingSource, Source
from engines.errors import CostSourceError
from engines.models import Metric, Period, SharedCost, Team

HISTORY_DAYS = 35
"""Complete days of history the forecast is made from: its 28-day trend window and a
week to spare for an export's lag."""
ALL_TEAMS = "all teams"

_ZERO = Decimal(0)
_ONE_DAY = dt.timedelta(days=1)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class MonthView:
    """A team's month as of a date: month to date, budget used and the month-end forecast.

    Args:
        subject: the team's name, or "all teams".
        today: the as-of date (its own costs are still arriving: never included).
        metric, currency: of every figure.
        data_through: the last complete day included in ``month_to_date``.
        month_to_date: the month's cost through ``data_through``, shared costs included.
        shared: the part of ``month_to_date`` that is the team's share of shared costs.
        budget: the monthly budget (the sum of the teams' for "all teams"), if any.
        forecast: where the month will end, or None (``notes`` say why).
        notes: what a reader should know (no forecast yet, shared costs left out, ...).
        source: the cost source's name.
    """

    subject: str
    today: dt.date
    metric: Metric
    currency: str
    data_through: dt.date
    month_to_date: Decimal
    shared: Decimal
    budget: Decimal | None
    forecast: MonthEndForecast | None
    notes: tuple[str, ...] = ()
    source: str = ""

    @property
    def month(self) -> Period:
        first = self.today.replace(day=1)
        return Period(first, (first + dt.timedelta(days=32)).replace(day=1), f"{first:%B %Y}")

    def budget_used_pct(self) -> Decimal | None:
        if not self.budget:
            return None
        return (self.month_to_date / self.budget * 100).quantize(_CENT)

    def forecast_budget_pct(self) -> Decimal | None:
        if not self.budget or self.forecast is None:
            return None
        return (self.forecast.amount / self.budget * 100).quantize(_CENT)

    def as_json(self) -> dict[str, Any]:
        """Decimals as strings to the cent; dates as ISO dates."""
        forecast = self.forecast
        return {
            "team": self.subject,
            "date": self.today.isoformat(),
            "metric": self.metric.value,
            "currency": self.currency,
            "data_through": self.data_through.isoformat(),
            "month_to_date": _text(self.month_to_date),
            "shared": _text(self.shared),
            "budget": None if self.budget is None else str(self.budget),
            "budget_used_pct": _optional(self.budget_used_pct()),
            "forecast": None if forecast is None else _text(forecast.amount),
            "forecast_lower": None if forecast is None else _optional_text(forecast.lower),
            "forecast_upper": None if forecast is None else _optional_text(forecast.upper),
            "forecast_method": None if forecast is None else forecast.method,
            "notes": list(self.notes),
        }


def month_view(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    today: dt.date,
    team: Team | None = None,
    metric: Metric = Metric.BILLED,
    with_forecast: bool = True,
    cache: AllocationCache | None = None,
) -> MonthView:
    """The month view of a team (or of every team, ``team`` None) as of ``today``.

    Args:
        source: where costs come from.
        teams, shared: the teams file.
        today: the as-of date (the billing date, UTC); only the days before it count.
        team: the team (``engines.config.teams.find_team`` finds it by name); None: all
            teams.
        metric: the cost type of every figure.
        with_forecast: False: the month to date only (``forecast`` None, no history read).
        cache: where allocations are remembered (the bot's): every team's view of a month
            reads one allocation; None: a default one.

    Raises:
        CostSourceError: the source failed (a forecast that cannot be made is a note).
    """
    through = _data_through(source, today)
    month_start = today.replace(day=1)
    history_start = min(through - dt.timedelta(days=HISTORY_DAYS - 1), month_start)
    if not with_forecast or isinstance(source, ForecastingSource):  # the month to date is enough
        history_start = month_start
    notes: list[str] = []
    daily: dict[str, dict[dt.date, Decimal]] = {}  # currency → day → cost (never mixed)
    totals: dict[str, tuple[Decimal, Decimal]] = {}  # currency → (month to date, shared part)
    currency = answers.DEFAULT_CURRENCY
    for chunk in _month_chunks(history_start, through):
        days, chunk_currency, mtd, share, note = _chunk(
            source, teams, shared, team, chunk, metric, cache
        )
        if note and note not in notes:
            notes.append(note)
        currency = chunk_currency  # the latest month's: this month's when it has a day
        if chunk.start == month_start:
            totals[currency] = (mtd, share)
        in_currency = daily.setdefault(chunk_currency, {})
        for day, amount in days.items():
            in_currency[day] = in_currency.get(day, _ZERO) + amount
    month_to_date, share = totals.get(currency, (_ZERO, _ZERO))
    subject = team.name if team else ALL_TEAMS
    budget = team.monthly_budget if team else _sum_budgets(teams)
    forecast: MonthEndForecast | None = None
    if with_forecast:
        history = daily.get(currency, {})
        forecast = _forecast(
            source, team, history, month_to_date, share, today, metric, currency, notes
        )
    return MonthView(
        subject=subject,
        today=today,
        metric=metric,
        currency=currency,
        data_through=through,
        month_to_date=month_to_date,
        shared=share,
        budget=budget,
        forecast=forecast,
        notes=tuple(notes),
        source=source.name,
    )


def _data_through(source: Source, today: dt.date) -> dt.date:
    """Yesterday, or the last day the source's data covers when that is earlier."""
    yesterday = today - _ONE_DAY
    coverage = asking.data_coverage(source, today)
    if coverage is None:
        return yesterday
    return min(coverage.through, yesterday)


def _month_chunks(first: dt.date, through: dt.date) -> list[Period]:
    """Whole calendar months from ``first``'s, the last cut after ``through``."""
    chunks: list[Period] = []
    start = first.replace(day=1)
    while start <= through:
        following = (start + dt.timedelta(days=32)).replace(day=1)
        chunks.append(Period(start, min(following, through + _ONE_DAY)))
        start = following
    return chunks


def _chunk(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team | None,
    period: Period,
    metric: Metric,
    cache: AllocationCache | None,
) -> tuple[dict[dt.date, Decimal], str, Decimal, Decimal, str]:
    """One month's days: (cost by day, currency, total, shared part, note)."""
    if team is None:
        result = source.costs(CostQuery(period, metric, CostFilter(), (answers.DAY,)))
        currency, per_day = _per_day(result)
        return per_day, currency, result.totals().get(currency, _ZERO), _ZERO, ""
    allocation = asking.allocated(source, teams, shared, period, metric, (answers.DAY,), cache)
    if allocation is None:  # the source cannot group finely enough: the team's own lines
        query = CostQuery(period, metric, asking.team_filter(team), (answers.DAY,))
        result = source.costs(query)
        currency, per_day = _per_day(result)
        note = "Shared costs are not included: the cost source cannot group finely enough."
        return per_day, currency, result.totals().get(currency, _ZERO), _ZERO, note
    parts = allocation.currencies
    currency = (
        max(parts, key=lambda code: abs(parts[code].total)) if parts else answers.DEFAULT_CURRENCY
    )
    part = parts.get(currency)
    mine = part.teams.get(team.name) if part else None
    if part is None or mine is None:
        return {}, currency, _ZERO, _ZERO, ""
    days: dict[dt.date, Decimal] = {}
    for (day_text, *_), amount in mine.direct.items():
        _add(days, day_text, amount)
    for split in part.shared:
        portion = split.shares.get(team.name, _ZERO)
        if not portion or not split.amount:
            continue
        fraction = portion / split.amount
        for (day_text, *_), amount in split.by_key.items():
            _add(days, day_text, amount * fraction)
    return days, currency, mine.total, mine.shared_total, ""


def _forecast(
    source: Source,
    team: Team | None,
    daily: dict[dt.date, Decimal],
    month_to_date: Decimal,
    share: Decimal,
    today: dt.date,
    metric: Metric,
    currency: str,
    notes: list[str],
) -> MonthEndForecast | None:
    if isinstance(source, ForecastingSource):
        cost_filter = asking.team_filter(team) if team else CostFilter()
        try:
            rest = source.forecast(cost_filter=cost_filter, metric=metric, today=today)
        except CostSourceError as error:
            notes.append(str(error))
            return None
        direct = month_to_date - share
        if share and direct > 0:
            factor = month_to_date / direct
            rest = replace(
                rest,
                amount=rest.amount * factor,
                lower=None if rest.lower is None else rest.lower * factor,
                upper=None if rest.upper is None else rest.upper * factor,
                method=(
                    f"{rest.method}, plus shared costs at their share of this month to date "
                    f"({share / direct * 100:.1f}% on top of the team's own cost)"
                ),
            )
        return MonthEndForecast(actual=month_to_date, rest=rest)
    if not any(daily.values()):
        subject = team.name if team else ALL_TEAMS
        notes.append(f"There is nothing to forecast for {subject}: no costs in the last "
                     f"{HISTORY_DAYS} days.")  # fmt: skip
        return None
    known = sorted((day, amount) for day, amount in daily.items() if amount)
    try:
        made = forecast_month_end(known, today=today, metric=metric, currency=currency)
    except NotEnoughHistoryError as error:
        notes.append(str(error))
        return None
    return MonthEndForecast(actual=month_to_date, rest=made.rest)


def _per_day(result: CostResult) -> tuple[str, dict[dt.date, Decimal]]:
    totals = result.totals()
    currency = (
        max(totals, key=lambda code: abs(totals[code])) if totals else answers.DEFAULT_CURRENCY
    )
    per_day: dict[dt.date, Decimal] = {}
    for group in result.groups:
        if group.currency == currency and group.key and group.key[0]:
            _add(per_day, group.key[0], group.amount)
    return currency, per_day


def _add(days: dict[dt.date, Decimal], day_text: str, amount: Decimal) -> None:
    if not day_text:
        return
    day = dt.date.fromisoformat(day_text[:10])
    days[day] = days.get(day, _ZERO) + amount


def _sum_budgets(teams: Mapping[str, Team]) -> Decimal | None:
    budgets = [team.monthly_budget for team in teams.values() if team.monthly_budget is not None]
    return sum(budgets, _ZERO) if budgets else None


def _text(amount: Decimal) -> str:
    return str(amount.quantize(_CENT))


def _optional_text(amount: Decimal | None) -> str | None:
    return None if amount is None else _text(amount)


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

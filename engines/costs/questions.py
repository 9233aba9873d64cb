"""The questions people ask costbot, answered from a cost source and the teams file.

Each function is pure apart from the source it is handed: it takes the period and the
clock's ``today`` as arguments and returns a frozen result that builders render and the
CLI prints as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engines.config.teams import find_team
from engines.costs.allocation import (
    Allocation,
    AllocationCache,
    SharedSplit,
    allocation_dimensions,
    combination_owner,
    direct_costs,
)
from engines.costs.coverage import (
    MAX_PERIOD_DAYS,
    Comparison,
    Coverage,
    bound_period,
    coverage_up_to_yesterday,
    fair_comparison,
)
from engines.costs.forecast import MonthEndForecast
from engines.costs.forecast_models import Forecast
from engines.costs.query import CostQuery, CostResult, Dimension, DimensionKind
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import CoveringSource, Source
from engines.errors import CostSourceError, PeriodNotCoveredError, UserInputError
from engines.models import Metric, Period, SharedCost, Team
from engines.words import source_name

if TYPE_CHECKING:
    from engines.costs.month_view import MonthView

TEAM = "team"  # the pseudo-dimension "by team" (allocation, not a column)
DAY = Dimension(DimensionKind.DAY)
UNTAGGED = "(untagged)"
NO_VALUE = "(none)"
DEFAULT_CURRENCY = "USD"
_ZERO = Decimal(0)
_ONE_DAY = dt.timedelta(days=1)
EXPECTED_LAG = dt.timedelta(days=2)
_SOURCE_DATA = {"ce": "AWS Cost Explorer data", "athena": source_name("athena")}


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


# --- the questions -------------------------------------------------------------------------


def team_cost(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    team: Team,
    period: Period,
    metric: Metric = Metric.BILLED,
    by: str = "service",
    count: int = 8,
    today: dt.date | None = None,
) -> Answer:
    """A team's cost for a period grouped by a dimension, with its share of shared costs.

    Args:
        source: where costs come from.
        teams, shared: the teams file.
        team: the team (``engines.config.teams.find_team`` finds it by name).
        period: the period, clipped to the days with data and capped at a year
            (``engines.costs.coverage.bound_period``, the notes say so); it is compared with
            the same days before (``engines.costs.coverage.fair_comparison``), or not at all.
        metric: billed, effective or list.
        by: a dimension (``service``, ``tag:<key>``, ...).
        count: how many groups to list before "others".
        today: the user's today: a source that cannot say what it covers (Cost Explorer)
            is taken to cover the days up to yesterday.
    """
    dimension = _dimension(by)
    source, fair, notes = _asked(source, period, today)
    period, before = fair.period, fair.previous
    now = _team_lines(source, teams, shared, team, period, metric, dimension)
    then = _team_lines(source, teams, shared, team, before, metric, dimension) if before else _NONE
    answer = _answer(team.name, period, before, metric, dimension.label, now, then, count, source)
    notes += fair.notes + source.notes()
    if not answer.total and not answer.lines:
        notes += (
            f"No costs matched {team.name}'s rule ({_describe_rule(team)}) in this period: "
            "are its resources tagged that way?",
        )
    return replace(answer, notes=notes, data_through=fair.data_through)


def top_costs(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    period: Period,
    metric: Metric = Metric.BILLED,
    by: str = TEAM,
    count: int = 10,
    today: dt.date | None = None,
) -> Answer:
    """The biggest costs across the organisation, by team (allocated) or by a dimension.

    Compared as ``team_cost`` is (``today`` likewise)."""
    source, fair, notes = _asked(source, period, today)
    period, before = fair.period, fair.previous
    then: tuple[Amounts, Amounts] = _NONE
    if by == TEAM:
        now = _by_team(source, teams, shared, period, metric)
        if before:
            then = _by_team(source, teams, shared, before, metric)
    else:
        dimension = Dimension.parse(by)
        now = _grouped(source, CostQuery(period, metric, CostFilter(), (dimension,)))
        if before:
            then = _grouped(source, CostQuery(before, metric, CostFilter(), (dimension,)))
    answer = _answer("all teams", period, before, metric, by, now, then, count, source)
    return replace(
        answer, notes=notes + fair.notes + source.notes(), data_through=fair.data_through
    )


def untagged_costs(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    period: Period,
    metric: Metric = Metric.BILLED,
    by: str = "service",
    count: int = 10,
    today: dt.date | None = None,
) -> Answer:
    """Cost that no team or shared rule claims, grouped by a dimension (compared as
    ``team_cost`` is)."""
    dimension = _dimension(by)
    source, fair, notes = _asked(source, period, today)
    period, before = fair.period, fair.previous
    now = _untagged(source, teams, shared, period, metric, dimension)
    then = _untagged(source, teams, shared, before, metric, dimension) if before else _NONE
    answer = _answer(UNTAGGED, period, before, metric, dimension.label, now, then, count, source)
    return replace(
        answer, notes=notes + fair.notes + source.notes(), data_through=fair.data_through
    )


def compare_periods(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    current: Period,
    baseline: Period,
    team: Team | None = None,
    metric: Metric = Metric.BILLED,
    by: str = "service",
    count: int = 8,
    today: dt.date | None = None,
) -> Answer:
    """Two periods side by side, lines ordered by how much they moved (biggest first).

    Both are cut at the last day with data; when a day of either falls outside the data
    there is no change figure (``engines.costs.coverage.fair_comparison``); across all teams when
    ``team`` is None."""
    dimension = _dimension(by)
    source = _NotingSource(source)
    coverage = data_coverage(source, today)
    notes = _coverage_notes(coverage, current)
    current, capped = bound_period(_before_today(current, today), coverage)
    baseline, capped_before = bound_period(baseline, None)  # capped, not clipped: compared fairly
    notes += capped + capped_before
    fair = fair_comparison(current, coverage, baseline=baseline)
    current, before = fair.period, fair.previous
    then: tuple[Amounts, Amounts] = _NONE
    if team is not None:
        now = _team_lines(source, teams, shared, team, current, metric, dimension)
        if before:
            then = _team_lines(source, teams, shared, team, before, metric, dimension)
        subject = team.name
    else:
        now = _grouped(source, CostQuery(current, metric, CostFilter(), (dimension,)))
        if before:
            then = _grouped(source, CostQuery(before, metric, CostFilter(), (dimension,)))
        subject = "all teams"
    answer = _answer(subject, current, before, metric, dimension.label, now, then, 0, source)
    movers = sorted(answer.lines, key=lambda line: (-abs(line.change), line.key))
    kept, rest = movers[:count], movers[count:]
    others = sum((line.amount for line in rest), _ZERO)
    return replace(
        answer,
        lines=tuple(kept),
        others=others,
        notes=notes + fair.notes + source.notes(),
        data_through=fair.data_through,
    )


def daily_trend(
    source: Source,
    teams: Mapping[str, Team],
    *,
    team: Team,
    period: Period,
    shared: Sequence[SharedCost] = (),
    metric: Metric = Metric.BILLED,
    today: dt.date | None = None,
    max_days: int = MAX_PERIOD_DAYS,
) -> Trend:
    """A team's cost per day, week or month (``trend_unit``) over the period clipped to the
    data and capped at ``max_days`` (the notes say so), zero where there is none: its own
    lines and its share of ``shared`` costs, day by day, as ``/cost team`` and the digest
    count them (the direct lines only where the source cannot group finely enough).

    Args:
        today: as for ``team_cost``: a source that cannot say what it covers is taken to
            cover the days up to yesterday.
        max_days: the longest period drawn (``engines.costs.coverage.MAX_PERIOD_DAYS``).
    """
    coverage = data_coverage(source, today)
    notes = _coverage_notes(coverage, period)
    period, capped = bound_period(_before_today(period, today), coverage, max_days=max_days)
    currency, per_day = _allocated_per_day(source, teams, shared, team, period, metric)
    unit = trend_unit(period.days)
    bars: dict[dt.date, Decimal] = {}
    for day in (period.start + dt.timedelta(days=n) for n in range(period.days)):
        first = _bar_start(day, period.start, unit)
        bars[first] = bars.get(first, _ZERO) + per_day.get(day, _ZERO)
    through = None if coverage is None else min(coverage.through, period.end - _ONE_DAY)
    return Trend(
        team.name, period, metric, currency, tuple(bars.items()), source.name, unit,
        notes + capped, through,
    )  # fmt: skip


def _allocated_per_day(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team,
    period: Period,
    metric: Metric,
) -> tuple[str, dict[dt.date, Decimal]]:
    """A team's cost per day, its share of shared costs included, shared costs split month
    by month as the month view splits them, so a month's bars add up to its month to date."""
    currency, per_day = DEFAULT_CURRENCY, dict[dt.date, Decimal]()
    for month in _calendar_months(period):
        currency, days = _allocated_days(source, teams, shared, team, month, metric)
        per_day.update(days)
    return currency, per_day


def _calendar_months(period: Period) -> list[Period]:
    """``period`` cut at each first of a month."""
    months: list[Period] = []
    start = period.start
    while start < period.end:
        following = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        months.append(Period(start, min(following, period.end)))
        start = following
    return months


def _allocated_days(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team,
    period: Period,
    metric: Metric,
) -> tuple[str, dict[dt.date, Decimal]]:
    allocation = _allocation(source, teams, shared, period, metric, (DAY,))
    if allocation is None:
        return _per_day(source.costs(CostQuery(period, metric, _team_filter(team), (DAY,))))
    parts = allocation.currencies
    currency = max(parts, key=lambda code: abs(parts[code].total)) if parts else DEFAULT_CURRENCY
    part = parts.get(currency)
    mine = part.teams.get(team.name) if part else None
    per_day: dict[dt.date, Decimal] = {}
    if part is None or mine is None:
        return currency, per_day

    def add(day_text: str, amount: Decimal) -> None:
        if day_text:
            day = dt.date.fromisoformat(day_text[:10])
            per_day[day] = per_day.get(day, _ZERO) + amount

    for (day_text, *_), amount in mine.direct.items():
        add(day_text, amount)
    for split in part.shared:
        share = split.shares.get(team.name, _ZERO)
        if share and split.amount:
            for (day_text, *_), amount in split.by_key.items():
                add(day_text, amount * share / split.amount)
    return currency, per_day


def _bar_start(day: dt.date, first: dt.date, unit: TrendUnit) -> dt.date:
    """The first day of the bar ``day`` falls in, bars starting at ``first``."""
    if unit is TrendUnit.WEEK:
        return first + dt.timedelta(days=(day - first).days // 7 * 7)
    if unit is TrendUnit.MONTH:
        return max(day.replace(day=1), first)
    return day


def month_end_forecast(
    source: Source,
    teams: Mapping[str, Team],
    *,
    today: dt.date,
    team: Team | None = None,
    metric: Metric = Metric.BILLED,
    shared: Sequence[SharedCost] = (),
) -> ForecastAnswer:
    """Spend to the end of this month, from the team's month view
    (``engines.costs.month_view``): month to date through the last complete day, shared costs
    included, plus Cost Explorer's own forecast where the source has one, otherwise a
    stated trend or run-rate (``engines.costs.forecast``).

    Raises:
        CostSourceError: there is no forecast (too little history, nothing to forecast);
            the message says why.
    """
    from engines.costs.month_view import month_view  # it builds on this module's helpers

    team_name = team.name if team else ""
    view = month_view(source, teams, shared, today=today, team_name=team_name, metric=metric)
    if view.forecast is None:
        raise CostSourceError(" ".join(view.notes) or f"There is no forecast for {view.subject}.")
    return ForecastAnswer(
        view.subject,
        view.forecast,
        view.budget,
        source.name,
        month_to_date=view.month_to_date,
        data_through=view.data_through,
    )


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


def team_daily_costs(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    team_name: str,
    period: Period,
    metric: Metric = Metric.BILLED,
    by: str = "service",
    with_shared: bool = True,
    currency: str = "",
    cache: AllocationCache | None = None,
) -> TeamDays:
    """A team's cost by day and by a dimension, shared costs included where the source
    can group finely enough (else the team's direct cost only).

    Asks the source one organisation-wide question, the same for every team, and reads
    every team's days from its allocation in one pass (remembered in ``cache`` with the
    allocation), so a morning of digests scans once and allocates once.

    Args:
        by: the dimension each day is broken down by; "" for none (a team's own cost is
            then the key ``NO_VALUE``, each shared cost ``shared: <name>``).
        with_shared: False: the team's own cost lines only.
        currency: the currency to read (""): the one with the largest total).
        cache: where allocations are remembered (the bot's); None: a default one.
    """
    team = find_team(teams, team_name)
    extra = (DAY,) if not by else (DAY, _dimension(by))
    check_coverage(source, period)
    dimensions = allocation_dimensions(teams, shared) + extra
    if not _groups_finely(source, dimensions):
        query = CostQuery(period, metric, _team_filter(team), extra)
        amounts, _ = _grouped(source, query)
        currency = currency or _main_currency(amounts)
        days: dict[dt.date, dict[str, Decimal]] = {}
        for key, amount in amounts.get(currency, {}).items():
            day_text, _, rest = key.partition(" · ")
            _add_day(days, day_text, rest or NO_VALUE, amount)
        return TeamDays(team.name, period, metric, currency, days, source.name)
    remembered = cache or _ALLOCATIONS
    query = CostQuery(period, metric, CostFilter(), dimensions)
    if with_shared:
        allocation = remembered.allocate(source.costs(query), teams, shared)
        parts = allocation.currencies
        currency = currency or (
            max(parts, key=lambda code: abs(parts[code].total)) if parts else DEFAULT_CURRENCY
        )
        every = remembered.derived(
            (allocation,),
            f"every team's days in {currency}",
            lambda: _every_team_days(
                {code: {n: t.direct for n, t in part.teams.items()}
                 for code, part in allocation.currencies.items()},
                {code: part.shared for code, part in allocation.currencies.items()},
                teams, currency, period, metric, source.name,
            ),
        )  # fmt: skip
    else:  # the teams' own lines: no shared cost to split, so no allocation to make
        every = remembered.derived(
            (source, teams, shared),
            f"every team's own days: {query.cache_key()}, in {currency}, data "
            f"{getattr(source, 'generation', None)}",
            lambda: _every_team_own_days(source, teams, shared, query, currency),
        )  # fmt: skip
    return every[team.name]


def _every_team_own_days(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    query: CostQuery,
    currency: str,
) -> dict[str, TeamDays]:
    """Every team's own cost lines by day and a dimension: summed by team in the source's
    database where it can (the rollup), else from its answer, allocated here."""
    period, metric = query.period, query.metric
    in_database = getattr(source, "owned_daily_costs", None)
    owned = None
    if in_database is not None:
        width = len(allocation_dimensions(teams, shared))
        owned = in_database(query, combination_owner(teams, shared), owner_width=width)
    if owned is None:
        result = source.costs(query)
        currency = currency or _main_currency(_grouped_totals(result))
        direct = direct_costs(result, teams=teams, shared=shared)
        return _every_team_days(direct, {}, teams, currency, period, metric, source.name)
    if not currency:
        totals = {code: {"": sum((a for d in o.values() for r in d.values() for a in r.values()),
                                 _ZERO)} for code, o in owned.items()}  # fmt: skip
        currency = _main_currency(totals)
    mine = owned.get(currency, {})
    every: dict[str, TeamDays] = {}
    for name in teams:
        days: dict[dt.date, dict[str, Decimal]] = {}
        for day_text, rows in mine.get(name, {}).items():
            if not day_text:
                continue
            day = dt.date.fromisoformat(day_text[:10])
            if "" not in rows:
                days[day] = rows  # built for this team alone: kept as it is
                continue
            for key, amount in rows.items():
                label = key or NO_VALUE
                days.setdefault(day, {})[label] = days.get(day, {}).get(label, _ZERO) + amount
        every[name] = TeamDays(name, period, metric, currency, days, source.name)
    return every


def allocates(
    source: Source, teams: Mapping[str, Team], shared: Sequence[SharedCost], by: str = ""
) -> bool:
    """Whether ``source`` can group finely enough to allocate cost by day (and ``by``)."""
    extra = (DAY,) if not by else (DAY, _dimension(by))
    return _groups_finely(source, allocation_dimensions(teams, shared) + extra)


def _every_team_days(
    direct: Mapping[str, Mapping[str, Mapping[tuple[str, ...], Decimal]]],
    splits: Mapping[str, Sequence[SharedSplit]],
    teams: Mapping[str, Team],
    currency: str,
    period: Period,
    metric: Metric,
    source: str,
) -> dict[str, TeamDays]:
    """Every team's days, in one pass, from its own lines (currency → team → (day, key) →
    amount) and the shared costs' splits (currency → splits), grouped by day (and a
    dimension).

    A team's share of a shared cost is spread over the days in proportion to that cost's
    own daily amounts, under the key ``shared: <name>``.
    """
    own = direct.get(currency, {})
    shared_splits = splits.get(currency, ())
    dates: dict[str, dt.date] = {}

    def date_of(day_text: str) -> dt.date:
        day = dates.get(day_text)
        if day is None:
            day = dates[day_text] = dt.date.fromisoformat(day_text[:10])
        return day

    every: dict[str, TeamDays] = {}
    for name in teams:
        days: dict[dt.date, dict[str, Decimal]] = {}
        mine = own.get(name)
        if mine is not None:
            for key, amount in mine.items():
                day_text = key[0]
                if not day_text:
                    continue
                rows = days.get(date_of(day_text))
                if rows is None:
                    rows = days[date_of(day_text)] = {}
                label = (key[1] if len(key) > 1 else "") or NO_VALUE
                rows[label] = rows.get(label, _ZERO) + amount
            for split in shared_splits:
                share = split.shares.get(name, _ZERO)
                if not share or not split.amount:
                    continue
                fraction = share / split.amount
                for (day_text, *_), amount in split.by_key.items():
                    _add_day(days, day_text, f"shared: {split.name}", amount * fraction)
        every[name] = TeamDays(name, period, metric, currency, days, source)
    return every


def _grouped_totals(result: CostResult) -> Amounts:
    return {code: {"": total} for code, total in result.totals().items()}


def _add_day(
    days: dict[dt.date, dict[str, Decimal]], day_text: str, key: str, amount: Decimal
) -> None:
    if not day_text:
        return
    rows = days.setdefault(dt.date.fromisoformat(day_text[:10]), {})
    rows[key] = rows.get(key, _ZERO) + amount


def data_coverage(source: Source, today: dt.date | None = None) -> Coverage | None:
    """What ``source``'s data covers: its own answer (billing files), else every day up to
    yesterday when ``today`` is known (Cost Explorer), else None (unknown)."""
    if isinstance(source, _NotingSource):
        source = source.inner
    if isinstance(source, CoveringSource):
        return source.coverage()
    if today is None:
        return None
    return coverage_up_to_yesterday(_SOURCE_DATA.get(source.name, f"{source.name} data"), today)


def check_coverage(source: Source, period: Period) -> tuple[str, ...]:
    """Notes on how much of ``period`` the source's data covers.

    Raises:
        CostSourceError: no day of ``period`` is in the data (naming what the data covers).
    """
    return _coverage_notes(data_coverage(source), period)


def _coverage_notes(covered: Coverage | None, period: Period) -> tuple[str, ...]:
    if covered is None or covered.first is None:
        return ()
    span = Period(covered.first, covered.through + dt.timedelta(days=1))
    if period.end <= span.start or period.start >= span.end:
        raise PeriodNotCoveredError(
            f"There is no cost data for {period.describe()}: the {covered.label} covers "
            f"{_span(span)}. Ask about a period in that range."
        )
    # Exports arrive a day or two late: only a longer gap at the end is worth a note.
    lagging = period.end > span.end + EXPECTED_LAG
    if period.start < span.start or lagging:
        overlap = Period(max(period.start, span.start), min(period.end, span.end))
        return (
            f"The {covered.label} has data for {_span(overlap)} only, not all of "
            f"{period.describe()}.",
        )
    return ()


# --- helpers -------------------------------------------------------------------------------


def _before_today(period: Period, today: dt.date | None) -> Period:
    """``period`` without today and later when it holds today: today's costs are still
    arriving, so an answer about "now" runs through yesterday, as the month view's month to
    date does (``engines.costs.month_view``)."""
    if today is not None and period.start < today < period.end:
        return replace(period, end=today)
    return period


def _asked(
    source: Source, period: Period, today: dt.date | None
) -> tuple[_NotingSource, Comparison, tuple[str, ...]]:
    """What a question about ``period`` answers: the period clipped to the data and capped,
    compared over the days covered on both sides; with the source that keeps its notes, and
    the notes on coverage and the cap so far."""
    source = _NotingSource(source)
    coverage = data_coverage(source, today)
    notes = _coverage_notes(coverage, period)
    period, capped = bound_period(_before_today(period, today), coverage)
    return source, fair_comparison(period, coverage), notes + capped


class _NotingSource:
    """A source that keeps the notes of the results it hands back (e.g. "the export has no
    Tags column"), so a question can pass them on once in its answer.

    Everything else (``coverage``, ``forecast``) is the source's own.
    """

    def __init__(self, source: Source) -> None:
        self.inner = source
        self.name = source.name
        self.max_dimensions = source.max_dimensions
        self._notes: dict[str, None] = {}

    def costs(self, query: CostQuery) -> CostResult:
        result = self.inner.costs(query)
        self._notes.update(dict.fromkeys(result.notes))
        return result

    def notes(self) -> tuple[str, ...]:
        """Each note once, in the order they first came."""
        return tuple(self._notes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _span(period: Period) -> str:
    return Period(period.start, period.end).describe()


def _describe_rule(team: Team) -> str:
    parts = [f"{key}={value}" for key, value in sorted(team.tags.items())]
    if team.accounts:
        parts.append("accounts " + ", ".join(team.accounts))
    return " and ".join(parts) or "no tags or accounts"


Amounts = dict[str, dict[str, Decimal]]  # currency → key → amount
_NONE: tuple[Amounts, Amounts] = ({}, {})  # nothing to compare with


def check_grouping(by: str, *, across_teams: bool) -> None:
    """Refuses a grouping the questions cannot answer, so that a listener can refuse it
    before any cost is read: a dimension ``Dimension.parse`` does not know, or ``team``
    (allocation, not a column) for one team's or the untagged costs.

    Raises:
        UserInputError: what is wrong, with a grouping that works.
    """
    if by != TEAM:
        Dimension.parse(by)
    elif not across_teams:
        raise UserInputError(
            "Group by team only works across teams.", hint="Try `/cost top by team`."
        )


def _dimension(by: str) -> Dimension:
    """The dimension of a question about one team or the untagged costs."""
    check_grouping(by, across_teams=False)
    return Dimension.parse(by)


def _team_filter(team: Team) -> CostFilter:
    return CostFilter(tags=dict(team.tags), accounts=tuple(team.accounts))


def _team_lines(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team,
    period: Period,
    metric: Metric,
    dimension: Dimension,
) -> tuple[Amounts, Amounts]:
    """(direct by key, shared by name) per currency, from one allocation when possible."""
    allocation = _allocation(source, teams, shared, period, metric, (dimension,))
    if allocation is None:  # the source cannot group that finely (Cost Explorer: 2 at most)
        return _grouped(source, CostQuery(period, metric, _team_filter(team), (dimension,)))

    direct: Amounts = {}
    shares: Amounts = {}
    for currency, part in allocation.currencies.items():
        mine = part.teams.get(team.name)
        if mine is None:
            continue
        direct[currency] = {_key(key): amount for key, amount in mine.direct.items()}
        shares[currency] = dict(mine.shared)
    return direct, shares


def _by_team(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
) -> tuple[Amounts, Amounts]:
    allocation = _allocation(source, teams, shared, period, metric, ())
    if allocation is None:
        raise CostSourceError(
            "This cost source cannot group costs finely enough to allocate them by team."
        )
    amounts: Amounts = {}
    for currency, part in allocation.currencies.items():
        rows = {name: t.total for name, t in part.teams.items()}
        if part.untagged_total:
            rows[UNTAGGED] = part.untagged_total
        for split in part.unsplit_shared:
            rows[f"shared: {split.name} (not split)"] = split.amount
        amounts[currency] = rows
    return amounts, {}


def _untagged(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
    dimension: Dimension,
) -> tuple[Amounts, Amounts]:
    allocation = _allocation(source, teams, shared, period, metric, (dimension,))
    if allocation is None:
        raise CostSourceError(
            "This cost source cannot group costs finely enough to find untagged costs."
        )
    return {
        currency: {_key(key): amount for key, amount in part.untagged.items()}
        for currency, part in allocation.currencies.items()
    }, {}


def _allocation(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
    extra: tuple[Dimension, ...],
    cache: AllocationCache | None = None,
) -> Allocation | None:
    dimensions = allocation_dimensions(teams, shared) + extra
    if not _groups_finely(source, dimensions):
        return None
    result = source.costs(CostQuery(period, metric, CostFilter(), dimensions))
    return (cache or _ALLOCATIONS).allocate(result, teams, shared)


def _groups_finely(source: Source, dimensions: tuple[Dimension, ...]) -> bool:
    limit = source.max_dimensions
    return limit is None or len([d for d in dimensions if d.kind is not DimensionKind.DAY]) <= limit


_ALLOCATIONS = AllocationCache()
"""The cache of callers that hand in none (the CLI, tests); the bot hands in its own."""


def _grouped(source: Source, query: CostQuery) -> tuple[Amounts, Amounts]:
    amounts: Amounts = {}
    for group in source.costs(query).groups:
        rows = amounts.setdefault(group.currency, {})
        key = _key(group.key)
        rows[key] = rows.get(key, _ZERO) + group.amount
    return amounts, {}


def _key(key: tuple[str, ...]) -> str:
    return " · ".join(part or NO_VALUE for part in key) if key else NO_VALUE


def _per_day(result: CostResult) -> tuple[str, dict[dt.date, Decimal]]:
    totals = result.totals()
    currency = max(totals, key=lambda code: abs(totals[code])) if totals else DEFAULT_CURRENCY
    per_day: dict[dt.date, Decimal] = {}
    for group in result.groups:
        if group.currency == currency and group.key and group.key[0]:
            day = dt.date.fromisoformat(group.key[0][:10])
            per_day[day] = per_day.get(day, _ZERO) + group.amount
    return currency, per_day


def _answer(
    subject: str,
    period: Period,
    before: Period | None,
    metric: Metric,
    dimension: str,
    now: tuple[Amounts, Amounts],
    then: tuple[Amounts, Amounts],
    count: int,
    source: Source,
) -> Answer:
    direct_now, shared_now = now
    direct_then, shared_then = then
    currency = _main_currency(direct_now, shared_now, direct_then)
    rows_now = direct_now.get(currency, {})
    rows_then = direct_then.get(currency, {})
    by_day = dimension == DAY.label
    if by_day:  # days of two periods never share a key: list this period's, in date order
        lines = [Line(key, amount) for key, amount in sorted(rows_now.items()) if amount]
        count = 0
    else:
        lines = sorted(
            (
                Line(key, rows_now.get(key, _ZERO), rows_then.get(key, _ZERO))
                for key in rows_now.keys() | rows_then.keys()
                if rows_now.get(key) or rows_then.get(key)  # nothing now or then: not a line
            ),
            key=lambda line: (-line.amount, line.key),
        )
    shares = tuple(
        Line(f"shared: {name}", amount, shared_then.get(currency, {}).get(name, _ZERO))
        for name, amount in sorted(shared_now.get(currency, {}).items())
    )
    total = sum((line.amount for line in lines), _ZERO) + sum((s.amount for s in shares), _ZERO)
    previous_total = sum(rows_then.values(), _ZERO) + sum(
        shared_then.get(currency, {}).values(), _ZERO
    )
    kept = tuple(lines[:count]) if count else tuple(lines)
    others = sum((line.amount for line in lines[len(kept) :]), _ZERO)
    others_previous = sum((line.previous for line in lines[len(kept) :]), _ZERO)
    other_currencies = {
        code: sum(direct_now.get(code, {}).values(), _ZERO)
        + sum(shared_now.get(code, {}).values(), _ZERO)
        for code in (direct_now.keys() | shared_now.keys()) - {currency}
    }
    return Answer(
        subject=subject,
        period=period,
        previous_period=before,
        metric=metric,
        currency=currency,
        dimension=dimension,
        total=total,
        previous_total=previous_total,
        lines=kept,
        others=others,
        others_previous=others_previous,
        shared=shares,
        other_currencies={code: amount for code, amount in other_currencies.items() if amount},
        source=source.name,
        lines_compared=not by_day and before is not None,
    )


def _main_currency(*amounts: Amounts) -> str:
    totals: dict[str, Decimal] = {}
    for per_currency in amounts:
        for code, rows in per_currency.items():
            totals[code] = totals.get(code, _ZERO) + sum((abs(v) for v in rows.values()), _ZERO)
    return max(totals, key=lambda code: totals[code]) if totals else DEFAULT_CURRENCY

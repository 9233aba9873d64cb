"""The questions people ask costbot, answered from a cost source and the teams file.

Each function is pure apart from the source it is handed: it takes the period and the
clock's ``today`` as arguments and returns a frozen result (``engines.costs.answers``) that
builders render and the CLI prints as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from engines.costs.allocation_cache import AllocationCache
from engines.costs.answers import (
    DAY,
    DEFAULT_CURRENCY,
    TEAM,
    UNTAGGED,
    Answer,
    ForecastAnswer,
    Trend,
    TrendUnit,
    trend_unit,
)
from engines.costs.asking import (
    NO_COMPARISON,
    Amounts,
    NotingSource,
    allocated,
    ask_about,
    before_today,
    build_answer,
    costs_by_team,
    coverage_notes,
    data_coverage,
    describe_rule,
    dimension_of,
    grouped_amounts,
    per_day_costs,
    team_filter,
    team_lines,
    untagged_amounts,
)
from engines.costs.coverage import (
    MAX_PERIOD_DAYS,
    bound_period,
    fair_comparison,
)
from engines.costs.month_view import month_view
from engines.costs.query import CostQuery, Dimension
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import Source
from engines.errors import CostSourceError
from engines.models import Metric, Period, SharedCost, Team

_ZERO = Decimal(0)
_ONE_DAY = dt.timedelta(days=1)


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
    cache: AllocationCache | None = None,
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
    dimension = dimension_of(by)
    source, fair, notes = ask_about(source, period, today)
    period, before = fair.period, fair.previous
    now = team_lines(source, teams, shared, team, period, metric, dimension, cache)
    then = (
        team_lines(source, teams, shared, team, before, metric, dimension, cache)
        if before
        else NO_COMPARISON
    )
    answer = build_answer(
        team.name, period, before, metric, dimension.label, now, then, count, source
    )
    notes += fair.notes + source.notes()
    if not answer.total and not answer.lines:
        notes += (
            f"No costs matched {team.name}'s rule ({describe_rule(team)}) in this period: "
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
    cache: AllocationCache | None = None,
) -> Answer:
    """The biggest costs across the organisation, by team (allocated) or by a dimension.

    Compared as ``team_cost`` is (``today`` likewise)."""
    source, fair, notes = ask_about(source, period, today)
    period, before = fair.period, fair.previous
    then: tuple[Amounts, Amounts] = NO_COMPARISON
    if by == TEAM:
        now = costs_by_team(source, teams, shared, period, metric, cache)
        if before:
            then = costs_by_team(source, teams, shared, before, metric, cache)
    else:
        dimension = Dimension.parse(by)
        now = grouped_amounts(source, CostQuery(period, metric, CostFilter(), (dimension,)))
        if before:
            then = grouped_amounts(source, CostQuery(before, metric, CostFilter(), (dimension,)))
    answer = build_answer("all teams", period, before, metric, by, now, then, count, source)
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
    cache: AllocationCache | None = None,
) -> Answer:
    """Cost that no team or shared rule claims, grouped by a dimension (compared as
    ``team_cost`` is)."""
    dimension = dimension_of(by)
    source, fair, notes = ask_about(source, period, today)
    period, before = fair.period, fair.previous
    now = untagged_amounts(source, teams, shared, period, metric, dimension, cache)
    then = (
        untagged_amounts(source, teams, shared, before, metric, dimension, cache)
        if before
        else NO_COMPARISON
    )
    answer = build_answer(
        UNTAGGED, period, before, metric, dimension.label, now, then, count, source
    )
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
    cache: AllocationCache | None = None,
) -> Answer:
    """Two periods side by side, lines ordered by how much they moved (biggest first).

    Both are cut at the last day with data; when a day of either falls outside the data
    there is no change figure (``engines.costs.coverage.fair_comparison``); across all teams when
    ``team`` is None."""
    dimension = dimension_of(by)
    source = NotingSource(source)
    coverage = data_coverage(source, today)
    notes = coverage_notes(coverage, current)
    current, capped = bound_period(before_today(current, today), coverage)
    baseline, capped_before = bound_period(baseline, None)  # capped, not clipped: compared fairly
    notes += capped + capped_before
    fair = fair_comparison(current, coverage, baseline=baseline)
    current, before = fair.period, fair.previous
    then: tuple[Amounts, Amounts] = NO_COMPARISON
    if team is not None:
        now = team_lines(source, teams, shared, team, current, metric, dimension, cache)
        if before:
            then = team_lines(source, teams, shared, team, before, metric, dimension, cache)
        subject = team.name
    else:
        now = grouped_amounts(source, CostQuery(current, metric, CostFilter(), (dimension,)))
        if before:
            then = grouped_amounts(source, CostQuery(before, metric, CostFilter(), (dimension,)))
        subject = "all teams"
    answer = build_answer(subject, current, before, metric, dimension.label, now, then, 0, source)
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
    cache: AllocationCache | None = None,
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
    notes = coverage_notes(coverage, period)
    period, capped = bound_period(before_today(period, today), coverage, max_days=max_days)
    currency, per_day = _allocated_per_day(source, teams, shared, team, period, metric, cache)
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
    cache: AllocationCache | None,
) -> tuple[str, dict[dt.date, Decimal]]:
    """A team's cost per day, its share of shared costs included, shared costs split month
    by month as the month view splits them, so a month's bars add up to its month to date."""
    currency, per_day = DEFAULT_CURRENCY, dict[dt.date, Decimal]()
    for month in _calendar_months(period):
        currency, days = _allocated_days(source, teams, shared, team, month, metric, cache)
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
    cache: AllocationCache | None,
) -> tuple[str, dict[dt.date, Decimal]]:
    allocation = allocated(source, teams, shared, period, metric, (DAY,), cache)
    if allocation is None:
        return per_day_costs(source.costs(CostQuery(period, metric, team_filter(team), (DAY,))))
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
    cache: AllocationCache | None = None,
) -> ForecastAnswer:
    """Spend to the end of this month, from the team's month view
    (``engines.costs.month_view``): month to date through the last complete day, shared costs
    included, plus Cost Explorer's own forecast where the source has one, otherwise a
    stated trend or run-rate (``engines.costs.forecast``).

    Raises:
        CostSourceError: there is no forecast (too little history, nothing to forecast);
            the message says why.
    """
    view = month_view(source, teams, shared, today=today, team=team, metric=metric, cache=cache)
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

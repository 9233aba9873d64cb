"""How a cost question asks its source: the days the data covers, the period bounded and
compared fairly, the grouping checked, the costs allocated to teams (or grouped directly where
the source cannot group finely enough) and summed into an ``Answer``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from engines.costs.allocation import Allocation, allocation_dimensions
from engines.costs.allocation_cache import AllocationCache
from engines.costs.answers import DAY, DEFAULT_CURRENCY, NO_VALUE, TEAM, UNTAGGED, Answer, Line
from engines.costs.coverage import (
    Comparison,
    Coverage,
    bound_period,
    coverage_up_to_yesterday,
    fair_comparison,
)
from engines.costs.query import CostQuery, CostResult, Dimension, DimensionKind
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import CoveringSource, Source
from engines.errors import CostSourceError, PeriodNotCoveredError, UserInputError
from engines.models import Metric, Period, SharedCost, Team
from engines.words import source_name

_ZERO = Decimal(0)
EXPECTED_LAG = dt.timedelta(days=2)
_SOURCE_DATA = {"ce": "AWS Cost Explorer data", "athena": source_name("athena")}


def data_coverage(source: Source, today: dt.date | None = None) -> Coverage | None:
    """What ``source``'s data covers: its own answer (billing files), else every day up to
    yesterday when ``today`` is known (Cost Explorer), else None (unknown)."""
    if isinstance(source, NotingSource):
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
    return coverage_notes(data_coverage(source), period)


def coverage_notes(covered: Coverage | None, period: Period) -> tuple[str, ...]:
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


def before_today(period: Period, today: dt.date | None) -> Period:
    """``period`` without today and later when it holds today: today's costs are still
    arriving, so an answer about "now" runs through yesterday, as the month view's month to
    date does (``engines.costs.month_view``)."""
    if today is not None and period.start < today < period.end:
        return replace(period, end=today)
    return period


def ask_about(
    source: Source, period: Period, today: dt.date | None
) -> tuple[NotingSource, Comparison, tuple[str, ...]]:
    """What a question about ``period`` answers: the period clipped to the data and capped,
    compared over the days covered on both sides; with the source that keeps its notes, and
    the notes on coverage and the cap so far."""
    source = NotingSource(source)
    coverage = data_coverage(source, today)
    notes = coverage_notes(coverage, period)
    period, capped = bound_period(before_today(period, today), coverage)
    return source, fair_comparison(period, coverage), notes + capped


class NotingSource:
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


def describe_rule(team: Team) -> str:
    parts = [f"{key}={value}" for key, value in sorted(team.tags.items())]
    if team.accounts:
        parts.append("accounts " + ", ".join(team.accounts))
    return " and ".join(parts) or "no tags or accounts"


Amounts = dict[str, dict[str, Decimal]]  # currency → key → amount
NO_COMPARISON: tuple[Amounts, Amounts] = ({}, {})  # nothing to compare with


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


def dimension_of(by: str) -> Dimension:
    """The dimension of a question about one team or the untagged costs."""
    check_grouping(by, across_teams=False)
    return Dimension.parse(by)


def team_filter(team: Team) -> CostFilter:
    return CostFilter(tags=dict(team.tags), accounts=tuple(team.accounts))


def team_lines(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team,
    period: Period,
    metric: Metric,
    dimension: Dimension,
    cache: AllocationCache | None = None,
) -> tuple[Amounts, Amounts]:
    """(direct by key, shared by name) per currency, from one allocation when possible."""
    allocation = allocated(source, teams, shared, period, metric, (dimension,), cache)
    if allocation is None:  # the source cannot group that finely (Cost Explorer: 2 at most)
        return grouped_amounts(source, CostQuery(period, metric, team_filter(team), (dimension,)))

    direct: Amounts = {}
    shares: Amounts = {}
    for currency, part in allocation.currencies.items():
        mine = part.teams.get(team.name)
        if mine is None:
            continue
        direct[currency] = {_key(key): amount for key, amount in mine.direct.items()}
        shares[currency] = dict(mine.shared)
    return direct, shares


def costs_by_team(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
    cache: AllocationCache | None = None,
) -> tuple[Amounts, Amounts]:
    allocation = allocated(source, teams, shared, period, metric, (), cache)
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


def untagged_amounts(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
    dimension: Dimension,
    cache: AllocationCache | None = None,
) -> tuple[Amounts, Amounts]:
    allocation = allocated(source, teams, shared, period, metric, (dimension,), cache)
    if allocation is None:
        raise CostSourceError(
            "This cost source cannot group costs finely enough to find untagged costs."
        )
    return {
        currency: {_key(key): amount for key, amount in part.untagged.items()}
        for currency, part in allocation.currencies.items()
    }, {}


def allocated(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    period: Period,
    metric: Metric,
    extra: tuple[Dimension, ...],
    cache: AllocationCache | None = None,
) -> Allocation | None:
    dimensions = allocation_dimensions(teams, shared) + extra
    if not groups_finely(source, dimensions):
        return None
    result = source.costs(CostQuery(period, metric, CostFilter(), dimensions))
    # No cache handed in (a one-off question from the CLI or a test): nothing to remember.
    return (cache if cache is not None else AllocationCache()).allocate(result, teams, shared)


def groups_finely(source: Source, dimensions: tuple[Dimension, ...]) -> bool:
    limit = source.max_dimensions
    return limit is None or len([d for d in dimensions if d.kind is not DimensionKind.DAY]) <= limit


def grouped_amounts(source: Source, query: CostQuery) -> tuple[Amounts, Amounts]:
    amounts: Amounts = {}
    for group in source.costs(query).groups:
        rows = amounts.setdefault(group.currency, {})
        key = _key(group.key)
        rows[key] = rows.get(key, _ZERO) + group.amount
    return amounts, {}


def _key(key: tuple[str, ...]) -> str:
    return " · ".join(part or NO_VALUE for part in key) if key else NO_VALUE


def per_day_costs(result: CostResult) -> tuple[str, dict[dt.date, Decimal]]:
    totals = result.totals()
    currency = max(totals, key=lambda code: abs(totals[code])) if totals else DEFAULT_CURRENCY
    per_day: dict[dt.date, Decimal] = {}
    for group in result.groups:
        if group.currency == currency and group.key and group.key[0]:
            day = dt.date.fromisoformat(group.key[0][:10])
            per_day[day] = per_day.get(day, _ZERO) + group.amount
    return currency, per_day


def build_answer(
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
    currency = main_currency(direct_now, shared_now, direct_then)
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


def main_currency(*amounts: Amounts) -> str:
    totals: dict[str, Decimal] = {}
    for per_currency in amounts:
        for code, rows in per_currency.items():
            totals[code] = totals.get(code, _ZERO) + sum((abs(v) for v in rows.values()), _ZERO)
    return max(totals, key=lambda code: totals[code]) if totals else DEFAULT_CURRENCY

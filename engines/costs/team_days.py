"""A team's cost by day (and by a dimension), shared costs included: what the digests
read, every team's days from one allocation in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from engines.costs.allocation import SharedSplit, allocation_dimensions, direct_costs
from engines.costs.allocation_cache import AllocationCache
from engines.costs.answers import DAY, DEFAULT_CURRENCY, NO_VALUE, TeamDays
from engines.costs.asking import (
    Amounts,
    check_coverage,
    dimension_of,
    grouped_amounts,
    groups_finely,
    main_currency,
    team_filter,
)
from engines.costs.ownership import combination_owner
from engines.costs.query import CostQuery, CostResult
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import OwnerSummingSource, Source
from engines.models import Metric, Period, SharedCost, Team

_ZERO = Decimal(0)


def team_daily_costs(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    team: Team,
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
        team: the team (``engines.config.teams.find_team`` finds it by name).
        by: the dimension each day is broken down by; "" for none (a team's own cost is
            then the key ``NO_VALUE``, each shared cost ``shared: <name>``).
        with_shared: False: the team's own cost lines only.
        currency: the currency to read (""): the one with the largest total).
        cache: where allocations are remembered (the bot's); None: a default one.
    """
    extra = (DAY,) if not by else (DAY, dimension_of(by))
    check_coverage(source, period)
    dimensions = allocation_dimensions(teams, shared) + extra
    if not groups_finely(source, dimensions):
        query = CostQuery(period, metric, team_filter(team), extra)
        amounts, _ = grouped_amounts(source, query)
        currency = currency or main_currency(amounts)
        days: dict[dt.date, dict[str, Decimal]] = {}
        for key, amount in amounts.get(currency, {}).items():
            day_text, _, rest = key.partition(" · ")
            _add_day(days, day_text, rest or NO_VALUE, amount)
        return TeamDays(team.name, period, metric, currency, days, source.name)
    remembered = cache if cache is not None else AllocationCache()
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
        # Remembered while the data is the same: the rollup's generation, or else the
        # source's answer itself (sources hand back the same object until the data changes).
        answer: CostResult | None = None
        anchor: object = source
        if isinstance(source, OwnerSummingSource):
            data = f"generation {source.generation}"
        else:
            answer = anchor = source.costs(query)
            data = "its answer"
        every = remembered.derived(
            (anchor, teams, shared),
            f"every team's own days: {query.cache_key()}, in {currency}, from {data}",
            lambda: _every_team_own_days(source, teams, shared, query, currency, answer),
        )  # fmt: skip
    return every[team.name]


def _every_team_own_days(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    query: CostQuery,
    currency: str,
    answer: CostResult | None = None,
) -> dict[str, TeamDays]:
    """Every team's own cost lines by day and a dimension: summed by team in the source's
    database where it can (the rollup), else from its answer, allocated here."""
    period, metric = query.period, query.metric
    owned = None
    if isinstance(source, OwnerSummingSource):
        width = len(allocation_dimensions(teams, shared))
        owned = source.owned_daily_costs(query, combination_owner(teams, shared), owner_width=width)
    if owned is None:
        result = answer if answer is not None else source.costs(query)
        currency = currency or main_currency(_grouped_totals(result))
        direct = direct_costs(result, teams=teams, shared=shared)
        return _every_team_days(direct, {}, teams, currency, period, metric, source.name)
    if not currency:
        totals = {code: {"": sum((a for d in o.values() for r in d.values() for a in r.values()),
                                 _ZERO)} for code, o in owned.items()}  # fmt: skip
        currency = main_currency(totals)
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
    extra = (DAY,) if not by else (DAY, dimension_of(by))
    return groups_finely(source, allocation_dimensions(teams, shared) + extra)


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

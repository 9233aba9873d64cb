"""A cost source over a few lines written in the test: (day, team, service, amount).

It answers ``costs(CostQuery)`` for the dimensions digests use (tag:team, day, service),
so tests can shape spend exactly (a spike, a quiet week) and know every total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from engines.costs.query import CostGroup, CostQuery, CostResult, DimensionKind


@dataclass
class DailyCosts:
    lines: list[tuple[dt.date, str, str, Decimal]] = field(default_factory=list)
    name: str = "test lines"
    max_dimensions: int | None = None

    def add(self, day: dt.date, team: str, service: str, amount: str | Decimal) -> None:
        self.lines.append((day, team, service, Decimal(amount)))

    def every_day(self, first: dt.date, last: dt.date, team: str, service: str, amount: str):
        day = first
        while day <= last:
            self.add(day, team, service, amount)
            day += dt.timedelta(days=1)

    def total(self, team: str, first: dt.date, end: dt.date) -> Decimal:
        return sum((a for d, t, _, a in self.lines if t == team and first <= d < end), Decimal(0))

    def costs(self, query: CostQuery) -> CostResult:
        sums: dict[tuple[str, ...], Decimal] = {}
        wanted = query.cost_filter.tags.get("team")
        for day, team, service, amount in self.lines:
            if not query.period.start <= day < query.period.end:
                continue
            if wanted is not None and team != wanted:
                continue
            key = tuple(_value(kind.kind, day, team, service) for kind in query.group_by)
            sums[key] = sums.get(key, Decimal(0)) + amount
        groups = tuple(CostGroup(key, "USD", amount) for key, amount in sums.items())
        return CostResult(query, groups, self.name)


def _value(kind: DimensionKind, day: dt.date, team: str, service: str) -> str:
    if kind is DimensionKind.DAY:
        return day.isoformat()
    if kind is DimensionKind.TAG:
        return team
    if kind is DimensionKind.SERVICE:
        return service
    raise ValueError(f"the test source cannot group by {kind}")

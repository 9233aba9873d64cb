"""A team's cost over a period next to the period before: the answer behind "/cost <team>".

Figures of one metric only, and currencies are never added together: the headline is in the
team's largest currency, and ``by_currency`` lists every currency when there are several.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from engines.models import CostBreakdown, Metric, Period, Team
from engines.periods import previous_period
from engines.sources.base import CostFilter, CostSource

DEFAULT_CURRENCY = "USD"
"""The headline currency when neither period has any cost at all."""

_ZERO = Decimal("0")
_PERCENT_STEP = Decimal("0.01")


class ServiceCost(NamedTuple):
    """One service's cost in the period and in the period before (0 when it had none)."""

    service: str
    amount: Decimal
    previous_amount: Decimal


@dataclass(frozen=True)
class TeamCostSummary:
    """A team's cost in one currency and metric, compared with the previous period.

    ``change_pct`` is relative to the previous total (rounded to 0.01) and ``None`` when
    the previous total is zero. ``by_currency`` holds the total per currency only when
    several currencies appear in the period; the other figures are in ``currency``.
    """

    team_name: str
    period: Period
    previous_period: Period
    metric: Metric
    currency: str
    total: Decimal
    previous_total: Decimal
    change: Decimal
    change_pct: Decimal | None
    top_services: tuple[ServiceCost, ...]
    other_services_total: Decimal
    source: str
    by_currency: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def other_currencies(self) -> tuple[str, ...]:
        """Currencies with costs that the headline figures leave out."""
        return tuple(code for code in self.by_currency if code != self.currency)


def summarize_team_cost(
    source: CostSource,
    team: Team,
    period: Period,
    *,
    metric: Metric = Metric.BILLED,
    top_n: int = 5,
) -> TeamCostSummary:
    """Ask ``source`` for the team's cost in ``period`` and in the period before.

    Args:
        source: where costs come from (Cost Explorer, FOCUS files, ...).
        team: whose costs; its tags and accounts become the filter.
        period: the period to report; the comparison is ``previous_period(period)``.
        metric: which cost type; never mixed with another.
        top_n: how many services to list by name; the rest add up to ``other_services_total``.

    Raises:
        CostSourceError: the source could not answer.
    """
    if top_n < 0:
        raise ValueError(f"top_n must be 0 or more, got {top_n}")
    cost_filter = CostFilter(tags=dict(team.tags), accounts=tuple(team.accounts))
    earlier = previous_period(period)
    current = source.cost_by_service(period=period, cost_filter=cost_filter, metric=metric)
    previous = source.cost_by_service(period=earlier, cost_filter=cost_filter, metric=metric)

    currency = _headline_currency(current.totals(), previous.totals())
    amounts = _amounts_by_service(current, currency)
    previous_amounts = _amounts_by_service(previous, currency)
    total = sum(amounts.values(), _ZERO)
    previous_total = sum(previous_amounts.values(), _ZERO)
    top_services = _top_services(amounts, previous_amounts, top_n)
    return TeamCostSummary(
        team_name=team.name,
        period=period,
        previous_period=earlier,
        metric=metric,
        currency=currency,
        total=total,
        previous_total=previous_total,
        change=total - previous_total,
        change_pct=_change_pct(total, previous_total),
        top_services=top_services,
        other_services_total=total - sum((s.amount for s in top_services), _ZERO),
        source=source.name,
        by_currency=_several_currencies(current.totals()),
    )


def _headline_currency(totals: dict[str, Decimal], previous_totals: dict[str, Decimal]) -> str:
    """The currency with the largest total now (or before, when there is nothing now)."""
    for candidates in (totals, previous_totals):
        if candidates:
            return max(sorted(candidates), key=lambda code: candidates[code])
    return DEFAULT_CURRENCY


def _amounts_by_service(breakdown: CostBreakdown, currency: str) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in breakdown.lines:
        if line.currency == currency:
            amounts[line.service] = amounts.get(line.service, _ZERO) + line.amount
    return amounts


def _top_services(
    amounts: dict[str, Decimal], previous_amounts: dict[str, Decimal], top_n: int
) -> tuple[ServiceCost, ...]:
    ranked = sorted(amounts.items(), key=lambda item: (-item[1], item[0]))[:top_n]
    return tuple(
        ServiceCost(service, amount, previous_amounts.get(service, _ZERO))
        for service, amount in ranked
    )


def _change_pct(total: Decimal, previous_total: Decimal) -> Decimal | None:
    if previous_total == 0:
        return None
    return ((total - previous_total) / abs(previous_total) * 100).quantize(_PERCENT_STEP)


def _several_currencies(totals: dict[str, Decimal]) -> dict[str, Decimal]:
    if len(totals) < 2:
        return {}
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

"""Budget alerts: which thresholds a team's spend has crossed, each once per budget period.

Pure: it takes a team and its ``TeamFigures`` (``engines.digests.digest``), whose month to date and
forecast are the team's month view (``engines.costs.month_view``), and says which alerts hold
now. Each alert has a key that names its period; whoever sends alerts records the key
(costbot's outbox does, atomically), so an alert that still holds tomorrow is not sent
again. Three kinds:

* ``budget``: month-to-date spend has reached a threshold (default 50, 80 and 100%) of the
  monthly budget. The period is the month.
* ``forecast``: the month-end forecast reaches a threshold (default 100%) of the budget.
  The period is the month.
* ``spend_change``: the last complete day's spend exceeds its 7-day average by more than
  a percentage (default 50%). The period is that day.

When several budget thresholds are crossed at once (a quiet weekend, then a big bill),
only the highest is worth a message: ``alerts_to_send`` keeps it and marks the lower ones
as superseded, so they are recorded and never sent later either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engines.digests.digest import TeamFigures
from engines.models import Team

_CENT = Decimal("0.01")


class AlertKind(StrEnum):
    BUDGET = "budget"
    FORECAST = "forecast"
    SPEND_CHANGE = "spend_change"


@dataclass(frozen=True)
class Alert:
    """One alert that holds: what crossed which threshold, in which period."""

    team: str
    kind: AlertKind
    threshold: Decimal  # percent
    period: str  # 2026-11 (a month) or 2026-11-19 (a day)
    amount: Decimal  # the spend, forecast or day's cost
    reference: Decimal  # the budget, or the 7-day average
    currency: str
    method: str = ""  # how a forecast was made (``MonthEndForecast.method``); else empty
    data_through: dt.date | None = None  # budget and forecast: the month view's last day

    @property
    def key(self) -> str:
        """The alert's idempotency key: once per team, kind, threshold and period."""
        return f"alert:{self.team}:{self.kind.value}:{percent_text(self.threshold)}:{self.period}"

    @property
    def percent_of_reference(self) -> Decimal:
        if not self.reference:
            return Decimal(0)
        return (self.amount / self.reference * 100).quantize(_CENT)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "team": self.team,
            "kind": self.kind.value,
            "threshold_pct": percent_text(self.threshold),
            "period": self.period,
            "amount": str(self.amount.quantize(_CENT)),
            "reference": str(self.reference.quantize(_CENT)),
            "currency": self.currency,
            "data_through": self.data_through.isoformat() if self.data_through else None,
        }


def percent_text(percent: Decimal) -> str:
    """``50``, ``87.5``: a threshold as people write it."""
    return format(percent.normalize(), "f")


def evaluate_alerts(team: Team, figures: TeamFigures) -> list[Alert]:
    """Every alert whose condition holds for ``figures`` (sent or not)."""
    alerts: list[Alert] = []
    budget = team.monthly_budget
    month = figures.month_label
    if budget:
        for threshold in team.budget_alerts:
            if figures.month_to_date >= budget * threshold / 100:
                alerts.append(
                    Alert(
                        team.name,
                        AlertKind.BUDGET,
                        threshold,
                        month,
                        figures.month_to_date,
                        budget,
                        figures.currency,
                        data_through=figures.data_through,
                    )
                )
        forecast = figures.forecast
        limit = team.forecast_alert
        if forecast is not None and limit is not None and forecast.amount >= budget * limit / 100:
            alerts.append(
                Alert(
                    team.name,
                    AlertKind.FORECAST,
                    limit,
                    month,
                    forecast.amount,
                    budget,
                    figures.currency,
                    forecast.method,
                    data_through=figures.data_through,
                )
            )
    change = team.spend_change_alert
    if change is not None and figures.day is not None and _jumped(figures, change):
        alerts.append(
            Alert(
                team.name,
                AlertKind.SPEND_CHANGE,
                change,
                figures.day.isoformat(),
                figures.day_cost,
                figures.average,
                figures.currency,
            )
        )
    return alerts


def _jumped(figures: TeamFigures, percent: Decimal) -> bool:
    return figures.average > 0 and figures.day_cost > figures.average * (1 + percent / 100)


@dataclass(frozen=True)
class AlertPlan:
    send: tuple[Alert, ...]
    superseded: tuple[Alert, ...]  # crossed together with a higher threshold: record only


def alerts_to_send(alerts: Sequence[Alert], *, already_sent: Callable[[str], bool]) -> AlertPlan:
    """The new alerts to send, and the ones a higher threshold supersedes."""
    new = [alert for alert in alerts if not already_sent(alert.key)]
    budget = [alert for alert in new if alert.kind is AlertKind.BUDGET]
    highest = max(budget, key=lambda alert: alert.threshold, default=None)
    superseded = tuple(alert for alert in budget if alert is not highest)
    send = tuple(alert for alert in new if alert not in superseded)
    return AlertPlan(send=send, superseded=superseded)

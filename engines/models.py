"""Frozen dataclasses shared by the engines. Money is ``Decimal`` end to end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, TypeAlias


class Metric(StrEnum):
    """Which cost type a figure is. Never add figures of different metrics."""

    BILLED = "billed"  # Cost Explorer UnblendedCost / FOCUS BilledCost
    EFFECTIVE = "effective"  # Cost Explorer NetAmortizedCost / FOCUS EffectiveCost
    LIST = "list"  # FOCUS ListCost (Cost Explorer has no list price metric)

    @property
    def label(self) -> str:
        return {
            Metric.BILLED: "billed cost (unblended)",
            Metric.EFFECTIVE: "effective cost (net amortized)",
            Metric.LIST: "list cost (on-demand prices)",
        }[self]


@dataclass(frozen=True)
class Period:
    """A half-open range of days: ``start`` inclusive, ``end`` exclusive (as Cost Explorer).

    ``rolling`` marks a window counted back from today ("last 7d"): it is compared with the
    window of the same length before it, even when it happens to cover whole months.
    """

    start: dt.date
    end: dt.date
    label: str = ""
    rolling: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"period end {self.end} must be after start {self.start}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def describe(self) -> str:
        last = self.end - dt.timedelta(days=1)
        if self.start == last:
            span = self.start.strftime("%b %-d, %Y")
        elif self.start.year == last.year:
            span = f"{self.start.strftime('%b %-d')} – {last.strftime('%b %-d, %Y')}"
        else:
            span = f"{self.start.strftime('%b %-d, %Y')} – {last.strftime('%b %-d, %Y')}"
        return f"{span} ({self.label})" if self.label else span


@dataclass(frozen=True)
class Team:
    """One team from the teams file. A resource is the team's when all ``tags`` match."""

    name: str
    tags: dict[str, str]
    channel: str
    approvers: tuple[str, ...] = ()
    monthly_budget: Decimal | None = None
    timezone: str = "UTC"
    accounts: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    digest_time: dt.time = dt.time(9, 0)  # local time of the daily digest
    digest_weekends: bool = False  # also post the digest on Saturday and Sunday
    weekly_digest: bool = True  # Monday's digest also covers last week
    budget_alerts: tuple[Decimal, ...] = (Decimal(50), Decimal(80), Decimal(100))  # % of budget
    forecast_alert: Decimal | None = Decimal(100)  # % of budget the month-end forecast may reach
    spend_change_alert: Decimal | None = Decimal(50)  # % a day may exceed its 7-day average
    require_second_approver: bool = False  # four-eyes: a first approval needs a second one


SplitRule: TypeAlias = Literal["proportional", "even"] | dict[str, Decimal]
"""How a shared cost is divided: by the teams' direct cost, equally, or fixed percentages."""


@dataclass(frozen=True)
class SharedCost:
    """A cost several teams share (a platform, a shared account), from ``[shared.<name>]``.

    A line is this shared cost's when all ``tags`` match and, if ``accounts`` is given, its
    account is one of them (the same rule as a team's, and as ``CostFilter``).

    Args:
        name: the table's name, e.g. ``platform``.
        tags: cost allocation tags that all must match.
        accounts: account ids (AWS ones, or any provider's for a FOCUS source); the line's
            account must be one of them.
        split: ``"proportional"`` (to each team's direct cost), ``"even"``, or fixed
            percentages by team name (summing to 100).
        among: the teams that share it, in order; empty means every team. With fixed
            percentages it is the percentages' teams.
    """

    name: str
    tags: dict[str, str]
    accounts: tuple[str, ...] = ()
    split: SplitRule = "proportional"
    among: tuple[str, ...] = ()


@dataclass(frozen=True)
class CostLine:
    """The cost of one service in one currency over a period."""

    service: str
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class CostBreakdown:
    """What a cost source answers: cost by service for a filter, period and metric."""

    period: Period
    metric: Metric
    lines: tuple[CostLine, ...] = field(default_factory=tuple)
    source: str = ""

    def totals(self) -> dict[str, Decimal]:
        """Total per currency (currencies are never added together)."""
        result: dict[str, Decimal] = {}
        for line in self.lines:
            result[line.currency] = result.get(line.currency, Decimal("0")) + line.amount
        return result


@dataclass(frozen=True)
class AccountAccess:
    """How costbot reaches another AWS account: a role to assume, in these regions."""

    account_id: str
    role_arn: str
    regions: tuple[str, ...] = ()
    external_id: str = ""


@dataclass(frozen=True)
class AuditResult:
    """The latest audit records of a team (or of every team), newest first."""

    subject: str
    records: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        return {"team": self.subject, "groups": list(self.records)}

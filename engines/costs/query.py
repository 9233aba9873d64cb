"""The general cost question every source answers: filter, period, metric, grouping.

``cost_by_service`` (the first question costbot asked) is one case of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from engines.costs.sources.base import CostFilter
from engines.errors import UserInputError
from engines.models import Metric, Period
from engines.words import echo


class DimensionKind(StrEnum):
    SERVICE = "service"
    ACCOUNT = "account"
    REGION = "region"
    RESOURCE = "resource"
    DAY = "day"
    CHARGE_CATEGORY = "charge_category"
    TAG = "tag"


@dataclass(frozen=True)
class Dimension:
    """What to group by. ``tag_key`` only for ``TAG`` (``tag:team``)."""

    kind: DimensionKind
    tag_key: str = ""

    def __post_init__(self) -> None:
        if (self.kind is DimensionKind.TAG) != bool(self.tag_key):
            raise ValueError("a tag dimension needs a tag key, and only a tag dimension has one")

    @property
    def label(self) -> str:
        return f"tag:{self.tag_key}" if self.kind is DimensionKind.TAG else self.kind.value

    @classmethod
    def parse(cls, text: str) -> Dimension:
        """``service``, ``account``, ``region``, ``resource``, ``day`` or ``tag:<key>``."""
        word = text.strip()
        if word.lower().startswith("tag:") and len(word) > 4:
            return cls(DimensionKind.TAG, word[4:])
        try:
            return cls(DimensionKind(word.lower()))
        except ValueError:
            choices = "service, account, region, resource, day, tag:<key>"
            raise UserInputError(
                f"I can't group by '{echo(word)}'.", hint=f"Group by one of: {choices}."
            ) from None


SERVICE = Dimension(DimensionKind.SERVICE)
UNKNOWN_KEY = ""  # a line with no value for a dimension (no tag, no resource id, ...)


@dataclass(frozen=True)
class CostQuery:
    """One question to a cost source.

    Args:
        period: the days (half-open).
        metric: which cost type to sum.
        cost_filter: which lines (tags AND, accounts); empty = everything.
        group_by: the dimensions of each group, in order; empty = one total per currency.
    """

    period: Period
    metric: Metric = Metric.BILLED
    cost_filter: CostFilter = field(default_factory=CostFilter)
    group_by: tuple[Dimension, ...] = (SERVICE,)

    def cache_key(self) -> tuple[object, ...]:
        return (
            self.period.start,
            self.period.end,
            self.metric.value,
            tuple(sorted(self.cost_filter.tags.items())),
            tuple(sorted(self.cost_filter.accounts)),
            self.cost_filter.resource_contains,
            tuple(d.label for d in self.group_by),
        )


@dataclass(frozen=True)
class CostGroup:
    """The cost of one group in one currency. ``key`` has one value per dimension."""

    key: tuple[str, ...]
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class CostResult:
    """A source's answer. Groups are sorted by amount, largest first.

    ``notes``: what a person should know about how the data answered, e.g. that an export
    has no ``Tags`` column (so every cost is untagged); questions pass them on to answers.
    """

    query: CostQuery
    groups: tuple[CostGroup, ...]
    source: str
    notes: tuple[str, ...] = ()

    def totals(self) -> dict[str, Decimal]:
        """Total per currency (never added across currencies)."""
        result: dict[str, Decimal] = {}
        for group in self.groups:
            result[group.currency] = result.get(group.currency, Decimal(0)) + group.amount
        return result

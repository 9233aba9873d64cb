"""The one interface every cost source implements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from engines.models import CostBreakdown, Metric, Period


@dataclass(frozen=True)
class CostFilter:
    """Which costs to include. Empty means everything.

    ``tags``: a line matches when every key has exactly that value (AND).
    ``accounts``: a line matches when its account id is one of these.
    """

    tags: dict[str, str] = field(default_factory=dict)
    accounts: tuple[str, ...] = ()


class CostSource(Protocol):
    """Answers "how much, by service" for a filter, a period and a metric."""

    name: str

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        """Cost per (service, currency) over ``period``; raises ``CostSourceError``."""
        ...


class ResponseCache(Protocol):
    """Remembers a source's raw answers by request, so repeated questions cost nothing.

    Values are JSON-serialisable. ``get`` returns None when there is no entry younger
    than ``max_age`` at ``now``.
    """

    def get(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None: ...

    def put(self, key: str, value: Any, *, now: dt.datetime) -> None: ...

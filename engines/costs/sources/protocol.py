"""What a cost source is, as types: every source answers ``costs``; some also say which
days their data covers (billing files) or forecast on their own (Cost Explorer).

The questions, the month view and the digests take a ``Source``; the composition root
hands in Cost Explorer, billing files, their rollup or Athena, and tests a few lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from engines.costs.coverage import Coverage
    from engines.costs.forecast_models import Forecast
    from engines.costs.query import CostQuery, CostResult
    from engines.costs.sources.base import CostFilter
    from engines.models import Metric


class Source(Protocol):
    """What every cost source answers.

    Attributes:
        name: short and stable (``ce``, ``focus``, ``cur``, ``athena``); answers say it.
        max_dimensions: how many dimensions besides the day one query may group by
            (Cost Explorer: 2); None when there is no such limit.
    """

    name: str

    @property
    def max_dimensions(self) -> int | None: ...

    def costs(self, query: CostQuery) -> CostResult: ...


@runtime_checkable
class CoveringSource(Protocol):
    """A source that knows which days its data covers (billing files, their rollup)."""

    def coverage(self) -> Coverage | None: ...


@runtime_checkable
class ForecastingSource(Protocol):
    """A source with a forecast of its own (Cost Explorer)."""

    def forecast(self, *, cost_filter: CostFilter, metric: Metric, today: dt.date) -> Forecast: ...


@runtime_checkable
class OwnerSummingSource(Protocol):
    """A source that sums each team's own lines by day in its database (the rollup), so
    the digests need not allocate every line in Python."""

    @property
    def generation(self) -> int:
        """Bumped by every change of the data: what was derived from it is then stale."""
        ...

    def owned_daily_costs(
        self, query: CostQuery, owner_of: Callable[[tuple[str, ...]], str], *, owner_width: int
    ) -> dict[str, dict[str, dict[str, dict[str, Decimal]]]] | None: ...

"""From the rows of a billing query to a ``CostResult`` (amounts as exact ``Decimal``), and
``cost_by_service``, the first question costbot asked, for every SQL source."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from engines.costs.query import (
    SERVICE,
    UNKNOWN_KEY,
    CostGroup,
    CostQuery,
    CostResult,
)
from engines.costs.sources.base import CostFilter
from engines.costs.sources.sql import NO_CURRENCY, NO_SERVICE
from engines.models import CostBreakdown, CostLine, Metric, Period


def cost_result(
    query: CostQuery,
    rows: Iterable[Sequence[str | None]],
    source: str,
    notes: tuple[str, ...] = (),
) -> CostResult:
    """A ``CostResult`` from rows of ``build_cost_query``, amounts as ``Decimal``.

    Args:
        query: the question the rows answer.
        rows: ``(*dimension values, currency, amount)``, all text (None read as ``''``).
        source: the answering source's name.
        notes: what the person should know about how the data answered (a missing column).
    """
    width = len(query.group_by)
    amounts: dict[tuple[tuple[str, ...], str], Decimal] = {}
    for row in rows:
        if len(row) != width + 2:
            raise ValueError(f"expected {width + 2} values in a row, got {len(row)}")
        key = tuple(value or UNKNOWN_KEY for value in row[:width])
        currency = row[width] or UNKNOWN_KEY
        amount = row[width + 1]
        if amount is None:
            continue
        entry = (key, currency)
        amounts[entry] = amounts.get(entry, Decimal(0)) + Decimal(amount)
    groups = [
        CostGroup(key, currency, _trimmed(total)) for (key, currency), total in amounts.items()
    ]
    groups.sort(key=lambda group: (-group.amount, group.key, group.currency))
    return CostResult(query=query, groups=tuple(groups), source=source, notes=notes)


def service_breakdown(result: CostResult) -> CostBreakdown:
    """``result`` of a query grouped by service alone, as the older ``CostBreakdown``.

    Args:
        result: an answer whose query groups by ``service`` only.
    """
    lines = [
        CostLine(group.key[0] or NO_SERVICE, group.currency or NO_CURRENCY, group.amount)
        for group in result.groups
    ]
    lines.sort(key=lambda line: (-line.amount, line.service, line.currency))
    query = result.query
    return CostBreakdown(
        period=query.period, metric=query.metric, lines=tuple(lines), source=result.source
    )


def _trimmed(amount: Decimal) -> Decimal:
    """``3.3000000000`` → ``3.3``, never in exponent form."""
    value = amount.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


class ServiceBreakdownMixin:
    """``cost_by_service``, the first question costbot asked, as ``costs`` grouped by service."""

    def costs(self, query: CostQuery) -> CostResult:  # every source defines its own
        raise NotImplementedError

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        """Cost per (service, currency): ``costs`` grouped by service.

        Args:
            period: the days to include (by the UTC day the charge starts).
            cost_filter: tags (all must match) and accounts; empty means everything.
            metric: which cost to sum (billed, effective or list).

        Raises:
            CostSourceError: as ``costs``.
        """
        query = CostQuery(
            period=period, metric=metric, cost_filter=cost_filter, group_by=(SERVICE,)
        )
        return service_breakdown(self.costs(query))

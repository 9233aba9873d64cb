"""Cost sources: one interface, several implementations (Cost Explorer, FOCUS files, ...)."""

from engines.costs.sources.base import CostFilter, ResponseCache

__all__ = ["CostFilter", "ResponseCache"]

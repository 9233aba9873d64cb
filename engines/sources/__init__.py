"""Cost sources: one interface, several implementations (Cost Explorer, FOCUS files, ...)."""

from engines.sources.base import CostFilter, CostSource

__all__ = ["CostFilter", "CostSource"]

"""A cost source reading FOCUS 1.x exports (CSV, CSV.gz or Parquet) with DuckDB.

The scanning, cleaning, caching and error messages are ``BillingFileSource``'s; this module
says which columns a FOCUS export has (``engines.costs.sources.schemas.FOCUS_JSON_TAGS``): tags are
read as JSON object text (a Parquet ``Tags`` map is turned into one).
"""

from __future__ import annotations

from engines.costs.sources.billing_files import BillingFileSource
from engines.costs.sources.schemas import FOCUS_JSON_TAGS, BillingSchema
from engines.costs.sources.sql import NO_CURRENCY, NO_SERVICE
from engines.models import Metric

METRIC_COLUMNS = {
    Metric.BILLED: "BilledCost",
    Metric.EFFECTIVE: "EffectiveCost",
    Metric.LIST: "ListCost",
}

__all__ = ["METRIC_COLUMNS", "NO_CURRENCY", "NO_SERVICE", "FocusFileSource"]


class FocusFileSource(BillingFileSource):
    """Costs from FOCUS files on disk: ``costs(query)`` for any question.

    Args:
        path_or_glob: a file, a glob such as ``exports/**/*.parquet`` (several files are
            read as one table, matched by column name), or a directory (every CSV, CSV.gz
            and Parquet file under it).
    """

    name = "focus"
    kind = "FOCUS"
    export = "FOCUS 1.x"
    schema: BillingSchema = FOCUS_JSON_TAGS

"""A cost source reading AWS CUR 2.0 exports (Parquet, or gzip CSV) with DuckDB.

The scanning, cleaning, caching and error messages are ``BillingFileSource``'s; this module
says which columns a CUR 2.0 export has (``engines.costs.sources.schemas.CUR``). Effective
cost is the amortized cost AWS documents (see ``engines.costs.sources.schemas``), tags come from the
``resource_tags`` map (``team`` is looked up as ``user_team``), the service is the product's
service name where the export has it, else its service code.
"""

from __future__ import annotations

from engines.costs.sources.billing_files import BillingFileSource
from engines.costs.sources.schemas import CUR, BillingSchema


class CurFileSource(BillingFileSource):
    """Costs from CUR 2.0 files on disk: ``costs(query)`` for any question.

    Args:
        path_or_glob: a file, a glob such as ``cur/**/*.parquet`` (several files are read as
            one table, matched by column name), or a directory (every Parquet, CSV.gz and
            CSV file under it).
    """

    name = "cur"
    kind = "CUR"
    export = "CUR 2.0"
    schema: BillingSchema = CUR

"""Cost sources: one interface (``protocol.Source``), several implementations.

- ``cost_explorer``: AWS Cost Explorer, its answers cached in the database.
- ``billing_files`` (``focus``, ``cur``): FOCUS and CUR 2.0 exports on disk scanned with
  DuckDB; ``file_tables`` reads the files as one table, ``partitions`` picks the billing
  periods a question needs.
- ``rollup``: the exports summed by day in a DuckDB file (``rollup_tables``: its tables and
  SQL; ``rollup_build``: keeping up with the files).
- ``athena``: the same tables in Athena.
- ``schemas`` (FOCUS, CUR), ``sql`` (one query builder, two dialects), ``answers`` (rows to a
  ``CostResult``), ``base`` (the filter and the response cache).

May import: ``engines.costs`` query, coverage and forecast models, and the shared modules.
"""

from engines.costs.sources.base import CostFilter, ResponseCache

__all__ = ["CostFilter", "ResponseCache"]

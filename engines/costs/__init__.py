"""Costs: what was spent, by whom, and where the month is heading.

- ``sources/``: where costs come from (``protocol.Source``): Cost Explorer (cached), FOCUS and
  CUR 2.0 export files scanned with DuckDB, their daily rollup, Athena; one SQL builder.
- ``query``: ``CostQuery`` (period, metric, filter, grouping) and ``CostResult``.
- ``periods``: "last 7d" and friends → ``Period``; the billing date.
- ``coverage``: the days a source's data covers, bounded periods, fair comparisons.
- ``allocation``: costs split into teams, untagged and shared splits (an exact invariant);
  ``ownership``: which rule claims a line; ``allocation_cache``: allocations remembered,
  handed in by the caller.
- ``questions``: ``/cost team``, ``top``, ``untagged``, ``compare``, ``trend``, ``forecast``;
  ``answers``: what they answer (with the CLI's JSON); ``asking``: how a question asks its
  source; ``team_days``: a team's days, as the digests read them.
- ``month_view``: a team's month to date, budget and month-end forecast, as every surface shows
  it; ``forecast`` and ``forecast_models``: the month-end forecast for export files.

May import: the shared modules (``engines.models``, ``errors``, ``words``) and the teams file
(``engines.config``); no other capability. Inside, the layers run questions > month view,
team days > asking > answers > allocation > sources > forecast > coverage > query, periods
(``.importlinter`` checks both).
"""

"""The domain, by capability: costs (sources, queries, allocation to teams, periods,
forecasts, answers to questions), right-sizing (utilization, the catalog and prices,
recommendations), changes (carrying a resize or a stop out safely: ``engines.changes``),
spot (the market, the advisor feed, reviews and fleet plans), off-hours schedules, digests
and budgets, and the teams file. Models and errors shared by all live in ``engines.models``
and ``engines.errors``.

Engines never import Slack, never read the environment and never call ``datetime.now()``:
callers pass ``now`` and AWS clients in.
"""

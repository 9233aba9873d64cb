"""The domain: costs, allocation and (later) rightsizing, spot, schedules, budgets.

Engines never import Slack, never read the environment and never call ``datetime.now()``:
callers pass ``now`` and AWS clients in.
"""

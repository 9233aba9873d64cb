"""Spot: what an instance would cost on spot, how often spot takes it back, and a plan to move.

- ``market``: spot prices per zone, time-weighted averages, savings, placement scores.
- ``advisor_feed``: AWS's Spot Instance Advisor data (interruption rates), with its shipped
  snapshot. It is a *feed*; the advisor that answers people is ``review.SpotAdvisor``.
- ``plan``: compatible types and the launch template, EC2 Fleet and Auto Scaling requests.
- ``review``: ``SpotAdvisor``, which puts the three together for one type or a team's fleet.

May import: the shared engines modules, right-sizing's vocabulary, catalog and prices
(``engines.rightsizing.models``, ``catalog``, ``pricing``), the change records it is handed
(``engines.changes``) and the response cache (``engines.costs.sources.base``). Nothing imports spot
but handlers and bot.
"""

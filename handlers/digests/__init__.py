"""Digests, budget alerts and App Home in Slack.

- ``jobs``: what the scheduler runs (``bot.scheduler``): each team's digest and the budget
  alerts, queued in the outbox once per day; not listeners.
- ``questions``: ``/cost digest`` (a team's digest shown, or today's posted by hand).
- ``blocks``: the digest and alert messages; ``home_blocks`` and ``home``: App Home, each of
  the user's teams with its month, budget and open changes.

May import: engines (``engines.digests.digest``, ``engines.costs``, the changes' models, the shared
modules), the shared handler modules, and ``handlers.cost`` for the trend chart.
"""

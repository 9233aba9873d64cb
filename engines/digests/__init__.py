"""Digests and budgets: each team's morning briefing and its budget alerts.

- ``digest``: a team's digest (yesterday, the movers, anomalies, the week, the month view and
  the savings of its changes) and when it is due in the team's time zone.
- ``budgets``: budget and forecast thresholds, each alert sent once per month and level.
- ``results``: what ``/cost digest post`` answers, with the CLI's ``--json`` shape.

May import: ``engines.costs`` (questions, month view, forecast), the changes' models (for the
savings), the teams file and the shared modules; nothing of right-sizing, spot or schedules.
"""

"""Off-hours schedules in Slack: the create form and Keep running on a warning (``actions``),
the schedule messages (``blocks``) and the scheduler's minute (``jobs.run_schedules``).

May import: engines (``engines.schedules`` and the shared modules) and the shared handler
modules (``deps``, ``action_ids``, ``blocks.common``, ``actions.clicks``).
"""

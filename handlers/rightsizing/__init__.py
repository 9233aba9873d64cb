"""Right-sizing and the audit log in Slack: the recommendation cards and their decision
buttons (``actions``, ``blocks``), the outcome of a change posted back onto its card
(``notify``), and ``/cost audit`` (``audit_blocks``).

May import: engines (``engines.rightsizing``, ``engines.changes`` and the shared modules) and
the shared handler modules (``deps``, ``action_ids``, ``blocks.common``, ``actions.clicks``).
"""

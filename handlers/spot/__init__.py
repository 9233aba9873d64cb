"""Spot in Slack: the spot answers (``blocks``) and the Fleet plan button (``actions``).

May import: engines (``engines.spot`` and the shared modules) and the shared handler modules
(``deps``, ``action_ids``, ``blocks.common``).
"""

"""Cost questions in Slack: ``/cost team``, ``top``, ``untagged``, ``compare``, ``forecast`` and
``trend`` planned into ``Work`` (``questions``), their Block Kit messages, the help and error
messages of ``/cost`` (``blocks``), and the daily trend chart (``charts``).

May import: engines (``engines.costs`` and the shared modules) and the shared handler modules
(``deps``, ``work``, ``parsing``, ``blocks.common``, ``blocks.text``, ``action_ids``).
"""

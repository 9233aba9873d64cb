"""Slack listeners (thin) and Block Kit builders (pure), one package per feature: ``cost``,
``digests`` (with budget alerts and App Home), ``rightsizing``, ``spot`` and ``schedules``.
``commands`` (``/cost``), ``questions`` (which feature plans a request), ``actions``,
``register`` and ``middleware`` assemble them; ``deps``, ``work``, ``parsing``,
``action_ids`` and ``blocks`` are shared. Imports engines, never bot."""

"""Configuration: the teams file, which says who owns which costs and who may approve changes.

- ``teams``: loading the file (``load_config``, ``load_teams``) and looking a team up
  (``find_team``).
- ``schema``: the keys each table may have, one validator per key.
- ``toml_lines``: the TOML line locator, so every error names the file, the line and the key.

May import: the shared engines modules and the schedule model (``engines.schedules.model``),
which reads the ``[schedules.*]`` tables. Nothing else: every capability may read the config,
so the config depends on no capability but that one.
"""

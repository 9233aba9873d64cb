"""The ``costbot`` command: serve, demo, ask, cost, digest, alerts, check, outbox, spot.

- ``parser``: the subcommands and their options, and ``main`` (the ``costbot`` entry point);
- ``serve``: ``costbot serve``, the bot for real;
- ``demo``: ``costbot demo`` and ``costbot ask``, against the demo workspace;
- ``questions``: ``costbot cost``, ``digest`` and ``alerts check``, answered without Slack;
- ``admin``: ``costbot check``, ``outbox`` and ``spot refresh-advisor``;
- ``shared``: exit codes, the deps a question runs with, stopping on signals.
"""

from bot.cli.parser import main
from bot.cli.serve import warn_overlapping_rules
from bot.cli.shared import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "main", "warn_overlapping_rules"]

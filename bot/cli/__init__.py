"""The ``costbot`` command: serve, demo, ask, check."""

from bot.cli.serve import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main, warn_overlapping_rules

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "main", "warn_overlapping_rules"]

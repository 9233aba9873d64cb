"""costbot's error hierarchy. Messages are written for the person reading them in Slack."""

from __future__ import annotations

from engines.words import echo


class CostbotError(Exception):
    """Base class. ``str(error)`` is a complete sentence fit to show a user."""


class ConfigError(CostbotError):
    """A configuration file or setting is missing or malformed."""


class UserInputError(CostbotError):
    """What the user typed cannot be understood. ``hint`` says what would work, ``usage``
    is the one usage line of the command it was about (the parser fills it in)."""

    def __init__(self, message: str, *, hint: str = "", usage: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.usage = usage


class UnknownTeamError(UserInputError):
    """No team by that name; carries the close matches and the known names."""

    def __init__(self, name: str, *, suggestions: list[str], known: list[str]) -> None:
        did_you_mean = f" — did you mean '{suggestions[0]}'?" if suggestions else ""
        super().__init__(
            f"There is no team '{echo(name)}'{did_you_mean}", hint="Teams: " + ", ".join(known)
        )
        self.name = name
        self.suggestions = suggestions
        self.known = known


class CostSourceError(CostbotError):
    """The cost source could not answer (AWS error, unreadable export, ...)."""


class PeriodNotCoveredError(CostSourceError, UserInputError):
    """The period asked about has no day in the data: about the input (⚠️), and the sentence
    says it all (what was asked and what the data covers)."""

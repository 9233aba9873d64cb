"""Turns the text after ``/cost`` into a typed request, or a ``UserInputError``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from engines.errors import UserInputError

SUBCOMMANDS = ("help", "team")


@dataclass(frozen=True)
class HelpRequest:
    topic: str = ""


@dataclass(frozen=True)
class TeamCostRequest:
    team: str
    period_text: str = ""


CostCommand = HelpRequest | TeamCostRequest


def parse_cost_command(text: str) -> CostCommand:
    """Parses ``/cost`` arguments.

    Raises:
        UserInputError: for an unknown subcommand or a missing argument, with a hint.
    """
    words = (text or "").split()
    if not words or words[0].lower() in {"help", "-h", "--help", "?"}:
        return HelpRequest(topic=" ".join(words[1:]).lower())
    subcommand, rest = words[0].lower(), words[1:]
    if subcommand == "team":
        if not rest:
            raise UserInputError(
                "`/cost team` needs a team name.", hint="Try `/cost team fraud-detection`."
            )
        return TeamCostRequest(team=rest[0], period_text=" ".join(rest[1:]))
    close = difflib.get_close_matches(subcommand, SUBCOMMANDS, n=1, cutoff=0.6)
    did_you_mean = f" Did you mean `/cost {close[0]}`?" if close else ""
    raise UserInputError(f"I don't know `/cost {_short(words[0])}`.{did_you_mean}")


def _short(word: str, limit: int = 40) -> str:
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"

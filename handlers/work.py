"""What a planned question is: ``Work`` (run it later, render it) and the ``Reply`` it makes.

Shared by every feature's planners and by ``/cost`` and the CLI, which run them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

TOO_LONG = "this took too long: try again in a few minutes"
TOO_LONG_PERIOD = "this took too long: try a shorter period"


@dataclass(frozen=True)
class Reply:
    message: dict[str, Any]
    chart: bytes | None = None


R = TypeVar("R")


@dataclass(frozen=True)
class Work(Generic[R]):
    """A question ready to run: ``result()`` asks the source, ``reply()`` also renders it.

    ``R`` is what the question answers (``engines.costs.questions.Answer``, a ``Digest``, ...):
    every result has ``as_json``, the CLI's ``--json`` shape."""

    description: str
    result: Callable[[], R]
    render: Callable[[R], Reply]
    too_long: str = TOO_LONG  # what the user is told past the time limit

    def reply(self) -> Reply:
        return self.render(self.result())

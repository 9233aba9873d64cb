"""Allocations remembered: a source hands back the same ``CostResult`` for a repeated question,
so its allocation (and what is read from it, such as every team's days) is made once. The bot
keeps one cache (``Deps.allocations``) and hands it in; nothing is held in a module global.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from engines.costs.allocation import Allocation, allocate
from engines.costs.query import CostResult
from engines.models import SharedCost, Team

_K = TypeVar("_K")


class AllocationCache:
    """Remembers the allocation of the last few source answers, and what was derived from
    them (every team's days, ...), so a morning of digests allocates each question once.

    Owned by the caller (the bot's ``Deps``) and handed in, never a module global of its
    own. Sources hand back the same ``CostResult`` object for a repeated question (their
    answer cache, dropped when the data changes), so an allocation is reused while the
    answer and the teams file are the same objects: new data or a new teams file is a miss.
    Entries hold the objects they are keyed by, so an ``id`` is never reused while
    remembered. Thread-safe; two threads missing at once both compute, one keeps its copy.
    """

    size = 64

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[int, ...], tuple[tuple[object, ...], object]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def allocate(
        self, result: CostResult, teams: Mapping[str, Team], shared: Sequence[SharedCost]
    ) -> Allocation:
        """``allocate(result, teams=teams, shared=shared)``, remembered."""
        return self.derived(
            (result, teams, shared), "allocation",
            lambda: allocate(result, teams=teams, shared=shared),
        )  # fmt: skip

    def derived(self, anchors: tuple[object, ...], name: str, build: Callable[[], _K]) -> _K:
        """``build()``, remembered while ``anchors`` are the same objects: for what every
        team reads from one answer or allocation (``name`` says which), built once for all.
        """
        key = (*map(id, anchors), hash(name))
        with self._lock:
            found = self._entries.get(key)
            if (
                found is not None
                and found[0][-1] == name
                and all(a is b for a, b in zip(found[0][:-1], anchors, strict=True))
            ):
                self._entries.move_to_end(key)
                return found[1]  # type: ignore[return-value]
        value = build()
        with self._lock:
            self._entries[key] = ((*anchors, name), value)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

"""What every cost source shares: the filter it takes and the cache it may keep answers in.

The interface itself, ``costs(CostQuery) -> CostResult``, is
``engines.costs.sources.protocol.Source``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CostFilter:
    """Which costs to include. Empty means everything.

    ``tags``: a line matches when every key has exactly that value (AND).
    ``accounts``: a line matches when its account id is one of these.
    ``resource_contains``: a line matches when its resource id contains this text (as
    written, e.g. ``:endpoint/``). Only SQL sources take it (billing files and Athena; the
    rollup scans the files for it); Cost Explorer refuses it.
    """

    tags: dict[str, str] = field(default_factory=dict)
    accounts: tuple[str, ...] = ()
    resource_contains: str = ""


class ResponseCache(Protocol):
    """Remembers a source's raw answers by request, so repeated questions cost nothing.

    Values are JSON-serialisable. ``get`` returns None when there is no entry younger
    than ``max_age`` at ``now``.
    """

    def get(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None: ...

    def put(self, key: str, value: Any, *, now: dt.datetime) -> None: ...

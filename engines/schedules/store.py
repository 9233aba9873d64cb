"""What off-hours enforcement keeps between minutes: the protocol ``bot.store.Store``
implements (schedules made in Slack, pauses, overrides, last applied states, capacities)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from engines.schedules.aws import Capacity
from engines.schedules.model import Override


class ScheduleStore(Protocol):
    """What ``OffHours`` keeps (``bot.store.Store`` implements it)."""

    def slack_schedules(self) -> list[dict[str, Any]]: ...

    def save_schedule(self, definition: dict[str, Any], *, at: dt.datetime) -> bool: ...

    def paused_schedules(self) -> set[str]: ...

    def set_paused(self, name: str, paused: bool, *, by: str, at: dt.datetime) -> bool: ...

    def add_override(self, override: Override, *, at: dt.datetime) -> int: ...

    def add_overrides(self, overrides: Sequence[Override], *, at: dt.datetime) -> list[int]:
        """Saves every override in one transaction: all of them, or none."""
        ...

    def schedule_overrides(self, *, active_at: dt.datetime) -> list[Override]: ...

    def last_schedule_states(self) -> dict[str, str]: ...

    def record_schedule_state(
        self, key: str, *, schedule: str, desired: str, detail: str, at: dt.datetime, dry_run: bool
    ) -> None: ...

    def save_capacity(self, key: str, capacity: Capacity, *, at: dt.datetime) -> None: ...

    def saved_capacity(self, key: str) -> Capacity | None: ...

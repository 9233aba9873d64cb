"""Where changes are kept and audited: the protocols ``bot.store.Store`` implements, and the
columns and values of the ``changes`` table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from engines.changes.models import Change, ChangeRequest, State

CHANGE_COLUMNS = frozenset(Change.__dataclass_fields__)
"""The ``changes`` table's columns (the same names as ``Change``'s fields)."""
UPDATABLE_COLUMNS = CHANGE_COLUMNS - {"id", "created_at", "state", "version"}
"""The columns ``ChangeStore.transition`` may set besides the state."""


def db_value(value: Any) -> Any:
    """A field's value as the database keeps it (text, integers, NULL).

    Args:
        value: a ``Change`` field value (datetime, Decimal, bool, enum, str, int, None).
    """
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


class ChangeStore(Protocol):
    """Where changes are kept (``bot.store.Store`` implements it)."""

    def create_change(self, request: ChangeRequest, *, now: dt.datetime) -> Change:
        """Records a new change in state ``proposed`` and returns it."""
        ...

    def get_change(self, change_id: int) -> Change | None: ...

    def list_changes(
        self,
        *,
        states: Collection[State] | None = None,
        instance_id: str | None = None,
        team: str | None = None,
        limit: int | None = 200,
    ) -> list[Change]:
        """Changes, newest first, optionally only in ``states``, of one instance or of one
        team (filtered in the query); at most ``limit`` of them (None: all)."""
        ...

    def transition(
        self, change_id: int, *, expected: Collection[State], new: State, **fields: Any
    ) -> bool:
        """Atomically moves the change to ``new`` and sets ``fields`` (``Change`` field
        names, Python values) if its state is one of ``expected``; False otherwise."""
        ...

    def set_change_message(self, change_id: int, *, channel: str, ts: str) -> None:
        """Records the Slack message the change was decided on."""
        ...

    def claim_change(self, change_id: int, *, version: int, executor: str) -> bool:
        """Makes ``executor`` the change's executor if the change is still at ``version``."""
        ...


class Audit(Protocol):
    """The audit trail (``bot.store.Store.record_audit`` fits)."""

    def __call__(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Any: ...

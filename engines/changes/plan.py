"""One execution of a change: which way, from which type to which, and by whom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.changes.models import Change, Direction, Kind, State


@dataclass(frozen=True)
class Plan:
    """One execution: which way, from which type to which, and the actor."""

    change: Change
    client: Any
    original_type: str
    target_type: str
    was_running: bool
    direction: Direction
    actor: str

    @property
    def instance_id(self) -> str:
        return self.change.instance_id


def first_step(plan: Plan) -> State:
    """The in-flight state an execution starts in (a stop's revert only starts)."""
    stop_revert = plan.change.kind is Kind.STOP and plan.direction is Direction.REVERT
    return State.STARTING if stop_revert else State.STOPPING


def plan_detail(plan: Plan) -> dict[str, Any]:
    """What the audit records of an execution: the kind, the way and the types."""
    return {
        "kind": plan.change.kind.value,
        "direction": plan.direction.value,
        "before": plan.original_type,
        "after": plan.target_type,
        "was_running": plan.was_running,
    }

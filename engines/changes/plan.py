"""One execution of a change: which way, from which type to which, and by whom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.changes.models import Change, ChangeError, Direction, Kind, State


class MustNotRun(ChangeError):
    """The change must not be carried out as it stands (nothing was touched)."""


class NotNow(ChangeError):
    """The change cannot run right now, but may later (nothing was touched)."""


@dataclass(frozen=True)
class Plan:
    """One execution: which way, from which type to which, and the actor.

    ``claim_fields`` are the change's columns set when the execution claims it (a deleted
    endpoint's tags, read while validating).
    """

    change: Change
    client: Any
    original_type: str
    target_type: str
    was_running: bool
    direction: Direction
    actor: str
    claim_fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        return self.change.instance_id


_SAGEMAKER_FIRST_STEP = {
    # kind: (forward, revert). A delete or a stop goes down, its revert comes up again;
    # an instance count or an endpoint config is modified either way.
    Kind.ENDPOINT_DELETE: (State.STOPPING, State.STARTING),
    Kind.NOTEBOOK_STOP: (State.STOPPING, State.STARTING),
    Kind.ENDPOINT_COUNT: (State.MODIFYING, State.MODIFYING),
    Kind.ENDPOINT_CONFIG: (State.MODIFYING, State.MODIFYING),
}


def first_step(plan: Plan) -> State:
    """The in-flight state an execution starts in (a stop's revert only starts).

    SageMaker changes take one in-flight state each: ``stopping`` while an endpoint is
    deleted or a notebook stopped, ``starting`` while their reverts bring them back, and
    ``modifying`` while an instance count or an endpoint config changes (either way).
    """
    revert = plan.direction is Direction.REVERT
    if plan.change.kind.is_sagemaker:
        return _SAGEMAKER_FIRST_STEP[plan.change.kind][int(revert)]
    stop_revert = plan.change.kind is Kind.STOP and revert
    return State.STARTING if stop_revert else State.STOPPING


def plan_detail(plan: Plan) -> dict[str, Any]:
    """What the audit records of an execution: the kind, the way and the types."""
    detail = {
        "kind": plan.change.kind.value,
        "direction": plan.direction.value,
        "before": plan.original_type,
        "after": plan.target_type,
        "was_running": plan.was_running,
    }
    if plan.change.kind.is_sagemaker:
        detail["variant"] = plan.change.variant
        detail["endpoint_config"] = plan.change.endpoint_config
    return detail

"""What a change is: its states, the request that proposes it, the stored record, and the
answer to a request.

A change is proposed (from a ``Recommendation``), decided (approved, denied, snoozed,
dismissed, or approved for later: scheduled), then executed::

    proposed ─approve→ approved ─execute→ stopping → modifying → starting → done ─revert→ reverted
       │     └─approve(at=…)→ scheduled ─execute (when due)→ stopping …
       ├─deny→ denied   ├─snooze→ snoozed   └─dismiss→ dismissed
    any failure after the stop → rolled_back (original type, running again) or, when even
    that fails, failed (the text then says loudly that the instance may be stopped).

A ``Kind.STOP`` change (an idle instance) takes the same decisions; its execution is
``stopping → done`` and its revert ``starting → reverted`` (the instance runs again).

SageMaker changes (``Kind.is_sagemaker``) take the same decisions too. Their resource is
named, not numbered: ``instance_id`` holds the endpoint's or notebook's name, and what the
change moves between is kept in the same two columns (see ``Kind``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engines.errors import CostbotError
from engines.rightsizing.models import Recommendation
from engines.sagemaker.models import SageMakerAction, SageMakerRecommendation
from engines.words import mrkdwn_safe


class State(StrEnum):
    """Where a change is. Values are stored in the database; never rename them."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    DENIED = "denied"
    SNOOZED = "snoozed"
    DISMISSED = "dismissed"
    STOPPING = "stopping"
    MODIFYING = "modifying"
    STARTING = "starting"
    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REVERTED = "reverted"


IN_FLIGHT = frozenset({State.STOPPING, State.MODIFYING, State.STARTING})
"""States a crash can leave a change in; ``recover`` settles them."""
OPEN = frozenset({State.PROPOSED, State.APPROVED, State.SCHEDULED, State.SNOOZED})
"""States in which a change still waits for a decision or an execution."""
MAINTENANCE_WINDOW = dt.timedelta(hours=4)
"""A change approved for a maintenance window starts within it or not at all: one AWS kept
waiting, or one costbot was down for, is withdrawn instead of run in the working day."""


class Kind(StrEnum):
    """What a change does. Values are stored in the database; never rename them."""

    RESIZE = "resize"  # stop, change the type, start again
    STOP = "stop"  # stop an idle instance (revert: start it again)
    # SageMaker. ``instance_id`` is the resource's name; ``from_type``/``to_type`` are:
    ENDPOINT_DELETE = "sagemaker-endpoint-delete"  # the instance type, both sides; the
    #   endpoint config and model are kept (``endpoint_config``); revert re-creates it
    ENDPOINT_COUNT = "sagemaker-endpoint-count"  # the variant's instance counts ("4" → "2")
    ENDPOINT_CONFIG = "sagemaker-endpoint-config"  # the variant's instance types; a new
    #   endpoint config is made from ``endpoint_config`` with the new type (UpdateEndpoint);
    #   revert switches back to ``endpoint_config``
    NOTEBOOK_STOP = "sagemaker-notebook-stop"  # the instance type, both sides; revert starts it

    @property
    def is_sagemaker(self) -> bool:
        return self.value.startswith("sagemaker-")


class Direction(StrEnum):
    """Which way an execution goes: to the new type, or back to the original one."""

    FORWARD = "forward"
    REVERT = "revert"


@dataclass(frozen=True)
class ChangeRequest:
    """What a proposal records: which instance, from which type to which, and why."""

    instance_id: str
    account_id: str
    region: str
    from_type: str
    to_type: str
    monthly_saving: Decimal
    requested_by: str
    team: str = ""
    reason: str = ""
    message_channel: str = ""
    message_ts: str = ""
    kind: Kind = Kind.RESIZE
    instance_name: str = ""  # the Name tag when proposed ("" without one)
    variant: str = ""  # SageMaker: the endpoint's production variant changed
    endpoint_config: str = ""  # SageMaker: the endpoint's config when proposed

    @classmethod
    def from_recommendation(
        cls, recommendation: Recommendation, *, requested_by: str, team: str = ""
    ) -> ChangeRequest:
        """The request a modify (resize) or stop recommendation makes.

        Args:
            recommendation: an actionable recommendation (``action`` "modify" or "stop").
            requested_by: who asked (a Slack user id, or ``"costbot"`` for scheduled scans).
            team: the team that owns the instance.
        """
        instance = recommendation.instance
        stop = recommendation.action == "stop"
        return cls(
            instance_id=instance.instance_id,
            account_id=instance.account_id,
            region=instance.region,
            from_type=recommendation.current_type,
            # A stop keeps the type; the type columns then say what it stays.
            to_type=recommendation.current_type if stop else recommendation.recommended_type,
            kind=Kind.STOP if stop else Kind.RESIZE,
            monthly_saving=recommendation.monthly_saving,
            requested_by=requested_by,
            team=team,
            reason=recommendation.reason,
            instance_name=instance.tags.get("Name", ""),
        )

    @classmethod
    def from_sagemaker(
        cls, recommendation: SageMakerRecommendation, *, requested_by: str, team: str = ""
    ) -> ChangeRequest:
        """The request a SageMaker recommendation makes (``SAGEMAKER_KINDS`` says which
        actions are changes; the others are advice only).

        Args:
            recommendation: from ``engines.sagemaker.review``, with an actionable ``action``.
            requested_by: who asked (a Slack user id, or ``"costbot"``).
            team: the team that owns the resource.
        """
        kind = SAGEMAKER_KINDS.get(recommendation.action)
        if kind is None:
            raise ValueError(f"{recommendation.action} is advice, not a change")
        rec = recommendation
        before, after = rec.current_type, rec.current_type
        if kind is Kind.ENDPOINT_COUNT:
            before, after = str(rec.current_count), str(rec.recommended_count)
        elif kind is Kind.ENDPOINT_CONFIG:
            after = rec.recommended_type
        return cls(
            instance_id=rec.name,
            account_id=arn_account(rec.arn),
            region=arn_region(rec.arn),
            from_type=before,
            to_type=after,
            kind=kind,
            monthly_saving=rec.monthly_saving,
            requested_by=requested_by,
            team=team,
            reason=rec.reason,
            variant=rec.variant,
            endpoint_config=rec.config_name,
        )


SAGEMAKER_KINDS: dict[SageMakerAction, Kind] = {
    SageMakerAction.DELETE_ENDPOINT: Kind.ENDPOINT_DELETE,
    SageMakerAction.SET_INSTANCE_COUNT: Kind.ENDPOINT_COUNT,
    SageMakerAction.SWITCH_ENDPOINT_CONFIG: Kind.ENDPOINT_CONFIG,
    SageMakerAction.STOP_NOTEBOOK: Kind.NOTEBOOK_STOP,
}
"""The SageMaker actions costbot carries out; the others (managed spot, checkpoints) are
advice for the team's training code."""


def arn_region(arn: str) -> str:
    """``us-east-1`` from ``arn:aws:sagemaker:us-east-1:123456789012:endpoint/x``."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def arn_account(arn: str) -> str:
    """``123456789012`` from ``arn:aws:sagemaker:us-east-1:123456789012:endpoint/x``."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True)
class Change:
    """One change as stored. ``version`` grows by one with every transition."""

    id: int
    created_at: dt.datetime
    updated_at: dt.datetime
    state: State
    instance_id: str
    account_id: str
    region: str
    team: str
    from_type: str
    to_type: str
    monthly_saving: Decimal
    requested_by: str
    decided_by: str = ""
    decided_at: dt.datetime | None = None
    reason: str = ""
    snoozed_until: dt.datetime | None = None
    scheduled_for: dt.datetime | None = None
    dry_run: bool = False
    last_error: str = ""
    message_channel: str = ""
    message_ts: str = ""
    version: int = 0
    direction: Direction = Direction.FORWARD
    was_running: bool | None = None
    kind: Kind = Kind.RESIZE
    executor: str = ""  # the process carrying it out (while in flight)
    first_approved_by: str = ""  # four-eyes: the first of two approvals
    instance_name: str = ""  # the instance's Name tag when proposed ("" without one)
    variant: str = ""  # SageMaker: the endpoint's production variant changed
    endpoint_config: str = ""  # SageMaker: the endpoint's config when proposed
    resource_tags: str = ""  # SageMaker: a deleted endpoint's tags (JSON), for its re-creation
    resource_counts: str = ""  # SageMaker: a deleted endpoint's instance counts (JSON), too

    @property
    def tags(self) -> dict[str, str]:
        """The tags recorded when the resource was deleted (``resource_tags``)."""
        return dict(json.loads(self.resource_tags)) if self.resource_tags else {}

    @property
    def counts(self) -> dict[str, int]:
        """Each variant's instance count when the endpoint was deleted (``resource_counts``)."""
        return dict(json.loads(self.resource_counts)) if self.resource_counts else {}

    @property
    def label(self) -> str:
        """``web-1 (`i-0abc`, m5.xlarge → m5.large)`` or ``web-1 (`i-0abc`, stop: idle
        g5.xlarge)``, for messages: the Name tag first (mrkdwn-escaped), the id second.
        SageMaker resources say what they are: ``endpoint `fraud-v1` (variant AllTraffic:
        4 → 2 instances)``."""
        if self.kind.is_sagemaker:
            return _sagemaker_label(self)
        what = (
            f"stop: idle {self.from_type}"
            if self.kind is Kind.STOP
            else f"{self.from_type} → {self.to_type}"
        )
        if self.instance_name:
            return f"{mrkdwn_safe(self.instance_name)} (`{self.instance_id}`, {what})"
        return f"`{self.instance_id}` ({what})"

    @property
    def display_name(self) -> str:
        """The Name tag (mrkdwn-escaped) with the id in parentheses, or the id alone."""
        if self.instance_name:
            return f"{mrkdwn_safe(self.instance_name)} (`{self.instance_id}`)"
        return f"`{self.instance_id}`"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Change:
        """A change from a database row (the ``changes`` table's columns)."""
        return cls(
            id=int(row["id"]),
            created_at=_time(row["created_at"]) or dt.datetime.min,
            updated_at=_time(row["updated_at"]) or dt.datetime.min,
            state=State(row["state"]),
            instance_id=row["instance_id"],
            account_id=row["account_id"] or "",
            region=row["region"],
            team=row["team"] or "",
            from_type=row["from_type"],
            to_type=row["to_type"],
            monthly_saving=Decimal(row["monthly_saving"] or "0"),
            requested_by=row["requested_by"] or "",
            decided_by=row["decided_by"] or "",
            decided_at=_time(row["decided_at"]),
            reason=row["reason"] or "",
            snoozed_until=_time(row["snoozed_until"]),
            scheduled_for=_time(row["scheduled_for"]),
            dry_run=bool(row["dry_run"]),
            last_error=row["last_error"] or "",
            message_channel=row["message_channel"] or "",
            message_ts=row["message_ts"] or "",
            version=int(row["version"] or 0),
            direction=Direction(row["direction"] or Direction.FORWARD),
            was_running=None if row["was_running"] is None else bool(row["was_running"]),
            kind=Kind(row.get("kind") or Kind.RESIZE),
            executor=row.get("executor") or "",
            first_approved_by=row.get("first_approved_by") or "",
            instance_name=row.get("instance_name") or "",
            variant=row.get("variant") or "",
            endpoint_config=row.get("endpoint_config") or "",
            resource_tags=row.get("resource_tags") or "",
            resource_counts=row.get("resource_counts") or "",
        )


def _sagemaker_label(change: Change) -> str:
    name = f"`{mrkdwn_safe(change.instance_id)}`"
    if change.kind is Kind.NOTEBOOK_STOP:
        return f"notebook {name} (stop: idle {change.from_type})"
    if change.kind is Kind.ENDPOINT_DELETE:
        return f"endpoint {name} (delete: idle {change.from_type}, config kept)"
    unit = " instances" if change.kind is Kind.ENDPOINT_COUNT else ""
    return (
        f"endpoint {name} (variant {mrkdwn_safe(change.variant)}: "
        f"{change.from_type} → {change.to_type}{unit})"
    )


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Outcome:
    """The answer to a request, written for the person who made it.

    Args:
        ok: the request did what was asked (a dry run that would have worked is ok).
        text: one or two sentences for Slack.
        change: the change afterwards (None when there is no such change).
        instance_may_be_stopped: a failure left the instance in an unknown state; tell
            people loudly.
        refused: the person may not decide this (only the owning team's approvers do);
            tell only them, and record nothing about where they clicked.
    """

    ok: bool
    text: str
    change: Change | None = None
    instance_may_be_stopped: bool = False
    refused: bool = False

    @property
    def state(self) -> State | None:
        return None if self.change is None else self.change.state


class ChangeError(CostbotError):
    """A step of a change failed; the message is fit for Slack."""

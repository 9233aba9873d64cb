"""Carrying out an instance type change, one persisted state per step, safely.

A change is proposed (from a ``Recommendation``), decided (approved, denied, snoozed,
dismissed, or approved for later: scheduled), then executed::

    proposed ─approve→ approved ─execute→ stopping → modifying → starting → done ─revert→ reverted
       │     └─approve(at=…)→ scheduled ─execute (when due)→ stopping …
       ├─deny→ denied   ├─snooze→ snoozed   └─dismiss→ dismissed
    any failure after the stop → rolled_back (original type, running again) or, when even
    that fails, failed (the text then says loudly that the instance may be stopped).

A ``Kind.STOP`` change (an idle instance) takes the same decisions; its execution is
``stopping → done`` and its revert ``starting → reverted`` (the instance runs again).

Rules this module keeps:

- Only the approvers of the team that owns the instance decide (the caller passes them;
  the owner is the first matching teams-file rule, ``engines.costs.allocation.owner_of``).
  Proposing or asking gives nobody rights. With four-eyes (``second_approver``) a first
  approval waits for a different approver.
- Every state change is an atomic compare-and-set (``ChangeStore.transition``): of fifty
  simultaneous Approve clicks or executions exactly one wins, the rest are told why not.
- Validation comes before the cloud is touched (the instance exists, has the type the
  change starts from, is not in an Auto Scaling group, has no other change in flight).
- EC2 changes the type only of a **stopped** instance; a start can fail with
  ``InsufficientInstanceCapacity``. After any failure past the stop, the original type is
  restored and the instance started again. An instance that was stopped before the change
  stays stopped.
- Dry runs make the real calls with ``DryRun=True``: ``DryRunOperation`` means "would have
  worked", ``UnauthorizedOperation`` is reported as the missing permission.
- After a crash, ``ChangeRunner.recover`` looks at each half-done change's instance and
  either finishes the change or rolls it back.
- Everything is audited: proposals, decisions, each EC2 call and its result.

Throttling (``RequestLimitExceeded``) is the client's business: build the clients that
``ec2_client_for`` returns with ``EC2_CLIENT_CONFIG`` (explicit, adaptive retries). Polling
also tolerates a throttled ``DescribeInstances`` and simply asks again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import error_code, explain
from engines.errors import CostbotError
from engines.rightsizing.models import Recommendation
from engines.words import mrkdwn_safe

EC2_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
"""The botocore config for the EC2 clients ``ec2_client_for`` returns."""


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


class Kind(StrEnum):
    """What a change does. Values are stored in the database; never rename them."""

    RESIZE = "resize"  # stop, change the type, start again
    STOP = "stop"  # stop an idle instance (revert: start it again)


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

    @property
    def label(self) -> str:
        """``web-1 (`i-0abc`, m5.xlarge → m5.large)`` or ``web-1 (`i-0abc`, stop: idle
        g5.xlarge)``, for messages: the Name tag first (mrkdwn-escaped), the id second."""
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
        )


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


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


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
        limit: int = 200,
    ) -> list[Change]:
        """Changes, newest first, optionally only in ``states`` or of one instance."""
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


class _Invalid(ChangeError):
    """The change must not be carried out as it stands (nothing was touched)."""


class _NotNow(ChangeError):
    """The change cannot run right now, but may later (nothing was touched)."""


@dataclass(frozen=True)
class _Plan:
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


_RUNNING_LIKE = frozenset({"running", "pending"})
_GONE = frozenset({"shutting-down", "terminated"})


class ChangeRunner:
    """Decides and executes changes.

    Args:
        ec2_client_for: ``(account_id, region) -> boto3 EC2 client`` (build it with
            ``EC2_CLIENT_CONFIG``).
        store: where changes are kept.
        audit: where every proposal, decision and EC2 call is recorded.
        dry_run: when true, EC2 calls are made with ``DryRun=True`` and change nothing.
        sleep: waits between polls (tests pass a fake).
        clock: monotonic seconds, for poll timeouts (tests pass a fake).
        poll_s: seconds between ``DescribeInstances`` polls.
        timeout_s: how long to wait for an instance to stop or start.
        now: the wall clock (UTC, timezone-aware), for timestamps.
        process_id: this process, recorded on each change it carries out, so that
            ``recover`` elsewhere leaves the changes of a live process alone.
    """

    def __init__(
        self,
        ec2_client_for: Callable[[str, str], Any],
        store: ChangeStore,
        *,
        audit: Audit,
        dry_run: bool,
        now: Callable[[], dt.datetime],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 5,
        timeout_s: float = 600,
        process_id: str = "",
    ) -> None:
        self.process_id = process_id
        self.ec2_client_for = ec2_client_for
        self.store = store
        self.audit = audit
        self.dry_run = dry_run
        self.now = now
        self.sleep = sleep
        self.clock = clock
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    # --- proposals and decisions ---------------------------------------------------------

    def propose(self, request: ChangeRequest) -> Change:
        """Records a proposed change and audits it.

        Args:
            request: the instance, the types and the saving.
        """
        change = self.store.create_change(request, now=self.now())
        self._audit(change, request.requested_by, "change.proposed", {})
        return change

    def approve(
        self,
        change_id: int,
        *,
        approver: str,
        approvers: Collection[str],
        second_approver: bool = False,
        at: dt.datetime | None = None,
    ) -> Outcome:
        """Approves a proposed (or snoozed) change; with ``at``, schedules it for then.

        Only the owning team's approvers decide. With ``second_approver`` (the team's
        ``require_second_approver``), the first approval is recorded and the change stays
        proposed until a different approver approves it too. Asking for or showing a change
        gives nobody any say in it.

        Args:
            change_id: the change.
            approver: who clicked (Slack user id).
            approvers: the approvers of the team that owns the instance.
            second_approver: a first approval needs a second, different approver.
            at: run it at this time instead of now ("tonight at 22:00").
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refusal = _approval_refusal(change, approver, approvers, second_approver=second_approver)
        if refusal:
            self._audit(change, approver, "change.approve_refused", {"why": refusal})
            return Outcome(False, refusal, change, refused=True)
        if second_approver and not change.first_approved_by:
            return self._first_approval(change, approver, approvers)
        new = State.APPROVED if at is None else State.SCHEDULED
        fields: dict[str, Any] = {"decided_by": approver, "decided_at": self.now()}
        if at is not None:
            fields["scheduled_for"] = at
        return self._decide(change, approver, {State.PROPOSED, State.SNOOZED}, new, **fields)

    def _first_approval(self, change: Change, approver: str, approvers: Collection[str]) -> Outcome:
        """Four-eyes: records the first approval; the change waits for a second approver."""
        if not self.store.transition(
            change.id,
            expected={change.state},
            new=change.state,
            updated_at=self.now(),
            first_approved_by=approver,
        ):
            return self._already(change.id)
        self._audit(change, approver, "change.first_approval", {})
        others = [user for user in approvers if user != approver]
        text = (
            f"<@{approver}> approved {change.label}; {change.team or 'this team'} needs a "
            f"second approver: {_people(others)} can approve it now."
        )
        return Outcome(True, text, self.store.get_change(change.id))

    def deny(
        self,
        change_id: int,
        *,
        by: str,
        reason: str = "",
        approvers: Collection[str] | None = None,
    ) -> Outcome:
        """Denies a change that has not started.

        Args:
            change_id: the change.
            by: who denied it.
            reason: why (kept with the change).
            approvers: when given, only these people (the owning team's approvers) may deny.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self._refused(change, by, approvers, "deny")
        if refused:
            return refused
        fields = {"decided_by": by, "decided_at": self.now(), "reason": reason or change.reason}
        return self._decide(change, by, OPEN, State.DENIED, **fields)

    def snooze(
        self, change_id: int, *, by: str, days: int = 30, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Puts a proposal aside for ``days``; it can still be approved meanwhile.

        Args:
            change_id: the change.
            by: who snoozed it.
            days: for how long.
            approvers: when given, only these people (the owning team's approvers) may.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self._refused(change, by, approvers, "snooze")
        if refused:
            return refused
        until = self.now() + dt.timedelta(days=days)
        fields = {"decided_by": by, "decided_at": self.now(), "snoozed_until": until}
        return self._decide(change, by, {State.PROPOSED, State.SNOOZED}, State.SNOOZED, **fields)

    def why_not_dismiss(
        self, change_id: int, *, by: str, approvers: Collection[str] | None = None
    ) -> Outcome | None:
        """Why ``by`` could not dismiss the change now (None: they could), checked before a
        form asks them for a reason."""
        change = self.store.get_change(change_id)
        if change is None:
            return None  # the submission says so
        refused = self._refused(change, by, approvers, "dismiss")
        if refused:
            return refused
        return None if change.state in {State.PROPOSED, State.SNOOZED} else self._already(change.id)

    def dismiss(
        self, change_id: int, *, by: str, reason: str, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Drops a proposal for good.

        Args:
            change_id: the change.
            by: who dismissed it.
            reason: why (kept with the change).
            approvers: when given, only these people (the owning team's approvers) may.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self._refused(change, by, approvers, "dismiss")
        if refused:
            return refused
        fields = {"decided_by": by, "decided_at": self.now(), "reason": reason}
        return self._decide(change, by, {State.PROPOSED, State.SNOOZED}, State.DISMISSED, **fields)

    def _refused(
        self, change: Change, by: str, approvers: Collection[str] | None, verb: str
    ) -> Outcome | None:
        """An outcome refusing ``by`` unless they are one of ``approvers`` (None: checked)."""
        if approvers is None or by in approvers:
            return None
        text = _only_approvers_text(change, approvers, verb)
        self._audit(change, by, f"change.{verb}_refused", {"why": text})
        return Outcome(False, text, change, refused=True)

    def due(self, now: dt.datetime) -> list[Change]:
        """Scheduled changes whose time has come (the scheduler executes them).

        Args:
            now: the current time.
        """
        scheduled = self.store.list_changes(states={State.SCHEDULED})
        return [c for c in scheduled if c.scheduled_for is not None and c.scheduled_for <= now]

    def _decide(
        self,
        change: Change,
        actor: str,
        expected: Collection[State],
        new: State,
        **fields: Any,
    ) -> Outcome:
        if not self.store.transition(
            change.id, expected=expected, new=new, updated_at=self.now(), **fields
        ):
            return self._already(change.id)
        after = self.store.get_change(change.id)
        detail = {"before": change.state.value, "after": new.value, **fields}
        self._audit(change, actor, f"change.{new.value}", detail)
        return Outcome(True, _decision_text(after or change, actor), after)

    def _already(self, change_id: int) -> Outcome:
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        who = f" by <@{change.decided_by}>" if change.decided_by else ""
        return Outcome(False, f"{change.label} is already {_words(change.state)}{who}.", change)

    # --- execution -----------------------------------------------------------------------

    def execute(self, change_id: int) -> Outcome:
        """Carries out an approved (or due scheduled) change; exactly one caller wins.

        Args:
            change_id: the change.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        if change.state not in (State.APPROVED, State.SCHEDULED):
            return self._already(change_id)
        if change.state is State.SCHEDULED and not self._is_due(change):
            when = change.scheduled_for.isoformat() if change.scheduled_for else "later"
            return Outcome(False, f"{change.label} is scheduled for {when}.", change)
        actor = change.decided_by or "costbot"
        expected = {State.APPROVED, State.SCHEDULED}
        return self._run(change, Direction.FORWARD, actor, expected, failed_state=State.FAILED)

    def revert(
        self, change_id: int, *, by: str, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Puts a done change back: the instance returns to its original type.

        Args:
            change_id: the change.
            by: who asked for the revert.
            approvers: when given, only these people (the owning team's approvers) may.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self._refused(change, by, approvers, "revert")
        if refused:
            return refused
        if change.state is not State.DONE:
            return Outcome(
                False,
                f"Only a done change can be reverted; {change.label} is {_words(change.state)}.",
                change,
            )
        if change.dry_run:
            text = f"{change.label} was a dry run: nothing was changed, so nothing to revert."
            return Outcome(False, text, change)
        return self._run(change, Direction.REVERT, by, {State.DONE}, failed_state=None)

    def _is_due(self, change: Change) -> bool:
        return change.scheduled_for is None or change.scheduled_for <= self.now()

    def _run(
        self,
        change: Change,
        direction: Direction,
        actor: str,
        expected: Collection[State],
        *,
        failed_state: State | None,
    ) -> Outcome:
        """Validates, claims the change (CAS) and executes it, for real or as a dry run."""
        client = self.ec2_client_for(change.account_id, change.region)
        try:
            plan = self._validated_plan(change, client, direction, actor)
        except _NotNow as error:
            return Outcome(False, str(error), change)
        except _Invalid as error:
            return self._refuse_invalid(change, actor, expected, failed_state, str(error))
        if self.dry_run:
            return self._dry_run(plan, expected)
        claimed = self.store.transition(
            change.id,
            expected=expected,
            new=_first_step(plan),
            updated_at=self.now(),
            direction=direction,
            was_running=plan.was_running,
            dry_run=False,
            last_error="",
            executor=self.process_id,
        )
        if not claimed:
            return self._already(change.id)
        self._audit(change, actor, f"change.{direction.value}.started", _types(plan))
        return self._carry_out(plan)

    def _refuse_invalid(
        self,
        change: Change,
        actor: str,
        expected: Collection[State],
        failed_state: State | None,
        why: str,
    ) -> Outcome:
        if failed_state is not None and not self.store.transition(
            change.id,
            expected=expected,
            new=failed_state,
            updated_at=self.now(),
            last_error=why,
        ):
            return self._already(change.id)  # another caller got there first
        self._audit(change, actor, "change.invalid", {"why": why})
        text = f"I did not touch {change.label}: {why}"
        return Outcome(False, text, self.store.get_change(change.id))

    def _validated_plan(
        self, change: Change, client: Any, direction: Direction, actor: str
    ) -> _Plan:
        """Looks before touching: raises ``_Invalid`` or ``_NotNow`` when it must not run."""
        original, target = change.from_type, change.to_type
        if direction is Direction.REVERT:
            original, target = target, original
        state, itype, tags = self._describe_for_validation(client, change.instance_id)
        if state in _GONE:
            raise _Invalid(f"the instance is {state}.")
        if itype != original:
            raise _Invalid(
                f"the instance is now {itype}, not {original}; the recommendation is out of date."
            )
        if change.kind is Kind.STOP:
            _check_power_state(state, direction)
        group = tags.get("aws:autoscaling:groupName")
        if group:
            raise _Invalid(
                f"it belongs to the Auto Scaling group {group}, which would replace it; "
                "change the group's launch template instead."
            )
        others = [
            other
            for other in self.store.list_changes(states=IN_FLIGHT, instance_id=change.instance_id)
            if other.id != change.id
        ]
        if others:
            raise _NotNow(f"change {others[0].id} is being carried out on the same instance.")
        return _Plan(change, client, original, target, state in _RUNNING_LIKE, direction, actor)

    def _describe_for_validation(
        self, client: Any, instance_id: str
    ) -> tuple[str, str, dict[str, str]]:
        try:
            instance = _describe(client, instance_id)
        except ClientError as error:
            if error_code(error).startswith("InvalidInstanceID"):
                raise _Invalid("the instance no longer exists.") from error
            raise _NotNow(f"I could not look at `{instance_id}`: {explain(error)}") from error
        except BotoCoreError as error:
            raise _NotNow(f"I could not look at `{instance_id}`: {error}") from error
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
        return instance["State"]["Name"], instance["InstanceType"], tags

    def _carry_out(self, plan: _Plan) -> Outcome:
        """Stop, modify, start; on any failure put everything back."""
        if plan.change.kind is Kind.STOP:
            return self._carry_out_power(plan)
        change_id = plan.change.id
        try:
            self._stop(plan)
            self._advance(change_id, State.STOPPING, State.MODIFYING)
            self._modify(plan, plan.target_type)
            self._advance(change_id, State.MODIFYING, State.STARTING)
            self._start_if_it_was_running(plan)
            self._verify(plan, plan.target_type)
        except Exception as error:  # any failure means: put it back
            return self._roll_back(plan, error)
        return self._finish(plan)

    def _carry_out_power(self, plan: _Plan) -> Outcome:
        """A stop change: stop it (forward) or start it again (revert); on failure put the
        instance back as it was."""
        try:
            if plan.direction is Direction.FORWARD:
                self._stop(plan)
            else:
                self._call(plan, "StartInstances", InstanceIds=[plan.instance_id])
                self._wait_for(plan, "running")
        except Exception as error:  # any failure means: put it back
            return self._roll_back(plan, error)
        return self._finish(plan)

    def _advance(self, change_id: int, old: State, new: State) -> None:
        if not self.store.transition(change_id, expected={old}, new=new, updated_at=self.now()):
            raise ChangeError(f"change {change_id} left state {old} while I was working on it")

    def _finish(self, plan: _Plan, *, recovered: bool = False) -> Outcome:
        end = State.DONE if plan.direction is Direction.FORWARD else State.REVERTED
        self.store.transition(plan.change.id, expected=IN_FLIGHT, new=end, updated_at=self.now())
        detail = {**_types(plan), "recovered": recovered}
        self._audit(plan.change, plan.actor, f"change.{end.value}", detail)
        change = self.store.get_change(plan.change.id)
        return Outcome(True, _finished_text(plan, recovered=recovered), change)

    def _roll_back(self, plan: _Plan, error: BaseException, *, recovered: bool = False) -> Outcome:
        """Restores the original type and running state; loud when even that fails."""
        why = explain(error)
        self._audit(plan.change, plan.actor, "change.rolling_back", {**_types(plan), "why": why})
        try:
            self._restore(plan)
        except Exception as second:  # report, never hide
            return self._fail_loudly(plan, why, explain(second))
        end = State.ROLLED_BACK if plan.direction is Direction.FORWARD else State.DONE
        error_text = why if plan.direction is Direction.FORWARD else f"revert failed: {why}"
        self.store.transition(
            plan.change.id,
            expected=IN_FLIGHT,
            new=end,
            updated_at=self.now(),
            last_error=error_text,
        )
        detail = {**_types(plan), "why": why, "recovered": recovered, "end": end.value}
        self._audit(plan.change, plan.actor, "change.rolled_back", detail)
        text = _rolled_back_text(plan, why)
        return Outcome(False, text, self.store.get_change(plan.change.id))

    def _fail_loudly(self, plan: _Plan, why: str, second: str) -> Outcome:
        error_text = f"{why}; rollback failed too: {second}"
        self.store.transition(
            plan.change.id,
            expected=IN_FLIGHT,
            new=State.FAILED,
            updated_at=self.now(),
            last_error=error_text,
        )
        self._audit(plan.change, plan.actor, "change.failed", {**_types(plan), "why": error_text})
        text = (
            f":rotating_light: {plan.change.label} FAILED and I could not put it back. "
            f"{plan.change.display_name} MAY BE STOPPED RIGHT NOW (account "
            f"{plan.change.account_id}, {plan.change.region}); it should be {plan.original_type}"
            f"{', running' if plan.was_running else ''}. Please check it in the EC2 console. "
            f"First error: {why}. Rollback error: {second}."
        )
        return Outcome(False, text, self.store.get_change(plan.change.id), True)

    def _restore(self, plan: _Plan) -> None:
        """Brings the instance back to the original type, running if it was running."""
        state, itype = self._settle(plan)
        if itype != plan.original_type:
            if state != "stopped":
                self._call(plan, "StopInstances", InstanceIds=[plan.instance_id])
                self._wait_for(plan, "stopped")
            self._modify(plan, plan.original_type)
            state = "stopped"
        if plan.was_running and state != "running":
            self._call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self._wait_for(plan, "running")
        self._verify(plan, plan.original_type)

    def _settle(self, plan: _Plan) -> tuple[str, str]:
        """Waits out ``pending``/``stopping``; returns the (state, type) then."""
        instance = _describe(plan.client, plan.instance_id)
        state = instance["State"]["Name"]
        if state == "pending":
            self._wait_for(plan, "running")
        elif state == "stopping":
            self._wait_for(plan, "stopped")
        instance = _describe(plan.client, plan.instance_id)
        return instance["State"]["Name"], instance["InstanceType"]

    def _stop(self, plan: _Plan) -> None:
        """Stops the instance unless it is already stopped (or stopping: then waits)."""
        state, _ = self._settle(plan)
        if state == "running":
            self._call(plan, "StopInstances", InstanceIds=[plan.instance_id])
            self._wait_for(plan, "stopped")
        elif state != "stopped":
            raise ChangeError(f"`{plan.instance_id}` is {state}, so I cannot stop it")

    def _modify(self, plan: _Plan, instance_type: str) -> None:
        self._call(
            plan,
            "ModifyInstanceAttribute",
            InstanceId=plan.instance_id,
            InstanceType={"Value": instance_type},
        )

    def _start_if_it_was_running(self, plan: _Plan) -> None:
        if plan.was_running:
            self._call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self._wait_for(plan, "running")

    def _verify(self, plan: _Plan, instance_type: str) -> None:
        instance = _describe(plan.client, plan.instance_id)
        if instance["InstanceType"] != instance_type:
            raise ChangeError(
                f"`{plan.instance_id}` is {instance['InstanceType']}, expected {instance_type}"
            )

    def _wait_for(self, plan: _Plan, wanted: str) -> None:
        """Polls ``DescribeInstances`` (with the injected sleep and clock) until ``wanted``.

        Raises ``ChangeError`` on timeout, or when the instance settles elsewhere (a start
        that ends ``stopped`` again, e.g. for lack of capacity).
        """
        deadline = self.clock() + self.timeout_s
        while True:
            instance = _describe_tolerating_throttling(plan.client, plan.instance_id)
            state = "" if instance is None else instance["State"]["Name"]
            if state == wanted:
                return
            if instance is not None and _settled_elsewhere(state, wanted):
                reason = instance.get("StateReason", {}).get("Message", "")
                raise ChangeError(f"`{plan.instance_id}` is {state}, not {wanted}. {reason}")
            if self.clock() >= deadline:
                raise ChangeError(
                    f"`{plan.instance_id}` was still {state or 'unknown'} after "
                    f"{self.timeout_s:.0f} s waiting for {wanted}"
                )
            self.sleep(self.poll_s)

    def _call(self, plan: _Plan, action: str, **params: Any) -> Any:
        """One mutating EC2 call, audited with its result."""
        method = getattr(plan.client, _snake(action))
        detail: dict[str, Any] = {"change_id": plan.change.id, "params": params}
        try:
            response = method(**params)
        except ClientError as error:
            detail["error"] = error_code(error)
            self._audit(plan.change, plan.actor, f"ec2.{action}", detail)
            raise
        detail["result"] = "ok"
        self._audit(plan.change, plan.actor, f"ec2.{action}", detail)
        return response

    # --- dry runs ------------------------------------------------------------------------

    def _dry_run(self, plan: _Plan, expected: Collection[State]) -> Outcome:
        """Makes each call with ``DryRun=True``; a forward dry run ends ``done`` (dry_run)."""
        forward = plan.direction is Direction.FORWARD
        if forward and not self.store.transition(
            plan.change.id,
            expected=expected,
            new=_first_step(plan),
            updated_at=self.now(),
            dry_run=True,
            was_running=plan.was_running,
            direction=plan.direction,
            executor=self.process_id,
        ):
            return self._already(plan.change.id)
        try:
            steps = self._dry_calls(plan)
        except ChangeError as error:
            return self._dry_run_failed(plan, str(error), forward)
        if forward:
            self.store.transition(
                plan.change.id, expected=IN_FLIGHT, new=State.DONE, updated_at=self.now()
            )
        self._audit(plan.change, plan.actor, "change.dry_run.done", {**_types(plan)})
        text = (
            f"Dry run: I would have {_join(steps)}. Every call was allowed. "
            f"Nothing was changed; {plan.change.label} is a dry run only."
        )
        return Outcome(True, text, self.store.get_change(plan.change.id))

    def _dry_run_failed(self, plan: _Plan, why: str, forward: bool) -> Outcome:
        if forward:
            self.store.transition(
                plan.change.id,
                expected=IN_FLIGHT,
                new=State.FAILED,
                updated_at=self.now(),
                last_error=why,
            )
        self._audit(plan.change, plan.actor, "change.dry_run.failed", {"why": why})
        text = f"Dry run of {plan.change.label} failed: {why} Nothing was changed."
        return Outcome(False, text, self.store.get_change(plan.change.id))

    def _dry_calls(self, plan: _Plan) -> list[str]:
        if plan.change.kind is Kind.STOP:
            self._dry(plan, "StopInstances", InstanceIds=[plan.instance_id])
            return [f"stopped `{plan.instance_id}`"]
        steps = []
        if plan.was_running:
            self._dry(plan, "StopInstances", InstanceIds=[plan.instance_id])
            steps.append(f"stopped `{plan.instance_id}`")
        self._dry(
            plan,
            "ModifyInstanceAttribute",
            InstanceId=plan.instance_id,
            InstanceType={"Value": plan.target_type},
        )
        steps.append(f"changed its type {plan.original_type} → {plan.target_type}")
        if plan.was_running:
            self._dry(plan, "StartInstances", InstanceIds=[plan.instance_id])
            steps.append("started it again")
        else:
            steps.append("left it stopped, as it was")
        return steps

    def _dry(self, plan: _Plan, action: str, **params: Any) -> None:
        """One call with ``DryRun=True``; returns when it would have worked."""
        method = getattr(plan.client, _snake(action))
        detail: dict[str, Any] = {"change_id": plan.change.id, "params": params}
        try:
            method(DryRun=True, **params)
        except ClientError as error:
            code = error_code(error)
            detail["result"] = code
            self._audit(plan.change, plan.actor, f"ec2.{action}", detail, dry_run=True)
            if code == "DryRunOperation":
                return
            # The instance was not stopped first, so EC2 may judge the type change by the
            # running instance; the permission check has passed by then.
            if code == "IncorrectInstanceState" and action == "ModifyInstanceAttribute":
                return
            if code == "UnauthorizedOperation":
                raise ChangeError(_permission_text(plan, action)) from error
            raise ChangeError(f"ec2:{action} would fail: {explain(error)}.") from error
        self._audit(plan.change, plan.actor, f"ec2.{action}", {**detail, "result": "executed"})
        raise ChangeError(
            f"ec2:{action} did not honour DryRun=True and may have run: check "
            f"`{plan.instance_id}` now."
        )

    # --- recovery ------------------------------------------------------------------------

    def recover(
        self, now: dt.datetime | None = None, *, live: Collection[str] = ()
    ) -> list[Outcome]:
        """Settles every change a crash left half-way: finishes it or rolls it back.

        A change whose instance already has the target type is finished (started again
        if it was running); any other is rolled back to the original type. Which one
        happened is audited (``change.recovered``). A change being carried out by a live
        process (its executor in ``live``) is that process's business and is left alone;
        one that is settled is claimed first, so of two recoverers only one settles it.

        Args:
            now: when recovery runs (for the audit; default the runner's clock).
            live: the processes known to be alive (their heartbeat has not expired).
        """
        when = now or self.now()
        outcomes = []
        for change in self.store.list_changes(states=IN_FLIGHT):
            if change.executor and change.executor in live:
                continue
            if not self.store.claim_change(
                change.id, version=change.version, executor=self.process_id
            ):
                continue  # it moved on, or another process claimed it
            outcomes.append(self._recover_one(change, when))
        return outcomes

    def _recover_one(self, change: Change, when: dt.datetime) -> Outcome:
        actor = "costbot"
        if change.dry_run:
            why = "a restart interrupted this dry run; nothing was changed"
            self.store.transition(
                change.id, expected=IN_FLIGHT, new=State.FAILED, updated_at=when, last_error=why
            )
            self._audit(change, actor, "change.recovered", {"decision": "abandoned dry run"})
            return Outcome(False, f"{change.label}: {why}.", self.store.get_change(change.id))
        original, target = change.from_type, change.to_type
        if change.direction is Direction.REVERT:
            original, target = target, original
        client = self.ec2_client_for(change.account_id, change.region)
        was_running = True if change.was_running is None else change.was_running
        plan = _Plan(change, client, original, target, was_running, change.direction, actor)
        return self._settle_after_crash(plan, when)

    def _settle_after_crash(self, plan: _Plan, when: dt.datetime) -> Outcome:
        change = plan.change
        if change.kind is Kind.STOP:
            return self._finish_power_after_crash(plan, when)
        try:
            itype = _describe(plan.client, plan.instance_id)["InstanceType"]
        except Exception as error:  # cannot look: fail loudly
            return self._fail_loudly(plan, "a restart interrupted the change", explain(error))
        decision = "finish" if itype == plan.target_type else "roll back"
        detail = {
            **_types(plan),
            "state_at_crash": change.state.value,
            "instance_type": itype,
            "decision": decision,
            "at": when.isoformat(),
        }
        self._audit(change, plan.actor, "change.recovered", detail)
        if decision == "roll back":
            interrupted = ChangeError(f"a restart interrupted the change while {change.state}")
            return self._roll_back(plan, interrupted, recovered=True)
        try:
            self._settle(plan)
            self._start_if_stopped(plan)
            self._verify(plan, plan.target_type)
        except Exception as error:  # any failure means: put it back
            return self._roll_back(plan, error, recovered=True)
        return self._finish(plan, recovered=True)

    def _finish_power_after_crash(self, plan: _Plan, when: dt.datetime) -> Outcome:
        """A stop (or its revert, a start) was approved and under way: finish it."""
        wanted = "stopped" if plan.direction is Direction.FORWARD else "running"
        detail = {
            **_types(plan),
            "state_at_crash": plan.change.state.value,
            "decision": "finish",
            "at": when.isoformat(),
        }
        self._audit(plan.change, plan.actor, "change.recovered", detail)
        try:
            state, _ = self._settle(plan)
            if state != wanted:
                action = "StopInstances" if wanted == "stopped" else "StartInstances"
                self._call(plan, action, InstanceIds=[plan.instance_id])
                self._wait_for(plan, wanted)
        except Exception as error:  # any failure means: put it back
            return self._roll_back(plan, error, recovered=True)
        return self._finish(plan, recovered=True)

    def _start_if_stopped(self, plan: _Plan) -> None:
        state = _describe(plan.client, plan.instance_id)["State"]["Name"]
        if plan.was_running and state != "running":
            self._call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self._wait_for(plan, "running")

    # --- audit ---------------------------------------------------------------------------

    def _audit(
        self,
        change: Change,
        actor: str,
        action: str,
        detail: dict[str, Any],
        *,
        dry_run: bool | None = None,
    ) -> None:
        base = {
            "change_id": change.id,
            "instance_id": change.instance_id,
            "instance_name": change.instance_name,
            "kind": change.kind.value,
            "from_type": change.from_type,
            "to_type": change.to_type,
            "monthly_saving": str(change.monthly_saving),
            "team": change.team,
            "at": self.now().isoformat(),
        }
        self.audit(
            actor=actor,
            action=action,
            target=_target(change),
            detail={**base, **{k: db_value(v) for k, v in detail.items()}},
            dry_run=self.dry_run if dry_run is None else dry_run,
        )


# --- helpers ------------------------------------------------------------------------------


def _describe(client: Any, instance_id: str) -> dict[str, Any]:
    response = client.describe_instances(InstanceIds=[instance_id])
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            return dict(instance)
    raise ChangeError(f"`{instance_id}` was not found")


def _describe_tolerating_throttling(client: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        return _describe(client, instance_id)
    except ClientError as error:
        if error_code(error) in ("RequestLimitExceeded", "Throttling"):
            return None
        raise


def _settled_elsewhere(state: str, wanted: str) -> bool:
    if state in _GONE:
        return True
    return wanted == "running" and state == "stopped"


def _permission_text(plan: _Plan, action: str) -> str:
    account = plan.change.account_id or "this account"
    return (
        f"costbot's AWS role in {account} ({plan.change.region}) is not allowed to call "
        f"ec2:{action} on `{plan.instance_id}`. Add ec2:{action} to its IAM policy."
    )


def _snake(action: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")


def _first_step(plan: _Plan) -> State:
    """The in-flight state an execution starts in (a stop's revert only starts)."""
    stop_revert = plan.change.kind is Kind.STOP and plan.direction is Direction.REVERT
    return State.STARTING if stop_revert else State.STOPPING


def _check_power_state(state: str, direction: Direction) -> None:
    """A stop needs a running instance, and its revert (a start) a stopped one."""
    if direction is Direction.FORWARD and state not in _RUNNING_LIKE:
        raise _Invalid(f"the instance is already {state}; there is nothing to stop.")
    if direction is Direction.REVERT and state in _RUNNING_LIKE:
        raise _Invalid(f"the instance is already {state}; someone started it again.")


def _types(plan: _Plan) -> dict[str, Any]:
    return {
        "kind": plan.change.kind.value,
        "direction": plan.direction.value,
        "before": plan.original_type,
        "after": plan.target_type,
        "was_running": plan.was_running,
    }


def _target(change: Change) -> str:
    return f"{change.account_id}/{change.region}/{change.instance_id}"


def _people(users: Iterable[str]) -> str:
    names = [f"<@{user}>" for user in users]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _approval_refusal(
    change: Change, approver: str, approvers: Collection[str], *, second_approver: bool
) -> str:
    """Why ``approver`` may not approve ``change``, or "" when they may."""
    if approver not in approvers:
        return _only_approvers_text(change, approvers, "approve")
    if not second_approver:
        return ""
    others = [user for user in approvers if user != approver]
    if not others:
        return (
            f"{change.team or 'this team'} requires a second approver, and you are its only "
            "one: add another approver to the teams file (or drop require_second_approver)."
        )
    if change.first_approved_by == approver:
        return (
            f"you approved this already; {change.team or 'this team'} needs a second "
            f"approver: {_people(others)} can approve it."
        )
    return ""


def _only_approvers_text(change: Change, approvers: Collection[str], verb: str) -> str:
    team = change.team or "this instance's team"
    if not approvers:
        return (
            f"nobody can {verb} this: {team} has no approvers in the teams file "
            "(only the owning team's approvers decide)."
        )
    return f"only {team}'s approvers can {verb} this: {_people(approvers)}."


def _words(state: State) -> str:
    return {
        State.PROPOSED: "waiting for approval",
        State.ROLLED_BACK: "rolled back",
        State.STOPPING: "being carried out",
        State.MODIFYING: "being carried out",
        State.STARTING: "being carried out",
    }.get(state, state.value)


def _decision_text(change: Change, actor: str) -> str:
    saving = f"${change.monthly_saving:,.2f}/month"
    if change.state is State.SCHEDULED and change.scheduled_for is not None:
        when = change.scheduled_for.strftime("%Y-%m-%d %H:%M %Z").strip()
        return f"<@{actor}> approved {change.label} for {when} ({saving})."
    if change.state is State.SNOOZED and change.snoozed_until is not None:
        until = change.snoozed_until.date().isoformat()
        return f"<@{actor}> snoozed {change.label} until {until}."
    return f"<@{actor}> {change.state.value} {change.label} ({saving})."


def _finished_text(plan: _Plan, *, recovered: bool) -> str:
    change = plan.change
    if change.kind is Kind.STOP:
        return _finished_power_text(plan, recovered=recovered)
    after = "running again" if plan.was_running else "left stopped, as it was before"
    prefix = "After a restart I finished " if recovered else "Done: "
    if plan.direction is Direction.REVERT:
        return f"{prefix}reverted {change.display_name} to {plan.target_type}; it is {after}."
    return (
        f"{prefix}{change.display_name} is now {plan.target_type} (was {plan.original_type}) "
        f"and {after}. Saving ${change.monthly_saving:,.2f}/month."
    )


def _finished_power_text(plan: _Plan, *, recovered: bool) -> str:
    change = plan.change
    prefix = "After a restart I finished: " if recovered else "Done: "
    if plan.direction is Direction.REVERT:
        return f"{prefix}{change.display_name} is running again ({change.from_type})."
    return (
        f"{prefix}{change.display_name} ({change.from_type}) is stopped; its EBS volumes and "
        f"data are kept. Saving ${change.monthly_saving:,.2f}/month. Revert starts it again."
    )


def _rolled_back_text(plan: _Plan, why: str) -> str:
    if plan.change.kind is Kind.STOP:
        verb = "Starting" if plan.direction is Direction.REVERT else "Stopping"
        state = "running" if plan.was_running else "stopped"
        return f"{verb} {plan.change.display_name} failed ({why}). It is {state}, as it was before."
    verb = "The revert of" if plan.direction is Direction.REVERT else "Changing"
    state = "running" if plan.was_running else "stopped, as it was before"
    return (
        f"{verb} {plan.change.display_name} to {plan.target_type} failed ({why}). I rolled it "
        f"back: it is {plan.original_type} again and {state}."
    )


def _join(steps: list[str]) -> str:
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]

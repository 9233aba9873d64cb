"""Carrying out a change on EC2, one persisted state per step, and putting it back on failure.

- Validation comes before the cloud is touched (the instance exists, has the type the
  change starts from, is not in an Auto Scaling group, has no other change in flight).
- The change is claimed by an atomic compare-and-set, so of many executions one wins.
- EC2 changes the type only of a **stopped** instance; a start can fail with
  ``InsufficientInstanceCapacity``. After any failure past the stop, the original type is
  restored and the instance started again. An instance that was stopped before the change
  stays stopped.
- Every EC2 call is audited with its result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import error_code, explain
from engines.changes.dry_run import DryRun
from engines.changes.ec2 import (
    GONE,
    RUNNING_LIKE,
    describe,
    describe_tolerating_throttling,
    settled_elsewhere,
)
from engines.changes.models import (
    IN_FLIGHT,
    MAINTENANCE_WINDOW,
    Change,
    ChangeError,
    Direction,
    Kind,
    Outcome,
    State,
)
from engines.changes.plan import MustNotRun, NotNow, Plan, first_step, plan_detail
from engines.changes.records import Records
from engines.changes.sagemaker import SageMakerSteps
from engines.changes.sagemaker_api import describe_endpoint, describe_notebook, endpoint_tags
from engines.changes.texts import COSTBOT, failed_text, finished_text, rolled_back_text, state_words


class Execution:
    """Executes approved changes and reverts done ones, for real or as dry runs.

    Args:
        records: the store, the audit trail and the clock.
        ec2_client_for: ``(account_id, region) -> boto3 EC2 client``.
        sleep: waits between polls.
        clock: monotonic seconds, for poll timeouts.
        poll_s: seconds between ``DescribeInstances`` polls.
        timeout_s: how long to wait for an instance to stop or start.
        sagemaker_client_for: ``(account_id, region) -> boto3 SageMaker client``; without
            one, SageMaker changes are refused for now (nothing is touched).
        sagemaker_timeout_s: how long to wait for a SageMaker resource to settle (default
            ``timeout_s``).
    """

    def __init__(
        self,
        records: Records,
        ec2_client_for: Callable[[str, str], Any],
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        poll_s: float,
        timeout_s: float,
        sagemaker_client_for: Callable[[str, str], Any] | None = None,
        sagemaker_timeout_s: float | None = None,
    ) -> None:
        self.records = records
        self.store = records.store
        self.now = records.now
        self.ec2_client_for = ec2_client_for
        self.sleep = sleep
        self.clock = clock
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.dry_runs = DryRun(records)
        self.sagemaker_client_for = sagemaker_client_for
        self.sagemaker = SageMakerSteps(
            records,
            sleep=sleep,
            clock=clock,
            poll_s=poll_s,
            timeout_s=sagemaker_timeout_s or timeout_s,
        )

    def current_tags(self, change: Change) -> dict[str, str] | None:
        """The change's resource's tags as AWS has them now, to tell who owns it; None when
        they cannot be read (it is gone, or AWS cannot be reached): the team recorded on
        the change then stands, and the execution looks again before touching anything."""
        try:
            client = self.client_for(change)
            if not change.kind.is_sagemaker:
                instance = describe(client, change.instance_id)
                return {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
            if change.kind is Kind.NOTEBOOK_STOP:
                notebook = describe_notebook(client, change.instance_id) or {}
                arn = notebook.get("NotebookInstanceArn", "")
            else:
                arn = (describe_endpoint(client, change.instance_id) or {}).get("EndpointArn", "")
            return endpoint_tags(client, arn) if arn else None
        except (ChangeError, ClientError, BotoCoreError):
            return None

    def client_for(self, change: Change) -> Any:
        """The EC2 or SageMaker client for the change's account and region; ``NotNow`` when
        there is none (no SageMaker access, or costbot's role in that account cannot be
        assumed): the change waits, and nothing else waits behind it."""
        if change.kind.is_sagemaker and self.sagemaker_client_for is None:
            raise NotNow("costbot has no SageMaker access configured.")
        make = self.sagemaker_client_for if change.kind.is_sagemaker else self.ec2_client_for
        assert make is not None
        try:
            return make(change.account_id, change.region)
        except (ClientError, BotoCoreError) as error:
            raise NotNow(
                f"I could not reach account {change.account_id or 'of the change'} "
                f"({change.region}): {explain(error)}."
            ) from error

    def execute(self, change_id: int) -> Outcome:
        """Carries out an approved (or due scheduled) change; exactly one caller wins.

        Args:
            change_id: the change.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        if change.state not in (State.APPROVED, State.SCHEDULED):
            return self.records.already(change_id)
        if change.state is State.SCHEDULED and not self._is_due(change):
            when = change.scheduled_for.isoformat() if change.scheduled_for else "later"
            return Outcome(False, f"{change.label} is scheduled for {when}.", change)
        if change.state is State.SCHEDULED and self._window_over(change):
            return self._expire(change)
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
        refused = self.records.refused(change, by, approvers, "revert")
        if refused:
            return refused
        if change.state is not State.DONE:
            return Outcome(
                False,
                f"Only a done change can be reverted; {change.label} is "
                f"{state_words(change.state)}.",
                change,
            )
        if change.dry_run:
            text = f"{change.label} was a dry run: nothing was changed, so nothing to revert."
            return Outcome(False, text, change)
        return self._run(change, Direction.REVERT, by, {State.DONE}, failed_state=None)

    def _is_due(self, change: Change) -> bool:
        return change.scheduled_for is None or change.scheduled_for <= self.now()

    def _window_over(self, change: Change) -> bool:
        start = change.scheduled_for
        return start is not None and self.now() >= start + MAINTENANCE_WINDOW

    def _expire(self, change: Change) -> Outcome:
        """A change approved for a window that ended before it could start (AWS kept it
        waiting, or costbot was down): it is not run in working hours; it is withdrawn."""
        start = (change.scheduled_for or self.now()).astimezone(dt.UTC)
        end = start + MAINTENANCE_WINDOW
        reason = (
            f"its maintenance window ({start:%H:%M} to {end:%H:%M} UTC) ended before it could start"
        )
        if not self.store.transition(
            change.id,
            expected={State.SCHEDULED},
            new=State.DENIED,
            decided_by=COSTBOT,
            decided_at=self.now(),
            reason=reason,
            updated_at=self.now(),
        ):
            return self.records.already(change.id)
        self.records.audit(change, COSTBOT, "change.expired", {"reason": reason})
        text = (
            f"{change.label} did not run: {reason}, and I make no change outside its window. "
            f"Nothing was changed; ask `/cost rightsize {change.team}` to approve it again."
        )
        return Outcome(False, text, self.store.get_change(change.id) or change)

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
        try:
            plan = self._validated_plan(change, self.client_for(change), direction, actor)
        except NotNow as error:
            return Outcome(False, str(error), change)
        except MustNotRun as error:
            return self._refuse_invalid(change, actor, expected, failed_state, str(error))
        if self.records.dry_run and change.kind.is_sagemaker:
            return self.dry_runs.run_looked(plan, expected, self.sagemaker.would_call(plan))
        if self.records.dry_run:
            return self.dry_runs.run(plan, expected)
        claimed = self.store.transition(
            change.id,
            expected=expected,
            new=first_step(plan),
            updated_at=self.now(),
            direction=direction,
            was_running=plan.was_running,
            dry_run=False,
            last_error="",
            executor=self.records.process_id,
            **plan.claim_fields,
        )
        if not claimed:
            return self.records.already(change.id)
        self.records.audit(change, actor, f"change.{direction.value}.started", plan_detail(plan))
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
            return self.records.already(change.id)  # another caller got there first
        self.records.audit(change, actor, "change.invalid", {"why": why})
        text = f"I did not touch {change.label}: {why}"
        return Outcome(False, text, self.store.get_change(change.id))

    def _validated_plan(
        self, change: Change, client: Any, direction: Direction, actor: str
    ) -> Plan:
        """Looks before touching: raises ``MustNotRun`` or ``NotNow`` when it must not run."""
        if change.kind.is_sagemaker:
            plan = self.sagemaker.validate(change, client, direction, actor)
        else:
            plan = self._validated_ec2_plan(change, client, direction, actor)
        others = [
            other
            for other in self.store.list_changes(states=IN_FLIGHT, instance_id=change.instance_id)
            if other.id != change.id and same_resource(other, change)
        ]
        if others:
            raise NotNow(f"change {others[0].id} is being carried out on the same resource.")
        return plan

    def _validated_ec2_plan(
        self, change: Change, client: Any, direction: Direction, actor: str
    ) -> Plan:
        original, target = change.from_type, change.to_type
        if direction is Direction.REVERT:
            original, target = target, original
        state, itype, tags = self._describe_for_validation(client, change.instance_id)
        if state in GONE:
            raise MustNotRun(f"the instance is {state}.")
        if itype != original:
            raise MustNotRun(
                f"the instance is now {itype}, not {original}; the recommendation is out of date."
            )
        if change.kind is Kind.STOP:
            _check_power_state(state, direction)
        group = tags.get("aws:autoscaling:groupName")
        if group:
            raise MustNotRun(
                f"it belongs to the Auto Scaling group {group}, which would replace it; "
                "change the group's launch template instead."
            )
        return Plan(change, client, original, target, state in RUNNING_LIKE, direction, actor)

    def _describe_for_validation(
        self, client: Any, instance_id: str
    ) -> tuple[str, str, dict[str, str]]:
        try:
            instance = describe(client, instance_id)
        except ClientError as error:
            if error_code(error).startswith("InvalidInstanceID"):
                raise MustNotRun("the instance no longer exists.") from error
            raise NotNow(f"I could not look at `{instance_id}`: {explain(error)}") from error
        except BotoCoreError as error:
            raise NotNow(f"I could not look at `{instance_id}`: {error}") from error
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
        return instance["State"]["Name"], instance["InstanceType"], tags

    def _carry_out(self, plan: Plan) -> Outcome:
        """Stop, modify, start; on any failure put everything back."""
        if plan.change.kind.is_sagemaker:
            return self._carry_out_sagemaker(plan)
        if plan.change.kind is Kind.STOP:
            return self._carry_out_power(plan)
        change_id = plan.change.id
        try:
            self._stop(plan)
            self._advance(change_id, State.STOPPING, State.MODIFYING)
            self._modify(plan, plan.target_type)
            self._advance(change_id, State.MODIFYING, State.STARTING)
            self._start_if_it_was_running(plan)
            self.verify(plan, plan.target_type)
        except Exception as error:  # any failure means: put it back
            return self.roll_back(plan, error)
        return self.finish(plan)

    def _carry_out_sagemaker(self, plan: Plan) -> Outcome:
        """A SageMaker change (``SageMakerSteps``); on any failure put the resource back."""
        try:
            self.sagemaker.carry_out(plan)
        except Exception as error:  # any failure means: put it back
            return self.roll_back(plan, error)
        return self.finish(plan)

    def _carry_out_power(self, plan: Plan) -> Outcome:
        """A stop change: stop it (forward) or start it again (revert); on failure put the
        instance back as it was."""
        try:
            if plan.direction is Direction.FORWARD:
                self._stop(plan)
            else:
                self.call(plan, "StartInstances", InstanceIds=[plan.instance_id])
                self.wait_for(plan, "running")
        except Exception as error:  # any failure means: put it back
            return self.roll_back(plan, error)
        return self.finish(plan)

    def _advance(self, change_id: int, old: State, new: State) -> None:
        if not self.store.transition(change_id, expected={old}, new=new, updated_at=self.now()):
            raise ChangeError(f"change {change_id} left state {old} while I was working on it")

    def finish(self, plan: Plan, *, recovered: bool = False) -> Outcome:
        end = State.DONE if plan.direction is Direction.FORWARD else State.REVERTED
        self.store.transition(plan.change.id, expected=IN_FLIGHT, new=end, updated_at=self.now())
        detail = {**plan_detail(plan), "recovered": recovered}
        self.records.audit(plan.change, plan.actor, f"change.{end.value}", detail)
        change = self.store.get_change(plan.change.id)
        return Outcome(True, finished_text(plan, recovered=recovered), change)

    def roll_back(self, plan: Plan, error: BaseException, *, recovered: bool = False) -> Outcome:
        """Restores the original type and running state; loud when even that fails."""
        why = explain(error)
        self.records.audit(
            plan.change, plan.actor, "change.rolling_back", {**plan_detail(plan), "why": why}
        )
        try:
            self._restore(plan)
        except Exception as second:  # report, never hide
            return self.fail_loudly(plan, why, explain(second))
        end = State.ROLLED_BACK if plan.direction is Direction.FORWARD else State.DONE
        error_text = why if plan.direction is Direction.FORWARD else f"revert failed: {why}"
        self.store.transition(
            plan.change.id,
            expected=IN_FLIGHT,
            new=end,
            updated_at=self.now(),
            last_error=error_text,
        )
        detail = {**plan_detail(plan), "why": why, "recovered": recovered, "end": end.value}
        self.records.audit(plan.change, plan.actor, "change.rolled_back", detail)
        text = rolled_back_text(plan, why)
        return Outcome(False, text, self.store.get_change(plan.change.id))

    def fail_loudly(self, plan: Plan, why: str, second: str) -> Outcome:
        error_text = f"{why}; rollback failed too: {second}"
        self.store.transition(
            plan.change.id,
            expected=IN_FLIGHT,
            new=State.FAILED,
            updated_at=self.now(),
            last_error=error_text,
        )
        self.records.audit(
            plan.change, plan.actor, "change.failed", {**plan_detail(plan), "why": error_text}
        )
        text = failed_text(plan, why, second)
        return Outcome(False, text, self.store.get_change(plan.change.id), True)

    def _restore(self, plan: Plan) -> None:
        """Brings the instance back to the original type, running if it was running (a
        SageMaker resource: back as the execution found it)."""
        if plan.change.kind.is_sagemaker:
            self.sagemaker.restore(plan)
            return
        state, itype = self.settle(plan)
        if itype != plan.original_type:
            if state != "stopped":
                self.call(plan, "StopInstances", InstanceIds=[plan.instance_id])
                self.wait_for(plan, "stopped")
            self._modify(plan, plan.original_type)
            state = "stopped"
        if plan.was_running and state != "running":
            self.call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self.wait_for(plan, "running")
        self.verify(plan, plan.original_type)

    def settle(self, plan: Plan) -> tuple[str, str]:
        """Waits out ``pending``/``stopping``; returns the (state, type) then."""
        instance = describe(plan.client, plan.instance_id)
        state = instance["State"]["Name"]
        if state == "pending":
            self.wait_for(plan, "running")
        elif state == "stopping":
            self.wait_for(plan, "stopped")
        instance = describe(plan.client, plan.instance_id)
        return instance["State"]["Name"], instance["InstanceType"]

    def _stop(self, plan: Plan) -> None:
        """Stops the instance unless it is already stopped (or stopping: then waits)."""
        state, _ = self.settle(plan)
        if state == "running":
            self.call(plan, "StopInstances", InstanceIds=[plan.instance_id])
            self.wait_for(plan, "stopped")
        elif state != "stopped":
            raise ChangeError(f"`{plan.instance_id}` is {state}, so I cannot stop it")

    def _modify(self, plan: Plan, instance_type: str) -> None:
        self.call(
            plan,
            "ModifyInstanceAttribute",
            InstanceId=plan.instance_id,
            InstanceType={"Value": instance_type},
        )

    def _start_if_it_was_running(self, plan: Plan) -> None:
        if plan.was_running:
            self.call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self.wait_for(plan, "running")

    def verify(self, plan: Plan, instance_type: str) -> None:
        instance = describe(plan.client, plan.instance_id)
        if instance["InstanceType"] != instance_type:
            raise ChangeError(
                f"`{plan.instance_id}` is {instance['InstanceType']}, expected {instance_type}"
            )

    def wait_for(self, plan: Plan, wanted: str) -> None:
        """Polls ``DescribeInstances`` (with the injected sleep and clock) until ``wanted``.

        Raises ``ChangeError`` on timeout, or when the instance settles elsewhere (a start
        that ends ``stopped`` again, e.g. for lack of capacity).
        """
        deadline = self.clock() + self.timeout_s
        while True:
            instance = describe_tolerating_throttling(plan.client, plan.instance_id)
            state = "" if instance is None else instance["State"]["Name"]
            if state == wanted:
                return
            if instance is not None and settled_elsewhere(state, wanted):
                reason = instance.get("StateReason", {}).get("Message", "")
                raise ChangeError(f"`{plan.instance_id}` is {state}, not {wanted}. {reason}")
            if self.clock() >= deadline:
                raise ChangeError(
                    f"`{plan.instance_id}` was still {state or 'unknown'} after "
                    f"{self.timeout_s:.0f} s waiting for {wanted}"
                )
            self.sleep(self.poll_s)

    def call(self, plan: Plan, action: str, **params: Any) -> Any:
        """One mutating EC2 call, audited with its result."""
        return self.records.call(plan, "ec2", action, **params)


def same_resource(one: Change, other: Change) -> bool:
    """Whether two changes are about the same resource: its name (or instance id) is unique
    only in its account and region, and a notebook instance may share an endpoint's name."""
    return (one.instance_id, one.account_id, one.region, _family(one)) == (
        other.instance_id, other.account_id, other.region, _family(other),
    )  # fmt: skip


def _family(change: Change) -> str:
    if change.kind is Kind.NOTEBOOK_STOP:
        return "notebook"
    return "endpoint" if change.kind.is_sagemaker else "instance"


def _check_power_state(state: str, direction: Direction) -> None:
    """A stop needs a running instance, and its revert (a start) a stopped one."""
    if direction is Direction.FORWARD and state not in RUNNING_LIKE:
        raise MustNotRun(f"the instance is already {state}; there is nothing to stop.")
    if direction is Direction.REVERT and state in RUNNING_LIKE:
        raise MustNotRun(f"the instance is already {state}; someone started it again.")

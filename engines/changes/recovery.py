"""After a crash: each change left half-way is finished or rolled back.

A change whose instance already has the target type is finished (started again if it was
running); any other is rolled back to the original type. A change being carried out by a
live process is that process's business and is left alone.

A SageMaker change is settled the same way: its resource's moving status (Deleting,
Updating, Stopping…) is waited out, so a delete or an update SageMaker had already accepted
finishes; then a resource in the change's target shape is finished and any other is put back
as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from engines.aws_errors import explain
from engines.changes.ec2 import describe
from engines.changes.execution import Execution
from engines.changes.models import IN_FLIGHT, Change, ChangeError, Direction, Kind, Outcome, State
from engines.changes.plan import Plan, plan_detail
from engines.changes.records import Records


class Recovery:
    """Settles the changes a crash left in flight.

    Args:
        records: the store, the audit trail and the clock.
        execution: carries out the steps (finish, roll back) the way an execution does.
    """

    def __init__(self, records: Records, execution: Execution) -> None:
        self.records = records
        self.store = records.store
        self.now = records.now
        self.execution = execution

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
                change.id, version=change.version, executor=self.records.process_id
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
            self.records.audit(change, actor, "change.recovered", {"decision": "abandoned dry run"})
            return Outcome(False, f"{change.label}: {why}.", self.store.get_change(change.id))
        original, target = change.from_type, change.to_type
        if change.direction is Direction.REVERT:
            original, target = target, original
        try:
            client = self.execution.client_for(change)
        except ChangeError as error:
            client = None
            plan = Plan(change, client, original, target, True, change.direction, actor)
            return self.execution.fail_loudly(plan, "a restart interrupted the change", str(error))
        was_running = True if change.was_running is None else change.was_running
        plan = Plan(change, client, original, target, was_running, change.direction, actor)
        return self._settle_after_crash(plan, when)

    def _settle_after_crash(self, plan: Plan, when: dt.datetime) -> Outcome:
        change = plan.change
        if change.kind.is_sagemaker:
            return self._settle_sagemaker_after_crash(plan, when)
        if change.kind is Kind.STOP:
            return self._finish_power_after_crash(plan, when)
        try:
            itype = describe(plan.client, plan.instance_id)["InstanceType"]
        except Exception as error:  # cannot look: fail loudly
            return self.execution.fail_loudly(
                plan, "a restart interrupted the change", explain(error)
            )
        decision = "finish" if itype == plan.target_type else "roll back"
        detail = {
            **plan_detail(plan),
            "state_at_crash": change.state.value,
            "instance_type": itype,
            "decision": decision,
            "at": when.isoformat(),
        }
        self.records.audit(change, plan.actor, "change.recovered", detail)
        if decision == "roll back":
            interrupted = ChangeError(f"a restart interrupted the change while {change.state}")
            return self.execution.roll_back(plan, interrupted, recovered=True)
        try:
            self.execution.settle(plan)
            self._start_if_stopped(plan)
            self.execution.verify(plan, plan.target_type)
        except Exception as error:  # any failure means: put it back
            return self.execution.roll_back(plan, error, recovered=True)
        return self.execution.finish(plan, recovered=True)

    def _settle_sagemaker_after_crash(self, plan: Plan, when: dt.datetime) -> Outcome:
        """Waits out what SageMaker is doing, then finishes (the resource is in the target
        shape) or puts the resource back."""
        steps = self.execution.sagemaker
        try:
            steps.settle(plan)
            done, where = steps.in_target_shape(plan)
        except Exception as error:  # cannot look, or it settled nowhere: put it back
            return self.execution.roll_back(plan, error, recovered=True)
        decision = "finish" if done else "roll back"
        detail = {
            **plan_detail(plan),
            "state_at_crash": plan.change.state.value,
            "found": where,
            "decision": decision,
            "at": when.isoformat(),
        }
        self.records.audit(plan.change, plan.actor, "change.recovered", detail)
        if decision == "roll back":
            interrupted = ChangeError(f"a restart interrupted the change while {plan.change.state}")
            return self.execution.roll_back(plan, interrupted, recovered=True)
        return self.execution.finish(plan, recovered=True)

    def _finish_power_after_crash(self, plan: Plan, when: dt.datetime) -> Outcome:
        """A stop (or its revert, a start) was approved and under way: finish it."""
        wanted = "stopped" if plan.direction is Direction.FORWARD else "running"
        detail = {
            **plan_detail(plan),
            "state_at_crash": plan.change.state.value,
            "decision": "finish",
            "at": when.isoformat(),
        }
        self.records.audit(plan.change, plan.actor, "change.recovered", detail)
        try:
            state, _ = self.execution.settle(plan)
            if state != wanted:
                action = "StopInstances" if wanted == "stopped" else "StartInstances"
                self.execution.call(plan, action, InstanceIds=[plan.instance_id])
                self.execution.wait_for(plan, wanted)
        except Exception as error:  # any failure means: put it back
            return self.execution.roll_back(plan, error, recovered=True)
        return self.execution.finish(plan, recovered=True)

    def _start_if_stopped(self, plan: Plan) -> None:
        state = describe(plan.client, plan.instance_id)["State"]["Name"]
        if plan.was_running and state != "running":
            self.execution.call(plan, "StartInstances", InstanceIds=[plan.instance_id])
            self.execution.wait_for(plan, "running")

"""Dry runs through the real call path: each EC2 call is made with ``DryRun=True``.

``DryRunOperation`` means "would have worked", ``UnauthorizedOperation`` is reported as the
missing permission (cloud-custodian's way: the dry run asks the real API).

SageMaker has no ``DryRun`` parameter: its dry run (``run_looked``) is the validation's
Describe calls and a list of the calls a real execution would make; no mutating call is made,
and the text says the permissions were not checked.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from botocore.exceptions import ClientError

from engines.aws_errors import error_code, explain
from engines.changes.ec2 import method_name
from engines.changes.models import IN_FLIGHT, ChangeError, Direction, Kind, Outcome, State
from engines.changes.plan import Plan, first_step, plan_detail
from engines.changes.records import Records
from engines.changes.texts import join_steps, permission_text


class DryRun:
    """Rehearses executions: every call is allowed or not, and nothing changes.

    Args:
        records: the store, the audit trail and the clock.
    """

    def __init__(self, records: Records) -> None:
        self.records = records
        self.store = records.store
        self.now = records.now

    def run(self, plan: Plan, expected: Collection[State]) -> Outcome:
        """Makes each call with ``DryRun=True``; a forward dry run ends ``done`` (dry_run)."""
        forward = plan.direction is Direction.FORWARD
        if forward and not self._claim(plan, expected):
            return self.records.already(plan.change.id)
        try:
            steps = self._dry_calls(plan)
        except ChangeError as error:
            return self._dry_run_failed(plan, str(error), forward)
        text = (
            f"Dry run: I would have {join_steps(steps)}. Every call was allowed. "
            f"Nothing was changed; {plan.change.label} is a dry run only."
        )
        return self._done(plan, text, {})

    def run_looked(self, plan: Plan, expected: Collection[State], calls: list[str]) -> Outcome:
        """A dry run without ``DryRun=True`` (SageMaker): the validation has looked, and
        ``calls`` say what a real execution would call; nothing else is called."""
        if plan.direction is Direction.FORWARD and not self._claim(plan, expected):
            return self.records.already(plan.change.id)
        text = (
            "Dry run: SageMaker has no dry-run mode, so I only looked (Describe calls) and "
            f"everything checks out. For real I would have {join_steps(calls)}. Permissions "
            "were not checked by this dry run. Nothing was changed; "
            f"{plan.change.label} is a dry run only."
        )
        return self._done(plan, text, {"would_call": calls, "permissions_checked": False})

    def _claim(self, plan: Plan, expected: Collection[State]) -> bool:
        return self.store.transition(
            plan.change.id,
            expected=expected,
            new=first_step(plan),
            updated_at=self.now(),
            dry_run=True,
            was_running=plan.was_running,
            direction=plan.direction,
            executor=self.records.process_id,
        )

    def _done(self, plan: Plan, text: str, detail: dict[str, Any]) -> Outcome:
        if plan.direction is Direction.FORWARD:
            self.store.transition(
                plan.change.id, expected=IN_FLIGHT, new=State.DONE, updated_at=self.now()
            )
        self.records.audit(
            plan.change, plan.actor, "change.dry_run.done", {**plan_detail(plan), **detail}
        )
        return Outcome(True, text, self.store.get_change(plan.change.id))

    def _dry_run_failed(self, plan: Plan, why: str, forward: bool) -> Outcome:
        if forward:
            self.store.transition(
                plan.change.id,
                expected=IN_FLIGHT,
                new=State.FAILED,
                updated_at=self.now(),
                last_error=why,
            )
        self.records.audit(plan.change, plan.actor, "change.dry_run.failed", {"why": why})
        text = f"Dry run of {plan.change.label} failed: {why} Nothing was changed."
        return Outcome(False, text, self.store.get_change(plan.change.id))

    def _dry_calls(self, plan: Plan) -> list[str]:
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

    def _dry(self, plan: Plan, action: str, **params: Any) -> None:
        """One call with ``DryRun=True``; returns when it would have worked."""
        method = getattr(plan.client, method_name(action))
        detail: dict[str, Any] = {"change_id": plan.change.id, "params": params}
        try:
            method(DryRun=True, **params)
        except ClientError as error:
            code = error_code(error)
            detail["result"] = code
            self.records.audit(plan.change, plan.actor, f"ec2.{action}", detail, dry_run=True)
            if code == "DryRunOperation":
                return
            # The instance was not stopped first, so EC2 may judge the type change by the
            # running instance; the permission check has passed by then.
            if code == "IncorrectInstanceState" and action == "ModifyInstanceAttribute":
                return
            if code == "UnauthorizedOperation":
                raise ChangeError(permission_text(plan, action)) from error
            raise ChangeError(f"ec2:{action} would fail: {explain(error)}.") from error
        self.records.audit(
            plan.change, plan.actor, f"ec2.{action}", {**detail, "result": "executed"}
        )
        raise ChangeError(
            f"ec2:{action} did not honour DryRun=True and may have run: check "
            f"`{plan.instance_id}` now."
        )

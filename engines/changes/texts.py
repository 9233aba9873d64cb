"""What a change's outcomes say, in sentences for the people in Slack."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from engines.changes.models import MAINTENANCE_WINDOW, Change, Direction, Kind, State
from engines.changes.plan import Plan
from engines.changes.sagemaker_api import switched_config_name
from engines.words import mrkdwn_safe

COSTBOT = "costbot"
"""The actor of what costbot decides itself (a withdrawal, an expired window): no Slack user."""


def mention(user: str) -> str:
    """``<@U…>`` for a person; costbot by its name, since ``<@costbot>`` would show in Slack
    as an unknown user."""
    return COSTBOT if user == COSTBOT else f"<@{user}>"


def people(users: Iterable[str]) -> str:
    names = [f"<@{user}>" for user in users]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def only_approvers_text(change: Change, approvers: Collection[str], verb: str) -> str:
    team = change.team or "this instance's team"
    if not approvers:
        return (
            f"nobody can {verb} this: {team} has no approvers in the teams file "
            "(only the owning team's approvers decide)."
        )
    return f"only {team}'s approvers can {verb} this: {people(approvers)}."


def state_words(state: State) -> str:
    return {
        State.PROPOSED: "waiting for approval",
        State.ROLLED_BACK: "rolled back",
        State.STOPPING: "being carried out",
        State.MODIFYING: "being carried out",
        State.STARTING: "being carried out",
    }.get(state, state.value)


def decision_text(change: Change, actor: str) -> str:
    saving = f"${change.monthly_saving:,.2f}/month"
    if change.state is State.SCHEDULED and change.scheduled_for is not None:
        when = change.scheduled_for.strftime("%Y-%m-%d %H:%M %Z").strip()
        latest = (change.scheduled_for + MAINTENANCE_WINDOW).strftime("%H:%M %Z").strip()
        return (
            f"{mention(actor)} approved {change.label} for {when} ({saving}); it starts by "
            f"{latest} or not at all."
        )
    if change.state is State.SNOOZED and change.snoozed_until is not None:
        until = change.snoozed_until.date().isoformat()
        return f"{mention(actor)} snoozed {change.label} until {until}."
    return f"{mention(actor)} {change.state.value} {change.label} ({saving})."


def finished_text(plan: Plan, *, recovered: bool) -> str:
    change = plan.change
    if change.kind.is_sagemaker:
        return _finished_sagemaker_text(plan, recovered=recovered)
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


def _finished_power_text(plan: Plan, *, recovered: bool) -> str:
    change = plan.change
    prefix = "After a restart I finished: " if recovered else "Done: "
    if plan.direction is Direction.REVERT:
        return f"{prefix}{change.display_name} is running again ({change.from_type})."
    return (
        f"{prefix}{change.display_name} ({change.from_type}) is stopped; its EBS volumes and "
        f"data are kept. Saving ${change.monthly_saving:,.2f}/month. Revert starts it again."
    )


def rolled_back_text(plan: Plan, why: str) -> str:
    if plan.change.kind.is_sagemaker:
        return _rolled_back_sagemaker_text(plan, why)
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


def join_steps(steps: list[str]) -> str:
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]


def permission_text(plan: Plan, action: str) -> str:
    account = plan.change.account_id or "this account"
    return (
        f"costbot's AWS role in {account} ({plan.change.region}) is not allowed to call "
        f"ec2:{action} on `{plan.instance_id}`. Add ec2:{action} to its IAM policy."
    )


def failed_text(plan: Plan, why: str, second: str) -> str:
    """A change that failed and could not be put back: loud, with where to look."""
    change = plan.change
    if change.kind.is_sagemaker:
        should = _sagemaker_shape(plan, before=True)
        return (
            f":rotating_light: {change.label} FAILED and I could not put it back. "
            f"{sagemaker_what(change).capitalize()} MAY BE IN A BROKEN STATE RIGHT NOW (account "
            f"{change.account_id}, {change.region}); it should be {should}. Please check it in "
            f"the SageMaker console. First error: {why}. Rollback error: {second}."
        )
    return (
        f":rotating_light: {change.label} FAILED and I could not put it back. "
        f"{change.display_name} MAY BE STOPPED RIGHT NOW (account "
        f"{change.account_id}, {change.region}); it should be {plan.original_type}"
        f"{', running' if plan.was_running else ''}. Please check it in the EC2 console. "
        f"First error: {why}. Rollback error: {second}."
    )


def sagemaker_what(change: Change) -> str:
    """``endpoint `fraud-v1``` or ``notebook instance `nlp-lab```."""
    noun = "notebook instance" if change.kind is Kind.NOTEBOOK_STOP else "endpoint"
    return f"{noun} `{mrkdwn_safe(change.instance_id)}`"


def _sagemaker_shape(plan: Plan, *, before: bool) -> str:
    """Where a SageMaker resource is before (or after) this execution, in words."""
    change = plan.change
    side = plan.original_type if before else plan.target_type
    forward = plan.direction is Direction.FORWARD
    if change.kind is Kind.ENDPOINT_DELETE:
        serving = before == forward
        config = f"`{mrkdwn_safe(change.endpoint_config)}`"
        return f"in service on endpoint config {config}" if serving else "deleted"
    if change.kind is Kind.NOTEBOOK_STOP:
        return "in service" if before == forward else "stopped"
    variant = mrkdwn_safe(change.variant)
    if change.kind is Kind.ENDPOINT_COUNT:
        return f"running {side} instances in variant {variant}"
    return f"running variant {variant} on {side}"


def _finished_sagemaker_text(plan: Plan, *, recovered: bool) -> str:
    change = plan.change
    what = sagemaker_what(change)
    prefix = "After a restart I finished: " if recovered else "Done: "
    saving = f"Saving ${change.monthly_saving:,.2f}/month."
    config = f"`{mrkdwn_safe(change.endpoint_config)}`"
    if plan.direction is Direction.REVERT:
        if change.kind is Kind.ENDPOINT_DELETE:
            return f"{prefix}{what} is back: re-created from {config} with its tags, in service."
        return f"{prefix}reverted {what}; it is {_sagemaker_shape(plan, before=False)} again."
    if change.kind is Kind.ENDPOINT_DELETE:
        return (
            f"{prefix}{what} ({change.from_type}) is deleted; its endpoint config {config} and "
            f"model are kept. {saving} Revert re-creates it from {config}."
        )
    if change.kind is Kind.NOTEBOOK_STOP:
        return (
            f"{prefix}{what} ({change.from_type}) is stopped; its storage volume and files are "
            f"kept. {saving} Revert starts it again."
        )
    was = _sagemaker_shape(plan, before=True).removeprefix("running ")
    now = f"{prefix}{what} is now {_sagemaker_shape(plan, before=False)} (was {was})"
    if change.kind is Kind.ENDPOINT_CONFIG:
        made = mrkdwn_safe(switched_config_name(change))
        now += f", on the new endpoint config `{made}`; {config} is kept for the revert"
    return f"{now}. {saving}"


def _rolled_back_sagemaker_text(plan: Plan, why: str) -> str:
    change = plan.change
    what = sagemaker_what(change)
    doing = {
        Kind.ENDPOINT_DELETE: ("Deleting", "Re-creating"),
        Kind.NOTEBOOK_STOP: ("Stopping", "Starting"),
        Kind.ENDPOINT_COUNT: ("Changing", "Reverting"),
        Kind.ENDPOINT_CONFIG: ("Switching", "Reverting"),
    }[change.kind][int(plan.direction is Direction.REVERT)]
    now = _sagemaker_shape(plan, before=True)
    return f"{doing} {what} failed ({why}). I put it back: it is {now}, as it was before."

"""What a change's outcomes say, in sentences for the people in Slack."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from engines.changes.models import Change, Direction, Kind, State
from engines.changes.plan import Plan


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
        return f"<@{actor}> approved {change.label} for {when} ({saving})."
    if change.state is State.SNOOZED and change.snoozed_until is not None:
        until = change.snoozed_until.date().isoformat()
        return f"<@{actor}> snoozed {change.label} until {until}."
    return f"<@{actor}> {change.state.value} {change.label} ({saving})."


def finished_text(plan: Plan, *, recovered: bool) -> str:
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

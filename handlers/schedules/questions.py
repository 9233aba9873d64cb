"""``/cost schedule list | show | pause | resume | keep | skip``, planned (``create`` opens a
form: ``handlers.schedules.actions``).
"""

from __future__ import annotations

from collections.abc import Callable

from engines.config.teams import find_team
from engines.errors import UserInputError
from engines.schedules.enforcement import OffHours
from engines.schedules.model import ScheduleError
from engines.schedules.results import (
    ScheduleDetailResult,
    ScheduleListResult,
    ScheduleOutcome,
    ScheduleResult,
)
from engines.words import echo
from handlers.deps import Deps
from handlers.parsing import (
    ScheduleRequest,
)
from handlers.schedules.blocks import (
    build_schedule_detail,
    build_schedule_done,
    build_schedule_list,
    build_schedule_problem,
)
from handlers.work import Reply, Work


def plan_schedule(request: ScheduleRequest, deps: Deps, asked_by: str) -> Work[ScheduleResult]:
    """``/cost schedule ...`` but ``create`` (a modal, opened by the command listener)."""
    offhours = deps.offhours
    if offhours is None:
        raise UserInputError("Off-hours schedules need AWS access, which is not configured here.")
    if request.verb == "create":
        raise UserInputError("`/cost schedule create` opens a form in Slack.")
    if request.verb == "list":
        return _plan_schedule_list(request, offhours, deps, asked_by)
    schedule = offhours.find(request.name) if request.name and request.verb != "skip" else None
    if request.verb == "show":
        assert schedule is not None

        def show() -> ScheduleResult:
            resources = offhours.inventory()
            return ScheduleDetailResult(offhours.view(schedule, deps.now(), resources))

        return Work(f"schedule *{schedule.name}*", show, _schedule_renderer(deps, asked_by))
    change = _SCHEDULE_CHANGES[request.verb]
    return Work(
        _describe_change(request),
        lambda: _outcome(lambda: change(request, offhours, deps, asked_by)),
        _schedule_renderer(deps, asked_by),
    )


def _plan_schedule_list(
    request: ScheduleRequest, offhours: OffHours, deps: Deps, asked_by: str
) -> Work[ScheduleResult]:
    team_name = find_team(deps.teams, request.name).name if request.name else ""

    def result() -> ScheduleResult:
        resources = offhours.inventory()
        now = deps.now()
        schedules = [s for s in offhours.schedules() if not team_name or s.team == team_name]
        views = tuple(offhours.view(s, now, resources) for s in schedules)
        return ScheduleListResult(team_name or "all teams", views)

    return Work(
        f"the off-hours schedules of {team_name or 'all teams'}",
        result,
        _schedule_renderer(deps, asked_by),
    )


def _schedule_renderer(deps: Deps, asked_by: str) -> Callable[[ScheduleResult], Reply]:
    def render(result: ScheduleResult) -> Reply:
        if isinstance(result, ScheduleListResult):
            return Reply(
                build_schedule_list(
                    result.subject, result.views, dry_run=deps.dry_run, asked_by=asked_by
                )
            )
        if isinstance(result, ScheduleDetailResult):
            detail = build_schedule_detail(result.view, dry_run=deps.dry_run, asked_by=asked_by)
            return Reply(detail)
        if result.ok:
            return Reply(build_schedule_done(result.text))
        return Reply(build_schedule_problem(result.text, result.hint))

    return render


def _outcome(change: Callable[[], str]) -> ScheduleResult:
    try:
        return ScheduleOutcome(True, change())
    except ScheduleError as error:
        return ScheduleOutcome(False, str(error), error.hint)


def _describe_change(request: ScheduleRequest) -> str:
    if request.verb == "keep":
        return f"keeping *{echo(request.target)}* running until {echo(request.until)}"
    if request.verb == "skip":
        return f"skipping tomorrow for {echo(request.name) or 'your team'}"
    return f"{request.verb.rstrip('e')}ing *{echo(request.name)}*"


def _pause(request: ScheduleRequest, offhours: OffHours, deps: Deps, user: str) -> str:
    offhours.set_paused(request.name, True, by=user, now=deps.now())
    return (
        f"<@{user}> paused schedule `{request.name.lower()}`: it stops and starts nothing "
        f"until `/cost schedule resume {request.name.lower()}`."
    )


def _resume(request: ScheduleRequest, offhours: OffHours, deps: Deps, user: str) -> str:
    offhours.set_paused(request.name, False, by=user, now=deps.now())
    return (
        f"<@{user}> resumed schedule `{request.name.lower()}`: what it would have changed "
        "while paused is applied once, then it follows its hours again."
    )


def _keep(request: ScheduleRequest, offhours: OffHours, deps: Deps, user: str) -> str:
    overrides, resources = offhours.keep(request.target, request.until, by=user, now=deps.now())
    schedule = next(s for s in offhours.schedules() if s.selects(resources[0]))
    until = overrides[0].until.astimezone(schedule.zone)
    names = ", ".join(r.label for r in resources[:10])
    more = f" and {len(resources) - 10} more" if len(resources) > 10 else ""
    return (
        f"<@{user}> keeps {names}{more} running until {until:%a %H:%M %Z}; then the schedule "
        "applies again."
    )


def _skip(request: ScheduleRequest, offhours: OffHours, deps: Deps, user: str) -> str:
    team = "" if request.name else _team_of(user, deps)
    overrides = offhours.skip_tomorrow(by=user, now=deps.now(), schedule_name=request.name,
                                       team=team)  # fmt: skip
    names = ", ".join(f"`{o.target}`" for o in overrides)
    day = overrides[0].starts.astimezone(offhours.find(overrides[0].target).zone)
    its = "its" if len(overrides) == 1 else "their"
    text = (
        f"<@{user}> skips tomorrow ({day:%a %b %-d}) for {names}: {its} resources stay off all "
        "day, as on a holiday."
    )
    skipped = {o.target for o in overrides}
    left = [
        f"`{s.name}` {offhours.day_off_tomorrow(s, deps.now())}"
        for s in offhours.schedules()
        if team and s.team == team and not s.paused and s.name not in skipped
    ]
    return text + (f" ({'; '.join(left)}: nothing to skip there.)" if left else "")


def _team_of(user: str, deps: Deps) -> str:
    teams = [t.name for t in deps.teams.values() if user in t.members or user in t.approvers]
    if len(teams) == 1:
        return teams[0]
    if not teams:
        raise ScheduleError(
            "You are in no team's members or approvers, so I do not know whose schedules to skip.",
            hint="Name one: `/cost schedule skip tomorrow <schedule>`.",
        )
    raise ScheduleError(
        f"You are in several teams ({', '.join(teams)}): say which schedule to skip.",
        hint="Try `/cost schedule skip tomorrow <schedule>`; `/cost schedule list` names them.",
    )


_SCHEDULE_CHANGES: dict[str, Callable[[ScheduleRequest, OffHours, Deps, str], str]] = {
    "pause": _pause,
    "resume": _resume,
    "keep": _keep,
    "skip": _skip,
}

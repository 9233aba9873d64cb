"""From a parsed request to the engine question and its message: shared by /cost and the CLI.

``plan_answer`` does the fast checks (team exists, periods parse) so that mistakes are
answered in the ack; the returned ``Work`` carries the slow part for after it.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from engines import questions
from engines.allocation import owner_of
from engines.changes import IN_FLIGHT, OPEN, Change, ChangeRequest, State
from engines.config.teams import find_team
from engines.digest_results import DigestPostResult
from engines.digests import Digest
from engines.errors import CostbotError, UserInputError
from engines.models import AuditResult, Period, Team
from engines.month_view import month_view
from engines.periods import parse_period
from engines.rightsizing.models import Recommendation, RightsizeResult
from engines.rightsizing.pricing import REGION_LOCATIONS
from engines.schedules.enforcement import OffHours
from engines.schedules.model import ScheduleError
from engines.schedules.results import (
    ScheduleDetailResult,
    ScheduleListResult,
    ScheduleOutcome,
    ScheduleResult,
)
from engines.spot.review import SpotOutlook, TeamSpotReport, advice_first
from engines.words import echo
from handlers.blocks.cost import build_answer_message, build_forecast_message, build_trend_message
from handlers.blocks.digest import build_digest_message, build_digest_post_message
from handlers.charts import render_daily_trend_png
from handlers.deps import Deps
from handlers.digests import DigestJob, digest_chart_png, team_digest
from handlers.parsing import (
    AuditRequest,
    CompareRequest,
    CostCommand,
    DigestRequest,
    ForecastRequest,
    RightsizeRequest,
    ScheduleRequest,
    SpotRequest,
    SpotTeamRequest,
    TeamCostRequest,
    TopRequest,
    TrendRequest,
    UntaggedRequest,
)
from handlers.rightsizing.audit_blocks import build_audit_message
from handlers.rightsizing.blocks import build_rightsize_message
from handlers.schedules.blocks import (
    build_schedule_detail,
    build_schedule_done,
    build_schedule_list,
    build_schedule_problem,
)
from handlers.spot.blocks import build_spot_message, build_spot_team_message

DEFAULT_TREND = "last 30d"
TOO_LONG = "this took too long: try again in a few minutes"
TOO_LONG_PERIOD = "this took too long: try a shorter period"


@dataclass(frozen=True)
class Reply:
    message: dict[str, Any]
    chart: bytes | None = None


R = TypeVar("R")


@dataclass(frozen=True)
class Work(Generic[R]):
    """A question ready to run: ``result()`` asks the source, ``reply()`` also renders it.

    ``R`` is what the question answers (``engines.questions.Answer``, a ``Digest``, ...):
    every result has ``as_json``, the CLI's ``--json`` shape."""

    description: str
    result: Callable[[], R]
    render: Callable[[R], Reply]
    too_long: str = TOO_LONG  # what the user is told past the time limit

    def reply(self) -> Reply:
        return self.render(self.result())


def plan_answer(request: CostCommand, *, deps: Deps, asked_by: str = "") -> Work[Any]:
    """Checks ``request`` against the teams file and periods and prepares its answer.

    Raises:
        UserInputError: an unknown team, an unreadable period, a bad grouping.
    """
    planner = _PLANNERS.get(type(request))
    if planner is None:
        raise UserInputError("That question has no answer yet.")
    return planner(request, deps, asked_by)


MONTH_TO_DATE = "month to date"  # the label ``parse_period`` gives the month so far


def _asked_period(text: str, today: dt.date) -> tuple[Period, str]:
    """The period ``text`` names, and a note when it was changed: on the 1st, "month to
    date" holds no complete day yet (today's costs are still arriving), so the answer is
    last month's and says so, never a refusal of the command's own default."""
    period = parse_period(text, today=today)
    if period.label != MONTH_TO_DATE or period.start != today:
        return period, ""
    last_month = parse_period("last month", today=today)
    note = (
        f"No day of {today:%B} is complete yet (its costs are still arriving), so this is "
        f"{last_month.label}."
    )
    return last_month, note


def _noted(answer: questions.Answer, note: str) -> questions.Answer:
    return replace(answer, notes=(note, *answer.notes)) if note else answer


def _plan_team(request: TeamCostRequest, deps: Deps, asked_by: str) -> Work[questions.Answer]:
    team = find_team(deps.teams, request.team)
    # The billing date (UTC), as every answer: the headline, the budget line and /cost top
    # agree on "month to date" at any instant, whatever the team's time zone.
    today = deps.today()
    period, first_day_note = _asked_period(request.period_text, today)
    by = request.group_by or "service"
    questions.check_grouping(by, across_teams=False)

    def result() -> questions.Answer:
        answer = questions.team_cost(
            deps.cost_source,
            deps.teams,
            deps.shared,
            team=team,
            period=period,
            metric=request.metric,
            by=by,
            today=today,
        )
        answer = _noted(answer, first_day_note)
        # The budget line shows the team's month view, as the digest and App Home do; its
        # forecast only where that line is shown (month to date).
        month = month_view(
            deps.cost_source,
            deps.teams,
            deps.shared,
            today=today,
            team_name=team.name,
            metric=request.metric,
            with_forecast=period.label == MONTH_TO_DATE,
        )
        return replace(answer, month=month)

    def render(answer: questions.Answer) -> Reply:
        title = f"{team.name} · {period.label or 'cost'}"
        return Reply(
            build_answer_message(
                answer,
                title=title,
                budget=team.monthly_budget,
                asked_by=asked_by,
            )
        )

    return Work(
        f"the cost of *{team.name}* for {period.describe()}", result, render, TOO_LONG_PERIOD
    )


def _plan_top(request: TopRequest, deps: Deps, asked_by: str) -> Work[questions.Answer]:
    period, first_day_note = _asked_period(request.period_text, deps.today())
    questions.check_grouping(request.group_by, across_teams=True)

    def result() -> questions.Answer:
        answer = questions.top_costs(
            deps.cost_source,
            deps.teams,
            deps.shared,
            period=period,
            metric=request.metric,
            by=request.group_by,
            count=request.count,
            today=deps.today(),
        )
        answer = _noted(answer, first_day_note)
        month = month_view(
            deps.cost_source,
            deps.teams,
            deps.shared,
            today=deps.today(),
            metric=request.metric,
            with_forecast=False,
        )
        return replace(answer, month=month)

    title = f"Top {request.count} by {request.group_by} · {period.label or 'cost'}"
    return Work(
        f"the top costs for {period.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, period),
        TOO_LONG_PERIOD,
    )


def _plan_untagged(request: UntaggedRequest, deps: Deps, asked_by: str) -> Work[questions.Answer]:
    period, first_day_note = _asked_period(request.period_text, deps.today())
    questions.check_grouping(request.group_by, across_teams=False)

    def result() -> questions.Answer:
        answer = questions.untagged_costs(
            deps.cost_source,
            deps.teams,
            deps.shared,
            period=period,
            metric=request.metric,
            by=request.group_by,
            today=deps.today(),
        )
        return _noted(answer, first_day_note)

    title = f"Untagged · {period.label or 'cost'}"
    return Work(
        f"untagged costs for {period.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, period),
        TOO_LONG_PERIOD,
    )


def _plan_compare(request: CompareRequest, deps: Deps, asked_by: str) -> Work[questions.Answer]:
    team = find_team(deps.teams, request.team) if request.team else None
    today = deps.today()  # the billing date, as /cost team sees it
    current = parse_period(request.left_text, today=today)
    baseline = parse_period(request.right_text, today=today)

    def result() -> questions.Answer:
        return questions.compare_periods(
            deps.cost_source,
            deps.teams,
            deps.shared,
            current=current,
            baseline=baseline,
            team=team,
            metric=request.metric,
            today=today,
        )

    subject = team.name if team else "all teams"
    title = f"{subject} · {_name(current)} vs {_name(baseline)}"
    return Work(
        f"a comparison of {current.describe()} with {baseline.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, current, movers=True),
        TOO_LONG_PERIOD,
    )


def _plan_forecast(
    request: ForecastRequest, deps: Deps, asked_by: str
) -> Work[questions.ForecastAnswer]:
    team = find_team(deps.teams, request.team) if request.team else None
    today = deps.today()  # the billing date, as the digest and App Home see it

    def result() -> questions.ForecastAnswer:
        return questions.month_end_forecast(
            deps.cost_source,
            deps.teams,
            today=today,
            team=team,
            metric=request.metric,
            shared=deps.shared,
        )

    def render(answer: questions.ForecastAnswer) -> Reply:
        return Reply(build_forecast_message(answer, asked_by=asked_by))

    subject = team.name if team else "all teams"
    return Work(f"the month-end forecast for {subject}", result, render)


def _plan_trend(request: TrendRequest, deps: Deps, asked_by: str) -> Work[questions.Trend]:
    team = find_team(deps.teams, request.team)
    today = deps.today()  # the billing date, as /cost team and the digest use
    period = parse_period(request.period_text or DEFAULT_TREND, today=today)

    def result() -> questions.Trend:
        return questions.daily_trend(
            deps.cost_source,
            deps.teams,
            team=team,
            period=period,
            shared=deps.shared,
            metric=request.metric,
            today=today,
        )

    def render(trend: questions.Trend) -> Reply:
        shown = trend.period.label or trend.period.describe()
        title = f"{trend.subject} · {trend.metric.label} · {trend.unit.adjective} · {shown}"
        chart = render_daily_trend_png(
            trend.days, title=title, currency=trend.currency, unit=trend.unit.value
        )
        return Reply(build_trend_message(trend, asked_by=asked_by), chart=chart)

    return Work(f"the daily trend of *{team.name}*", result, render, TOO_LONG_PERIOD)


def _name(period: Period) -> str:
    return period.label or period.describe()


def _answer_renderer(
    title: str, deps: Deps, asked_by: str, period: Period, *, movers: bool = False
) -> Callable[[questions.Answer], Reply]:
    def render(answer: questions.Answer) -> Reply:
        message = build_answer_message(
            answer,
            title=title,
            asked_by=asked_by,
            movers=movers,
        )
        return Reply(message)

    return render


def _plan_rightsize(request: RightsizeRequest, deps: Deps, asked_by: str) -> Work[RightsizeResult]:
    if deps.rightsizing is None or deps.changes is None:
        raise UserInputError(
            "Right-sizing needs AWS access (EC2 and CloudWatch), which is not configured here."
        )
    reviewer = deps.rightsizing
    teams = [find_team(deps.teams, request.team)] if request.team else list(deps.teams.values())
    subject = teams[0].name if request.team else "all teams"

    def result() -> RightsizeResult:
        proposals: list[tuple[str, Recommendation]] = []
        lookback = 14
        for team in teams:
            review = reviewer.review(team)
            lookback = review.lookback_days
            owned = [rec for rec in review.recommendations if _owner(rec, deps) == team.name]
            proposals += _proposals(owned, team.name, deps)
        proposals.sort(key=lambda pair: -pair[1].monthly_saving)
        approvers = tuple(dict.fromkeys(a for team in teams for a in team.approvers))
        return RightsizeResult(subject, tuple(proposals), approvers, lookback)

    def render(answer: RightsizeResult) -> Reply:
        return Reply(
            build_rightsize_message(
                answer.subject,
                answer.proposals,
                approvers=answer.approvers,
                dry_run=deps.dry_run,
                lookback_days=answer.lookback_days,
                asked_by=asked_by,
            )
        )

    return Work(f"right-sizing for *{subject}*", result, render)


def _owner(recommendation: Recommendation, deps: Deps) -> str:
    """The team whose rule claims the instance (the first matching rule, as in allocation):
    a team's review shows only its own instances, never another team's that its tags
    happen to match too."""
    instance = recommendation.instance
    return owner_of(instance.account_id, instance.tags, teams=deps.teams, shared=deps.shared)


def _proposals(
    recommendations: Sequence[Recommendation], team: str, deps: Deps
) -> list[tuple[str, Recommendation]]:
    """Each recommendation with the change behind its buttons: an open change for the same
    instance is reused; a dismissed or still-snoozed one keeps the recommendation away.

    Showing recommendations makes nobody a requester: costbot proposes the changes, and
    only the owning team's approvers decide them."""
    assert deps.changes is not None
    pairs: list[tuple[str, Recommendation]] = []
    for rec in recommendations:
        if rec.action not in ("modify", "stop") or rec.monthly_saving <= 0:
            pairs.append(("", rec))
            continue
        earlier = deps.changes.store.list_changes(instance_id=rec.instance.instance_id, limit=20)
        if any(_keeps_away(change, deps) for change in earlier):
            continue
        open_change = next((c for c in earlier if c.state in OPEN), None)
        if open_change is not None and open_change.team != team:
            # The teams file now gives the instance to another team: the old team's pending
            # change is withdrawn, and the owner decides a fresh one.
            reason = f"the teams file now gives this instance to {team}"
            deps.changes.deny(open_change.id, by="costbot", reason=reason)
            open_change = None
        if open_change is None:
            request = ChangeRequest.from_recommendation(rec, requested_by="costbot", team=team)
            open_change = deps.changes.propose(request)
        pairs.append((str(open_change.id), rec))
    return pairs


def _keeps_away(change: Change, deps: Deps) -> bool:
    if change.state is State.DISMISSED:
        return True
    return change.state is State.SNOOZED and bool(
        change.snoozed_until and change.snoozed_until > deps.now()
    )


def _plan_audit(request: AuditRequest, deps: Deps, asked_by: str) -> Work[AuditResult]:
    team_name = find_team(deps.teams, request.team).name if request.team else ""

    def result() -> AuditResult:
        records = deps.audit.recent_audit(team=team_name, limit=20)
        return AuditResult(team_name or "all teams", tuple(records))

    def render(answer: AuditResult) -> Reply:
        return Reply(build_audit_message(answer.subject, answer.records))

    return Work(f"the audit log of {team_name or 'all teams'}", result, render)


def _plan_spot(request: SpotRequest, deps: Deps, asked_by: str) -> Work[SpotOutlook]:
    advisor = _spot_advisor(deps)
    region = request.region or advisor.default_region
    _check_region(region, deps)

    def result() -> SpotOutlook:
        return advisor.outlook(request.instance_type, region)

    def render(answer: SpotOutlook) -> Reply:
        return Reply(build_spot_message(answer, asked_by=asked_by))

    return Work(f"spot prices of *{request.instance_type}* in {region}", result, render)


def _plan_spot_team(request: SpotTeamRequest, deps: Deps, asked_by: str) -> Work[TeamSpotReport]:
    advisor = _spot_advisor(deps)
    team = find_team(deps.teams, request.team)

    def result() -> TeamSpotReport:
        advice, problem = _rightsizing_first(team, deps)
        return advisor.team_report(team, advice_first=advice, rightsizing_problem=problem)

    def render(answer: TeamSpotReport) -> Reply:
        return Reply(build_spot_team_message(answer, asked_by=asked_by))

    return Work(f"spot candidates of *{team.name}*", result, render)


def _rightsizing_first(team: Team, deps: Deps) -> tuple[dict[str, str], str]:
    """What right-sizing advises first for the team's instances (so that spot never
    contradicts it), and why it could not be asked, if so.

    The findings are the same review ``/cost rightsize`` shows; the changes are every open
    or under-way one, plus the history of each instance right-sizing would change (a
    dismissed proposal lets spot be offered)."""
    if deps.changes is None:
        return {}, ""
    store = deps.changes.store
    findings: tuple[Recommendation, ...] = ()
    problem = ""
    if deps.rightsizing is not None:
        try:
            findings = deps.rightsizing.review(team).recommendations
        except CostbotError as error:
            problem = (
                f"Right-sizing could not be checked ({error}), so idle instances may be listed."
            )
    changes = {c.id: c for c in store.list_changes(states=OPEN | IN_FLIGHT, limit=1000)}
    for rec in findings:
        if rec.action in ("modify", "stop") and rec.monthly_saving > 0:
            for change in store.list_changes(instance_id=rec.instance.instance_id, limit=20):
                changes[change.id] = change
    return advice_first(findings, list(changes.values())), problem


def _spot_advisor(deps: Deps) -> Any:
    if deps.spot is None:
        raise UserInputError("The spot advisor needs AWS access (EC2), which is not set up here.")
    return deps.spot


def _check_region(region: str, deps: Deps) -> None:
    """Refuses a region code AWS does not have, in the ack, with the closest one."""
    known = set(REGION_LOCATIONS)
    if region in known:
        return
    if deps.spot is not None:  # a region newer than the list above may be in the feed
        feed, _ = deps.spot.feed()
        known |= set(feed.regions) if feed else set()
    if region in known:
        return
    close = difflib.get_close_matches(region, sorted(known), n=2, cutoff=0.6)
    did_you_mean = f" — did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
    raise UserInputError(
        f"There is no AWS region `{region}`{did_you_mean}",
        hint="Regions look like `us-east-1`, `us-west-2`, `eu-west-1`.",
    )


def _plan_schedule(request: ScheduleRequest, deps: Deps, asked_by: str) -> Work[ScheduleResult]:
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


def _plan_digest(
    request: DigestRequest, deps: Deps, asked_by: str
) -> Work[DigestPostResult] | Work[Digest]:
    if request.post:
        if deps.outbox is None:
            raise UserInputError("Posting digests needs the outbox, which is not set up here.")

        mine = [t for t in deps.teams.values() if asked_by in t.approvers]
        if not mine:
            raise UserInputError(
                "Only a team's approvers can post its digest by hand, and you approve for no team.",
                hint="`/cost digest <team>` shows a team's digest to you alone.",
            )

        def post() -> DigestPostResult:
            run = DigestJob(deps).run(deps.now(), force=True, teams=mine)
            return DigestPostResult(
                tuple(run.queued), tuple(run.already), tuple(run.failed.items())
            )

        def render_post(result: DigestPostResult) -> Reply:
            return Reply(build_digest_post_message(result.queued, result.already, result.failed))

        return Work("today's digests", post, render_post)
    team = _digest_team(request.team, deps, asked_by)
    now = deps.now()

    def result() -> Digest:
        return team_digest(deps, team, now)

    def render(digest: Digest) -> Reply:
        drawn = digest_chart_png(team, digest)
        chart = drawn[0] if drawn else None
        return Reply(build_digest_message(digest, asked_by=asked_by), chart=chart)

    return Work(f"today's digest of *{team.name}*", result, render)


def _digest_team(name: str, deps: Deps, asked_by: str) -> Team:
    if name:
        return find_team(deps.teams, name)
    mine = [t for t in deps.teams.values() if asked_by in t.members or asked_by in t.approvers]
    if len(mine) == 1:
        return mine[0]
    names = ", ".join(t.name for t in (mine or deps.teams.values()))
    raise UserInputError(
        "Whose digest? Name the team.", hint=f"Try `/cost digest <team>` with one of: {names}."
    )


_PLANNERS: dict[type, Callable[[Any, Deps, str], Work[Any]]] = {
    TeamCostRequest: _plan_team,
    TopRequest: _plan_top,
    UntaggedRequest: _plan_untagged,
    CompareRequest: _plan_compare,
    ForecastRequest: _plan_forecast,
    TrendRequest: _plan_trend,
    RightsizeRequest: _plan_rightsize,
    AuditRequest: _plan_audit,
    SpotRequest: _plan_spot,
    SpotTeamRequest: _plan_spot_team,
    ScheduleRequest: _plan_schedule,
    DigestRequest: _plan_digest,
}

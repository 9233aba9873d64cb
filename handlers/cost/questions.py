"""The cost questions, planned: ``/cost team``, ``top``, ``untagged``, ``compare``, ``forecast``
and ``trend``. Each checks what it can at once (team, period, grouping), so a mistake is
answered in the ack, and returns the ``Work`` that asks the cost source after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

from engines.config.teams import find_team
from engines.costs import answers, asking, questions
from engines.costs.month_view import month_view
from engines.costs.periods import parse_period
from engines.costs.unit_cost import UnitCost, unit_cost
from engines.errors import UserInputError
from engines.models import Period
from handlers.cost.blocks import (
    build_answer_message,
    build_forecast_message,
    build_trend_message,
    build_unit_cost_message,
)
from handlers.cost.charts import render_daily_trend_png
from handlers.deps import Deps
from handlers.parsing import (
    CompareRequest,
    ForecastRequest,
    TeamCostRequest,
    TopRequest,
    TrendRequest,
    UnitCostRequest,
    UntaggedRequest,
)
from handlers.work import TOO_LONG_PERIOD, Reply, Work

DEFAULT_TREND = "last 30d"

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


def _noted(answer: answers.Answer, note: str) -> answers.Answer:
    return replace(answer, notes=(note, *answer.notes)) if note else answer


def plan_team(request: TeamCostRequest, deps: Deps, asked_by: str) -> Work[answers.Answer]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    team = find_team(teams, request.team)
    # The billing date (UTC), as every answer: the headline, the budget line and /cost top
    # agree on "month to date" at any instant, whatever the team's time zone.
    today = deps.today()
    period, first_day_note = _asked_period(request.period_text, today)
    by = request.group_by or "service"
    asking.check_grouping(by, across_teams=False)

    def result() -> answers.Answer:
        answer = questions.team_cost(
            deps.cost_source,
            teams,
            shared,
            team=team,
            period=period,
            metric=request.metric,
            by=by,
            today=today,
            cache=deps.allocations,
        )
        answer = _noted(answer, first_day_note)
        # The budget line shows the team's month view, as the digest and App Home do; its
        # forecast only where that line is shown (month to date).
        month = month_view(
            deps.cost_source,
            teams,
            shared,
            today=today,
            team=team,
            metric=request.metric,
            with_forecast=period.label == MONTH_TO_DATE,
            cache=deps.allocations,
        )
        return replace(answer, month=month)

    def render(answer: answers.Answer) -> Reply:
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


def plan_top(request: TopRequest, deps: Deps, asked_by: str) -> Work[answers.Answer]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    period, first_day_note = _asked_period(request.period_text, deps.today())
    asking.check_grouping(request.group_by, across_teams=True)

    def result() -> answers.Answer:
        answer = questions.top_costs(
            deps.cost_source,
            teams,
            shared,
            period=period,
            metric=request.metric,
            by=request.group_by,
            count=request.count,
            today=deps.today(),
            cache=deps.allocations,
        )
        answer = _noted(answer, first_day_note)
        month = month_view(
            deps.cost_source,
            teams,
            shared,
            today=deps.today(),
            metric=request.metric,
            with_forecast=False,
            cache=deps.allocations,
        )
        return replace(answer, month=month)

    title = f"Top {request.count} by {request.group_by} · {period.label or 'cost'}"
    return Work(
        f"the top costs for {period.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, period),
        TOO_LONG_PERIOD,
    )


def plan_untagged(request: UntaggedRequest, deps: Deps, asked_by: str) -> Work[answers.Answer]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    period, first_day_note = _asked_period(request.period_text, deps.today())
    asking.check_grouping(request.group_by, across_teams=False)

    def result() -> answers.Answer:
        answer = questions.untagged_costs(
            deps.cost_source,
            teams,
            shared,
            period=period,
            metric=request.metric,
            by=request.group_by,
            today=deps.today(),
            cache=deps.allocations,
        )
        return _noted(answer, first_day_note)

    title = f"Untagged · {period.label or 'cost'}"
    return Work(
        f"untagged costs for {period.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, period),
        TOO_LONG_PERIOD,
    )


def plan_compare(request: CompareRequest, deps: Deps, asked_by: str) -> Work[answers.Answer]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    team = find_team(teams, request.team) if request.team else None
    today = deps.today()  # the billing date, as /cost team sees it
    current = parse_period(request.left_text, today=today)
    baseline = parse_period(request.right_text, today=today)

    def result() -> answers.Answer:
        return questions.compare_periods(
            deps.cost_source,
            teams,
            shared,
            current=current,
            baseline=baseline,
            team=team,
            metric=request.metric,
            today=today,
            cache=deps.allocations,
        )

    subject = team.name if team else "all teams"
    title = f"{subject} · {_name(current)} vs {_name(baseline)}"
    return Work(
        f"a comparison of {current.describe()} with {baseline.describe()}",
        result,
        _answer_renderer(title, deps, asked_by, current, movers=True),
        TOO_LONG_PERIOD,
    )


def plan_forecast(
    request: ForecastRequest, deps: Deps, asked_by: str
) -> Work[answers.ForecastAnswer]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    team = find_team(teams, request.team) if request.team else None
    today = deps.today()  # the billing date, as the digest and App Home see it

    def result() -> answers.ForecastAnswer:
        return questions.month_end_forecast(
            deps.cost_source,
            teams,
            today=today,
            team=team,
            metric=request.metric,
            shared=shared,
            cache=deps.allocations,
        )

    def render(answer: answers.ForecastAnswer) -> Reply:
        return Reply(build_forecast_message(answer, asked_by=asked_by))

    subject = team.name if team else "all teams"
    return Work(f"the month-end forecast for {subject}", result, render)


def plan_trend(request: TrendRequest, deps: Deps, asked_by: str) -> Work[answers.Trend]:
    teams, shared = deps.rules()  # as asked, whatever the file becomes
    team = find_team(teams, request.team)
    today = deps.today()  # the billing date, as /cost team and the digest use
    period = parse_period(request.period_text or DEFAULT_TREND, today=today)

    def result() -> answers.Trend:
        return questions.daily_trend(
            deps.cost_source,
            teams,
            team=team,
            period=period,
            shared=shared,
            metric=request.metric,
            today=today,
            cache=deps.allocations,
        )

    def render(trend: answers.Trend) -> Reply:
        shown = trend.period.label or trend.period.describe()
        title = f"{trend.subject} · {trend.metric.label} · {trend.unit.adjective} · {shown}"
        chart = render_daily_trend_png(
            trend.days, title=title, currency=trend.currency, unit=trend.unit.value
        )
        return Reply(build_trend_message(trend, asked_by=asked_by), chart=chart)

    return Work(f"the daily trend of *{team.name}*", result, render, TOO_LONG_PERIOD)


def plan_unit(request: UnitCostRequest, deps: Deps, asked_by: str) -> Work[UnitCost]:
    """``/cost unit <team|model> [period]``: a team is known at once; a model only from the
    billing data, so an unknown name is answered after the data is read (with the closest
    team or model)."""
    cloudwatch_for = deps.cloudwatch_for
    if cloudwatch_for is None:
        raise UserInputError(
            "Unit cost counts invocations in CloudWatch, and AWS access is not configured here."
        )
    teams, _ = deps.rules()  # as asked, whatever the file becomes
    today = deps.today()  # the billing date, as /cost team sees it
    period, first_day_note = _asked_period(request.period_text, today)

    def result() -> UnitCost:
        answer = unit_cost(
            deps.cost_source,
            teams,
            subject=request.subject,
            period=period,
            cloudwatch_for=cloudwatch_for,
            metric=request.metric,
            today=today,
        )
        if first_day_note:
            answer = replace(answer, notes=(first_day_note, *answer.notes))
        return answer

    def render(answer: UnitCost) -> Reply:
        return Reply(build_unit_cost_message(answer, asked_by=asked_by))

    return Work(
        f"the cost per 1,000 invocations of *{request.subject}* for {period.describe()}",
        result,
        render,
        TOO_LONG_PERIOD,
    )


def _name(period: Period) -> str:
    return period.label or period.describe()


def _answer_renderer(
    title: str, deps: Deps, asked_by: str, period: Period, *, movers: bool = False
) -> Callable[[answers.Answer], Reply]:
    def render(answer: answers.Answer) -> Reply:
        message = build_answer_message(
            answer,
            title=title,
            asked_by=asked_by,
            movers=movers,
        )
        return Reply(message)

    return render

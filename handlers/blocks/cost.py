"""Messages for ``/cost``: help, errors, "working on it", and a team's cost."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from engines.costs import TeamCostSummary
from engines.errors import UnknownTeamError, UserInputError
from engines.models import Period, Team
from handlers.blocks.common import (
    Message,
    context,
    divider,
    escape,
    header,
    message,
    money,
    percent,
    section,
    signed_money,
)

USAGE_EXAMPLES = (
    ("/cost team fraud-detection", "the team's spend this month so far, by service"),
    ("/cost team nlp last 7d", "the last 7 whole days, against the 7 before"),
    ("/cost team recommendations last month", "last calendar month, against the one before"),
    ("/cost team nlp 2026-10", "one calendar month"),
    ("/cost team nlp 2026-10-01..2026-10-15", "any range of days, both ends included"),
    ("/cost help", "this message"),
)
WARNING, FAILED = ":warning:", ":x:"
FAILURE_MARKERS = (WARNING, FAILED)  # how error replies begin (``costbot ask`` exits 1 on them)
PERIOD_FORMS = (
    "`mtd` (default), `last 7d`, `last 30d`, `yesterday`, `last month`, "
    "`2026-10`, `2026-10-01..2026-10-15`"
)


def build_help_message(teams: Iterable[str] = ()) -> Message:
    """Usage with examples, and the teams this workspace knows."""
    lines = "\n".join(f"`{example}` — {what}" for example, what in USAGE_EXAMPLES)
    known = ", ".join(f"`{name}`" for name in sorted(teams)) or "_none configured yet_"
    blocks = [
        header("costbot: cloud cost, in the channel"),
        section(f"*Usage*\n{lines}"),
        section(f"*Periods:* {PERIOD_FORMS}\n*Teams:* {known}"),
        context("Figures say which cost type they are: billed (unblended) unless stated."),
    ]
    fallback = "costbot usage: " + "; ".join(example for example, _ in USAGE_EXAMPLES)
    return message(fallback, blocks, response_type="ephemeral")


def build_error_message(error: UserInputError, *, show_usage: bool = False) -> Message:
    """A clear, specific answer to input we could not use: what was wrong, what would work."""
    text = f"{WARNING} {escape(str(error))}"
    blocks = [section(text)]
    if isinstance(error, UnknownTeamError):
        known = ", ".join(f"`{name}`" for name in error.known) or "_no teams are configured_"
        blocks.append(section(f"*Teams:* {known}"))
    elif error.hint:
        blocks.append(section(escape(error.hint)))
    if show_usage:
        blocks.append(divider())
        blocks.extend(build_help_message()["blocks"][1:2])
    fallback = f"{WARNING} {error}" + (f" {error.hint}" if error.hint else "")
    return message(fallback, blocks, response_type="ephemeral")


def build_working_message(what: str) -> Message:
    """The immediate acknowledgement while a slow answer is being prepared."""
    text = f":hourglass_flowing_sand: Working on {what}…"
    return message(text, [context(text)], response_type="ephemeral")


def build_failure_message(what: str, reason: str) -> Message:
    """Something on our side or AWS's failed; say so plainly, never with a traceback."""
    text = f"{FAILED} Could not get {what}: {reason}"
    return message(text, [section(escape(text))], response_type="ephemeral")


def build_team_cost_message(
    summary: TeamCostSummary, team: Team, *, asked_by: str = "", today_in_period: bool = False
) -> Message:
    """A team's cost for a period: total, change, top services, budget, cost type.

    Args:
        summary: what the cost engine found.
        team: the team (for its budget).
        asked_by: the Slack user id who asked, credited in the footer.
        today_in_period: whether the period includes today (then data is still arriving).
    """
    currency = summary.currency
    total = money(summary.total, currency)
    headline = f"*{total}* {summary.metric.label}\n{summary.period.describe()}"
    blocks = [
        header(f"{team.name} · {summary.period.label or 'cost'}"),
        section(f"{headline}\n{_change_line(summary)}"),
    ]
    service_fields = _service_fields(summary)
    if service_fields:
        blocks.append(section("*Top services*", fields=service_fields))
    budget_line = _budget_line(summary, team)
    if budget_line:
        blocks.append(section(budget_line))
    if len(summary.by_currency) > 1:
        others = ", ".join(
            money(amount, code) for code, amount in summary.by_currency.items() if code != currency
        )
        blocks.append(
            section(f":information_source: Also billed in other currencies (not added): {others}")
        )
    blocks.append(context(*_footer(summary, asked_by, today_in_period)))
    fallback = (
        f"{team.name}: {total} {summary.metric.label}, {summary.period.describe()}. "
        + _change_text(summary)
    )
    return message(fallback, blocks, response_type="in_channel")


def _change_line(summary: TeamCostSummary) -> str:
    icon = ":chart_with_upwards_trend:" if summary.change > 0 else ":chart_with_downwards_trend:"
    if summary.change == 0:
        icon = ":heavy_minus_sign:"
    return f"{icon} {_change_text(summary)}"


def _change_text(summary: TeamCostSummary) -> str:
    previous = money(summary.previous_total, summary.currency)
    against = f"vs {previous} in {_describe_short(summary.previous_period)}"
    change = signed_money(summary.change, summary.currency)
    if summary.change_pct is None:
        return f"{change} {against}"
    return f"{change} ({percent(summary.change_pct, signed=True)}) {against}"


def _describe_short(period: Period) -> str:
    return period.label or period.describe()


def _service_fields(summary: TeamCostSummary) -> list[str]:
    fields = []
    for service in summary.top_services:
        delta = service.amount - service.previous_amount
        arrow = ":arrow_up:" if delta > 0 else (":arrow_down:" if delta < 0 else "")
        change = f" {arrow} {signed_money(delta, summary.currency)}" if delta else ""
        fields.append(
            f"*{escape(service.service)}*\n{money(service.amount, summary.currency)}{change}"
        )
    if summary.other_services_total:
        fields.append(f"*Other services*\n{money(summary.other_services_total, summary.currency)}")
    return fields[:10]


def _budget_line(summary: TeamCostSummary, team: Team) -> str:
    budget = team.monthly_budget
    if not budget or summary.period.label != "month to date":
        return ""
    used = summary.total / budget * Decimal(100)
    icon = ":rotating_light:" if used >= 100 else (":warning:" if used >= 80 else ":moneybag:")
    return f"{icon} {percent(used)} of the monthly budget of {money(budget, summary.currency)} used"


def _footer(summary: TeamCostSummary, asked_by: str, today_in_period: bool) -> list[str]:
    source = SOURCE_NAMES.get(summary.source, summary.source)
    parts = [f"Source: {source} · {summary.metric.label} · {summary.currency}"]
    if today_in_period:
        parts.append("Today's costs are still arriving.")
    if asked_by:
        parts.append(f"Asked by <@{asked_by}>")
    return [" · ".join(parts)]


SOURCE_NAMES = {"ce": "AWS Cost Explorer", "focus": "FOCUS billing export"}

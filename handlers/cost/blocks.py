"""Messages for ``/cost``: help, errors, "working on it", and a team's cost."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from engines.costs.answers import Answer, ForecastAnswer, Line, Trend
from engines.costs.unit_cost import UnitCost, UnitLine
from engines.errors import UnknownTeamError, UserInputError
from engines.models import Period
from engines.words import FAILED, INPUT, source_name
from handlers.blocks.common import (
    MAX_FIELDS,
    Block,
    Message,
    context,
    cost,
    escape,
    header,
    message,
    money,
    percent,
    section,
    signed_money,
    through,
)

USAGE_EXAMPLES = (
    ("/cost team fraud-detection", "the team's spend this month so far, by service"),
    ("/cost team nlp last 7d", "the last 7 whole days, against the 7 before"),
    ("/cost team recommendations last month", "last calendar month, against the one before"),
    ("/cost team nlp 2026-10", "one calendar month"),
    ("/cost team nlp 2026-10-01..2026-10-15", "any range of days, both ends included"),
    ("/cost team nlp by region metric effective", "grouped otherwise, in net amortized cost"),
    ("/cost top 5 by service", "the biggest costs, by team unless `by` says otherwise"),
    ("/cost untagged last 30d", "cost that no team or shared rule claims, by service"),
    ("/cost compare last month vs 2026-09 team nlp", "two periods, the biggest movers first"),
    ("/cost forecast nlp", "where this month will end, and how that is estimated"),
    ("/cost trend nlp", "a chart of the daily cost, the last 30 days by default"),
    ("/cost digest nlp", "the team's morning digest, now"),
    ("/cost digest post", "approvers: post today's digest of your teams now"),
    ("/cost help", "this message"),
)
WARNING = INPUT  # the word guide's emoji: ⚠️ about your input, ❌ we failed
FAILURE_MARKERS = (WARNING, FAILED)  # how error replies begin (``costbot ask`` exits 1 on them)
AWS_COMMANDS = (
    ("/cost rightsize [team]", "right-sizing, idle instances and SageMaker, with Approve buttons"),
    ("/cost audit [team]", "what was proposed, decided and carried out"),
    ("/cost unit <team or model> [period]", "cost per 1,000 SageMaker endpoint invocations"),
    ("/cost spot <instance-type> [region]", "spot prices, saving and interruptions per zone"),
    ("/cost spot team <name>", "a team's spot candidates, each with a fleet plan"),
    ("/cost schedule list [team]", "off-hours schedules and what they save"),
    ("/cost schedule show <name>", "one schedule: its hours, resources and overrides"),
    ("/cost schedule create", "a form for a new schedule (approvers)"),
    ("/cost schedule pause <name>", "stop a schedule acting; `resume <name>` undoes it"),
    ("/cost schedule resume <name>", "a paused schedule acts again"),
    ("/cost schedule keep <instance or key=value> until HH:MM", "keep resources up tonight"),
    ("/cost schedule skip tomorrow [<name>]", "resources stay off all day tomorrow"),
)
PERIOD_FORMS = (
    "`mtd` (default), `last 7d`, `last 30d`, `yesterday`, `last month`, "
    "`2026-10`, `2026-10-01..2026-10-15`"
)


def build_help_message(teams: Iterable[str] = ()) -> Message:
    """Usage with examples, and the teams this workspace knows."""
    lines = "\n".join(f"`{example}` — {what}" for example, what in USAGE_EXAMPLES)
    known = ", ".join(f"`{name}`" for name in sorted(teams)) or "_none configured yet_"
    aws = "\n".join(f"`{escape(usage)}` — {what}" for usage, what in AWS_COMMANDS)
    blocks = [
        header("costbot: cloud cost, in the channel"),
        section(f"*Usage*\n{lines}"),
        section(f"*Periods:* {PERIOD_FORMS}\n*Teams:* {known}"),
        section(f"*With AWS access*\n{aws}"),
        context("Figures say which cost type they are: billed (unblended) unless stated."),
    ]
    fallback = "costbot usage: " + "; ".join(
        [example for example, _ in USAGE_EXAMPLES] + [usage for usage, _ in AWS_COMMANDS]
    )
    return message(fallback, blocks, response_type="ephemeral")


def build_error_message(error: UserInputError, *, show_usage: bool = False) -> Message:
    """A clear, specific answer to input we could not use: what was wrong, what would work.

    With ``show_usage``, the one usage line of the command it was about (``error.usage``),
    or where to find them all: never the whole help."""
    text = f"{WARNING} {escape(str(error))}"
    blocks = [section(text)]
    if isinstance(error, UnknownTeamError):
        known = ", ".join(f"`{name}`" for name in error.known) or "_no teams are configured_"
        blocks.append(section(f"*Teams:* {known}"))
    elif error.hint:
        blocks.append(section(escape(error.hint)))
    usage = ""
    if show_usage:
        usage = f"Usage: {error.usage}" if error.usage else "`/cost help` lists every command."
        blocks.append(context(escape(usage)))
    fallback = " ".join(
        part for part in (f"{WARNING} {error}", error.hint, usage.replace("`", "")) if part
    )
    return message(fallback, blocks, response_type="ephemeral")


def with_note(msg: Message, note: str) -> Message:
    """``msg`` with a note appended (before its footer), e.g. a chart that could not be posted."""
    blocks = list(msg["blocks"])
    blocks.insert(max(len(blocks) - 1, 0), section(f":warning: {escape(note)}"))
    return message(
        msg["text"], blocks, **{k: v for k, v in msg.items() if k not in {"text", "blocks"}}
    )


def build_working_message(what: str) -> Message:
    """The immediate acknowledgement while a slow answer is being prepared."""
    text = f":hourglass_flowing_sand: Working on {what}…"
    return message(text, [context(text)], response_type="ephemeral")


def build_failure_message(what: str, reason: str) -> Message:
    """Something on our side or AWS's failed; say so plainly, never with a traceback."""
    text = f"{FAILED} Could not get {what}: {reason}"
    return message(text, [section(escape(text))], response_type="ephemeral")


def build_answer_message(
    answer: Answer,
    *,
    title: str,
    budget: Decimal | None = None,
    asked_by: str = "",
    movers: bool = False,
) -> Message:
    """A grouped cost answer: total, change, the groups, shared shares, budget, cost type.

    Args:
        answer: what the question engine found.
        title: the header, e.g. "fraud-detection · month to date".
        budget: the monthly budget to show progress against (month-to-date answers only).
        asked_by: the Slack user id who asked, credited in the footer.
        movers: lines are the biggest movers of a comparison (show both periods).
    """
    currency = answer.currency
    total = cost(answer.total, currency)
    headline = f"*{total}* {answer.metric.label}\n{answer.period.describe()}"
    change_line = _change_line(answer)
    blocks = [header(title), section(f"{headline}\n{change_line}" if change_line else headline)]
    blocks.extend(_group_sections(answer, movers=movers))
    blocks.extend(section(f":information_source: {escape(note)}") for note in answer.notes)

    budget_line = _budget_line(answer, budget)
    if budget_line:
        blocks.append(section(budget_line))
    if answer.other_currencies:
        others = ", ".join(cost(amount, code) for code, amount in answer.other_currencies.items())
        blocks.append(
            section(f":information_source: Also billed in other currencies (not added): {others}")
        )
    blocks.append(context(_footer(answer, asked_by)))
    fallback = f"{answer.subject}: {total} {answer.metric.label}, {answer.period.describe()}."
    if answer.compared:
        fallback += " " + _change_text(answer)
    return message(fallback, blocks, response_type="in_channel")


def build_forecast_message(answer: ForecastAnswer, *, asked_by: str = "") -> Message:
    """Month-end forecast with its range, method and the budget it is heading for."""
    forecast = answer.forecast
    currency = forecast.currency
    amount = money(forecast.amount, currency)
    lines = [f"*{amount}* {forecast.metric.label} expected for {forecast.period.describe()}"]
    if forecast.lower is not None and forecast.upper is not None:
        low, high = money(forecast.lower, currency), money(forecast.upper, currency)
        lines.append(f"Likely between {low} and {high}")
    if answer.month_to_date is not None and answer.data_through is not None:
        lines.append(
            f"Month to date {cost(answer.month_to_date, currency)} "
            f"{through(answer.data_through)}, shared costs included"
        )
    if answer.budget:
        share = forecast.amount / answer.budget * 100
        icon = (
            ":rotating_light:" if share >= 100 else (":warning:" if share >= 80 else ":moneybag:")
        )
        lines.append(f"{icon} {percent(share)} of the budget of {money(answer.budget, currency)}")
    blocks = [
        header(f"{answer.subject} · forecast to month end"),
        section("\n".join(lines)),
        context(f"Method: {escape(forecast.method)}"),
        context(_source_credit(answer.source, forecast.metric.label, currency, asked_by)),
    ]
    fallback = f"{answer.subject}: {amount} {forecast.metric.label} expected by month end."
    return message(fallback, blocks, response_type="in_channel")


def build_trend_message(trend: Trend, *, asked_by: str = "", image_url: str = "") -> Message:
    """A team's cost trend: total, average and peak per bar (a day, a week or a month, as
    the header says), the notes on what the period was cut to, and the chart when uploaded."""
    currency = trend.currency
    unit = trend.unit.value
    bars = [amount for _, amount in trend.days]
    average = trend.total / len(bars) if bars else Decimal(0)
    peak_day, peak = max(trend.days, key=lambda item: item[1]) if trend.days else (None, Decimal(0))
    peak_when = ""
    if peak_day and peak:
        when = {"day": f"on {peak_day:%b %-d}", "week": f"in the week from {peak_day:%b %-d}",
                "month": f"in {peak_day:%B %Y}"}[unit]  # fmt: skip
        peak_when = f" · peak {money(peak, currency)} {when}"
    text = (
        f"*{money(trend.total, currency)}* {trend.metric.label}, {trend.period.describe()}\n"
        f"Average {money(average, currency)}/{unit}" + peak_when
    )
    blocks = [header(f"{trend.subject} · {trend.unit.adjective} trend"), section(text)]
    blocks.extend(section(f":information_source: {escape(note)}") for note in trend.notes)
    if image_url:
        blocks.append(
            {
                "type": "image",
                "image_url": image_url,
                "alt_text": f"{trend.unit.adjective} cost of {trend.subject}",
            }
        )
    credit = _source_credit(trend.source, trend.metric.label, currency, asked_by)
    through = trend.data_through
    blocks.append(context((f"Data through {through:%b %-d, %Y} · " if through else "") + credit))
    total = money(trend.total, currency)
    fallback = f"{trend.subject}: {total} {trend.metric.label}, {trend.period.describe()}."

    return message(fallback, blocks, response_type="in_channel")


MAX_UNIT_LINES = 10  # endpoints (and models) listed; a section holds at most 10 fields


def build_unit_cost_message(answer: UnitCost, *, asked_by: str = "") -> Message:
    """Cost per 1,000 invocations per model, then per endpoint: the cost, the invocations
    and the change against the same days before (none without a fair comparison). An
    endpoint nobody called shows its cost and "no invocations"."""
    currency = answer.currency
    blocks: list[Block] = [header(f"{answer.subject} · cost per 1,000 invocations")]
    compared = (
        f" · compared with {_describe_short(answer.previous_period)}"
        if answer.previous_period
        else ""
    )
    blocks.append(
        section(f"{answer.metric.label.capitalize()}, {answer.period.describe()}{compared}")
    )
    if answer.models:
        fields = [_unit_field(line, currency) for line in answer.models[:MAX_UNIT_LINES]]
        blocks.append(section("*Per model*", fields=fields))
    if answer.endpoints:
        fields = [_unit_field(line, currency) for line in answer.endpoints[:MAX_UNIT_LINES]]
        blocks.append(section("*Per endpoint*", fields=fields))
        hidden = len(answer.endpoints) - MAX_UNIT_LINES
        if hidden > 0:
            blocks.append(context(f"{hidden} more endpoints: `costbot cost unit … --json`"))
    blocks.extend(section(f":information_source: {escape(note)}") for note in answer.notes)
    credit = _source_credit(answer.source, answer.metric.label, currency, asked_by)
    day = answer.data_through
    blocks.append(context((f"Data through {day:%b %-d, %Y} · " if day else "") + credit))
    rates = "; ".join(f"{line.name} {_rate(line, currency)}" for line in answer.models)
    fallback = f"{answer.subject}, cost per 1,000 invocations: {rates or 'no endpoints'}."
    return message(fallback, blocks, response_type="in_channel")


def _rate(line: UnitLine, currency: str) -> str:
    per = line.now.per_thousand
    return "no invocations" if per is None else f"{money(per, currency)} per 1,000"


def _unit_field(line: UnitLine, currency: str) -> str:
    model = f" ({escape(line.model)})" if line.model else ""
    name = f"*{escape(line.name)}*{model}"
    spent = money(line.now.cost, currency)
    if line.now.per_thousand is None:  # its cost, never a division by zero
        return f"{name}\n{spent} · no invocations"
    text = f"{name}\n{_rate(line, currency)}"
    change = line.change_pct
    if change is not None:
        text += f" ({percent(change, signed=True)})"
    return text + f"\n{spent} · {line.now.invocations:,} invocations"


def _group_sections(answer: Answer, *, movers: bool) -> list[Block]:
    fields = [
        _field(
            line,
            answer.currency,
            movers=movers and answer.compared,
            compared=answer.lines_compared and answer.compared,
        )
        for line in answer.lines
    ]
    if answer.others:
        fields.append(f"*Others*\n{cost(answer.others, answer.currency)}")
    fields.extend(
        _field(line, answer.currency, movers=False, compared=answer.compared)
        for line in answer.shared
    )
    if not fields:
        return [section("_No costs in this period._")]
    heading = (
        "*Biggest movers*" if movers and answer.compared else f"*By {escape(answer.dimension)}*"
    )
    return [
        section(heading if start == 0 else " ", fields=fields[start : start + MAX_FIELDS])
        for start in range(0, len(fields), MAX_FIELDS)
    ]


def _field(line: Line, currency: str, *, movers: bool, compared: bool = True) -> str:
    delta = line.change if compared else Decimal(0)
    arrow = ":arrow_up:" if delta > 0 else (":arrow_down:" if delta < 0 else "")
    change = f" {arrow} {signed_money(delta, currency)}" if delta else ""
    name, amount = escape(line.key), cost(line.amount, currency)
    if movers:
        return f"*{name}*\n{cost(line.previous, currency)} → {amount}{change}"
    return f"*{name}*\n{amount}{change}"


def _change_line(answer: Answer) -> str:
    """The change against the period compared with; "" when there is no fair comparison
    (the notes say why: never a change against missing data)."""
    if not answer.compared:
        return ""
    icon = ":chart_with_upwards_trend:" if answer.change > 0 else ":chart_with_downwards_trend:"
    if answer.change == 0:
        icon = ":heavy_minus_sign:"
    return f"{icon} {_change_text(answer)}"


def _change_text(answer: Answer) -> str:
    previous = money(answer.previous_total, answer.currency)
    period = answer.previous_period
    against = f"vs {previous} in {_describe_short(period)}" if period else f"vs {previous}"
    change = signed_money(answer.change, answer.currency)
    if answer.change_pct is None:
        return f"{change} {against}"
    return f"{change} ({percent(answer.change_pct, signed=True)}) {against}"


def _describe_short(period: Period) -> str:
    return period.label or period.describe()


def _budget_line(answer: Answer, budget: Decimal | None) -> str:
    """Month to date only: the budget used, from the team's month view when the answer has
    one (the figure the digest, App Home and alerts show, through the last complete day)."""
    if not budget or answer.period.label != "month to date":
        return ""
    view = answer.month
    spent = answer.total if view is None else view.month_to_date
    used = spent / budget * Decimal(100)
    icon = ":rotating_light:" if used >= 100 else (":warning:" if used >= 80 else ":moneybag:")
    line = f"{icon} {percent(used)} of the monthly budget of {money(budget, answer.currency)} used"
    if view is None:
        return line
    line += f": {cost(view.month_to_date, view.currency)} {through(view.data_through)}"
    if view.forecast is not None:
        line += f", heading for {money(view.forecast.amount, view.currency)} by month end"
    return line


def _footer(answer: Answer, asked_by: str) -> str:
    credit = _source_credit(answer.source, answer.metric.label, answer.currency, asked_by)
    through = answer.data_through
    return (f"Data through {through:%b %-d, %Y} · " if through else "") + credit


def _source_credit(source: str, metric_label: str, currency: str, asked_by: str) -> str:
    parts = [f"Source: {source_name(source)}", metric_label, currency]
    if asked_by:
        parts.append(f"Asked by <@{asked_by}>")
    return " · ".join(parts)

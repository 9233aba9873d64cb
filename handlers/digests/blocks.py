"""The digest and budget-alert messages, and the text charts they draw (pure builders)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engines.digests.budgets import Alert, AlertKind, percent_text
from engines.digests.digest import Digest, Mover, Savings, TeamFigures, UnitCostSection
from engines.models import Period
from engines.words import plural, source_name
from handlers import action_ids
from handlers.blocks.common import (
    Block,
    Message,
    context,
    cost,
    divider,
    escape,
    header,
    message,
    money,
    percent,
    section,
    signed_money,
    through,
)

SPARK = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 20
MAX_UNIT_MODELS = 5


def sparkline(values: Sequence[Decimal]) -> str:
    """``▁▃▅█``: each value's height between the smallest and the largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK[3] * len(values)
    steps = len(SPARK) - 1
    return "".join(SPARK[int((v - low) / (high - low) * steps)] for v in values)


def budget_bar(spent: Decimal, budget: Decimal, *, width: int = BAR_WIDTH) -> str:
    """``▓▓▓▓▓▓░░░░ 62%``; past 100% the bar is full and says how far past."""
    share = spent / budget if budget else Decimal(0)
    filled = int((min(max(share, Decimal(0)), Decimal(1)) * width).to_integral_value(ROUND_HALF_UP))
    used = (share * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"`{'▓' * filled}{'░' * (width - filled)}` {used}%"


def build_digest_message(digest: Digest, *, asked_by: str = "") -> Message:
    """The morning digest of one team (weekly on Mondays when the team wants it).

    ``asked_by``: who asked with ``/cost digest`` (empty: the scheduled post).
    """
    figures = digest.figures
    kind = "weekly digest" if digest.week else "daily digest"
    title = f"{figures.team} · {kind} · {digest.day:%a %b %-d}"
    blocks: list[Block] = [header(title), _fields_only(_headline_fields(figures))]
    if figures.forecast is not None:
        blocks.append(context(f"Forecast: {escape(figures.forecast.method)}"))
    if digest.week is not None:
        week = digest.week
        change = week.total - week.previous_total
        blocks.append(
            section(
                f"*Last week* ({week.period.describe()}): {cost(week.total, figures.currency)}, "
                f"{signed_money(change, figures.currency)} on the week before\n"
                + _mover_lines(week.movers, figures.currency, "the week before")
            )
        )
    if digest.movers:
        blocks.append(
            section(
                "*Top movers* (vs their 7-day average)\n"
                + _mover_lines(digest.movers, figures.currency, "average")
            )
        )
    if digest.anomalies:
        lines = [
            f":warning: *{escape(a.key)}* cost {money(a.amount, figures.currency)} on "
            f"{a.day:%b %-d}, usually about {money(a.expected, figures.currency)} a day"
            for a in digest.anomalies
        ]
        blocks.append(section("*Anomalies*\n" + "\n".join(lines)))
    if digest.unit_cost is not None:
        blocks.append(section(_unit_cost_text(digest.unit_cost, figures.team)))
    blocks.append(section(_savings_text(digest.savings, figures)))
    if figures.daily:
        values = [amount for _, amount in figures.daily]
        first, last = figures.daily[0][0], figures.daily[-1][0]
        blocks.append(
            context(
                f"`{sparkline(values)}` daily cost {first:%b %-d} – {last:%b %-d} "
                f"(low {money(min(values), figures.currency)}, "
                f"high {money(max(values), figures.currency)})"
            )
        )
    blocks.append(context(_footer(digest, asked_by)))
    fallback = f"{title}: {_headline_text(figures)}"
    # Asked for in a channel: shown to the channel, as every /cost answer.
    return message(fallback, blocks, **({"response_type": "in_channel"} if asked_by else {}))


def _fields_only(fields: list[str]) -> Block:
    block = section("-", fields=fields)
    del block["text"]  # a section may have fields alone
    return block


def _headline_fields(figures: TeamFigures) -> list[str]:
    currency = figures.currency
    if figures.day is None:
        day = "*Yesterday*\nno cost"
    else:
        change = figures.day_change_pct()
        versus = "" if change is None else f" ({percent(change, signed=True)} vs 7-day average)"
        day = (
            f"*{figures.day:%a %b %-d}*\n{cost(figures.day_cost, currency)}{versus}\n"
            f"7-day average {money(figures.average, currency)}"
        )
    heading = "*Month to date*" + (
        f" ({through(figures.data_through)})" if figures.data_through else ""
    )
    if figures.budget:
        bar = budget_bar(figures.month_to_date, figures.budget)
        month = (
            f"{heading}\n{cost(figures.month_to_date, currency)} of "
            f"{money(figures.budget, currency)}\n{bar}"
        )
    else:
        month = f"{heading}\n{cost(figures.month_to_date, currency)} (no budget set)"
    fields = [day, month]
    if figures.forecast is not None:
        forecast = f"*Month-end forecast*\n{money(figures.forecast.amount, currency)}"
        if figures.budget:
            share = figures.forecast.amount / figures.budget * 100
            icon = " :rotating_light:" if share >= 100 else ""
            forecast += f" ({percent(share)} of budget){icon}"
        low, high = figures.forecast.lower, figures.forecast.upper
        if low is not None and high is not None:
            forecast += f"\nlikely {money(low, currency)} – {money(high, currency)}"
        fields.append(forecast)
    return fields


def _headline_text(figures: TeamFigures) -> str:
    text = f"month to date {cost(figures.month_to_date, figures.currency)}"
    if figures.data_through:
        text += f" {through(figures.data_through)}"
    if figures.budget:
        text += f" of {money(figures.budget, figures.currency)}"
    if figures.day is not None:
        text += f"; {figures.day:%b %-d} {cost(figures.day_cost, figures.currency)}"
    return text


def _mover_lines(movers: Sequence[Mover], currency: str, versus: str) -> str:
    if not movers:
        return "Nothing moved."
    lines = []
    for mover in movers:
        pct = mover.change_pct
        how = "new" if pct is None else percent(pct, signed=True)
        lines.append(
            f"• {escape(mover.key)}: {cost(mover.amount, currency)} "
            f"({signed_money(mover.change, currency)}, {how} vs {versus} "
            f"{cost(mover.previous, currency)})"
        )
    return "\n".join(lines)


def _named(period: Period) -> str:
    """The period's name first, then its days ("month to date, Dec 1 – Dec 5, 2026"), so a
    heading needs no brackets inside brackets."""
    span = dataclasses.replace(period, label="").describe()
    return f"{period.label}, {span}" if period.label else span


def _unit_cost_text(unit: UnitCostSection, team: str) -> str:
    """Per model: the cost per 1,000 invocations over the period and its change against the
    same days before (``/cost unit``'s figures), or why the invocations could not be read."""
    heading = f"*Cost per 1,000 invocations* · {_named(unit.period)}"
    answer = unit.answer
    if answer is None:
        return f"{heading}\n:warning: {escape(unit.problem)} `/cost unit {team}` tries again."
    if answer.previous_period is not None:
        heading += f" · vs {_named(answer.previous_period)}"
    lines = [heading]
    for line in answer.models[:MAX_UNIT_MODELS]:
        spent = money(line.now.cost, answer.currency)
        per = line.now.per_thousand
        if per is None:
            lines.append(f"• *{escape(line.name)}*: no invocations ({spent} spent)")
            continue
        change = line.change_pct
        trend = "" if change is None else f" ({percent(change, signed=True)})"
        lines.append(
            f"• *{escape(line.name)}*: {money(per, answer.currency)} per 1,000{trend} · "
            f"{line.now.invocations:,} invocations, {spent}"
        )
    hidden = len(answer.models) - MAX_UNIT_MODELS
    if hidden > 0:
        lines.append(f"…and {plural(hidden, 'more model')}: `/cost unit {team}`")
    return "\n".join(lines)


def _savings_text(savings: Savings, figures: TeamFigures) -> str:
    currency = figures.currency
    lines = ["*Savings*"]
    if savings.pending_count:
        lines.append(
            f"• {_changes(savings.pending_count)} waiting for approval would save "
            f"{money(savings.pending_monthly, currency)}/month"
        )
    if savings.approved_count:
        lines.append(
            f"• {_changes(savings.approved_count)} approved or scheduled: "
            f"{money(savings.approved_monthly, currency)}/month"
        )
    if savings.done_count:
        lines.append(
            f"• Carried out this month: {_changes(savings.done_count)}, "
            f"{money(savings.done_monthly, currency)}/month; "
            f"{money(savings.realized_this_month, currency)} saved so far"
        )
    if savings.rehearsed_count:
        lines.append(f"• {_changes(savings.rehearsed_count)} rehearsed as dry runs (saved nothing)")
    if len(lines) == 1:
        lines.append(f"Nothing open. Look for some: `/cost rightsize {figures.team}`")
    return "\n".join(lines)


def _changes(count: int) -> str:
    return plural(count, "change")


def _footer(digest: Digest, asked_by: str) -> str:
    parts = (
        [digest.figures.metric.label, f"Source: {source_name(digest.source)}"]
        if digest.source
        else []
    )
    parts += list(digest.figures.notes)
    if asked_by:
        parts.append(f"Asked by <@{asked_by}>")
    return " · ".join(parts) or digest.figures.metric.label


# --- alerts -------------------------------------------------------------------------------------


def build_alert_message(alert: Alert) -> Message:
    """A budget alert with Snooze 24 h, Show top drivers and Propose savings buttons."""
    currency = alert.currency
    if alert.kind is AlertKind.BUDGET:
        title = f"{alert.team} has spent {percent_text(alert.threshold)}% of its budget"
        body = (
            f"Month to date: *{money(alert.amount, currency)}* of "
            f"{money(alert.reference, currency)} ({alert.period})\n"
            f"{budget_bar(alert.amount, alert.reference)}"
        )
    elif alert.kind is AlertKind.FORECAST:
        title = f"{alert.team} is on course to exceed its budget"
        body = (
            f"Month-end forecast: *{money(alert.amount, currency)}*, "
            f"{percent(alert.percent_of_reference)} of the {money(alert.reference, currency)} "
            f"budget ({alert.period})"
        )
    else:
        title = f"{alert.team}'s spend jumped on {alert.period}"
        body = (
            f"*{money(alert.amount, currency)}* on {alert.period}, "
            f"{percent(alert.percent_of_reference - 100, signed=True)} on the 7-day average of "
            f"{money(alert.reference, currency)} (alert above +{percent_text(alert.threshold)}%)"
        )
    if alert.data_through and alert.kind is not AlertKind.SPEND_CHANGE:
        body += f"\nData {through(alert.data_through)}."
    blocks = [header(f":rotating_light: {title}"), section(body)]
    if alert.method:
        blocks.append(context(f"Forecast: {escape(alert.method)}"))
    blocks += [
        _alert_actions(alert),
        context("Each alert is sent once per period. Snooze silences this team's alerts."),
    ]
    return message(f"{title}: {money(alert.amount, currency)}", blocks)


def _alert_actions(alert: Alert) -> Block:
    def button(text: str, action_id: str, style: str | None = None) -> dict[str, Any]:
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": text},
            "action_id": action_id,
            "value": alert.team,
        }
        if style:
            element["style"] = style
        return element

    return {
        "type": "actions",
        "block_id": f"alert:{alert.team}",
        "elements": [
            button("Snooze 24 h", action_ids.ALERT_SNOOZE),
            button("Show top drivers", action_ids.ALERT_DRIVERS),
            button("Propose savings", action_ids.ALERT_PROPOSE_SAVINGS, "primary"),
        ],
    }


def with_alert_status(blocks: Sequence[Block], status: str) -> list[Block]:
    """The alert's blocks with its buttons replaced by ``status`` (after a Snooze)."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    return [*kept, divider(), context(status)]


def build_digest_post_message(
    queued: Sequence[str], already: Sequence[str], failed: Sequence[tuple[str, str]]
) -> Message:
    """The answer to ``/cost digest post``."""
    lines = []
    if queued:
        lines.append(f":outbox_tray: Posting today's digest for {', '.join(queued)}.")
    if already:
        lines.append(
            f"Already posted by hand today: {', '.join(already)} (once a day by hand; the "
            "scheduled digest still comes at its time)."
        )
    lines += [f":x: {escape(team)}: {escape(why)}" for team, why in failed]
    text = "\n".join(lines) or "There are no teams in the teams file."
    return message(text, [section(text)], response_type="in_channel")

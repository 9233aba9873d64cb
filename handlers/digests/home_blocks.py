"""The App Home view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engines.changes.models import Change
from engines.digests.digest import TeamFigures
from engines.models import Team
from engines.words import plural, role_label
from handlers.blocks.common import context, divider, escape, header, money, section, through
from handlers.digests.blocks import budget_bar


@dataclass(frozen=True)
class TeamHome:
    """What App Home shows of one team besides the teams file: spend, approvals, digest."""

    figures: TeamFigures | None = None
    pending: tuple[Change, ...] = ()  # the team's changes waiting for an approver
    last_digest: Mapping[str, Any] | None = None  # the outbox row of the last digest
    problem: str = ""  # why there are no figures (the cost source failed)


def build_app_home(
    *, user: str, teams: Sequence[Team], homes: Mapping[str, TeamHome] | None = None
) -> dict[str, Any]:
    """The home tab for ``user``: their teams, spend against budget, approvals, last digest."""
    homes = homes or {}
    blocks = [
        header("costbot"),
        section(f"Hello <@{user}>. Here is what costbot knows about your teams."),
    ]
    if not teams:
        blocks.append(
            section(
                "You are not a member of any team in the teams file yet. Ask your admin to add you."
            )
        )
    for team in teams:
        role = "approver" if user in team.approvers else "member"
        budget = money(team.monthly_budget) if team.monthly_budget else "no budget set"
        blocks += [
            divider(),
            section(
                f"*{escape(team.name)}* — {role_label(role)}",
                fields=[f"*Channel*\n{escape(team.channel)}", f"*Monthly budget*\n{budget}"],
            ),
        ]
        blocks += _team_details(team, homes.get(team.name), user)
    blocks += [
        divider(),
        context("Try `/cost digest <team>`, `/cost team <name>` or `/cost help` in any channel."),
    ]
    return {"type": "home", "blocks": blocks[:100]}


def _team_details(team: Team, home: TeamHome | None, user: str) -> list[dict[str, Any]]:
    if home is None:
        return []
    lines = []
    figures = home.figures
    if figures is not None:
        spent = money(figures.month_to_date, figures.currency)
        if figures.data_through:
            spent += f" ({through(figures.data_through)})"
        if team.monthly_budget:
            lines.append(
                f"*Spend this month*: {spent} of {money(team.monthly_budget, figures.currency)}  "
                f"{budget_bar(figures.month_to_date, team.monthly_budget)}"
            )
        else:
            lines.append(f"*Spend this month*: {spent}")
        forecast = figures.forecast
        if forecast is not None:
            line = f"Month-end forecast: {money(forecast.amount, figures.currency)}"
            if forecast.lower is not None and forecast.upper is not None:
                low, high = (
                    money(forecast.lower, figures.currency),
                    money(forecast.upper, figures.currency),
                )
                line += f" (likely {low} – {high})"
            lines.append(line)
            lines.append(f"_Forecast: {escape(forecast.method)}_")
    elif home.problem:
        lines.append(f"Spend this month: unavailable ({escape(home.problem)})")
    if home.pending:
        saving = sum((change.monthly_saving for change in home.pending), Decimal(0))
        whose = (
            "your approval"
            if user in team.approvers
            else "approval by " + (", ".join(f"<@{a}>" for a in team.approvers) or "an approver")
        )
        lines.append(
            f"*Waiting for {whose}*: {plural(len(home.pending), 'change')}, "
            f"saving {money(saving)}/month"
        )
        lines += [
            f"• {change.label}: {money(change.monthly_saving)}/month" for change in home.pending[:5]
        ]
    digest = home.last_digest
    if digest:
        meta = digest.get("meta") or {}
        state = {"sent": "posted", "pending": "being posted", "failed": "NOT posted"}.get(
            digest.get("state", ""), digest.get("state", "")
        )
        lines.append(
            f"*Last digest*: {meta.get('date', '?')} in {escape(digest.get('channel', ''))} "
            f"({state})"
        )
    else:
        lines.append("*Last digest*: none yet")
    return [section("\n".join(lines))] if lines else []

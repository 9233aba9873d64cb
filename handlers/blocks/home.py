"""The App Home view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engines.models import Team
from handlers.blocks.common import context, divider, escape, header, money, section


def build_app_home(*, user: str, teams: Sequence[Team]) -> dict[str, Any]:
    """The home tab for ``user``: their teams, budgets, approver role, and how to ask."""
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
                f"*{escape(team.name)}* — you are {role}",
                fields=[f"*Channel*\n{escape(team.channel)}", f"*Monthly budget*\n{budget}"],
            ),
        ]
    blocks += [divider(), context("Try `/cost team <name>` or `/cost help` in any channel.")]
    return {"type": "home", "blocks": blocks[:100]}

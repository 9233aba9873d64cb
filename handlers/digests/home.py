"""App Home: what a person sees when they open costbot's tab."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from engines.changes.models import State
from engines.digests.digest import team_figures
from engines.errors import CostSourceError
from engines.models import Team
from handlers.deps import Deps
from handlers.digests.home_blocks import TeamHome, build_app_home

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        teams = [
            team for team in deps.teams.values() if user in team.members or user in team.approvers
        ]
        deps.run_later(lambda: publish_home(client, user, teams, deps), slow=True)


def publish_home(client: WebClient, user: str, teams: list[Team], deps: Deps) -> None:
    """Gathers each team's spend, approvals and last digest, then publishes the view."""
    homes = {team.name: team_home(team, user, deps) for team in teams}
    client.views_publish(user_id=user, view=build_app_home(user=user, teams=teams, homes=homes))


def team_home(team: Team, user: str, deps: Deps) -> TeamHome:
    figures, problem = None, ""
    try:
        figures = team_figures(
            deps.cost_source, deps.teams, deps.shared,
            team=team, today=deps.today(), cache=deps.allocations,
        )  # fmt: skip
    except CostSourceError as error:
        problem = str(error)
    except Exception:
        logger.exception("App Home: the figures of %s failed", team.name)
        problem = "an internal error; it is logged"
    pending: tuple = ()
    if deps.changes is not None:
        pending = tuple(deps.changes.for_team(team.name, [State.PROPOSED]))
    last = deps.outbox.last(team=team.name, kind="digest") if deps.outbox else None
    return TeamHome(figures=figures, pending=pending, last_digest=last, problem=problem)

"""App Home: what a person sees when they open costbot's tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from handlers.blocks.home import build_app_home
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def handle_app_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        teams = [
            team for team in deps.teams.values() if user in team.members or user in team.approvers
        ]
        view = build_app_home(user=user, teams=teams)
        deps.run_later(lambda: client.views_publish(user_id=user, view=view))

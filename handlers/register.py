"""Assembles every listener on an app, in one place."""

from __future__ import annotations

from slack_bolt import App

from handlers.actions import alerts
from handlers.commands import cost
from handlers.deps import Deps
from handlers.digests import home as app_home
from handlers.middleware import build_retry_guard, build_teams_follower, use_reliable_respond
from handlers.rightsizing import actions as rightsize
from handlers.schedules import actions as schedules
from handlers.spot import actions as spot


def register_all(app: App, deps: Deps) -> None:
    app.use(build_retry_guard(deps.ledger))
    app.use(use_reliable_respond)
    app.use(build_teams_follower(deps))
    cost.register(app, deps)
    app_home.register(app, deps)
    rightsize.register(app, deps)
    spot.register(app, deps)
    schedules.register(app, deps)
    alerts.register(app, deps)

"""Work the scheduler runs on a timer, with Slack at hand (``bot.scheduler`` registers it)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.schedules.blocks import build_stop_warning

logger = logging.getLogger(__name__)


def run_schedules(deps: Deps, client: WebClient) -> int:
    """One minute of off-hours schedules: apply changes of desired state, then post each
    coming stop's warning (once: the ledger remembers it) in the team's channel.

    Returns how many stops and starts were applied (or rehearsed)."""
    offhours = deps.offhours
    if offhours is None:
        return 0
    now = deps.now()
    applied, warnings = offhours.run_minute(now)
    for outcome in applied:
        logger.info(
            "schedule %s: %s %s: %s",
            outcome.schedule,
            outcome.action or "no action",
            outcome.resource.label,
            outcome.detail,
        )
    for warning in warnings:
        team = deps.teams.get(warning.schedule.team)
        if team is None or not deps.ledger.first_time_seen(warning.key):
            continue
        try:
            client.chat_postMessage(
                channel=team.channel, **build_stop_warning(warning, dry_run=deps.dry_run)
            )
        except SlackApiError as error:
            reason = error.response.get("error", "unknown") if error.response else "no answer"
            logger.warning("stop warning for %s not posted: %s", warning.schedule.name, reason)
    return len(applied)

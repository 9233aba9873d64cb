"""The buttons on a budget alert: Snooze 24 h, Show top drivers, Propose savings.

Each listener acknowledges at once; the work runs on the background pool and answers
through the click's ``response_url``. Snoozing is for the team's members and approvers;
anyone in the channel may look at the drivers or ask for savings (right-sizing proposes,
only approvers can approve).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from engines.errors import CostSourceError, UserInputError
from handlers import action_ids
from handlers.actions.clicks import Click
from handlers.deps import Deps
from handlers.digests.blocks import with_alert_status
from handlers.parsing import RightsizeRequest, TeamCostRequest
from handlers.questions import plan_answer

logger = logging.getLogger(__name__)

SNOOZE_FOR = dt.timedelta(hours=24)


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(f"^{action_ids.ALERT_PREFIX}"))
    def handle_alert_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        click = Click.from_body(body, respond, client)
        deps.run_later(lambda: answer_alert_click(click, action, deps=deps))


def answer_alert_click(click: Click, action: dict[str, Any], *, deps: Deps) -> None:
    """Carries out one click on an alert; never raises (failures become a message)."""
    user = click.user
    team = deps.teams.get(action.get("value", ""))
    if team is None:
        click.tell(f"I no longer know the team '{action.get('value', '')}'.")
        return
    kind = action.get("action_id")
    try:
        if kind == action_ids.ALERT_SNOOZE:
            _snooze(click, deps, team.name, user)
        elif kind == action_ids.ALERT_DRIVERS:
            _run_in_channel(click, deps, TeamCostRequest(team=team.name, period_text="mtd"), user)
        elif kind == action_ids.ALERT_PROPOSE_SAVINGS:
            _run_in_channel(click, deps, RightsizeRequest(team=team.name), user)
    except (UserInputError, CostSourceError) as error:
        click.tell(str(error))
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("alert button %s failed (ref %s)", kind, reference)
        click.tell(f"Something went wrong on my side (ref {reference}); it is logged.")


def _snooze(click: Click, deps: Deps, team: str, user: str) -> None:
    members = deps.teams[team]
    if user not in members.members and user not in members.approvers:
        click.tell(f"Only {team}'s members and approvers can snooze its alerts.")
        return
    if deps.snoozes is None:
        click.tell("Snoozing is not set up here.")
        return
    until = deps.now() + SNOOZE_FOR
    deps.snoozes.snooze_alerts(team, until=until, by=user)
    deps.audit.record_audit(
        actor=user, action="alerts.snoozed", target=team,
        detail={"team": team, "until": until.isoformat()},
    )  # fmt: skip
    status = f":zzz: <@{user}> snoozed {team}'s alerts until {until:%b %-d %H:%M} UTC."
    if click.blocks is None or not click.update_card(
        with_alert_status(click.blocks, status), text=status
    ):
        click.tell(status)  # an ephemeral copy or a view: no card to update


def _run_in_channel(click: Click, deps: Deps, request: Any, user: str) -> None:
    """Answers a question in the channel, under the alert, as if ``user`` had asked it
    (clicked in a view, there is no channel: the answer goes to the clicker directly)."""
    work = plan_answer(request, deps=deps, asked_by=user)
    reply = work.reply()
    if click.respond is not None:
        click.respond(**{**reply.message, "response_type": "in_channel", "replace_original": False})
        return
    if click.client is not None:
        message = {k: v for k, v in reply.message.items() if k != "response_type"}
        click.client.chat_postMessage(channel=click.channel or user, **message)

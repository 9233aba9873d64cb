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
from typing import Any

from slack_bolt import Ack, App, Respond

from engines.errors import CostSourceError, UserInputError
from handlers import action_ids
from handlers.blocks.digest import with_alert_status
from handlers.deps import Deps
from handlers.parsing import RightsizeRequest, TeamCostRequest
from handlers.questions import plan_answer

logger = logging.getLogger(__name__)

SNOOZE_FOR = dt.timedelta(hours=24)


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(f"^{action_ids.ALERT_PREFIX}"))
    def handle_alert_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        deps.run_later(lambda: answer_alert_click(body, action, respond=respond, deps=deps))


def answer_alert_click(
    body: dict[str, Any], action: dict[str, Any], *, respond: Respond, deps: Deps
) -> None:
    """Carries out one click on an alert; never raises (failures become a message)."""
    user = body["user"]["id"]
    team = deps.teams.get(action.get("value", ""))
    if team is None:
        _tell(respond, f"I no longer know the team '{action.get('value', '')}'.")
        return
    kind = action["action_id"]
    try:
        if kind == action_ids.ALERT_SNOOZE:
            _snooze(body, respond, deps, team.name, user)
        elif kind == action_ids.ALERT_DRIVERS:
            _run_in_channel(respond, deps, TeamCostRequest(team=team.name, period_text="mtd"), user)
        elif kind == action_ids.ALERT_PROPOSE_SAVINGS:
            _run_in_channel(respond, deps, RightsizeRequest(team=team.name), user)
    except (UserInputError, CostSourceError) as error:
        _tell(respond, str(error))
    except Exception:
        logger.exception("alert button %s failed", kind)
        _tell(respond, "Something went wrong on my side; it is logged.")


def _snooze(body: dict[str, Any], respond: Respond, deps: Deps, team: str, user: str) -> None:
    members = deps.teams[team]
    if user not in members.members and user not in members.approvers:
        _tell(respond, f"Only {team}'s members and approvers can snooze its alerts.")
        return
    if deps.snoozes is None:
        _tell(respond, "Snoozing is not set up here.")
        return
    until = deps.now() + SNOOZE_FOR
    deps.snoozes.snooze_alerts(team, until=until, by=user)
    deps.audit.record_audit(
        actor=user, action="alerts.snoozed", target=team,
        detail={"team": team, "until": until.isoformat()},
    )  # fmt: skip
    original = body.get("message") or {}
    status = f":zzz: <@{user}> snoozed {team}'s alerts until {until:%b %-d %H:%M} UTC."
    blocks = with_alert_status(original.get("blocks", []), status)
    respond(replace_original=True, text=original.get("text", status), blocks=blocks)


def _run_in_channel(respond: Respond, deps: Deps, request: Any, user: str) -> None:
    """Answers a question in the channel, under the alert, as if ``user`` had asked it."""
    work = plan_answer(request, deps=deps, asked_by=user)
    reply = work.reply()
    respond(**{**reply.message, "response_type": "in_channel", "replace_original": False})


def _tell(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)

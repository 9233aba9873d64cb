"""``/cost``: parse, answer fast problems in the ack, answer slow questions after it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import Ack, App, Respond

from engines.costs import summarize_team_cost
from engines.errors import CostSourceError, UserInputError
from engines.models import Period, Team
from engines.periods import parse_period
from engines.teams import find_team
from handlers.blocks.cost import (
    build_error_message,
    build_failure_message,
    build_help_message,
    build_team_cost_message,
    build_working_message,
)
from handlers.deps import Deps
from handlers.parsing import HelpRequest, TeamCostRequest, parse_cost_command

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Attaches the ``/cost`` listener to ``app``."""

    @app.command("/cost")
    def handle_cost_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        answer_cost_command(ack=ack, command=command, respond=respond, deps=deps)


def answer_cost_command(*, ack: Ack, command: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """Answers one ``/cost`` invocation. Never raises: every failure becomes a message."""
    user = command.get("user_id", "")
    text = command.get("text", "")
    try:
        _answer(text, ack=ack, respond=respond, deps=deps, user=user)
    finally:  # after the ack: the record never delays the answer
        deps.audit.record_audit(actor=user, action="command", target="/cost", detail={"text": text})


def _answer(text: str, *, ack: Ack, respond: Respond, deps: Deps, user: str) -> None:
    try:
        request = parse_cost_command(text)
    except UserInputError as error:
        ack(**build_error_message(error, show_usage=True))
        return
    try:
        if isinstance(request, HelpRequest):
            ack(**build_help_message(deps.teams.keys()))
        elif isinstance(request, TeamCostRequest):
            _answer_team_cost(request, ack=ack, respond=respond, deps=deps, user=user)
    except UserInputError as error:
        ack(**build_error_message(error))
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("/cost %r failed (ref %s)", text, reference)
        failure = build_failure_message(
            "an answer", f"an internal error (ref {reference}); it is logged."
        )
        if ack.response is None:
            ack(**failure)
        else:
            respond(**failure)


def _answer_team_cost(
    request: TeamCostRequest, *, ack: Ack, respond: Respond, deps: Deps, user: str
) -> None:
    team = find_team(deps.teams, request.team)
    period = parse_period(request.period_text, today=deps.today())
    ack(**build_working_message(f"the cost of *{team.name}* for {period.describe()}"))
    deps.run_later(lambda: _send_team_cost(team, period, respond=respond, deps=deps, user=user))


def _send_team_cost(team: Team, period: Period, *, respond: Respond, deps: Deps, user: str) -> None:
    """The slow part, after the ack: query the source, then answer in the channel."""
    try:
        summary = summarize_team_cost(deps.cost_source, team, period)
    except CostSourceError as error:
        respond(**build_failure_message(f"the cost of {team.name}", str(error)))
        return
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("cost of %s failed (ref %s)", team.name, reference)
        reason = f"an internal error (ref {reference}); it is logged."
        respond(**build_failure_message(f"the cost of {team.name}", reason))
        return
    today_in_period = period.start <= deps.today() < period.end
    message = build_team_cost_message(summary, team, asked_by=user, today_in_period=today_in_period)
    respond(**message)

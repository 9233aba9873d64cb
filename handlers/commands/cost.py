"""``/cost``: parse, answer fast problems in the ack, answer slow questions after it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.aws_errors import explain
from engines.errors import CostbotError, UserInputError
from handlers.actions.schedules import open_create_modal
from handlers.blocks.cost import (
    build_error_message,
    build_failure_message,
    build_help_message,
    build_working_message,
    with_note,
)
from handlers.deps import Deps
from handlers.parsing import HelpRequest, ScheduleRequest, parse_cost_command
from handlers.questions import Work, plan_answer

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Attaches the ``/cost`` listener to ``app``."""

    @app.command("/cost")
    def handle_cost_command(
        ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        answer_cost_command(ack=ack, command=command, respond=respond, client=client, deps=deps)


def answer_cost_command(
    *, ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, deps: Deps
) -> None:
    """Answers one ``/cost`` invocation. Never raises: every failure becomes a message."""
    user = command.get("user_id", "")
    text = command.get("text", "")
    try:
        _answer(text, ack=ack, respond=respond, client=client, deps=deps, command=command)
    finally:  # off the ack path: Bolt answers Slack only when this listener returns
        deps.run_later(
            lambda: deps.audit.record_audit(
                actor=user, action="command", target="/cost", detail={"text": text}
            )
        )


def _answer(
    text: str, *, ack: Ack, respond: Respond, client: WebClient, deps: Deps, command: dict[str, Any]
) -> None:
    try:
        request = parse_cost_command(text)
    except UserInputError as error:
        ack(**build_error_message(error, show_usage=True))
        return
    try:
        if isinstance(request, HelpRequest):
            ack(**build_help_message(deps.teams.keys()))
            return
        if isinstance(request, ScheduleRequest) and request.verb == "create":
            _open_schedule_form(ack=ack, client=client, command=command, deps=deps)
            return
        work = plan_answer(request, deps=deps, asked_by=command.get("user_id", ""))
    except UserInputError as error:
        ack(**build_error_message(error))
        return
    except Exception:
        ack(**_internal_failure("an answer", text))
        return
    ack(**build_working_message(work.description))
    deps.run_question(
        lambda claim: _deliver(work, respond=respond, client=client, command=command, claim=claim),
        too_long=lambda: respond(**build_failure_message(work.description, work.too_long)),
    )


def _open_schedule_form(
    *, ack: Ack, client: WebClient, command: dict[str, Any], deps: Deps
) -> None:
    if deps.offhours is None:
        error = UserInputError("Off-hours schedules need AWS access, which is not configured here.")
        ack(**build_error_message(error))
        return
    problem = open_create_modal(client, command, deps)
    if problem:
        ack(**build_failure_message("the schedule form", problem))
    else:
        ack()


def _deliver(
    work: Work,
    *,
    respond: Respond,
    client: WebClient,
    command: dict[str, Any],
    claim: Callable[[], bool],
) -> None:
    """The slow part, after the ack: compute, upload a chart if any, answer in the channel,
    unless the time limit answered first (``claim()`` is false then)."""
    try:
        reply = work.reply()
    except UserInputError as error:  # input found wrong only now: ⚠️, in its own words
        failure = build_error_message(error)
    except CostbotError as error:  # AWS refusals, unreadable exports, ...
        failure = build_failure_message(work.description, str(error))
    except (ClientError, BotoCoreError, ResponseParserError) as error:
        logger.warning("/cost %r: AWS failed: %s", command.get("text", ""), error)
        failure = build_failure_message(work.description, _aws_failure(error))
    except Exception:
        failure = _internal_failure(work.description, command.get("text", ""))
    else:
        if not claim():
            logger.info("/cost %r answered after its time limit: dropped", command.get("text", ""))
            return
        message = reply.message
        try:
            if reply.chart is not None:
                problem = _upload_chart(client, command.get("channel_id", ""), reply.chart, message)
                if problem:
                    message = with_note(message, problem)
            respond(**message)
        except Exception:
            respond(**_internal_failure(work.description, command.get("text", "")))
        return
    if claim():
        respond(**failure)


def _upload_chart(client: WebClient, channel: str, chart: bytes, message: dict[str, Any]) -> str:
    """Posts the chart in the channel; returns what went wrong, or "" when it worked."""
    try:
        client.files_upload_v2(
            channel=channel, content=chart, filename="trend.png", title=message["text"][:250]
        )
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error") if error.response else "no answer"
        logger.warning("chart upload to %s failed: %s", channel, reason)
        if reason in {"not_in_channel", "channel_not_found"}:
            return "I could not post the chart here: invite me to this channel (/invite @costbot)."
        return f"I could not post the chart here ({reason})."
    return ""


def _aws_failure(error: Exception) -> str:
    """An AWS failure in a sentence: the error code and AWS's own words, never a traceback."""
    if isinstance(error, ClientError):
        return f"AWS answered {explain(error)}. Try again in a minute."
    return f"AWS did not answer properly ({type(error).__name__}). Try again in a minute."


def _internal_failure(what: str, text: str) -> dict[str, Any]:
    reference = uuid.uuid4().hex[:8]
    logger.exception("/cost %r failed (ref %s)", text, reference)
    return build_failure_message(what, f"an internal error (ref {reference}); it is logged.")

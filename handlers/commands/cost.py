"""``/cost``: parse, answer fast problems in the ack, answer slow questions after it.

One message per question: a slow question's "Working on…" note is posted at the
``response_url`` before its work is queued (so the answer can never arrive first), and the
answer takes its place: an ephemeral answer replaces it (``replace_original``), a public one
deletes it (``delete_original``) and is posted in the channel, with its chart, if any, in the
same message. A command without a ``response_url`` is answered with ``chat.postEphemeral``
(or ``chat.postMessage`` when public).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from engines.aws_errors import explain
from engines.errors import CostbotError, UserInputError
from handlers.cost.blocks import (
    FAILED,
    build_error_message,
    build_failure_message,
    build_help_message,
    build_working_message,
    with_note,
)
from handlers.deps import Deps
from handlers.parsing import HelpRequest, ScheduleRequest, parse_cost_command
from handlers.questions import plan_answer
from handlers.schedules.actions import open_create_modal
from handlers.work import Work

logger = logging.getLogger(__name__)

COMMAND = re.compile(r"^/cost$", re.IGNORECASE)
"""``/cost`` in any case: ``/COST team nlp`` is the same question."""
WORKING_NOTE_SECONDS = 1
"""How long the "Working on…" note may take at the response_url, on the ack's clock; past
it (or on any refusal) the note travels in the ack's body instead."""


def register(app: App, deps: Deps) -> None:
    """Attaches the ``/cost`` listener to ``app``."""

    @app.command(COMMAND)
    def handle_cost_command(
        ack: Ack, command: dict[str, Any], respond: Respond | None, client: WebClient
    ) -> None:
        answer_cost_command(ack=ack, command=command, respond=respond, client=client, deps=deps)


def answer_cost_command(
    *, ack: Ack, command: dict[str, Any], respond: Respond | None, client: WebClient, deps: Deps
) -> None:
    """Answers one ``/cost`` invocation. Never raises: every failure becomes a message.

    ``respond`` is None when Slack sent no ``response_url``: the answer then goes through
    the Web API (``chat.postEphemeral``, ``chat.postMessage``)."""
    user = command.get("user_id", "")
    text = command.get("text", "")
    try:
        has_url = respond is not None and bool(getattr(respond, "response_url", None))
        reply: Any = respond if has_url else _WebApiReply(client, command)
        _answer(text, ack=ack, respond=reply, client=client, deps=deps, command=command)
    finally:  # off the ack path: Bolt answers Slack only when this listener returns
        deps.run_later(
            lambda: deps.audit.record_audit(
                actor=user, action="command", target="/cost", detail={"text": text}
            )
        )


def _answer(
    text: str, *, ack: Ack, respond: Any, client: WebClient, deps: Deps, command: dict[str, Any]
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
    note = build_working_message(work.description)
    if _post_working_note(respond, note):
        ack()  # the note is already there: the ack adds nothing
    else:
        ack(**note)
    deps.run_question(
        lambda claim: _deliver(work, respond=respond, client=client, command=command, claim=claim),
        too_long=lambda: _answer_in_place(
            respond, build_failure_message(work.description, work.too_long)
        ),
    )


def _post_working_note(respond: Any, note: dict[str, Any]) -> bool:
    """Posts the note at the response_url, once and quickly, before any work is queued, so
    that the answer (which replaces or deletes it) can only come after it. False when it
    could not be posted there: no response_url, a refusal, no answer in time."""
    url = getattr(respond, "response_url", None)
    if not isinstance(respond, Respond) or not url:
        return False
    client = WebhookClient(
        url=url, timeout=WORKING_NOTE_SECONDS, proxy=respond.proxy, ssl=respond.ssl
    )  # no retries: the ack cannot wait for them
    try:
        response = client.send_dict(note)
    except OSError as error:
        if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None),
                                                         TimeoutError):  # fmt: skip
            # Slack may have it after all: a second note in the ack would linger for good.
            logger.info("the working note took over %s s at Slack: not sent again",
                        WORKING_NOTE_SECONDS)  # fmt: skip
            return True
        logger.info("the working note did not reach Slack (%s): sent in the ack", error)
        return False
    if response.status_code != 200:
        logger.info("Slack refused the working note (HTTP %s): sent in the ack",
                    response.status_code)  # fmt: skip
        return False
    return True


def _answer_in_place(respond: Any, message: dict[str, Any]) -> None:
    """Puts ``message`` where the working note is: an ephemeral one replaces the note, a
    public one (which cannot replace an ephemeral message) is posted after the note is
    deleted."""
    if message.get("response_type") == "in_channel":
        respond(delete_original=True)
        respond(**message)
        return
    replaced = respond(**{**message, "replace_original": True})
    if getattr(replaced, "status_code", 200) == 404:  # no note to replace: a message of its own
        respond(**message)


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
    work: Work[Any],
    *,
    respond: Any,
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
                problem = _post_with_chart(
                    client, command.get("channel_id", ""), reply.chart, message
                )
                if not problem:  # the answer and its chart are one message in the channel
                    respond(delete_original=True)
                    return
                if problem is _BLOCKS_REFUSED:  # the chart goes right under its answer
                    _answer_in_place(respond, message)
                    _post_with_chart(client, command.get("channel_id", ""), reply.chart, None)
                    return
                message = with_note(message, problem)
            _answer_in_place(respond, message)
        except Exception:
            _answer_in_place(respond, _internal_failure(work.description, command.get("text", "")))
        return
    if claim():
        _answer_in_place(respond, failure)


_BLOCKS_REFUSED = "Slack took no blocks with the chart"


def _post_with_chart(
    client: WebClient, channel: str, chart: bytes, message: dict[str, Any] | None
) -> str:
    """Posts the answer in the channel as one message with its chart below its blocks
    (``files.completeUploadExternal`` takes ``blocks``), or with no ``message`` the chart
    alone; returns what went wrong, ``_BLOCKS_REFUSED`` when only the blocks were, or ""
    when it worked."""
    extra: dict[str, Any] = {"blocks": json.dumps(message["blocks"])} if message else {}
    try:
        client.files_upload_v2(
            channel=channel,
            content=chart,
            filename="trend.png",
            title=(message["text"] if message else "chart")[:250],
            **extra,
        )
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error") if error.response else "no answer"
        logger.warning("chart upload to %s failed: %s", channel, reason)
        if message and reason in {"invalid_blocks", "invalid_blocks_format"}:
            return _BLOCKS_REFUSED
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


class _WebApiReply:
    """``respond`` for a command that came without a ``response_url``: ephemeral messages go
    through ``chat.postEphemeral``, public ones through ``chat.postMessage``. Nothing can be
    replaced or deleted that way (an ephemeral message has no ts to update), so a replacement
    is a new message and a deletion does nothing. When Slack refuses, the log gets a reference
    and the user a sentence by direct message, if even that works."""

    response_url = None

    def __init__(self, client: WebClient, command: dict[str, Any]) -> None:
        self.client = client
        self.channel = command.get("channel_id", "")
        self.user = command.get("user_id", "")

    def __call__(self, text: str = "", blocks: Any = None, **fields: Any) -> None:
        if fields.get("delete_original"):
            return
        content: dict[str, Any] = {"text": text, "blocks": blocks or None}
        try:
            if fields.get("response_type") == "in_channel":
                self.client.chat_postMessage(channel=self.channel, **content)
            else:
                self.client.chat_postEphemeral(channel=self.channel, user=self.user, **content)
        except SlackApiError as error:
            reference = uuid.uuid4().hex[:8]
            reason = error.response.get("error", "no answer") if error.response else "no answer"
            logger.warning("/cost without a response_url: Slack refused the answer in %s: %s "
                           "(ref %s)", self.channel, reason, reference)  # fmt: skip
            advice = (
                "Invite me there with /invite @costbot, or ask me here."
                if reason in {"not_in_channel", "channel_not_found", "user_not_in_channel"}
                else "Try again in a minute, or ask me here."
            )
            self._tell_directly(
                f"{FAILED} I could not answer your /cost in <#{self.channel}> ({reason}; "
                f"ref {reference}). {advice}"
            )

    def _tell_directly(self, sentence: str) -> None:
        try:
            self.client.chat_postMessage(channel=self.user, text=sentence)
        except SlackApiError as error:
            reason = error.response.get("error", "no answer") if error.response else "no answer"
            logger.warning("/cost without a response_url: could not tell %s either: %s",
                           self.user, reason)  # fmt: skip

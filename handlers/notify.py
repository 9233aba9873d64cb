"""Telling a channel how a change ended when no click is waiting for the answer.

A change approved for tonight runs from the scheduler, and a change a crash left half-way is
settled at start-up: in both cases the answer goes to the thread of the message the change
was decided on, so the people who clicked see it.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.changes import Outcome
from handlers.blocks.common import escape_keeping_mentions
from handlers.blocks.rightsize import ICONS

logger = logging.getLogger(__name__)


def post_change_outcome(client: WebClient, outcome: Outcome) -> bool:
    """Posts ``outcome`` in its change's message thread; False when there is nowhere to post
    or Slack refused (logged: the outcome is in the audit log either way)."""
    change = outcome.change
    if change is None or not change.message_channel:
        return False
    icon = ICONS.get(outcome.state, ":information_source:") if outcome.state else ""
    if outcome.instance_may_be_stopped:
        icon = ":rotating_light:"
    try:
        client.chat_postMessage(
            channel=change.message_channel,
            thread_ts=change.message_ts or None,
            text=f"{icon} {escape_keeping_mentions(outcome.text)}".strip(),
        )
    except SlackApiError as error:
        logger.warning(
            "could not tell %s about change %s: %s",
            change.message_channel,
            change.id,
            error.response.get("error"),
        )
        return False
    return True

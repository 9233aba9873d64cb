"""Telling a channel how a change ended when no click is waiting for the answer.

A change approved for tonight runs from the scheduler, and a change a crash left half-way is
settled at start-up: in both cases the answer goes to the thread of the message the change
was decided on, so the people who clicked see it, and the card itself is updated in place
for everyone (the outcome line, and the buttons that fit now: Revert once done for real).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.changes.models import Outcome
from handlers.blocks.common import escape_keeping_mentions
from handlers.deps import CardStore
from handlers.rightsizing.blocks import ICONS, card_buttons, decision_status, with_decision

logger = logging.getLogger(__name__)


def post_change_outcome(
    client: WebClient,
    outcome: Outcome,
    *,
    cards: CardStore | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> bool:
    """Posts ``outcome`` in its change's message thread, and with ``cards`` updates the card
    in place too; False when there is nowhere to post or Slack refused (logged: the outcome
    is in the audit log either way).

    Args:
        client: the Web API.
        outcome: how the change ended.
        cards: the kept cards (no card kept for the message: only the thread is told).
        now: the clock for the card's line (the outcome's time).
    """
    change = outcome.change
    if change is None or not change.message_channel:
        return False
    if cards is not None and now is not None:
        update_change_card(client, outcome, cards=cards, now=now())
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


def update_change_card(
    client: WebClient, outcome: Outcome, *, cards: CardStore, now: dt.datetime
) -> bool:
    """Replaces the change's line and buttons on its channel card (``chat.update``) with
    ``outcome``; False when no card is kept for it or Slack refused (logged)."""
    change = outcome.change
    if change is None or not (change.message_channel and change.message_ts):
        return False
    kept = cards.card(change.message_channel, change.message_ts)
    if kept is None:
        return False
    blocks, text = kept
    # Whose "Tonight" click it was, and when it ran: the card shows who decided each change.
    status = decision_status(outcome, change.decided_by, now=now, clicked="scheduled by")
    updated = with_decision(blocks, str(change.id), status, buttons=card_buttons(change))
    try:
        client.chat_update(
            channel=change.message_channel, ts=change.message_ts, text=text, blocks=updated
        )
    except SlackApiError as error:
        reason = error.response.get("error", "?") if error.response else "no answer"
        logger.warning("chat.update of the card of change %s failed: %s", change.id, reason)
        return False
    cards.save_card(change.message_channel, change.message_ts, blocks=updated, text=text)
    return True

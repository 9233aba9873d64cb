"""Where a click came from, and the ways back to the person and to the card clicked.

Slack documents several places a button can be clicked: a channel message (the payload
carries a copy of it and a ``response_url``), an ephemeral message (no copy: only
``container.message_ts``), App Home or a modal (a ``view``, and no ``response_url``). The
listeners answer each: a decision updates the channel message in place for everyone
(``chat.update``); what is for the clicker alone goes back the way the click allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks.common import Block

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Click:
    """Where a click came from, and the ways back to the person and to the card.

    Args:
        user: who clicked.
        channel: the channel of the message clicked ("" in App Home or a modal).
        message_ts: that message ("" in App Home or a modal).
        blocks: the card as Slack holds it; None when Slack sent no copy (an ephemeral
            message, a view).
        ephemeral: the clicked message is visible only to the clicker.
        respond: the click's ``response_url`` (None when Slack sent none: views).
        client: the Web API.
    """

    user: str
    channel: str = ""
    message_ts: str = ""
    blocks: list[Block] | None = None
    ephemeral: bool = False
    respond: Respond | None = None
    client: WebClient | None = None
    fallback_text: str = ""

    @classmethod
    def from_body(
        cls, body: dict[str, Any], respond: Respond | None, client: WebClient | None
    ) -> Click:
        container = body.get("container") or {}
        message = body.get("message")
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
        ephemeral = bool(container.get("is_ephemeral")) or container.get("type") == "ephemeral"
        return cls(
            user=(body.get("user") or {}).get("id", ""),
            channel=channel or "",
            message_ts=container.get("message_ts") or (message or {}).get("ts", ""),
            blocks=list(message["blocks"]) if message and "blocks" in message else None,
            ephemeral=ephemeral,
            # Bolt hands a ``respond`` even without a response_url (views); it then raises.
            respond=respond if respond is not None and respond.response_url else None,
            client=client,
            fallback_text=(message or {}).get("text", ""),
        )

    @property
    def on_channel_card(self) -> bool:
        """The click was on a message everyone in the channel sees, and Slack sent it."""
        return bool(self.channel and self.message_ts and not self.ephemeral) and (
            self.blocks is not None
        )

    def tell(self, text: str) -> None:
        """Tells only the clicker (never raises: a failure is logged)."""
        try:
            if self.respond is not None:
                self.respond(response_type="ephemeral", replace_original=False, text=text)
            elif self.client is not None and self.channel:
                self.client.chat_postEphemeral(channel=self.channel, user=self.user, text=text)
            elif self.client is not None and self.user:  # App Home, a modal: a direct message
                self.client.chat_postMessage(channel=self.user, text=text)
        except Exception:
            logger.exception("could not tell %s: %s", self.user, text[:80])

    def update_card(self, blocks: list[Block], *, text: str) -> bool:
        """Replaces the clicked channel message for everyone: ``chat.update``, or the
        ``response_url`` when Slack refuses it; False when there is no card to replace."""
        if not self.on_channel_card:
            return False
        fallback = self.fallback_text or text
        if self.client is not None:
            try:
                self.client.chat_update(
                    channel=self.channel, ts=self.message_ts, text=fallback, blocks=blocks
                )
                return True
            except SlackApiError as error:
                reason = error.response.get("error", "?") if error.response else "no answer"
                logger.warning("chat.update of %s/%s failed: %s", self.channel,
                               self.message_ts, reason)  # fmt: skip
        if self.respond is not None:
            self.respond(replace_original=True, text=fallback, blocks=blocks)
            return True
        return False

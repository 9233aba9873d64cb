"""Small pieces every builder uses: money, escaping, and clipping to Slack's message limits.

The check that a built message keeps Slack's limits is the Slack stand-in's
(``bot.demo.slack_standin.limit_violations``), used by the builder tests."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Message = dict[str, Any]
Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 40000

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
CENT = Decimal("0.01")


def money(amount: Decimal, currency: str = "USD") -> str:
    """``$12,345.67``; other currencies keep their code (``1,234.00 CHF``)."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    digits = f"{abs(rounded):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def cost(amount: Decimal, currency: str = "USD") -> str:
    """A cost as people read a bill: ``$12.00``, and a negative one (credits, refunds
    exceeding charges) as ``−$12.00 (credit)``, with a true minus sign."""
    if amount.quantize(CENT, rounding=ROUND_HALF_UP) >= 0:
        return money(amount, currency)
    return f"\N{MINUS SIGN}{money(-amount, currency)} (credit)"


def through(day: dt.date) -> str:
    """``through Dec 5``: the last complete day a month-to-date figure includes."""
    return f"through {day:%b %-d}"


def signed_money(amount: Decimal, currency: str = "USD") -> str:
    return ("+" if amount > 0 else "") + money(amount, currency)


def percent(value: Decimal, *, signed: bool = False) -> str:
    text = f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
    return ("+" + text) if signed and value > 0 else text


def escape(text: str) -> str:
    """Escapes user or cloud text for mrkdwn (Slack's three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPED_MENTION = re.compile(r"&lt;(@[UW][A-Z0-9]+|#C[A-Z0-9]+(?:\|[a-z0-9_-]+)?)&gt;")


_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def escape_keeping_mentions(text: str) -> str:
    """Escapes a sentence costbot wrote around data (ids, names, AWS's words) for mrkdwn,
    keeping the user and channel mentions it built (``<@U…>``, ``<#C…>``) working.

    Parts already escaped (an engine's ``Change.label`` escapes the Name tag) are not
    escaped twice. Use it for sentences that already hold mentions; escape bare data with
    ``escape``."""
    escaped = _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    return _ESCAPED_MENTION.sub(r"<\1>", escaped)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_TEXT)}}


def section(text: str, *, fields: list[str] | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)},
    }
    if fields:
        block["fields"] = [
            {"type": "mrkdwn", "text": clip(field, MAX_FIELD_TEXT)} for field in fields[:MAX_FIELDS]
        ]
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)} for text in texts],
    }


def divider() -> Block:
    return {"type": "divider"}


def message(text: str, blocks: list[Block], **extra: Any) -> Message:
    """A message with its plain-text fallback, trimmed to Slack's block limit."""
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        blocks = blocks[: MAX_BLOCKS - 1] + [context(f"…and {hidden} more not shown.")]
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": blocks, **extra}

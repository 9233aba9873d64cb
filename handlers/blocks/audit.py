"""The audit log as a message: who did what, when, and to what."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.common import Message, context, escape, header, message, section

SHOWN = 20


def build_audit_message(subject: str, records: Sequence[dict[str, Any]]) -> Message:
    """The newest audit records (newest first)."""
    if not records:
        text = f"Nothing recorded for {subject} yet."
        return message(text, [section(text)], response_type="ephemeral")
    lines = [_line(record) for record in records[:SHOWN]]
    blocks = [header(f"{subject} · audit log"), section("\n".join(lines))]
    blocks.append(context("Append-only; every proposal, decision, AWS call and result is kept."))
    return message(
        f"{subject}: the last {len(lines)} audit records.", blocks, response_type="ephemeral"
    )


def _line(record: dict[str, Any]) -> str:
    detail = record.get("detail") or {}
    when = str(record.get("at", ""))[:16].replace("T", " ")
    actor = record.get("actor", "")
    who = f"<@{actor}>" if actor[:1] in {"U", "W"} else escape(actor or "costbot")
    change = ""
    if detail.get("from_type") or detail.get("to_type"):
        change = f" `{detail.get('from_type', '?')}` → `{detail.get('to_type', '?')}`"
    dry = " (dry run)" if record.get("dry_run") else ""
    target = escape(str(record.get("target", "")))
    return f"`{when}` {who} *{escape(str(record.get('action', '')))}* {target}{change}{dry}"

"""The audit log as a message: who did what, when, and to what."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engines.words import audit_action_label, change_summary, echo
from handlers.blocks.common import Message, context, escape, header, message, section

SHOWN = 20
# Decisions about a change are the same in a dry run: only what was (or would be) done says so.
NOT_REHEARSED = frozenset(
    {"change.proposed", "change.denied", "change.snoozed", "change.dismissed",
     "change.expired", "change.approval_asked", "command"}
)  # fmt: skip


def build_audit_message(subject: str, records: Sequence[dict[str, Any]]) -> Message:
    """The newest audit records (newest first), instances by their Name tag, id second."""
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
    action = str(record.get("action", ""))
    what = f"*{escape(audit_action_label(action))}* {_subject(record, detail)}"
    if detail.get("from_type") or detail.get("to_type"):
        summary = change_summary(
            str(detail.get("kind", "")), str(detail.get("from_type", "")), detail.get("to_type", "")
        )
        what += f": {escape(summary)}"
    dry = " (dry run)" if record.get("dry_run") and action not in NOT_REHEARSED else ""
    return f"`{when}` {who} {what}{dry}"


def _subject(record: dict[str, Any], detail: dict[str, Any]) -> str:
    """The instance by its Name tag with the id in parentheses; other targets as they are."""
    instance_id = str(detail.get("instance_id", ""))
    name = str(detail.get("instance_name", ""))
    if instance_id:
        return f"{escape(name)} (`{instance_id}`)" if name else f"`{instance_id}`"
    if record.get("action") == "command":
        typed = echo(f"{record.get('target', '')} {detail.get('text', '')}")
        return "`" + escape(typed.replace("`", "'")) + "`"
    return escape(str(record.get("target", "")))

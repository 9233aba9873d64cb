"""Right-sizing messages: a ranked list of recommendations, each with its decision buttons."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from engines.changes import State
from engines.rightsizing_models import Finding, Recommendation
from engines.words import plural, risk_label
from handlers import action_ids
from handlers.blocks.common import (
    Block,
    Message,
    context,
    divider,
    escape,
    header,
    message,
    money,
    section,
)

MAX_LISTED = 10  # each recommendation takes 3-4 blocks; Slack allows 50
FINDING_ICONS = {
    Finding.OVER_PROVISIONED: ":arrow_down:",
    Finding.UNDER_PROVISIONED: ":arrow_up:",
    Finding.IDLE: ":zzz:",
    Finding.OPTIMIZED: ":white_check_mark:",
    Finding.NOT_ENOUGH_DATA: ":hourglass_flowing_sand:",
    Finding.LEFT_ALONE: ":no_entry_sign:",
}


# How a change ended, at a glance (the decision status and posts in the thread).
ICONS = {
    State.DONE: ":white_check_mark:",
    State.ROLLED_BACK: ":leftwards_arrow_with_hook:",
    State.REVERTED: ":leftwards_arrow_with_hook:",
    State.FAILED: ":x:",
    State.DENIED: ":no_entry_sign:",
    State.SNOOZED: ":zzz:",
    State.DISMISSED: ":wastebasket:",
    State.SCHEDULED: ":clock10:",
}


def build_rightsize_message(
    subject: str,
    recommendations: Sequence[tuple[str, Recommendation]],
    *,
    approvers: Sequence[str],
    dry_run: bool,
    lookback_days: int,
    asked_by: str = "",
) -> Message:
    """The recommendations for ``subject``, biggest saving first.

    Args:
        subject: the team (or "all teams").
        recommendations: (change id, recommendation); the id goes into the buttons.
        approvers: who may approve (named in the message).
        dry_run: whether approved changes will only be rehearsed.
        lookback_days: the utilization window the evidence covers.
        asked_by: who asked.
    """
    actionable = [(cid, r) for cid, r in recommendations if r.monthly_saving > 0]
    other = [r for _, r in recommendations if r.monthly_saving <= 0]
    total = sum((r.monthly_saving for _, r in actionable), Decimal(0))
    names = ", ".join(f"<@{a}>" for a in approvers) or "_no approver configured_"
    blocks: list[Block] = [
        header(f"{subject} · right-sizing"),
        section(
            f"*{money(total)}/month* could be saved by {plural(len(actionable), 'change')} "
            f"(on-demand list prices, 730 h a month). Approvers: {names}."
        ),
    ]
    for change_id, recommendation in actionable[:MAX_LISTED]:
        blocks += [divider(), *_recommendation_blocks(change_id, recommendation)]
    if len(actionable) > MAX_LISTED:
        blocks.append(context(f"…and {len(actionable) - MAX_LISTED} smaller ones."))
    if other:
        blocks += [divider(), section(_others_summary(other))]
    mode = "Dry run: approving rehearses the change, nothing is modified." if dry_run else ""
    blocks.append(
        context(
            f"Evidence: the last {lookback_days} days of CloudWatch. "
            + mode
            + (f" Asked by <@{asked_by}>" if asked_by else "")
        )
    )
    fallback = (
        f"{subject}: {money(total)}/month could be saved by {plural(len(actionable), 'change')}."
    )
    return message(fallback, blocks, response_type="in_channel")


def _recommendation_blocks(change_id: str, rec: Recommendation) -> list[Block]:
    icon = FINDING_ICONS.get(rec.finding, "")
    target = (
        "stop it" if rec.action == "stop" else f"`{rec.current_type}` → `{rec.recommended_type}`"
    )
    if rec.action == "launch-template":
        target += " (in its launch template)"
    risk = f" · {risk_label(rec.risk)}" if rec.risk else ""
    blocks: list[Block] = [
        section(
            f"{icon} *{escape(rec.instance.name)}* (`{rec.instance.instance_id}`) is "
            f"{rec.finding.value}: {target}\n"
            f"*Saves {money(rec.monthly_saving)}/month*{risk}\n{escape(rec.reason)}"
        )
    ]
    if change_id:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"rightsize:{change_id}",
                "elements": _buttons(change_id, rec),
            }
        )
    return blocks


def _buttons(change_id: str, rec: Recommendation) -> list[dict[str, object]]:
    verb = "Stop" if rec.action == "stop" else "Approve"
    return [
        _button(f"{verb}", action_ids.RIGHTSIZE_APPROVE, change_id, style="primary"),
        _button("Tonight at 22:00", action_ids.RIGHTSIZE_APPROVE_TONIGHT, change_id),
        _button("Deny", action_ids.RIGHTSIZE_DENY, change_id, style="danger"),
        _button("Snooze 30 days", action_ids.RIGHTSIZE_SNOOZE, change_id),
        _button("Dismiss", action_ids.RIGHTSIZE_DISMISS, change_id),
        _button("Ask for approval", action_ids.RIGHTSIZE_ASK, change_id),
    ]


def _button(text: str, action_id: str, value: str, *, style: str = "") -> dict[str, object]:
    button: dict[str, object] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _others_summary(recommendations: Sequence[Recommendation]) -> str:
    counts: dict[Finding, int] = {}
    for rec in recommendations:
        counts[rec.finding] = counts.get(rec.finding, 0) + 1
    parts = [f"{count} {finding.value}" for finding, count in sorted(counts.items())]
    return "Nothing to change for the rest: " + ", ".join(parts) + "."


def with_decision(
    blocks: Sequence[Block],
    change_id: str,
    status: str,
    *,
    revert: bool = False,
    stop: bool = False,
) -> list[Block]:
    """``blocks`` (the message as Slack holds it) with one change's buttons replaced by its
    status, and a Revert button when the change is done (``stop``: the change stopped an
    idle instance, so reverting starts it)."""
    block_id = f"rightsize:{change_id}"
    updated: list[Block] = []
    for block in blocks:
        if block.get("block_id") != block_id:
            updated.append(block)
            continue
        updated.append(context(status))
        if revert:
            updated.append(
                {
                    "type": "actions",
                    "block_id": block_id,
                    "elements": [
                        _button("Revert", action_ids.RIGHTSIZE_REVERT, change_id, style="danger")
                        | {"confirm": _revert_confirmation(stop=stop)}
                    ],
                }
            )
    return updated


def _revert_confirmation(*, stop: bool) -> dict[str, object]:
    what = (
        "The instance is started again."
        if stop
        else "The instance is stopped, set back to its original type and started again."
    )
    return {
        "title": {"type": "plain_text", "text": "Revert this change?"},
        "text": {"type": "plain_text", "text": what},
        "confirm": {"type": "plain_text", "text": "Revert"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def build_dismiss_modal(change_id: str, *, response_url: str, label: str) -> dict[str, object]:
    """Asks why a recommendation is dismissed (so it stops coming back for a reason).

    ``label`` is mrkdwn already (``Change.label``: the Name tag, escaped, then the id)."""
    return {
        "type": "modal",
        "callback_id": action_ids.RIGHTSIZE_DISMISS_MODAL,
        "private_metadata": f"{change_id}|{response_url}",
        "title": {"type": "plain_text", "text": "Dismiss recommendation"},
        "submit": {"type": "plain_text", "text": "Dismiss"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Dismiss {label}? It will not be proposed again."),
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "min_length": 3,
                    "max_length": 500,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. sized for the quarter-end batch",
                    },
                },
            },
        ],
    }


def build_approval_request(change_label: str, *, asked_by: str, approvers: Sequence[str]) -> str:
    """The thread reply a member's **Ask for approval** posts: it mentions the approvers."""
    names = ", ".join(f"<@{a}>" for a in approvers) or "_no approver configured_"
    return f":raising_hand: <@{asked_by}> asks {names} to decide {change_label}."

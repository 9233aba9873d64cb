"""Right-sizing messages: a ranked list of recommendations, each with its decision buttons.

Instances and SageMaker resources (endpoints, notebooks, training jobs) share one list,
biggest saving first; a SageMaker card's text comes from ``sagemaker_blocks``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from engines.changes.models import Change, Kind, Outcome, State
from engines.changes.texts import COSTBOT
from engines.rightsizing.models import Finding, Recommendation
from engines.sagemaker.models import SageMakerRecommendation
from engines.words import plural, risk_label
from handlers import action_ids
from handlers.blocks.common import (
    Block,
    Message,
    context,
    divider,
    escape,
    escape_keeping_mentions,
    header,
    message,
    money,
    section,
)
from handlers.rightsizing.sagemaker_blocks import (
    revert_text,
    sagemaker_card_text,
    sagemaker_kind,
    summary_note,
    verb_for,
)

Card = Recommendation | SageMakerRecommendation
"""One card on the message: an instance's recommendation or a SageMaker resource's."""

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
    recommendations: Sequence[tuple[str, Card]],
    *,
    approvers: Sequence[str],
    dry_run: bool,
    lookback_days: int,
    asked_by: str = "",
    sagemaker_notes: Sequence[str] = (),
) -> Message:
    """The recommendations for ``subject``, biggest saving first (instances and SageMaker
    resources together).

    Args:
        subject: the team (or "all teams").
        recommendations: (change id, recommendation); the id goes into the buttons ("" for
            a card without buttons: advice, or nothing to change).
        approvers: who may approve (named in the message).
        dry_run: whether approved changes will only be rehearsed.
        lookback_days: the utilization window the evidence covers.
        asked_by: who asked.
        sagemaker_notes: why SageMaker was skipped, or that it found nothing (one line).
    """
    ranked = sorted(recommendations, key=lambda pair: -pair[1].monthly_saving)
    actionable = [(cid, r) for cid, r in ranked if r.monthly_saving > 0]
    other = [r for _, r in ranked if r.monthly_saving <= 0]
    total = sum((r.monthly_saving for _, r in actionable), Decimal(0))
    names = ", ".join(f"<@{a}>" for a in approvers) or "_no approver configured_"
    by_what = _changes_and_advice(actionable)
    blocks: list[Block] = [
        header(f"{subject} · right-sizing"),
        section(
            f"*{money(total)}/month* could be saved by {by_what} "
            f"(on-demand list prices, 730 h a month). Approvers: {names}."
        ),
    ]
    for change_id, recommendation in actionable[:MAX_LISTED]:
        blocks += [divider(), *_recommendation_blocks(change_id, recommendation)]
    if len(actionable) > MAX_LISTED:
        blocks.append(context(f"…and {len(actionable) - MAX_LISTED} smaller ones."))
    if other:
        blocks += [divider(), section(_others_summary(other))]
    if sagemaker_notes:
        blocks.append(context(escape(summary_note(sagemaker_notes))))
    mode = "Dry run: approving rehearses the change, nothing is modified." if dry_run else ""
    blocks.append(
        context(
            f"Evidence: the last {lookback_days} days of CloudWatch. "
            + mode
            + (f" Asked by <@{asked_by}>" if asked_by else "")
        )
    )
    fallback = f"{subject}: {money(total)}/month could be saved by {by_what}."
    return message(fallback, blocks, response_type="in_channel")


def _changes_and_advice(actionable: Sequence[tuple[str, Card]]) -> str:
    """ "5 changes" or "5 changes and 2 pieces of advice": a card without a change behind it
    (training advice) is not a change anyone can approve."""
    changes = sum(1 for change_id, _ in actionable if change_id)
    advice = len(actionable) - changes
    said = plural(changes, "change")
    if not advice:
        return said
    pieces = f"{plural(advice, 'piece')} of advice"
    return f"{said} and {pieces}" if changes else pieces


def _recommendation_blocks(change_id: str, rec: Card) -> list[Block]:
    icon = FINDING_ICONS.get(rec.finding, "")
    if isinstance(rec, SageMakerRecommendation):
        kind = sagemaker_kind(rec)
        card = [section(sagemaker_card_text(rec, icon=icon))]
        if change_id and kind is not None:
            card.append(_actions(change_id, verb_for(kind)))
        return card
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
            _actions(change_id, verb_for(Kind.STOP if rec.action == "stop" else Kind.RESIZE))
        )
    return blocks


def _actions(change_id: str, verb: str) -> Block:
    return {
        "type": "actions",
        "block_id": f"rightsize:{change_id}",
        "elements": _buttons(change_id, verb),
    }


def _buttons(change_id: str, verb: str) -> list[dict[str, object]]:
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


def _others_summary(recommendations: Sequence[Card]) -> str:
    counts: dict[Finding, int] = {}
    for rec in recommendations:
        counts[rec.finding] = counts.get(rec.finding, 0) + 1
    parts = [f"{count} {finding.value}" for finding, count in sorted(counts.items())]
    return "Nothing to change for the rest: " + ", ".join(parts) + "."


STATUS_PREFIX = "rightsize_status:"
"""The ``block_id`` prefix of a change's status line on its card (the buttons' block is
``rightsize:<id>``), so a later decision replaces the line instead of adding one."""


def card_buttons(change: Change) -> list[dict[str, object]]:
    """The buttons that still mean something for ``change`` in its current state.

    Waiting (proposed, or proposed with a first approval): all of them. Snoozed: it can
    still be approved, denied or dismissed. Scheduled: it can still be denied. Done for
    real: Revert. Anything else (denied, dismissed, being carried out, failed, reverted, a
    dry run): none, so nobody clicks a button that can only answer "already…".
    """
    change_id = str(change.id)
    approve = _button(
        verb_for(change.kind), action_ids.RIGHTSIZE_APPROVE, change_id, style="primary"
    )
    tonight = _button("Tonight at 22:00", action_ids.RIGHTSIZE_APPROVE_TONIGHT, change_id)
    deny = _button("Deny", action_ids.RIGHTSIZE_DENY, change_id, style="danger")
    dismiss = _button("Dismiss", action_ids.RIGHTSIZE_DISMISS, change_id)
    ask = _button("Ask for approval", action_ids.RIGHTSIZE_ASK, change_id)
    if change.state is State.PROPOSED:
        snooze = _button("Snooze 30 days", action_ids.RIGHTSIZE_SNOOZE, change_id)
        return [approve, tonight, deny, snooze, dismiss, ask]
    if change.state is State.SNOOZED:
        return [approve, tonight, deny, dismiss, ask]
    if change.state is State.SCHEDULED:
        return [deny]
    if change.state is State.DONE and not change.dry_run:
        revert = _button("Revert", action_ids.RIGHTSIZE_REVERT, change_id, style="danger")
        return [revert | {"confirm": _revert_confirmation(change)}]
    return []


def decision_status(outcome: Outcome, user: str, *, now: dt.datetime, clicked: str = "by") -> str:
    """The card's line for a decision: what happened (the engine's sentence, its data
    escaped, its mentions real), who clicked and when (no clicker: what the card missed)."""
    state = outcome.state
    icon = ICONS.get(state, ":information_source:") if state else ":information_source:"
    if state is State.PROPOSED and outcome.ok:  # four-eyes: a first approval
        icon = ":ballot_box_with_check:"
    when = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    status = f"{icon} {escape_keeping_mentions(outcome.text)}"
    if user == COSTBOT or (user and f"<@{user}>" in outcome.text):  # the sentence says who
        status += f" ({when})"  # costbot's own decision (an expired window): no <@costbot>
    elif user:  # the outcome of carrying it out: say whose click it was
        status += f" ({clicked} <@{user}>, {when})"
    if outcome.instance_may_be_stopped:
        status = ":rotating_light: " + status
    return status


def with_decision(
    blocks: Sequence[Block],
    change_id: str,
    status: str,
    *,
    buttons: Sequence[dict[str, object]] = (),
) -> list[Block]:
    """``blocks`` (the card as Slack holds it) with one change's status line and buttons
    replaced: ``status`` (mrkdwn, already escaped) says who decided what and when, and
    ``buttons`` are the ones that fit the change now (``card_buttons``)."""
    ids = (f"rightsize:{change_id}", f"{STATUS_PREFIX}{change_id}")
    updated: list[Block] = []
    placed = False
    for block in blocks:
        if block.get("block_id") not in ids:
            updated.append(block)
            continue
        if placed:
            continue
        placed = True
        updated.append(context(status) | {"block_id": ids[1]})
        if buttons:
            updated.append({"type": "actions", "block_id": ids[0], "elements": list(buttons)})
    return updated


def _revert_confirmation(change: Change) -> dict[str, object]:
    return {
        "title": {"type": "plain_text", "text": "Revert this change?"},
        "text": {"type": "plain_text", "text": revert_text(change)},
        "confirm": {"type": "plain_text", "text": "Revert"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def build_dismiss_modal(change_id: str, *, metadata: str, label: str) -> dict[str, object]:
    """Asks why a recommendation is dismissed (so it stops coming back for a reason).

    Args:
        change_id: the change.
        metadata: what the submission needs to find the card again (``private_metadata``).
        label: how people know the instance: mrkdwn already (``Change.label``: the Name
            tag, escaped, then the id).
    """
    return {
        "type": "modal",
        "callback_id": action_ids.RIGHTSIZE_DISMISS_MODAL,
        "private_metadata": metadata or change_id,
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

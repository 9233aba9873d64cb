"""Approve, Deny, Snooze, Dismiss, Tonight and Revert on a right-sizing recommendation.

The listener only acknowledges (and opens the Dismiss modal, whose trigger expires in
seconds); deciding and carrying out happen on the background pool, and the message is
updated in place through the click's ``response_url``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from engines.changes import Change, Kind, Outcome, State
from handlers import action_ids
from handlers.blocks.common import escape
from handlers.blocks.rightsize import (
    ICONS,
    build_approval_request,
    build_dismiss_modal,
    with_decision,
)
from handlers.deps import Deps

logger = logging.getLogger(__name__)

MAINTENANCE_HOUR = 22


def register(app: App, deps: Deps) -> None:
    @app.action(re.compile(f"^{action_ids.RIGHTSIZE_PREFIX}"))
    def handle_rightsize_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        if action["action_id"] == action_ids.RIGHTSIZE_DISMISS:
            _open_dismiss_modal(client, body, action, deps)
            return
        deps.run_later(lambda: decide(body, action, respond=respond, deps=deps, client=client))

    @app.view(action_ids.RIGHTSIZE_DISMISS_MODAL)
    def handle_dismiss_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["reason"].get("value") or ""
        if len(reason.strip()) < 3:
            ack(response_action="errors", errors={"reason": "Say in a few words why."})
            return
        ack()
        change_id, _, response_url = view["private_metadata"].partition("|")
        user = body["user"]["id"]
        deps.run_later(lambda: _dismiss(int(change_id), user, reason.strip(), response_url, deps))


def decide(
    body: dict[str, Any],
    action: dict[str, Any],
    *,
    respond: Respond,
    deps: Deps,
    client: WebClient | None = None,
) -> None:
    """Carries out one click and updates the message (or tells only the clicker why not).

    Only the approvers of the team that owns the instance decide; the message becomes the
    change's thread only once an authorized decision was made on it.
    """
    runner = deps.changes
    if runner is None:
        _tell(respond, "Right-sizing is not set up.")
        return
    change_id = int(action["value"])
    user = body["user"]["id"]
    change = runner.store.get_change(change_id)
    if change is None:
        _tell(respond, "That change no longer exists.")
        return
    team = deps.teams.get(change.team)
    approvers = tuple(team.approvers) if team else ()
    four_eyes = bool(team and team.require_second_approver)
    kind = action["action_id"]
    if kind == action_ids.RIGHTSIZE_ASK:
        _ask_for_approval(body, change, user, respond=respond, deps=deps, client=client)
        return
    if kind == action_ids.RIGHTSIZE_APPROVE:
        outcome = runner.approve(
            change_id, approver=user, approvers=approvers, second_approver=four_eyes
        )
        if outcome.ok and outcome.state is State.APPROVED:
            _remember_message(runner, change, body)
            _update(
                body,
                respond,
                change_id,
                f":hourglass_flowing_sand: Approved by <@{user}>: working on it…",
            )
            outcome = runner.execute(change_id)
    elif kind == action_ids.RIGHTSIZE_APPROVE_TONIGHT:
        at = _tonight(deps, change.team)
        outcome = runner.approve(
            change_id, approver=user, approvers=approvers, second_approver=four_eyes, at=at
        )
    elif kind == action_ids.RIGHTSIZE_DENY:
        outcome = runner.deny(change_id, by=user, approvers=approvers)
    elif kind == action_ids.RIGHTSIZE_SNOOZE:
        outcome = runner.snooze(change_id, by=user, approvers=approvers)
    elif kind == action_ids.RIGHTSIZE_REVERT:
        outcome = runner.revert(change_id, by=user, approvers=approvers)
    else:
        return
    if outcome.ok:  # an authorized decision: this message is now the change's thread
        _remember_message(runner, change, body)
    first_approval = kind in (action_ids.RIGHTSIZE_APPROVE, action_ids.RIGHTSIZE_APPROVE_TONIGHT)
    if first_approval and outcome.ok and outcome.state in (State.PROPOSED, State.SNOOZED):
        # Four-eyes: the first approval is told to the channel; the buttons stay for the
        # second approver.
        respond(response_type="in_channel", replace_original=False, text=outcome.text)
        return
    _report(body, respond, change_id, user, outcome)


def _ask_for_approval(
    body: dict[str, Any],
    change: Change,
    user: str,
    *,
    respond: Respond,
    deps: Deps,
    client: WebClient | None,
) -> None:
    """**Ask for approval**: a member mentions the approvers in the thread. It decides
    nothing and records nothing on the change: asking gives nobody rights."""
    team = deps.teams.get(change.team)
    if team is None:
        _tell(respond, f"No team in the teams file owns {change.label}, so nobody can decide it.")
        return
    if user not in team.members and user not in team.approvers:
        _tell(respond, f"Only {team.name}'s members can ask its approvers about {change.label}.")
        return
    # Nobody is asked twice: not the asker, nor the approver who already approved (four-eyes).
    others = [a for a in team.approvers if a not in (user, change.first_approved_by)]
    if user in team.approvers and not (team.require_second_approver and others):
        _tell(respond, f"You approve for {team.name}: decide {change.label} with the buttons.")
        return
    if not others:
        _tell(respond, f"{team.name} has no approvers in the teams file: ask for one to be added.")
        return
    text = build_approval_request(change.label, asked_by=user, approvers=others)
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    thread = container.get("thread_ts") or container.get("message_ts")
    if client is not None and channel and thread and not container.get("is_ephemeral"):
        client.chat_postMessage(channel=channel, thread_ts=thread, text=text)
    else:
        respond(response_type="in_channel", replace_original=False, text=text)
    deps.audit.record_audit(
        actor=user,
        action="change.approval_asked",
        target=change.instance_id,
        detail={"change_id": change.id, "team": team.name, "approvers": others},
    )


def _tell(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)


def _remember_message(runner: Any, change: Change, body: dict[str, Any]) -> None:
    """Where the change was decided, so a later outcome (tonight's run, a recovery after a
    restart) is told in that message's thread. Called only after an authorized decision."""
    container = body.get("container") or {}
    channel, ts = container.get("channel_id", ""), container.get("message_ts", "")
    if channel and ts and not container.get("is_ephemeral") and change.message_ts != ts:
        runner.store.set_change_message(change.id, channel=channel, ts=ts)


def _report(
    body: dict[str, Any], respond: Respond, change_id: int, user: str, outcome: Outcome
) -> None:
    if outcome.refused or (
        not outcome.ok and (outcome.change is None or outcome.state not in ICONS)
    ):
        respond(response_type="ephemeral", replace_original=False, text=outcome.text)
        return
    state = outcome.state
    icon = ICONS.get(state, ":information_source:") if state else ":information_source:"
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    status = f"{icon} {escape(outcome.text)} (<@{user}>, {when})"
    if outcome.instance_may_be_stopped:
        status = ":rotating_light: " + status
    revert = state is State.DONE and not _is_dry_run(outcome)
    stop = outcome.change is not None and outcome.change.kind is Kind.STOP
    _update(body, respond, change_id, status, revert=revert, stop=stop)


def _update(
    body: dict[str, Any],
    respond: Respond,
    change_id: int,
    status: str,
    *,
    revert: bool = False,
    stop: bool = False,
) -> None:
    original = body.get("message") or {}
    blocks = with_decision(
        original.get("blocks", []), str(change_id), status, revert=revert, stop=stop
    )
    respond(replace_original=True, text=original.get("text", status), blocks=blocks)


def _dismiss(change_id: int, user: str, reason: str, response_url: str, deps: Deps) -> None:
    runner = deps.changes
    if runner is None:
        return
    change = runner.store.get_change(change_id)
    approvers = _approvers(deps, change.team if change else "")
    outcome = runner.dismiss(change_id, by=user, reason=reason, approvers=approvers)
    if response_url:  # the click's response_url, carried through the modal
        reply = {"response_type": "ephemeral", "replace_original": False, "text": outcome.text}
        WebhookClient(response_url).send_dict(reply)


def _open_dismiss_modal(
    client: WebClient, body: dict[str, Any], action: dict[str, Any], deps: Deps
) -> None:
    label = f"change {action['value']}"
    if deps.changes is not None:
        change = deps.changes.store.get_change(int(action["value"]))
        label = change.label if change else label
    view = build_dismiss_modal(
        action["value"], response_url=body.get("response_url", ""), label=label
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def _approvers(deps: Deps, team_name: str) -> tuple[str, ...]:
    team = deps.teams.get(team_name)
    return tuple(team.approvers) if team else ()


def _tonight(deps: Deps, team_name: str) -> dt.datetime:
    team = deps.teams.get(team_name)
    zone = ZoneInfo(team.timezone if team else "UTC")
    local_now = deps.now().astimezone(zone)
    tonight = local_now.replace(hour=MAINTENANCE_HOUR, minute=0, second=0, microsecond=0)
    if tonight <= local_now:
        tonight += dt.timedelta(days=1)
    return tonight.astimezone(dt.UTC)


def _is_dry_run(outcome: Outcome) -> bool:
    return bool(outcome.change is not None and outcome.change.dry_run)

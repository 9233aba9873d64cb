"""Approve, Deny, Snooze, Dismiss, Tonight and Revert on a right-sizing recommendation.

The listener only acknowledges (and opens the Dismiss modal, whose trigger expires in
seconds); deciding and carrying out happen on the background pool.

Every decision shows on the card for everyone: the channel message is updated in place
(``chat.update``) with who decided what and when, and only the buttons that still fit.
Slack documents other places a button can be clicked, and each gets an answer too: on an
ephemeral message (Slack sends no copy of it, so the clicker gets a new ephemeral line and
the card's thread is told), in App Home or a modal (no ``response_url``: the clicker is told
directly). Whatever fails, the clicker gets a sentence and the log a reference.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.changes.models import OPEN, Change, Outcome, State
from engines.changes.runner import ChangeRunner
from engines.changes.texts import COSTBOT
from engines.costs.ownership import owner_of
from handlers import action_ids
from handlers.actions.clicks import Click
from handlers.blocks.common import Block
from handlers.deps import Deps
from handlers.rightsizing.blocks import (
    ICONS,
    build_approval_request,
    build_dismiss_modal,
    card_buttons,
    decision_status,
    with_decision,
)

logger = logging.getLogger(__name__)

MAINTENANCE_HOUR = 22
CARDS_KEPT = 256  # cards remembered between a Dismiss click and its form's submission
CLICKED_BY = {
    action_ids.RIGHTSIZE_APPROVE: "approved by",
    action_ids.RIGHTSIZE_REVERT: "reverted by",
}
"""How the card's line names the clicker when the sentence does not (an execution's outcome)."""
CARRIES_OUT = frozenset({action_ids.RIGHTSIZE_APPROVE, action_ids.RIGHTSIZE_REVERT})
DECIDES = frozenset({
    action_ids.RIGHTSIZE_APPROVE, action_ids.RIGHTSIZE_APPROVE_TONIGHT, action_ids.RIGHTSIZE_DENY,
    action_ids.RIGHTSIZE_SNOOZE, action_ids.RIGHTSIZE_REVERT,
})  # fmt: skip
"""Clicks whose decision is the owning team's: who owns the resource is looked up then."""
"""Clicks that carry a change out there and then, on the executions' pool (``run_change``)."""


def register(app: App, deps: Deps) -> None:
    cards = _Cards()

    @app.action(re.compile(f"^{action_ids.RIGHTSIZE_PREFIX}"))
    def handle_rightsize_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        click = Click.from_body(body, respond, client)
        if action.get("action_id") == action_ids.RIGHTSIZE_DISMISS:
            _open_dismiss_modal(click, body, action, deps, cards)
            return
        if action.get("action_id") in CARRIES_OUT:  # may wait minutes for AWS
            deps.run_change(lambda: decide_safely(click, action, deps=deps))
        else:
            deps.run_later(lambda: decide_safely(click, action, deps=deps))

    @app.view(action_ids.RIGHTSIZE_DISMISS_MODAL)
    def handle_dismiss_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reason = _form_reason(view)
        if len(reason) < 3:
            ack(response_action="errors", errors={"reason": "Say in a few words why."})
            return
        form = _DismissForm.read(view.get("private_metadata") or "")
        if form is None:
            reference = _reference()
            logger.warning("dismiss form without a change (ref %s): %r", reference,
                           (view.get("private_metadata") or "")[:200])  # fmt: skip
            ack(response_action="errors", errors={"reason": (
                f"This form no longer says which recommendation it is about (ref {reference}). "
                "Close it and click Dismiss on the card again.")})  # fmt: skip
            return
        ack()
        user = (body.get("user") or {}).get("id", "")
        card = cards.take(form.channel, form.message_ts)
        if card is None and deps.cards is not None:  # the form was opened by another process
            card = deps.cards.card(form.channel, form.message_ts)
        deps.run_later(lambda: _dismiss(form, user, reason, card, client, deps))


def decide_safely(click: Click, action: dict[str, Any], *, deps: Deps) -> None:
    """``decide``, with any failure told to the clicker with a reference for the log."""
    try:
        decide(click, action, deps=deps)
    except Exception:
        reference = _reference()
        logger.exception("%s on change %r failed (ref %s)",
                         action.get("action_id"), action.get("value"), reference)  # fmt: skip
        click.tell(f":x: I could not carry out that click: an internal error (ref {reference}); "
                   "it is logged.")  # fmt: skip


def decide(click: Click, action: dict[str, Any], *, deps: Deps) -> None:
    """Carries out one click and shows it on the card (or tells only the clicker why not).

    Only the approvers of the team that owns the instance decide; the message becomes the
    change's thread only once an authorized decision was made on it.
    """
    runner = deps.changes
    if runner is None:
        click.tell("Right-sizing is not set up.")
        return
    try:
        change_id = int(action.get("value", ""))
    except ValueError:
        click.tell("That button names no change I know; ask for the recommendations again.")
        return
    user = click.user
    change = runner.get(change_id)
    if change is None:
        click.tell("That change no longer exists.")
        return
    kind = action.get("action_id")
    team = deps.teams.get(change.team)
    if kind in DECIDES:
        owner = _new_owner(runner, change, user, deps)
        if owner is not None:
            if change.state in OPEN:
                _withdraw(click, runner, change, owner, deps)
                return
            team = deps.teams.get(owner, team)  # a done change: its owner's approvers revert
    approvers = tuple(team.approvers) if team else ()
    four_eyes = bool(team and team.require_second_approver)
    if kind == action_ids.RIGHTSIZE_ASK:
        _ask_for_approval(click, change, deps=deps)
        return
    if kind == action_ids.RIGHTSIZE_APPROVE:
        # four-eyes: a first approval for tonight makes the second one for tonight too
        at = _tonight(deps, change.team) if four_eyes and change.scheduled_for else None
        outcome = runner.approve(
            change_id, approver=user, approvers=approvers, second_approver=four_eyes, at=at
        )
        if outcome.ok and outcome.state is State.APPROVED:
            _remember_message(runner, change, click)
            working = f":hourglass_flowing_sand: Approved by <@{user}>: working on it…"
            _show(click, change_id, working, buttons=[], deps=deps)
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
        click.tell("I do not know that button; ask for the recommendations again.")
        return
    if outcome.ok:  # an authorized decision: this message is now the change's thread
        _remember_message(runner, change, click)
    clicked = CLICKED_BY.get(kind or "", "by")
    _report(click, change_id, outcome, before=change.state, deps=deps, clicked=clicked)


def _new_owner(runner: ChangeRunner, change: Change, user: str, deps: Deps) -> str | None:
    """When an approver of the change's recorded team clicks: the team ("" for none) that
    owns its resource now, if the tags give it to another. None when it has not moved, or
    the clicker decides nothing anyway (the runner refuses them without an AWS call)."""
    team = deps.teams.get(change.team)
    if team is None or user not in team.approvers:
        return None
    owner = _owner_now(runner, change, deps)
    return owner if owner is not None and owner != change.team else None


def _owner_now(runner: ChangeRunner, change: Change, deps: Deps) -> str | None:
    """The team that owns the change's resource today, by its tags as AWS has them now and
    the teams file (None: the tags cannot be read, and the team recorded stands)."""
    tags = runner.current_tags(change)
    if tags is None:
        return None
    teams, shared = deps.rules()
    return owner_of(change.account_id, tags, teams=teams, shared=shared)


def _withdraw(click: Click, runner: ChangeRunner, change: Change, owner: str, deps: Deps) -> None:
    """A proposal whose resource another team (or none) owns now: its old team's approvers
    no longer decide it. It is withdrawn, and the clicker told how to get a fresh one; the
    card shows it withdrawn for everyone, its buttons gone."""
    who = owner or "no team"
    outcome = runner.deny(change.id, by=COSTBOT, reason=f"its tags now give it to {who}")
    ask = f" Ask `/cost rightsize {owner}` for a fresh proposal." if owner else ""
    said = f"{change.label} now belongs to {who} (its tags, by the teams file), so its old team"
    click.tell(f"{said} no longer decides it: I withdrew this proposal.{ask}")
    if outcome.ok and outcome.change is not None and click.on_channel_card:
        line = Outcome(True, f"{said} no longer decides it: withdrawn.", outcome.change)
        status = decision_status(line, COSTBOT, now=deps.now())
        _show(click, change.id, status, buttons=card_buttons(outcome.change), deps=deps)


def _ask_for_approval(click: Click, change: Change, *, deps: Deps) -> None:
    """**Ask for approval**: a member mentions the approvers in the thread. It decides
    nothing and records nothing on the change: asking gives nobody rights."""
    user = click.user
    team = deps.teams.get(change.team)
    if team is None:
        click.tell(f"No team in the teams file owns {change.label}, so nobody can decide it.")
        return
    if user not in team.members and user not in team.approvers:
        click.tell(f"Only {team.name}'s members can ask its approvers about {change.label}.")
        return
    # Nobody is asked twice: not the asker, nor the approver who already approved (four-eyes).
    others = [a for a in team.approvers if a not in (user, change.first_approved_by)]
    if user in team.approvers and not (team.require_second_approver and others):
        click.tell(f"You approve for {team.name}: decide {change.label} with the buttons.")
        return
    if not others:
        click.tell(f"{team.name} has no approvers in the teams file: ask for one to be added.")
        return
    text = build_approval_request(change.label, asked_by=user, approvers=others)
    channel = click.channel if not click.ephemeral else ""
    thread = click.message_ts if channel else ""
    if not channel and change.message_channel:  # asked from elsewhere: the card's thread
        channel, thread = change.message_channel, change.message_ts
    if click.client is not None and channel and thread:
        click.client.chat_postMessage(channel=channel, thread_ts=thread, text=text)
    elif click.respond is not None:
        click.respond(response_type="in_channel", replace_original=False, text=text)
    else:
        click.tell("I could not find a channel to ask in: ask in the team's channel.")
        return
    deps.audit.record_audit(
        actor=user,
        action="change.approval_asked",
        target=change.instance_id,
        detail={"change_id": change.id, "team": team.name, "approvers": others},
    )


def _remember_message(runner: ChangeRunner, change: Change, click: Click) -> None:
    """Where the change was decided, so a later outcome (tonight's run, a recovery after a
    restart) is told in that message's thread. Called only after an authorized decision."""
    where = (click.channel, click.message_ts)
    if all(where) and not click.ephemeral and change.message_ts != click.message_ts:
        runner.remember_message(change.id, channel=click.channel, ts=click.message_ts)


def _report(
    click: Click,
    change_id: int,
    outcome: Outcome,
    *,
    before: State | None,
    deps: Deps,
    clicked: str = "by",
) -> None:
    """Shows the outcome on the card when the click decided something; otherwise tells the
    clicker why not (and, when the card was out of date, brings it up to date)."""
    change = outcome.change
    if outcome.refused or change is None:
        click.tell(outcome.text)
        return
    decided = outcome.ok or change.state is not before
    if decided:
        status = decision_status(outcome, click.user, now=deps.now(), clicked=clicked)
        _show(click, change_id, status, buttons=card_buttons(change), deps=deps)
        return
    click.tell(outcome.text)
    if change.state in ICONS and click.on_channel_card:  # the card still offered buttons
        status = decision_status(outcome, "", now=deps.now())
        _show(click, change_id, status, buttons=card_buttons(change), deps=deps)


def _show(
    click: Click, change_id: int, status: str, *, buttons: list[dict[str, object]], deps: Deps
) -> None:
    """Shows a decision where everyone sees it: on the channel card, in place."""
    if click.on_channel_card:
        assert click.blocks is not None
        blocks = with_decision(click.blocks, str(change_id), status, buttons=buttons)
        if click.update_card(blocks, text=status):
            if deps.cards is not None:  # tonight's run updates it from this copy
                deps.cards.save_card(click.channel, click.message_ts, blocks=blocks,
                                     text=click.fallback_text or status)  # fmt: skip
            return
    # An ephemeral message, a view, or a form submitted to another process: there is no
    # copy of the card to update, so the clicker gets the line (an ephemeral card keeps its
    # other buttons), and the thread of the card the change was decided on, if any, too.
    click.tell(status)
    change = deps.changes.get(change_id) if deps.changes else None
    if change is not None and change.message_channel and click.client is not None:
        _post_in_thread(click.client, change, status)


def _post_in_thread(client: WebClient, change: Change, text: str) -> None:
    try:
        client.chat_postMessage(
            channel=change.message_channel, thread_ts=change.message_ts or None, text=text
        )
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error") if error.response else "no answer"
        logger.warning("could not tell the thread of change %s: %s", change.id, reason)


# --- Dismiss: a form asks why ------------------------------------------------------------


class _Cards:
    """The cards whose Dismiss form is open, so that submitting it can update the card:
    Slack sends a view submission no copy of the message the form was opened from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cards: OrderedDict[tuple[str, str], tuple[list[Block], str]] = OrderedDict()

    def keep(self, channel: str, ts: str, blocks: list[Block], text: str) -> None:
        with self._lock:
            self._cards[(channel, ts)] = (blocks, text)
            self._cards.move_to_end((channel, ts))
            while len(self._cards) > CARDS_KEPT:
                self._cards.popitem(last=False)

    def take(self, channel: str, ts: str) -> tuple[list[Block], str] | None:
        with self._lock:
            return self._cards.pop((channel, ts), None)


@dataclass(frozen=True)
class _DismissForm:
    """What the Dismiss form carries in its ``private_metadata``."""

    change_id: int
    channel: str = ""
    message_ts: str = ""
    response_url: str = ""
    ephemeral: bool = False

    def metadata(self) -> str:
        return json.dumps({"change": self.change_id, "channel": self.channel,
                           "ts": self.message_ts, "response_url": self.response_url,
                           "ephemeral": self.ephemeral}, separators=(",", ":"))  # fmt: skip

    @classmethod
    def read(cls, metadata: str) -> _DismissForm | None:
        try:
            data = json.loads(metadata)
            if not isinstance(data, dict):
                raise ValueError(metadata)
            return cls(
                change_id=int(data["change"]),
                channel=str(data.get("channel") or ""),
                message_ts=str(data.get("ts") or ""),
                response_url=str(data.get("response_url") or ""),
                ephemeral=bool(data.get("ephemeral")),
            )
        except (ValueError, KeyError, TypeError):
            pass
        change_id, _, response_url = metadata.partition("|")  # forms opened before JSON
        return cls(int(change_id), response_url=response_url) if change_id.isdigit() else None


def _form_reason(view: dict[str, Any]) -> str:
    """The reason typed in the form; "" when the state is empty or missing (Slack documents
    ``state.values`` as possibly empty)."""
    values = (view.get("state") or {}).get("values") or {}
    element = (values.get("reason") or {}).get("reason") or {}
    return (element.get("value") or "").strip()


def _open_dismiss_modal(
    click: Click, body: dict[str, Any], action: dict[str, Any], deps: Deps, cards: _Cards
) -> None:
    value = str(action.get("value", ""))
    if not value.isdigit():
        click.tell("That button names no change I know; ask for the recommendations again.")
        return
    label = f"change {value}"
    if deps.changes is not None:
        change = deps.changes.get(int(value))
        label = change.label if change else label
        approvers = _approvers(deps, change.team if change else "")
        stop = deps.changes.why_not_dismiss(int(value), by=click.user, approvers=approvers)
        if stop is not None:  # refused or decided already: no form to fill in for nothing
            _report(click, int(value), stop, before=change.state if change else None, deps=deps)
            return
    form = _DismissForm(
        int(value),
        channel=click.channel,
        message_ts=click.message_ts,
        response_url=body.get("response_url", ""),
        ephemeral=click.ephemeral,
    )
    view = build_dismiss_modal(value, metadata=form.metadata(), label=label)
    if click.on_channel_card:
        assert click.blocks is not None
        cards.keep(click.channel, click.message_ts, click.blocks, click.fallback_text)
        if deps.cards is not None:  # for the process the form's submission may reach instead
            deps.cards.save_card(click.channel, click.message_ts, blocks=click.blocks,
                                 text=click.fallback_text)  # fmt: skip
    try:
        if click.client is None or not body.get("trigger_id"):
            raise ValueError("no trigger_id to open a form with")
        click.client.views_open(trigger_id=body["trigger_id"], view=view)
    except (SlackApiError, ValueError) as error:
        reference = _reference()
        reason = (
            (error.response.get("error") if error.response else "no answer")
            if isinstance(error, SlackApiError)
            else str(error)
        )
        logger.warning("views.open for Dismiss failed (ref %s): %s", reference, reason)
        cards.take(click.channel, click.message_ts)
        click.tell(
            f":x: I could not open the Dismiss form ({reason}). Click Dismiss again "
            f"(ref {reference})."
        )


def _dismiss(
    form: _DismissForm,
    user: str,
    reason: str,
    card: tuple[list[Block], str] | None,
    client: WebClient | None,
    deps: Deps,
) -> None:
    runner = deps.changes
    click = Click(
        user=user,
        channel=form.channel,
        message_ts=form.message_ts,
        blocks=card[0] if card else None,
        fallback_text=card[1] if card else "",
        ephemeral=form.ephemeral,
        respond=Respond(response_url=form.response_url) if form.response_url else None,
        client=client,
    )
    try:
        if runner is None:
            click.tell("Right-sizing is not set up.")
            return
        change = runner.get(form.change_id)
        if change is not None and change.state in OPEN:
            owner = _new_owner(runner, change, user, deps)
            if owner is not None:  # re-tagged while the form was open, or since the card
                _withdraw(click, runner, change, owner, deps)
                return
        approvers = _approvers(deps, change.team if change else "")
        outcome = runner.dismiss(form.change_id, by=user, reason=reason, approvers=approvers)
        if outcome.ok and change is not None:
            _remember_message(runner, change, click)
        _report(click, form.change_id, outcome,
                before=change.state if change else None, deps=deps)  # fmt: skip
    except Exception:
        reference = _reference()
        logger.exception("dismissing change %s failed (ref %s)", form.change_id, reference)
        click.tell(f":x: I could not dismiss it: an internal error (ref {reference}); "
                   "it is logged.")  # fmt: skip


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


def _reference() -> str:
    return uuid.uuid4().hex[:8]

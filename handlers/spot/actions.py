"""The Fleet plan button: build the spot plan for one instance and upload it as a JSON file.

Building the plan reads the instance, its volumes and its VPC's subnets (a few EC2 calls, a
few seconds), so the listener only acknowledges; the work happens on the background pool.
Nothing in AWS changes: the plan is a document for a person to review and run.

**Progress.** As soon as the work starts, the candidate's button reads "Making the plan…"
and a line under it says so; when the file is posted, the line says where it went and the
button is back.

**Once per plan.** A click on a plan that is being made is answered "already on it", only to
the clicker (``PlanDesk``: one claim per message and instance, safe across the pool's
threads). A plan whose content is already posted in the channel is not posted again (the
request ledger remembers it by its content, across processes); a failed upload forgets it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.errors import CostbotError
from handlers import action_ids
from handlers.blocks.common import Block
from handlers.deps import Deps
from handlers.spot.blocks import (
    build_plan_comment,
    parse_plan_button_value,
    plan_making_status,
    plan_posted_status,
    plan_unchanged_status,
    with_plan_status,
)

logger = logging.getLogger(__name__)

MESSAGES_REMEMBERED = 200
"""How many messages' latest blocks ``PlanDesk`` keeps (the oldest are forgotten first)."""

ALREADY_ON_IT = ":hourglass_flowing_sand: Already on it: this fleet plan is being made."


def register(app: App, deps: Deps) -> None:
    desk = PlanDesk()

    @app.action(action_ids.SPOT_PLAN)
    def handle_spot_plan_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        key = plan_key(body, action)
        if not desk.start(key):  # a second click while the plan is being made
            deps.run_later(lambda: _tell(respond, ALREADY_ON_IT))
            return
        deps.run_later(
            lambda: make_plan(body, action, respond=respond, client=client, deps=deps, desk=desk)
        )


def plan_key(body: dict[str, Any], action: dict[str, Any]) -> str:
    """One plan: the message its button is on and the button's instance."""
    channel = body.get("channel", {}).get("id", "")
    message_ts = body.get("container", {}).get("message_ts", "")
    return f"{channel}|{message_ts}|{action.get('value', '')}"


class PlanDesk:
    """Which fleet plans are being made, and what each plan message looks like now.

    ``start`` claims a plan (False when it is already being made); ``finish`` frees it.
    ``show`` rewrites one candidate of a message in place; updates of one message are made
    one at a time from its latest blocks, so two plans made at once on the same message do
    not undo each other's lines.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._making: set[str] = set()
        self._message_lock = threading.Lock()
        self._latest: OrderedDict[tuple[str, str], list[Block]] = OrderedDict()

    def start(self, key: str) -> bool:
        with self._lock:
            if key in self._making:
                return False
            self._making.add(key)
            return True

    def finish(self, key: str) -> None:
        with self._lock:
            self._making.discard(key)

    def show(
        self, body: dict[str, Any], respond: Respond, value: str, status: str, *, busy: bool
    ) -> bool:
        """Rewrites the candidate with ``value`` on the clicked message; False when the
        message cannot be rewritten (an ephemeral one: Slack does not send its blocks)."""
        message = body.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("blocks"), list):
            return False
        where = (body.get("channel", {}).get("id", ""), str(message.get("ts", "")))
        with self._message_lock:
            blocks = self._latest.get(where) or message["blocks"]
            updated = with_plan_status(blocks, value, status, busy=busy)
            self._latest[where] = updated
            self._latest.move_to_end(where)
            while len(self._latest) > MESSAGES_REMEMBERED:
                self._latest.popitem(last=False)
            try:
                respond(replace_original=True, text=message.get("text", ""), blocks=updated)
            except Exception:  # the plan matters more than its progress line
                logger.warning("could not update the plan message in %s", where[0], exc_info=True)
                return False
        return True


@dataclass(frozen=True)
class PlanResult:
    """How a plan request ended: ``posted``, ``unchanged`` (already posted) or ``failed``."""

    outcome: str
    filename: str = ""


def make_plan(
    body: dict[str, Any],
    action: dict[str, Any],
    *,
    respond: Respond,
    client: WebClient,
    deps: Deps,
    desk: PlanDesk,
) -> None:
    """Shows progress on the candidate, makes and posts the plan, frees the plan's claim
    (whatever happens) and shows how it ended."""
    key = plan_key(body, action)
    value = action.get("value", "")
    user = body.get("user", {}).get("id", "")
    try:
        if not desk.show(body, respond, value, plan_making_status(user), busy=True):
            _tell(respond, plan_making_status(user))
        try:
            result = upload_plan(body, action, respond=respond, client=client, deps=deps)
        except Exception:
            reference = uuid.uuid4().hex[:8]
            logger.exception("fleet plan %s failed (ref %s)", value, reference)
            _tell(respond, f":x: The fleet plan could not be made: an internal error "
                           f"(ref {reference}); it is logged.")  # fmt: skip
            result = PlanResult("failed")
        if result.outcome == "posted":
            status = plan_posted_status(user, result.filename)
        elif result.outcome == "unchanged":
            status = plan_unchanged_status(result.filename)
        else:
            status = ""  # the clicker was told why
        # Free the claim before the card says how it ended: a click that follows the card
        # must never hear "already on it".
        desk.finish(key)
        desk.show(body, respond, value, status, busy=False)
    finally:
        desk.finish(key)


def upload_plan(
    body: dict[str, Any], action: dict[str, Any], *, respond: Respond, client: WebClient, deps: Deps
) -> PlanResult:
    """Builds the plan and posts it in the channel; tells only the clicker when it cannot,
    or when the same plan is already posted there."""
    user = body.get("user", {}).get("id", "")
    channel = body.get("channel", {}).get("id", "")
    if deps.spot is None:
        _tell(respond, "The spot advisor is not set up here.")
        return PlanResult("failed")
    account_id, region, instance_id = parse_plan_button_value(action["value"])
    try:
        plan = deps.spot.plan(instance_id, account_id=account_id, region=region)
    except CostbotError as error:
        _tell(respond, f":x: Could not build the spot plan for {instance_id}: {error}")
        return PlanResult("failed")
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("spot plan for %s failed (ref %s)", instance_id, reference)
        _tell(respond, f":x: Could not build the spot plan for {instance_id}: an internal "
                       f"error (ref {reference}); it is logged.")  # fmt: skip
        return PlanResult("failed")
    content = json.dumps(plan.document, indent=2, sort_keys=False)
    posted_key = _posted_key(channel, content)
    if not deps.ledger.first_time_seen(posted_key):
        _tell(respond, plan_unchanged_status(plan.filename))
        return PlanResult("unchanged", plan.filename)
    failure = _upload(client, channel, content, plan, user)
    if failure:
        deps.ledger.forget_seen(posted_key)  # not posted: a later click tries again
        _tell(respond, failure)
        return PlanResult("failed", plan.filename)
    deps.audit.record_audit(
        actor=user,
        action="spot.plan",
        target=instance_id,
        detail={"region": region, "account_id": account_id, "types": list(plan.instance_types)},
    )
    return PlanResult("posted", plan.filename)


def _posted_key(channel: str, content: str) -> str:
    """A plan is the same when its document is: same instance, launch facts, types, zones."""
    return f"spot-plan:{channel}:{hashlib.sha256(content.encode()).hexdigest()}"


def _upload(client: WebClient, channel: str, content: str, plan: Any, user: str) -> str:
    """Posts the file; "" when it is posted, else what to tell the clicker."""
    try:
        client.files_upload_v2(
            channel=channel,
            content=content,
            filename=plan.filename,
            title=f"Spot plan · {plan.instance.name}",
            initial_comment=build_plan_comment(plan, asked_by=user),
        )
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error") if error.response else "no answer"
        logger.warning("spot plan upload to %s failed: %s", channel, reason)
        hint = (
            " Invite me to this channel (/invite @costbot)." if reason == "not_in_channel" else ""
        )
        return f":x: I could not upload the plan here ({reason}).{hint}"
    return ""


def _tell(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)

"""The Fleet plan button: build the spot plan for one instance and upload it as a JSON file.

Building the plan reads the instance, its volumes and its VPC's subnets (a few EC2 calls),
so the listener only acknowledges; the upload happens on the background pool. Nothing in
AWS changes: the plan is a document for a person to review and run.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from engines.errors import CostbotError
from handlers import action_ids
from handlers.blocks.spot import build_plan_comment, parse_plan_button_value
from handlers.deps import Deps

logger = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.action(action_ids.SPOT_PLAN)
    def handle_spot_plan_click(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        deps.run_later(lambda: upload_plan(body, action, respond=respond, client=client, deps=deps))


def upload_plan(
    body: dict[str, Any], action: dict[str, Any], *, respond: Respond, client: WebClient, deps: Deps
) -> None:
    """Builds the plan and posts it in the channel; tells only the clicker when it cannot."""
    user = body.get("user", {}).get("id", "")
    channel = body.get("channel", {}).get("id", "")
    if deps.spot is None:
        _tell(respond, "The spot advisor is not set up here.")
        return
    account_id, region, instance_id = parse_plan_button_value(action["value"])
    try:
        plan = deps.spot.plan(instance_id, account_id=account_id, region=region)
    except CostbotError as error:
        _tell(respond, f":x: Could not build the spot plan for {instance_id}: {error}")
        return
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("spot plan for %s failed (ref %s)", instance_id, reference)
        _tell(respond, f":x: Could not build the spot plan for {instance_id}: an internal "
                       f"error (ref {reference}); it is logged.")  # fmt: skip
        return
    content = json.dumps(plan.document, indent=2, sort_keys=False)
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
        _tell(respond, f":x: I could not upload the plan here ({reason}).{hint}")
        return
    deps.audit.record_audit(
        actor=user,
        action="spot.plan",
        target=instance_id,
        detail={"region": region, "account_id": account_id, "types": list(plan.instance_types)},
    )


def _tell(respond: Respond, text: str) -> None:
    respond(response_type="ephemeral", replace_original=False, text=text)

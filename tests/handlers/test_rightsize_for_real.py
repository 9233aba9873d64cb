"""With dry run off (in the sandbox's moto): an approval really resizes, Revert puts it back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import State
from handlers import action_ids
from tests.handlers.test_rightsize_flow import (
    ALICE,
    BOB,
    FRAUD,
    ask_rightsize,
    change_for,
)
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=False
    )
    with DemoSandbox(options) as running:
        yield running


def instance_type(sandbox: DemoSandbox, instance_id: str) -> str:
    answer = sandbox.world.client("ec2").describe_instances(InstanceIds=[instance_id])
    instance = answer["Reservations"][0]["Instances"][0]
    return f"{instance['InstanceType']} {instance['State']['Name']}"


def revert_button(slack, message_ts: str) -> dict | None:
    current = next(m for m in slack.messages(FRAUD) if m["ts"] == message_ts)
    for block in current["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_ids.RIGHTSIZE_REVERT:
                return element
    return None


def test_approve_resizes_and_revert_restores(sandbox):
    slack = sandbox.standin
    store = sandbox.costbot.store
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = change_for(message, "fraud-etl-prod")
    change = store.get_change(int(change_id))
    assert instance_type(sandbox, change.instance_id) == "m5.4xlarge running"

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    assert instance_type(sandbox, change.instance_id) == "m5.xlarge running"

    wait_until(lambda: revert_button(slack, message["ts"]))
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_REVERT, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.REVERTED, timeout=60)
    assert instance_type(sandbox, change.instance_id) == "m5.4xlarge running"
    actions = [r["action"] for r in store.recent_audit(team="fraud-detection", limit=50)]
    assert "change.reverted" in actions or any("revert" in a for a in actions)


def test_stopping_an_idle_box_and_reverting_starts_it_again(sandbox):
    slack = sandbox.standin
    store = sandbox.costbot.store
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = change_for(message, "fraud-sandbox-api")
    change = store.get_change(int(change_id))
    assert instance_type(sandbox, change.instance_id).endswith(" running")

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    assert instance_type(sandbox, change.instance_id) == f"{change.from_type} stopped"
    button = wait_until(lambda: revert_button(slack, message["ts"]))
    assert button["confirm"]["text"]["text"] == "The instance is started again."
    current = next(m for m in slack.messages(FRAUD) if m["ts"] == message["ts"])
    assert "is stopped; its EBS volumes and data are kept" in str(current["blocks"])

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_REVERT, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.REVERTED, timeout=60)
    assert instance_type(sandbox, change.instance_id) == f"{change.from_type} running"
    actions = [r["action"] for r in store.recent_audit(team="fraud-detection", limit=80)]
    assert "ec2.StopInstances" in actions and "ec2.StartInstances" in actions

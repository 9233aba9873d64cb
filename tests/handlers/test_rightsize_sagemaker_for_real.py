"""The demo's SageMaker waste, from the channel (dry run off, in the sandbox's moto): an
approved card really deletes the idle endpoint or lowers the over-provisioned one's instance
count, and Revert puts each back (the endpoint re-created from its kept config)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import State
from handlers import action_ids
from tests.handlers.test_rightsize_flow import ALICE, BOB, FRAUD, ask_rightsize, change_for
from tests.handlers.test_rightsize_for_real import revert_button
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=False
    )
    with DemoSandbox(options) as running:
        yield running


def endpoint(sandbox: DemoSandbox, name: str) -> str:
    """The variant's "<status> <instances>", or "gone" when the endpoint is deleted."""
    sagemaker = sandbox.world.client("sagemaker")
    if name not in {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}:
        return "gone"
    described = sagemaker.describe_endpoint(EndpointName=name)
    (variant,) = described["ProductionVariants"]
    return f"{described['EndpointStatus']} {variant['CurrentInstanceCount']}"


def approve_then_revert(sandbox: DemoSandbox, name: str, done: str) -> None:
    slack, store = sandbox.standin, sandbox.costbot.store
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = change_for(message, name)
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    assert endpoint(sandbox, name) == done
    wait_until(lambda: revert_button(slack, message["ts"]))
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_REVERT, value=change_id)  # fmt: skip
    wait_until(lambda: store.get_change(int(change_id)).state is State.REVERTED, timeout=60)


def test_the_idle_endpoint_is_deleted_and_revert_recreates_it(sandbox):
    assert endpoint(sandbox, "fraud-legacy-scorer") == "InService 2"
    approve_then_revert(sandbox, "fraud-legacy-scorer", done="gone")
    assert endpoint(sandbox, "fraud-legacy-scorer") == "InService 2"


def test_the_over_provisioned_endpoint_keeps_two_and_revert_gives_back_four(sandbox):
    assert endpoint(sandbox, "fraud-chargeback-scorer") == "InService 4"
    approve_then_revert(sandbox, "fraud-chargeback-scorer", done="InService 2")
    assert endpoint(sandbox, "fraud-chargeback-scorer") == "InService 4"

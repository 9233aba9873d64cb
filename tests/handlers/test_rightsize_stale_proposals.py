"""A card's buttons carry out what the card says, even when an older proposal for the same
resource is still open: the world (moto, the shipped prices) is ``test_rightsize_sagemaker``'s,
where fraud-scorer should go from 4 to 2 instances and fraud-batch from m5.4xlarge to a
smaller type."""

from __future__ import annotations

from decimal import Decimal

import boto3

from engines.changes.models import ChangeRequest, Kind, State
from handlers.parsing import RightsizeRequest
from handlers.rightsizing.questions import plan_rightsize
from tests.handlers.test_rightsize_sagemaker import BOB, REGION, card_of, world  # noqa: F401

ACCOUNT = "123456789012"


def rightsize(world) -> dict:
    work = plan_rightsize(RightsizeRequest(team="fraud-detection"), world.costbot.deps, BOB)
    return work.reply().message


def test_an_older_open_count_change_is_not_what_the_newer_cards_approve_does(world):
    runner = world.costbot.deps.changes
    # Last week's proposal: 4 → 1 instances, never decided. Traffic grew since; today's
    # review says 4 → 2.
    stale = runner.propose(
        ChangeRequest(
            instance_id="fraud-scorer", account_id=ACCOUNT, region=REGION,
            from_type="4", to_type="1", monthly_saving=Decimal("446.76"),
            requested_by="costbot", team="fraud-detection", kind=Kind.ENDPOINT_COUNT,
            variant="AllTraffic", endpoint_config="fraud-scorer-config",
        )
    )  # fmt: skip

    text, change_id = card_of(rightsize(world), "endpoint fraud-scorer")

    assert "4 → 2 × `ml.c5.xlarge`" in text
    behind = world.costbot.store.get_change(int(change_id))
    assert (behind.kind, behind.from_type, behind.to_type) == (Kind.ENDPOINT_COUNT, "4", "2")
    withdrawn = world.costbot.store.get_change(stale.id)
    assert withdrawn.state is State.DENIED
    assert "the recommendation is now 4 → 2" in withdrawn.reason


def test_an_older_open_type_switch_is_not_behind_a_count_card(world):
    runner = world.costbot.deps.changes
    # An open switch to a smaller type on the same variant: Approve on today's "4 → 2
    # instances" card must not switch the endpoint's type.
    stale = runner.propose(
        ChangeRequest(
            instance_id="fraud-scorer", account_id=ACCOUNT, region=REGION,
            from_type="ml.c5.xlarge", to_type="ml.c5.large", monthly_saving=Decimal("300"),
            requested_by="costbot", team="fraud-detection", kind=Kind.ENDPOINT_CONFIG,
            variant="AllTraffic", endpoint_config="fraud-scorer-config",
        )
    )  # fmt: skip

    _, change_id = card_of(rightsize(world), "endpoint fraud-scorer")

    assert world.costbot.store.get_change(int(change_id)).kind is Kind.ENDPOINT_COUNT
    assert world.costbot.store.get_change(stale.id).state is State.DENIED


def test_an_older_open_stop_is_not_behind_an_instances_resize_card(world):
    runner, store = world.costbot.deps.changes, world.costbot.store
    found = boto3.client("ec2", region_name=REGION).describe_instances(
        Filters=[{"Name": "tag:Name", "Values": ["fraud-batch"]}]
    )
    instance_id = found["Reservations"][0]["Instances"][0]["InstanceId"]
    for change in store.list_changes(instance_id=instance_id):
        runner.deny(change.id, by="costbot")
    # It was idle last month (a stop was proposed); now it works at 8% CPU: a resize.
    stale = runner.propose(
        ChangeRequest(
            instance_id=instance_id, account_id=ACCOUNT, region=REGION,
            from_type="m5.4xlarge", to_type="m5.4xlarge", monthly_saving=Decimal("560"),
            requested_by="costbot", team="fraud-detection", kind=Kind.STOP,
        )
    )  # fmt: skip

    text, change_id = card_of(rightsize(world), "fraud-batch")

    assert "`m5.4xlarge` →" in text
    assert store.get_change(int(change_id)).kind is Kind.RESIZE
    assert store.get_change(stale.id).state is State.DENIED

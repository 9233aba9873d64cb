"""Enforcing schedules on moto's EC2, RDS, Auto Scaling and SageMaker, with a real Store.

The clock is a value the tests move; every call that changes a resource is counted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from bot.store import Store
from engines.models import Team
from engines.schedules.aws import AwsScheduleTarget
from engines.schedules.enforcement import OffHours
from engines.schedules.model import ScheduleError
from tests.engines.schedules.written_schedules import build_schedule

REGION = "us-east-1"
NEW_YORK = ZoneInfo("America/New_York")
LINUX_IMAGE = "ami-04681a1dbd79675a5"
ALICE, BOB, MALLORY = "UALICE0001", "UBOB00001", "UMALLORY01"
TEAM = Team(
    name="fraud-detection",
    tags={"team": "fraud-detection"},
    channel="#fraud",
    approvers=(ALICE,),
    members=(ALICE, BOB),
    timezone="America/New_York",
)
MUTATING = {
    "stop_instances",
    "start_instances",
    "stop_db_instance",
    "start_db_instance",
    "update_auto_scaling_group",
    "stop_notebook_instance",
    "start_notebook_instance",
}


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK).astimezone(dt.UTC)


class CountingClients:
    """boto3 clients for moto that count the calls which change something."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._clients = {
            name: boto3.client(name, region_name=REGION)
            for name in ("ec2", "rds", "autoscaling", "sagemaker")
        }

    def __call__(self, service: str) -> Any:
        client = self._clients[service]
        counter = self.calls

        class Counting:
            def __getattr__(self, name: str) -> Any:
                method = getattr(client, name)
                if name not in MUTATING:
                    return method

                def counted(**params: Any) -> Any:
                    counter[name] += 1
                    return method(**params)

                return counted

        return Counting()


@pytest.fixture
def aws():
    with mock_aws():
        yield CountingClients()


def launch(aws: CountingClients, name: str, **tags: str) -> str:
    response = aws("ec2").run_instances(
        ImageId=LINUX_IMAGE,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in {"Name": name, **tags}.items()],
            }
        ],
    )
    return response["Instances"][0]["InstanceId"]


def ec2_state(aws: CountingClients, instance_id: str) -> str:
    reservations = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def make_offhours(aws, store, *, dry_run=False, mode="start_stop", **options) -> OffHours:
    schedule = build_schedule(
        name="dev-hours",
        team=TEAM.name,
        team_tags=TEAM.tags,
        timezone="America/New_York",
        periods="mon-fri 09:00-19:00",
        tags="env=dev",
        mode=mode,
        source="teams file",
    )
    return OffHours(
        targets=[AwsScheduleTarget(client_for=aws, region=REGION)],
        store=store,
        teams={TEAM.name: TEAM},
        file_schedules=[schedule],
        audit=store.record_audit,
        dry_run=dry_run,
        ec2_hourly=lambda instance_type, region: Decimal("0.096"),
        **options,
    )


@pytest.fixture
def store():
    return Store(":memory:")


def run_minutes(offhours: OffHours, start: dt.datetime, minutes: int) -> None:
    for minute in range(minutes):
        offhours.enforce(start + dt.timedelta(minutes=minute))


def test_stop_and_start_happen_once_per_boundary(aws, store):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    prod = launch(aws, "api", team="fraud-detection", env="prod")
    offhours = make_offhours(aws, store)

    run_minutes(offhours, local(2026, 11, 18, 18, 50), 20)  # 18:50 .. 19:09 Wednesday
    assert ec2_state(aws, dev) == "stopped" and ec2_state(aws, prod) == "running"
    assert aws.calls == Counter(stop_instances=1)

    run_minutes(offhours, local(2026, 11, 19, 8, 55), 10)  # Thursday 08:55 .. 09:04
    assert ec2_state(aws, dev) == "running"
    assert aws.calls == Counter(stop_instances=1, start_instances=1)

    actions = [r["action"] for r in store.audit_records() if r["action"].startswith("schedule.")]
    assert actions == ["schedule.start", "schedule.stop"]  # newest first


def test_a_manual_start_after_the_stop_is_left_alone_until_the_next_boundary(aws, store):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    offhours.enforce(local(2026, 11, 18, 19, 0))
    assert ec2_state(aws, dev) == "stopped"

    aws("ec2").start_instances(InstanceIds=[dev])  # someone needs it at 23:00
    run_minutes(offhours, local(2026, 11, 18, 23, 0), 30)
    assert ec2_state(aws, dev) == "running"

    # 09:00 the schedule wants it running (it is: no call); 19:00 it stops it again.
    offhours.enforce(local(2026, 11, 19, 9, 0))
    offhours.enforce(local(2026, 11, 19, 19, 0))
    assert ec2_state(aws, dev) == "stopped"
    assert aws.calls["stop_instances"] == 2 and aws.calls["start_instances"] == 1  # 1: by hand


def test_a_restart_reconciles_without_doing_anything_twice(aws, store, tmp_path):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    path = tmp_path / "costbot.db"
    make_offhours(aws, Store(path)).enforce(local(2026, 11, 18, 19, 5))
    assert aws.calls["stop_instances"] == 1

    restarted = make_offhours(aws, Store(path))  # a new process, the same database
    restarted.enforce(local(2026, 11, 18, 19, 6))
    assert aws.calls["stop_instances"] == 1
    # down overnight: the 09:00 start is applied once when the bot is back at 09:30
    run_minutes(restarted, local(2026, 11, 19, 9, 30), 3)
    assert ec2_state(aws, dev) == "running" and aws.calls["start_instances"] == 1


def test_an_auto_scaling_group_returns_to_its_previous_capacity(aws, store):
    aws("ec2").create_launch_template(
        LaunchTemplateName="workers",
        LaunchTemplateData={"ImageId": LINUX_IMAGE, "InstanceType": "m5.large"},
    )
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="dev-workers",
        LaunchTemplate={"LaunchTemplateName": "workers"},
        MinSize=2,
        MaxSize=6,
        DesiredCapacity=3,
        AvailabilityZones=["us-east-1a"],
        Tags=[
            {"Key": "team", "Value": "fraud-detection", "PropagateAtLaunch": True},
            {"Key": "env", "Value": "dev", "PropagateAtLaunch": True},
        ],
    )
    offhours = make_offhours(aws, store)

    def sizes():
        group = aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=["dev-workers"]
        )["AutoScalingGroups"][0]
        return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]

    run_minutes(offhours, local(2026, 11, 20, 18, 59), 3)  # Friday evening
    assert sizes() == (0, 0, 0)
    run_minutes(offhours, local(2026, 11, 23, 9, 0), 3)  # Monday morning
    assert sizes() == (2, 6, 3)
    assert aws.calls["update_auto_scaling_group"] == 2
    # its member instances are not scheduled one by one
    scheduled = {r.resource_id for r in offhours.inventory() if r.kind.value == "ec2"}
    assert scheduled == set()


def test_rds_instances_stop_and_start(aws, store):
    aws("rds").create_db_instance(
        DBInstanceIdentifier="fraud-dev-db",
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-secret",
        AllocatedStorage=20,
        Tags=[{"Key": "team", "Value": "fraud-detection"}, {"Key": "env", "Value": "dev"}],
    )
    offhours = make_offhours(aws, store)

    def status():
        return aws("rds").describe_db_instances(DBInstanceIdentifier="fraud-dev-db")["DBInstances"][
            0
        ]["DBInstanceStatus"]

    run_minutes(offhours, local(2026, 11, 18, 19, 0), 2)
    assert status() == "stopped"
    run_minutes(offhours, local(2026, 11, 19, 9, 0), 2)
    assert status() == "available"
    assert aws.calls == Counter(stop_db_instance=1, start_db_instance=1)
    [view] = [offhours.view(s, local(2026, 11, 19, 9, 0), offhours.inventory()) for s in
              offhours.schedules()]  # fmt: skip
    assert view.saving.monthly == Decimal("36.91")  # 512.7 h off x $0.072 (db.t3.medium)


def test_a_dry_run_changes_nothing_and_audits_what_it_would_do(aws, store):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store, dry_run=True)
    run_minutes(offhours, local(2026, 11, 18, 19, 0), 3)
    assert ec2_state(aws, dev) == "running"
    [record] = [r for r in store.audit_records() if r["action"] == "schedule.stop"]
    assert record["dry_run"] == 1
    assert "StopInstances would work" in record["detail"]["result"]


def test_stop_only_stops_in_the_evening_and_never_starts(aws, store):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store, mode="stop_only")
    offhours.enforce(local(2026, 11, 18, 19, 0))
    offhours.enforce(local(2026, 11, 19, 9, 0))
    assert ec2_state(aws, dev) == "stopped"
    assert aws.calls == Counter(stop_instances=1)


def test_keep_until_holds_the_stop_and_the_stop_comes_when_it_expires(aws, store):
    dev = launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    offhours.enforce(local(2026, 11, 18, 12, 0))
    overrides, kept = offhours.keep("notebook", "22:00", by=BOB, now=local(2026, 11, 18, 18, 0))
    assert [r.resource_id for r in kept] == [dev]
    assert overrides[0].until == local(2026, 11, 18, 22, 0)

    run_minutes(offhours, local(2026, 11, 18, 18, 59), 3)
    assert ec2_state(aws, dev) == "running"
    offhours.enforce(local(2026, 11, 18, 22, 0))
    assert ec2_state(aws, dev) == "stopped"


def test_warnings_come_fifteen_minutes_before_a_stop_of_running_resources(aws, store):
    launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    assert offhours.warnings_due(local(2026, 11, 18, 18, 44)) == []
    [warning] = offhours.warnings_due(local(2026, 11, 18, 18, 45))
    assert warning.stop_at == local(2026, 11, 18, 19, 0)
    assert [r.name for r in warning.resources] == ["notebook"]

    offhours.keep_schedule_running("dev-hours", warning.stop_at, by=BOB, now=warning.stop_at)
    assert offhours.warnings_due(local(2026, 11, 18, 18, 50)) == []
    [later] = offhours.warnings_due(local(2026, 11, 18, 20, 50))
    assert later.stop_at == local(2026, 11, 18, 21, 0)


def test_only_approvers_pause_and_outsiders_cannot_override(aws, store):
    launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    now = local(2026, 11, 18, 12, 0)
    with pytest.raises(ScheduleError, match="Only fraud-detection's approvers"):
        offhours.set_paused("dev-hours", True, by=BOB, now=now)
    with pytest.raises(ScheduleError, match="members and approvers can keep"):
        offhours.keep("notebook", "22:00", by=MALLORY, now=now)
    with pytest.raises(ScheduleError, match="Did you mean `dev-hours`"):
        offhours.set_paused("dev-hour", True, by=ALICE, now=now)
    assert offhours.set_paused("dev-hours", True, by=ALICE, now=now).paused
    offhours.enforce(local(2026, 11, 18, 19, 0))
    assert aws.calls == Counter()


def test_a_schedule_selecting_nothing_is_not_saved(aws, store):
    launch(aws, "notebook", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    typo = build_schedule(
        name="nights", team=TEAM.name, team_tags=TEAM.tags, timezone="America/New_York",
        periods="mon-fri 08:00-20:00", tags="env=dve",
    )  # fmt: skip
    with pytest.raises(ScheduleError, match="Did you mean `env=dev`"):
        offhours.create(typo, by=ALICE, now=local(2026, 11, 18, 12, 0))
    assert store.slack_schedules() == []
    with pytest.raises(ScheduleError, match="approvers can create"):
        offhours.create(typo, by=BOB, now=local(2026, 11, 18, 12, 0))


def test_aws_that_cannot_be_read_is_said_in_words(store):
    from botocore.exceptions import NoCredentialsError

    class NoCredentials:
        def get_paginator(self, name: str) -> Any:
            raise NoCredentialsError()

    offhours = make_offhours(lambda service: NoCredentials(), store)
    with pytest.raises(ScheduleError, match="could not list the resources in AWS: Unable to"):
        offhours.inventory()


PROD_OWNERS = Team(name="prod-owners", tags={"env": "prod"}, channel="#prod",
                   approvers=(MALLORY,), timezone="America/New_York")  # fmt: skip


def prod_nights(aws, store, teams: dict[str, Team]) -> OffHours:
    schedule = build_schedule(name="prod-nights", team=PROD_OWNERS.name,
                              team_tags=PROD_OWNERS.tags, timezone="America/New_York",
                              periods="mon-fri 09:00-19:00", source="teams file")  # fmt: skip
    return OffHours(targets=[AwsScheduleTarget(client_for=aws, region=REGION)], store=store,
                    teams=teams, file_schedules=[schedule], audit=store.record_audit,
                    dry_run=False)  # fmt: skip


@pytest.mark.parametrize("listed_first", [False, True], ids=["after", "before"])
def test_a_schedule_stops_only_what_its_team_owns(aws, store, listed_first):
    """prod-owners (env=prod) owns fraud-detection's prod boxes only when listed before it."""
    fraud_api = launch(aws, "api", team="fraud-detection", env="prod")
    orphan = launch(aws, "orphan", env="prod")
    order = [PROD_OWNERS, TEAM] if listed_first else [TEAM, PROD_OWNERS]
    offhours = prod_nights(aws, store, {team.name: team for team in order})

    offhours.enforce(local(2026, 11, 18, 19, 0))

    assert ec2_state(aws, orphan) == "stopped"
    assert ec2_state(aws, fraud_api) == ("stopped" if listed_first else "running")
    if not listed_first:  # nor can its people keep fraud's box up through it
        with pytest.raises(ScheduleError, match="names no resource"):
            offhours.keep(fraud_api, "23:00", by=MALLORY, now=local(2026, 11, 18, 18, 0))

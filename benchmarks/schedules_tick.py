"""One minute of off-hours schedules over a sizeable fleet, on moto.

Seeds moto with ``--instances`` EC2 instances over 10 teams (half of them tagged env=dev),
``--databases`` RDS instances, ``--groups`` Auto Scaling groups of 2 instances and
``--notebooks`` SageMaker notebook instances (tagged env=dev), gives
each team a mon-fri 09:00-19:00 schedule over env=dev, and runs the minute job
(``OffHours.run_minute``: ``enforce`` then ``warnings_due`` over one inventory) for every
minute from 18:40 to 19:20 on a Wednesday in New York, then across the next morning's
start. Prints the time per tick (median and max) and the calls that changed something:
each selected resource must be stopped once and started once. Target: a tick well under
the 60 s between ticks. moto's DescribeInstances dominates the time (over 95% in a
profile), so on AWS the tick is bounded by the describe calls' latency.

    .venv/bin/python benchmarks/schedules_tick.py [--instances 400] [--databases 20] [--groups 20]
        [--notebooks 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from summary import figures_line, print_table  # noqa: E402

from bot.store import Store  # noqa: E402
from engines.models import Team  # noqa: E402
from engines.schedules.aws import AwsScheduleTarget  # noqa: E402
from engines.schedules.enforcement import OffHours  # noqa: E402
from engines.schedules.model import Schedule, parse_periods  # noqa: E402

REGION = "us-east-1"
IMAGE = "ami-04681a1dbd79675a5"
ZONE = ZoneInfo("America/New_York")
MUTATING = {"stop_instances", "start_instances", "stop_db_instance", "start_db_instance",
            "update_auto_scaling_group", "stop_notebook_instance",
            "start_notebook_instance"}  # fmt: skip
ROLE = "arn:aws:iam::123456789012:role/bench-notebooks"


def seed(instances: int, databases: int, groups: int, notebooks: int = 0) -> int:
    ec2 = boto3.client("ec2", region_name=REGION)
    for index in range(instances):
        tags = {"team": f"team-{index % 10}", "env": "dev" if index % 2 else "prod"}
        ec2.run_instances(
            ImageId=IMAGE, InstanceType="m5.large", MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )  # fmt: skip
    rds = boto3.client("rds", region_name=REGION)
    for index in range(databases):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db-{index}", DBInstanceClass="db.t3.medium",
            Engine="postgres", MasterUsername="bench", MasterUserPassword="bench-only-pw",
            AllocatedStorage=20,
            Tags=[{"Key": "team", "Value": f"team-{index % 10}"}, {"Key": "env", "Value": "dev"}],
        )  # fmt: skip
    ec2.create_launch_template(
        LaunchTemplateName="bench",
        LaunchTemplateData={"ImageId": IMAGE, "InstanceType": "m5.large"},
    )
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    for index in range(groups):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"asg-{index}", LaunchTemplate={"LaunchTemplateName": "bench"},
            MinSize=1, MaxSize=4, DesiredCapacity=2, AvailabilityZones=["us-east-1a"],
            Tags=[{"Key": "team", "Value": f"team-{index % 10}", "PropagateAtLaunch": True},
                  {"Key": "env", "Value": "dev", "PropagateAtLaunch": True}],
        )  # fmt: skip
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for index in range(notebooks):
        sagemaker.create_notebook_instance(
            NotebookInstanceName=f"nb-{index}", InstanceType="ml.t3.medium", RoleArn=ROLE,
            Tags=[{"Key": "team", "Value": f"team-{index % 10}"}, {"Key": "env", "Value": "dev"}],
        )  # fmt: skip
    return instances // 2 + databases + groups + notebooks


def counting_clients(calls: Counter[str]) -> Any:
    clients = {
        name: boto3.client(name, region_name=REGION)
        for name in ("ec2", "rds", "autoscaling", "sagemaker")
    }

    def client_for(service: str) -> Any:
        client = clients[service]

        class Counting:
            def __getattr__(self, name: str) -> Any:
                method = getattr(client, name)
                if name in MUTATING:
                    calls[name] += 1
                return method

        return Counting()

    return client_for


TARGET_TICK_S = 10.0  # a sixth of the minute between ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=400)
    parser.add_argument("--databases", type=int, default=20)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--notebooks", type=int, default=20)
    args = parser.parse_args()
    with mock_aws():
        selected = seed(args.instances, args.databases, args.groups, args.notebooks)
        teams = {
            f"team-{n}": Team(name=f"team-{n}", tags={"team": f"team-{n}"}, channel="#c")
            for n in range(10)
        }
        schedules = [
            Schedule(name=f"{name}-dev", team=name, team_tags=team.tags,
                     timezone="America/New_York", periods=parse_periods("mon-fri 09:00-19:00"),
                     tags={"env": "dev"})
            for name, team in teams.items()
        ]  # fmt: skip
        calls: Counter[str] = Counter()
        store = Store(":memory:")
        offhours = OffHours(
            targets=[AwsScheduleTarget(client_for=counting_clients(calls), region=REGION)],
            store=store, teams=teams, file_schedules=schedules, audit=store.record_audit,
            dry_run=False,
        )  # fmt: skip
        evening = dt.datetime(2026, 11, 18, 18, 40, tzinfo=ZONE).astimezone(dt.UTC)
        morning = dt.datetime(2026, 11, 19, 8, 50, tzinfo=ZONE).astimezone(dt.UTC)
        ticks = []
        for start in (evening, morning):
            for minute in range(40 if start is evening else 20):
                now = start + dt.timedelta(minutes=minute)
                began = time.perf_counter()
                offhours.run_minute(now)
                ticks.append(time.perf_counter() - began)
    stops = calls["stop_instances"] + calls["stop_db_instance"] + calls["stop_notebook_instance"]
    starts = (
        calls["start_instances"] + calls["start_db_instance"] + calls["start_notebook_instance"]
    )
    print(f"fleet: {args.instances} instances, {args.databases} databases, {args.groups} ASGs, "
          f"{args.notebooks} notebooks; {selected} selected by 10 schedules")  # fmt: skip
    print(f"ticks: {len(ticks)}; median {statistics.median(ticks) * 1000:.0f} ms, "
          f"max {max(ticks) * 1000:.0f} ms (target: well under 60,000 ms)")  # fmt: skip
    print(
        f"changing calls: {stops} stops, {starts} starts, "
        f"{calls['update_auto_scaling_group']} ASG updates "
        f"(expected {selected - args.groups} + {selected - args.groups} + {2 * args.groups})"
    )
    expected = (selected - args.groups, selected - args.groups, 2 * args.groups)
    actual = (stops, starts, calls["update_auto_scaling_group"])
    rows = [
        ("slowest minute", f"< {TARGET_TICK_S:g} s", f"{max(ticks):.2f} s",
         max(ticks) < TARGET_TICK_S),
        ("stops, starts, ASG updates", "each once", f"{actual} of {expected}", actual == expected),
    ]  # fmt: skip
    print_table(rows)
    details = {"ticks": len(ticks), "median_tick_s": statistics.median(ticks),
               "max_tick_s": max(ticks), "selected": selected}  # fmt: skip
    print(figures_line("schedules_tick", rows, details))
    return 0 if all(met for *_, met in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

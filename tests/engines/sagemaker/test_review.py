"""A team's SageMaker review end to end on moto: inventory, CloudWatch invocations, rules.

fraud-detection runs an idle endpoint (no invocations), a busy prod endpoint on 4 instances
at low CPU, and an on-demand training job without checkpoints; search runs an idle endpoint
of its own, which fraud-detection's review never shows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engines.models import Team
from engines.sagemaker.inventory import list_inventory
from engines.sagemaker.metrics import fetch_endpoint_traffic, vcpus_of
from engines.sagemaker.models import SageMakerAction
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.review import recommendations_as_json, review_inventory
from tests.engines.sagemaker.test_inventory import ROLE, endpoint, training_job
from tests.engines.sagemaker.test_metrics import put

REGION = "us-east-1"
TEAMS = {
    "fraud-detection": Team(name="fraud-detection", tags={"team": "fraud"}, channel="C1"),
    "search": Team(name="search", tags={"team": "search"}, channel="C2"),
}


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any, Any]]:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        scaling = boto3.client("application-autoscaling", region_name=REGION)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        endpoint(sm, "fraud-old", "ml.m5.large", 2, team="fraud")
        endpoint(sm, "fraud-scorer", "ml.g4dn.xlarge", 4, team="fraud", env="prod")
        endpoint(sm, "search-old", "ml.c5.large", 1, team="search")
        training_job(sm, "fraud-train", spot=False, checkpoints=False, team="fraud")
        sm.create_notebook_instance(
            NotebookInstanceName="fraud-lab", InstanceType="ml.t3.medium", RoleArn=ROLE
        )
        yield sm, scaling, cloudwatch


def test_fraud_detection_sees_its_idle_and_oversized_endpoints_with_savings(
    aws: tuple[Any, Any, Any],
) -> None:
    sm, scaling, cloudwatch = aws
    # "now" follows moto's clock: the endpoints were created just now, so look from 20 days on.
    created = sm.describe_endpoint(EndpointName="fraud-old")["CreationTime"]
    now = created.astimezone(dt.UTC) + dt.timedelta(days=20)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(1, 8):
        put(
            cloudwatch,
            "fraud-scorer",
            "AllTraffic",
            today - dt.timedelta(days=day, hours=-12),
            40_000,
        )
        put(
            cloudwatch,
            "fraud-scorer",
            "AllTraffic",
            today - dt.timedelta(days=day, hours=-13),
            40,
            name="CPUUtilization",
        )

    inventory = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        region=REGION,
        period_start=now - dt.timedelta(days=30),
        period_end=now,
    )
    pairs = [(e.name, v.name) for e in inventory.endpoints for v in e.variants]
    types = {(e.name, v.name): v.instance_type for e in inventory.endpoints for v in e.variants}
    traffic = fetch_endpoint_traffic(
        cloudwatch, pairs, now=now, cpu_vcpus={pair: vcpus_of(types[pair]) for pair in pairs}
    )
    recs = review_inventory(
        inventory, traffic, prices=SageMakerPriceBook(), now=now, timezone="Europe/Dublin"
    )

    by_name = {rec.name: rec for rec in recs}
    assert "search-old" not in by_name
    old = by_name["fraud-old"]
    assert old.action is SageMakerAction.DELETE_ENDPOINT
    assert old.monthly_saving == Decimal("167.90")
    scorer = by_name["fraud-scorer"]
    # 40 % summed over 4 vCPUs is 10 % of one instance: 1 would do, prod keeps 2.
    assert scorer.action is SageMakerAction.SET_INSTANCE_COUNT
    assert (scorer.current_count, scorer.recommended_count) == (4, 2)
    assert scorer.monthly_saving == Decimal("1074.56")  # 2 x 0.736 x 730
    assert "prod" in scorer.reason
    # The training job ran for no billable time in moto: nothing to save, nothing said.
    assert "fraud-train" not in by_name
    assert [rec.name for rec in recs] == ["fraud-scorer", "fraud-old"]  # biggest saving first
    assert all(rec.team == "fraud-detection" for rec in recs)
    as_json = recommendations_as_json(recs)
    assert json.loads(json.dumps(as_json))[1]["monthly_saving"] == "167.90"

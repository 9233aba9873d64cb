"""``SageMakerReviewer.review``: a team's SageMaker resources in every target, in one call, and
one sentence for a target it may not read (moto, and a Stubber for refusals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from engines.models import Team
from engines.sagemaker.models import SageMakerAction
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.reviewer import SageMakerReviewer
from tests.engines.sagemaker.test_inventory import ROLE, endpoint
from tests.engines.sagemaker.test_metrics import put, put_notebook_cpu

REGION = "us-east-1"
TEAMS = {
    "fraud-detection": Team(
        name="fraud-detection", tags={"team": "fraud"}, channel="C1", timezone="Europe/Dublin"
    ),
    "search": Team(name="search", tags={"team": "search"}, channel="C2"),
    "empty": Team(name="empty", tags={"team": "empty"}, channel="C3"),
}


@pytest.fixture
def world() -> Iterator[tuple[Any, dt.datetime]]:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        cw = boto3.client("cloudwatch", region_name=REGION)
        endpoint(sm, "fraud-old", "ml.m5.large", 2, team="fraud")
        endpoint(sm, "fraud-single", "ml.m5.xlarge", 1, team="fraud")
        endpoint(sm, "search-old", "ml.c5.large", 1, team="search")
        sm.create_notebook_instance(
            NotebookInstanceName="fraud-lab",
            InstanceType="ml.t3.medium",
            RoleArn=ROLE,
            Tags=[{"Key": "team", "Value": "fraud"}],
        )
        created = sm.describe_endpoint(EndpointName="fraud-old")["CreationTime"]
        now = (created.astimezone(dt.UTC) + dt.timedelta(days=20)).replace(hour=23, minute=30)
        noon = now.replace(hour=12, minute=0) - dt.timedelta(days=2)
        put(cw, "fraud-single", "AllTraffic", noon, 800)
        put(cw, "fraud-single", "AllTraffic", noon, 80, name="CPUUtilization")  # 20% of 4
        put_notebook_cpu(cw, "fraud-lab", now - dt.timedelta(hours=1), 0.5)
        yield cw, now


def reviewer(now: dt.datetime, *, sagemaker: Any = None, cloudwatch: Any = None) -> Any:
    return SageMakerReviewer(
        sagemaker_for=lambda account, region: (
            sagemaker or boto3.client("sagemaker", region_name=region)
        ),
        autoscaling_for=lambda account, region: boto3.client(
            "application-autoscaling", region_name=region
        ),
        cloudwatch_for=lambda account, region: (
            cloudwatch or boto3.client("cloudwatch", region_name=region)
        ),
        prices=SageMakerPriceBook(),
        targets=[("", REGION)],
        now=lambda: now,
    )


def refusing(service: str, operation: str, permission: str) -> Any:
    client = boto3.client(service, region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        operation,
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/bot is not authorized to perform: "
        f"{permission}",
    )
    stubber.activate()
    return client


def test_one_call_lists_measures_and_reviews_only_the_teams_resources(world) -> None:
    _, now = world

    review = reviewer(now).review(TEAMS["fraud-detection"], teams=TEAMS)

    actions = {(rec.name, rec.action) for rec in review.recommendations}
    assert actions == {
        ("fraud-old", SageMakerAction.DELETE_ENDPOINT),
        ("fraud-single", SageMakerAction.SWITCH_ENDPOINT_CONFIG),  # 20% → 40% on a large
        ("fraud-lab", SageMakerAction.STOP_NOTEBOOK),  # 23:30 in Dublin, 0.5% CPU
    }
    assert review.resources == 4 - 1 and review.skipped == ()  # search-old is search's
    savings = [rec.monthly_saving for rec in review.recommendations]
    assert savings == sorted(savings, reverse=True)
    assert all(rec.team == "fraud-detection" for rec in review.recommendations)


def test_a_team_without_sagemaker_has_no_resources_and_nothing_skipped(world) -> None:
    _, now = world
    review = reviewer(now).review(TEAMS["empty"], teams=TEAMS)
    assert (review.recommendations, review.resources, review.skipped) == ((), 0, ())


def test_a_refused_sagemaker_is_skipped_with_one_sentence_and_no_arn(world) -> None:
    _, now = world
    denied = refusing("sagemaker", "list_endpoints", "sagemaker:ListEndpoints")

    review = reviewer(now, sagemaker=denied).review(TEAMS["fraud-detection"], teams=TEAMS)

    assert review.recommendations == ()
    assert review.skipped == (
        "us-east-1: costbot may not call list_endpoints: grant it that permission to review "
        "SageMaker.",
    )


def test_a_refused_cloudwatch_leaves_endpoints_and_notebooks_unjudged_and_says_so(world) -> None:
    _, now = world
    denied = refusing("cloudwatch", "get_metric_data", "cloudwatch:GetMetricData")

    review = reviewer(now, cloudwatch=denied).review(TEAMS["fraud-detection"], teams=TEAMS)

    assert review.recommendations == () and review.resources == 3
    (line,) = review.skipped
    assert line.startswith("us-east-1: endpoints and notebooks not judged: CloudWatch")
    assert "lacks cloudwatch:GetMetricData" in line and "arn:aws" not in line


def test_reviews_of_several_teams_ask_each_resource_for_its_tags_once(world) -> None:
    """At org scale ListTags is the cost: the second team's review, and the same team's
    again, reuse the tags the first one read (until they are an hour old)."""
    _, now = world
    clock = [now]
    sm = boto3.client("sagemaker", region_name=REGION)
    asked: list[str] = []
    sm.meta.events.register("before-call.sagemaker.ListTags", lambda **_: asked.append("x"))
    shared = reviewer(now, sagemaker=sm)
    shared.now = lambda: clock[0]
    shared.memo.now = lambda: clock[0]

    fraud = shared.review(TEAMS["fraud-detection"], teams=TEAMS)
    first = len(asked)
    search = shared.review(TEAMS["search"], teams=TEAMS)
    again = shared.review(TEAMS["fraud-detection"], teams=TEAMS)

    assert first == 4  # three endpoints and one notebook, whoever owns them
    assert len(asked) == first
    assert {rec.name for rec in search.recommendations} <= {"search-old"}
    assert again.recommendations == fraud.recommendations
    clock[0] = now + dt.timedelta(hours=1, minutes=1)
    shared.review(TEAMS["fraud-detection"], teams=TEAMS)
    assert len(asked) == 2 * first  # tags an hour old are asked again


def test_gpu_endpoints_are_judged_on_their_gpus_per_instance(world) -> None:
    cw, now = world
    sm = boto3.client("sagemaker", region_name=REGION)
    endpoint(sm, "fraud-gnn", "ml.g4dn.12xlarge", 4, team="fraud")
    endpoint(sm, "fraud-embed", "ml.p3.8xlarge", 4, team="fraud")
    noon = now.replace(hour=12, minute=0) - dt.timedelta(days=2)
    for name, gpu_sum in (("fraud-gnn", 280), ("fraud-embed", 80)):  # summed over 4 GPUs
        put(cw, name, "AllTraffic", noon, 5000)
        put(cw, name, "AllTraffic", noon, 96, name="CPUUtilization")  # 2-3 % of 32-48 vCPUs
        put(cw, name, "AllTraffic", noon, gpu_sum, name="GPUUtilization")
        put(cw, name, "AllTraffic", noon, 35, name="MemoryUtilization")

    review = reviewer(now).review(TEAMS["fraud-detection"], teams=TEAMS)

    by_name = {rec.name: rec for rec in review.recommendations}
    assert "fraud-gnn" not in by_name  # 70 % of each of its 4 GPUs: every instance is needed
    embed = by_name["fraud-embed"]  # 20 % of its 4 GPUs: 2 instances carry it at 40 %
    assert (embed.current_count, embed.recommended_count) == (4, 2)
    assert "peak GPU 20% of 4 GPUs per instance" in embed.evidence
    assert any(line.startswith("peak memory 35% per instance") for line in embed.evidence)

"""A team's SageMaker inventory, from moto: what is the team's, and what each resource is.

moto serves endpoints, endpoint configs, notebooks, training jobs, tags and Application Auto
Scaling targets. Its ``DescribeEndpoint`` variants carry counts but no instance type (as
AWS), so the type comes from the endpoint config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engines.models import SharedCost, Team
from engines.sagemaker.inventory import InventoryError, list_inventory

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud:1"
TEAMS = {
    "fraud-detection": Team(name="fraud-detection", tags={"team": "fraud"}, channel="C1"),
    "search": Team(name="search", tags={"team": "search"}, channel="C2"),
}
WIDE = (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


def tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in values.items()]


def endpoint(sm: Any, name: str, instance_type: str, count: int, **tag_values: str) -> None:
    sm.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": count,
                "InstanceType": instance_type,
            }
        ],
    )
    sm.create_endpoint(
        EndpointName=name, EndpointConfigName=f"{name}-config", Tags=tags(**tag_values)
    )


def training_job(sm: Any, name: str, *, spot: bool, checkpoints: bool, **tag_values: str) -> None:
    extra: dict[str, Any] = {"EnableManagedSpotTraining": spot}
    if checkpoints:
        extra["CheckpointConfig"] = {"S3Uri": f"s3://ml/checkpoints/{name}"}
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://ml/output"},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 86_400, "MaxWaitTimeInSeconds": 172_800},
        Tags=tags(**tag_values),
        **extra,
    )


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        scaling = boto3.client("application-autoscaling", region_name=REGION)
        endpoint(sm, "fraud-scorer", "ml.m5.large", 3, team="fraud", env="prod")
        endpoint(sm, "search-ranker", "ml.g4dn.xlarge", 2, team="search")
        endpoint(sm, "untagged", "ml.c5.large", 1)
        scaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/fraud-scorer/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=2,
            MaxCapacity=6,
        )
        sm.create_notebook_instance(
            NotebookInstanceName="fraud-lab",
            InstanceType="ml.t3.medium",
            RoleArn=ROLE,
            Tags=tags(team="fraud"),
        )
        sm.create_notebook_instance(
            NotebookInstanceName="search-lab",
            InstanceType="ml.t3.medium",
            RoleArn=ROLE,
            Tags=tags(team="search"),
        )
        training_job(sm, "fraud-train-ondemand", spot=False, checkpoints=False, team="fraud")
        training_job(sm, "fraud-train-spot", spot=True, checkpoints=True, team="fraud")
        training_job(sm, "search-train", spot=False, checkpoints=True, team="search")
        yield sm, scaling


def test_a_team_sees_its_endpoints_with_type_count_and_autoscaling(
    clients: tuple[Any, Any],
) -> None:
    sm, scaling = clients
    inventory = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        region=REGION,
        period_start=WIDE[0],
        period_end=WIDE[1],
    )

    assert [e.name for e in inventory.endpoints] == ["fraud-scorer"]
    scorer = inventory.endpoints[0]
    assert scorer.prod and scorer.config_name == "fraud-scorer-config"
    assert scorer.account_id == "123456789012"
    (variant,) = scorer.variants
    assert (variant.name, variant.instance_type, variant.instance_count) == (
        "AllTraffic",
        "ml.m5.large",
        3,
    )
    assert (variant.autoscaling_min, variant.autoscaling_max) == (2, 6)
    assert variant.model_name == "fraud-scorer-model"


def test_another_teams_resources_are_not_in_this_teams_inventory(clients: tuple[Any, Any]) -> None:
    sm, scaling = clients
    fraud = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        region=REGION,
        period_start=WIDE[0],
        period_end=WIDE[1],
    )
    search = list_inventory(
        sm,
        scaling,
        team="search",
        teams=TEAMS,
        region=REGION,
        period_start=WIDE[0],
        period_end=WIDE[1],
    )

    assert "search-ranker" not in {e.name for e in fraud.endpoints}
    assert [n.name for n in fraud.notebooks] == ["fraud-lab"]
    assert {j.name for j in fraud.training_jobs} == {"fraud-train-ondemand", "fraud-train-spot"}
    assert [e.name for e in search.endpoints] == ["search-ranker"]
    assert search.endpoints[0].variants[0].autoscaling_min is None  # no target registered
    assert [j.name for j in search.training_jobs] == ["search-train"]


def test_a_shared_rule_listed_first_claims_the_resource_as_for_ec2(
    clients: tuple[Any, Any],
) -> None:
    sm, scaling = clients
    shared = [SharedCost(name="platform", tags={"env": "prod"})]

    inventory = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        shared=shared,
        region=REGION,
        period_start=WIDE[0],
        period_end=WIDE[1],
    )

    assert inventory.endpoints == ()  # the prod endpoint belongs to the shared platform cost


def test_training_jobs_say_spot_and_checkpoints(clients: tuple[Any, Any]) -> None:
    sm, scaling = clients
    inventory = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        region=REGION,
        period_start=WIDE[0],
        period_end=WIDE[1],
    )
    jobs = {job.name: job for job in inventory.training_jobs}

    on_demand, spot = jobs["fraud-train-ondemand"], jobs["fraud-train-spot"]
    assert (on_demand.managed_spot, on_demand.has_checkpoints) == (False, False)
    assert (spot.managed_spot, spot.has_checkpoints) == (True, True)
    assert (on_demand.instance_type, on_demand.instance_count) == ("ml.p3.2xlarge", 2)
    assert inventory.notebooks[0].status == "InService" and inventory.notebooks[0].running


def test_training_jobs_outside_the_period_are_left_out(clients: tuple[Any, Any]) -> None:
    sm, scaling = clients
    inventory = list_inventory(
        sm,
        scaling,
        team="fraud-detection",
        teams=TEAMS,
        region=REGION,
        period_start=dt.datetime(2001, 1, 1, tzinfo=dt.UTC),
        period_end=dt.datetime(2001, 2, 1, tzinfo=dt.UTC),
    )

    assert inventory.training_jobs == ()
    assert [e.name for e in inventory.endpoints] == ["fraud-scorer"]  # not period-bound


def test_a_missing_permission_is_named() -> None:
    from botocore.stub import Stubber

    sm = boto3.client(
        "sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(sm)
    stub.add_client_error("list_endpoints", "AccessDeniedException", "not allowed")
    with stub, pytest.raises(InventoryError, match="may not call list_endpoints"):
        list_inventory(
            sm,
            None,
            team="search",
            teams=TEAMS,
            region=REGION,
            period_start=WIDE[0],
            period_end=WIDE[1],
        )

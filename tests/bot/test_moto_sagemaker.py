"""The demo's ``UpdateEndpoint`` for moto: an endpoint moves to another config, and a
config-switch change runs through the changes engine against it as it would on AWS."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bot.demo.moto_sagemaker import install_update_endpoint
from bot.store import Store
from engines.changes.models import ChangeRequest, State
from engines.sagemaker.models import Finding, SageMakerAction
from tests.engines.test_changes import FakeTime
from tests.engines.test_sagemaker_changes import (
    ALICE,
    APPROVERS,
    make_endpoint,
    make_runner,
    recommendation,
)

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def _config(sm, name: str, instance_type: str, count: int) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "scorer",
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
            }
        ],
    )


def test_update_endpoint_moves_the_endpoint_to_the_new_config() -> None:
    install_update_endpoint()
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model(ModelName="scorer", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": "ecr/scorer:1"})  # fmt: skip
        _config(sm, "scorer-big", "ml.m5.2xlarge", 2)
        _config(sm, "scorer-small", "ml.m5.xlarge", 2)
        sm.create_endpoint(EndpointName="scorer", EndpointConfigName="scorer-big")

        sm.update_endpoint(EndpointName="scorer", EndpointConfigName="scorer-small")

        described = sm.describe_endpoint(EndpointName="scorer")
        assert described["EndpointConfigName"] == "scorer-small"
        assert described["EndpointStatus"] == "InService"
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        with pytest.raises(ClientError, match="Could not find endpoint configuration"):
            sm.update_endpoint(EndpointName="scorer", EndpointConfigName="no-such-config")
        with pytest.raises(ClientError, match="Could not find endpoint"):
            sm.update_endpoint(EndpointName="nobody", EndpointConfigName="scorer-small")


def test_a_config_switch_runs_and_reverts_on_the_demos_moto(tmp_path) -> None:
    """What the demo does when an approver approves a smaller type: the changes engine makes
    the new config, switches to it and back, against moto taught UpdateEndpoint."""
    install_update_endpoint()
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        name, config = make_endpoint(sm, count=2)
        store = Store(tmp_path / "x.db")
        runner = make_runner(sm, store, FakeTime())
        rec = recommendation(
            SageMakerAction.SWITCH_ENDPOINT_CONFIG, name, config,
            finding=Finding.OVER_PROVISIONED, recommended_type="ml.m5.large",
            current_count=2, recommended_count=2,
        )  # fmt: skip
        request = ChangeRequest.from_sagemaker(rec, requested_by="costbot", team="fraud-detection")
        change_id = runner.propose(request).id
        assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS).ok

        done = runner.execute(change_id)

        assert done.ok and done.state is State.DONE, done.text
        switched = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        assert switched != config
        variants = sm.describe_endpoint_config(EndpointConfigName=switched)["ProductionVariants"]
        assert [(v["InstanceType"], v["InitialInstanceCount"]) for v in variants] == [
            ("ml.m5.large", 2)
        ]
        reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)
        assert reverted.ok and reverted.state is State.REVERTED, reverted.text
        assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config

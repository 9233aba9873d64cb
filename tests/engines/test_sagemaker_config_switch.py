"""Switching an endpoint to a smaller instance type through a new endpoint config
(``UpdateEndpoint``), and back. moto does not implement ``UpdateEndpoint``, so SageMaker is a
botocore ``Stubber`` answering as SageMaker does: every call is expected in order with its
exact parameters, and a call nobody expected fails the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bot.store import Store
from engines.changes.models import ChangeRequest, State
from engines.changes.runner import ChangeRunner
from engines.changes.sagemaker_api import NAME_LIMIT, switched_config_name
from engines.sagemaker.models import Finding, SageMakerAction
from tests.engines.test_changes import SimulatedCrash
from tests.engines.test_sagemaker_changes import (
    ACCOUNT,
    ALICE,
    APPROVERS,
    BOB,
    NOW,
    REGION,
    RecordingSageMaker,
    audited,
    fake_time,  # noqa: F401  (a fixture)
    make_runner,
    recommendation,
    store,  # noqa: F401  (a fixture)
)

ENDPOINT = "fraud-v1"
OLD = "fraud-v1-config"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
WHEN = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "fraud-v1-model",
    "InitialInstanceCount": 4,
    "InstanceType": "ml.m5.xlarge",
    "InitialVariantWeight": 1.0,
}
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 10,
    "DestinationS3Uri": "s3://fraud-capture/v1",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


def endpoint(status: str, config: str, *, count: int = 3, reason: str = "") -> dict[str, Any]:
    response: dict[str, Any] = {
        "EndpointName": ENDPOINT,
        "EndpointArn": ARN,
        "EndpointConfigName": config,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "CurrentWeight": 1.0,
                "DesiredWeight": 1.0,
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
            }
        ],
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }
    if reason:
        response["FailureReason"] = reason
    return response


def config(name: str, instance_type: str, count: int = 4) -> dict[str, Any]:
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{name}",
        "ProductionVariants": [
            {**VARIANT, "InstanceType": instance_type, "InitialInstanceCount": count}
        ],
        "DataCaptureConfig": CAPTURE,
        "CreationTime": WHEN,
    }


class SageMakerScript:
    """The Stubber, with one method per SageMaker answer the tests script."""

    def __init__(self, client: Any) -> None:
        self.stubber = Stubber(client)

    def endpoint(self, status: str, on: str, **extra: Any) -> None:
        self.stubber.add_response(
            "describe_endpoint", endpoint(status, on, **extra), {"EndpointName": ENDPOINT}
        )

    def config(self, name: str, instance_type: str) -> None:
        self.stubber.add_response(
            "describe_endpoint_config", config(name, instance_type), {"EndpointConfigName": name}
        )

    def no_config(self, name: str) -> None:
        self.stubber.add_client_error(
            "describe_endpoint_config",
            service_error_code="ValidationException",
            service_message=f'Could not find endpoint configuration "{name}".',
            expected_params={"EndpointConfigName": name},
        )

    def create_config(self, name: str, instance_type: str, count: int) -> None:
        variant = {**VARIANT, "InstanceType": instance_type, "InitialInstanceCount": count}
        self.stubber.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{name}"},
            {
                "EndpointConfigName": name,
                "ProductionVariants": [variant],
                "DataCaptureConfig": CAPTURE,
            },
        )

    def update(self, to: str) -> None:
        """``UpdateEndpoint`` to ``to``; back to the kept config, keeping the counts it runs."""
        back = {"RetainAllVariantProperties": True} if to == OLD else {}
        self.stubber.add_response(
            "update_endpoint",
            {"EndpointArn": ARN},
            {"EndpointName": ENDPOINT, "EndpointConfigName": to, **back},
        )


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture
def script(client) -> Iterator[SageMakerScript]:
    script = SageMakerScript(client)
    with script.stubber:
        yield script
    script.stubber.assert_no_pending_responses()


@pytest.fixture
def recorder(client) -> RecordingSageMaker:
    return RecordingSageMaker(client)


@pytest.fixture
def runner(recorder, store, fake_time) -> ChangeRunner:
    return make_runner(recorder, store, fake_time)


def switch_change(runner: ChangeRunner) -> int:
    rec = recommendation(
        SageMakerAction.SWITCH_ENDPOINT_CONFIG,
        ENDPOINT,
        OLD,
        finding=Finding.OVER_PROVISIONED,
        current_type="ml.m5.xlarge",
        recommended_type="ml.m5.large",
        reason="CPU peaked at 18% of one instance over 14 days.",
    )
    request = ChangeRequest.from_sagemaker(rec, requested_by=BOB, team="fraud-detection")
    change_id = runner.propose(request).id
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS).ok
    return change_id


def expect_forward(script: SageMakerScript, new: str) -> None:
    """What a switch asks before it updates the endpoint: validation, then the new config."""
    script.endpoint("InService", OLD)
    script.config(OLD, "ml.m5.xlarge")
    script.no_config(new)
    script.config(OLD, "ml.m5.xlarge")
    script.endpoint("InService", OLD)
    script.create_config(new, "ml.m5.large", count=3)  # the count it runs now, not the config's 4
    script.update(new)


def test_the_new_config_is_named_after_the_old_one_the_type_and_the_change():
    change = Store(":memory:").create_change(
        ChangeRequest.from_sagemaker(
            recommendation(
                SageMakerAction.SWITCH_ENDPOINT_CONFIG,
                ENDPOINT,
                "x" * 70,
                recommended_type="ml.g4dn.xlarge",
            ),
            requested_by=BOB,
        ),
        now=NOW,
    )

    name = switched_config_name(change)

    assert len(name) <= NAME_LIMIT
    assert name.endswith(f"-ml-g4dn-xlarge-c{change.id}")
    assert name == switched_config_name(change)  # a retry finds the same one


def test_an_endpoint_switches_to_a_copy_of_its_config_on_the_smaller_type_and_back(
    runner, script, recorder, store, fake_time
):
    change_id = switch_change(runner)
    new = f"{OLD}-ml-m5-large-c{change_id}"
    expect_forward(script, new)
    script.endpoint("Updating", new)
    script.endpoint("InService", new)
    script.endpoint("InService", new)

    outcome = runner.execute(change_id)

    assert outcome.state is State.DONE, outcome.text
    assert fake_time.sleeps == [5]
    assert f"endpoint `{ENDPOINT}` is now running variant AllTraffic on ml.m5.large" in outcome.text
    assert (
        f"(was variant AllTraffic on ml.m5.xlarge), on the new endpoint config `{new}`"
        in outcome.text
    )
    assert f"`{OLD}` is kept for the revert" in outcome.text

    script.endpoint("InService", new)
    script.config(new, "ml.m5.large")
    script.config(OLD, "ml.m5.xlarge")
    script.update(OLD)
    script.endpoint("InService", OLD)
    script.endpoint("InService", OLD)

    reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert "it is running variant AllTraffic on ml.m5.xlarge again" in reverted.text
    assert [r["action"] for r in audited(store, "sagemaker.")] == [
        "sagemaker.CreateEndpointConfig",
        "sagemaker.UpdateEndpoint",
        "sagemaker.UpdateEndpoint",
    ]
    assert [c.name for c in recorder.mutations()] == [
        "create_endpoint_config",
        "update_endpoint",
        "update_endpoint",
    ]


def test_when_sagemaker_rolls_the_update_back_by_itself_the_change_is_rolled_back(
    runner, script, recorder, store
):
    change_id = switch_change(runner)
    new = f"{OLD}-ml-m5-large-c{change_id}"
    expect_forward(script, new)
    script.endpoint("Updating", new)
    script.endpoint("RollingBack", new)
    reason = (
        "The primary container for production variant AllTraffic did not pass the ping "
        "health check."
    )
    script.endpoint("InService", OLD, reason=reason)
    script.endpoint("InService", OLD)  # restore: where it is
    script.endpoint("InService", OLD)  # restore: it is back

    outcome = runner.execute(change_id)

    assert outcome.state is State.ROLLED_BACK, outcome.text
    assert "SageMaker rolled the update back by itself" in outcome.text
    assert "did not pass the ping health check" in outcome.text
    assert f"Switching endpoint `{ENDPOINT}` failed" in outcome.text
    assert "it is running variant AllTraffic on ml.m5.xlarge, as it was before" in outcome.text
    assert [c.name for c in recorder.mutations()] == ["create_endpoint_config", "update_endpoint"]
    assert "change.rolled_back" in [r["action"] for r in audited(store, "change.")]


def test_sagemakers_failure_reason_reaches_slack_without_the_roles_arn_or_the_account(
    runner, script, recorder, store
):
    change_id = switch_change(runner)
    new = f"{OLD}-ml-m5-large-c{change_id}"
    expect_forward(script, new)
    script.endpoint("Updating", new)
    role = f"arn:aws:iam::{ACCOUNT}:role/fraud-inference"
    reason = (
        "Could not access model data at s3://fraud-models/v2/model.tar.gz. Please ensure "
        f'that the role "{role}" exists and that its trust relationship policy allows the '
        f'action "sts:AssumeRole" for the service principal "sagemaker.amazonaws.com".'
    )
    script.endpoint("InService", OLD, reason=reason)
    script.endpoint("InService", OLD)  # restore: where it is
    script.endpoint("InService", OLD)  # restore: it is back

    outcome = runner.execute(change_id)

    assert outcome.state is State.ROLLED_BACK, outcome.text
    assert "Could not access model data" in outcome.text
    assert role not in outcome.text and ACCOUNT not in outcome.text
    change = store.get_change(change_id)
    assert ACCOUNT not in change.last_error and "arn:aws" not in change.last_error


def test_an_endpoint_on_another_config_than_recommended_is_not_switched(runner, script, recorder):
    change_id = switch_change(runner)
    script.endpoint("InService", "fraud-v2-config")

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert f"now uses endpoint config `fraud-v2-config`, not `{OLD}`" in outcome.text
    assert recorder.mutations() == []


def test_an_endpoint_still_updating_is_left_for_later(runner, script, recorder, store):
    change_id = switch_change(runner)
    script.endpoint("Updating", OLD)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.text == "the endpoint is Updating; try again once it is InService."
    assert store.get_change(change_id).state is State.APPROVED
    assert recorder.mutations() == []


def test_a_dry_run_of_a_switch_only_describes(recorder, script, store, fake_time):
    runner = make_runner(recorder, store, fake_time, dry_run=True)
    change_id = switch_change(runner)
    new = f"{OLD}-ml-m5-large-c{change_id}"
    script.endpoint("InService", OLD)
    script.config(OLD, "ml.m5.xlarge")

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert (outcome.state, outcome.change.dry_run) == (State.DONE, True)
    assert recorder.mutations() == []
    assert f"sagemaker:CreateEndpointConfig `{new}` (a copy of `{OLD}`" in outcome.text
    assert f"sagemaker:UpdateEndpoint on `{ENDPOINT}` to use `{new}`" in outcome.text
    assert "Permissions were not checked by this dry run" in outcome.text


def test_a_crash_during_the_update_is_finished_once_the_endpoint_is_on_the_new_config(
    script, recorder, store, fake_time
):
    change_id = switch_change(make_runner(recorder, store, fake_time))
    new = f"{OLD}-ml-m5-large-c{change_id}"
    expect_forward(script, new)
    recorder.crash_after = {"update_endpoint"}
    with pytest.raises(SimulatedCrash):
        make_runner(recorder, store, fake_time).execute(change_id)
    recorder.crash_after = set()
    assert store.get_change(change_id).state is State.MODIFYING
    script.endpoint("Updating", new)
    script.endpoint("Updating", new)
    script.endpoint("InService", new)
    script.endpoint("InService", new)

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.DONE], outcomes[0].text
    detail = audited(store, "change.recovered")[0]["detail"]
    assert (detail["decision"], detail["found"]) == ("finish", f"InService on `{new}`")

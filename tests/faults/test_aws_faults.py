"""AWS throttling and 5xx: the clients costbot builds retry (explicitly configured), and what
still fails reaches the user as a plain sentence, with nothing changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from botocore.retries.bucket import TokenBucket
from botocore.retries.standard import ExponentialBackoff

from bot.aws import AwsClients
from bot.settings import Settings
from bot.store import Store
from engines.changes.models import ChangeRequest, State
from engines.changes.runner import ChangeRunner
from tests.faults.aws_proxy import AwsProxy

THROTTLED_JSON = '{"__type": "ThrottlingException", "message": "Rate exceeded"}'
EC2_LIMIT = (
    "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
    "<Message>Request limit exceeded.</Message></Error></Errors>"
    "<RequestID>5b3d</RequestID></Response>"
)
UNAVAILABLE = (
    "<Response><Errors><Error><Code>Unavailable</Code>"
    "<Message>The server is overloaded.</Message></Error></Errors>"
    "<RequestID>5b3e</RequestID></Response>"
)


@pytest.fixture
def proxy(moto_url, monkeypatch) -> Iterator[AwsProxy]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # botocore's back-off sleeps up to 20 s between attempts, and the adaptive mode's rate
    # limiter sleeps until its token bucket refills (18 s of this file): the attempts are what
    # matter here, so neither waits.
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(TokenBucket, "acquire", lambda self, amount=1, block=True: True)
    running = AwsProxy(moto_url)
    yield running
    running.stop()


@pytest.fixture
def aws(proxy) -> AwsClients:
    return AwsClients(Settings(aws_endpoint_url=proxy.url, aws_region="us-east-1"))


def test_the_retry_modes_are_explicit(aws):
    assert aws.cost_explorer().meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
    ec2 = aws.client_for("ec2", account_id="", region="us-east-1")
    assert ec2.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}


def test_cost_explorer_throttling_and_a_503_are_retried(aws, proxy):
    proxy.fail_next("GetCostAndUsage", status=400, body=THROTTLED_JSON,
                    content_type="application/x-amz-json-1.1")  # fmt: skip
    proxy.fail_next("GetCostAndUsage", status=503, body="{}",
                    content_type="application/x-amz-json-1.1")  # fmt: skip

    answer = aws.cost_explorer().get_cost_and_usage(
        TimePeriod={"Start": "2026-11-01", "End": "2026-11-20"},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    )

    assert "ResultsByTime" in answer
    assert proxy.calls_matching("GetCostAndUsage") == 3


def test_ec2_request_limits_and_5xx_are_retried_during_a_change(aws, proxy, tmp_path):
    ec2 = aws.client_for("ec2", account_id="", region="us-east-1")
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge"
    )["Instances"][0]["InstanceId"]
    runner, change_id = _approved_change(aws, tmp_path, instance_id)
    proxy.fail_next("Action=StopInstances", status=503, body=EC2_LIMIT, count=3)
    proxy.fail_next("Action=ModifyInstanceAttribute", status=503, body=UNAVAILABLE, count=2)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert proxy.calls_matching("Action=StopInstances") == 4
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "running")


def test_when_throttling_outlasts_the_retries_nothing_changes_and_the_user_is_told(
    aws, proxy, tmp_path
):
    ec2 = aws.client_for("ec2", account_id="", region="us-east-1")
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge"
    )["Instances"][0]["InstanceId"]
    runner, change_id = _approved_change(aws, tmp_path, instance_id)
    attempts = ec2.meta.config.retries["total_max_attempts"]
    proxy.fail_next("Action=DescribeInstances", status=503, body=EC2_LIMIT, count=attempts)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert "RequestLimitExceeded" in outcome.text or "limit" in outcome.text.lower()
    assert "Traceback" not in outcome.text
    assert runner.store.get_change(change_id).state is State.APPROVED  # can be tried again
    assert proxy.calls_matching("Action=StopInstances") == 0


def _approved_change(aws: AwsClients, tmp_path, instance_id: str) -> tuple[ChangeRunner, int]:
    store = Store(tmp_path / "costbot.db")
    runner = ChangeRunner(
        lambda account, region: aws.client_for("ec2", account_id=account, region=region),
        store,
        audit=store.record_audit,
        dry_run=False,
        now=lambda: dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC),
        sleep=lambda seconds: None,
        poll_s=0.01,
    )
    request = ChangeRequest(instance_id, "", "us-east-1", "m5.xlarge", "m5.large",
                            Decimal("70.08"), "UBOB", team="nlp")  # fmt: skip
    change = runner.propose(request)
    assert runner.approve(change.id, approver="UALICE", approvers=("UALICE",)).ok
    return runner, change.id

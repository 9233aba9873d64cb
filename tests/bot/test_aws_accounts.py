"""Other AWS accounts are reached through the role the teams file names for each."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from bot.aws import AwsClients
from bot.settings import Settings
from engines.models import AccountAccess, Team
from engines.rightsizing.fleet_review import FleetReviewer
from engines.rightsizing.pricing import PriceBook

OTHER = "222233334444"
ROLE = f"arn:aws:iam::{OTHER}:role/costbot"
IMAGE = "ami-04681a1dbd79675a5"  # one of moto's default images
TEAM = Team(name="nlp", tags={"team": "nlp"}, channel="#nlp")


@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        yield AwsClients(
            Settings(aws_region="us-east-1"),
            session=session,
            accounts=[AccountAccess(OTHER, ROLE, regions=("us-east-1", "eu-west-1"))],
        )


def launch(ec2, name: str) -> str:
    reservation = ec2.run_instances(
        ImageId=IMAGE,
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "team", "Value": "nlp"}, {"Key": "Name", "Value": name}],
            }
        ],
    )
    return reservation["Instances"][0]["InstanceId"]


def test_a_client_for_another_account_works_there_through_its_role(aws):
    other = aws.client_for("ec2", account_id=OTHER, region="us-east-1")
    launch(other, "in-the-other-account")
    caller = aws.client_for("sts", account_id=OTHER, region="us-east-1").get_caller_identity()
    assert caller["Account"] == OTHER
    assert ":assumed-role/costbot/costbot" in caller["Arn"]
    own = aws.client("ec2").describe_instances()["Reservations"]
    assert own == []  # the instance lives in the other account only


def test_the_role_is_assumed_once_while_its_credentials_last(aws, monkeypatch):
    calls = []
    real_assume = aws._assume
    monkeypatch.setattr(aws, "_assume", lambda access: calls.append(1) or real_assume(access))
    for _ in range(3):
        aws.client_for("ec2", account_id=OTHER, region="us-east-1")
    assert len(calls) == 1
    assert aws.client_for("ec2", account_id="999999999999", region="us-east-1")  # no role: own


def test_targets_are_the_own_region_then_each_accounts_regions(aws):
    assert aws.targets() == [("", "us-east-1"), (OTHER, "us-east-1"), (OTHER, "eu-west-1")]


def test_a_review_covers_every_account_and_region(aws):
    launch(aws.client("ec2"), "here")
    launch(aws.client_for("ec2", account_id=OTHER, region="eu-west-1"), "there")
    reviewer = FleetReviewer(
        ec2_for=lambda account, region: aws.client_for("ec2", account_id=account, region=region),
        cloudwatch_for=lambda account, region: aws.client_for(
            "cloudwatch", account_id=account, region=region
        ),
        prices=PriceBook(),
        targets=aws.targets(),
        now=lambda: dt.datetime.now(dt.UTC),
    )
    review = reviewer.review(TEAM)
    found = {
        (r.instance.name, r.instance.account_id, r.instance.region) for r in review.recommendations
    }
    # the own account is named by its id (the reservation's OwnerId), the other by the role's
    assert found == {("here", "123456789012", "us-east-1"), ("there", OTHER, "eu-west-1")}
    assert all(r.finding.value == "not enough data" for r in review.recommendations)

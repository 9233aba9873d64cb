"""The spot advisor end to end against stubbed EC2: outlook, team candidates, clear errors.

The market is ``tests.engines.test_spot.MARKET`` (hand-computed there): g5.xlarge averages
$0.40 over 30 days in us-east-1a and $0.28 in us-east-1b, against $1.006 on demand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import boto3
import pytest
from botocore.stub import ANY, Stubber

from engines.errors import UserInputError
from engines.models import Team
from engines.pricing import PriceBook
from engines.spot_advisor import AdvisorFeedError, load_snapshot
from engines.spot_review import NoSpotMarketError, SpotAdvisor, UnknownInstanceTypeError
from tests.engines.test_spot import MARKET, NOW, PLACEMENT_RESPONSE, ZONES_RESPONSE

REGION = "us-east-1"
TYPES_RESPONSE = {
    "InstanceTypes": [
        {
            "InstanceType": name,
            "VCpuInfo": {"DefaultVCpus": vcpus},
            "MemoryInfo": {"SizeInMiB": memory},
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        }
        for name, vcpus, memory in (
            ("g5.xlarge", 4, 16384),
            ("g5.2xlarge", 8, 32768),
            ("m5.large", 2, 8192),
        )
    ]
}


def history_response(records) -> dict:
    return {
        "SpotPriceHistory": [
            {
                "AvailabilityZone": r.availability_zone,
                "InstanceType": r.instance_type,
                "ProductDescription": r.product,
                "SpotPrice": str(r.price),
                "Timestamp": r.at,
            }
            for r in records
        ]
    }


def history_request(instance_type: str) -> dict:
    return {
        "InstanceTypes": [instance_type],
        "ProductDescriptions": ["Linux/UNIX"],
        "StartTime": NOW - dt.timedelta(days=90),
        "EndTime": NOW,
        "MaxResults": 1000,
    }


@pytest.fixture
def ec2():
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        client.stub = stub
        yield client
        stub.assert_no_pending_responses()


def advisor(ec2, *, load_feed=load_snapshot) -> SpotAdvisor:
    return SpotAdvisor(
        ec2_for=lambda account, region: ec2,
        prices=PriceBook(),
        load_feed=load_feed,
        targets=[("", REGION)],
        now=lambda: NOW,
        default_region=REGION,
    )


def test_the_outlook_has_every_zone_the_on_demand_price_the_risk_and_the_scores(ec2):
    ec2.stub.add_response("describe_instance_types", TYPES_RESPONSE)
    ec2.stub.add_response(
        "describe_spot_price_history", history_response(MARKET), history_request("g5.xlarge")
    )
    ec2.stub.add_response("get_spot_placement_scores", PLACEMENT_RESPONSE, None)
    ec2.stub.add_response("describe_availability_zones", ZONES_RESPONSE, {})
    outlook = advisor(ec2).outlook("g5.xlarge")
    assert [z.availability_zone for z in outlook.zones] == ["us-east-1a", "us-east-1b"]
    assert [z.average_30d.average for z in outlook.zones] == [Decimal("0.40"), Decimal("0.28")]
    assert outlook.on_demand.hourly == Decimal("1.006")
    assert outlook.interruption.bucket == "10-15%"
    assert outlook.placement.by_zone == {"us-east-1a": 3, "us-east-1b": 9}
    assert outlook.as_json()["groups"][1]["saving_30d"] == "0.7217"  # 0.726 / 1.006


def test_an_unknown_type_gets_the_nearest_names(ec2):
    ec2.stub.add_response(
        "describe_instance_types",
        {"InstanceTypes": []},
        {"Filters": [{"Name": "instance-type", "Values": ["g5.xlarg"]}]},
    )
    ec2.stub.add_response("describe_instance_types", TYPES_RESPONSE, {})
    with pytest.raises(UnknownInstanceTypeError) as error:
        advisor(ec2).outlook("g5.xlarg")
    assert "There is no instance type `g5.xlarg` in us-east-1" in str(error.value)
    assert "did you mean `g5.xlarge`" in str(error.value)


def test_a_type_without_spot_prices_in_the_region_says_where_it_has_a_market(ec2):
    ec2.stub.add_response("describe_instance_types", TYPES_RESPONSE)
    ec2.stub.add_response(
        "describe_spot_price_history", {"SpotPriceHistory": []}, history_request("g5.2xlarge")
    )
    with pytest.raises(NoSpotMarketError) as error:
        advisor(ec2).outlook("g5.2xlarge")
    assert "g5.2xlarge has no spot market in us-east-1" in str(error.value)
    assert "eu-west-1" in str(error.value)  # from the advisor data
    assert isinstance(error.value, UserInputError)


def test_a_missing_feed_is_said_and_the_prices_still_answer(ec2):
    def no_feed():
        raise AdvisorFeedError("The Spot Instance Advisor data is missing (/srv/feed.json).")

    ec2.stub.add_response("describe_instance_types", TYPES_RESPONSE)
    ec2.stub.add_response(
        "describe_spot_price_history", history_response(MARKET), history_request("g5.xlarge")
    )
    ec2.stub.add_client_error("get_spot_placement_scores", "UnauthorizedOperation", "no")
    outlook = advisor(ec2, load_feed=no_feed).outlook("g5.xlarge")
    assert outlook.interruption is None
    assert "missing (/srv/feed.json)" in outlook.feed.problem
    assert "costbot spot refresh-advisor" in outlook.feed.problem
    assert len(outlook.zones) == 2


def instance(instance_id, zone, tags, *, state="running", lifecycle=None) -> dict:
    item = {
        "InstanceId": instance_id,
        "InstanceType": "g5.xlarge",
        "State": {"Name": state},
        "Placement": {"AvailabilityZone": zone},
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    if lifecycle:
        item["InstanceLifecycle"] = lifecycle
    return item


def test_team_candidates_save_at_their_own_zone_average_and_serving_is_left_out(ec2):
    nlp = {"team": "nlp"}
    reservations = {
        "Reservations": [
            {
                "OwnerId": "111122223333",
                "Instances": [
                    instance("i-train", "us-east-1b", {**nlp, "workload_type": "training"}),
                    instance("i-batch", "us-east-1a", {**nlp, "spot_eligible": "true"}),
                    instance("i-serve", "us-east-1a", {**nlp, "workload_type": "serving"}),
                    instance("i-spot", "us-east-1a", {**nlp, "workload_type": "batch"},
                             lifecycle="spot"),
                ],
            }
        ]
    }  # fmt: skip
    ec2.stub.add_response("describe_instances", reservations, {"Filters": ANY})
    for instance_id in ("i-train", "i-batch", "i-serve", "i-spot"):
        ec2.stub.add_response(
            "describe_instance_attribute",
            {"DisableApiStop": {"Value": False}},
            {"InstanceId": instance_id, "Attribute": "disableApiStop"},
        )
    ec2.stub.add_response(  # once for both g5.xlarge candidates
        "describe_spot_price_history", history_response(MARKET), history_request("g5.xlarge")
    )
    report = advisor(ec2).team_report(Team(name="nlp", tags=nlp, channel="#nlp"))
    assert [(c.instance.instance_id, c.monthly_saving) for c in report.candidates] == [
        ("i-train", Decimal("529.98")),  # (1.006 - 0.28) x 730, in us-east-1b
        ("i-batch", Decimal("442.38")),  # (1.006 - 0.40) x 730, in us-east-1a
    ]
    assert report.total_monthly_saving == Decimal("972.36")
    assert dict((i.instance_id, why) for i, why in report.left_out) == {
        "i-serve": "stateful (serving)",
        "i-spot": "already on spot",
    }
    assert report.candidates[0].interruption.bucket == "10-15%"

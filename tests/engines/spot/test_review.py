"""The spot advisor end to end against stubbed EC2: outlook, team candidates, clear errors.

The market is ``tests.engines.spot.test_market.MARKET`` (hand-computed there): g5.xlarge averages
$0.40 over 30 days in us-east-1a and $0.28 in us-east-1b, against $1.006 on demand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import boto3
import pytest
from botocore.stub import ANY, Stubber

from engines.changes.models import Change, Kind, State
from engines.errors import UserInputError
from engines.models import Team
from engines.rightsizing.models import Finding, Instance, Recommendation
from engines.rightsizing.pricing import PriceBook
from engines.spot.advisor_feed import AdvisorFeedError, load_snapshot
from engines.spot.review import (
    NoSpotMarketError,
    SpotAdvisor,
    UnknownInstanceTypeError,
    advice_first,
)
from tests.engines.spot.test_market import MARKET, NOW, PLACEMENT_RESPONSE, ZONES_RESPONSE

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


def test_an_instance_right_sizing_speaks_for_is_held_back_with_no_saving_counted(ec2):
    nlp = {"team": "nlp"}
    reservations = {
        "Reservations": [
            {
                "OwnerId": "111122223333",
                "Instances": [
                    instance("i-train", "us-east-1b", {**nlp, "workload_type": "training"}),
                    instance("i-batch", "us-east-1a", {**nlp, "spot_eligible": "true"}),
                ],
            }
        ]
    }
    ec2.stub.add_response("describe_instances", reservations, {"Filters": ANY})
    for instance_id in ("i-train", "i-batch"):
        ec2.stub.add_response(
            "describe_instance_attribute",
            {"DisableApiStop": {"Value": False}},
            {"InstanceId": instance_id, "Attribute": "disableApiStop"},
        )
    ec2.stub.add_response(
        "describe_spot_price_history", history_response(MARKET), history_request("g5.xlarge")
    )
    report = advisor(ec2).team_report(
        Team(name="nlp", tags=nlp, channel="#nlp"),
        advice_first={"i-train": "idle: stop it first"},
    )
    assert [c.instance.instance_id for c in report.candidates] == ["i-batch"]
    assert report.total_monthly_saving == Decimal("442.38")  # i-train's $529.98 not counted
    assert [(i.instance_id, why) for i, why in report.held_back] == [
        ("i-train", "idle: stop it first")
    ]
    assert report.as_json()["held_back"] == [
        {"key": "i-train", "name": "i-train", "reason": "idle: stop it first"}
    ]


# --- advice_first: right-sizing speaks first ----------------------------------------------------


def box(instance_id: str) -> Instance:
    return Instance(instance_id=instance_id, instance_type="g4dn.xlarge", state="running",
                    region=REGION, tags={"Name": instance_id})  # fmt: skip


def finding(
    instance_id: str, kind: Finding, *, to: str = "", saving: str = "100"
) -> Recommendation:
    action = {Finding.IDLE: "stop", Finding.OVER_PROVISIONED: "modify"}.get(kind, "none")
    return Recommendation(
        instance=box(instance_id), finding=kind, current_type="g4dn.xlarge",
        recommended_type=to, current_hourly=Decimal("0.526"), recommended_hourly=None,
        monthly_saving=Decimal(saving) if action != "none" else Decimal(0), risk=None,
        reason="", action=action,
    )  # fmt: skip


def change(change_id: int, instance_id: str, state: State, kind: Kind = Kind.STOP, *,
           day: int = 1, to: str = "g4dn.xlarge") -> Change:  # fmt: skip
    at = NOW.replace(day=day)
    return Change(
        id=change_id, created_at=at, updated_at=at, state=state, instance_id=instance_id,
        account_id="", region=REGION, team="nlp", from_type="g4dn.xlarge", to_type=to,
        monthly_saving=Decimal("100"), requested_by="costbot", kind=kind,
    )  # fmt: skip


def test_an_idle_finding_says_stop_it_first():
    assert advice_first([finding("i-idle", Finding.IDLE)], []) == {"i-idle": "idle: stop it first"}


def test_an_over_provisioned_finding_says_resize_first():
    findings = [finding("i-big", Finding.OVER_PROVISIONED, to="c5.xlarge")]
    assert advice_first(findings, []) == {"i-big": "over-provisioned: resize to c5.xlarge first"}


def test_findings_that_change_nothing_hold_nothing_back():
    findings = [
        finding("i-ok", Finding.OPTIMIZED),
        finding("i-new", Finding.NOT_ENOUGH_DATA),
        finding("i-alone", Finding.LEFT_ALONE),
        finding("i-free", Finding.IDLE, saving="0"),
    ]
    assert advice_first(findings, []) == {}


def test_open_proposals_hold_back_even_without_a_finding():
    changes = [
        change(1, "i-stop", State.PROPOSED),
        change(2, "i-resize", State.APPROVED, Kind.RESIZE, to="g4dn.large"),
        change(3, "i-snoozed", State.SNOOZED),
        change(4, "i-going", State.MODIFYING, Kind.RESIZE, to="g4dn.large"),
    ]
    assert advice_first([], changes) == {
        "i-stop": "idle: stop it first",
        "i-resize": "has an open resize proposal (g4dn.xlarge → g4dn.large)",
        "i-snoozed": "idle: stop it first",
        "i-going": "a resize is under way",
    }


def test_a_dismissed_proposal_lets_spot_be_offered_until_a_newer_one_opens():
    idle = [finding("i-idle", Finding.IDLE)]
    assert advice_first(idle, [change(1, "i-idle", State.DISMISSED)]) == {}
    newer = [
        change(1, "i-idle", State.DISMISSED, day=1),
        change(2, "i-idle", State.PROPOSED, day=5),
    ]
    assert advice_first(idle, newer) == {"i-idle": "idle: stop it first"}


def test_a_finished_change_leaves_the_word_to_the_finding():
    done = [change(1, "i-idle", State.DENIED)]
    assert advice_first([finding("i-idle", Finding.IDLE)], done) == {
        "i-idle": "idle: stop it first"
    }
    assert advice_first([finding("i-idle", Finding.OPTIMIZED)], done) == {}


def test_sagemaker_changes_say_nothing_about_ec2_instances():
    changes = [
        change(1, "fraud-v1", State.PROPOSED, Kind.ENDPOINT_COUNT, to="2"),
        change(2, "nlp-lab", State.STOPPING, Kind.NOTEBOOK_STOP),
        change(3, "i-idle", State.PROPOSED),
    ]
    assert advice_first([], changes) == {"i-idle": "idle: stop it first"}

"""/cost unit's engine: cost per 1,000 invocations, from a FOCUS file with SageMaker endpoint
lines and CloudWatch metrics written by the test (moto). Every expected figure is computed
here from what the test wrote.

The billing date is 2026-11-20: month to date is Nov 1 – 19, compared with Oct 1 – 19.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from engines.config.teams import load_config
from engines.costs.periods import parse_period
from engines.costs.sources.focus import FocusFileSource
from engines.costs.unit_cost import unit_cost
from engines.errors import UserInputError
from tests.conftest import DEMO_TEAMS, FOCUS_COLUMNS

TODAY = dt.date(2026, 11, 20)
ACCOUNT, REGION = "123456789012", "us-east-1"
SAGEMAKER, EC2 = "Amazon SageMaker", "Amazon Elastic Compute Cloud"
FIRST_DAY, LAST_DAY = dt.date(2026, 10, 1), dt.date(2026, 11, 22)  # the export's days


def endpoint_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{name}"


def daily_cost(resource: str, day: dt.date) -> Decimal:
    """What each billing line costs a day: November dearer than October."""
    november = day.month == 11
    return {
        endpoint_arn("fraud-scorer"): Decimal("10.25") if november else Decimal("8.10"),
        endpoint_arn("fraud-shadow"): Decimal("5.00"),
        endpoint_arn("ner-tagger"): Decimal("3.30"),
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/fraud-nb": Decimal("2.00"),
        "i-0fraud": Decimal("40.00"),
    }[resource]


LINES = (  # resource, service, tags
    (endpoint_arn("fraud-scorer"), SAGEMAKER, {"team": "fraud-detection", "model_name": "fraud-xgb"}),  # noqa: E501
    (endpoint_arn("fraud-shadow"), SAGEMAKER, {"team": "fraud-detection", "model_name": "fraud-xgb-v2"}),  # noqa: E501
    (endpoint_arn("ner-tagger"), SAGEMAKER, {"team": "nlp", "model_name": "bert-ner"}),
    (f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/fraud-nb", SAGEMAKER, {"team": "fraud-detection"}),  # noqa: E501
    ("i-0fraud", EC2, {"team": "fraud-detection"}),
)  # fmt: skip

# Invocations a day, per (endpoint, variant): October, November.
INVOCATIONS = {
    ("fraud-scorer", "AllTraffic"): (500, 1000),
    ("fraud-scorer", "Canary"): (0, 100),
    ("ner-tagger", "AllTraffic"): (2000, 2200),
}


def write_export(path: Path, *, named: bool = False) -> Path:
    """The export; ``named`` fills ``ResourceName`` too (the endpoint's name, as AWS does)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FOCUS_COLUMNS, "ResourceName"])
        writer.writeheader()
        day = FIRST_DAY
        while day <= LAST_DAY:
            for resource, service, tags in LINES:
                cost = str(daily_cost(resource, day))
                writer.writerow(
                    {
                        "BillingAccountId": ACCOUNT,
                        "SubAccountId": ACCOUNT,
                        "ChargePeriodStart": f"{day}T00:00:00Z",
                        "ChargePeriodEnd": f"{day + dt.timedelta(days=1)}T00:00:00Z",
                        "BillingCurrency": "USD",
                        "BilledCost": cost,
                        "EffectiveCost": cost,
                        "ListCost": cost,
                        "ChargeCategory": "Usage",
                        "ServiceName": service,
                        "RegionId": REGION,
                        "ResourceId": resource,
                        "ResourceName": resource.rsplit("/", 1)[-1] if named else "",
                        "Tags": json.dumps(tags),
                    }
                )
            day += dt.timedelta(days=1)
    return path


def put_invocations(cloudwatch) -> None:
    day = FIRST_DAY
    while day <= LAST_DAY:
        data = [
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": dt.datetime.combine(day, dt.time(12), dt.UTC),
                "Value": float(counts[day.month == 11]),
                "Unit": "None",
            }
            for (endpoint, variant), counts in INVOCATIONS.items()
        ]
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
        day += dt.timedelta(days=1)


def cost_between(resource: str, start: dt.date, end: dt.date) -> Decimal:
    days = (end - start).days
    return sum((daily_cost(resource, start + dt.timedelta(days=n)) for n in range(days)),
               Decimal(0))  # fmt: skip


def invocations_between(endpoint: str, start: dt.date, end: dt.date) -> int:
    days = [start + dt.timedelta(days=n) for n in range((end - start).days)]
    return sum(
        counts[day.month == 11]
        for (name, _), counts in INVOCATIONS.items()
        if name == endpoint
        for day in days
    )


NOV = (dt.date(2026, 11, 1), dt.date(2026, 11, 20))
SAME_DAYS_OF_OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 20))


@pytest.fixture
def world(tmp_path):
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        put_invocations(cloudwatch)
        asked: list[tuple[str, str]] = []

        def cloudwatch_for(account: str, region: str):
            asked.append((account, region))
            return boto3.client("cloudwatch", region_name=region)

        config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
        source = FocusFileSource(str(write_export(tmp_path / "export.csv")))

        def ask(subject: str, period: str = ""):
            return unit_cost(
                source,
                config.teams,
                subject=subject,
                period=parse_period(period, today=TODAY),
                cloudwatch_for=cloudwatch_for,
                today=TODAY,
            )

        yield ask, asked


def test_a_teams_endpoints_cost_per_thousand_invocations_with_the_trend(world):
    ask, asked = world
    answer = ask("fraud-detection")
    assert answer.subject == "fraud-detection"
    assert (answer.period.start, answer.period.end) == NOV
    prev = answer.previous_period
    assert prev is not None and (prev.start, prev.end) == SAME_DAYS_OF_OCT
    assert answer.data_through == dt.date(2026, 11, 19)
    # Endpoints only: the notebook and the EC2 instance are not serving costs.
    assert [line.name for line in answer.endpoints] == ["fraud-scorer", "fraud-shadow"]
    scorer = answer.endpoints[0]
    cost = cost_between(endpoint_arn("fraud-scorer"), *NOV)
    calls = invocations_between("fraud-scorer", *NOV)  # both variants
    assert calls == 19 * 1100
    assert scorer.now.cost == cost and scorer.now.invocations == calls
    assert scorer.now.per_thousand == cost * 1000 / calls
    assert scorer.model == "fraud-xgb"
    before_cost = cost_between(endpoint_arn("fraud-scorer"), *SAME_DAYS_OF_OCT)
    before_calls = invocations_between("fraud-scorer", *SAME_DAYS_OF_OCT)
    assert scorer.before is not None
    assert scorer.before.invocations == before_calls == 19 * 500
    then = before_cost * 1000 / before_calls
    assert scorer.change_pct == (cost * 1000 / calls - then) / then * 100
    assert scorer.as_json()["cost_per_1000"] == "9.32"  # 10.25 * 1000 / 1100
    assert scorer.as_json()["previous"]["cost_per_1000"] == "16.20"
    # Per model: one endpoint each here.
    assert {m.name: m.endpoints for m in answer.models} == {
        "fraud-xgb": ("fraud-scorer",),
        "fraud-xgb-v2": ("fraud-shadow",),
    }
    assert asked == [(ACCOUNT, REGION)]  # one client for the endpoints' account and region


def test_an_endpoint_nobody_calls_shows_its_cost_and_no_rate(world):
    ask, _ = world
    shadow = next(line for line in ask("fraud-detection").endpoints if line.name == "fraud-shadow")
    assert shadow.now.cost == cost_between(endpoint_arn("fraud-shadow"), *NOV)
    assert shadow.now.invocations == 0 and shadow.now.per_thousand is None
    assert shadow.change_pct is None
    assert shadow.as_json()["cost_per_1000"] is None
    answer = ask("fraud-detection")
    assert any("No invocations" in note and "fraud-shadow" in note for note in answer.notes)


def test_a_model_by_its_tag(world):
    ask, _ = world
    answer = ask("bert-ner", "last month")
    october = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert answer.subject == "bert-ner"
    assert [line.name for line in answer.endpoints] == ["ner-tagger"]
    (model,) = answer.models
    cost = cost_between(endpoint_arn("ner-tagger"), *october)
    assert model.now.cost == cost and model.now.invocations == 31 * 2000
    assert model.now.per_thousand == cost * 1000 / (31 * 2000)
    # September has no billing data: no trend against missing data.
    assert answer.previous_period is None and model.change_pct is None
    assert model.as_json()["previous"] is None


def test_an_unknown_model_gets_the_closest_name(world):
    ask, _ = world
    with pytest.raises(UserInputError) as caught:
        ask("fraud-xgbb")
    assert "Did you mean `fraud-xgb`?" in str(caught.value)
    assert "fraud-xgb-v2" in caught.value.hint and "bert-ner" in caught.value.hint


def test_lines_that_name_their_resource_are_matched_by_the_arn_they_carry(tmp_path):
    # Sources show a named resource as "fraud-scorer (arn:…)": the ARN inside still counts.
    with mock_aws():
        put_invocations(boto3.client("cloudwatch", region_name=REGION))
        config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
        answers = [
            unit_cost(
                FocusFileSource(str(write_export(tmp_path / f"{named}.csv", named=named))),
                config.teams,
                subject="fraud-detection",
                period=parse_period("", today=TODAY),
                cloudwatch_for=lambda _account, region: boto3.client("cloudwatch", region),
                today=TODAY,
            )
            for named in (False, True)
        ]
    plain, named = ([line.as_json() for line in a.endpoints] for a in answers)
    assert named == plain and [line["name"] for line in named] == ["fraud-scorer", "fraud-shadow"]
    assert named[0]["arn"] == endpoint_arn("fraud-scorer") and named[0]["invocations"] > 0


def test_a_period_cloudwatch_no_longer_holds_is_refused_in_words(tmp_path):
    """CloudWatch keeps a day's Sum for 455 days: a cost per 1,000 over older days would
    divide the cost by invocations it no longer has. Asked on Mar 1, 2028 about October
    2026, whose billing lines are still there."""
    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    source = FocusFileSource(str(write_export(tmp_path / "export.csv")))
    asked: list[str] = []
    later = dt.date(2028, 3, 1)
    with pytest.raises(UserInputError) as caught:
        unit_cost(
            source,
            config.teams,
            subject="fraud-detection",
            period=parse_period("2026-10", today=later),
            cloudwatch_for=lambda account, region: asked.append(region),
            today=later,
        )
    assert "CloudWatch keeps a day's invocations for 455 days" in str(caught.value)
    assert "before Dec 2, 2026" in str(caught.value)
    assert asked == []  # refused before any CloudWatch call

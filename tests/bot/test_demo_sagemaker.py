"""The demo world's SageMaker: fraud-detection's endpoints, notebooks and training jobs in moto,
their CloudWatch metrics and their billing lines, seen through the engines costbot uses.

Each resource is a case a rule must find (``bot.demo.sagemaker_fleet``): the review of a
started world gives exactly those recommendations, and the bill's lines are the resources'.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from bot.app import load_teams_file
from bot.demo.charges import FRAUD_TRAINING_SPEND
from bot.demo.focus_export import daily_spend
from bot.demo.sagemaker_fleet import ENDPOINTS, TRAINING_JOBS, price
from bot.demo.sagemaker_world import NOTEBOOK_CPU_METRIC
from bot.demo.world import DemoWorld, start_demo_world
from engines.sagemaker.inventory import list_inventory
from engines.sagemaker.metrics import fetch_endpoint_traffic, vcpus_of
from engines.sagemaker.models import Inventory, SageMakerAction
from engines.sagemaker.prices import TRAINING, SageMakerPriceBook
from engines.sagemaker.review import review_inventory
from engines.sagemaker.reviewer import SageMakerReviewer
from handlers.rightsizing.sagemaker_blocks import sagemaker_card_text
from tests.conftest import DEMO_NOW, DEMO_TEAMS

NOW = DEMO_NOW  # Sunday Dec 6, 15:00 UTC: billing data through Dec 5
TEAM = "fraud-detection"
PERIOD = (NOW - dt.timedelta(days=30), NOW)  # the training jobs of the last 30 days
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    demo = start_demo_world(workdir=tmp_path_factory.mktemp("demo"), now=NOW)
    yield demo
    demo.stop()


def inventory_of(world: DemoWorld, period: tuple[dt.datetime, dt.datetime]) -> Inventory:
    config = load_teams_file(DEMO_TEAMS)
    return list_inventory(
        world.client("sagemaker"),
        world.client("application-autoscaling"),
        team=TEAM,
        teams=config.teams,
        shared=config.shared,
        region=world.region,
        period_start=period[0],
        period_end=period[1],
    )


@pytest.fixture(scope="module")
def inventory(world: DemoWorld) -> Inventory:
    return inventory_of(world, PERIOD)


@pytest.fixture(scope="module")
def sagemaker_rows(world: DemoWorld) -> list[dict[str, Any]]:
    """fraud-detection's SageMaker usage lines of the export."""
    rows = []
    for path in sorted(world.focus_dir.glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            team = json.loads(row["Tags"]).get("team")
            if row["ServiceName"] == "Amazon SageMaker" and team == TEAM:
                rows.append(row)
    return rows


def cost(value: float) -> Decimal:
    return Decimal(repr(value))


def test_the_inventory_finds_the_teams_endpoints_notebooks_and_jobs(inventory: Inventory) -> None:
    endpoints = {e.name: e for e in inventory.endpoints}
    assert set(endpoints) == {
        "fraud-realtime-scorer",
        "fraud-chargeback-scorer",
        "fraud-legacy-scorer",
    }
    shapes = {
        name: [(v.instance_type, v.instance_count, v.model_name) for v in e.variants]
        for name, e in endpoints.items()
    }
    assert shapes == {
        "fraud-realtime-scorer": [("ml.c5.4xlarge", 4, "fraud-xgb-v7")],
        "fraud-chargeback-scorer": [("ml.c5.xlarge", 4, "fraud-chargeback-v2")],
        "fraud-legacy-scorer": [("ml.c5.2xlarge", 2, "fraud-xgb-v5")],
    }
    assert endpoints["fraud-realtime-scorer"].variants[0].autoscaling_min == 3
    assert endpoints["fraud-chargeback-scorer"].prod and not endpoints["fraud-legacy-scorer"].prod
    # Created by the demo's clock, not moto's: the idle one is older than the 14-day lookback.
    assert all(e.created is not None and NOW - e.created > dt.timedelta(days=100)
               for e in endpoints.values())  # fmt: skip
    assert {e.tags["model_name"] for e in endpoints.values()} == {
        "fraud-xgb-v7",
        "fraud-chargeback-v2",
        "fraud-xgb-v5",
    }
    assert {n.name: n.status for n in inventory.notebooks} == {
        "fraud-lab-alice": "InService",
        "fraud-lab-bob": "Stopped",
    }
    jobs = {j.name: j for j in inventory.training_jobs}  # only those created in the period
    assert set(jobs) == {"fraud-hpo-sweep-45", "fraud-gnn-pretrain-3", "fraud-xgb-retrain-spot"}
    assert all(job.billable_seconds > 3600 for job in jobs.values())
    assert [(j.managed_spot, j.has_checkpoints) for j in jobs.values()] == [
        (False, True),
        (False, False),
        (True, True),
    ]


def test_a_two_week_review_sees_the_same_training_jobs(world: DemoWorld) -> None:
    recent = inventory_of(world, (NOW - dt.timedelta(days=14), NOW))
    assert [job.name for job in recent.training_jobs] == [
        "fraud-hpo-sweep-45",
        "fraud-gnn-pretrain-3",
        "fraud-xgb-retrain-spot",
    ]


def test_the_review_finds_exactly_the_waste_the_demo_was_built_with(
    world: DemoWorld, inventory: Inventory
) -> None:
    variants = [(e.name, v.name) for e in inventory.endpoints for v in e.variants]
    vcpus = {(e.name, v.name): vcpus_of(v.instance_type) for e in inventory.endpoints
             for v in e.variants}  # fmt: skip
    traffic = fetch_endpoint_traffic(world.client("cloudwatch"), variants, now=NOW, cpu_vcpus=vcpus)
    legacy = traffic[("fraud-legacy-scorer", "AllTraffic")]
    realtime = traffic[("fraud-realtime-scorer", "AllTraffic")]
    chargeback = traffic[("fraud-chargeback-scorer", "AllTraffic")]
    assert legacy.invocations == 0
    assert legacy.memory_max_percent is None and legacy.model_latency_ms is None
    assert realtime.invocations > 10_000_000
    assert realtime.memory_max_percent is not None and 50 < realtime.memory_max_percent < 60
    assert chargeback.memory_max_percent is not None and 15 < chargeback.memory_max_percent < 25
    assert chargeback.model_latency_ms is not None and 24 <= chargeback.model_latency_ms <= 36

    recs = review_inventory(
        inventory, traffic, prices=SageMakerPriceBook(), now=NOW, timezone="America/New_York"
    )

    found = {(r.name, r.action): r for r in recs}
    assert set(found) == {
        ("fraud-legacy-scorer", SageMakerAction.DELETE_ENDPOINT),
        ("fraud-chargeback-scorer", SageMakerAction.SET_INSTANCE_COUNT),
        ("fraud-hpo-sweep-45", SageMakerAction.USE_MANAGED_SPOT),
        ("fraud-gnn-pretrain-3", SageMakerAction.ADD_CHECKPOINTS),
    }  # nothing for the right-sized endpoint, the spot job, or the notebooks (no activity)
    idle = found[("fraud-legacy-scorer", SageMakerAction.DELETE_ENDPOINT)]
    assert idle.monthly_saving == (2 * price("ml.c5.2xlarge", "Hosting") * 730).quantize(CENT)
    fewer = found[("fraud-chargeback-scorer", SageMakerAction.SET_INSTANCE_COUNT)]
    assert (fewer.current_count, fewer.recommended_count) == (4, 2)
    assert "keeps 2 because it is prod" in fewer.reason
    assert fewer.monthly_saving == (2 * price("ml.c5.xlarge", "Hosting") * 730).quantize(CENT)
    # The card a person approves from shows the memory and latency behind the advice.
    card = sagemaker_card_text(fewer)
    memory, latency = chargeback.memory_max_percent, chargeback.model_latency_ms
    assert f"• peak memory {memory:.0f}% per instance" in card
    assert f"• model latency {latency:.0f} ms on average over 14 days" in card
    assert "• peak CPU " in card and "of 4 x ml.c5.xlarge" in card
    gnn = found[("fraud-gnn-pretrain-3", SageMakerAction.ADD_CHECKPOINTS)]
    assert gnn.reason.startswith("Add checkpoints first")


def test_the_bots_reviewer_adds_the_notebook_left_running_on_a_sunday(world: DemoWorld) -> None:
    # Sunday 10:00 in New York: outside working hours, and fraud-lab-alice's CPU (the
    # CloudWatch agent's) has stayed under 2 % since Friday evening.
    config = load_teams_file(DEMO_TEAMS)
    reviewer = SageMakerReviewer(
        sagemaker_for=lambda _account, _region: world.client("sagemaker"),
        autoscaling_for=lambda _account, _region: world.client("application-autoscaling"),
        cloudwatch_for=lambda _account, _region: world.client("cloudwatch"),
        prices=SageMakerPriceBook(),
        targets=[("", world.region)],
        now=lambda: NOW,
    )

    review = reviewer.review(config.teams[TEAM], teams=config.teams, shared=config.shared)

    assert review.skipped == () and review.resources == 3 + 2 + 3
    assert {(r.name, r.action) for r in review.recommendations} == {
        ("fraud-legacy-scorer", SageMakerAction.DELETE_ENDPOINT),
        ("fraud-chargeback-scorer", SageMakerAction.SET_INSTANCE_COUNT),
        ("fraud-hpo-sweep-45", SageMakerAction.USE_MANAGED_SPOT),
        ("fraud-gnn-pretrain-3", SageMakerAction.ADD_CHECKPOINTS),
        ("fraud-lab-alice", SageMakerAction.STOP_NOTEBOOK),
    }


def test_a_jobs_billable_time_is_what_its_billing_lines_pay_for(
    inventory: Inventory, sagemaker_rows: list[dict[str, Any]]
) -> None:
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for row in sagemaker_rows:
        if row["ResourceType"] == "TrainingJob":
            billed[row["ResourceName"]] += cost(row["BilledCost"])
    for job in inventory.training_jobs:
        hourly = price(job.instance_type, TRAINING)
        paid_for = Decimal(job.instance_seconds) / 3600 * hourly
        assert abs(paid_for - billed[job.name]) < CENT, job.name


def test_every_sagemaker_line_of_the_team_is_a_resource_in_moto(
    world: DemoWorld, sagemaker_rows: list[dict[str, Any]]
) -> None:
    sagemaker = world.client("sagemaker")
    arns = {e["EndpointArn"] for e in sagemaker.list_endpoints()["Endpoints"]}
    notebooks = sagemaker.list_notebook_instances()["NotebookInstances"]
    arns |= {n["NotebookInstanceArn"] for n in notebooks}
    arns |= {j["TrainingJobArn"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]}
    assert {row["ResourceId"] for row in sagemaker_rows} == arns
    for endpoint in ENDPOINTS:
        arn = sagemaker.describe_endpoint(EndpointName=endpoint.name)["EndpointArn"]
        tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
        lines = [row for row in sagemaker_rows if row["ResourceId"] == arn]
        assert lines and all(json.loads(row["Tags"])["model_name"] == tags["model_name"]
                             for row in lines)  # fmt: skip
        daily = {cost(row["BilledCost"]) for row in lines}
        assert daily == {24 * endpoint.instance_count * price(endpoint.instance_type, "Hosting")}
    assert len(TRAINING_JOBS) == len(sagemaker.list_training_jobs()["TrainingJobSummaries"])


def test_the_teams_sagemaker_spend_of_every_day_is_what_it_was(
    sagemaker_rows: list[dict[str, Any]],
) -> None:
    # Before issue 18 the team had two generic lines a day: one endpoint (6 x ml.c5.4xlarge,
    # $117.504) and one training line. The resources' lines add up to the same, to the cent.
    by_day: dict[dt.date, Decimal] = defaultdict(Decimal)
    for row in sagemaker_rows:
        by_day[row["ChargePeriodStart"].date()] += cost(row["BilledCost"])
    assert len(by_day) == 75
    for day, total in by_day.items():
        before = Decimal("117.504") + daily_spend(FRAUD_TRAINING_SPEND, day, now=NOW)
        assert abs(total - before) < Decimal("1E-6"), day


def test_endpoints_and_the_running_notebook_have_hourly_metrics(world: DemoWorld) -> None:
    cloudwatch = world.client("cloudwatch")

    def hourly(namespace: str, metric: str, dimensions: dict[str, str], stat: str) -> list:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=NOW - dt.timedelta(days=14),
            EndTime=NOW,
            Period=3600,
            Statistics=[stat],
        )["Datapoints"]
        return sorted(points, key=lambda point: point["Timestamp"])

    scorer = {"EndpointName": "fraud-realtime-scorer", "VariantName": "AllTraffic"}
    assert len(hourly("AWS/SageMaker", "Invocations", scorer, "Sum")) >= 13 * 24
    cpu = hourly("/aws/sagemaker/Endpoints", "CPUUtilization", scorer, "Maximum")
    assert max(p["Maximum"] for p in cpu) / 16 > 45  # above 45 % of each of its 16 vCPUs
    legacy = {"EndpointName": "fraud-legacy-scorer", "VariantName": "AllTraffic"}
    assert hourly("AWS/SageMaker", "Invocations", legacy, "Sum") == []
    notebook = hourly("CWAgent", NOTEBOOK_CPU_METRIC, {"NotebookInstanceName": "fraud-lab-alice"},
                      "Maximum")  # fmt: skip
    assert len(notebook) >= 13 * 24
    nights = [p["Maximum"] for p in notebook if p["Timestamp"].hour in (6, 7, 8)]  # 1-3 am NY
    assert nights and max(nights) < 2
    assert max(p["Maximum"] for p in notebook) > 15
    bob = {"NotebookInstanceName": "fraud-lab-bob"}  # stopped 20 days ago
    assert hourly("CWAgent", NOTEBOOK_CPU_METRIC, bob, "Maximum") == []


def test_the_demos_moto_carries_out_update_endpoint(world: DemoWorld) -> None:
    # moto lacks UpdateEndpoint; the world installs the stand-in, so a switch to a smaller
    # type through a new endpoint config is carried out (and switched back) in the demo.
    sagemaker = world.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName="fraud-realtime-scorer-smaller",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "fraud-xgb-v7",
                "InitialInstanceCount": 4,
                "InstanceType": "ml.c5.2xlarge",
            }
        ],
    )
    for config in ("fraud-realtime-scorer-smaller", "fraud-realtime-scorer-config"):
        sagemaker.update_endpoint(EndpointName="fraud-realtime-scorer", EndpointConfigName=config)
        described = sagemaker.describe_endpoint(EndpointName="fraud-realtime-scorer")
        assert described["EndpointConfigName"] == config

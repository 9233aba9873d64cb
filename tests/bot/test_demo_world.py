"""The demo world: a believable org in moto, with metrics and a FOCUS export that add up."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from bot.demo.fleet import (
    FLEET,
    FLEET_BY_NAME,
    PRICE_SNAPSHOT_DATE,
    PRICES,
    TEAM_NAMES,
    DemoInstance,
    hourly_utilization,
)
from bot.demo.focus_export import write_focus_export
from bot.demo.world import DemoWorld, start_demo_world

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
TEAMS_FILE = Path(__file__).parents[2] / "bot" / "demo" / "teams.toml"
FOCUS_COLUMNS = (
    "BillingAccountId", "SubAccountId", "SubAccountName", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", "BilledCost",
    "EffectiveCost", "ListCost", "ContractedCost", "ChargeCategory", "ChargeDescription",
    "ServiceName", "ServiceCategory", "ProviderName", "PublisherName", "InvoiceIssuerName",
    "RegionId", "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType",
    "SkuId", "PricingUnit", "PricingQuantity", "ConsumedQuantity", "ConsumedUnit",
    "ChargeFrequency", "CommitmentDiscountId", "Tags",
)  # fmt: skip
AWS_ENV_BEFORE = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    demo = start_demo_world(workdir=tmp_path_factory.mktemp("demo"), now=NOW)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def rows(world: DemoWorld) -> list[dict[str, Any]]:
    """Every line of the export, read back with pyarrow."""
    result: list[dict[str, Any]] = []
    for path in sorted(world.focus_dir.glob("*.parquet")):
        result += pq.read_table(path).to_pylist()
    return result


def instances_in_moto(world: DemoWorld) -> list[dict[str, Any]]:
    pages = world.client("ec2").get_paginator("describe_instances").paginate()
    return [instance for page in pages for r in page["Reservations"] for instance in r["Instances"]]


def instances_of(team: str | None) -> tuple[DemoInstance, ...]:
    """The demo fleet's instances of ``team``; ``None`` gives the untagged ones."""
    return tuple(instance for instance in FLEET if instance.team == team)


def tag_dict(instance: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}


def cost(value: float) -> Decimal:
    """A DOUBLE from the export back to the decimal it was written from."""
    return Decimal(repr(value))


def in_month(row: dict[str, Any], year: int, month: int) -> bool:
    start = row["ChargePeriodStart"]
    return (start.year, start.month) == (year, month)


# --- EC2 ------------------------------------------------------------------------------------


def test_every_team_runs_tagged_dev_and_prod_instances_in_moto(world: DemoWorld) -> None:
    by_team: dict[str, list[dict[str, str]]] = {}
    for instance in instances_in_moto(world):
        tags = tag_dict(instance)
        by_team.setdefault(tags.get("team", "(untagged)"), []).append(tags)

    for team in TEAM_NAMES:
        tags = by_team[team]
        assert len(tags) == len(instances_of(team))
        assert {t["env"] for t in tags} == {"dev", "prod"}
        assert {t["workload_type"] for t in tags} <= {"serving", "training", "batch", "notebook"}
        assert any(t.get("spot_eligible") == "true" for t in tags)
    assert by_team["platform"]
    assert all(set(tags) == {"Name"} for tags in by_team["(untagged)"])


def test_the_fleet_is_a_believable_size_with_cpu_and_gpu_types() -> None:
    assert 25 <= len(FLEET) <= 40
    families = {instance.instance_type.split(".")[0] for instance in FLEET}
    assert {"c5", "m5", "r5", "g4dn", "g5", "p3"} <= families
    assert all(instance.instance_type in PRICES for instance in FLEET)
    assert PRICES["m5.large"] == Decimal("0.096") and PRICES["g4dn.xlarge"] == Decimal("0.526")
    assert PRICES["m5.4xlarge"] == 8 * PRICES["m5.large"]
    assert PRICE_SNAPSHOT_DATE.year >= 2025


def test_every_team_of_the_teams_file_owns_instances() -> None:
    teams = tomllib.loads(TEAMS_FILE.read_text())["teams"]
    for name, team in teams.items():
        owned = [i for i in FLEET if all(i.tags.get(k) == v for k, v in team["tags"].items())]
        assert owned, name


def test_instances_meant_to_be_stopped_are_stopped(world: DemoWorld) -> None:
    states = {tag_dict(i)["Name"]: i["State"]["Name"] for i in instances_in_moto(world)}
    assert states["fraud-xgb-experiment"] == "stopped"
    assert states["fraud-etl-prod"] == "running"


def test_root_volumes_carry_the_instance_tags(world: DemoWorld) -> None:
    volume_id = world.volume_ids["nlp-finetune-g5"]
    volume = world.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    assert volume["Size"] == 2000
    assert tag_dict(volume)["team"] == "nlp"


def test_world_does_not_touch_the_environment(world: DemoWorld) -> None:
    assert {k: v for k, v in os.environ.items() if k.startswith("AWS_")} == AWS_ENV_BEFORE
    assert world.account_id == "123456789012"
    assert world.endpoint_url.startswith("http://127.0.0.1:")


# --- CloudWatch -----------------------------------------------------------------------------


def hourly_stats(world: DemoWorld, name: str, metric: str, namespace: str = "AWS/EC2") -> list:
    response = world.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": "InstanceId", "Value": world.instance_ids[name]}],
        StartTime=NOW - dt.timedelta(days=14),
        EndTime=NOW,
        Period=3600,
        Statistics=["Average", "Maximum"],
    )
    return response["Datapoints"]


def test_cloudwatch_has_14_days_of_hourly_cpu(world: DemoWorld) -> None:
    datapoints = hourly_stats(world, "fraud-etl-prod", "CPUUtilization")
    assert len(datapoints) == 14 * 24
    assert all(5 <= point["Average"] <= 12 for point in datapoints)  # over-provisioned


def test_an_idle_instance_has_no_cpu_and_almost_no_network(world: DemoWorld) -> None:
    cpu = hourly_stats(world, "fraud-sandbox-api", "CPUUtilization")
    network = hourly_stats(world, "fraud-sandbox-api", "NetworkIn")
    assert max(point["Maximum"] for point in cpu) < 2
    assert sum(point["Average"] for point in network) / 14 < 5_000_000  # bytes per day


def test_gpu_metrics_tell_an_idle_gpu_from_a_busy_one(world: DemoWorld) -> None:
    idle = hourly_stats(world, "recs-notebook-cara", "nvidia_smi_utilization_gpu", "CWAgent")
    busy = hourly_stats(world, "nlp-finetune-g5", "nvidia_smi_utilization_gpu", "CWAgent")
    assert max(point["Maximum"] for point in idle) < 2
    assert min(point["Average"] for point in busy) > 85
    assert hourly_stats(world, "nlp-finetune-g5", "mem_used_percent", "CWAgent")


def test_get_metric_data_answers_daily_cpu(world: DemoWorld) -> None:
    query = {
        "Id": "cpu",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/EC2",
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": world.instance_ids["nlp-api-prod"]}],
            },
            "Period": 86400,
            "Stat": "Average",
        },
    }
    response = world.client("cloudwatch").get_metric_data(
        MetricDataQueries=[query], StartTime=NOW - dt.timedelta(days=14), EndTime=NOW
    )
    values = response["MetricDataResults"][0]["Values"]
    assert len(values) == 14 and all(40 <= value <= 75 for value in values)


def test_a_training_job_started_ten_days_ago_has_ten_days_of_metrics(world: DemoWorld) -> None:
    assert len(hourly_stats(world, "recs-two-tower-train-1", "CPUUtilization")) == 10 * 24


def test_dev_boxes_are_busy_only_in_working_hours() -> None:
    notebook = FLEET_BY_NAME["fraud-notebook-alice"]  # New York
    weekday_afternoon = dt.datetime(2026, 11, 25, 19, tzinfo=dt.UTC)  # 14:00 in New York
    weekday_night = dt.datetime(2026, 11, 25, 8, tzinfo=dt.UTC)  # 03:00
    saturday_afternoon = dt.datetime(2026, 11, 28, 19, tzinfo=dt.UTC)
    assert hourly_utilization(notebook, weekday_afternoon)["CPUUtilization"] >= 30
    assert hourly_utilization(notebook, weekday_night)["CPUUtilization"] < 2
    assert hourly_utilization(notebook, saturday_afternoon)["CPUUtilization"] < 2


def test_hourly_utilization_is_deterministic() -> None:
    instance = FLEET_BY_NAME["nlp-inference-prod-1"]
    assert hourly_utilization(instance, NOW) == hourly_utilization(instance, NOW)
    assert set(hourly_utilization(instance, NOW)) >= {"nvidia_smi_utilization_gpu", "NetworkOut"}
    assert "nvidia_smi_utilization_gpu" not in hourly_utilization(
        FLEET_BY_NAME["nlp-api-prod"], NOW
    )


# --- FOCUS export ---------------------------------------------------------------------------


def test_export_has_the_focus_columns_and_one_file_per_month(world: DemoWorld) -> None:
    files = sorted(world.focus_dir.glob("*.parquet"))
    assert [f.name for f in files] == [
        "focus-1.0-2026-09.parquet",
        "focus-1.0-2026-10.parquet",
        "focus-1.0-2026-11.parquet",
    ]
    assert set(FOCUS_COLUMNS) <= set(pq.read_schema(files[0]).names)
    assert any(name.startswith("x_") for name in pq.read_schema(files[0]).names)


def test_export_covers_at_least_60_days(rows: list[dict[str, Any]]) -> None:
    days = {row["ChargePeriodStart"].date() for row in rows if row["ChargeCategory"] == "Usage"}
    assert len(days) >= 60
    assert max(days) == NOW.date() - dt.timedelta(days=1)


def test_an_instance_costs_its_price_times_hours_to_the_cent(
    world: DemoWorld, rows: list[dict[str, Any]]
) -> None:
    instance_id = world.instance_ids["fraud-etl-prod"]
    october = [row for row in rows if row["ResourceId"] == instance_id and in_month(row, 2026, 10)]
    assert len(october) == 31
    assert sum(cost(row["BilledCost"]) for row in october) == Decimal("0.768") * 24 * 31
    assert {row["ServiceName"] for row in october} == {"Amazon Elastic Compute Cloud"}


def expected_instance_hours(name: str, year: int, month: int) -> int:
    """Hours the instance ran in the month, from the fleet's days, computed here on purpose."""
    instance = FLEET_BY_NAME[name]
    now_hour = NOW.replace(minute=0)
    start = now_hour - dt.timedelta(days=instance.launched_days_ago)
    end = now_hour - dt.timedelta(days=instance.stopped_days_ago or 0)
    month_start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    month_end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC)
    end = min(end, month_end, dt.datetime.combine(NOW.date(), dt.time(), tzinfo=dt.UTC))
    seconds = (end - max(start, month_start)).total_seconds()
    return max(0, int(seconds // 3600))


@pytest.mark.parametrize("team", TEAM_NAMES)
@pytest.mark.parametrize(("year", "month"), [(2026, 10), (2026, 11)])
def test_team_instance_hours_add_up_to_fleet_prices(
    rows: list[dict[str, Any]], team: str, year: int, month: int
) -> None:
    billed = sum(
        cost(row["BilledCost"])
        for row in rows
        if in_month(row, year, month)
        and (row["x_UsageType"] or "").startswith("BoxUsage:")
        and json.loads(row["Tags"]).get("team") == team
    )
    expected = sum(
        PRICES[i.instance_type] * expected_instance_hours(i.name, year, month)
        for i in instances_of(team)
    )
    assert billed == expected


def test_teams_spend_on_several_services(rows: list[dict[str, Any]]) -> None:
    for team in TEAM_NAMES:
        services = {r["ServiceName"] for r in rows if json.loads(r["Tags"]).get("team") == team}
        assert len(services) >= 5, team


def test_untagged_spend_exists(rows: list[dict[str, Any]]) -> None:
    untagged = [
        row
        for row in rows
        if row["ChargeCategory"] == "Usage" and "team" not in json.loads(row["Tags"])
    ]
    assert sum(cost(row["BilledCost"]) for row in untagged) > 1000
    assert any(row["Tags"] == "{}" for row in untagged)
    assert any(json.loads(row["Tags"]) == {"Name": "legacy-jupyter"} for row in untagged)


def test_recommendations_month_to_date_is_up_on_the_p3_training_job(
    rows: list[dict[str, Any]],
) -> None:
    def recs_cost(year: int, month: int) -> Decimal:
        return sum(
            cost(row["BilledCost"])
            for row in rows
            if in_month(row, year, month)
            and row["ChargePeriodStart"].day < NOW.day
            and json.loads(row["Tags"]).get("team") == "recommendations"
        )

    assert recs_cost(2026, 11) > recs_cost(2026, 10) * Decimal("1.05")
    p3_days = {
        row["ChargePeriodStart"].date()
        for row in rows
        if row["ResourceName"] == "recs-two-tower-train-1" and row["ResourceType"] == "Instance"
    }
    assert min(p3_days) == NOW.date() - dt.timedelta(days=10)


def test_cost_types_relate_as_they_should(rows: list[dict[str, Any]]) -> None:
    assert all(row["ListCost"] >= row["BilledCost"] for row in rows)
    discounted = [row for row in rows if row["EffectiveCost"] < row["BilledCost"]]
    assert discounted and all(row["CommitmentDiscountId"] for row in discounted)
    assert {row["BillingCurrency"] for row in rows} == {"USD"}
    assert {row["ProviderName"] for row in rows} == {"AWS"}


def test_tax_and_credit_lines(rows: list[dict[str, Any]]) -> None:
    tax = [row for row in rows if row["ChargeCategory"] == "Tax"]
    credits = [row for row in rows if row["ChargeCategory"] == "Credit"]
    assert tax and all(row["Tags"] == "{}" for row in tax)
    assert not [row for row in tax if in_month(row, 2026, 11)]  # November is not closed yet
    assert credits and all(row["BilledCost"] < 0 for row in credits)


def test_duckdb_reads_the_export_through_the_glob(
    world: DemoWorld, rows: list[dict[str, Any]]
) -> None:
    query = f"SELECT count(*) FROM read_parquet('{world.focus_glob}')"
    assert duckdb.sql(query).fetchall() == [(len(rows),)]


def test_export_is_deterministic_and_the_same_in_csv(tmp_path: Path) -> None:
    # How fast it is: benchmarks/demo_world.py.
    ids = {instance.name: f"i-{index:017x}" for index, instance in enumerate(FLEET)}
    args: dict[str, Any] = dict(instance_ids=ids, account_id="123456789012", now=NOW)
    first = write_focus_export(tmp_path / "a", fmt="csv", **args)
    second = write_focus_export(tmp_path / "b", fmt="csv", **args)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]

    parquet = write_focus_export(tmp_path / "p", **args)
    csv_total = Decimal(0)
    for path in first:
        with path.open(newline="") as handle:
            csv_total += sum(Decimal(line["BilledCost"]) for line in csv.DictReader(handle))
    parquet_total = sum(
        cost(value) for path in parquet for value in pq.read_table(path)["BilledCost"].to_pylist()
    )
    assert csv_total == parquet_total

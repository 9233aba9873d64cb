"""Endpoint invocations from CloudWatch (moto): daily Sums per variant, in few calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engines.sagemaker.metrics import (
    MAX_QUERIES_PER_CALL,
    cloudwatch_call_plan,
    fetch_endpoint_traffic,
    fetch_notebook_activity,
)

NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)
TODAY = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def put(
    cw: Any,
    endpoint: str,
    variant: str,
    when: dt.datetime,
    value: float,
    *,
    name: str = "Invocations",
) -> None:
    namespace = "AWS/SageMaker" if name == "Invocations" else "/aws/sagemaker/Endpoints"
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": when,
                "Value": value,
                "Unit": "Count" if name == "Invocations" else "Percent",
            }
        ],
    )


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def count_calls(client: Any) -> list[int]:
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["MetricDataQueries"]))

    client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", count)
    return calls


def test_invocations_are_summed_per_day_and_an_unused_endpoint_has_none(cloudwatch: Any) -> None:
    for day in (1, 2, 3):
        put(cloudwatch, "busy", "AllTraffic", TODAY - dt.timedelta(days=day, hours=-2), 100)
        put(cloudwatch, "busy", "AllTraffic", TODAY - dt.timedelta(days=day, hours=-5), 50)
    put(cloudwatch, "busy", "AllTraffic", TODAY + dt.timedelta(hours=1), 999)  # today: not whole
    put(cloudwatch, "busy", "AllTraffic", TODAY - dt.timedelta(days=20), 999)  # before the window
    put(
        cloudwatch,
        "busy",
        "AllTraffic",
        TODAY - dt.timedelta(days=1, hours=-3),
        70,
        name="CPUUtilization",
    )

    traffic = fetch_endpoint_traffic(
        cloudwatch,
        [("busy", "AllTraffic"), ("quiet", "AllTraffic")],
        now=NOW,
        cpu_vcpus={("busy", "AllTraffic"): 4, ("quiet", "AllTraffic"): 4},
    )

    busy, quiet = traffic[("busy", "AllTraffic")], traffic[("quiet", "AllTraffic")]
    assert busy.invocations == 450 and busy.busiest_day == 150
    assert busy.cpu_max_percent == 17.5  # share of one ml.g4dn.xlarge
    assert quiet.invocations == 0 and quiet.daily_invocations == ()
    assert quiet.cpu_max_percent is None


def test_at_most_500_queries_go_in_one_call(cloudwatch: Any) -> None:
    calls = count_calls(cloudwatch)
    variants = [(f"endpoint-{n}", "AllTraffic") for n in range(501)]

    fetch_endpoint_traffic(cloudwatch, variants, now=NOW)

    assert calls == [MAX_QUERIES_PER_CALL, 1]
    assert cloudwatch_call_plan(501) == 2
    assert cloudwatch_call_plan(500, n_cpu=500) == 2


def test_a_naive_clock_is_refused(cloudwatch: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_endpoint_traffic(cloudwatch, [("e", "v")], now=NOW.replace(tzinfo=None))


def put_notebook_cpu(cw: Any, notebook: str, when: dt.datetime, value: float) -> None:
    """What the CloudWatch agent a lifecycle configuration installs publishes."""
    cw.put_metric_data(
        Namespace="CWAgent",
        MetricData=[
            {
                "MetricName": "cpu_usage_active",
                "Dimensions": [{"Name": "NotebookInstanceName", "Value": notebook}],
                "Timestamp": when,
                "Value": value,
                "Unit": "Percent",
            }
        ],
    )


def test_a_notebooks_cpu_peak_comes_from_the_agent_and_one_without_it_has_none(
    cloudwatch: Any,
) -> None:
    put_notebook_cpu(cloudwatch, "lab", NOW - dt.timedelta(minutes=50), 2.5)
    put_notebook_cpu(cloudwatch, "lab", NOW - dt.timedelta(minutes=110), 4.0)
    put_notebook_cpu(cloudwatch, "lab", NOW - dt.timedelta(hours=5), 90.0)  # before the window
    put_notebook_cpu(cloudwatch, "busy", NOW - dt.timedelta(minutes=20), 70.0)
    calls = count_calls(cloudwatch)

    activity = fetch_notebook_activity(cloudwatch, ["lab", "busy", "no-agent"], now=NOW)

    assert activity["lab"].cpu_max_percent == 4.0
    assert activity["busy"].cpu_max_percent == 70.0
    assert activity["no-agent"].cpu_max_percent is None  # not judged
    assert calls == [3]


def test_notebook_activity_is_asked_500_notebooks_a_call(cloudwatch: Any) -> None:
    calls = count_calls(cloudwatch)

    fetch_notebook_activity(cloudwatch, [f"lab-{n}" for n in range(1001)], now=NOW)

    assert calls == [500, 500, 1]

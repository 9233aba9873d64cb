"""Endpoint traffic from CloudWatch (moto): daily invocations, latency, memory, CPU and GPU
per variant, in few calls."""

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
    endpoint_queries,
    fetch_endpoint_traffic,
    fetch_notebook_activity,
    gpus_of,
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
    namespace = (
        "AWS/SageMaker" if name in ("Invocations", "ModelLatency") else "/aws/sagemaker/Endpoints"
    )
    unit = {"Invocations": "Count", "ModelLatency": "Microseconds"}.get(name, "Percent")
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
                "Unit": unit,
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

    # Every variant asks three queries (Invocations, ModelLatency, MemoryUtilization): 1,503
    # queries, so three full calls and one of 3 (it was 501 queries, [500, 1], with
    # Invocations alone).
    assert calls == [MAX_QUERIES_PER_CALL] * 3 + [3]
    assert cloudwatch_call_plan(501) == 4
    # With CPU for all of them too: 2,000 queries, exactly four calls.
    assert cloudwatch_call_plan(500, n_cpu=500) == 4


def test_400_variants_with_cpu_and_100_on_gpus_take_the_calls_the_plan_says(
    cloudwatch: Any,
) -> None:
    calls = count_calls(cloudwatch)
    variants = [(f"endpoint-{n}", "AllTraffic") for n in range(400)]
    vcpus = dict.fromkeys(variants, 4)
    gpus = dict.fromkeys(variants[:100], 1)

    fetch_endpoint_traffic(cloudwatch, variants, now=NOW, cpu_vcpus=vcpus, gpu_counts=gpus)

    # 3 x 400 + 400 CPU + 100 GPU = 1,700 queries: ceil(1,700 / 500) = 4 calls.
    assert endpoint_queries(400, n_cpu=400, n_gpu=100) == 1700
    assert calls == [500, 500, 500, 200]
    assert len(calls) == cloudwatch_call_plan(400, n_cpu=400, n_gpu=100) == 4
    # 63 days: 500 queries x 63 points = 31,500 datapoints, still one page: the same calls.
    assert cloudwatch_call_plan(400, lookback_days=63, n_cpu=400, n_gpu=100) == 4


def test_gpu_memory_and_latency_are_per_instance_figures(cloudwatch: Any) -> None:
    day1, day2 = TODAY - dt.timedelta(days=1, hours=-9), TODAY - dt.timedelta(days=2, hours=-9)
    # ml.g4dn.12xlarge: 4 GPUs, GPUUtilization summed over them (0-400).
    put(cloudwatch, "ranker", "AllTraffic", day1, 88, name="GPUUtilization")
    put(cloudwatch, "ranker", "AllTraffic", day2, 180, name="GPUUtilization")
    put(cloudwatch, "ranker", "AllTraffic", day1, 31, name="MemoryUtilization")
    put(cloudwatch, "ranker", "AllTraffic", day2, 38, name="MemoryUtilization")
    # 3,000 calls at 20 ms on day 1, 1,000 calls at 60 ms on day 2: 30 ms on average.
    put(cloudwatch, "ranker", "AllTraffic", day1, 3000)
    put(cloudwatch, "ranker", "AllTraffic", day2, 1000)
    put(cloudwatch, "ranker", "AllTraffic", day1, 20_000, name="ModelLatency")
    put(cloudwatch, "ranker", "AllTraffic", day2, 60_000, name="ModelLatency")
    pair = ("ranker", "AllTraffic")

    (ranker,) = fetch_endpoint_traffic(
        cloudwatch, [pair], now=NOW, gpu_counts={pair: gpus_of("ml.g4dn.12xlarge")}
    ).values()

    assert ranker.gpu_max_percent == 45  # 180 summed over 4 GPUs
    assert ranker.memory_max_percent == 38
    assert ranker.model_latency_ms == 30  # weighted by each day's invocations, in ms
    assert ranker.cpu_max_percent is None  # not asked


def test_a_gpu_type_without_its_gpu_metric_has_no_gpu_figure(cloudwatch: Any) -> None:
    put(
        cloudwatch,
        "ranker",
        "AllTraffic",
        TODAY - dt.timedelta(hours=20),
        40,
        name="CPUUtilization",
    )
    pair = ("ranker", "AllTraffic")

    (ranker,) = fetch_endpoint_traffic(
        cloudwatch, [pair], now=NOW, cpu_vcpus={pair: 4}, gpu_counts={pair: 1}
    ).values()

    assert ranker.cpu_max_percent == 10
    assert ranker.gpu_max_percent is None
    assert ranker.memory_max_percent is None and ranker.model_latency_ms is None


def test_gpu_counts_are_known_for_the_gpu_types_moto_serves_only() -> None:
    assert gpus_of("ml.g4dn.xlarge") == gpus_of("ml.g4dn.16xlarge") == 1
    assert gpus_of("ml.g4dn.12xlarge") == 4
    assert (gpus_of("ml.p3.2xlarge"), gpus_of("ml.p3.8xlarge"), gpus_of("ml.p3.16xlarge")) == (
        1,
        4,
        8,
    )
    assert gpus_of("ml.m5.xlarge") == gpus_of("ml.inf1.xlarge") == gpus_of("ml.g5.xlarge") == 0


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

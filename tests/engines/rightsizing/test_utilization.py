"""``engines.rightsizing.utilization`` against moto's CloudWatch (and botocore's Stubber for pages,
errors).

moto's ``GetMetricData`` costs periods x stored datapoints per query, so these tests keep to
short lookbacks and few datapoints wherever the figure under test allows it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from engines.rightsizing.utilization import (
    MAX_DATAPOINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    METRICS,
    METRICS_PER_GPU_INSTANCE,
    METRICS_PER_INSTANCE,
    UtilizationError,
    batch_size,
    cloudwatch_call_plan,
    datapoints_per_query,
    fetch_utilization,
    nearest_rank,
    period_for,
)

NOW = dt.datetime(2026, 3, 2, 12, 7, 30, tzinfo=dt.UTC)  # mid-period on purpose
END = dt.datetime(2026, 3, 2, 12, 5, tzinfo=dt.UTC)  # NOW rounded down to 5 minutes
REGION = "us-east-1"


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


class Recorder:
    """Counts ``GetMetricData`` calls and keeps each call's parameters."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        client.meta.events.register("before-call.cloudwatch.GetMetricData", self._count)
        client.meta.events.register("provide-client-params.cloudwatch.GetMetricData", self._keep)

    def _count(self, **_: Any) -> None:
        self.calls += 1

    def _keep(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(params)

    def queried(self) -> set[tuple[str, str]]:
        """(instance id, CloudWatch metric name) of every query sent."""
        return {
            (
                query["MetricStat"]["Metric"]["Dimensions"][0]["Value"],
                query["MetricStat"]["Metric"]["MetricName"],
            )
            for request in self.requests
            for query in request["MetricDataQueries"]
        }


def put(client: Any, metric: str, instance_id: str, points: list[tuple[dt.datetime, float]]):
    spec = METRICS[metric]
    data = [
        {
            "MetricName": spec.metric_name,
            "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
            "Timestamp": timestamp,
            "Value": value,
            "Unit": spec.unit,
        }
        for timestamp, value in points
    ]
    for start in range(0, len(data), 1000):
        client.put_metric_data(Namespace=spec.namespace, MetricData=data[start : start + 1000])


def every(minutes: int, hours: float, *, before: dt.datetime = END) -> list[dt.datetime]:
    """Times every ``minutes`` for ``hours`` hours, ending one step before ``before``."""
    count = int(hours * 60 / minutes)
    return [before - dt.timedelta(minutes=minutes * n) for n in range(count, 0, -1)]


def expected(
    points: list[tuple[dt.datetime, float]], start: dt.datetime, percentile: int
) -> tuple[float, float, int]:
    """(percentile, max, datapoints) computed from what was put, without the engine's code."""
    maxima: dict[int, float] = {}
    for timestamp, value in points:
        if start <= timestamp < END:
            slot = int((timestamp - start).total_seconds()) // 300
            maxima[slot] = max(value, maxima.get(slot, value))
    values = list(maxima.values())
    # The definition: the smallest value with at least percentile % of values at or below it.
    smallest = min(
        v for v in values if sum(x <= v for x in values) * 100 >= percentile * len(values)
    )
    return smallest, max(values), len(values)


# --- Figures against what was put -------------------------------------------------------------


def test_percentiles_and_maxima_equal_an_independent_computation(cloudwatch):
    rng = random.Random(11)
    put_points: dict[tuple[str, str], list[tuple[dt.datetime, float]]] = {}
    # Two samples a minute apart in most 5-minute windows: the engine must take their max.
    times = every(1, 20)[::2] + [END - dt.timedelta(days=1, hours=1)]  # one before the window
    for instance_id in ("i-aaaa", "i-bbbb"):
        for metric in ("cpu", "memory", "network_in"):
            scale = 1e6 if metric == "network_in" else 100
            points = [(t, round(rng.random() * scale, 3)) for t in times]
            put(cloudwatch, metric, instance_id, points)
            put_points[instance_id, metric] = points
    put(cloudwatch, "cpu", "i-aaaa", [(END + dt.timedelta(seconds=30), 999.0)])  # after the end

    found = fetch_utilization(cloudwatch, ["i-aaaa", "i-bbbb"], now=NOW, lookback_days=1)

    start = END - dt.timedelta(days=1)
    for (instance_id, metric), points in put_points.items():
        stats = found[instance_id].metrics[metric]
        assert (stats.percentile_value, stats.maximum, stats.datapoints) == expected(
            points, start, 95
        ), (instance_id, metric)
        assert stats.period_s == 300 and stats.percentile == 95
        assert stats.unit == METRICS[metric].unit
    assert set(found["i-aaaa"].metrics) == {"cpu", "memory", "network_in"}  # no disk: absent
    assert found["i-aaaa"].end == END and found["i-aaaa"].lookback_days == 1


def test_other_percentiles_are_computed_the_same_way(cloudwatch):
    points = [(t, float(v)) for v, t in enumerate(every(5, 10))]  # 0, 1, ..., 119
    put(cloudwatch, "cpu", "i-p", points)
    for percentile in (50, 90, 99, 100):
        stats = fetch_utilization(
            cloudwatch, ["i-p"], now=NOW, lookback_days=1, percentile=percentile
        )["i-p"].metrics["cpu"]
        start = END - dt.timedelta(days=1)
        assert stats.percentile_value == expected(points, start, percentile)[0]


def test_instances_with_little_data_show_fewer_hours(cloudwatch):
    put(cloudwatch, "cpu", "i-short", [(t, 10.0) for t in every(5, 20)])
    put(cloudwatch, "cpu", "i-long", [(t, 10.0) for t in every(5, 40)])
    put(cloudwatch, "memory", "i-memonly", [(t, 10.0) for t in every(5, 40)])

    found = fetch_utilization(cloudwatch, ["i-short", "i-long", "i-memonly", "i-none"], now=NOW,
                              lookback_days=2)  # fmt: skip

    assert found["i-short"].hours_of_data == pytest.approx(20)
    assert found["i-long"].hours_of_data == pytest.approx(40)
    assert found["i-memonly"].hours_of_data == 0  # hours count CPU datapoints
    assert found["i-none"].metrics == {} and found["i-none"].hours_of_data == 0


def test_hourly_data_counts_its_hours_not_its_periods(cloudwatch):
    # The demo world publishes one point an hour; 5-minute queries return one per hour.
    put(cloudwatch, "cpu", "i-hourly", [(t, 5.0) for t in every(60, 36)])
    stats = fetch_utilization(cloudwatch, ["i-hourly"], now=NOW, lookback_days=2)["i-hourly"]
    assert stats.metrics["cpu"].datapoints == 36
    assert stats.metrics["cpu"].period_s == 3600
    assert stats.hours_of_data == pytest.approx(36)


def test_a_stopped_night_does_not_stretch_the_spacing(cloudwatch):
    day_one = every(5, 6, before=END - dt.timedelta(hours=18))
    day_two = every(5, 6)
    put(cloudwatch, "cpu", "i-gap", [(t, 1.0) for t in day_one + day_two])
    stats = fetch_utilization(cloudwatch, ["i-gap"], now=NOW, lookback_days=2)["i-gap"]
    assert stats.metrics["cpu"].period_s == 300 and stats.hours_of_data == pytest.approx(12)


# --- Calls ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lookback_days", "instances", "gpus"), [(14, 12, 2), (1, 75, 0)])
def test_calls_are_the_plan_and_respect_the_limits(cloudwatch, lookback_days, instances, gpus):
    ids = [f"i-{n:04d}" for n in range(instances)]
    for instance_id in ids:  # one point each: moto's cost grows with stored datapoints
        put(cloudwatch, "cpu", instance_id, [(END - dt.timedelta(hours=2), 3.0)])
    recorder = Recorder(cloudwatch)

    found = fetch_utilization(cloudwatch, ids, now=NOW, lookback_days=lookback_days,
                              gpu_instance_ids=ids[:gpus])  # fmt: skip

    queries = (instances - gpus) * METRICS_PER_INSTANCE + gpus * METRICS_PER_GPU_INSTANCE
    assert recorder.calls == math.ceil(queries / batch_size(lookback_days)) > 1
    if gpus == 0:
        assert recorder.calls == cloudwatch_call_plan(
            instances, METRICS_PER_INSTANCE, lookback_days
        )
    points = datapoints_per_query(lookback_days)
    for request in recorder.requests:
        assert len(request["MetricDataQueries"]) * points <= MAX_DATAPOINTS_PER_CALL
        assert len(request["MetricDataQueries"]) <= MAX_QUERIES_PER_CALL
        assert request["ScanBy"] == "TimestampAscending"
        assert request["EndTime"] == END
        assert request["EndTime"] - request["StartTime"] == dt.timedelta(days=lookback_days)
        assert {q["MetricStat"]["Stat"] for q in request["MetricDataQueries"]} == {"Maximum"}
    assert sum(len(r["MetricDataQueries"]) for r in recorder.requests) == queries
    assert all(found[i].metrics["cpu"].maximum == 3.0 for i in ids)  # ids mapped back right


def test_the_call_plan():
    assert batch_size(14) == 25  # 4,032 five-minute points per query
    assert batch_size(1) == 350
    assert batch_size(93) == 45  # hourly: 2,232 points
    assert cloudwatch_call_plan(10_000, 5, 14) == 2_000
    assert cloudwatch_call_plan(0, 5, 14) == 0
    assert cloudwatch_call_plan(351, 1, 1) == 2


def test_gpu_metrics_only_for_gpu_instances(cloudwatch):
    for instance_id in ("i-gpu", "i-cpu"):  # both publish GPU metrics; only one is a GPU box
        put(cloudwatch, "gpu", instance_id, [(t, 80.0) for t in every(5, 2)])
        put(cloudwatch, "gpu_memory", instance_id, [(t, 12000.0) for t in every(5, 2)])
        put(cloudwatch, "cpu", instance_id, [(t, 20.0) for t in every(5, 2)])
    recorder = Recorder(cloudwatch)

    found = fetch_utilization(cloudwatch, ["i-gpu", "i-cpu"], now=NOW, lookback_days=1,
                              gpu_instance_ids={"i-gpu", "i-elsewhere"})  # fmt: skip

    assert set(found["i-gpu"].metrics) == {"cpu", "gpu", "gpu_memory"}
    assert found["i-gpu"].metrics["gpu_memory"].maximum == 12000.0
    assert found["i-gpu"].metrics["gpu_memory"].unit == "Megabytes"
    assert set(found["i-cpu"].metrics) == {"cpu"}
    gpu_names = {"nvidia_smi_utilization_gpu", "nvidia_smi_memory_used"}
    assert {name for instance_id, name in recorder.queried() if instance_id == "i-cpu"}.isdisjoint(
        gpu_names
    )
    assert set(found) == {"i-gpu", "i-cpu"}


def test_no_instances_no_calls(cloudwatch):
    recorder = Recorder(cloudwatch)
    assert fetch_utilization(cloudwatch, [], now=NOW) == {}
    assert recorder.calls == 0


def test_duplicates_are_asked_about_once(cloudwatch):
    recorder = Recorder(cloudwatch)
    found = fetch_utilization(cloudwatch, ["i-1", "i-1", "i-2"], now=NOW, lookback_days=1)
    assert list(found) == ["i-1", "i-2"]
    assert sum(len(r["MetricDataQueries"]) for r in recorder.requests) == 2 * METRICS_PER_INSTANCE


# --- Pages and errors (Stubber) ---------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudwatch",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


class Any_:
    """Matches any parameter value in a Stubber expectation."""

    def __eq__(self, other: object) -> bool:
        return True


def _result(query_id: str, values: list[float], start: dt.datetime, status: str = "Complete"):
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [start + dt.timedelta(minutes=5 * n) for n in range(len(values))],
        "Values": values,
        "StatusCode": status,
    }


def test_pages_are_followed_and_joined(stubbed):
    client, stubber = stubbed
    start = END - dt.timedelta(hours=1)
    first = _result("m0", [1.0, 2.0, 3.0], start, status="PartialData")
    second = _result("m0", [9.0, 4.0], start + dt.timedelta(minutes=15))
    memory = _result("m3", [50.0], start)
    expected_request = {
        "MetricDataQueries": Any_(),
        "StartTime": END - dt.timedelta(days=1),
        "EndTime": END,
        "ScanBy": "TimestampAscending",
    }
    stubber.add_response(
        "get_metric_data", {"MetricDataResults": [first, memory], "NextToken": "page-2"},
        expected_request,
    )  # fmt: skip
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [second]},
        {**expected_request, "NextToken": "page-2"},
    )

    found = fetch_utilization(client, ["i-paged"], now=NOW, lookback_days=1)["i-paged"]

    cpu = found.metrics["cpu"]
    assert (cpu.datapoints, cpu.maximum, cpu.percentile_value) == (5, 9.0, 9.0)
    assert found.metrics["memory"].maximum == 50.0
    assert found.hours_of_data == pytest.approx(5 * 300 / 3600)


def test_access_denied_reads_as_a_sentence(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("get_metric_data", "AccessDenied", "not authorized", 403)
    with pytest.raises(UtilizationError, match="cloudwatch:GetMetricData"):
        fetch_utilization(client, ["i-x"], now=NOW, lookback_days=1)


def test_a_failed_metric_is_an_error_not_a_missing_metric(stubbed):
    client, stubber = stubbed
    failed = _result("m0", [], END, status="InternalError")
    failed["Messages"] = [{"Code": "InternalError", "Value": "try again"}]
    stubber.add_response("get_metric_data", {"MetricDataResults": [failed]})
    with pytest.raises(UtilizationError, match="InternalError.*try again"):
        fetch_utilization(client, ["i-x"], now=NOW, lookback_days=1)


# --- Validation and the percentile ------------------------------------------------------------


@pytest.mark.parametrize("lookback_days", [0, -1, 94, 455])
def test_lookbacks_outside_1_to_93_days_are_refused(cloudwatch, lookback_days):
    with pytest.raises(ValueError, match="1 to 93 days"):
        fetch_utilization(cloudwatch, ["i-1"], now=NOW, lookback_days=lookback_days)
    with pytest.raises(ValueError, match="1 to 93 days"):
        cloudwatch_call_plan(1, 1, lookback_days)


def test_the_period_is_the_finest_still_kept():
    assert [period_for(days) for days in (1, 14, 15, 32, 63, 64, 93)] == [
        300, 300, 300, 300, 300, 3600, 3600
    ]  # fmt: skip


@pytest.mark.parametrize("percentile", [0, 101])
def test_percentiles_outside_1_to_100_are_refused(cloudwatch, percentile):
    with pytest.raises(ValueError, match="percentile"):
        fetch_utilization(cloudwatch, ["i-1"], now=NOW, percentile=percentile)


def test_a_naive_now_is_refused(cloudwatch):
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_utilization(cloudwatch, ["i-1"], now=NOW.replace(tzinfo=None))


@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    percentile=st.integers(1, 100),
)
def test_nearest_rank_is_the_definition(values, percentile):
    result = nearest_rank(values, percentile)
    at_or_below = sum(v <= result for v in values)
    below = sum(v < result for v in values)
    assert result in values
    assert at_or_below * 100 >= percentile * len(values)
    assert below * 100 < percentile * len(values)


def test_nearest_rank_known_values():
    assert nearest_rank([15, 20, 35, 40, 50], 30) == 20
    assert nearest_rank([15, 20, 35, 40, 50], 40) == 20
    assert nearest_rank([15, 20, 35, 40, 50], 100) == 50
    assert nearest_rank([3, 1, 2], 1) == 1
    with pytest.raises(ValueError):
        nearest_rank([], 50)

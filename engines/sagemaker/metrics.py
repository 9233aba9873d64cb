"""How much each endpoint variant was called and how busy it was: CloudWatch metrics.

``fetch_endpoint_traffic`` asks ``GetMetricData`` per variant (dimensions ``EndpointName``
and ``VariantName``) over the lookback (14 days by default), one datapoint per whole UTC day:

- ``AWS/SageMaker`` ``Invocations`` (``Sum``) and ``ModelLatency`` (``Average``, in
  microseconds; averaged over the lookback weighted by each day's invocations, given in ms);
- ``/aws/sagemaker/Endpoints`` ``MemoryUtilization`` (``Maximum``; already 0-100 per
  instance);
- ``/aws/sagemaker/Endpoints`` ``CPUUtilization`` (``Maximum``) for the variants given their
  vCPU count, and ``GPUUtilization`` (``Maximum``) for those given their GPU count.
  SageMaker publishes both summed over the instance's cores or GPUs (0-400 % on four vCPUs,
  0-400 % on four GPUs), so the peak is divided by the count to give a share of one instance
  (0-100), which ``engines.sagemaker.recommendations`` expects. ``ML_VCPUS`` and ``ML_GPUS``
  know the ml.* types moto serves.

Every figure is None when CloudWatch published nothing for it. No percentile statistics:
CloudWatch cannot compute them for statistic sets and moto does not at all.

**Batches.** One call carries at most 500 queries (``MAX_QUERIES_PER_CALL``) and returns at
most 100,800 datapoints before paginating; a daily query over 14 days has 14 points, so 500
queries always fit one page and the number of calls is ``ceil(queries / 500)``, with three
queries for every variant plus one for each CPU and each GPU asked (``cloudwatch_call_plan``).
Pages CloudWatch still returns are followed (``NextToken``).

The window ends at ``now`` rounded down to midnight UTC, so every day counted is whole. The
client is passed in and ``now`` given; nothing here reads the clock.

**Notebook activity** (``fetch_notebook_activity``). AWS publishes no CPU metric for notebook
instances, and moto has none either. The source is the CloudWatch agent's
``cpu_usage_active`` (namespace ``CWAgent``, statistic ``Maximum``) with the single dimension
``NotebookInstanceName``, as a lifecycle configuration that installs the agent publishes it
(``append_dimensions``/``aggregation_dimensions`` set to the notebook's name). The figure is
the peak over the last ``NOTEBOOK_LOOKBACK_HOURS`` hours, a share of the whole instance
(0-100). A notebook without that metric has no figure and is not judged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import explain
from engines.errors import CostbotError
from engines.sagemaker.models import EndpointTraffic, NotebookActivity

MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
MAX_LOOKBACK_DAYS = 63  # daily Sums of 5-minute data are exact up to its retention
DAY_S = 86_400
INVOCATIONS = ("AWS/SageMaker", "Invocations", "Sum")
LATENCY = ("AWS/SageMaker", "ModelLatency", "Average")  # microseconds
MEMORY = ("/aws/sagemaker/Endpoints", "MemoryUtilization", "Maximum")
CPU = ("/aws/sagemaker/Endpoints", "CPUUtilization", "Maximum")
GPU = ("/aws/sagemaker/Endpoints", "GPUUtilization", "Maximum")
QUERIES_PER_VARIANT = 3
"""Invocations, ModelLatency and MemoryUtilization: asked for every variant."""
NOTEBOOK_CPU = ("CWAgent", "cpu_usage_active", "Maximum")
NOTEBOOK_DIMENSION = "NotebookInstanceName"
NOTEBOOK_LOOKBACK_HOURS = 3
"""How far back a notebook's CPU peak is read: quiet this long, it is not being worked on."""
HOUR_S = 3_600


ML_VCPUS: dict[str, int] = {
    **{
        f"ml.c5.{size}": n
        for size, n in [
            ("large", 2),
            ("xlarge", 4),
            ("2xlarge", 8),
            ("4xlarge", 16),
            ("9xlarge", 36),
            ("18xlarge", 72),
        ]
    },
    **{
        f"ml.m5.{size}": n
        for size, n in [
            ("large", 2),
            ("xlarge", 4),
            ("2xlarge", 8),
            ("4xlarge", 16),
            ("12xlarge", 48),
            ("24xlarge", 96),
        ]
    },
    **{
        f"ml.g4dn.{size}": n
        for size, n in [
            ("xlarge", 4),
            ("2xlarge", 8),
            ("4xlarge", 16),
            ("8xlarge", 32),
            ("12xlarge", 48),
            ("16xlarge", 64),
        ]
    },
    **{f"ml.p3.{size}": n for size, n in [("2xlarge", 8), ("8xlarge", 32), ("16xlarge", 64)]},
    **{
        f"ml.inf1.{size}": n
        for size, n in [("xlarge", 4), ("2xlarge", 8), ("6xlarge", 24), ("24xlarge", 96)]
    },
    **{f"ml.t3.{size}": n for size, n in [("medium", 2), ("large", 2), ("xlarge", 4)]},
}
"""vCPUs of the ml.* types moto serves (as their EC2 namesakes)."""

ML_GPUS: dict[str, int] = {
    **{
        f"ml.g4dn.{size}": n
        for size, n in [
            ("xlarge", 1),
            ("2xlarge", 1),
            ("4xlarge", 1),
            ("8xlarge", 1),
            ("12xlarge", 4),
            ("16xlarge", 1),
        ]
    },
    **{f"ml.p3.{size}": n for size, n in [("2xlarge", 1), ("8xlarge", 4), ("16xlarge", 8)]},
}
"""NVIDIA GPUs of the ml.* GPU types moto serves (T4 on g4dn, V100 on p3, as their EC2
namesakes); a type not listed has no GPU and its GPUUtilization is not asked."""


def vcpus_of(instance_type: str) -> int:
    """vCPUs of an ml.* type, 0 when unknown (its CPU is then not asked)."""
    return ML_VCPUS.get(instance_type, 0)


def gpus_of(instance_type: str) -> int:
    """GPUs of an ml.* type, 0 for a CPU type or an unknown one (no GPU figure asked)."""
    return ML_GPUS.get(instance_type, 0)


class MetricsError(CostbotError):
    """CloudWatch could not say how much the endpoints were used."""


def batch_size(lookback_days: int) -> int:
    """Queries per call: at most 500, and a full answer fits one page."""
    return min(MAX_QUERIES_PER_CALL, MAX_DATAPOINTS_PER_CALL // lookback_days)


def endpoint_queries(n_variants: int, *, n_cpu: int = 0, n_gpu: int = 0) -> int:
    """How many queries ``fetch_endpoint_traffic`` asks: three per variant (Invocations,
    ModelLatency, MemoryUtilization), one per CPU and one per GPU figure asked."""
    return QUERIES_PER_VARIANT * n_variants + n_cpu + n_gpu


def cloudwatch_call_plan(
    n_variants: int, *, lookback_days: int = 14, n_cpu: int = 0, n_gpu: int = 0
) -> int:
    """How many ``GetMetricData`` calls ``fetch_endpoint_traffic`` makes, pagination aside.

    Args:
        n_variants: endpoint variants asked about (three queries each).
        lookback_days: days of history.
        n_cpu: variants whose CPU is asked too (one more query each).
        n_gpu: variants whose GPU is asked too (one more query each).
    """
    queries = endpoint_queries(n_variants, n_cpu=n_cpu, n_gpu=n_gpu)
    return math.ceil(queries / batch_size(lookback_days))


def fetch_endpoint_traffic(
    cloudwatch: Any,
    variants: Iterable[tuple[str, str]],
    *,
    now: dt.datetime,
    lookback_days: int = 14,
    cpu_vcpus: Mapping[tuple[str, str], int] | None = None,
    gpu_counts: Mapping[tuple[str, str], int] | None = None,
) -> dict[tuple[str, str], EndpointTraffic]:
    """Daily invocations, latency, memory (and CPU and GPU peaks) of each (endpoint, variant).

    Args:
        cloudwatch: a boto3 CloudWatch client.
        variants: (endpoint name, variant name) pairs; duplicates asked once.
        now: the current time, timezone-aware.
        lookback_days: whole days before today, 1 to 63.
        cpu_vcpus: (endpoint, variant) -> vCPUs of its instance type, for the variants whose
            ``CPUUtilization`` is asked too (see ``vcpus_of``); others get no CPU figure.
        gpu_counts: (endpoint, variant) -> GPUs of its instance type, for the variants whose
            ``GPUUtilization`` is asked too (see ``gpus_of``); others get no GPU figure.

    Returns:
        An ``EndpointTraffic`` per pair asked about; a variant never called has no daily
        values and no latency (CloudWatch publishes neither without traffic), and a figure
        CloudWatch did not publish is None.

    Raises:
        ValueError: a naive ``now`` or a lookback outside 1 to 63 days.
        MetricsError: CloudWatch refused or failed a call.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (CloudWatch times are UTC)")
    if not 1 <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise ValueError(f"a lookback of {lookback_days} days is not supported: choose 1 to 63")
    end = dt.datetime.fromtimestamp(int(now.timestamp()) // DAY_S * DAY_S, tz=dt.UTC)
    start = end - dt.timedelta(days=lookback_days)
    pairs = list(dict.fromkeys(variants))
    cpu_vcpus = {pair: n for pair, n in (cpu_vcpus or {}).items() if n > 0}
    gpu_counts = {pair: n for pair, n in (gpu_counts or {}).items() if n > 0}
    queries = [(pair, metric) for pair in pairs for metric in (INVOCATIONS, LATENCY, MEMORY)]
    queries += [(pair, CPU) for pair in pairs if pair in cpu_vcpus]
    queries += [(pair, GPU) for pair in pairs if pair in gpu_counts]
    values: dict[tuple[tuple[str, str], str], list[_Point]] = {}
    size = batch_size(lookback_days)
    for first in range(0, len(queries), size):
        batch = queries[first : first + size]
        asked = [_endpoint_query(pair, metric) for pair, metric in batch]
        for index, series in _fetch(cloudwatch, asked, start, end):
            pair, metric = batch[index]
            values[(pair, metric[1])] = series
    result = {}
    for pair in pairs:
        daily = values.get((pair, INVOCATIONS[1]), [])
        cpu = _peak(values.get((pair, CPU[1])), cpu_vcpus.get(pair, 1))
        gpu = _peak(values.get((pair, GPU[1])), gpu_counts.get(pair, 1))
        latency = _weighted_mean(values.get((pair, LATENCY[1]), []), daily)
        result[pair] = EndpointTraffic(
            endpoint=pair[0],
            variant=pair[1],
            lookback_days=lookback_days,
            daily_invocations=tuple(value for _, value in daily),
            cpu_max_percent=cpu,
            gpu_max_percent=gpu,
            memory_max_percent=_peak(values.get((pair, MEMORY[1])), 1),
            model_latency_ms=latency / 1000 if latency is not None else None,
        )
    return result


def _peak(series: list[_Point] | None, divisor: int) -> float | None:
    """The series' maximum divided by the cores or GPUs it is summed over; None if empty."""
    if not series:
        return None
    return max(value for _, value in series) / divisor


def _weighted_mean(averages: list[_Point], counts: list[_Point]) -> float | None:
    """The lookback's average from daily averages, each weighted by its day's invocations
    (a plain mean of the days when no day's invocations are known)."""
    if not averages:
        return None
    weights: dict[dt.datetime | None, float] = {when: n for when, n in counts if when is not None}
    weighted = [(value, weights.get(when, 0.0)) for when, value in averages]
    total = sum(weight for _, weight in weighted)
    if total <= 0 or any(when is None for when, _ in averages):
        return sum(value for _, value in averages) / len(averages)
    return sum(value * weight for value, weight in weighted) / total


def fetch_notebook_activity(
    cloudwatch: Any,
    notebooks: Iterable[str],
    *,
    now: dt.datetime,
    lookback_hours: int = NOTEBOOK_LOOKBACK_HOURS,
) -> dict[str, NotebookActivity]:
    """Each notebook's CPU peak over the last hours, from the CloudWatch agent.

    The metric is ``CWAgent`` ``cpu_usage_active`` with the one dimension
    ``NotebookInstanceName`` (published by the agent a lifecycle configuration installs;
    AWS publishes no CPU metric for notebook instances by default). Hourly ``Maximum``s,
    at most 500 queries a call.

    Args:
        cloudwatch: a boto3 CloudWatch client.
        notebooks: notebook instance names; duplicates asked once.
        now: the current time, timezone-aware.
        lookback_hours: hours before ``now`` to look at, 1 to 24.

    Returns:
        A ``NotebookActivity`` per notebook asked about; ``cpu_max_percent`` is None for one
        without the agent's metric, which is then not judged (``review_notebook``).

    Raises:
        ValueError: a naive ``now`` or a lookback outside 1 to 24 hours.
        MetricsError: CloudWatch refused or failed a call.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (CloudWatch times are UTC)")
    if not 1 <= lookback_hours <= 24:
        raise ValueError(f"a lookback of {lookback_hours} hours is not supported: choose 1 to 24")
    names = list(dict.fromkeys(notebooks))
    end = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    start = end - dt.timedelta(hours=lookback_hours)
    peaks: dict[str, float] = {}
    for first in range(0, len(names), MAX_QUERIES_PER_CALL):
        batch = names[first : first + MAX_QUERIES_PER_CALL]
        asked: list[_Query] = [(NOTEBOOK_CPU, ((NOTEBOOK_DIMENSION, name),)) for name in batch]
        for index, series in _fetch(cloudwatch, asked, start, end, period=HOUR_S):
            if series:
                peaks[batch[index]] = max(value for _, value in series)
    return {name: NotebookActivity(name, peaks.get(name)) for name in names}


_Point = tuple[dt.datetime | None, float]
"""(timestamp, value) of a datapoint; CloudWatch gives both."""
_Query = tuple[tuple[str, str, str], tuple[tuple[str, str], ...]]
"""((namespace, metric, statistic), ((dimension, value), ...))."""


def _endpoint_query(pair: tuple[str, str], metric: tuple[str, str, str]) -> _Query:
    return metric, (("EndpointName", pair[0]), ("VariantName", pair[1]))


def _fetch(
    cloudwatch: Any,
    batch: list[_Query],
    start: dt.datetime,
    end: dt.datetime,
    *,
    period: int = DAY_S,
) -> Iterator[tuple[int, list[tuple[dt.datetime | None, float]]]]:
    """(query index, [(timestamp, value), ...]) for every query CloudWatch answered."""
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for index, ((namespace, name, stat), dimensions) in enumerate(batch)
    ]
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    collected: dict[int, list[tuple[dt.datetime | None, float]]] = {}
    while True:
        try:
            page = cloudwatch.get_metric_data(**request)
        except ClientError as error:
            raise MetricsError(f"CloudWatch GetMetricData failed: {explain(error)}") from None
        except BotoCoreError as error:
            raise MetricsError(f"CloudWatch GetMetricData failed: {error}") from None
        for result in page.get("MetricDataResults", []):
            index = int(result["Id"][1:])
            values = [float(v) for v in result.get("Values", [])]
            stamps = result.get("Timestamps") or [None] * len(values)
            collected.setdefault(index, []).extend(zip(stamps, values, strict=True))
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    yield from collected.items()

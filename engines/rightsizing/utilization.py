"""How busy EC2 instances were: CloudWatch percentiles and maxima, fetched in few calls.

``fetch_utilization`` asks CloudWatch ``GetMetricData`` for every metric of every instance in
as few calls as its limits allow, follows ``NextToken``, and reduces each metric to a
``MetricStats`` (percentile, maximum, datapoint count) in an ``Utilization`` per instance.

**Metrics.** ``cpu`` (AWS/EC2 ``CPUUtilization``, percent), ``network_in`` / ``network_out``
(AWS/EC2 ``NetworkIn`` / ``NetworkOut``, bytes), ``memory`` (CWAgent
``mem_used_percent``), ``disk`` (CWAgent ``disk_used_percent``) and, for GPU instances only,
``gpu`` (CWAgent ``nvidia_smi_utilization_gpu``, percent) and ``gpu_memory`` (CWAgent
``nvidia_smi_memory_used``, MiB although the agent labels it Megabytes). Every query uses the
single dimension ``InstanceId``; CloudWatch matches dimension sets exactly, so agent metrics
published with more dimensions (``path``/``device`` for disk, appended ``ImageId`` or
``InstanceType``) are found only when the agent also aggregates them by ``InstanceId``
(``"aggregation_dimensions": [["InstanceId"]]``). ``nvidia_smi_utilization_memory`` is not
used: it is the share of time GPU memory was being read or written, not how much is in use.
A metric without datapoints is absent from ``Utilization.metrics``. Network figures are bytes
per published datapoint (5 minutes under basic monitoring; under detailed monitoring the
5-minute Maximum is the busiest minute): divide by the datapoint's seconds for a rate.

**Why the Maximum per period, with the percentile computed here.** Each query asks for the
``Maximum`` statistic at a fine period and the percentile is computed here, nearest-rank,
over those per-period maxima. A period's maximum is the highest sample inside it, so no
spike shorter than the period is averaged away, and the percentile of per-period maxima is
never below the percentile of per-period averages: the figure errs towards "busier", and a
size chosen to fit it errs towards too big rather than too small, which is the safe side when
the change is a downsize. CloudWatch's own percentile statistics are not used: one
percentile over a 14-day period is a percentile of raw samples (at whatever rate each agent
publishes), not of the periods a workload must fit in; CloudWatch cannot compute them for
data published as statistic sets (unless each set holds one value); and moto (the test and
demo backend) does not compute them at all. One ``Maximum`` query per metric
gives the percentile, the maximum and the datapoint count at once, and CloudWatch prices
``GetMetricData`` per metric requested.

**Period.** The finest period CloudWatch still keeps for the oldest point of the lookback,
given basic monitoring (EC2 publishes every 5 minutes; 1-minute data needs detailed
monitoring): 300 s for a lookback up to 63 days (5-minute data is kept 63 days), 3,600 s
beyond (1-hour data is kept 455 days). Lookbacks of 1 to 93 days are accepted (93 is Compute
Optimizer's longest). The window ends at ``now`` rounded down to the period, so the last,
still-filling period is left out and every period is whole.

**Batches.** One call carries at most 500 queries and returns at most 100,800 datapoints
before paginating. Batches are sized so that queries x datapoints-per-query <= 100,800, so a
full answer fits one page: with 300-s periods a 14-day query has 4,032 points and a call
carries 25 queries; a 1-day lookback allows 350. ``cloudwatch_call_plan`` gives the number
of calls this makes (pagination aside); pages CloudWatch still returns are followed.

**Hours of data.** ``Utilization.hours_of_data`` is datapoints x ``period_s``. When a metric
is published less often than the query period (one point an hour, as in the demo world),
``period_s`` is the typical spacing of its datapoints (the median gap, in whole periods),
so an hourly series of 14 days still counts 336 hours, not 28.

The ``cloudwatch`` client is passed in, ``now`` is given; nothing here reads the environment
or the clock.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.errors import CostbotError
from engines.rightsizing.models import MetricStats, Utilization

MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
MIN_LOOKBACK_DAYS = 1
MAX_LOOKBACK_DAYS = 93
FIVE_MINUTE_RETENTION_DAYS = 63
FIVE_MINUTES = 300
ONE_HOUR = 3600
STATISTIC = "Maximum"
_SECONDS_PER_DAY = 86_400


class UtilizationError(CostbotError):
    """CloudWatch could not say how busy the instances were."""


@dataclass(frozen=True)
class MetricSpec:
    """Where one of our metrics lives in CloudWatch."""

    namespace: str
    metric_name: str
    unit: str
    gpu_only: bool = False


METRICS: dict[str, MetricSpec] = {
    "cpu": MetricSpec("AWS/EC2", "CPUUtilization", "Percent"),
    "network_in": MetricSpec("AWS/EC2", "NetworkIn", "Bytes"),
    "network_out": MetricSpec("AWS/EC2", "NetworkOut", "Bytes"),
    "memory": MetricSpec("CWAgent", "mem_used_percent", "Percent"),
    "disk": MetricSpec("CWAgent", "disk_used_percent", "Percent"),
    "gpu": MetricSpec("CWAgent", "nvidia_smi_utilization_gpu", "Percent", gpu_only=True),
    "gpu_memory": MetricSpec("CWAgent", "nvidia_smi_memory_used", "Megabytes", gpu_only=True),
}
"""Our metric name -> CloudWatch metric, in the order queries are sent."""

METRICS_PER_INSTANCE = sum(not spec.gpu_only for spec in METRICS.values())
METRICS_PER_GPU_INSTANCE = len(METRICS)


# --- The plan ---------------------------------------------------------------------------------


def period_for(lookback_days: int) -> int:
    """The query period in seconds for a lookback (see the module docstring).

    Args:
        lookback_days: days before ``now``; 1 to 93.

    Raises:
        ValueError: the lookback is outside 1 to 93 days.
    """
    _check_lookback(lookback_days)
    return FIVE_MINUTES if lookback_days <= FIVE_MINUTE_RETENTION_DAYS else ONE_HOUR


def datapoints_per_query(lookback_days: int) -> int:
    """The most datapoints one metric can return over the lookback (one per period).

    Args:
        lookback_days: days before ``now``; 1 to 93.
    """
    return lookback_days * _SECONDS_PER_DAY // period_for(lookback_days)


def batch_size(lookback_days: int) -> int:
    """Queries per ``GetMetricData`` call: at most 500, and a full answer fits one page.

    Args:
        lookback_days: days before ``now``; 1 to 93.
    """
    return min(MAX_QUERIES_PER_CALL, MAX_DATAPOINTS_PER_CALL // datapoints_per_query(lookback_days))


def cloudwatch_call_plan(n_instances: int, n_metrics: int, lookback_days: int) -> int:
    """How many ``GetMetricData`` calls ``fetch_utilization`` makes, pagination aside.

    Args:
        n_instances: instances asked about.
        n_metrics: metrics per instance (``METRICS_PER_INSTANCE``, or an average when some
            are GPU instances: the total number of queries divided by ``n_instances``).
        lookback_days: days before ``now``; 1 to 93.
    """
    if n_instances < 0 or n_metrics < 0:
        raise ValueError("the number of instances and of metrics cannot be negative")
    return math.ceil(n_instances * n_metrics / batch_size(lookback_days))


def _check_lookback(lookback_days: int) -> None:
    if not MIN_LOOKBACK_DAYS <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise ValueError(
            f"a lookback of {lookback_days} days is not supported: choose "
            f"{MIN_LOOKBACK_DAYS} to {MAX_LOOKBACK_DAYS} days (Compute Optimizer uses 14, "
            "32 or 93)"
        )


# --- Fetching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Query:
    instance_id: str
    metric: str


@dataclass(frozen=True)
class _Window:
    start: dt.datetime
    end: dt.datetime
    period_s: int


def fetch_utilization(
    cloudwatch: Any,
    instance_ids: Sequence[str],
    *,
    now: dt.datetime,
    lookback_days: int = 14,
    percentile: int = 95,
    gpu_instance_ids: Collection[str] = (),
) -> dict[str, Utilization]:
    """Percentile and maximum of each metric of each instance over the lookback.

    Args:
        cloudwatch: a boto3 CloudWatch client (its retry configuration is the caller's).
        instance_ids: the instances; duplicates are asked about once.
        now: the current time, timezone-aware; the window ends at it, rounded down to the
            period.
        lookback_days: days of history, 1 to 93 (Compute Optimizer's default is 14).
        percentile: 1 to 100, nearest-rank over the per-period maxima.
        gpu_instance_ids: instances also asked about GPU utilisation and GPU memory.

    Returns:
        A ``Utilization`` for every instance asked about, in the order given; metrics
        without datapoints are absent from its ``metrics``.

    Raises:
        ValueError: bad lookback, percentile or a naive ``now``.
        UtilizationError: CloudWatch refused or failed a call or a metric.
    """
    _check_arguments(now, lookback_days, percentile)
    window = _window(now, lookback_days)
    ids = list(dict.fromkeys(instance_ids))
    queries = list(_queries(ids, set(gpu_instance_ids)))
    metrics: dict[str, dict[str, MetricStats]] = {instance_id: {} for instance_id in ids}
    for batch in _batches(queries, batch_size(lookback_days)):
        for query, stats in _fetch_batch(cloudwatch, batch, window, percentile):
            metrics[query.instance_id][query.metric] = stats
    return {
        instance_id: Utilization(instance_id, window.end, lookback_days, metrics[instance_id])
        for instance_id in ids
    }


def _check_arguments(now: dt.datetime, lookback_days: int, percentile: int) -> None:
    _check_lookback(lookback_days)
    if not 1 <= percentile <= 100:
        raise ValueError(f"percentile {percentile} is not between 1 and 100")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (CloudWatch times are UTC)")


def _window(now: dt.datetime, lookback_days: int) -> _Window:
    period_s = period_for(lookback_days)
    epoch_seconds = int(now.timestamp()) // period_s * period_s
    end = dt.datetime.fromtimestamp(epoch_seconds, tz=dt.UTC)
    return _Window(end - dt.timedelta(days=lookback_days), end, period_s)


def _queries(instance_ids: Sequence[str], gpu_ids: Collection[str]) -> Iterator[_Query]:
    for instance_id in instance_ids:
        for metric, spec in METRICS.items():
            if not spec.gpu_only or instance_id in gpu_ids:
                yield _Query(instance_id, metric)


def _batches(queries: list[_Query], size: int) -> Iterator[list[_Query]]:
    for start in range(0, len(queries), size):
        yield queries[start : start + size]


def _fetch_batch(
    cloudwatch: Any, batch: list[_Query], window: _Window, percentile: int
) -> Iterator[tuple[_Query, MetricStats]]:
    """One ``GetMetricData`` request (all its pages), reduced to stats per query."""
    series = _get_metric_data(cloudwatch, _metric_data_queries(batch, window.period_s), window)
    for index, query in enumerate(batch):
        timestamps, values = series.get(f"m{index}", ([], []))
        if values:
            yield query, _stats(query.metric, timestamps, values, window.period_s, percentile)


def _metric_data_queries(batch: list[_Query], period_s: int) -> list[dict[str, Any]]:
    return [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRICS[query.metric].namespace,
                    "MetricName": METRICS[query.metric].metric_name,
                    "Dimensions": [{"Name": "InstanceId", "Value": query.instance_id}],
                },
                "Period": period_s,
                "Stat": STATISTIC,
            },
            "ReturnData": True,
        }
        for index, query in enumerate(batch)
    ]


Series = tuple[list[dt.datetime], list[float]]


def _get_metric_data(
    cloudwatch: Any, queries: list[dict[str, Any]], window: _Window
) -> dict[str, Series]:
    """Query id -> (timestamps, values), following ``NextToken`` until the last page."""
    series: dict[str, Series] = {}
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": window.start,
        "EndTime": window.end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = _call(cloudwatch, request)
        for result in page.get("MetricDataResults", []):
            _check_status(result)
            timestamps, values = series.setdefault(result["Id"], ([], []))
            timestamps.extend(result.get("Timestamps", []))
            values.extend(result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            return series
        request = {**request, "NextToken": token}


def _call(cloudwatch: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        response: dict[str, Any] = cloudwatch.get_metric_data(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise UtilizationError(_client_error_message(code, error)) from error
    except BotoCoreError as error:
        raise UtilizationError(f"CloudWatch could not be reached: {error}") from error
    return response


def _client_error_message(code: str, error: ClientError) -> str:
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return (
            "CloudWatch denied access: the bot's IAM role needs cloudwatch:GetMetricData "
            "to read instance utilization"
        )
    message = error.response.get("Error", {}).get("Message", str(error))
    return f"CloudWatch GetMetricData failed ({code or 'error'}): {message}"


def _check_status(result: dict[str, Any]) -> None:
    """``Complete`` and ``PartialData`` (more on the next page) are fine; others are not."""
    status = result.get("StatusCode", "Complete")
    if status in {"Complete", "PartialData"}:
        return
    messages = "; ".join(message.get("Value", "") for message in result.get("Messages", []))
    raise UtilizationError(
        f"CloudWatch answered {status} for {result.get('Label') or result.get('Id')}"
        + (f": {messages}" if messages else "")
    )


# --- Statistics -------------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], percentile: float) -> float:
    """The nearest-rank percentile: the smallest value with ``percentile`` % at or below it.

    Args:
        values: at least one value, in any order.
        percentile: more than 0, at most 100.
    """
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile {percentile} is not in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(percentile * len(ordered) / 100)  # p * n first: exact for integers
    return ordered[max(rank, 1) - 1]


def _stats(
    metric: str,
    timestamps: list[dt.datetime],
    values: list[float],
    period_s: int,
    percentile: int,
) -> MetricStats:
    return MetricStats(
        metric=metric,
        percentile=percentile,
        percentile_value=nearest_rank(values, percentile),
        maximum=max(values),
        datapoints=len(values),
        period_s=datapoint_spacing(timestamps, period_s),
        unit=METRICS[metric].unit,
    )


def datapoint_spacing(timestamps: Sequence[dt.datetime], period_s: int) -> int:
    """Seconds each datapoint stands for: the period, or the median gap if data is sparser.

    The median gap (rounded to whole periods) ignores the few long gaps of an instance that
    was stopped for a while, and finds the publishing interval of a metric published less
    often than the period.

    Args:
        timestamps: the datapoints' times, in any order.
        period_s: the query period.
    """
    if len(timestamps) < 2:
        return period_s
    ordered = sorted(timestamps)
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(ordered)]
    periods = round(statistics.median(gaps) / period_s)
    return max(1, periods) * period_s

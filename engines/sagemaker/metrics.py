"""How much each endpoint variant was called: CloudWatch ``AWS/SageMaker`` invocations.

``fetch_endpoint_traffic`` asks ``GetMetricData`` for ``Invocations`` (statistic ``Sum``,
dimensions ``EndpointName`` and ``VariantName``) per variant over the lookback (14 days by
default), one datapoint per whole UTC day, and, for the variants given their vCPU count, the
variant's ``CPUUtilization`` (namespace ``/aws/sagemaker/Endpoints``, statistic ``Maximum``
per day). SageMaker publishes CPU as the sum over an instance's cores (0-400 % on four
vCPUs), so the peak is divided by the vCPUs to give a share of one instance (0-100), which
``engines.sagemaker.recommendations`` expects; ``ML_VCPUS`` knows the common ml.* types.
No percentile statistics: CloudWatch cannot compute them for statistic sets and moto does
not at all.

**Batches.** One call carries at most 500 queries (``MAX_QUERIES_PER_CALL``) and returns at
most 100,800 datapoints before paginating; a daily query over 14 days has 14 points, so 500
queries always fit one page and the number of calls is ``ceil(queries / 500)``
(``cloudwatch_call_plan``). Pages CloudWatch still returns are followed (``NextToken``).

The window ends at ``now`` rounded down to midnight UTC, so every day counted is whole. The
client is passed in and ``now`` given; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.errors import CostbotError
from engines.sagemaker.models import EndpointTraffic

MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100_800
MAX_LOOKBACK_DAYS = 63  # daily Sums of 5-minute data are exact up to its retention
DAY_S = 86_400
INVOCATIONS = ("AWS/SageMaker", "Invocations", "Sum")
CPU = ("/aws/sagemaker/Endpoints", "CPUUtilization", "Maximum")


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


def vcpus_of(instance_type: str) -> int:
    """vCPUs of an ml.* type, 0 when unknown (its CPU is then not asked)."""
    return ML_VCPUS.get(instance_type, 0)


class MetricsError(CostbotError):
    """CloudWatch could not say how much the endpoints were used."""


def batch_size(lookback_days: int) -> int:
    """Queries per call: at most 500, and a full answer fits one page."""
    return min(MAX_QUERIES_PER_CALL, MAX_DATAPOINTS_PER_CALL // lookback_days)


def cloudwatch_call_plan(n_variants: int, *, lookback_days: int = 14, n_cpu: int = 0) -> int:
    """How many ``GetMetricData`` calls ``fetch_endpoint_traffic`` makes, pagination aside.

    Args:
        n_variants: endpoint variants asked about.
        lookback_days: days of history.
        n_cpu: variants whose CPU is asked too (one more query each).
    """
    return math.ceil((n_variants + n_cpu) / batch_size(lookback_days))


def fetch_endpoint_traffic(
    cloudwatch: Any,
    variants: Iterable[tuple[str, str]],
    *,
    now: dt.datetime,
    lookback_days: int = 14,
    cpu_vcpus: Mapping[tuple[str, str], int] | None = None,
) -> dict[tuple[str, str], EndpointTraffic]:
    """Daily invocations (and CPU peak) of each (endpoint, variant) over the lookback.

    Args:
        cloudwatch: a boto3 CloudWatch client.
        variants: (endpoint name, variant name) pairs; duplicates asked once.
        now: the current time, timezone-aware.
        lookback_days: whole days before today, 1 to 63.
        cpu_vcpus: (endpoint, variant) -> vCPUs of its instance type, for the variants whose
            ``CPUUtilization`` is asked too (see ``vcpus_of``); others get no CPU figure.

    Returns:
        An ``EndpointTraffic`` per pair asked about; a variant never called has no daily
        values (CloudWatch publishes no Invocations datapoint without traffic).

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
    queries = [(pair, INVOCATIONS) for pair in pairs]
    queries += [(pair, CPU) for pair in pairs if pair in cpu_vcpus]
    values: dict[tuple[tuple[str, str], str], list[float]] = {}
    size = batch_size(lookback_days)
    for first in range(0, len(queries), size):
        batch = queries[first : first + size]
        for index, series in _fetch(cloudwatch, batch, start, end):
            pair, metric = batch[index]
            values[(pair, metric[1])] = series
    result = {}
    for pair in pairs:
        cpu = values.get((pair, CPU[1]))
        result[pair] = EndpointTraffic(
            endpoint=pair[0],
            variant=pair[1],
            lookback_days=lookback_days,
            daily_invocations=tuple(values.get((pair, INVOCATIONS[1]), [])),
            cpu_max_percent=max(cpu) / cpu_vcpus[pair] if cpu else None,
        )
    return result


def _fetch(
    cloudwatch: Any,
    batch: list[tuple[tuple[str, str], tuple[str, str, str]]],
    start: dt.datetime,
    end: dt.datetime,
) -> Iterator[tuple[int, list[float]]]:
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": DAY_S,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for index, ((endpoint, variant), (namespace, name, stat)) in enumerate(batch)
    ]
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    collected: dict[int, list[float]] = {}
    while True:
        try:
            page = cloudwatch.get_metric_data(**request)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise MetricsError(
                f"CloudWatch GetMetricData failed: {details.get('Code', 'error')}: "
                f"{details.get('Message', '')}"
            ) from None
        except BotoCoreError as error:
            raise MetricsError(f"CloudWatch GetMetricData failed: {error}") from None
        for result in page.get("MetricDataResults", []):
            index = int(result["Id"][1:])
            collected.setdefault(index, []).extend(float(v) for v in result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    yield from collected.items()

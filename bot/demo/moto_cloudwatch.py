"""A faster CloudWatch metric store for moto, for the demo world and benchmarks.

moto's GetMetricData scans every stored datapoint for every period of every query, so a
14-day question about the demo fleet's hourly metrics times out. These replacements find a
metric's datapoints through an index by (namespace, name, dimensions) and give the same
answers for the queries costbot makes (MetricStat with dimensions); anything else falls back
to moto's own code. ``benchmarks/rightsize_fleet.py`` checks them against moto's answers.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Any

from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch.models import CloudWatchBackend

Key = tuple[str, str, frozenset[tuple[str, str]]]


def _index(backend: Any) -> dict[Key, tuple[list[dt.datetime], list[Any]]]:
    """Stored datapoints by (namespace, name, dimensions), sorted by time; rebuilt on change."""
    stamp = len(backend.metric_data) + len(backend.aws_metric_data)
    cached = getattr(backend, "_bench_index", None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    grouped: dict[Key, list[Any]] = defaultdict(list)
    for datum in backend.get_all_metrics():
        dimensions = frozenset((d.name, d.value) for d in datum.dimensions)
        grouped[datum.namespace, datum.name, dimensions].append(datum)
    index = {}
    for key, data in grouped.items():
        data.sort(key=lambda datum: datum.timestamp)
        index[key] = ([datum.timestamp for datum in data], data)
    backend._bench_index = (stamp, index)
    return index


def _between(entry: Any, start: dt.datetime, end: dt.datetime) -> list[Any]:
    timestamps, data = entry
    return data[bisect.bisect_left(timestamps, start) : bisect.bisect_left(timestamps, end)]


def indexed_get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: dt.datetime,
    end_time: dt.datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    """moto's GetMetricData for MetricStat queries with dimensions, found through an index."""
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    if start_time >= end_time or any(not _indexable(query) for query in queries):
        return ORIGINAL_GET_METRIC_DATA(self, queries, start_time, end_time, scan_by)
    index = _index(self)
    results = []
    for query in queries:
        stat = query["MetricStat"]
        metric = stat["Metric"]
        key = (metric["Namespace"], metric["MetricName"], _dimensions(metric["Dimensions"]))
        data = _between(index.get(key, ([], [])), start_time, end_time)
        if stat.get("Unit"):
            data = [datum for datum in data if datum.unit == stat["Unit"]]
        values, timestamps = _per_period(data, start_time, int(stat["Period"]), stat["Stat"])
        if scan_by == "TimestampDescending":
            values.reverse()
            timestamps.reverse()
        label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"
        results.append(
            {
                "id": query["Id"],
                "label": label,
                "values": values,
                "timestamps": timestamps,
                "status_code": "Complete",
            }
        )
    return results


def _indexable(query: dict[str, Any]) -> bool:
    return "MetricStat" in query and bool(query["MetricStat"]["Metric"].get("Dimensions"))


def _dimensions(dimensions: list[dict[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((d["Name"], d["Value"]) for d in dimensions)


def _per_period(data: list[Any], first: dt.datetime, period_s: int, stat: str):
    """moto's arithmetic: a ``Statistics`` per period (from ``first``) that has data."""
    delta = dt.timedelta(seconds=period_s)
    slots: dict[int, list[Any]] = defaultdict(list)
    for datum in data:
        slots[(datum.timestamp - first) // delta].append(datum)
    values, timestamps = [], []
    for slot in sorted(slots):
        statistics = cloudwatch_models.Statistics([stat], first + slot * delta)
        statistics.metric_data = slots[slot]
        values.append(statistics.get_statistics_for_type(stat))
        timestamps.append(statistics.timestamp)
    return values, timestamps


def indexed_get_metric_statistics(
    self: CloudWatchBackend,
    namespace: str,
    metric_name: str,
    start_time: dt.datetime,
    end_time: dt.datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[cloudwatch_models.Statistics]:
    """moto's GetMetricStatistics for exact dimension sets, found through an index."""
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    if not dimensions or start_time >= end_time:
        return ORIGINAL_GET_METRIC_STATISTICS(
            self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit
        )
    key = (namespace, metric_name, _dimensions(dimensions))
    data = _between(_index(self).get(key, ([], [])), start_time, end_time)
    if unit:
        data = [datum for datum in data if datum.unit == unit]
    if not data:
        return []
    delta = dt.timedelta(seconds=period)
    slots: dict[int, list[Any]] = defaultdict(list)
    for datum in data:  # moto's periods start at the first datapoint, not at StartTime
        slots[(datum.timestamp - data[0].timestamp) // delta].append(datum)
    answer = []
    for slot in sorted(slots):
        statistics = cloudwatch_models.Statistics(stats, data[0].timestamp + slot * delta)
        statistics.metric_data = slots[slot]
        statistics.unit = slots[slot][-1].unit
        answer.append(statistics)
    return answer


ORIGINAL_GET_METRIC_DATA = CloudWatchBackend.get_metric_data
ORIGINAL_GET_METRIC_STATISTICS = CloudWatchBackend.get_metric_statistics


def set_backends(*, indexed: bool) -> None:
    # A deliberate patch of moto's class: setattr, since mypy refuses assigning to a method.
    replacements = {
        "get_metric_data": indexed_get_metric_data if indexed else ORIGINAL_GET_METRIC_DATA,
        "get_metric_statistics": (
            indexed_get_metric_statistics if indexed else ORIGINAL_GET_METRIC_STATISTICS
        ),
    }
    for name, method in replacements.items():
        setattr(CloudWatchBackend, name, method)


def use_indexed_metrics() -> None:
    """Switches moto's CloudWatch backends to the indexed lookups (idempotent)."""
    set_backends(indexed=True)

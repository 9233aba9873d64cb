"""CloudWatch calls and time to read a 10,000-instance fleet's utilization, against the naive way.

In one process, under moto's ``mock_aws``:

1. Launches the fleet with ``run_instances`` in batches of 1,000 (5 % of it g4dn.xlarge GPU
   boxes).
2. Seeds CloudWatch for a random few of them (default 300 instances, the last 24 hours of
   5-minute datapoints of CPU, network in and out, memory, disk for half of them and the two
   GPU metrics for GPU boxes). Seeding calls moto's CloudWatch backend directly (its own
   ``put_metric_data``, validation included): through HTTP it takes minutes, and seeding is
   not what is measured.
3. Reads the whole fleet with ``engines.rightsizing.utilization.fetch_utilization`` (14 days, p95),
   counting ``GetMetricData`` calls with a botocore event hook and timing it.
4. The naive way, the same figures from ``GetMetricStatistics``: one call per instance per
   metric per window of at most 1,440 datapoints (the API's limit; 14 days of 5-minute
   maxima are 4,032 points, so 3 windows). It would make about 150,000 calls, so it runs on
   a random sample of instances (default 500); the fleet's call count is exact arithmetic and
   its time is the sample's time scaled by calls, said so in the output. Its answers for the
   sample are checked against ``fetch_utilization``'s (percentile, maximum, count).

moto's CloudWatch computes ``GetMetricData`` by scanning every stored datapoint for every
period of every query (an hour per query here), and ``GetMetricStatistics`` by scanning every
stored datapoint per call. Both backends are replaced, for this run only, by indexed
equivalents (same ``Statistics`` arithmetic, same period boundaries), checked against moto's
own on a sample before anything is timed. Requests and responses still go through botocore
and moto's parsers and serializers. The times are moto's in-process times, not AWS latencies:
the call counts are the figures that carry over.

Targets: GetMetricData calls <= the fewest that carry every datapoint (``ceil(metrics / 500)``
calls plus the extra pages CloudWatch's 100,800-datapoint page limit forces); fewer calls and
less time than the naive way; identical answers.

    .venv/bin/python benchmarks/rightsize_fleet.py [--instances 10000] [--with-data 300]
        [--sample 500] [--hours 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.cloudwatch import models as cloudwatch_models  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from summary import figures_line, print_table  # noqa: E402  (benchmarks/summary.py)

from bot.demo.moto_cloudwatch import (  # noqa: E402
    set_backends,
)
from engines.rightsizing.models import Utilization  # noqa: E402
from engines.rightsizing.utilization import (  # noqa: E402
    MAX_DATAPOINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    METRICS,
    batch_size,
    datapoints_per_query,
    fetch_utilization,
    nearest_rank,
    period_for,
)

REGION = "us-east-1"
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
LOOKBACK_DAYS = 14
PERCENTILE = 95
GPU_SHARE = 0.05
LAUNCH_BATCH = 1000
STATISTICS_MAX_DATAPOINTS = 1440  # GetMetricStatistics' limit per call
CHECKED = 3  # instances whose answers moto's own backends and the indexed ones must agree on
IMAGE_ID = "ami-04681a1dbd79675a5"  # in moto's default images
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION, config=CLIENT_CONFIG)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION, config=CLIENT_CONFIG)
        ids, gpu_ids, launch_s = launch_fleet(ec2, args.instances)
        rng = random.Random(args.seed)
        with_data = rng.sample(ids, min(args.with_data, len(ids)))
        with_data.sort(key=lambda instance_id: instance_id not in gpu_ids)  # GPU ones checked
        # The check runs moto's own backends, slow with many datapoints: before the rest.
        checked, seed_s = seed_metrics(with_data[:CHECKED], gpu_ids, args.hours, rng)
        install_indexed_backends(cloudwatch, with_data[:CHECKED], gpu_ids)
        seeded, more_s = seed_metrics(with_data[CHECKED:], gpu_ids, args.hours, rng)
        seeded, seed_s = seeded + checked, seed_s + more_s
        ours = measure_ours(cloudwatch, ids, gpu_ids)
        sample = rng.sample(ids, min(args.sample, len(ids)))
        naive = measure_naive(cloudwatch, sample, gpu_ids, ids)
        agree = answers_agree(ours.pop("answers"), naive.pop("answers"))
    context = {
        "instances": len(ids),
        "gpu_instances": len(gpu_ids),
        "instances_with_data": len(with_data),
        "datapoints_seeded": seeded,
        "launch_s": round(launch_s, 1),
        "seed_s": round(seed_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }
    return report(context, ours, naive, agree)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--with-data", type=int, default=300, help="instances given metrics")
    parser.add_argument("--hours", type=int, default=24, help="hours of 5-minute data each")
    parser.add_argument("--sample", type=int, default=500, help="instances read the naive way")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


# --- The fleet --------------------------------------------------------------------------------


def launch_fleet(ec2: Any, count: int) -> tuple[list[str], set[str], float]:
    """Instance ids (GPU boxes spread through the list), the GPU ids, and seconds taken."""
    started = time.perf_counter()
    gpus = round(count * GPU_SHARE)
    ids: list[str] = []
    gpu_ids: set[str] = set()
    for instance_type, total in (("g4dn.xlarge", gpus), ("m5.large", count - gpus)):
        for batch in _sizes(total, LAUNCH_BATCH):
            response = ec2.run_instances(
                ImageId=IMAGE_ID, InstanceType=instance_type, MinCount=batch, MaxCount=batch
            )
            launched = [instance["InstanceId"] for instance in response["Instances"]]
            ids.extend(launched)
            if instance_type.startswith("g"):
                gpu_ids.update(launched)
    random.Random(0).shuffle(ids)
    return ids, gpu_ids, time.perf_counter() - started


def _sizes(total: int, batch: int) -> Iterator[int]:
    while total > 0:
        yield min(batch, total)
        total -= batch


def seed_metrics(
    instance_ids: list[str], gpu_ids: set[str], hours: int, rng: random.Random
) -> tuple[int, float]:
    """Datapoints every 5 minutes (on period boundaries) for ``hours`` before NOW."""
    started = time.perf_counter()
    backend = cloudwatch_models.cloudwatch_backends[DEFAULT_ACCOUNT_ID][REGION]
    now = NOW.replace(tzinfo=None)  # moto keeps naive UTC times
    times = [now - dt.timedelta(minutes=5 * n) for n in range(hours * 12, 0, -1)]
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for position, instance_id in enumerate(instance_ids):
        for metric, spec in METRICS.items():
            if (spec.gpu_only and instance_id not in gpu_ids) or (
                metric == "disk" and position % 2
            ):
                continue
            base = rng.uniform(1, 60)
            by_namespace[spec.namespace].extend(
                {
                    "MetricName": spec.metric_name,
                    "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                    "Timestamp": timestamp,
                    "Value": round(base * rng.uniform(0.5, 1.6), 2),
                    "Unit": spec.unit,
                }
                for timestamp in times
            )
    for namespace, data in by_namespace.items():
        backend.put_metric_data(namespace, data)
    return sum(len(data) for data in by_namespace.values()), time.perf_counter() - started


def install_indexed_backends(cloudwatch: Any, check_ids: list[str], gpu_ids: set[str]) -> None:
    """Swap in the indexed backends after checking they answer as moto's own do."""
    checks = [
        fetch_both_ways(cloudwatch, check_ids, gpu_ids, indexed=indexed)
        for indexed in (False, True)
    ]
    if checks[0] != checks[1]:
        raise SystemExit("the indexed CloudWatch backends disagree with moto's: not timing")
    set_backends(indexed=True)


def fetch_both_ways(cloudwatch: Any, ids: list[str], gpu_ids: set[str], *, indexed: bool):
    """Both APIs' raw answers for ``ids`` over one day, with moto's or the indexed backends."""
    set_backends(indexed=indexed)
    answers: list[Any] = [fetch_utilization(cloudwatch, ids, now=NOW, lookback_days=1,
                                            gpu_instance_ids=gpu_ids)]  # fmt: skip
    for instance_id in ids:
        for metric in _metrics_of(instance_id, gpu_ids):
            answers.append(
                _statistics(cloudwatch, instance_id, metric, NOW - dt.timedelta(days=1), NOW)
            )
    return answers


# --- The two ways -----------------------------------------------------------------------------


class CallCounter:
    """Counts calls of one CloudWatch operation, and the ones that asked for a next page."""

    def __init__(self, client: Any, operation: str) -> None:
        self.calls = 0
        self.next_pages = 0
        client.meta.events.register(f"provide-client-params.cloudwatch.{operation}", self._on)

    def _on(self, params: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        self.next_pages += "NextToken" in params


def measure_ours(cloudwatch: Any, ids: list[str], gpu_ids: set[str]) -> dict[str, Any]:
    counter = CallCounter(cloudwatch, "GetMetricData")
    started = time.perf_counter()
    answers = fetch_utilization(cloudwatch, ids, now=NOW, lookback_days=LOOKBACK_DAYS,
                                percentile=PERCENTILE, gpu_instance_ids=gpu_ids)  # fmt: skip
    seconds = time.perf_counter() - started
    return {
        "calls": counter.calls,
        "next_pages": counter.next_pages,
        "seconds": seconds,
        "metrics": sum(len(_metrics_of(i, gpu_ids)) for i in ids),
        "with_metrics": sum(bool(u.metrics) for u in answers.values()),
        "answers": answers,
    }


def measure_naive(
    cloudwatch: Any, sample: list[str], gpu_ids: set[str], fleet: list[str]
) -> dict[str, Any]:
    """GetMetricStatistics per instance, metric and window, over ``sample``; scaled to ``fleet``."""
    counter = CallCounter(cloudwatch, "GetMetricStatistics")
    end = NOW  # on a period boundary, as fetch_utilization's window ends
    windows = list(_windows(end - dt.timedelta(days=LOOKBACK_DAYS), end))
    started = time.perf_counter()
    answers: dict[tuple[str, str], list[float]] = {}
    for instance_id in sample:
        for metric in _metrics_of(instance_id, gpu_ids):
            values = [
                v for s, e in windows for v in _statistics(cloudwatch, instance_id, metric, s, e)
            ]
            answers[instance_id, metric] = values
    seconds = time.perf_counter() - started
    fleet_calls = sum(len(_metrics_of(i, gpu_ids)) for i in fleet) * len(windows)
    return {
        "sample_instances": len(sample),
        "sample_calls": counter.calls,
        "sample_seconds": seconds,
        "windows_per_metric": len(windows),
        "fleet_calls": fleet_calls,
        "fleet_seconds_extrapolated": seconds * fleet_calls / max(counter.calls, 1),
        "answers": answers,
    }


def _windows(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    step = dt.timedelta(seconds=period_for(LOOKBACK_DAYS) * STATISTICS_MAX_DATAPOINTS)
    while start < end:
        yield start, min(start + step, end)
        start += step


def _statistics(cloudwatch: Any, instance_id: str, metric: str, start, end) -> list[float]:
    spec = METRICS[metric]
    response = cloudwatch.get_metric_statistics(
        Namespace=spec.namespace,
        MetricName=spec.metric_name,
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        StartTime=start,
        EndTime=end,
        Period=period_for(LOOKBACK_DAYS),
        Statistics=["Maximum"],
    )
    points = sorted(response["Datapoints"], key=lambda point: point["Timestamp"])
    return [point["Maximum"] for point in points]


def _metrics_of(instance_id: str, gpu_ids: set[str]) -> list[str]:
    return [m for m, spec in METRICS.items() if not spec.gpu_only or instance_id in gpu_ids]


def answers_agree(
    ours: dict[str, Utilization], naive: dict[tuple[str, str], list[float]]
) -> dict[str, int]:
    """Compare percentile, maximum and count for every (instance, metric) of the sample."""
    compared = disagreed = with_data = 0
    for (instance_id, metric), values in naive.items():
        stats = ours[instance_id].metrics.get(metric)
        mine = None if stats is None else (stats.percentile_value, stats.maximum, stats.datapoints)
        theirs = (nearest_rank(values, PERCENTILE), max(values), len(values)) if values else None
        compared += 1
        with_data += bool(values)
        disagreed += mine != theirs
    return {"compared": compared, "disagreed": disagreed, "with_data": with_data}


# --- Report -----------------------------------------------------------------------------------


def fewest_calls(metrics: int) -> tuple[int, int]:
    """(calls of 500 queries, extra pages the 100,800-datapoint limit adds to them)."""
    points = datapoints_per_query(LOOKBACK_DAYS)
    calls = math.ceil(metrics / MAX_QUERIES_PER_CALL)
    pages = sum(
        math.ceil(min(MAX_QUERIES_PER_CALL, metrics - start) * points / MAX_DATAPOINTS_PER_CALL)
        for start in range(0, metrics, MAX_QUERIES_PER_CALL)
    )
    return calls, pages - calls


def report(context: dict[str, Any], ours: dict[str, Any], naive: dict[str, Any], agree) -> int:
    calls, extra_pages = fewest_calls(ours["metrics"])
    target_calls = calls + extra_pages
    speed_up = naive["fleet_seconds_extrapolated"] / ours["seconds"]
    rows = [
        ("GetMetricData calls", f"<= {target_calls:,}", f"{ours['calls']:,}",
         ours["calls"] <= target_calls),
        ("calls vs naive", "fewer", f"{naive['fleet_calls'] / ours['calls']:.0f}x fewer",
         ours["calls"] < naive["fleet_calls"]),
        ("time vs naive (moto)", "less", f"{speed_up:.1f}x less",
         ours["seconds"] < naive["fleet_seconds_extrapolated"]),
        ("answers differ (sample)", "0", f"{agree['disagreed']} of {agree['compared']}",
         agree["disagreed"] == 0),
    ]  # fmt: skip
    print(
        f"utilization of {context['instances']:,} instances ({context['gpu_instances']} GPU), "
        f"{ours['metrics']:,} metrics, {LOOKBACK_DAYS} days at {period_for(LOOKBACK_DAYS)} s, "
        f"p{PERCENTILE}; {context['instances_with_data']} instances have data "
        f"({context['datapoints_seeded']:,} datapoints)"
    )
    print_table(rows)
    print(
        f"  target: ceil({ours['metrics']:,} / 500) = {calls} calls + {extra_pages:,} pages "
        f"forced by the 100,800-datapoint limit ({datapoints_per_query(LOOKBACK_DAYS):,} points "
        f"per metric); fetch_utilization sends {batch_size(LOOKBACK_DAYS)} metrics per call "
        f"instead, so no page is needed (next-page calls made: {ours['next_pages']})"
    )
    print(
        f"  ours: {ours['calls']:,} calls in {ours['seconds']:.1f} s (measured, whole fleet); "
        f"naive: {naive['fleet_calls']:,} GetMetricStatistics calls ({naive['windows_per_metric']}"
        f" windows of <= 1,440 points per metric), {naive['fleet_seconds_extrapolated']:.0f} s "
        f"extrapolated from {naive['sample_calls']:,} calls on {naive['sample_instances']} "
        f"instances taking {naive['sample_seconds']:.1f} s"
    )
    print(
        f"  answers compared on the sample: {agree['compared']} instance metrics, "
        f"{agree['with_data']} of them with datapoints (the rest must be absent both ways)"
    )
    print(
        f"  set-up: launch {context['launch_s']} s, seed {context['seed_s']} s; "
        f"whole run {context['total_s']} s (moto in-process, indexed CloudWatch backends)"
    )
    figures = {
        **context,
        "metrics": ours["metrics"],
        "lookback_days": LOOKBACK_DAYS,
        "period_s": period_for(LOOKBACK_DAYS),
        "metrics_per_call": batch_size(LOOKBACK_DAYS),
        "calls": ours["calls"],
        "next_page_calls": ours["next_pages"],
        "target_calls": target_calls,
        "target_calls_of_500": calls,
        "target_extra_pages": extra_pages,
        "seconds": round(ours["seconds"], 2),
        "instances_with_metrics": ours["with_metrics"],
        "naive_calls": naive["fleet_calls"],
        "naive_seconds_extrapolated": round(naive["fleet_seconds_extrapolated"], 1),
        "naive_sample_instances": naive["sample_instances"],
        "naive_sample_calls": naive["sample_calls"],
        "naive_sample_seconds": round(naive["sample_seconds"], 2),
        "answers_compared": agree["compared"],
        "answers_disagreed": agree["disagreed"],
        "answers_with_data": agree["with_data"],
        "met": all(met for *_, met in rows),
    }
    print(figures_line("rightsize_fleet", rows, figures))
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())

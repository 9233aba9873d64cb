"""A month of SageMaker reviewed for a whole organisation: 500 endpoints, 1,000 notebook
instances and 10,000 training jobs, every team, the way ``/cost rightsize`` asks.

In one process, under moto's ``mock_aws``:

1. Seeds SageMaker with the resources of ``--teams`` teams (tag ``team``), straight into
   moto's backend with its own ``create_*`` methods (seeding is not what is measured):
   endpoints with one or two variants (ml.c5/m5/g4dn), a third of them idle, a third
   over-provisioned; notebook instances, half of them running; training jobs of the month,
   two thirds on demand, each given an hour of billable time (moto gives none).
2. Seeds CloudWatch: 14 daily ``Invocations`` sums per busy variant, and the variant's daily
   CPU maximum (``/aws/sagemaker/Endpoints``), through moto's backend; the indexed metric
   store of ``bot.demo.moto_cloudwatch`` answers the queries, as in the demo. The review
   also asks every variant's ModelLatency and MemoryUtilization, and a GPU variant's
   GPUUtilization (none published here: those variants are judged on CPU).
3. Reviews every team through the engine entry point ``/cost rightsize`` calls
   (``engines.sagemaker.reviewer.SageMakerReviewer.review``), counting each AWS call by
   operation with a botocore event hook and timing it.

The CloudWatch floor: a call carries at most 500 queries and 100,800 datapoints, so the
fewest calls that can carry ``q`` daily queries over 14 days are
``max(ceil(q / 500), ceil(14 q / 100,800))``, counted team by team as each review asks.
Times are moto's in-process times (about 5 ms a call here), not AWS latencies; the call
counts are what carry over. moto returns a whole list in one page where AWS pages by 100
(``ListTrainingJobs`` would be 100 calls a team for 10,000 jobs, not 1).

    .venv/bin/python benchmarks/sagemaker_review.py [--endpoints 500] [--notebooks 1000]
        [--jobs 10000] [--teams 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.cloudwatch import models as cloudwatch_models  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.sagemaker.models import sagemaker_backends  # noqa: E402
from summary import figures_line, print_table  # noqa: E402  (benchmarks/summary.py)

from bot.demo.moto_cloudwatch import set_backends  # noqa: E402
from engines.models import Team  # noqa: E402
from engines.sagemaker.metrics import (  # noqa: E402
    MAX_DATAPOINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    NOTEBOOK_LOOKBACK_HOURS,
    endpoint_queries,
    gpus_of,
    vcpus_of,
)
from engines.sagemaker.prices import SageMakerPriceBook  # noqa: E402
from engines.sagemaker.recommendations import IDLE_LOOKBACK_DAYS, is_working_time  # noqa: E402
from engines.sagemaker.reviewer import SageMakerReviewer  # noqa: E402

REGION = "us-east-1"
ACCOUNT = DEFAULT_ACCOUNT_ID
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
ENDPOINT_TYPES = ("ml.c5.xlarge", "ml.m5.xlarge", "ml.g4dn.xlarge")
TRAINING_TYPES = ("ml.m5.xlarge", "ml.p3.2xlarge", "ml.g4dn.xlarge")
NOTEBOOK_TYPES = ("ml.t3.medium", "ml.m5.xlarge")
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
TIME_TARGET_S = 180.0  # moto in-process on a shared 2-core machine, every team


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    # moto dates what it creates by the wall clock, so the review runs "now"; the teams'
    # working hours are set so that running notebooks are judged (see ``_team``).
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with mock_aws():
        teams = {f"team-{n:02d}": _team(f"team-{n:02d}", now) for n in range(args.teams)}
        names = list(teams)
        seeded = seed_sagemaker(args, names, rng, now)
        queries = seed_cloudwatch(seeded, rng, now)
        set_backends(indexed=True)
        seed_s = time.perf_counter() - started
        calls: Counter[str] = Counter()
        reviewer = _reviewer(calls, now)
        began = time.perf_counter()
        found = resources = 0
        seconds: list[float] = []
        for team in teams.values():
            one = time.perf_counter()
            review = reviewer.review(team, teams=teams)
            seconds.append(time.perf_counter() - one)
            found += len(review.recommendations)
            resources += review.resources
            if review.skipped:
                raise SystemExit(f"{team.name} skipped: {review.skipped}")
        review_s = time.perf_counter() - began
    print(f"  first team (every resource's tags read): {seconds[0]:.1f} s; each further team: "
          f"{sum(seconds[1:]) / max(1, len(seconds) - 1):.1f} s on average")  # fmt: skip
    return report(args, seeded, queries, calls, found, resources, review_s, seed_s)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=500)
    parser.add_argument("--notebooks", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def _team(name: str, now: dt.datetime) -> Team:
    return Team(name=name, tags={"team": name}, channel=f"#{name}", timezone=_night_zone(now))


def _night_zone(now: dt.datetime) -> str:
    """A time zone where ``now`` is outside working hours, so running notebooks are judged."""
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin"):
        if not is_working_time(now, timezone=zone):
            return zone
    raise SystemExit("no time zone found where it is night: run again in an hour")


def _reviewer(calls: Counter[str], now: dt.datetime) -> SageMakerReviewer:
    clients: dict[str, Any] = {}

    def counted(service: str) -> Any:
        if service not in clients:
            client = boto3.client(service, region_name=REGION, config=CLIENT_CONFIG)
            client.meta.events.register(
                "before-call.*.*",
                lambda model, **_: calls.update([f"{service}:{model.name}"]),
            )
            clients[service] = client
        return clients[service]

    return SageMakerReviewer(
        sagemaker_for=lambda account, region: counted("sagemaker"),
        autoscaling_for=lambda account, region: counted("application-autoscaling"),
        cloudwatch_for=lambda account, region: counted("cloudwatch"),
        prices=SageMakerPriceBook(pricing_client=None, cache=None, now=lambda: now),
        targets=[("", REGION)],
        now=lambda: now,
    )


# --- Seeding ----------------------------------------------------------------------------------


def seed_sagemaker(
    args: argparse.Namespace, teams: list[str], rng: random.Random, now: dt.datetime
) -> dict[str, Any]:
    """Endpoints, notebooks and training jobs, straight into moto's backend."""
    backend = sagemaker_backends[ACCOUNT][REGION]
    naive_now = now.replace(tzinfo=None)
    variants: list[tuple[str, str, str, str]] = []  # endpoint, variant, type, story
    for n in range(args.endpoints):
        team = teams[n % len(teams)]
        tags = [{"Key": "team", "Value": team}]
        model = f"model-{n:04d}"
        backend.create_model(model, ROLE, {"Image": "ecr/image:latest"}, None, None, tags)
        story = ("idle", "over", "right")[n % 3]
        spec = []
        for v in range(1 + (n % 5 == 0)):
            itype = ENDPOINT_TYPES[(n + v) % len(ENDPOINT_TYPES)]
            count = 4 if story == "over" else 2
            spec.append(
                {
                    "VariantName": f"v{v}",
                    "ModelName": model,
                    "InstanceType": itype,
                    "InitialInstanceCount": count,
                    "InitialVariantWeight": 1.0,
                }
            )
            variants.append((f"endpoint-{n:04d}", f"v{v}", itype, story, team))
        backend.create_endpoint_config(f"config-{n:04d}", spec, {}, {}, tags, "")
        endpoint = backend.create_endpoint(f"endpoint-{n:04d}", f"config-{n:04d}", tags)
        endpoint.creation_time = naive_now - dt.timedelta(days=60)
    for n in range(args.notebooks):
        name = f"notebook-{n:04d}"
        tags = [{"Key": "team", "Value": teams[n % len(teams)]}]
        notebook = backend.create_notebook_instance(name, NOTEBOOK_TYPES[n % 2], ROLE, tags=tags)
        if n % 2:
            notebook.status = "Stopped"
    for n in range(args.jobs):
        tags = [{"Key": "team", "Value": teams[n % len(teams)]}]
        spot = n % 3 == 0
        job = backend.create_training_job(
            f"job-{n:05d}",
            {},
            {"TrainingImage": "ecr/train:latest", "TrainingInputMode": "File"},
            ROLE,
            [],
            {"S3OutputPath": "s3://bench/out"},
            {
                "InstanceType": TRAINING_TYPES[n % 3],
                "InstanceCount": 1 + n % 2,
                "VolumeSizeInGB": 50,
            },
            {},
            {"MaxRuntimeInSeconds": 86_400},
            tags,
            False,
            False,
            spot,
            {"S3Uri": "s3://bench/ckpt"} if n % 4 else {},
            {},
            [],
            {},
            {},
        )
        created = naive_now - dt.timedelta(days=rng.uniform(0.5, 29))
        job.creation_time = job.training_start_time = created
        job.training_end_time = created + dt.timedelta(hours=1)
    return {
        "variants": variants,
        "endpoints": args.endpoints,
        "notebooks": args.notebooks,
        "running_notebooks": len(range(0, args.notebooks, 2)),
        "running_by_team": Counter(teams[n % len(teams)] for n in range(0, args.notebooks, 2)),
        "jobs": args.jobs,
    }


def seed_cloudwatch(seeded: dict[str, Any], rng: random.Random, now: dt.datetime) -> int:
    """Daily invocations and CPU peaks for the busy variants; hourly notebook CPU. Returns
    the queries the review must ask (``variant_queries``, every running notebook once)."""
    backend = cloudwatch_models.cloudwatch_backends[ACCOUNT][REGION]
    midnight = now.replace(hour=0, tzinfo=None)
    days = [midnight - dt.timedelta(days=d) + dt.timedelta(hours=12) for d in range(1, 15)]
    invocations, cpu = [], []
    for endpoint, variant, itype, story, _team in seeded["variants"]:
        dimensions = [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ]
        if story == "idle":
            continue
        peak = 15 if story == "over" else 55
        for day in days:
            invocations.append(
                {
                    "MetricName": "Invocations",
                    "Dimensions": dimensions,
                    "Timestamp": day,
                    "Value": rng.randint(10_000, 90_000),
                    "Unit": "None",
                }
            )
            cpu.append(
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dimensions,
                    "Timestamp": day,
                    "Value": peak * vcpus_of(itype) * rng.uniform(0.8, 1.0),
                    "Unit": "Percent",
                }
            )
    backend.put_metric_data("AWS/SageMaker", invocations)
    backend.put_metric_data("/aws/sagemaker/Endpoints", cpu)
    notebook_cpu = [
        {
            "MetricName": "cpu_usage_active",
            "Dimensions": [{"Name": "NotebookInstanceName", "Value": f"notebook-{n:04d}"}],
            "Timestamp": now.replace(tzinfo=None) - dt.timedelta(minutes=30 + 60 * h),
            "Value": rng.uniform(0.1, 2.0),
            "Unit": "Percent",
        }
        for n in range(0, seeded["notebooks"], 2)
        for h in range(NOTEBOOK_LOOKBACK_HOURS)
    ]
    backend.put_metric_data("CWAgent", notebook_cpu)
    return variant_queries(seeded["variants"]) + seeded["running_notebooks"]


def variant_queries(variants: list[Any]) -> int:
    """Queries for these variants: three each (invocations, latency, memory), one for CPU,
    and one for GPU on a GPU type."""
    return endpoint_queries(
        len(variants),
        n_cpu=sum(1 for variant in variants if vcpus_of(variant[2])),
        n_gpu=sum(1 for variant in variants if gpus_of(variant[2])),
    )


# --- The report -------------------------------------------------------------------------------


def floor_calls(queries: int, points_per_query: int) -> int:
    """The fewest GetMetricData calls that can carry ``queries`` queries."""
    by_queries = math.ceil(queries / MAX_QUERIES_PER_CALL)
    by_points = math.ceil(queries * points_per_query / MAX_DATAPOINTS_PER_CALL)
    return max(by_queries, by_points)


def report(
    args: argparse.Namespace,
    seeded: dict[str, Any],
    queries: int,
    calls: Counter[str],
    found: int,
    resources: int,
    review_s: float,
    seed_s: float,
) -> int:
    asked_for_variants = variant_queries(seeded["variants"])
    notebook_queries = seeded["running_notebooks"]
    # Each team's review asks for its own variants (invocations, latency, memory, CPU and
    # GPU) and notebooks.
    by_team: dict[str, list[Any]] = {}
    for variant in seeded["variants"]:
        by_team.setdefault(variant[4], []).append(variant)
    floor = sum(
        floor_calls(variant_queries(by_team.get(team, [])), IDLE_LOOKBACK_DAYS)
        + floor_calls(seeded["running_by_team"][team], NOTEBOOK_LOOKBACK_HOURS)
        for team in set(by_team) | set(seeded["running_by_team"])
    )
    metric_calls = calls["cloudwatch:GetMetricData"]
    sagemaker_calls = sum(n for name, n in calls.items() if name.startswith("sagemaker:"))
    owned = args.endpoints + args.notebooks + args.jobs
    figures = [
        ("resources found, all teams", f"= {owned:,}", f"{resources:,}", resources == owned),
        (
            "GetMetricData calls, all teams",
            f"= the floor, {floor}",
            f"{metric_calls}",
            metric_calls == floor,
        ),
        (
            "ListTags calls, all teams",
            f"= resources, {owned:,}",
            f"{calls['sagemaker:ListTags']:,}",
            calls["sagemaker:ListTags"] == owned,
        ),
        (
            "review time, all teams (moto)",
            f"< {TIME_TARGET_S:.0f} s",
            f"{review_s:.1f} s",
            review_s < TIME_TARGET_S,
        ),
    ]
    print(f"  seeded in {seed_s:.1f} s; {found:,} recommendations for {args.teams} teams")
    print(f"  CloudWatch queries: {queries:,} ({asked_for_variants:,} for variants, "
          f"{notebook_queries:,} for notebooks); floor {floor} call(s), team by team")  # fmt: skip
    print(f"  SageMaker calls: {sagemaker_calls:,}")
    for name, count in sorted(calls.items()):
        print(f"    {name}: {count:,}")
    print_table(figures)
    details = {
        "calls": dict(calls),
        "floor": floor,
        "queries": queries,
        "recommendations": found,
        "review_s": round(review_s, 2),
        "seed_s": round(seed_s, 1),
    }
    print(figures_line("sagemaker_review", figures, details))
    return 0 if all(figure[3] for figure in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())

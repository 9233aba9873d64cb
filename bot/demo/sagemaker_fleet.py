"""The demo organisation's SageMaker, as plain data: endpoints, notebooks, training jobs, and
how busy each one is.

Nothing here touches AWS. ``bot.demo.world`` creates these resources in moto and seeds their
CloudWatch metrics from ``hourly_invocations``, ``endpoint_cpu``, ``endpoint_memory``,
``model_latency_us`` and ``notebook_cpu``;
``bot.demo.sagemaker_billing`` bills them in the FOCUS export. fraud-detection has a clear
case for every SageMaker rule:

* ``fraud-realtime-scorer``: right-sized (4 x ml.c5.4xlarge, peak CPU above 45 % of each,
  memory about 55 %, about 10 ms per prediction);
* ``fraud-chargeback-scorer``: over-provisioned (4 x ml.c5.xlarge at about 10 % CPU and
  20 % memory, prod, so it keeps 2; about 30 ms per prediction);
* ``fraud-legacy-scorer``: idle (the previous model; nobody has called it for 30 days, and
  it publishes no memory or latency);
* ``fraud-lab-alice``: a notebook left running at night (in no off-hours schedule: the
  notebooks have no ``env`` tag); ``fraud-lab-bob``: a stopped one;
* training: HPO sweeps on demand (they checkpoint: managed spot), a GNN pre-training on
  demand without ``CheckpointConfig`` (add checkpoints first) and a retrain already on
  managed spot.

Every endpoint serves one variant (``AllTraffic``) whose model carries a ``model_name`` tag,
and so does the endpoint: unit cost groups billing lines by it. Names are lowercase: AWS
lowercases them in ARNs (moto keeps them as given), so the billing lines' ARNs are the same
in either. Times are relative (days
ago) so the same resources work for any "now". Prices are the shipped SageMaker price
snapshot's (``engines.sagemaker.prices``), so the review's savings and the bill agree.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.demo.fleet import REGION, TEAM_TIMEZONES
from engines.sagemaker.metrics import vcpus_of
from engines.sagemaker.prices import HOSTING, NOTEBOOK, SHIPPED_SNAPSHOT, TRAINING

_F = "fraud-detection"
VARIANT = "AllTraffic"
MODEL_TAG = "model_name"
ROLE_NAME = "sagemaker-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TRAINING_BUCKET = "s3://fraud-transactions-lake/sagemaker"
SPOT_BILLABLE_SHARE = Decimal("0.35")  # a managed spot job pays for 35 % of its training time


def price(instance_type: str, component: str) -> Decimal:
    """On-demand USD per instance-hour from the shipped snapshot (us-east-1)."""
    hourly = SHIPPED_SNAPSHOT.hourly(instance_type, region=REGION, component=component)
    if hourly is None:
        raise ValueError(f"no {component} price for {instance_type} in the snapshot")
    return hourly


@dataclass(frozen=True)
class Traffic:
    """An endpoint's hourly load: invocations per hour and CPU as a share of one instance
    (0-100), each drawn from (low, high); ``busy`` in the team's working hours. ``memory``
    (percent of one instance) and ``latency_ms`` (the model's, per prediction) are drawn
    from (low, high) every hour alike; no ``memory`` publishes none, and latency is
    published only in an hour with invocations, as SageMaker does."""

    invocations_busy: tuple[int, int]
    invocations_quiet: tuple[int, int]
    cpu_busy: tuple[float, float]
    cpu_quiet: tuple[float, float]
    stopped_days_ago: int | None = None  # no invocations since (an idle endpoint)
    memory: tuple[float, float] | None = None
    latency_ms: tuple[float, float] = (5.0, 10.0)


@dataclass(frozen=True)
class DemoEndpoint:
    name: str
    team: str
    env: str
    model: str  # the model's name, and its ``model_name`` tag
    instance_type: str
    instance_count: int
    traffic: Traffic
    created_days_ago: int
    autoscaling: tuple[int, int] | None = None  # (min, max) of a scalable target

    @property
    def config_name(self) -> str:
        return f"{self.name}-config"

    @property
    def hourly_price(self) -> Decimal:
        return price(self.instance_type, HOSTING) * self.instance_count

    @property
    def tags(self) -> dict[str, str]:
        return {
            "Name": self.name,
            "team": self.team,
            "env": self.env,
            "workload_type": "serving",
            MODEL_TAG: self.model,
        }


@dataclass(frozen=True)
class DemoNotebook:
    name: str
    team: str
    instance_type: str
    created_days_ago: int
    stopped_days_ago: int | None = None

    @property
    def hourly_price(self) -> Decimal:
        return price(self.instance_type, NOTEBOOK)

    @property
    def tags(self) -> dict[str, str]:
        """No ``env`` tag: fraud-dev-hours (``env=dev``) does not cover these notebooks, so
        one left running at night is the review's to find."""
        return {"Name": self.name, "team": self.team, "workload_type": "notebook"}

    def ran_on(self, days_ago: int) -> bool:
        """Whether it ran the whole day ``days_ago`` days before today (UTC; 0 is today)."""
        stopped = self.stopped_days_ago
        return (stopped is None or stopped < days_ago) and days_ago <= self.created_days_ago


@dataclass(frozen=True)
class DemoTrainingJob:
    """A training job that ran some hours on each day from ``first_day_ago`` to
    ``last_day_ago`` (days before today, inclusive). Its hours come from the team's training
    spend of each day (``bot.demo.sagemaker_billing``)."""

    name: str
    team: str
    instance_type: str
    instance_count: int
    first_day_ago: int
    last_day_ago: int
    managed_spot: bool = False
    checkpoints: bool = True
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def hourly_rate(self) -> Decimal:
        """USD per hour of the job (all its instances, on-demand: a managed spot job is
        billed at that rate for its billable time only)."""
        return price(self.instance_type, TRAINING) * self.instance_count

    def ran_on(self, days_ago: int) -> bool:
        return self.last_day_ago <= days_ago <= self.first_day_ago


def _job(
    name: str, instance_type: str, count: int, first: int, last: int, **kw: bool
) -> DemoTrainingJob:
    tags = {"Name": name, "team": _F, "env": "prod", "workload_type": "training"}
    return DemoTrainingJob(name, _F, instance_type, count, first, last, tags=tags, **kw)


ENDPOINTS: tuple[DemoEndpoint, ...] = (
    DemoEndpoint(
        "fraud-realtime-scorer", _F, "prod", "fraud-xgb-v7", "ml.c5.4xlarge", 4,
        Traffic((90_000, 140_000), (40_000, 70_000), (48.0, 66.0), (25.0, 40.0),
                memory=(52.0, 57.0), latency_ms=(8.0, 13.0)),
        created_days_ago=210, autoscaling=(3, 8),
    ),
    DemoEndpoint(
        "fraud-chargeback-scorer", _F, "prod", "fraud-chargeback-v2", "ml.c5.xlarge", 4,
        Traffic((3_000, 6_000), (800, 2_000), (6.0, 11.0), (2.0, 5.0),
                memory=(18.0, 22.0), latency_ms=(24.0, 36.0)),
        created_days_ago=180,
    ),
    DemoEndpoint(
        "fraud-legacy-scorer", _F, "staging", "fraud-xgb-v5", "ml.c5.2xlarge", 2,
        Traffic((15_000, 30_000), (5_000, 12_000), (0.8, 1.8), (0.5, 1.2), stopped_days_ago=30),
        created_days_ago=300,
    ),
)  # fmt: skip

NOTEBOOKS: tuple[DemoNotebook, ...] = (
    DemoNotebook("fraud-lab-alice", _F, "ml.m5.xlarge", created_days_ago=150),
    DemoNotebook("fraud-lab-bob", _F, "ml.t3.medium", created_days_ago=120, stopped_days_ago=20),
)

TRAINING_JOBS: tuple[DemoTrainingJob, ...] = (
    # HPO sweeps of two to three weeks, one after the other, on demand; they checkpoint
    # (managed spot is easy). The latest started 13 days ago: a 14- or a 30-day review sees
    # it, and only it.
    _job("fraud-hpo-sweep-41", "ml.g4dn.12xlarge", 1, 76, 62),
    _job("fraud-hpo-sweep-42", "ml.g4dn.12xlarge", 1, 61, 47),
    _job("fraud-hpo-sweep-43", "ml.g4dn.12xlarge", 1, 46, 32),
    _job("fraud-hpo-sweep-44", "ml.g4dn.12xlarge", 1, 31, 14),
    _job("fraud-hpo-sweep-45", "ml.g4dn.12xlarge", 1, 13, 1),
    # Pre-training on demand with no CheckpointConfig: checkpoints first, then spot.
    _job("fraud-gnn-pretrain-3", "ml.p3.2xlarge", 2, 12, 8, checkpoints=False),
    # Already on managed spot, with checkpoints: nothing to say.
    _job("fraud-xgb-retrain-spot", "ml.m5.4xlarge", 1, 6, 3, managed_spot=True),
)

# --- Metrics ----------------------------------------------------------------------------------


def _busy(team: str, hour_utc: dt.datetime) -> bool:
    local = hour_utc.astimezone(ZoneInfo(TEAM_TIMEZONES.get(team, "UTC")))
    return local.weekday() < 5 and 9 <= local.hour < 18


def hourly_invocations(endpoint: DemoEndpoint, hour_utc: dt.datetime, days_ago: int) -> int:
    """Invocations in the hour (0 for an idle endpoint after its traffic stopped)."""
    traffic = endpoint.traffic
    if traffic.stopped_days_ago is not None and days_ago <= traffic.stopped_days_ago:
        return 0
    rng = random.Random(f"{endpoint.name}|invocations|{hour_utc:%Y-%m-%dT%H}")
    low, high = (
        traffic.invocations_busy if _busy(endpoint.team, hour_utc) else (traffic.invocations_quiet)
    )
    return rng.randint(low, high)


def endpoint_cpu(endpoint: DemoEndpoint, hour_utc: dt.datetime) -> float:
    """The variant's CPUUtilization for the hour as SageMaker publishes it: the sum over an
    instance's cores (0-100 % per vCPU)."""
    traffic = endpoint.traffic
    rng = random.Random(f"{endpoint.name}|cpu|{hour_utc:%Y-%m-%dT%H}")
    low, high = traffic.cpu_busy if _busy(endpoint.team, hour_utc) else traffic.cpu_quiet
    return round(rng.uniform(low, high) * vcpus_of(endpoint.instance_type), 3)


def endpoint_memory(endpoint: DemoEndpoint, hour_utc: dt.datetime) -> float | None:
    """The variant's MemoryUtilization for the hour (percent of one instance), or None when
    the endpoint publishes none."""
    if endpoint.traffic.memory is None:
        return None
    rng = random.Random(f"{endpoint.name}|memory|{hour_utc:%Y-%m-%dT%H}")
    return round(rng.uniform(*endpoint.traffic.memory), 3)


def model_latency_us(endpoint: DemoEndpoint, hour_utc: dt.datetime) -> float:
    """The variant's ModelLatency for the hour as SageMaker publishes it: microseconds."""
    rng = random.Random(f"{endpoint.name}|latency|{hour_utc:%Y-%m-%dT%H}")
    return round(rng.uniform(*endpoint.traffic.latency_ms) * 1000, 1)


def notebook_cpu(notebook: DemoNotebook, hour_utc: dt.datetime) -> float:
    """CWAgent ``cpu_usage_active`` (percent): worked on in office hours, idle at night."""
    rng = random.Random(f"{notebook.name}|cpu|{hour_utc:%Y-%m-%dT%H}")
    low, high = (15.0, 45.0) if _busy(notebook.team, hour_utc) else (0.2, 1.5)
    return round(rng.uniform(low, high), 3)

"""The demo organisation as plain data: teams, EC2 instances, prices and how busy each box is.

Nothing here touches AWS. ``bot.demo.world`` launches this fleet in moto and seeds CloudWatch
from ``hourly_utilization``; ``bot.demo.focus_export`` bills it. Every instance is chosen so a
feature has a clear case to find:

* over-provisioned: ``fraud-etl-prod`` and ``recs-airflow-prod`` (m5.4xlarge at 5-12 % CPU),
  ``nlp-tokenize-batch`` (c5.4xlarge);
* idle, stop candidates (CPU < 2 %, almost no network): ``fraud-sandbox-api``,
  ``recs-backfill-dev``, ``nlp-eval-runner-dev`` (a GPU box);
* GPU boxes with near-zero GPU use: ``recs-notebook-cara``, ``nlp-notebook-dev``,
  ``legacy-jupyter`` (untagged);
* busy GPU trainers: ``nlp-finetune-g5`` and the recommendations two-tower job on p3 that
  started ten days ago (the recent cost jump);
* dev boxes busy only in the team's working hours (schedule candidates);
* right-sized production serving, and one stopped instance that still pays for its disk.

Times are relative (``launched_days_ago``) so the same fleet works for any "now".
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

REGION = "us-east-1"
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

TEAM_NAMES = ("fraud-detection", "recommendations", "nlp")
SHARED_TEAM = "platform"  # shared tooling, tagged team=platform
TEAM_TAG_KEY = "team"

# The teams' time zones, as in bot/demo/teams.toml (working hours are local).
TEAM_TIMEZONES = {
    "fraud-detection": "America/New_York",
    "recommendations": "Europe/London",
    "nlp": "America/Los_Angeles",
    SHARED_TEAM: "UTC",
}

# --- Prices -----------------------------------------------------------------------------------

# On-demand list prices, us-east-1, Linux, shared tenancy, USD per instance-hour. A snapshot for
# the demo: real deployments ask the Pricing API. In the c, m and r families each size step
# doubles the price; GPU families do not.
PRICE_SNAPSHOT_DATE = dt.date(2026, 6, 1)
PRICE_REGION = REGION
PRICE_OPERATING_SYSTEM = "Linux"
PRICES: dict[str, Decimal] = {
    "t3.medium": Decimal("0.0416"),
    "t3.large": Decimal("0.0832"),
    "c5.large": Decimal("0.085"),
    "c5.xlarge": Decimal("0.17"),
    "c5.2xlarge": Decimal("0.34"),
    "c5.4xlarge": Decimal("0.68"),
    "m5.large": Decimal("0.096"),
    "m5.xlarge": Decimal("0.192"),
    "m5.2xlarge": Decimal("0.384"),
    "m5.4xlarge": Decimal("0.768"),
    "m5.8xlarge": Decimal("1.536"),
    "r5.large": Decimal("0.126"),
    "r5.xlarge": Decimal("0.252"),
    "r5.2xlarge": Decimal("0.504"),
    "r5.4xlarge": Decimal("1.008"),
    "g4dn.xlarge": Decimal("0.526"),
    "g4dn.2xlarge": Decimal("0.752"),
    "g4dn.4xlarge": Decimal("1.204"),
    "g5.xlarge": Decimal("1.006"),
    "g5.2xlarge": Decimal("1.212"),
    "g5.4xlarge": Decimal("1.624"),
    "g5.12xlarge": Decimal("5.672"),
    "p3.2xlarge": Decimal("3.06"),
    "p3.8xlarge": Decimal("12.24"),
}

# gp3 storage, USD per GB-month (us-east-1).
EBS_GP3_PRICE_PER_GB_MONTH = Decimal("0.08")


@dataclass(frozen=True)
class GpuSpec:
    count: int
    memory_mib_each: int


GPU_SPECS: dict[str, GpuSpec] = {
    "g4dn.xlarge": GpuSpec(1, 16384),  # NVIDIA T4
    "g4dn.2xlarge": GpuSpec(1, 16384),
    "g4dn.4xlarge": GpuSpec(1, 16384),
    "g5.xlarge": GpuSpec(1, 24576),  # NVIDIA A10G
    "g5.2xlarge": GpuSpec(1, 24576),
    "g5.4xlarge": GpuSpec(1, 24576),
    "g5.12xlarge": GpuSpec(4, 24576),
    "p3.2xlarge": GpuSpec(1, 16384),  # NVIDIA V100
    "p3.8xlarge": GpuSpec(4, 16384),
}


# --- Metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    namespace: str
    unit: str
    gpu_only: bool = False


# Everything ``hourly_utilization`` returns; all use the single dimension InstanceId.
METRICS: dict[str, MetricSpec] = {
    "CPUUtilization": MetricSpec("AWS/EC2", "Percent"),
    "NetworkIn": MetricSpec("AWS/EC2", "Bytes"),
    "NetworkOut": MetricSpec("AWS/EC2", "Bytes"),
    "mem_used_percent": MetricSpec("CWAgent", "Percent"),
    "nvidia_smi_utilization_gpu": MetricSpec("CWAgent", "Percent", gpu_only=True),
    "nvidia_smi_memory_used": MetricSpec("CWAgent", "Megabytes", gpu_only=True),
}

# --- Utilization profiles ---------------------------------------------------------------------

Range = tuple[float, float]


@dataclass(frozen=True)
class Load:
    """Ranges (low, high) an hour's values are drawn from."""

    cpu: Range
    mem: Range
    network_mb: Range  # NetworkIn per hour, in MB (NetworkOut is a share of it)
    gpu: Range = (0.0, 0.0)
    gpu_mem_share: Range = (0.0, 0.0)  # share of total GPU memory in use


@dataclass(frozen=True)
class UtilizationProfile:
    """How busy an instance is. ``schedule`` says when ``busy`` applies; else ``quiet``."""

    kind: str  # over_provisioned | right_sized | idle | gpu_idle | gpu_busy | office_hours | ...
    busy: Load
    quiet: Load | None = None
    schedule: str = "always"  # always | office_hours (Mon-Fri 09-18 local) | nightly (01-05)
    description: str = ""


_QUIET_DEV = Load(cpu=(0.3, 1.8), mem=(8, 14), network_mb=(0.02, 0.1))

OVER_PROVISIONED = UtilizationProfile(
    "over_provisioned",
    Load(cpu=(5, 12), mem=(10, 18), network_mb=(40, 120)),
    description="Always on, never above 12 % CPU: a size or two too big.",
)
RIGHT_SIZED_CPU = UtilizationProfile(
    "right_sized",
    Load(cpu=(45, 72), mem=(50, 68), network_mb=(300, 900)),
    description="Steady serving load with sensible headroom.",
)
RIGHT_SIZED_MEMORY = UtilizationProfile(
    "right_sized",
    Load(cpu=(28, 45), mem=(72, 86), network_mb=(150, 500)),
    description="Memory-bound (caches, feature stores), CPU moderate.",
)
GPU_SERVING = UtilizationProfile(
    "right_sized",
    Load(cpu=(25, 45), mem=(45, 60), network_mb=(200, 700), gpu=(45, 72), gpu_mem_share=(0.5, 0.7)),
    description="GPU inference with steady traffic.",
)
IDLE = UtilizationProfile(
    "idle",
    Load(cpu=(0.1, 1.6), mem=(6, 11), network_mb=(0.01, 0.08)),
    description="Nothing runs: CPU under 2 %, near-zero network. Stop candidate.",
)
GPU_IDLE = UtilizationProfile(
    "gpu_idle",
    Load(cpu=(1, 4), mem=(12, 20), network_mb=(0.5, 3), gpu=(0, 1.5), gpu_mem_share=(0.0, 0.02)),
    description="A GPU box nobody uses: GPU near zero, a little CPU.",
)
GPU_BUSY = UtilizationProfile(
    "gpu_busy",
    Load(
        cpu=(55, 80), mem=(60, 80), network_mb=(800, 2500), gpu=(88, 99), gpu_mem_share=(0.85, 0.95)
    ),
    description="A training job keeping every GPU busy.",
)
OFFICE_HOURS = UtilizationProfile(
    "office_hours",
    Load(cpu=(30, 62), mem=(40, 65), network_mb=(50, 300)),
    quiet=_QUIET_DEV,
    schedule="office_hours",
    description="Dev box busy in working hours, idle nights and weekends: schedule candidate.",
)
OFFICE_HOURS_GPU_IDLE = UtilizationProfile(
    "office_hours",
    Load(cpu=(20, 45), mem=(35, 55), network_mb=(30, 200), gpu=(0, 2), gpu_mem_share=(0.0, 0.03)),
    quiet=Load(cpu=(0.3, 1.8), mem=(8, 14), network_mb=(0.02, 0.1), gpu=(0, 0.5)),
    schedule="office_hours",
    description="GPU notebook used for CPU work in working hours; the GPU is never used.",
)
NIGHTLY_BATCH = UtilizationProfile(
    "nightly_batch",
    Load(cpu=(70, 95), mem=(55, 80), network_mb=(500, 1500)),
    quiet=Load(cpu=(0.5, 3), mem=(10, 15), network_mb=(0.1, 1)),
    schedule="nightly",
    description="A nightly batch job (01:00-05:00 local), idle the rest of the day.",
)
NIGHTLY_GPU_TRAINING = UtilizationProfile(
    "nightly_batch",
    Load(
        cpu=(50, 75), mem=(55, 75), network_mb=(400, 1200), gpu=(80, 97), gpu_mem_share=(0.7, 0.9)
    ),
    quiet=Load(cpu=(0.5, 3), mem=(10, 15), network_mb=(0.1, 1), gpu=(0, 1)),
    schedule="nightly",
    description="Nightly retraining on GPU, idle the rest of the day.",
)

# --- The fleet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoInstance:
    """One EC2 instance of the demo org. ``tags`` are the EC2 tags, including ``Name``."""

    name: str
    instance_type: str
    team: str | None  # None: untagged
    env: str | None  # dev | prod; None when untagged
    workload_type: str | None  # serving | training | batch | notebook
    tags: dict[str, str]
    profile: UtilizationProfile
    launched_days_ago: int
    stopped_days_ago: int | None = None  # stopped (still billed for its volume)
    availability_zone: str = AVAILABILITY_ZONES[0]
    root_volume_gb: int = 100
    savings_plan_covered: bool = False  # its usage gets the savings plan rate
    timezone: str = "UTC"

    @property
    def hourly_price(self) -> Decimal:
        return PRICES[self.instance_type]

    @property
    def is_stopped(self) -> bool:
        return self.stopped_days_ago is not None


def _instance(
    name: str,
    instance_type: str,
    team: str | None,
    env: str | None,
    workload_type: str | None,
    profile: UtilizationProfile,
    launched_days_ago: int,
    *,
    az: int = 0,
    volume_gb: int = 100,
    spot_eligible: bool = False,
    savings_plan: bool = False,
    stopped_days_ago: int | None = None,
) -> DemoInstance:
    tags = {"Name": name}
    if team is not None:
        tags |= {"team": team, "env": env or "dev", "workload_type": workload_type or "batch"}
    if spot_eligible:
        tags["spot_eligible"] = "true"
    return DemoInstance(
        name=name,
        instance_type=instance_type,
        team=team,
        env=env,
        workload_type=workload_type,
        tags=tags,
        profile=profile,
        launched_days_ago=launched_days_ago,
        stopped_days_ago=stopped_days_ago,
        availability_zone=AVAILABILITY_ZONES[az % len(AVAILABILITY_ZONES)],
        root_volume_gb=volume_gb,
        savings_plan_covered=savings_plan,
        timezone=TEAM_TIMEZONES.get(team or "", "UTC"),
    )


_F, _R, _N, _P = "fraud-detection", "recommendations", "nlp", SHARED_TEAM

FLEET: tuple[DemoInstance, ...] = (
    # fraud-detection: CPU scoring, a nightly GPU retrain, notebooks.
    _instance("fraud-scoring-prod-1", "c5.2xlarge", _F, "prod", "serving", RIGHT_SIZED_CPU, 400,
              savings_plan=True),
    _instance("fraud-scoring-prod-2", "c5.2xlarge", _F, "prod", "serving", RIGHT_SIZED_CPU, 400,
              az=1, savings_plan=True),
    _instance("fraud-scoring-prod-3", "c5.2xlarge", _F, "prod", "serving", RIGHT_SIZED_CPU, 180,
              az=2),
    _instance("fraud-feature-store-prod", "r5.2xlarge", _F, "prod", "serving",
              RIGHT_SIZED_MEMORY, 300, volume_gb=500, savings_plan=True),
    _instance("fraud-etl-prod", "m5.4xlarge", _F, "prod", "batch", OVER_PROVISIONED, 250,
              az=1, volume_gb=300, spot_eligible=True),
    _instance("fraud-retrain-nightly", "g5.2xlarge", _F, "prod", "training",
              NIGHTLY_GPU_TRAINING, 120, az=2, volume_gb=500, spot_eligible=True),
    _instance("fraud-notebook-alice", "m5.2xlarge", _F, "dev", "notebook", OFFICE_HOURS, 90),
    _instance("fraud-notebook-bob", "m5.xlarge", _F, "dev", "notebook", OFFICE_HOURS, 60, az=1),
    _instance("fraud-sandbox-api", "c5.xlarge", _F, "dev", "serving", IDLE, 45, az=2),
    _instance("fraud-xgb-experiment", "r5.xlarge", _F, "dev", "training", IDLE, 100,
              volume_gb=400, stopped_days_ago=20),
    # recommendations: CPU serving, a GPU ranker, and a p3 training job started 10 days ago.
    _instance("recs-serving-prod-1", "m5.2xlarge", _R, "prod", "serving", RIGHT_SIZED_CPU, 500,
              savings_plan=True),
    _instance("recs-serving-prod-2", "m5.2xlarge", _R, "prod", "serving", RIGHT_SIZED_CPU, 500,
              az=1, savings_plan=True),
    _instance("recs-serving-prod-3", "m5.2xlarge", _R, "prod", "serving", RIGHT_SIZED_CPU, 200,
              az=2),
    _instance("recs-ranker-gpu-prod", "g5.xlarge", _R, "prod", "serving", GPU_SERVING, 150),
    _instance("recs-airflow-prod", "m5.4xlarge", _R, "prod", "batch", OVER_PROVISIONED, 365,
              az=1),
    _instance("recs-embeddings-nightly", "c5.4xlarge", _R, "prod", "batch", NIGHTLY_BATCH, 200,
              az=2, spot_eligible=True),
    _instance("recs-two-tower-train-1", "p3.8xlarge", _R, "prod", "training", GPU_BUSY, 10,
              volume_gb=1000, spot_eligible=True),
    _instance("recs-two-tower-train-2", "p3.2xlarge", _R, "prod", "training", GPU_BUSY, 10,
              volume_gb=500, spot_eligible=True),
    _instance("recs-notebook-cara", "g4dn.xlarge", _R, "dev", "notebook", GPU_IDLE, 70, az=1),
    _instance("recs-dev-api", "m5.large", _R, "dev", "serving", OFFICE_HOURS, 120, az=2),
    _instance("recs-backfill-dev", "c5.2xlarge", _R, "dev", "batch", IDLE, 40,
              spot_eligible=True),
    # nlp: GPU inference, a big fine-tuning box, GPU notebooks.
    _instance("nlp-inference-prod-1", "g5.2xlarge", _N, "prod", "serving", GPU_SERVING, 220,
              savings_plan=True),
    _instance("nlp-inference-prod-2", "g5.2xlarge", _N, "prod", "serving", GPU_SERVING, 220,
              az=1),
    _instance("nlp-api-prod", "c5.xlarge", _N, "prod", "serving", RIGHT_SIZED_CPU, 300, az=2,
              savings_plan=True),
    _instance("nlp-vector-db-prod", "r5.2xlarge", _N, "prod", "serving", RIGHT_SIZED_MEMORY, 260,
              volume_gb=800),
    _instance("nlp-finetune-g5", "g5.12xlarge", _N, "prod", "training", GPU_BUSY, 35, az=1,
              volume_gb=2000, spot_eligible=True),
    _instance("nlp-tokenize-batch", "c5.4xlarge", _N, "prod", "batch", OVER_PROVISIONED, 150,
              az=2, spot_eligible=True),
    _instance("nlp-notebook-dev", "g4dn.2xlarge", _N, "dev", "notebook", OFFICE_HOURS_GPU_IDLE,
              80),
    _instance("nlp-label-tool-dev", "m5.large", _N, "dev", "serving", OFFICE_HOURS, 200, az=1),
    _instance("nlp-eval-runner-dev", "g4dn.xlarge", _N, "dev", "batch", IDLE, 50, az=2,
              spot_eligible=True),
    # platform: shared tooling, tagged team=platform.
    _instance("platform-ci-runner", "m5.xlarge", _P, "prod", "batch", OFFICE_HOURS, 600),
    _instance("platform-monitoring", "m5.2xlarge", _P, "prod", "serving", RIGHT_SIZED_MEMORY,
              600, az=1, volume_gb=1000),
    # untagged: only a Name.
    _instance("legacy-jupyter", "g4dn.xlarge", None, None, None, GPU_IDLE, 420, az=2),
    _instance("spark-test", "m5.xlarge", None, None, None, NIGHTLY_BATCH, 130),
)  # fmt: skip

FLEET_BY_NAME: dict[str, DemoInstance] = {instance.name: instance for instance in FLEET}


# --- Time -------------------------------------------------------------------------------------


def floor_to_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def launched_at(instance: DemoInstance, now: dt.datetime) -> dt.datetime:
    """When the instance started: ``launched_days_ago`` days before ``now``, on the hour."""
    return floor_to_hour(now) - dt.timedelta(days=instance.launched_days_ago)


def stopped_at(instance: DemoInstance, now: dt.datetime) -> dt.datetime | None:
    if instance.stopped_days_ago is None:
        return None
    return floor_to_hour(now) - dt.timedelta(days=instance.stopped_days_ago)


def was_running(instance: DemoInstance, hour_utc: dt.datetime, now: dt.datetime) -> bool:
    """Whether the instance ran during the hour starting at ``hour_utc``."""
    stop = stopped_at(instance, now)
    return launched_at(instance, now) <= hour_utc < (stop or floor_to_hour(now))


def running_hours_on(instance: DemoInstance, day: dt.date, now: dt.datetime) -> int:
    """Whole hours the instance ran on ``day`` (UTC), up to ``now``."""
    day_start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    start = max(day_start, launched_at(instance, now))
    end = min(day_start + dt.timedelta(days=1), stopped_at(instance, now) or floor_to_hour(now))
    return max(0, int((end - start).total_seconds() // 3600))


# --- Utilization ------------------------------------------------------------------------------


def is_busy_hour(profile: UtilizationProfile, hour_utc: dt.datetime, timezone: str) -> bool:
    """Whether ``profile.busy`` applies in this hour (in the team's local time)."""
    if profile.schedule == "always":
        return True
    local = hour_utc.astimezone(ZoneInfo(timezone))
    if profile.schedule == "office_hours":
        return local.weekday() < 5 and 9 <= local.hour < 18
    if profile.schedule == "nightly":
        return 1 <= local.hour < 5
    raise ValueError(f"unknown schedule {profile.schedule!r}")


def hourly_utilization(instance: DemoInstance, hour_utc: dt.datetime) -> dict[str, float]:
    """The instance's metrics for one hour: metric name -> value (see ``METRICS`` for units).

    Deterministic: the same instance and hour always give the same values. GPU metrics only
    for GPU instance types. Says nothing about whether the instance ran (see ``was_running``).
    """
    hour = floor_to_hour(hour_utc)
    rng = random.Random(f"{instance.name}|{hour:%Y-%m-%dT%H}")
    profile = instance.profile
    busy = is_busy_hour(profile, hour, instance.timezone)
    load = profile.busy if busy or profile.quiet is None else profile.quiet
    network_in = rng.uniform(*load.network_mb) * 1_000_000
    values = {
        "CPUUtilization": round(rng.uniform(*load.cpu), 3),
        "NetworkIn": round(network_in),
        "NetworkOut": round(network_in * rng.uniform(0.3, 1.2)),
        "mem_used_percent": round(rng.uniform(*load.mem), 3),
    }
    gpu = GPU_SPECS.get(instance.instance_type)
    if gpu is not None:
        total_mib = gpu.count * gpu.memory_mib_each
        values["nvidia_smi_utilization_gpu"] = round(rng.uniform(*load.gpu), 3)
        values["nvidia_smi_memory_used"] = round(rng.uniform(*load.gpu_mem_share) * total_mib)
    return {name: float(value) for name, value in values.items()}


# --- Spend that is not EC2 instance-hours -----------------------------------------------------


@dataclass(frozen=True)
class AwsService:
    """A service as AWS Data Exports (FOCUS 1.0) names it."""

    name: str  # ServiceName
    category: str  # ServiceCategory (FOCUS allowed values)
    code: str  # x_ServiceCode


EC2 = AwsService("Amazon Elastic Compute Cloud", "Compute", "AmazonEC2")
S3 = AwsService("Amazon Simple Storage Service", "Storage", "AmazonS3")
SAGEMAKER = AwsService("Amazon SageMaker", "AI and Machine Learning", "AmazonSageMaker")
RDS = AwsService("Amazon Relational Database Service", "Databases", "AmazonRDS")
DATA_TRANSFER = AwsService("AWS Data Transfer", "Networking", "AWSDataTransfer")
CLOUDWATCH = AwsService("Amazon CloudWatch", "Management and Governance", "AmazonCloudWatch")
VPC = AwsService("Amazon Virtual Private Cloud", "Networking", "AmazonVPC")


@dataclass(frozen=True)
class DemoCharge:
    """A daily usage line that is not an instance-hour (storage, endpoints, transfer ...).

    ``quantity`` is today's level in ``pricing_unit``; with ``per_month`` it is a stock
    billed per month (GB stored), so a day costs ``quantity / days_in_month * unit_price``.
    ``daily_growth`` makes the level grow linearly towards today; ``jitter`` is the
    day-to-day swing as a share (0.1 = +/-10 %).
    """

    name: str  # ResourceName
    team: str | None
    env: str | None
    service: AwsService
    usage_type: str  # x_UsageType
    operation: str  # x_Operation
    description: str  # ChargeDescription
    resource_type: str
    resource_id: str  # may contain {account}
    pricing_unit: str
    unit_price: Decimal
    quantity: Decimal
    per_month: bool = False
    daily_growth: Decimal = Decimal("0")
    jitter: Decimal = Decimal("0")
    started_days_ago: int | None = None  # None: before the export window

    @property
    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        if self.team is not None:
            tags["team"] = self.team
        if self.env is not None:
            tags["env"] = self.env
        return tags


def _bucket(name: str, team: str | None, gb: str, growth: str = "0.002") -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod" if team else None, service=S3,
        usage_type="TimedStorage-ByteHrs", operation="StandardStorage",
        description="$0.023 per GB - first 50 TB / month of storage used",
        resource_type="Bucket", resource_id=f"arn:aws:s3:::{name}", pricing_unit="GB-Mo",
        unit_price=Decimal("0.023"), quantity=Decimal(gb), per_month=True,
        daily_growth=Decimal(growth), jitter=Decimal("0.002"),
    )  # fmt: skip


def _endpoint(name: str, team: str, instance_type: str, price: str, count: int) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=SAGEMAKER,
        usage_type=f"USE1-Host:{instance_type}", operation="RunInstance",
        description=f"${price} per Hosted Instance Hour for {instance_type}",
        resource_type="Endpoint",
        resource_id=f"arn:aws:sagemaker:us-east-1:{{account}}:endpoint/{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(24 * count),
    )  # fmt: skip


def _training(name: str, team: str, instance_type: str, price: str, hours: str) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=SAGEMAKER,
        usage_type=f"USE1-Train:{instance_type}", operation="RunInstance",
        description=f"${price} per Training Instance Hour for {instance_type}",
        resource_type="TrainingJob",
        resource_id=f"arn:aws:sagemaker:us-east-1:{{account}}:training-job/{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(hours),
        jitter=Decimal("0.6"),
    )  # fmt: skip


def _database(name: str, team: str, instance_class: str, price: str) -> DemoCharge:
    return DemoCharge(
        name=name, team=team, env="prod", service=RDS,
        usage_type=f"Multi-AZUsage:{instance_class}", operation="CreateDBInstance:0014",
        description=f"${price} per RDS {instance_class} Multi-AZ instance hour running PostgreSQL",
        resource_type="DBInstance", resource_id=f"arn:aws:rds:us-east-1:{{account}}:db:{name}",
        pricing_unit="Hrs", unit_price=Decimal(price), quantity=Decimal(24),
    )  # fmt: skip


def _egress(team: str | None, gb_per_day: str) -> DemoCharge:
    label = team or "shared"
    return DemoCharge(
        name=f"{label}-internet-egress", team=team, env="prod" if team else None,
        service=DATA_TRANSFER, usage_type="USE1-DataTransfer-Out-Bytes",
        operation="", description="$0.09 per GB - first 10 TB / month data transfer out",
        resource_type="DataTransfer", resource_id="", pricing_unit="GB",
        unit_price=Decimal("0.09"), quantity=Decimal(gb_per_day), jitter=Decimal("0.25"),
    )  # fmt: skip


def _logs(team: str | None, gb_per_day: str) -> DemoCharge:
    label = team or "shared"
    return DemoCharge(
        name=f"/aws/{label}/application", team=team, env="prod" if team else None,
        service=CLOUDWATCH, usage_type="USE1-DataProcessing-Bytes", operation="PutLogEvents",
        description="$0.50 per GB custom log data ingested", resource_type="LogGroup",
        resource_id=f"arn:aws:logs:us-east-1:{{account}}:log-group:/aws/{label}/application",
        pricing_unit="GB", unit_price=Decimal("0.50"), quantity=Decimal(gb_per_day),
        jitter=Decimal("0.2"),
    )  # fmt: skip


CHARGES: tuple[DemoCharge, ...] = (
    _bucket("fraud-transactions-lake", _F, "150000"),
    _database("fraud-rules-db", _F, "db.r5.2xlarge", "2.00"),
    _endpoint("fraud-realtime-scorer", _F, "ml.c5.4xlarge", "0.816", 6),
    _training("fraud-hpo-sweeps", _F, "ml.g4dn.12xlarge", "4.89", "12"),
    _egress(_F, "400"),
    _logs(_F, "30"),
    _bucket("recs-interactions-lake", _R, "250000", "0.003"),
    _endpoint("recs-realtime-ranker", _R, "ml.g5.2xlarge", "1.515", 8),
    _training("recs-candidate-gen", _R, "ml.p3.8xlarge", "14.688", "9"),
    _database("recs-catalog-db", _R, "db.r5.2xlarge", "2.00"),
    _egress(_R, "1500"),
    _logs(_R, "40"),
    _bucket("nlp-corpora", _N, "200000", "0.004"),
    _endpoint("nlp-summarizer", _N, "ml.g5.2xlarge", "1.515", 4),
    _training("nlp-distillation", _N, "ml.p3.8xlarge", "14.688", "6"),
    _egress(_N, "500"),
    _logs(_N, "20"),
    _bucket("platform-build-artifacts", _P, "8000"),
    _logs(_P, "40"),
    _bucket("athena-query-results-demo", None, "2500", "0.01"),
    _egress(None, "300"),
    DemoCharge(
        name="nat-gateway-main", team=None, env=None, service=VPC,
        usage_type="USE1-NatGateway-Hours", operation="NatGateway",
        description="$0.045 per NAT Gateway Hour", resource_type="NatGateway",
        resource_id="arn:aws:ec2:us-east-1:{account}:natgateway/nat-0demo5f1e2d3c4b5a6",
        pricing_unit="Hrs", unit_price=Decimal("0.045"), quantity=Decimal(24 * 3),
    ),
    DemoCharge(
        name="nat-gateway-main-bytes", team=None, env=None, service=VPC,
        usage_type="USE1-NatGateway-Bytes", operation="NatGateway",
        description="$0.045 per GB Data Processed by NAT Gateways", resource_type="NatGateway",
        resource_id="arn:aws:ec2:us-east-1:{account}:natgateway/nat-0demo5f1e2d3c4b5a6",
        pricing_unit="GB", unit_price=Decimal("0.045"), quantity=Decimal("900"),
        jitter=Decimal("0.3"),
    ),
)  # fmt: skip

# One savings plan covers the instances marked ``savings_plan_covered``: the effective rate is
# this share of on-demand (a 1-year no-upfront Compute Savings Plan saves about 28 %).
SAVINGS_PLAN_RATE = Decimal("0.72")
SAVINGS_PLAN_ID = "savingsplan/3f2a9c1e-6b7d-4e52-9a0c-demo0000c0de"

# Other lines: a promotional credit on the 3rd of each month, sales tax for each closed month.
MONTHLY_CREDIT = Decimal("-250.00")
TAX_RATE = Decimal("0.06")

"""The shared vocabulary of SageMaker advice: resources as the APIs show them, their traffic,
and recommendations shaped like EC2 right-sizing's (``engines.rightsizing.models``), so one
card builder can show both. All frozen dataclasses; money is ``Decimal`` USD (list prices).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from engines.rightsizing.models import HOURS_PER_MONTH, Finding, Risk

__all__ = [
    "HOURS_PER_MONTH",
    "Endpoint",
    "EndpointTraffic",
    "Finding",
    "Inventory",
    "NotebookActivity",
    "NotebookInstance",
    "Risk",
    "SageMakerAction",
    "SageMakerRecommendation",
    "TrainingJob",
    "Variant",
]

PROD_ENV_VALUES = frozenset({"prod", "production", "prd", "live"})
ENV_TAG_KEYS = ("env", "environment", "Env", "Environment", "stage", "Stage")


def is_prod(tags: dict[str, str]) -> bool:
    """Whether tags mark a production resource (``env``/``environment``/``stage`` =
    prod, production, prd or live, any case)."""
    return any(tags.get(key, "").strip().lower() in PROD_ENV_VALUES for key in ENV_TAG_KEYS)


@dataclass(frozen=True)
class Variant:
    """One production variant of a real-time endpoint.

    ``autoscaling_min``/``max`` are the Application Auto Scaling target's bounds, None when
    the variant has no scalable target registered.
    """

    name: str
    instance_type: str  # "" for a serverless variant
    instance_count: int  # current instances (desired while it updates)
    model_name: str = ""
    autoscaling_min: int | None = None
    autoscaling_max: int | None = None

    @property
    def autoscaled(self) -> bool:
        return self.autoscaling_min is not None


@dataclass(frozen=True)
class Endpoint:
    """A real-time endpoint, its config and variants (instance type from the config)."""

    name: str
    arn: str
    status: str
    config_name: str
    region: str
    account_id: str
    variants: tuple[Variant, ...]
    tags: dict[str, str] = field(default_factory=dict)
    created: dt.datetime | None = None

    @property
    def prod(self) -> bool:
        return is_prod(self.tags)

    @property
    def instance_count(self) -> int:
        return sum(variant.instance_count for variant in self.variants)


@dataclass(frozen=True)
class NotebookInstance:
    name: str
    arn: str
    status: str  # Pending | InService | Stopping | Stopped | Failed | Deleting | Updating
    instance_type: str
    region: str
    account_id: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status == "InService"


@dataclass(frozen=True)
class TrainingJob:
    """A training job of the period. ``billable_seconds`` is wall-clock seconds per
    instance (AWS's ``BillableTimeInSeconds``; the training time when AWS gives none), so
    the instance-seconds billed are ``billable_seconds x instance_count``."""

    name: str
    arn: str
    status: str
    instance_type: str
    instance_count: int
    billable_seconds: int
    managed_spot: bool
    has_checkpoints: bool
    region: str
    account_id: str
    created: dt.datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def instance_seconds(self) -> int:
        return self.billable_seconds * self.instance_count


@dataclass(frozen=True)
class Inventory:
    """One team's SageMaker resources in one account and region."""

    team: str
    region: str
    endpoints: tuple[Endpoint, ...] = ()
    notebooks: tuple[NotebookInstance, ...] = ()
    training_jobs: tuple[TrainingJob, ...] = ()


@dataclass(frozen=True)
class EndpointTraffic:
    """What one endpoint variant served over ``lookback_days`` (from ``engines.sagemaker
    .metrics``). ``daily_invocations`` holds one Sum per whole day that had data. The peaks
    are shares of one instance (0-100), None when not published or not asked:
    ``cpu_max_percent`` is CloudWatch's per-core sum divided by the vCPUs,
    ``gpu_max_percent`` its per-GPU sum divided by the GPUs, ``memory_max_percent`` as
    published. ``model_latency_ms`` is the model's average latency over the lookback
    (``ModelLatency``, weighted by each day's invocations), None without traffic."""

    endpoint: str
    variant: str
    lookback_days: int
    daily_invocations: tuple[float, ...] = ()
    cpu_max_percent: float | None = None
    gpu_max_percent: float | None = None
    memory_max_percent: float | None = None
    model_latency_ms: float | None = None

    @property
    def invocations(self) -> float:
        return sum(self.daily_invocations)

    @property
    def busiest_day(self) -> float:
        return max(self.daily_invocations, default=0.0)


@dataclass(frozen=True)
class NotebookActivity:
    """How busy a notebook instance was in the hours looked at: its CPU peak (percent),
    None when not measured."""

    notebook: str
    cpu_max_percent: float | None


class SageMakerAction(StrEnum):
    DELETE_ENDPOINT = "delete-endpoint"  # keeps the endpoint config and the model
    SET_INSTANCE_COUNT = "set-instance-count"  # UpdateEndpointWeightsAndCapacities
    SWITCH_ENDPOINT_CONFIG = "switch-endpoint-config"  # a smaller type: UpdateEndpoint
    STOP_NOTEBOOK = "stop-notebook"
    USE_MANAGED_SPOT = "use-managed-spot"
    ADD_CHECKPOINTS = "add-checkpoints"  # before managed spot: nothing to do automatically
    LOWER_AUTOSCALING_MIN = "lower-autoscaling-minimum"  # advice: costbot leaves autoscaling


@dataclass(frozen=True)
class SageMakerRecommendation:
    """What to do with one SageMaker resource, the evidence, the saving and the risk.

    The same shape as ``engines.rightsizing.models.Recommendation`` where it can be:
    ``finding``, ``current_type``/``recommended_type``, hourly prices, ``monthly_saving``
    (Decimal USD per 730 h, list prices), ``risk`` and ``reason``. Besides: the resource
    (``kind``, ``name``, ``arn``), instance counts, the ``evidence`` lines and the
    ``risk_note`` (one line a person reads before approving).
    """

    kind: str  # "endpoint" | "notebook" | "training-job"
    name: str
    arn: str
    finding: Finding
    action: SageMakerAction
    current_type: str
    recommended_type: str
    current_count: int
    recommended_count: int
    current_hourly: Decimal | None
    recommended_hourly: Decimal | None
    monthly_saving: Decimal
    risk: Risk | None
    reason: str
    risk_note: str
    evidence: tuple[str, ...] = ()
    variant: str = ""
    team: str = ""
    config_name: str = ""  # an endpoint's config when reviewed (delete keeps it)

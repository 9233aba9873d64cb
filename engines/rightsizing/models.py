"""The shared vocabulary of right-sizing: instances, their utilization, facts, findings.

Utilization (``engines.rightsizing.utilization``), the catalog and prices
(``engines.rightsizing.catalog``, ``engines.rightsizing.pricing``), recommendations
(``engines.rightsizing.recommendations``) and carrying changes out (``engines.changes``) all
speak in these frozen dataclasses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

HOURS_PER_MONTH = Decimal(730)


class Finding(StrEnum):
    OVER_PROVISIONED = "over-provisioned"
    UNDER_PROVISIONED = "under-provisioned"
    OPTIMIZED = "optimized"
    IDLE = "idle"
    NOT_ENOUGH_DATA = "not enough data"
    LEFT_ALONE = "left alone"  # stop-protected, spot, ... (the reason says why)


class Risk(StrEnum):
    """Performance risk of a change, as AWS Compute Optimizer grades it."""

    VERY_LOW = "VeryLow"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


@dataclass(frozen=True)
class Instance:
    """An EC2 instance as ``DescribeInstances`` shows it (only what right-sizing needs)."""

    instance_id: str
    instance_type: str
    state: str  # pending | running | stopping | stopped | ...
    region: str
    account_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    platform: str = "Linux/UNIX"
    architecture: str = "x86_64"
    launch_time: dt.datetime | None = None
    lifecycle: str = "on-demand"  # or "spot"
    auto_scaling_group: str = ""  # from the aws:autoscaling:groupName tag
    stop_protected: bool = False  # DisableApiStop
    termination_protected: bool = False
    availability_zone: str = ""

    @property
    def name(self) -> str:
        return self.tags.get("Name", self.instance_id)


@dataclass(frozen=True)
class MetricStats:
    """One metric over the lookback: percentile and max of the datapoints, and how many.

    ``percentile_value`` is the ``percentile``-th percentile (nearest-rank, over the
    datapoints of ``period_s`` seconds each), in the metric's unit (percent for CPU).
    """

    metric: str  # e.g. "cpu", "memory", "gpu", "gpu_memory", "network_in", "network_out", "disk"
    percentile: int
    percentile_value: float
    maximum: float
    datapoints: int
    period_s: int
    unit: str = "Percent"


@dataclass(frozen=True)
class Utilization:
    """What an instance used over ``lookback_days`` ending at ``end``."""

    instance_id: str
    end: dt.datetime
    lookback_days: int
    metrics: dict[str, MetricStats] = field(default_factory=dict)

    @property
    def hours_of_data(self) -> float:
        cpu = self.metrics.get("cpu")
        return 0.0 if cpu is None else cpu.datapoints * cpu.period_s / 3600


@dataclass(frozen=True)
class InstanceTypeFacts:
    """``DescribeInstanceTypes`` facts for one type."""

    instance_type: str
    vcpus: int
    memory_mib: int
    architectures: tuple[str, ...]
    gpus: int = 0
    gpu_memory_mib: int = 0
    gpu_model: str = ""
    current_generation: bool = True
    gpu_manufacturer: str = ""  # "NVIDIA", "AMD", ...; "" without GPUs

    @property
    def gpu_memory_per_gpu_mib(self) -> int:
        """Memory of one GPU (0 without GPUs). A model is sharded to fit one GPU's memory,
        so eight 16 GiB GPUs do not replace four 24 GiB ones, whatever the total."""
        return self.gpu_memory_mib // self.gpus if self.gpus else 0


@dataclass(frozen=True)
class Recommendation:
    """What to do with one instance, why, and what it saves per month (730 h)."""

    instance: Instance
    finding: Finding
    current_type: str
    recommended_type: str  # "" when there is nothing to change (or stop, for idle)
    current_hourly: Decimal | None
    recommended_hourly: Decimal | None
    monthly_saving: Decimal  # 0 when nothing changes; never negative for a downsize
    risk: Risk | None
    reason: str  # plain words: the evidence in one or two sentences
    utilization: Utilization | None = None
    action: str = "modify"  # modify | stop | launch-template | none


@dataclass(frozen=True)
class RightsizeResult:
    """Recommendations for one or more teams, with the change id behind each button."""

    subject: str
    proposals: tuple[tuple[str, Recommendation], ...]
    approvers: tuple[str, ...]
    lookback_days: int

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.subject,
            "lookback_days": self.lookback_days,
            "groups": [
                {
                    "key": rec.instance.instance_id,
                    "name": rec.instance.name,
                    "finding": rec.finding.value,
                    "from": rec.current_type,
                    "to": rec.recommended_type,
                    "action": rec.action,
                    "cost": str(rec.monthly_saving),
                    "risk": rec.risk.value if rec.risk else None,
                    "change": change_id or None,
                    "reason": rec.reason,
                }
                for change_id, rec in self.proposals
            ],
        }

"""Which instance types may replace a given one: type families, needs and candidates. Pure.

``needs_of`` turns an instance's percentiles into what a type must offer (with headroom);
``candidate_types`` lists the catalog types that fit and may replace the current type
(the rules are in ``engines.rightsizing.recommendations``' docstring, which uses them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from engines.rightsizing.models import InstanceTypeFacts, MetricStats, Utilization

GPU_UNUSED_PERCENT = 5.0
CPU_SERIES = frozenset({"m", "c", "r"})
BURSTABLE_SERIES = "t"
_PROCESSOR_LETTERS = frozenset("agi")  # AMD, Graviton, Intel: free to change (same arch)
_FAMILY = re.compile(r"^([a-z]+)(\d+)([a-z\-]*)$")


# --- Instance families --------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeFamily:
    """The parts of an instance family name: ``m6id`` -> series m, generation 6, {d}."""

    name: str
    series: str
    generation: int | None
    special: frozenset[str]


def family_of(instance_type: str) -> TypeFamily:
    """The family of a type name ("r6id.2xlarge" -> r, 6, special {"d"}).

    Processor letters (a, g, i) are not special; "flex" is. Names that do not follow the
    usual pattern ("u-6tb1.metal") are their own series with no generation.

    Args:
        instance_type: e.g. "m5.4xlarge".
    """
    name = instance_type.split(".", 1)[0]
    match = _FAMILY.match(name)
    if match is None:
        return TypeFamily(name, name, None, frozenset())
    series, generation, attributes = match.groups()
    special = set(attributes.replace("-flex", "").replace("flex", "")) - _PROCESSOR_LETTERS
    if "flex" in attributes:
        special.add("flex")
    return TypeFamily(name, series, int(generation), frozenset(special))


# --- Requirements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What a type must offer: vCPUs, MiB, GPUs and GPU MiB (0 when the GPU can go)."""

    vcpus: int
    memory_mib: int
    gpus: int
    gpu_memory_mib: int
    gpu_kept: bool  # the GPU is in use or unmeasured: stay in the GPU family

    @property
    def gpu_memory_per_gpu_mib(self) -> int:
        """What one GPU must hold: the memory needed, spread over the GPUs needed (a model
        sharded over more, smaller GPUs still needs its shard to fit each one)."""
        return math.ceil(self.gpu_memory_mib / self.gpus) if self.gpus else 0

    def fits(self, facts: InstanceTypeFacts) -> bool:
        """Whether ``facts`` offers at least what is needed.

        Args:
            facts: a candidate type.
        """
        return (
            facts.vcpus >= self.vcpus
            and facts.memory_mib >= self.memory_mib
            and facts.gpus >= self.gpus
            and facts.gpu_memory_mib >= self.gpu_memory_mib
            and facts.gpu_memory_per_gpu_mib >= self.gpu_memory_per_gpu_mib
        )


def needs_of(current: InstanceTypeFacts, utilization: Utilization, headroom: float) -> Needs:
    """What the workload needs with ``headroom``, from its percentiles on ``current``.

    Args:
        current: the type it runs on.
        utilization: its metrics; ``cpu`` must be present.
        headroom: spare share on top of the percentile (0.20 = 20 %).
    """
    metrics = utilization.metrics
    vcpus = max(1, _scaled(current.vcpus, metrics["cpu"].percentile_value, headroom))
    memory = metrics.get("memory")
    memory_mib = (
        current.memory_mib
        if memory is None
        else max(1, _scaled(current.memory_mib, memory.percentile_value, headroom))
    )
    if not current.gpus or _gpu_unused(metrics):
        return Needs(vcpus, memory_mib, 0, 0, gpu_kept=False)
    gpus, gpu_memory_mib = _gpu_needs(current, metrics, headroom)
    return Needs(vcpus, memory_mib, gpus, gpu_memory_mib, gpu_kept=True)


def _gpu_needs(
    current: InstanceTypeFacts, metrics: Mapping[str, MetricStats], headroom: float
) -> tuple[int, int]:
    gpu = metrics.get("gpu")
    if gpu is None:
        return current.gpus, current.gpu_memory_mib
    gpus = min(current.gpus, max(1, _scaled(current.gpus, gpu.percentile_value, headroom)))
    gpu_memory = metrics.get("gpu_memory")
    if gpu_memory is None:
        return gpus, current.gpu_memory_mib * gpus // current.gpus
    needed = math.ceil(round(gpu_memory.percentile_value * (1 + headroom), 6))
    return gpus, min(current.gpu_memory_mib, needed)


def _scaled(capacity: int, percent: float, headroom: float) -> int:
    """``ceil(capacity x percent x (1 + headroom) / 100)``, rounding away float noise."""
    return math.ceil(round(capacity * percent * (1 + headroom) / 100, 6))


def _gpu_unused(metrics: Mapping[str, MetricStats]) -> bool:
    gpu = metrics.get("gpu")
    return gpu is not None and gpu.percentile_value < GPU_UNUSED_PERCENT


# --- Candidates ---------------------------------------------------------------------------------


def candidate_types(
    current: InstanceTypeFacts,
    needs: Needs,
    catalog: Mapping[str, InstanceTypeFacts],
    *,
    architecture: str,
) -> list[InstanceTypeFacts]:
    """The types that fit ``needs`` and may replace ``current`` (see the module docstring).

    Within a CPU-only family only the smallest fitting size is kept.

    Args:
        current: the type the instance runs on.
        needs: what the workload needs.
        catalog: every known type, by name.
        architecture: the instance's architecture ("x86_64", "arm64").
    """
    home = family_of(current.instance_type)
    smallest: dict[str, InstanceTypeFacts] = {}
    gpu_fits: list[InstanceTypeFacts] = []
    for facts in catalog.values():
        if not (needs.fits(facts) and _may_replace(facts, current, home, needs, architecture)):
            continue
        if facts.gpus:
            gpu_fits.append(facts)
            continue
        family = family_of(facts.instance_type).name
        held = smallest.get(family)
        if held is None or (facts.vcpus, facts.memory_mib) < (held.vcpus, held.memory_mib):
            smallest[family] = facts
    return [*smallest.values(), *gpu_fits]


def _may_replace(
    facts: InstanceTypeFacts,
    current: InstanceTypeFacts,
    home: TypeFamily,
    needs: Needs,
    architecture: str,
) -> bool:
    if facts.instance_type == current.instance_type:
        return True
    if architecture not in facts.architectures or not facts.current_generation:
        return False
    if facts.instance_type.split(".", 1)[-1].startswith("metal"):
        return False
    family = family_of(facts.instance_type)
    if home.generation is not None and (family.generation or 0) < home.generation:
        return False
    return _family_allowed(family, home, facts, current, needs)


def _family_allowed(
    family: TypeFamily,
    home: TypeFamily,
    facts: InstanceTypeFacts,
    current: InstanceTypeFacts,
    needs: Needs,
) -> bool:
    if family.name == home.name:
        return True
    if needs.gpu_kept or facts.gpus:
        return False
    if current.gpus:  # an unused GPU: any plain m/c/r type
        return family.series in CPU_SERIES and not family.special
    if home.series == BURSTABLE_SERIES:
        allowed = CPU_SERIES | {BURSTABLE_SERIES}
    elif home.series in CPU_SERIES:
        allowed = CPU_SERIES
    else:
        return False
    return family.series in allowed and family.special == home.special

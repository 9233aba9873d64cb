"""Right-sizing: what each EC2 instance should be, from how busy it was. Pure logic.

``recommend`` looks at one instance, its ``Utilization``, the instance-type catalog and a
price book, and returns a ``Recommendation`` whose ``reason`` carries the evidence. The rules
follow AWS Compute Optimizer where it has them:

* **Left alone**: Spot instances (the market sets their price and EC2 may reclaim them),
  instances that are not running (no instance-hours to save) and stop-protected ones outside
  Auto Scaling (a type change needs a stop). The reason says which.
* **Not enough data**: under 30 hours of CPU data (Compute Optimizer's minimum), or no facts
  or price for the current type. Never a guess.
* **Idle**: percentile CPU under 2 % with no hour above 20 %, network under 5 MB an hour each
  way, and (on GPU types) GPU under 2 %: stop it, saving its whole hourly price x 730.
* Otherwise the **cheapest type that fits** with ``headroom`` (20 % by default):
  vCPUs ``ceil(vcpus x cpu% x (1 + headroom) / 100)``, memory likewise from
  ``mem_used_percent`` (without it the current memory is kept, and the reason says so), and
  for a GPU in use as many GPUs and as much GPU memory as the percentiles need, never more
  than now (training jobs fill GPUs by design, so GPU load is not read as a need for more).
  **Under-provisioned** when CPU or memory is above 90 %: the cheapest type that fits, which
  is bigger; **over-provisioned** when the cheapest fit costs less than the current type;
  else **optimized**.

**Which types are considered.** Same architecture, current generation, never an older
generation than the current type, no bare metal, and a price. General purpose, compute and
memory optimized types (m, c, r) may replace one another if they share the current type's
special attributes (local NVMe ``d``, network ``n``, ...); burstable ``t`` types only replace
``t`` types (sustained load spends CPU credits). A GPU in use keeps its instance family (same
GPU model: utilization cannot predict another GPU's speed); a GPU unused (under 5 %) lets
CPU-only m/c/r types compete; a GPU without a GPU metric keeps its family. Other families
(storage, high memory, accelerators, ...) stay within their family. Within a CPU family only
the smallest size that fits is priced, which keeps price look-ups to a few per instance.

**Performance risk** is graded from the projected percentile on the recommended type (the
highest of CPU, measured memory and GPU, scaled by the capacity ratio): under 40 % VeryLow,
under 60 % Low, under 80 % Medium, else High; one grade up when the projected maximum would
exceed the new type's capacity. (A move off a GPU is a functional question, not a capacity
one: the reason asks to check that nothing needs CUDA.)

An instance in an Auto Scaling group gets action ``launch-template``: the change belongs in
the group's launch template, since the group replaces instances changed by hand. Money is
``Decimal``; a month is 730 hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from engines.rightsizing.candidates import Needs, candidate_types, family_of, needs_of
from engines.rightsizing.models import (
    HOURS_PER_MONTH,
    Finding,
    Instance,
    InstanceTypeFacts,
    MetricStats,
    Recommendation,
    Risk,
    Utilization,
)
from engines.rightsizing.pricing import LINUX, operating_system_of
from engines.words import risk_label

DEFAULT_HEADROOM = 0.20
MIN_HOURS_OF_DATA = 30.0
IDLE_CPU_PERCENT = 2.0
IDLE_CPU_MAX_PERCENT = 20.0
IDLE_NETWORK_MB_PER_HOUR = 5.0
IDLE_GPU_PERCENT = 2.0
UNDER_PROVISIONED_PERCENT = 90.0
RISK_GRADES = ((40.0, Risk.VERY_LOW), (60.0, Risk.LOW), (80.0, Risk.MEDIUM))
_RISK_ORDER = (Risk.VERY_LOW, Risk.LOW, Risk.MEDIUM, Risk.HIGH)
RUNNING_STATES = frozenset({"running", "pending"})
_ZERO = Decimal(0)


class HourlyPrices(Protocol):
    """What right-sizing needs of a price book (``rightsizing.pricing.PriceBook`` is one)."""

    def hourly(
        self, instance_type: str, *, region: str, operating_system: str = LINUX
    ) -> Decimal | None: ...


# --- Recommending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    """One instance being looked at, with what every rule needs."""

    instance: Instance
    utilization: Utilization | None
    catalog: Mapping[str, InstanceTypeFacts]
    current: InstanceTypeFacts | None
    current_hourly: Decimal | None
    price: Callable[[str], Decimal | None]
    headroom: float

    def result(
        self,
        finding: Finding,
        reason: str,
        *,
        recommended_type: str = "",
        recommended_hourly: Decimal | None = None,
        saving: Decimal = _ZERO,
        risk: Risk | None = None,
        action: str = "none",
    ) -> Recommendation:
        return Recommendation(
            instance=self.instance,
            finding=finding,
            current_type=self.instance.instance_type,
            recommended_type=recommended_type,
            current_hourly=self.current_hourly,
            recommended_hourly=recommended_hourly,
            monthly_saving=saving,
            risk=risk,
            reason=reason,
            utilization=self.utilization,
            action=action,
        )


def recommend(
    instance: Instance,
    utilization: Utilization | None,
    *,
    catalog: Mapping[str, InstanceTypeFacts],
    prices: HourlyPrices,
    headroom: float = DEFAULT_HEADROOM,
) -> Recommendation:
    """What to do with one instance, why, and what it saves a month (see the module docstring).

    Args:
        instance: the instance, as ``engines.rightsizing.catalog.describe_instances`` gives it.
        utilization: its metrics over the lookback; None when none were fetched.
        catalog: instance-type facts by name (``catalog.describe_instance_types``).
        prices: on-demand hourly prices (``engines.rightsizing.pricing.PriceBook``), asked for the
            instance's region and operating system.
        headroom: spare capacity kept above the percentile, 0 to 1 (Compute Optimizer's
            default 0.20).

    Raises:
        ValueError: ``headroom`` is outside 0 to 1.
    """
    if not 0 <= headroom <= 1:
        raise ValueError(f"headroom must be between 0 and 1 (0.20 is 20 %), not {headroom}")
    case = _case(instance, utilization, catalog, prices, headroom)
    left_alone = _left_alone(case)
    if left_alone is not None:
        return left_alone
    if utilization is None or utilization.hours_of_data < MIN_HOURS_OF_DATA:
        return _not_enough_data(case)
    if _is_idle(utilization, case.current):
        return _idle(case, utilization)
    return _sized(case, utilization)


def recommend_all(
    instances: Iterable[Instance],
    utilization: Mapping[str, Utilization],
    *,
    catalog: Mapping[str, InstanceTypeFacts],
    prices: HourlyPrices,
    headroom: float = DEFAULT_HEADROOM,
) -> list[Recommendation]:
    """``recommend`` for each instance, the biggest monthly saving first (ties by id).

    Args:
        instances: the instances.
        utilization: their metrics by instance id; a missing id means no data.
        catalog: instance-type facts by name.
        prices: on-demand hourly prices.
        headroom: spare capacity kept above the percentile, 0 to 1.
    """
    recommendations = [
        recommend(
            instance,
            utilization.get(instance.instance_id),
            catalog=catalog,
            prices=prices,
            headroom=headroom,
        )
        for instance in instances
    ]
    recommendations.sort(key=lambda rec: (-rec.monthly_saving, rec.instance.instance_id))
    return recommendations


def _case(
    instance: Instance,
    utilization: Utilization | None,
    catalog: Mapping[str, InstanceTypeFacts],
    prices: HourlyPrices,
    headroom: float,
) -> _Case:
    operating_system = operating_system_of(instance.platform)

    def price(instance_type: str) -> Decimal | None:
        if operating_system is None:
            return None
        return prices.hourly(
            instance_type, region=instance.region, operating_system=operating_system
        )

    current = catalog.get(instance.instance_type)
    current_hourly = price(instance.instance_type)
    return _Case(instance, utilization, catalog, current, current_hourly, price, headroom)


def _left_alone(case: _Case) -> Recommendation | None:
    instance = case.instance
    if instance.lifecycle == "spot":
        why = (
            "It runs on Spot: the Spot market sets its price and EC2 may reclaim it, so "
            "right-size the Spot request, fleet or launch template rather than the instance."
        )
    elif instance.state not in RUNNING_STATES:
        why = (
            f"It is {instance.state}: it costs no instance-hours now (its volumes still do), "
            "so there is nothing to right-size."
        )
    elif instance.stop_protected and not instance.auto_scaling_group:
        why = (
            "Stop protection (DisableApiStop) is on, and changing the type or stopping it "
            "needs a stop: turn the protection off first if a change is wanted."
        )
    else:
        return None
    return case.result(Finding.LEFT_ALONE, why)


def _not_enough_data(case: _Case) -> Recommendation:
    hours = 0.0 if case.utilization is None else case.utilization.hours_of_data
    lookback = "" if case.utilization is None else f" over {case.utilization.lookback_days} days"
    return case.result(
        Finding.NOT_ENOUGH_DATA,
        f"Only {hours:.0f} hours of CPU data{lookback}: right-sizing needs at least "
        f"{MIN_HOURS_OF_DATA:.0f} hours (as AWS Compute Optimizer does), so no guess is made.",
    )


# --- Idle ---------------------------------------------------------------------------------------


def _is_idle(utilization: Utilization, current: InstanceTypeFacts | None) -> bool:
    metrics = utilization.metrics
    cpu = metrics["cpu"]
    if cpu.percentile_value >= IDLE_CPU_PERCENT or cpu.maximum >= IDLE_CPU_MAX_PERCENT:
        return False
    network = [metrics[name] for name in ("network_in", "network_out") if name in metrics]
    if not network or any(_mb_per_hour(stats) >= IDLE_NETWORK_MB_PER_HOUR for stats in network):
        return False
    gpu = metrics.get("gpu")
    if gpu is None:
        return current is None or current.gpus == 0  # an unmeasured GPU might be working
    return gpu.percentile_value < IDLE_GPU_PERCENT


def _mb_per_hour(stats: MetricStats) -> float:
    """A bytes-per-period network figure as MB per hour."""
    return stats.percentile_value * 3600 / max(stats.period_s, 1) / 1_000_000


def _idle(case: _Case, utilization: Utilization) -> Recommendation:
    hourly = case.current_hourly
    saving = _ZERO if hourly is None else hourly * HOURS_PER_MONTH
    group = case.instance.auto_scaling_group
    if group:
        then = (
            f" It belongs to Auto Scaling group '{group}', which would replace a stopped "
            "instance: lower the group's desired capacity instead."
        )
    else:
        then = " Stop it (its volumes are kept and still billed)."
    if hourly is None:
        then += f" No price is known for {case.instance.instance_type}, so no saving is shown."
    line = (
        f"CPU p{utilization.metrics['cpu'].percentile} under {IDLE_CPU_PERCENT:.0f}% with no "
        f"period above {IDLE_CPU_MAX_PERCENT:.0f}%, network under "
        f"{IDLE_NETWORK_MB_PER_HOUR:.0f} MB/h each way"
    )
    if "gpu" in utilization.metrics:
        line += f", GPU under {IDLE_GPU_PERCENT:.0f}%"
    reason = f"Idle ({line}): {_evidence(utilization)}.{then}"
    return case.result(
        Finding.IDLE,
        reason,
        recommended_hourly=_ZERO,
        saving=saving,
        risk=Risk.VERY_LOW,
        action="none" if group else "stop",
    )


# --- Sizing -------------------------------------------------------------------------------------


def _sized(case: _Case, utilization: Utilization) -> Recommendation:
    current, hourly = case.current, case.current_hourly
    name = case.instance.instance_type
    if current is None:
        return case.result(
            Finding.NOT_ENOUGH_DATA,
            f"{name} is not in the instance-type catalog of {case.instance.region}, so "
            f"nothing can be compared with it. {_evidence(utilization)}.",
        )
    if hourly is None:
        return case.result(
            Finding.NOT_ENOUGH_DATA,
            f"No on-demand price is known for {name} ({case.instance.platform}) in "
            f"{case.instance.region}, so no cheaper type can be named. {_evidence(utilization)}.",
        )
    needs = needs_of(current, utilization, case.headroom)
    best = _cheapest(case, current, needs)
    notes = _notes(current, utilization, needs)
    if _under_provisioned(utilization):
        return _under(case, utilization, current, needs, best, notes)
    if best is not None and best[1] < hourly:
        return _change(case, Finding.OVER_PROVISIONED, utilization, current, needs, best, notes)
    return _optimized(case, utilization, current, needs, notes)


def _cheapest(
    case: _Case, current: InstanceTypeFacts, needs: Needs
) -> tuple[InstanceTypeFacts, Decimal] | None:
    """The cheapest fitting type with its price; ties prefer the current family, then newer."""
    home = family_of(current.instance_type).name
    priced = []
    candidates = candidate_types(
        current, needs, case.catalog, architecture=case.instance.architecture
    )
    for facts in candidates:
        hourly = case.price(facts.instance_type)
        if hourly is not None:
            family = family_of(facts.instance_type)
            tie = (family.name != home, -(family.generation or 0), facts.vcpus, facts.memory_mib)
            priced.append((hourly, tie, facts.instance_type, facts))
    if not priced:
        return None
    hourly, _, _, facts = min(priced, key=lambda item: item[:3])
    return facts, hourly


def _under_provisioned(utilization: Utilization) -> bool:
    return any(
        stats.percentile_value > UNDER_PROVISIONED_PERCENT
        for name, stats in utilization.metrics.items()
        if name in ("cpu", "memory")
    )


def _under(
    case: _Case,
    utilization: Utilization,
    current: InstanceTypeFacts,
    needs: Needs,
    best: tuple[InstanceTypeFacts, Decimal] | None,
    notes: str,
) -> Recommendation:
    if best is not None and best[0].instance_type != current.instance_type:
        return _change(case, Finding.UNDER_PROVISIONED, utilization, current, needs, best, notes)
    reason = (
        f"Under-provisioned: {_evidence(utilization)}; above {UNDER_PROVISIONED_PERCENT:.0f}% "
        f"it risks slowing down. It needs {_describe_needs(needs)}, and no larger priced type "
        f"in the catalog fits.{notes}"
    )
    return case.result(Finding.UNDER_PROVISIONED, reason)


def _change(
    case: _Case,
    finding: Finding,
    utilization: Utilization,
    current: InstanceTypeFacts,
    needs: Needs,
    best: tuple[InstanceTypeFacts, Decimal],
    notes: str,
) -> Recommendation:
    """A different type: over-provisioned (cheaper) or under-provisioned (bigger)."""
    facts, hourly = best
    current_hourly = case.current_hourly or _ZERO
    saving = (current_hourly - hourly) * HOURS_PER_MONTH
    risk, projected, peaks_over = _risk(current, facts, utilization, needs)
    money = "saving" if saving >= 0 else "costing an extra"
    now = (
        f" Above {UNDER_PROVISIONED_PERCENT:.0f}% it risks slowing down as it is."
        if finding == Finding.UNDER_PROVISIONED
        else ""
    )
    peaks = "; its peaks would exceed the new type" if peaks_over else ""
    reason = (
        f"{_FINDING_WORDS[finding]}: {_evidence(utilization)}.{now} With "
        f"{case.headroom * 100:.0f}% headroom it needs {_describe_needs(needs)}: "
        f"{facts.instance_type} ({_describe_type(facts)}) fits at {_usd(hourly)}/h against "
        f"{_usd(current_hourly)}/h for {current.instance_type} ({_describe_type(current)}), "
        f"{money} {_usd_month(abs(saving))} a month. On {facts.instance_type} the busiest "
        f"metric would run at about {projected:.0f}% ({risk_label(risk)}{peaks}).{notes}"
        f"{_group_note(case.instance)}"
    )
    return case.result(
        finding,
        reason,
        recommended_type=facts.instance_type,
        recommended_hourly=hourly,
        saving=saving,
        risk=risk,
        action="launch-template" if case.instance.auto_scaling_group else "modify",
    )


def _optimized(
    case: _Case,
    utilization: Utilization,
    current: InstanceTypeFacts,
    needs: Needs,
    notes: str,
) -> Recommendation:
    tight = "" if needs.fits(current) else " It runs close to its limits, though not above 90%."
    reason = (
        f"Optimized: {_evidence(utilization)}. With {case.headroom * 100:.0f}% headroom it "
        f"needs {_describe_needs(needs)}, and no type that fits costs less than "
        f"{current.instance_type} ({_describe_type(current)}) at "
        f"{_usd(case.current_hourly or _ZERO)}/h.{tight}{notes}"
    )
    return case.result(Finding.OPTIMIZED, reason, recommended_hourly=case.current_hourly)


_FINDING_WORDS = {
    Finding.OVER_PROVISIONED: "Over-provisioned",
    Finding.UNDER_PROVISIONED: "Under-provisioned",
}


def _group_note(instance: Instance) -> str:
    if not instance.auto_scaling_group:
        return ""
    return (
        f" It belongs to Auto Scaling group '{instance.auto_scaling_group}': change the type "
        "in the group's launch template (the group replaces instances changed by hand)."
    )


# --- Risk ---------------------------------------------------------------------------------------


def _risk(
    current: InstanceTypeFacts, new: InstanceTypeFacts, utilization: Utilization, needs: Needs
) -> tuple[Risk, float, bool]:
    """The risk grade, the projected busiest percentile (%) and whether peaks exceed 100 %."""
    metrics = utilization.metrics
    projections = [_project(metrics["cpu"], current.vcpus, new.vcpus)]
    if "memory" in metrics:
        projections.append(_project(metrics["memory"], current.memory_mib, new.memory_mib))
    if "gpu" in metrics and needs.gpu_kept and new.gpus:
        projections.append(_project(metrics["gpu"], current.gpus, new.gpus))
    projected = max(percentile for percentile, _ in projections)
    peaks_over = max(peak for _, peak in projections) > 100
    grade = next(
        (i for i, (limit, _) in enumerate(RISK_GRADES) if projected < limit), len(RISK_GRADES)
    )
    grade += int(peaks_over)
    return _RISK_ORDER[min(grade, len(_RISK_ORDER) - 1)], projected, peaks_over


def _project(stats: MetricStats, capacity: int, new_capacity: int) -> tuple[float, float]:
    """A percent metric's percentile and maximum scaled to another capacity."""
    ratio = capacity / max(new_capacity, 1)
    return stats.percentile_value * ratio, stats.maximum * ratio


# --- Words --------------------------------------------------------------------------------------


_METRIC_WORDS = {
    "cpu": "CPU",
    "memory": "memory",
    "gpu": "GPU",
    "gpu_memory": "GPU memory",
    "network_in": "network in",
    "network_out": "network out",
    "disk": "disk",
}


def _notes(current: InstanceTypeFacts, utilization: Utilization, needs: Needs) -> str:
    metrics = utilization.metrics
    notes = []
    if "memory" not in metrics:
        notes.append(
            "No memory metric (CloudWatch agent not installed): memory kept at "
            f"{_gib(current.memory_mib)}."
        )
    if current.gpus and "gpu" not in metrics:
        notes.append(
            "No GPU metric (CloudWatch agent not reporting nvidia-smi): GPUs kept, within the "
            f"{family_of(current.instance_type).name} family."
        )
    elif current.gpus and not needs.gpu_kept:
        notes.append(
            "The GPU is unused, so CPU-only types were considered: check nothing needs CUDA "
            "before switching."
        )
    elif current.gpus:
        notes.append(
            f"The GPU is in use, so only {family_of(current.instance_type).name} sizes (same "
            "GPU model) were considered."
        )
    return "".join(f" {note}" for note in notes)


def _evidence(utilization: Utilization) -> str:
    """Percentile and maximum of each metric, and how much data: the reason's evidence."""
    metrics = utilization.metrics
    parts = [_metric_words(name, metrics[name]) for name in _METRIC_WORDS if name in metrics]
    window = f"over {utilization.lookback_days} days"
    cpu = metrics.get("cpu")
    if cpu is not None:
        window += (
            f" ({cpu.datapoints} datapoints of {_period(cpu.period_s)}, "
            f"{utilization.hours_of_data:.0f} h of data)"
        )
    return ", ".join(parts) + " " + window


def _metric_words(name: str, stats: MetricStats) -> str:
    label = f"{_METRIC_WORDS[name]} p{stats.percentile}"
    if name.startswith("network"):
        peak = stats.maximum * 3600 / max(stats.period_s, 1) / 1_000_000
        return f"{label} {_mb(_mb_per_hour(stats))}/h (max {_mb(peak)}/h)"
    if name == "gpu_memory":
        return f"{label} {stats.percentile_value:,.0f} MiB (max {stats.maximum:,.0f} MiB)"
    return f"{label} {stats.percentile_value:.1f}% (max {stats.maximum:.1f}%)"


def _mb(megabytes: float) -> str:
    return f"{megabytes:.2f} MB" if megabytes < 10 else f"{megabytes:,.0f} MB"


def _period(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _describe_type(facts: InstanceTypeFacts) -> str:
    words = f"{facts.vcpus} vCPU, {_gib(facts.memory_mib)}"
    if facts.gpus:
        model = f" {facts.gpu_model}" if facts.gpu_model else ""
        words += f", {facts.gpus}{model} GPU ({_gib(facts.gpu_memory_mib)})"
    return words


def _describe_needs(needs: Needs) -> str:
    words = f"{needs.vcpus} vCPU and {_gib(needs.memory_mib)}"
    if needs.gpus:
        words += f", {needs.gpus} GPU with {_gib(needs.gpu_memory_mib)} GPU memory"
    return words


def _gib(mib: int) -> str:
    return f"{mib / 1024:.1f}".removesuffix(".0") + " GiB"


def _usd(amount: Decimal) -> str:
    """An hourly price: at least two decimals, at most four ($0.096, $0.0416, $3.06)."""
    exact = amount.quantize(Decimal("0.0001")).normalize()
    if -exact.as_tuple().exponent < 2:  # type: ignore[operator]
        exact = exact.quantize(Decimal("0.01"))
    return f"${exact:f}"


def _usd_month(amount: Decimal) -> str:
    return f"${amount:,.2f}"

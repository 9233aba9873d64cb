"""The rules that turn a SageMaker inventory and its traffic into recommendations. Pure.

Every rule takes what it judges as arguments (the resource, its traffic or activity, a price
book, ``now``) and returns a ``SageMakerRecommendation``, or None when there is nothing to
say. Savings are Decimal USD per month (730 h) at on-demand list prices.

- **Idle endpoint** (``review_endpoint``): an in-service endpoint, older than the lookback,
  with no invocation on any variant in ``IDLE_LOOKBACK_DAYS`` (14) days → delete it, keeping
  its endpoint config and model so it can be re-created as it was. Saving: all its
  instances.
- **Over-provisioned endpoint** (``review_endpoint``): per variant, from its peak CPU and
  peak GPU, each a share of one instance (0-100), and its invocations per instance. Load
  spreads over the instances, so the instances needed are ``ceil(count x max(CPU, GPU) /
  TARGET_UTILIZATION_PERCENT)`` (60 %, so the busiest day still leaves 40 % headroom); fewer
  than today → set the instance count. Memory is no reason to keep instances: every
  instance holds the model, so its memory does not grow when there are fewer; it is shown,
  with the model's average latency, as evidence. A prod endpoint (tag
  ``env``/``environment``/``stage`` = prod, production, prd or live) keeps at least
  ``PROD_MIN_INSTANCES`` (2): with one instance there is nothing to fail over to, and
  SageMaker spreads a variant's instances over Availability Zones only when it has two or
  more. Without a CPU or a GPU figure nothing is proposed: invocations alone do not say how
  much one instance can take. A GPU type whose GPU figure was not published is judged on
  its CPU only, and its evidence says so.
- **Smaller type** (``review_endpoint``): a variant already at its floor count (1, or 2 for
  prod) whose peak CPU would stay at or under ``TARGET_UTILIZATION_PERCENT`` on the next
  smaller size of its family (half the vCPUs: ml.m5.2xlarge → ml.m5.xlarge → ml.m5.large)
  → switch to a new endpoint config with that type (``UpdateEndpoint``, blue/green). The
  smaller size has half the memory too, so a peak memory over
  ``SMALLER_TYPE_MAX_MEMORY_PERCENT`` (45 %, about 90 % there) rules it out; without a
  memory figure the evidence says the model's fit is unchecked and the risk is at least
  medium. Only the CPU families in ``SHRINKABLE_FAMILIES`` (ml.m5, ml.c5), never below
  ``.large`` and never across families (a GPU or Inferentia type is never shrunk: its CPU
  says nothing of its accelerator). Saving: the price difference over the variant's
  instances.
- **Notebook left running** (``review_notebook``): an ``InService`` notebook, outside the
  team's working hours, whose CPU peak stayed under ``NOTEBOOK_IDLE_CPU_PERCENT`` (5 %) →
  stop it. Saving: its price over the hours outside working hours in a month.
- **Training without managed spot** (``review_training_job``): saving = the period's
  instance-seconds x (on-demand − spot), with spot assumed at on-demand x (1 −
  ``ASSUMED_SPOT_DISCOUNT``). AWS quotes managed spot training savings of up to 90 %; the
  assumption here is a conservative **50 %**, stated in every recommendation. A job without
  ``CheckpointConfig`` is told to add checkpoints first: an interrupted spot job without
  them starts over.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engines.sagemaker.metrics import ML_VCPUS, gpus_of
from engines.sagemaker.models import (
    HOURS_PER_MONTH,
    Endpoint,
    EndpointTraffic,
    Finding,
    NotebookActivity,
    NotebookInstance,
    Risk,
    SageMakerAction,
    SageMakerRecommendation,
    TrainingJob,
    Variant,
)
from engines.sagemaker.prices import HOSTING, NOTEBOOK, TRAINING, SageMakerPriceBook
from engines.words import plural

IDLE_LOOKBACK_DAYS = 14
TARGET_UTILIZATION_PERCENT = 60.0
PROD_MIN_INSTANCES = 2
SMALLER_TYPE_MAX_MEMORY_PERCENT = 45.0
"""Peak memory above which half the memory (the next smaller size) would pass about 90 %."""
LOW_RISK_PERCENT = 45.0
"""A change whose figures stay at or under this after it is low risk; above, medium."""
NOTEBOOK_IDLE_CPU_PERCENT = 5.0
SHRINKABLE_FAMILIES = frozenset({"ml.m5", "ml.c5"})
"""Families whose next smaller size is judged on CPU alone (no GPU, no accelerator)."""
SMALLEST_SIZE = "large"
ASSUMED_SPOT_DISCOUNT = Decimal("0.50")
"""Managed spot training's assumed saving over on-demand (AWS: up to 90 %); conservative."""
WORK_START = dt.time(8, 0)
WORK_END = dt.time(19, 0)
WORK_DAYS = frozenset(range(5))  # Monday to Friday
_CENT = Decimal("0.01")
_HOURS_PER_WEEK = Decimal(168)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _monthly(hourly: Decimal, count: int) -> Decimal:
    return _money(hourly * count * HOURS_PER_MONTH)


# --- Endpoints --------------------------------------------------------------------------------


def review_endpoint(
    endpoint: Endpoint,
    traffic: Mapping[str, EndpointTraffic],
    *,
    prices: SageMakerPriceBook,
    now: dt.datetime,
) -> list[SageMakerRecommendation]:
    """The idle-endpoint recommendation, or one over-provisioning recommendation per
    variant that has more instances than its traffic needs.

    Args:
        endpoint: from ``engines.sagemaker.inventory``.
        traffic: variant name -> its traffic over the lookback (``metrics``); a variant
            missing here counts as not measured.
        prices: the SageMaker price book (``Hosting`` prices).
        now: the current time, timezone-aware.
    """
    if endpoint.status != "InService" or not endpoint.variants:
        return []
    idle = _idle(endpoint, traffic, prices, now)
    if idle is not None:
        return [idle]
    found = []
    for variant in endpoint.variants:
        measured = traffic.get(variant.name)
        rec = _over_provisioned(endpoint, variant, measured, prices) or _smaller_type(
            endpoint, variant, measured, prices
        )
        if rec is not None:
            found.append(rec)
    return found


def next_smaller_type(instance_type: str) -> str | None:
    """The same family's size with half the vCPUs (``ml.m5.2xlarge`` → ``ml.m5.xlarge``),
    or None: not a shrinkable family, already ``.large``, or no size with exactly half."""
    family, _, size = instance_type.rpartition(".")
    vcpus = ML_VCPUS.get(instance_type, 0)
    if family not in SHRINKABLE_FAMILIES or size == SMALLEST_SIZE or vcpus < 4:
        return None
    for candidate, count in ML_VCPUS.items():
        if candidate.rpartition(".")[0] == family and count * 2 == vcpus:
            return candidate
    return None


def _smaller_type(
    endpoint: Endpoint,
    variant: Variant,
    traffic: EndpointTraffic | None,
    prices: SageMakerPriceBook,
) -> SageMakerRecommendation | None:
    if traffic is None or traffic.cpu_max_percent is None:
        return None
    floor = PROD_MIN_INSTANCES if endpoint.prod else 1
    if variant.instance_count != floor or variant.autoscaled:
        return None  # AWS refuses UpdateEndpoint to another type while autoscaling is on
    smaller = next_smaller_type(variant.instance_type)
    if smaller is None:
        return None
    memory = traffic.memory_max_percent
    if memory is not None and memory > SMALLER_TYPE_MAX_MEMORY_PERCENT:
        return None  # half the memory would leave the model too little room
    peak = traffic.cpu_max_percent
    after = peak * ML_VCPUS[variant.instance_type] / ML_VCPUS[smaller]
    if after > TARGET_UTILIZATION_PERCENT:
        return None
    hourly = prices.hourly(variant.instance_type, region=endpoint.region, component=HOSTING)
    smaller_hourly = prices.hourly(smaller, region=endpoint.region, component=HOSTING)
    if hourly is None or smaller_hourly is None or smaller_hourly >= hourly:
        return None
    count = variant.instance_count
    saving = _money((hourly - smaller_hourly) * count * HOURS_PER_MONTH)
    why_floor = (
        f"{count} instances is the fewest a prod endpoint keeps"
        if endpoint.prod
        else "1 instance already: fewer is not possible"
    )
    if memory is not None:
        memory_line = (
            f"peak memory {memory:.0f}% per instance: about {2 * memory:.0f}% with half the "
            f"memory on {smaller} (at most {SMALLER_TYPE_MAX_MEMORY_PERCENT:.0f}% allowed "
            "before)"
        )
    else:
        memory_line = (
            f"memory utilization not published: that the model fits in {smaller}'s half "
            "the memory is unchecked"
        )
    evidence = [
        f"peak CPU {peak:.0f}% of {count} x {variant.instance_type} over "
        f"{traffic.lookback_days} days",
        f"on {smaller} ({ML_VCPUS[smaller]} vCPUs instead of "
        f"{ML_VCPUS[variant.instance_type]}) the peak would be about {after:.0f}% "
        f"(target {TARGET_UTILIZATION_PERCENT:.0f}%)",
        memory_line,
        f"busiest day {traffic.busiest_day:,.0f} invocations",
    ]
    evidence += _latency_lines(traffic)
    evidence.append(why_floor)
    low = after <= LOW_RISK_PERCENT and memory is not None and 2 * memory <= LOW_RISK_PERCENT
    return _variant_recommendation(
        endpoint,
        variant,
        action=SageMakerAction.SWITCH_ENDPOINT_CONFIG,
        recommended_type=smaller,
        recommended_count=count,
        current_hourly=hourly,
        recommended_hourly=smaller_hourly,
        monthly_saving=saving,
        risk=Risk.LOW if low else Risk.MEDIUM,
        reason=(
            f"Variant {variant.name} peaked at {peak:.0f}% CPU on {variant.instance_type}: "
            f"{smaller} can carry it, through a new endpoint config."
        ),
        risk_note=(
            "UpdateEndpoint is blue/green: SageMaker rolls back by itself if the new "
            "instances fail health checks. The smaller type has half the memory too: the "
            "model must still fit."
        ),
        evidence=tuple(evidence),
    )


def _latency_lines(traffic: EndpointTraffic) -> list[str]:
    latency = traffic.model_latency_ms
    if latency is None:
        return []
    shown = f"{latency:.0f}" if latency >= 10 else f"{latency:.1f}"
    return [f"model latency {shown} ms on average over {traffic.lookback_days} days"]


def _idle(
    endpoint: Endpoint,
    traffic: Mapping[str, EndpointTraffic],
    prices: SageMakerPriceBook,
    now: dt.datetime,
) -> SageMakerRecommendation | None:
    measured = [traffic.get(variant.name) for variant in endpoint.variants]
    if any(t is None or t.lookback_days < IDLE_LOOKBACK_DAYS for t in measured):
        return None
    if any(t is not None and t.invocations > 0 for t in measured):
        return None
    if endpoint.created is not None and now - endpoint.created < dt.timedelta(
        days=IDLE_LOOKBACK_DAYS
    ):
        return None
    monthly = Decimal(0)
    hourly_total = Decimal(0)
    unpriced = []
    for variant in endpoint.variants:
        hourly = prices.hourly(variant.instance_type, region=endpoint.region, component=HOSTING)
        if hourly is None:
            unpriced.append(variant.instance_type or variant.name)
            continue
        hourly_total += hourly * variant.instance_count
        monthly += _monthly(hourly, variant.instance_count)
    shape = ", ".join(
        f"{variant.instance_count} x {variant.instance_type}" for variant in endpoint.variants
    )
    evidence = [
        f"0 invocations in {IDLE_LOOKBACK_DAYS} days on "
        f"{plural(len(endpoint.variants), 'variant')} ({shape})",
        f"endpoint config {endpoint.config_name} and its model are kept",
    ]
    if unpriced:
        evidence.append(f"no price known for {', '.join(unpriced)}: left out of the saving")
    first = endpoint.variants[0]
    return SageMakerRecommendation(
        kind="endpoint",
        name=endpoint.name,
        arn=endpoint.arn,
        finding=Finding.IDLE,
        action=SageMakerAction.DELETE_ENDPOINT,
        current_type=first.instance_type,
        recommended_type="",
        current_count=endpoint.instance_count,
        recommended_count=0,
        current_hourly=hourly_total if not unpriced else None,
        recommended_hourly=Decimal(0),
        monthly_saving=monthly,
        risk=Risk.LOW if not endpoint.prod else Risk.MEDIUM,
        reason=(
            f"No invocations in {IDLE_LOOKBACK_DAYS} days: delete the endpoint, keeping "
            f"config {endpoint.config_name} and its model."
        ),
        risk_note=(
            "Anything still calling it gets errors until it is re-created from the saved "
            "config (Revert), which takes several minutes."
            + (
                " AWS deregisters its autoscaling with it, and Revert does not register it again."
                if any(variant.autoscaled for variant in endpoint.variants)
                else ""
            )
        ),
        evidence=tuple(evidence),
        config_name=endpoint.config_name,
    )


def _over_provisioned(
    endpoint: Endpoint,
    variant: Variant,
    traffic: EndpointTraffic | None,
    prices: SageMakerPriceBook,
) -> SageMakerRecommendation | None:
    if traffic is None or variant.instance_count < 2:
        return None
    cpu, gpu = traffic.cpu_max_percent, traffic.gpu_max_percent
    if cpu is None and gpu is None:
        return None
    count = variant.instance_count
    # CPU and GPU load both spread over the instances: the busier one decides.
    peak, busiest = max((v, name) for v, name in ((cpu, "CPU"), (gpu, "GPU")) if v is not None)
    needed = max(1, math.ceil(count * peak / TARGET_UTILIZATION_PERCENT))
    floor = PROD_MIN_INSTANCES if endpoint.prod else 1
    carries = max(needed, floor)  # what the traffic needs, prod's floor included
    if carries >= count:
        return None
    # Autoscaling puts back any instance below its minimum: costbot sets the count no lower,
    # and the rest is advice about autoscaling, which costbot does not change.
    minimum = variant.autoscaling_min if variant.autoscaled else None
    recommended = max(carries, minimum or 0)
    hourly = prices.hourly(variant.instance_type, region=endpoint.region, component=HOSTING)
    if recommended >= count:
        return _autoscaling_advice(endpoint, variant, traffic, carries, hourly)
    saving = _monthly(hourly, count - recommended) if hourly is not None else Decimal(0)
    after = peak * count / recommended
    per_instance_minute = traffic.busiest_day / count / 1440
    evidence = _utilization_lines(variant, traffic)
    evidence += [
        f"busiest day {traffic.busiest_day:,.0f} invocations: "
        f"{per_instance_minute:,.1f} per instance per minute",
        *_latency_lines(traffic),
        f"on {plural(recommended, 'instance')} the peak would be about {after:.0f}% {busiest} "
        f"(target {TARGET_UTILIZATION_PERCENT:.0f}%)",
    ]
    peaks = " and ".join(
        f"{value:.0f}% {name}" for value, name in ((cpu, "CPU"), (gpu, "GPU")) if value is not None
    )
    reason = (
        f"Variant {variant.name} peaked at {peaks} on {count} instances: "
        f"{recommended} can carry it."
    )
    if endpoint.prod and needed < PROD_MIN_INSTANCES:
        why = (
            f"kept {PROD_MIN_INSTANCES} instances because the endpoint is prod: with one "
            "there is nothing to fail over to, and SageMaker spreads instances over "
            "Availability Zones only from two"
        )
        evidence.append(why)
        reason += f" It keeps {PROD_MIN_INSTANCES} because it is prod."
    if recommended > carries:
        more = f" (${_monthly(hourly, recommended - carries):,.2f}/month more)" if hourly else ""
        evidence.append(
            f"autoscaling keeps at least {minimum}, so {recommended} and not {carries}: "
            f"lowering its minimum to {carries} would save the rest{more}; costbot does not "
            "change autoscaling"
        )
    risk_note = "Fewer instances leave less room for a traffic spike."
    return _variant_recommendation(
        endpoint,
        variant,
        action=SageMakerAction.SET_INSTANCE_COUNT,
        recommended_type=variant.instance_type,
        recommended_count=recommended,
        current_hourly=hourly,
        recommended_hourly=hourly,
        monthly_saving=saving,
        risk=Risk.LOW if after <= LOW_RISK_PERCENT else Risk.MEDIUM,
        reason=reason,
        risk_note=risk_note,
        evidence=tuple(evidence),
    )


def _autoscaling_advice(
    endpoint: Endpoint,
    variant: Variant,
    traffic: EndpointTraffic,
    carries: int,
    hourly: Decimal | None,
) -> SageMakerRecommendation:
    """A variant autoscaling's minimum keeps above what its traffic needs: advice to lower
    that minimum (costbot sets no count autoscaling would undo, and changes no policy)."""
    count, minimum = variant.instance_count, variant.autoscaling_min
    peak = max(v for v in (traffic.cpu_max_percent, traffic.gpu_max_percent) if v is not None)
    return _variant_recommendation(
        endpoint,
        variant,
        action=SageMakerAction.LOWER_AUTOSCALING_MIN,
        recommended_type=variant.instance_type,
        recommended_count=carries,
        current_hourly=hourly,
        recommended_hourly=hourly,
        monthly_saving=_monthly(hourly, count - carries) if hourly is not None else Decimal(0),
        risk=Risk.MEDIUM,
        reason=(
            f"Variant {variant.name} peaked at {peak:.0f}% on {count} instances: {carries} can "
            f"carry it, but its autoscaling minimum is {minimum}, and autoscaling would put "
            "back any instance costbot removed."
        ),
        risk_note=(
            f"Lower the minimum to {carries} in Application Auto Scaling "
            f"(endpoint/{endpoint.name}/variant/{variant.name}); its scaling policy then "
            "decides the count."
        ),
        evidence=tuple(_utilization_lines(variant, traffic)),
    )


def _variant_recommendation(
    endpoint: Endpoint, variant: Variant, **advice: Any
) -> SageMakerRecommendation:
    """An over-provisioned variant's recommendation: the endpoint, the variant and what it
    runs now, with ``advice`` (the action, what it should run, the saving and the words)."""
    return SageMakerRecommendation(
        kind="endpoint",
        name=endpoint.name,
        arn=endpoint.arn,
        finding=Finding.OVER_PROVISIONED,
        current_type=variant.instance_type,
        current_count=variant.instance_count,
        variant=variant.name,
        config_name=endpoint.config_name,
        **advice,
    )


def _utilization_lines(variant: Variant, traffic: EndpointTraffic) -> list[str]:
    """One line per figure the count rule used, and one per figure it could not use."""
    count, kind, days = variant.instance_count, variant.instance_type, traffic.lookback_days
    cpu, gpu, memory = traffic.cpu_max_percent, traffic.gpu_max_percent, traffic.memory_max_percent
    gpus = gpus_of(kind)
    lines = []
    if cpu is not None:
        lines.append(f"peak CPU {cpu:.0f}% of {count} x {kind} over {days} days")
    else:
        lines.append("CPU utilization not published: judged on GPU only")
    if gpu is not None:
        per = f" of {gpus} GPU{'s' if gpus != 1 else ''} per instance" if gpus else ""
        lines.append(f"peak GPU {gpu:.0f}%{per}")
    elif gpus:
        lines.append(
            f"GPU utilization not published for {kind} ({gpus} GPU{'s' if gpus != 1 else ''} "
            "per instance): judged on CPU only"
        )
    if memory is not None:
        lines.append(
            f"peak memory {memory:.0f}% per instance (each instance holds the model: "
            "fewer instances do not raise it)"
        )
    return lines


# --- Notebooks --------------------------------------------------------------------------------


def off_hours_per_month(
    work_start: dt.time = WORK_START, work_end: dt.time = WORK_END, work_days: int = 5
) -> Decimal:
    """Hours a month (730 h) outside working hours (weekends included)."""
    day = Decimal(work_end.hour * 60 + work_end.minute - work_start.hour * 60 - work_start.minute)
    working_per_week = day / 60 * work_days
    return (_HOURS_PER_WEEK - working_per_week) / _HOURS_PER_WEEK * HOURS_PER_MONTH


def is_working_time(
    now: dt.datetime,
    *,
    timezone: str,
    work_start: dt.time = WORK_START,
    work_end: dt.time = WORK_END,
    work_days: frozenset[int] = WORK_DAYS,
) -> bool:
    """Whether ``now`` is inside the team's working hours, in its time zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.weekday() in work_days and work_start <= local.time() < work_end


def review_notebook(
    notebook: NotebookInstance,
    activity: NotebookActivity | None,
    *,
    prices: SageMakerPriceBook,
    now: dt.datetime,
    timezone: str,
    work_start: dt.time = WORK_START,
    work_end: dt.time = WORK_END,
    work_days: frozenset[int] = WORK_DAYS,
) -> SageMakerRecommendation | None:
    """Stop a notebook running outside the team's hours with no CPU activity.

    Args:
        notebook: from the inventory.
        activity: its CPU peak over the recent hours; None or unmeasured proposes nothing.
        prices: the price book (``Notebook`` prices).
        now: the current time, timezone-aware.
        timezone: the team's time zone (``Team.timezone``).
        work_start, work_end, work_days: the team's working hours (local time).
    """
    if not notebook.running or activity is None or activity.cpu_max_percent is None:
        return None
    if activity.cpu_max_percent >= NOTEBOOK_IDLE_CPU_PERCENT:
        return None
    if is_working_time(
        now, timezone=timezone, work_start=work_start, work_end=work_end, work_days=work_days
    ):
        return None
    hourly = prices.hourly(notebook.instance_type, region=notebook.region, component=NOTEBOOK)
    hours = off_hours_per_month(work_start, work_end, len(work_days))
    saving = _money(hourly * hours) if hourly is not None else Decimal(0)
    local = now.astimezone(ZoneInfo(timezone))
    return SageMakerRecommendation(
        kind="notebook",
        name=notebook.name,
        arn=notebook.arn,
        finding=Finding.IDLE,
        action=SageMakerAction.STOP_NOTEBOOK,
        current_type=notebook.instance_type,
        recommended_type="",
        current_count=1,
        recommended_count=0,
        current_hourly=hourly,
        recommended_hourly=Decimal(0),
        monthly_saving=saving,
        risk=Risk.LOW,
        reason=(
            f"Running at {local:%a %H:%M} {timezone}, outside working hours "
            f"({work_start:%H:%M}-{work_end:%H:%M}), with CPU under "
            f"{NOTEBOOK_IDLE_CPU_PERCENT:.0f}%: stop it."
        ),
        risk_note=(
            "Stopping keeps the notebook's storage volume; kernels and unsaved work in memory "
            "are lost, and starting again takes a few minutes."
        ),
        evidence=(
            f"status {notebook.status}, peak CPU {activity.cpu_max_percent:.1f}%",
            f"saving counts {hours:.0f} off-hours a month",
        ),
    )


# --- Training jobs ----------------------------------------------------------------------------


def review_training_job(
    job: TrainingJob,
    *,
    prices: SageMakerPriceBook,
    period_days: int = 30,
    spot_discount: Decimal = ASSUMED_SPOT_DISCOUNT,
) -> SageMakerRecommendation | None:
    """Use managed spot for a job that ran on demand; add checkpoints first if it has none.

    Args:
        job: a training job of the period.
        prices: the price book (``Training`` prices).
        period_days: the period's length; the saving is scaled to a 730-hour month.
        spot_discount: the assumed spot saving over on-demand (0-1).
    """
    if job.managed_spot or job.instance_seconds <= 0:
        return None
    hourly = prices.hourly(job.instance_type, region=job.region, component=TRAINING)
    if hourly is None:
        return None
    spot_hourly = _money(hourly * (1 - spot_discount)) if spot_discount < 1 else Decimal(0)
    instance_hours = Decimal(job.instance_seconds) / 3600
    period_saving = instance_hours * (hourly - spot_hourly)
    monthly = _money(period_saving * HOURS_PER_MONTH / (24 * period_days))
    assumption = f"spot assumed {spot_discount * 100:.0f}% below on-demand (AWS quotes up to 90%)"
    evidence = (
        f"{job.instance_count} x {job.instance_type} for {job.billable_seconds:,} billable "
        f"seconds each: {instance_hours:,.1f} instance-hours on demand",
        f"on-demand ${hourly}/h, spot about ${spot_hourly}/h ({assumption})",
        f"${_money(period_saving)} in the {period_days}-day period",
    )
    common = {
        "kind": "training-job",
        "name": job.name,
        "arn": job.arn,
        "finding": Finding.OVER_PROVISIONED,
        "current_type": job.instance_type,
        "recommended_type": job.instance_type,
        "current_count": job.instance_count,
        "recommended_count": job.instance_count,
        "current_hourly": hourly,
        "recommended_hourly": spot_hourly,
        "monthly_saving": monthly,
        "evidence": evidence,
    }
    if not job.has_checkpoints:
        return SageMakerRecommendation(
            action=SageMakerAction.ADD_CHECKPOINTS,
            risk=Risk.HIGH,
            reason=(
                "Add checkpoints first, then train on managed spot: the job has no "
                "CheckpointConfig."
            ),
            risk_note=(
                "Without checkpoints an interrupted spot job starts over from the beginning; "
                "set CheckpointConfig (an S3 URI) and save checkpoints before switching."
            ),
            **common,  # type: ignore[arg-type]
        )
    return SageMakerRecommendation(
        action=SageMakerAction.USE_MANAGED_SPOT,
        risk=Risk.LOW,
        reason="Train on managed spot (EnableManagedSpotTraining): the job already checkpoints.",
        risk_note=(
            "Spot capacity can be reclaimed: the job resumes from its last checkpoint, and "
            "MaxWaitTimeInSeconds bounds how long it may wait for capacity."
        ),
        **common,  # type: ignore[arg-type]
    )

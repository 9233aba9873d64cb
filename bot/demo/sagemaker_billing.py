"""fraud-detection's SageMaker bill, resource by resource: the billing lines of the endpoints,
notebooks and training jobs of ``bot.demo.sagemaker_fleet``.

Each line's ``ResourceId`` is the resource's ARN as SageMaker reports it
(``arn:aws:sagemaker:us-east-1:<account>:endpoint/<name>``, ``notebook-instance/``,
``training-job/``) and endpoint lines carry the ``model_name`` tag, so unit cost can match
them to CloudWatch's invocations and the review's resources to their cost.

- **Endpoints**: 24 hosted instance-hours a day per instance, at the hosting price.
- **Notebooks**: 24 hours a day while the notebook is in service.
- **Training**: the team's training spend of the day (``charges.FRAUD_TRAINING_SPEND``, the
  line the team was billed before these resources existed) less that day's notebooks, shared
  by the jobs that ran that day: every job ran the same hours, so each pays its hourly rate
  times those hours (the last job takes the remainder, to the 10th decimal). A managed spot
  job is billed at the on-demand rate for its billable time (as AWS bills it).

So fraud-detection's SageMaker cost of every day is what it was with the generic lines: the
endpoints cost exactly the old endpoint line (4.896 USD an hour), and notebooks plus training
exactly the old training line. ``job_hours`` gives each job's hours, which the demo world sets
as the job's billable time in moto.

Nothing here touches AWS or files; ``bot.demo.focus_export`` writes the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.demo.charges import SAGEMAKER, DemoCharge
from bot.demo.sagemaker_fleet import (
    ENDPOINTS,
    MODEL_TAG,
    NOTEBOOKS,
    TRAINING_JOBS,
    DemoEndpoint,
    DemoNotebook,
    DemoTrainingJob,
    price,
)
from engines.sagemaker.prices import HOSTING, TRAINING

_TEN_PLACES = Decimal("1E-10")
_ARN = "arn:aws:sagemaker:us-east-1:{{account}}:{kind}/{name}"


def _money(value: Decimal) -> Decimal:
    return value.quantize(_TEN_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SageMakerLine:
    """One day's line of one resource: what it is, how much, and its cost."""

    charge: DemoCharge
    quantity: Decimal
    cost: Decimal


def endpoint_charge(endpoint: DemoEndpoint) -> DemoCharge:
    hourly = price(endpoint.instance_type, HOSTING)
    return DemoCharge(
        name=endpoint.name, team=endpoint.team, env=endpoint.env, service=SAGEMAKER,
        usage_type=f"USE1-Host:{endpoint.instance_type}", operation="RunInstance",
        description=f"${hourly} per Hosted Instance Hour for {endpoint.instance_type}",
        resource_type="Endpoint", resource_id=_ARN.format(kind="endpoint", name=endpoint.name),
        pricing_unit="Hrs", unit_price=hourly, quantity=Decimal(24 * endpoint.instance_count),
        resource_tags=(("workload_type", "serving"), (MODEL_TAG, endpoint.model)),
    )  # fmt: skip


def notebook_charge(notebook: DemoNotebook) -> DemoCharge:
    hourly = notebook.hourly_price
    return DemoCharge(
        name=notebook.name, team=notebook.team, env=None, service=SAGEMAKER,
        usage_type=f"USE1-Notebk:{notebook.instance_type}", operation="RunInstance",
        description=f"${hourly} per Notebook Instance Hour for {notebook.instance_type}",
        resource_type="NotebookInstance",
        resource_id=_ARN.format(kind="notebook-instance", name=notebook.name),
        pricing_unit="Hrs", unit_price=hourly, quantity=Decimal(24),
        resource_tags=(("workload_type", "notebook"),),
    )  # fmt: skip


def training_charge(job: DemoTrainingJob) -> DemoCharge:
    hourly = price(job.instance_type, TRAINING)
    spot = " (managed spot: billable time only)" if job.managed_spot else ""
    return DemoCharge(
        name=job.name, team=job.team, env="prod", service=SAGEMAKER,
        usage_type=f"USE1-Train:{job.instance_type}", operation="RunInstance",
        description=f"${hourly} per Training Instance Hour for {job.instance_type}{spot}",
        resource_type="TrainingJob", resource_id=_ARN.format(kind="training-job", name=job.name),
        pricing_unit="Hrs", unit_price=hourly, quantity=Decimal(0),
        resource_tags=(("workload_type", "training"),),
    )  # fmt: skip


def sagemaker_lines(days_ago: int, training_spend: Decimal) -> list[SageMakerLine]:
    """Every SageMaker line of the day ``days_ago`` days before today.

    Args:
        days_ago: 1 for yesterday.
        training_spend: the team's training spend that day (notebooks included).
    """
    lines = []
    for endpoint in ENDPOINTS:
        if days_ago <= endpoint.created_days_ago:
            charge = endpoint_charge(endpoint)
            lines.append(SageMakerLine(charge, charge.quantity, _money(24 * endpoint.hourly_price)))
    for notebook in NOTEBOOKS:
        if notebook.ran_on(days_ago):
            charge = notebook_charge(notebook)
            lines.append(SageMakerLine(charge, charge.quantity, _money(24 * notebook.hourly_price)))
    hours, costs = _training_split(days_ago, training_spend)
    for job, cost in costs:
        lines.append(SageMakerLine(training_charge(job), _money(hours * job.instance_count), cost))
    return lines


def job_hours(
    spend_on: Callable[[int], Decimal], jobs: Iterable[DemoTrainingJob] = TRAINING_JOBS
) -> dict[str, Decimal]:
    """Hours each job ran (per instance, over all its days), the billable time of its bill.

    Args:
        spend_on: the training spend of the day ``days_ago`` days before today.
    """
    totals: dict[str, Decimal] = {}
    for job in jobs:
        for days_ago in range(job.last_day_ago, job.first_day_ago + 1):
            hours, _ = _training_split(days_ago, spend_on(days_ago))
            totals[job.name] = totals.get(job.name, Decimal(0)) + hours
    return totals


def _training_split(
    days_ago: int, training_spend: Decimal
) -> tuple[Decimal, list[tuple[DemoTrainingJob, Decimal]]]:
    """(hours every running job ran, each running job and its cost) for the day."""
    running = [job for job in TRAINING_JOBS if job.ran_on(days_ago)]
    notebooks = sum(
        (_money(24 * n.hourly_price) for n in NOTEBOOKS if n.ran_on(days_ago)), Decimal(0)
    )
    pool = training_spend - notebooks
    if not running:
        raise ValueError(f"no demo training job ran {days_ago} days ago to bill its spend")
    if pool <= 0:
        raise ValueError(f"the training spend {days_ago} days ago does not cover the notebooks")
    hours = _money(pool / sum(job.hourly_rate for job in running))
    costs = [(job, _money(hours * job.hourly_rate)) for job in running[:-1]]
    costs.append((running[-1], pool - sum((cost for _, cost in costs), Decimal(0))))
    return hours, costs

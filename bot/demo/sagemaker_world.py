"""The demo's SageMaker in moto: ``bot.demo.sagemaker_fleet``'s endpoints, notebooks and
training jobs, created through the API, with their CloudWatch metrics.

moto stamps every resource with the wall clock and gives training jobs no billable time (it
completes them the instant they are created). The demo's clock is its own ``now``, and the
review needs both an endpoint's age (an idle endpoint must be older than the lookback) and a
job's billable seconds, so ``backdate`` sets them in moto's in-process backend, as the world
stores its metrics there: creation times from the fleet's days ago, and each job's training
and billable time from the hours its billing lines pay for (``sagemaker_billing.job_hours``),
so the review's saving and the bill agree. A managed spot job's training time is longer than
its billable time (AWS's ``BillableTimeInSeconds`` counts only what is charged).

Metrics (``metric_data``), hourly: ``AWS/SageMaker`` ``Invocations`` per ``EndpointName`` and
``VariantName`` over the export's days (so unit cost has the period it compares with), none
in an hour without traffic, as SageMaker; over ``metric_days``, ``AWS/SageMaker``
``ModelLatency`` (microseconds, in an hour with invocations), ``/aws/sagemaker/Endpoints``
``CPUUtilization`` (summed over the cores) and ``MemoryUtilization`` (for an endpoint that
publishes it), and CWAgent ``cpu_usage_active`` per ``NotebookInstanceName`` for the running
notebook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from moto.sagemaker.models import sagemaker_backends

from bot.demo.fleet import floor_to_hour
from bot.demo.sagemaker_billing import job_hours
from bot.demo.sagemaker_fleet import (
    ENDPOINTS,
    IMAGE,
    MODEL_TAG,
    NOTEBOOKS,
    ROLE_NAME,
    SPOT_BILLABLE_SHARE,
    TRAINING_BUCKET,
    TRAINING_JOBS,
    VARIANT,
    DemoTrainingJob,
    endpoint_cpu,
    endpoint_memory,
    hourly_invocations,
    model_latency_us,
    notebook_cpu,
)

NOTEBOOK_CPU_METRIC = "cpu_usage_active"


def create_sagemaker(sagemaker: Any, autoscaling: Any, *, account_id: str) -> None:
    """Create the models, endpoint configs, endpoints, notebooks and training jobs."""
    role = f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"
    for endpoint in ENDPOINTS:
        sagemaker.create_model(
            ModelName=endpoint.model,
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": IMAGE},
            Tags=_tags({"team": endpoint.team, MODEL_TAG: endpoint.model}),
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=endpoint.config_name,
            ProductionVariants=[
                {
                    "VariantName": VARIANT,
                    "ModelName": endpoint.model,
                    "InitialInstanceCount": endpoint.instance_count,
                    "InstanceType": endpoint.instance_type,
                    "InitialVariantWeight": 1.0,
                }
            ],
            Tags=_tags({"team": endpoint.team}),
        )
        sagemaker.create_endpoint(
            EndpointName=endpoint.name,
            EndpointConfigName=endpoint.config_name,
            Tags=_tags(endpoint.tags),
        )
        if endpoint.autoscaling:
            autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=f"endpoint/{endpoint.name}/variant/{VARIANT}",
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=endpoint.autoscaling[0],
                MaxCapacity=endpoint.autoscaling[1],
            )
    for notebook in NOTEBOOKS:
        sagemaker.create_notebook_instance(
            NotebookInstanceName=notebook.name,
            InstanceType=notebook.instance_type,
            RoleArn=role,
            Tags=_tags(notebook.tags),
        )
        if notebook.stopped_days_ago is not None:
            sagemaker.stop_notebook_instance(NotebookInstanceName=notebook.name)
    for job in TRAINING_JOBS:
        _create_training_job(sagemaker, job, role)


def _create_training_job(sagemaker: Any, job: DemoTrainingJob, role: str) -> None:
    extra: dict[str, Any] = {}
    if job.checkpoints:
        extra["CheckpointConfig"] = {"S3Uri": f"{TRAINING_BUCKET}/checkpoints/{job.name}"}
    stopping = {"MaxRuntimeInSeconds": 28 * 86_400}
    if job.managed_spot:
        stopping["MaxWaitTimeInSeconds"] = 28 * 86_400
    sagemaker.create_training_job(
        TrainingJobName=job.name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=role,
        OutputDataConfig={"S3OutputPath": f"{TRAINING_BUCKET}/output"},
        ResourceConfig={
            "InstanceType": job.instance_type,
            "InstanceCount": job.instance_count,
            "VolumeSizeInGB": 100,
        },
        StoppingCondition=stopping,
        EnableManagedSpotTraining=job.managed_spot,
        Tags=_tags(job.tags),
        **extra,
    )


def backdate(
    *, account_id: str, region: str, now: dt.datetime, spend_on: Callable[[int], Decimal]
) -> None:
    """Creation times from the fleet's days ago; training and billable time from the bill.

    Args:
        spend_on: fraud-detection's training spend of the day ``days_ago`` before today.
    """
    backend = sagemaker_backends[account_id][region]
    midnight = floor_to_hour(now).replace(hour=0, tzinfo=None)  # moto keeps naive UTC
    for endpoint in ENDPOINTS:
        created = midnight - dt.timedelta(days=endpoint.created_days_ago, hours=-10)
        backend.endpoints[endpoint.name].creation_time = created
        backend.endpoints[endpoint.name].last_modified_time = created
        backend.endpoint_configs[endpoint.config_name].creation_time = created
        backend._models[endpoint.model].creation_time = created
    for notebook in NOTEBOOKS:
        created = midnight - dt.timedelta(days=notebook.created_days_ago, hours=-10)
        backend.notebook_instances[notebook.name].creation_time = created
        stopped = notebook.stopped_days_ago
        modified = midnight - dt.timedelta(days=stopped) if stopped is not None else created
        backend.notebook_instances[notebook.name].last_modified_time = modified
    hours = job_hours(spend_on)
    for job in TRAINING_JOBS:
        fake = backend.training_jobs[job.name]
        billable = int(hours[job.name] * 3600)
        trained = int(billable / SPOT_BILLABLE_SHARE) if job.managed_spot else billable
        created = midnight - dt.timedelta(days=job.first_day_ago, hours=-1)
        ended = midnight - dt.timedelta(days=job.last_day_ago - 1, hours=1)
        fake.creation_time = created
        fake.training_start_time = created + dt.timedelta(minutes=6)
        fake.training_end_time = fake.last_modified_time = ended
        # moto's job has neither attribute; DescribeTrainingJob answers every attribute a job
        # has (``BillableTimeInSeconds``, ``TrainingTimeInSeconds``), hence setattr.
        setattr(fake, "billable_time_in_seconds", billable)  # noqa: B010
        setattr(fake, "training_time_in_seconds", trained)  # noqa: B010


def metric_data(
    now: dt.datetime, *, invocation_days: int, metric_days: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(namespace, MetricDatum) for every hour of the endpoints and the running notebook."""
    last_hour = floor_to_hour(now)
    today = last_hour.date()
    for hours_back in range(invocation_days * 24, 0, -1):
        hour = last_hour - dt.timedelta(hours=hours_back)
        days_ago = (today - hour.date()).days
        recent = hours_back <= metric_days * 24
        for endpoint in ENDPOINTS:
            dimensions = [
                {"Name": "EndpointName", "Value": endpoint.name},
                {"Name": "VariantName", "Value": VARIANT},
            ]
            calls = hourly_invocations(endpoint, hour, days_ago)
            if calls:
                yield "AWS/SageMaker", _datum("Invocations", dimensions, hour, calls, "None")
            if not recent:
                continue
            if calls:
                latency = model_latency_us(endpoint, hour)
                yield (
                    "AWS/SageMaker",
                    _datum("ModelLatency", dimensions, hour, latency, "Microseconds"),
                )
            cpu = endpoint_cpu(endpoint, hour)
            yield (
                "/aws/sagemaker/Endpoints",
                _datum("CPUUtilization", dimensions, hour, cpu, "Percent"),
            )
            memory = endpoint_memory(endpoint, hour)
            if memory is not None:
                yield (
                    "/aws/sagemaker/Endpoints",
                    _datum("MemoryUtilization", dimensions, hour, memory, "Percent"),
                )
        if not recent:
            continue
        for notebook in NOTEBOOKS:
            if notebook.ran_on(days_ago):
                dimensions = [{"Name": "NotebookInstanceName", "Value": notebook.name}]
                cpu = notebook_cpu(notebook, hour)
                yield "CWAgent", _datum(NOTEBOOK_CPU_METRIC, dimensions, hour, cpu, "Percent")


def _datum(
    name: str, dimensions: list[dict[str, str]], hour: dt.datetime, value: float, unit: str
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": hour,
        "Value": float(value),
        "Unit": unit,
    }


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]

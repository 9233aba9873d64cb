"""A team's SageMaker resources, from the SageMaker and Application Auto Scaling APIs.

A thin adapter: ``list_inventory`` pages through ``ListEndpoints``, ``ListNotebookInstances``
and ``ListTrainingJobs`` (created in the period), reads each resource's tags (``ListTags``)
and keeps those the team owns by **the same rule as EC2**: the first teams-file rule that
claims the account and tags (``engines.costs.ownership.owner_of``; shared costs first, then
teams in file order). Only owned resources are described further:

- endpoints: ``DescribeEndpoint`` (variants and instance counts), ``DescribeEndpointConfig``
  (each variant's instance type and model; ``DescribeEndpoint`` does not carry the type) and
  the Application Auto Scaling targets of namespace ``sagemaker`` (min/max per variant);
- training jobs: ``DescribeTrainingJob`` (instance type and count, ``BillableTimeInSeconds``
  or, when AWS gives none, the training time; managed spot; ``CheckpointConfig``).

Clients are passed in, never created here; errors surface as ``InventoryError`` with words a
person can act on.

**At org scale** ``ListTags`` is the cost: SageMaker's list calls carry no tags, so every
resource of the account is asked once to learn whose it is. A ``TagMemo`` handed in keeps the
tags for an hour and a finished training job's description for good (it no longer changes),
so reviewing twenty teams, or the same team again, asks each resource once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import explain
from engines.costs.ownership import owner_of
from engines.errors import CostbotError
from engines.models import SharedCost, Team
from engines.sagemaker.models import (
    Endpoint,
    Inventory,
    NotebookInstance,
    TrainingJob,
    Variant,
)

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
FINISHED_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
_T = TypeVar("_T")
_R = TypeVar("_R")


class TagMemo:
    """Resources' tags for ``ttl``, and finished training jobs' descriptions, shared by the
    reviews of one process (thread-safe; at most ``max_entries`` of each, oldest out first).

    Args:
        now: the clock (timezone-aware).
        ttl: how long tags are trusted; a tag edited meanwhile is seen after it.
        max_entries: the most resources remembered.
    """

    def __init__(
        self,
        now: Callable[[], dt.datetime],
        *,
        ttl: dt.timedelta = dt.timedelta(hours=1),
        max_entries: int = 200_000,
    ) -> None:
        self.now = now
        self.ttl = ttl
        self.max_entries = max_entries
        self._tags: OrderedDict[str, tuple[dt.datetime, dict[str, str]]] = OrderedDict()
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def tags(self, arn: str, fetch: Callable[[], dict[str, str]]) -> dict[str, str]:
        """The resource's tags, asked for with ``fetch`` when unknown or older than ``ttl``."""
        now = self.now()
        with self._lock:
            known = self._tags.get(arn)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        tags = fetch()
        with self._lock:
            self._tags[arn] = (now, tags)
            self._tags.move_to_end(arn)
            while len(self._tags) > self.max_entries:
                self._tags.popitem(last=False)
        return tags

    def job(self, arn: str, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A training job's description; a finished one is asked for once."""
        with self._lock:
            known = self._jobs.get(arn)
        if known is not None:
            return known
        described = fetch()
        if described.get("TrainingJobStatus") in FINISHED_JOB_STATUSES:
            with self._lock:
                self._jobs[arn] = described
                while len(self._jobs) > self.max_entries:
                    self._jobs.popitem(last=False)
        return described


class InventoryError(CostbotError):
    """SageMaker or Application Auto Scaling refused or failed a call."""


def list_inventory(
    sagemaker: Any,
    autoscaling: Any,
    *,
    team: str,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost] = (),
    region: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    memo: TagMemo | None = None,
    workers: int = 8,
) -> Inventory:
    """The team's endpoints, notebook instances and training jobs created in the period.

    Args:
        sagemaker: a boto3 ``sagemaker`` client for ``region``.
        autoscaling: a boto3 ``application-autoscaling`` client for ``region``.
        team: the team's name in ``teams``.
        teams: every team, in file order (ownership is decided among all of them).
        shared: the shared costs, in file order.
        region: the region the clients serve.
        period_start: training jobs created at or after this time...
        period_end: ...and before this one.
        memo: tags and finished jobs already read (None: ask for everything).
        workers: calls made side by side for tags and training jobs (I/O bound; each
            resource is one call, so thousands of them would otherwise queue one by one).

    Raises:
        InventoryError: an API call failed.
    """
    if team not in teams:
        raise ValueError(f"no team {team!r} in the teams file")

    def tags_of(arn: str) -> dict[str, str]:
        return memo.tags(arn, lambda: _tags(sagemaker, arn)) if memo else _tags(sagemaker, arn)

    def mine(summaries: list[dict[str, Any]], arn_key: str) -> list[tuple[Any, dict[str, str]]]:
        """The summaries the team owns, with their tags (asked for side by side)."""
        tags = _side_by_side(tags_of, [summary[arn_key] for summary in summaries], workers)
        return [
            (summary, tagged)
            for summary, tagged in zip(summaries, tags, strict=True)
            if owner_of(account_of(summary[arn_key]), tagged, teams=teams, shared=shared) == team
        ]

    listed = list(_pages(sagemaker, "list_endpoints", "Endpoints"))
    owned_endpoints = mine(listed, "EndpointArn")
    scaling = _scalable_targets(autoscaling) if owned_endpoints else {}
    endpoints = [
        _endpoint(sagemaker, summary, tags, scaling, region) for summary, tags in owned_endpoints
    ]

    listed = list(_pages(sagemaker, "list_notebook_instances", "NotebookInstances"))
    notebooks = [
        NotebookInstance(
            name=summary["NotebookInstanceName"],
            arn=summary["NotebookInstanceArn"],
            status=summary.get("NotebookInstanceStatus", ""),
            instance_type=summary.get("InstanceType", ""),
            region=region,
            account_id=account_of(summary["NotebookInstanceArn"]),
            tags=tags,
        )
        for summary, tags in mine(listed, "NotebookInstanceArn")
    ]

    window = {"CreationTimeAfter": period_start, "CreationTimeBefore": period_end}
    listed = [
        summary
        for summary in _pages(sagemaker, "list_training_jobs", "TrainingJobSummaries", **window)
        if summary.get("CreationTime") is None
        or period_start <= summary["CreationTime"] < period_end
    ]
    jobs = _side_by_side(
        lambda owned: _training_job(sagemaker, owned[0], owned[1], region, memo),
        mine(listed, "TrainingJobArn"),
        workers,
    )

    return Inventory(team, region, tuple(endpoints), tuple(notebooks), tuple(jobs))


def _side_by_side(call: Callable[[_T], _R], items: Sequence[_T], workers: int) -> list[_R]:
    """``call`` on every item, ``workers`` at a time, in order; the first error is raised."""
    if workers <= 1 or len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sagemaker") as pool:
        return list(pool.map(call, items))


def account_of(arn: str) -> str:
    """The account id in an ARN ("" when it has none)."""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = getattr(client, operation)(**kwargs)
    except ClientError as error:
        raise _error(operation, error) from None
    except BotoCoreError as error:
        raise InventoryError(f"SageMaker {operation} failed: {error}") from None
    return response


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    except ClientError as error:
        raise _error(operation, error) from None
    except BotoCoreError as error:
        raise InventoryError(f"SageMaker {operation} failed: {error}") from None


def _error(operation: str, error: ClientError) -> InventoryError:
    details = error.response.get("Error", {})
    code = details.get("Code", "error")
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return InventoryError(
            f"costbot may not call {operation}: grant it that permission to review SageMaker."
        )
    return InventoryError(f"SageMaker {operation} failed: {explain(error)}")


def _tags(sagemaker: Any, arn: str) -> dict[str, str]:
    return {
        tag["Key"]: tag.get("Value", "")
        for tag in _pages(sagemaker, "list_tags", "Tags", ResourceArn=arn)
    }


def _scalable_targets(autoscaling: Any) -> dict[tuple[str, str], tuple[int, int]]:
    """(endpoint, variant) -> (min, max) of the registered scalable targets."""
    targets: dict[tuple[str, str], tuple[int, int]] = {}
    for target in _pages(
        autoscaling,
        "describe_scalable_targets",
        "ScalableTargets",
        ServiceNamespace="sagemaker",
    ):
        if target.get("ScalableDimension") != SCALABLE_DIMENSION:
            continue
        parts = target["ResourceId"].split("/")  # endpoint/<name>/variant/<variant>
        if len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant":
            targets[(parts[1], parts[3])] = (target["MinCapacity"], target["MaxCapacity"])
    return targets


def _endpoint(
    sagemaker: Any,
    summary: Mapping[str, Any],
    tags: dict[str, str],
    scaling: Mapping[tuple[str, str], tuple[int, int]],
    region: str,
) -> Endpoint:
    name = summary["EndpointName"]
    described = _call(sagemaker, "describe_endpoint", EndpointName=name)
    config_name = described.get("EndpointConfigName", "")
    configured: dict[str, Mapping[str, Any]] = {}
    if config_name:
        config = _call(sagemaker, "describe_endpoint_config", EndpointConfigName=config_name)
        configured = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
    variants = []
    for running in described.get("ProductionVariants", []):
        variant_name = running["VariantName"]
        spec = configured.get(variant_name, {})
        count = running.get("CurrentInstanceCount")
        if count is None:
            count = running.get("DesiredInstanceCount", spec.get("InitialInstanceCount", 0))
        bounds = scaling.get((name, variant_name))
        variants.append(
            Variant(
                name=variant_name,
                instance_type=spec.get("InstanceType", ""),
                instance_count=int(count or 0),
                model_name=spec.get("ModelName", ""),
                autoscaling_min=bounds[0] if bounds else None,
                autoscaling_max=bounds[1] if bounds else None,
            )
        )
    return Endpoint(
        name=name,
        arn=summary["EndpointArn"],
        status=described.get("EndpointStatus", summary.get("EndpointStatus", "")),
        config_name=config_name,
        region=region,
        account_id=account_of(summary["EndpointArn"]),
        variants=tuple(variants),
        tags=tags,
        created=summary.get("CreationTime"),
    )


def _training_job(
    sagemaker: Any,
    summary: Mapping[str, Any],
    tags: dict[str, str],
    region: str,
    memo: TagMemo | None,
) -> TrainingJob:
    name = summary["TrainingJobName"]

    def describe() -> dict[str, Any]:
        return _call(sagemaker, "describe_training_job", TrainingJobName=name)

    job = memo.job(summary["TrainingJobArn"], describe) if memo else describe()
    resources = job.get("ResourceConfig", {})
    billable = job.get("BillableTimeInSeconds")
    if billable is None:
        billable = job.get("TrainingTimeInSeconds")
    if billable is None and job.get("TrainingStartTime") and job.get("TrainingEndTime"):
        billable = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    return TrainingJob(
        name=name,
        arn=job["TrainingJobArn"],
        status=job.get("TrainingJobStatus", ""),
        instance_type=resources.get("InstanceType", ""),
        instance_count=int(resources.get("InstanceCount", 1)),
        billable_seconds=int(billable or 0),
        managed_spot=bool(job.get("EnableManagedSpotTraining", False)),
        has_checkpoints=bool(job.get("CheckpointConfig", {}).get("S3Uri")),
        region=region,
        account_id=account_of(job["TrainingJobArn"]),
        created=job.get("CreationTime"),
        tags=tags,
    )

"""Reviewing a team's SageMaker resources: list, measure, price and recommend, in one call.

``SageMakerReviewer.review`` is the engine's entry point for handlers: in every target
(account, region) it lists what the team owns (``inventory.list_inventory``), reads each
endpoint variant's invocations, model latency, memory, CPU and (on GPU types, with their GPU
counts) GPU, and each running notebook's CPU from CloudWatch (``metrics``, batched), and
applies the rules (``review.review_inventory``).

A target where SageMaker cannot be listed (access denied, no endpoint in that region) is
skipped with one sentence saying why (``SageMakerReview.skipped``), so the caller can still
show everything else. CloudWatch failing is told the same way; the resources are then
judged without traffic (only training jobs, which need none). The clients come from
factories handed in; the clock is handed in too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import explain
from engines.models import SharedCost, Team
from engines.sagemaker.inventory import InventoryError, TagMemo, list_inventory
from engines.sagemaker.metrics import (
    MetricsError,
    fetch_endpoint_traffic,
    fetch_notebook_activity,
    gpus_of,
    vcpus_of,
)
from engines.sagemaker.models import (
    EndpointTraffic,
    Inventory,
    NotebookActivity,
    SageMakerRecommendation,
)
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.recommendations import IDLE_LOOKBACK_DAYS
from engines.sagemaker.review import review_inventory

TRAINING_PERIOD_DAYS = 30
"""Training jobs created in the last 30 days are the period reviewed."""


@dataclass(frozen=True)
class SageMakerReview:
    """One team's SageMaker review.

    Args:
        team: the team reviewed.
        recommendations: biggest monthly saving first, each for a resource the team owns.
        resources: endpoints, notebooks and training jobs of the period the team owns.
        skipped: one sentence per target (account, region) that could not be reviewed, or
            reviewed without CloudWatch, saying why.
    """

    team: str
    recommendations: tuple[SageMakerRecommendation, ...]
    resources: int
    skipped: tuple[str, ...] = ()


class SageMakerReviewer:
    """SageMaker recommendations for a team's endpoints, notebooks and training jobs.

    Args:
        sagemaker_for: a SageMaker client for (account id, region); "" is the bot's account.
        autoscaling_for: an Application Auto Scaling client for (account id, region).
        cloudwatch_for: a CloudWatch client for (account id, region).
        prices: SageMaker on-demand prices (``engines.sagemaker.prices``).
        targets: the (account id, region) pairs where SageMaker may run.
        now: the clock (timezone-aware).
        lookback_days: days of endpoint invocations read (at least the idle rule's 14).
    """

    def __init__(
        self,
        *,
        sagemaker_for: Callable[[str, str], Any],
        autoscaling_for: Callable[[str, str], Any],
        cloudwatch_for: Callable[[str, str], Any],
        prices: SageMakerPriceBook,
        targets: Sequence[tuple[str, str]],
        now: Callable[[], dt.datetime],
        lookback_days: int = IDLE_LOOKBACK_DAYS,
    ) -> None:
        self.sagemaker_for = sagemaker_for
        self.autoscaling_for = autoscaling_for
        self.cloudwatch_for = cloudwatch_for
        self.prices = prices
        self.targets = tuple(targets)
        self.now = now
        self.lookback_days = lookback_days
        self.memo = TagMemo(now)  # every review of this process asks each resource once

    def review(
        self,
        team: Team,
        *,
        teams: Mapping[str, Team],
        shared: Sequence[SharedCost] = (),
    ) -> SageMakerReview:
        """Every SageMaker resource the team owns, in every target, with its recommendations.

        Args:
            team: the team reviewed (its time zone decides what is after hours).
            teams: every team, in file order: ownership is decided among all of them, as
                for EC2 and the bill (a resource another team's rule claims first is never
                this team's).
            shared: the shared costs, in file order.
        """
        now = self.now()
        found: list[SageMakerRecommendation] = []
        skipped: list[str] = []
        resources = 0
        for account_id, region in self.targets:
            where = f"{account_id}/{region}" if account_id else region
            try:  # a client may fail to be made (an account's role cannot be assumed)
                inventory = list_inventory(
                    self.sagemaker_for(account_id, region),
                    self.autoscaling_for(account_id, region),
                    team=team.name,
                    teams=teams,
                    shared=shared,
                    region=region,
                    period_start=now - dt.timedelta(days=TRAINING_PERIOD_DAYS),
                    period_end=now,
                    memo=self.memo,
                )
            except InventoryError as error:
                skipped.append(f"{where}: {error}")
                continue
            except (ClientError, BotoCoreError) as error:
                skipped.append(f"{where}: no SageMaker client: {explain(error)}")
                continue
            resources += (
                len(inventory.endpoints) + len(inventory.notebooks) + len(inventory.training_jobs)
            )
            try:
                traffic, activity = self._measure(inventory, account_id, region, now)
            except (MetricsError, ClientError, BotoCoreError) as error:
                reason = error if isinstance(error, MetricsError) else explain(error)
                skipped.append(f"{where}: endpoints and notebooks not judged: {reason}")
                traffic, activity = {}, {}
            found += review_inventory(
                inventory,
                traffic,
                prices=self.prices,
                now=now,
                timezone=team.timezone,
                notebook_activity=activity,
                period_days=TRAINING_PERIOD_DAYS,
            )
        found.sort(key=lambda rec: (-rec.monthly_saving, rec.kind, rec.name, rec.variant))
        return SageMakerReview(team.name, tuple(found), resources, tuple(skipped))

    def _measure(
        self, inventory: Inventory, account_id: str, region: str, now: dt.datetime
    ) -> tuple[dict[tuple[str, str], EndpointTraffic], dict[str, NotebookActivity]]:
        running = [notebook.name for notebook in inventory.notebooks if notebook.running]
        if not inventory.endpoints and not running:
            return {}, {}
        cloudwatch = self.cloudwatch_for(account_id, region)
        types = {
            (endpoint.name, variant.name): variant.instance_type
            for endpoint in inventory.endpoints
            for variant in endpoint.variants
        }
        traffic = (
            fetch_endpoint_traffic(
                cloudwatch,
                types,
                now=now,
                lookback_days=self.lookback_days,
                cpu_vcpus={pair: vcpus_of(kind) for pair, kind in types.items()},
                gpu_counts={pair: gpus_of(kind) for pair, kind in types.items()},
            )
            if types
            else {}
        )
        activity = fetch_notebook_activity(cloudwatch, running, now=now) if running else {}
        return traffic, activity

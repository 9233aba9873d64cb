"""Reviewing a team's instances: describe, measure, price and recommend, in one pass.

The AWS clients come from factories handed in (a region's EC2 and CloudWatch); the instance
type catalog is asked once per region and kept, since it changes only when AWS launches types.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engines.models import Team
from engines.rightsizing.catalog import describe_instance_types, describe_instances
from engines.rightsizing.models import InstanceTypeFacts, Recommendation
from engines.rightsizing.recommendations import HourlyPrices, recommend_all
from engines.rightsizing.utilization import fetch_utilization

ACTIVE_STATES = ("pending", "running", "stopping", "stopped")


@dataclass(frozen=True)
class Review:
    team: str
    recommendations: tuple[Recommendation, ...]
    lookback_days: int
    instances: int


class FleetReviewer:
    """Right-sizing recommendations for a team's instances.

    Args:
        ec2_for: an EC2 client for (account id, region); "" is the bot's own account.
        cloudwatch_for: a CloudWatch client for (account id, region).
        prices: on-demand prices (``engines.rightsizing.pricing.PriceBook``).
        targets: the (account id, region) pairs where the fleet runs.
        now: the clock.
        lookback_days: how much CloudWatch history to read (1–93).
        headroom: spare capacity to keep above the observed peak (0.20 = 20%).
    """

    def __init__(
        self,
        *,
        ec2_for: Callable[[str, str], Any],
        cloudwatch_for: Callable[[str, str], Any],
        prices: HourlyPrices,
        targets: Sequence[tuple[str, str]],
        now: Callable[[], dt.datetime],
        lookback_days: int = 14,
        headroom: float = 0.20,
    ) -> None:
        self.ec2_for = ec2_for
        self.cloudwatch_for = cloudwatch_for
        self.prices = prices
        self.targets = tuple(targets)
        self.now = now
        self.lookback_days = lookback_days
        self.headroom = headroom
        self._catalogs: dict[str, dict[str, InstanceTypeFacts]] = {}
        self._catalog_lock = threading.Lock()

    def review(self, team: Team) -> Review:
        """Every instance carrying the team's tags, in every target, with a recommendation."""
        recommendations: list[Recommendation] = []
        count = 0
        for account_id, region in self.targets:
            found, instances = self._review_target(team, account_id, region)
            recommendations += found
            count += instances
        recommendations.sort(key=lambda rec: (-rec.monthly_saving, rec.instance.instance_id))
        return Review(team.name, tuple(recommendations), self.lookback_days, count)

    def _review_target(
        self, team: Team, account_id: str, region: str
    ) -> tuple[list[Recommendation], int]:
        ec2 = self.ec2_for(account_id, region)
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in team.tags.items()]
        filters.append({"Name": "instance-state-name", "Values": list(ACTIVE_STATES)})
        instances = describe_instances(ec2, region=region, account_id=account_id, filters=filters)
        if not instances:
            return [], 0
        catalog = self.catalog(ec2, region)
        gpu_ids = [
            i.instance_id for i in instances if catalog.get(i.instance_type, _NO_GPU).gpus > 0
        ]
        running = [i.instance_id for i in instances if i.state == "running"]
        utilization = fetch_utilization(
            self.cloudwatch_for(account_id, region),
            running,
            now=self.now(),
            lookback_days=self.lookback_days,
            gpu_instance_ids=gpu_ids,
        )
        found = recommend_all(
            instances, utilization, catalog=catalog, prices=self.prices, headroom=self.headroom
        )
        return found, len(instances)

    def catalog(self, ec2: Any, region: str) -> dict[str, InstanceTypeFacts]:
        """The region's instance types, asked once (they change only when AWS adds types)."""
        with self._catalog_lock:
            if region not in self._catalogs:
                self._catalogs[region] = describe_instance_types(ec2)
            return self._catalogs[region]


_NO_GPU = InstanceTypeFacts(instance_type="", vcpus=0, memory_mib=0, architectures=())

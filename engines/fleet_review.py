"""Reviewing a team's instances: describe, measure, price and recommend, in one pass.

The AWS clients come from factories handed in (a region's EC2 and CloudWatch); the instance
type catalog is asked once per region and kept, since it changes only when AWS launches types.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engines.catalog import describe_instance_types, describe_instances
from engines.models import Team
from engines.rightsizing import HourlyPrices, recommend_all
from engines.rightsizing_models import InstanceTypeFacts, Recommendation
from engines.utilization import fetch_utilization

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
        ec2_for: a region's EC2 client.
        cloudwatch_for: a region's CloudWatch client.
        prices: on-demand prices (``engines.pricing.PriceBook``).
        region: where the fleet runs.
        now: the clock.
        lookback_days: how much CloudWatch history to read (1–93).
        headroom: spare capacity to keep above the observed peak (0.20 = 20%).
    """

    def __init__(
        self,
        *,
        ec2_for: Callable[[str], Any],
        cloudwatch_for: Callable[[str], Any],
        prices: HourlyPrices,
        region: str,
        now: Callable[[], dt.datetime],
        lookback_days: int = 14,
        headroom: float = 0.20,
    ) -> None:
        self.ec2_for = ec2_for
        self.cloudwatch_for = cloudwatch_for
        self.prices = prices
        self.region = region
        self.now = now
        self.lookback_days = lookback_days
        self.headroom = headroom
        self._catalog: dict[str, InstanceTypeFacts] | None = None
        self._catalog_lock = threading.Lock()

    def review(self, team: Team) -> Review:
        """Every instance carrying the team's tags, with a recommendation each."""
        ec2 = self.ec2_for(self.region)
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in team.tags.items()]
        filters.append({"Name": "instance-state-name", "Values": list(ACTIVE_STATES)})
        instances = describe_instances(ec2, region=self.region, filters=filters)
        catalog = self.catalog(ec2)
        gpu_ids = [
            i.instance_id for i in instances if catalog.get(i.instance_type, _NO_GPU).gpus > 0
        ]
        running = [i.instance_id for i in instances if i.state == "running"]
        utilization = fetch_utilization(
            self.cloudwatch_for(self.region),
            running,
            now=self.now(),
            lookback_days=self.lookback_days,
            gpu_instance_ids=gpu_ids,
        )
        recommendations = recommend_all(
            instances, utilization, catalog=catalog, prices=self.prices, headroom=self.headroom
        )
        return Review(team.name, tuple(recommendations), self.lookback_days, len(instances))

    def catalog(self, ec2: Any) -> dict[str, InstanceTypeFacts]:
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = describe_instance_types(ec2)
            return self._catalog


_NO_GPU = InstanceTypeFacts(instance_type="", vcpus=0, memory_mib=0, architectures=())

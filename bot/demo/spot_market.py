"""A realistic spot market for the demo: price histories and placement scores served by moto.

moto answers ``DescribeSpotPriceHistory`` with one placeholder record per zone ($0.00001,
dated 2006) and has no ``GetSpotPlacementScores``. ``install_spot_market`` teaches the demo's
moto both, so ``/cost spot g5.xlarge`` in the demo runs costbot's real code path (every page
of the history, zone ids mapped to names) against numbers that look like a real market.

The histories are **synthesised, not recorded from AWS**, deterministically from the type,
region and zone: each zone's price sits at the Spot Instance Advisor snapshot's average
saving off the on-demand price (with a zone offset), moves every 6 to 72 hours by a few
percent, and g5/p3 types have a spike close to on-demand in their second zone twelve days
before "now" (lasting 20 hours), as capacity crunches look in the real history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES
from moto.ec2.responses.spot_instances import SpotInstances

from engines.rightsizing.pricing import SHIPPED_SNAPSHOT
from engines.spot.advisor_feed import load_snapshot

HISTORY_DAYS = 95  # a little more than the API's 90, so the 90-day window starts priced
MAX_ZONES = 4
SPIKE_DAYS_AGO = 12
SPIKE_HOURS = 20
SPIKING_FAMILIES = ("g5", "p3")
PAGE_SIZE_DEFAULT = 1000
_PRICE_STEP = Decimal("0.0001")

_state: dict[str, Any] = {"now": None}


def install_spot_market(now: dt.datetime) -> None:
    """Serve the demo market from moto in this process, with histories ending at ``now``."""
    _state["now"] = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    SpotInstances.describe_spot_price_history = _describe_spot_price_history  # type: ignore[method-assign]
    SpotInstances.get_spot_placement_scores = _get_spot_placement_scores  # type: ignore[attr-defined]


# --- The market ---------------------------------------------------------------------------------


def price_history(
    instance_type: str, region: str, *, now: dt.datetime, product: str = "Linux/UNIX"
) -> list[dict[str, Any]]:
    """``SpotPriceHistory`` records of one type in every zone that offers it, newest first."""
    on_demand = on_demand_estimate(instance_type, region)
    if on_demand is None:
        return []
    records = []
    for index, zone in enumerate(zones_offering(instance_type, region)):
        records += _zone_history(instance_type, region, zone, index, on_demand, now, product)
    records.sort(key=lambda record: record["Timestamp"], reverse=True)
    return records


def zones_offering(instance_type: str, region: str) -> list[str]:
    """The zones moto offers the type in; its catalog lacks some types the demo teaches it
    (P3), which get the region's first three zones."""
    offerings = INSTANCE_TYPE_OFFERINGS["availability-zone"].get(region, [])
    zones = sorted({o["Location"] for o in offerings if o["InstanceType"] == instance_type})
    if not zones and instance_type in INSTANCE_TYPES:
        zones = [f"{region}{letter}" for letter in "abc"]
    return zones[:MAX_ZONES]


def on_demand_estimate(instance_type: str, region: str) -> Decimal | None:
    """The snapshot's on-demand price; for types it lacks, a rough figure from the size."""
    price = SHIPPED_SNAPSHOT.prices.get(instance_type)
    if price is not None:
        return price
    facts = INSTANCE_TYPES.get(instance_type)
    if facts is None:
        return None
    vcpus = Decimal(facts.get("VCpuInfo", {}).get("DefaultVCpus", 2))
    gpus = sum(g.get("Count", 0) for g in facts.get("GpuInfo", {}).get("Gpus", []))
    return Decimal("0.048") * vcpus + Decimal("0.75") * gpus


def _zone_history(
    instance_type: str,
    region: str,
    zone: str,
    index: int,
    on_demand: Decimal,
    now: dt.datetime,
    product: str,
) -> list[dict[str, Any]]:
    rng = random.Random(_seed(instance_type, region, zone))
    saving = Decimal(_advisor_saving(instance_type, region)) / 100
    level = on_demand * (1 - saving) * (1 + Decimal(rng.randint(-8, 8)) / 100)
    moment = now - dt.timedelta(days=HISTORY_DAYS)
    records = []
    while moment < now:
        drift = Decimal(rng.randint(-30, 30)) / 1000
        price = max(level * (1 + drift), on_demand * Decimal("0.15"))
        records.append(_record(instance_type, zone, price, moment, product))
        moment += dt.timedelta(hours=rng.randint(6, 72))
    if index == 1 and instance_type.split(".")[0] in SPIKING_FAMILIES:
        records = _with_spike(records, instance_type, zone, on_demand, now, product)
    return records


def _with_spike(
    records: list[dict[str, Any]],
    instance_type: str,
    zone: str,
    on_demand: Decimal,
    now: dt.datetime,
    product: str,
) -> list[dict[str, Any]]:
    start = now - dt.timedelta(days=SPIKE_DAYS_AGO)
    end = start + dt.timedelta(hours=SPIKE_HOURS)
    before = [r for r in records if r["Timestamp"] < start]
    after = [r for r in records if r["Timestamp"] > end]
    resume = Decimal(before[-1]["SpotPrice"]) if before else on_demand / 2
    return [
        *before,
        _record(instance_type, zone, on_demand * Decimal("0.93"), start, product),
        _record(instance_type, zone, resume, end, product),
        *after,
    ]


def _record(
    instance_type: str, zone: str, price: Decimal, at: dt.datetime, product: str
) -> dict[str, Any]:
    return {
        "AvailabilityZone": zone,
        "InstanceType": instance_type,
        "ProductDescription": product,
        "SpotPrice": str(price.quantize(_PRICE_STEP, rounding=ROUND_HALF_UP)) + "00",
        "Timestamp": at,
    }


def _advisor_saving(instance_type: str, region: str) -> int:
    interruption = _ADVISOR.interruption(instance_type, region)
    return interruption.saving_percent if interruption else 60


def _seed(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:16], 16)


_ADVISOR = load_snapshot()


def placement_scores(instance_type: str, region: str) -> dict[str, int]:
    """Zone name -> a score from 1 to 10, steady per type and zone."""
    scores = {}
    for zone in zones_offering(instance_type, region):
        scores[zone] = 3 + _seed(instance_type, zone, "score") % 8
    return scores


# --- moto responses -----------------------------------------------------------------------------


def _describe_spot_price_history(self: Any) -> ActionResult:
    now = _state["now"] or dt.datetime.now(dt.UTC)
    types = self._get_param("InstanceTypes", [])
    products = self._get_param("ProductDescriptions", []) or ["Linux/UNIX"]
    zone = self._get_param("AvailabilityZone")
    start, end = _moment(self._get_param("StartTime")), _moment(self._get_param("EndTime"))
    page_size = int(self._get_param("MaxResults") or PAGE_SIZE_DEFAULT)
    offset = int(self._get_param("NextToken") or 0)
    records = []
    for instance_type in types:
        for product in products:
            records += price_history(instance_type, self.region, now=now, product=product)
    records = [r for r in records if not zone or r["AvailabilityZone"] == zone]
    records = _in_window(records, start, end or now)
    page = records[offset : offset + page_size]
    result: dict[str, Any] = {"SpotPriceHistory": page}
    if offset + page_size < len(records):
        result["NextToken"] = str(offset + page_size)
    return ActionResult(result)


def _in_window(
    records: list[dict[str, Any]], start: dt.datetime | None, end: dt.datetime
) -> list[dict[str, Any]]:
    """Records in the window, plus per zone the one in effect at ``start`` (as EC2 does)."""
    inside = [
        r for r in records if r["Timestamp"] <= end and (not start or r["Timestamp"] >= start)
    ]
    if start is None:
        return inside
    in_effect: dict[str, dict[str, Any]] = {}
    for record in records:  # newest first: the first one before start is the one in effect
        if record["Timestamp"] < start and record["AvailabilityZone"] not in in_effect:
            in_effect[record["AvailabilityZone"]] = record
    combined = inside + list(in_effect.values())
    return sorted(combined, key=lambda record: record["Timestamp"], reverse=True)


def _moment(value: Any) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _get_spot_placement_scores(self: Any) -> ActionResult:
    types = self._get_param("InstanceTypes", [])
    regions = self._get_param("RegionNames", []) or [self.region]
    zone_ids = _zone_ids()
    scores = []
    for region in regions:
        best: dict[str, int] = {}
        for instance_type in types:
            for zone, score in placement_scores(instance_type, region).items():
                best[zone] = max(best.get(zone, 0), score)
        scores += [
            {"Region": region, "AvailabilityZoneId": zone_ids.get(zone, zone), "Score": score}
            for zone, score in sorted(best.items())
        ]
    return ActionResult({"SpotPlacementScores": scores})


def _zone_ids() -> dict[str, str]:
    return {
        zone.name: zone.zone_id for zones in RegionsAndZonesBackend.zones.values() for zone in zones
    }

"""Spot prices per Availability Zone, what they save against on-demand, and which instances
could run on spot.

Pure functions over ``SpotPrice`` records (what ``DescribeSpotPriceHistory`` returns), plus
two thin adapters: ``fetch_spot_price_history`` (every page) and ``fetch_placement_scores``
(``GetSpotPlacementScores``, which needs its own permission and which emulators lack: it
degrades to "not available" with the reason instead of failing the answer).

Prices are ``Decimal`` end to end: the API gives them as strings ("0.412300") and they are
never turned into floats.

**Why a time-weighted average.** A spot price is a step function: a record says "from this
moment the price is X" and holds until the next record. Averaging the records themselves
(the change points) weighs a two-hour spike that produced three records three times as much
as a price that held for three weeks. The time-weighted average multiplies each price by how
long it held within the window and divides by the time covered, so it is what an instance
running the whole window would actually have paid per hour.

Nothing here reads the environment or the clock: ``now`` and clients are passed in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from engines.errors import CostbotError
from engines.rightsizing.models import HOURS_PER_MONTH, Instance

LINUX_PRODUCT = "Linux/UNIX"
WINDOWS_PRODUCT = "Windows"
SHORT_WINDOW = dt.timedelta(days=30)
LONG_WINDOW = dt.timedelta(days=90)
"""``DescribeSpotPriceHistory`` reaches back 90 days."""
STALE_AFTER = dt.timedelta(days=1)
PAGE_SIZE = 1000


class SpotDataError(CostbotError):
    """EC2 could not give spot prices (refused, unreachable)."""


# --- Prices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotPrice:
    """One ``SpotPriceHistory`` record: from ``at`` on, the price in this zone is ``price``."""

    availability_zone: str
    instance_type: str
    product: str
    price: Decimal  # USD per instance-hour
    at: dt.datetime


@dataclass(frozen=True)
class WindowAverage:
    """A time-weighted average over a window, and how much of the window had a price."""

    average: Decimal | None  # None when no price was known anywhere in the window
    covered: dt.timedelta
    window: dt.timedelta

    @property
    def complete(self) -> bool:
        return self.covered >= self.window


def time_weighted_average(
    records: Iterable[SpotPrice], *, start: dt.datetime, end: dt.datetime
) -> WindowAverage:
    """The price each moment of ``[start, end)`` had, averaged over the moments that had one.

    The records are steps: each holds from its ``at`` until the next record (the last one
    until ``end``). A record before ``start`` sets the price at ``start``. When the first
    record falls inside the window, the time before it has no known price and is left out
    (``covered`` says how much time was priced).

    Args:
        records: one zone's records, in any order.
        start: the window's start (included).
        end: the window's end (excluded).
    """
    steps = sorted(records, key=lambda record: record.at)
    weighted = Decimal(0)
    covered = dt.timedelta(0)
    for index, record in enumerate(steps):
        held_until = steps[index + 1].at if index + 1 < len(steps) else end
        begin, finish = max(record.at, start), min(held_until, end)
        if finish <= begin:
            continue
        span = finish - begin
        weighted += record.price * _seconds(span)
        covered += span
    average = weighted / _seconds(covered) if covered else None
    return WindowAverage(average=average, covered=covered, window=end - start)


def _seconds(span: dt.timedelta) -> Decimal:
    return Decimal(int(span.total_seconds()))


@dataclass(frozen=True)
class ZonePrices:
    """One Availability Zone's spot price: now, averaged over 30 and 90 days, and its peak."""

    availability_zone: str
    current: Decimal
    changed_at: dt.datetime  # when the current price took effect
    average_30d: WindowAverage
    average_90d: WindowAverage
    peak_90d: Decimal

    def saving(self, on_demand: Decimal, *, over: str = "30d") -> Decimal | None:
        """The share of ``on_demand`` saved at this zone's price ("now", "30d" or "90d")."""
        price = self.price(over)
        return None if price is None or on_demand <= 0 else (on_demand - price) / on_demand

    def price(self, over: str) -> Decimal | None:
        if over == "now":
            return self.current
        window = self.average_30d if over == "30d" else self.average_90d
        return window.average


def zone_prices(records: Iterable[SpotPrice], *, now: dt.datetime) -> list[ZonePrices]:
    """Per-zone prices from the history of one instance type, zones in name order.

    Records after ``now`` are ignored. A zone whose every record is after ``now`` has no
    price yet and is left out.
    """
    by_zone: dict[str, list[SpotPrice]] = defaultdict(list)
    for record in records:
        if record.at <= now:
            by_zone[record.availability_zone].append(record)
    zones = []
    for zone, history in sorted(by_zone.items()):
        latest = max(history, key=lambda record: record.at)
        in_90d = [r.price for r in history if r.at >= now - LONG_WINDOW] or [latest.price]
        zones.append(
            ZonePrices(
                availability_zone=zone,
                current=latest.price,
                changed_at=latest.at,
                average_30d=time_weighted_average(history, start=now - SHORT_WINDOW, end=now),
                average_90d=time_weighted_average(history, start=now - LONG_WINDOW, end=now),
                peak_90d=max([*in_90d, _price_at(history, now - LONG_WINDOW)]),
            )
        )
    return zones


def _price_at(history: Sequence[SpotPrice], moment: dt.datetime) -> Decimal:
    """The price in effect at ``moment`` (0 when none was known yet)."""
    earlier = [record for record in history if record.at <= moment]
    return max(earlier, key=lambda record: record.at).price if earlier else Decimal(0)


def monthly_saving(on_demand_hourly: Decimal, spot_hourly: Decimal) -> Decimal:
    """What one instance saves in a month (730 hours) on spot instead of on demand."""
    return (on_demand_hourly - spot_hourly) * HOURS_PER_MONTH


def age_text(as_of: dt.datetime | dt.date | None, *, now: dt.datetime) -> str:
    """ "" while data is under a day old, else how old it is ("3 days old"); "age unknown"
    when nothing says when it was taken."""
    if as_of is None:
        return "age unknown"
    if not isinstance(as_of, dt.datetime):
        as_of = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.UTC)
    age = now - as_of
    if age < STALE_AFTER:
        return ""
    days = age.days
    return f"{days} day{'s' if days != 1 else ''} old"


# --- Which instances could run on spot ----------------------------------------------------------

SPOT_WORKLOADS = frozenset({"batch", "training"})
STATEFUL_WORKLOADS = frozenset(
    {"serving", "inference", "database", "db", "stateful", "streaming", "notebook"}
)
"""``workload_type`` values never proposed for spot, whatever other tags say: an interruption
drops requests, sessions or state that a checkpoint cannot bring back."""
TRUE_WORDS = frozenset({"true", "yes", "1"})


def spot_suitability(instance: Instance) -> tuple[bool, str]:
    """Whether ``instance`` is a spot candidate, and why (or why not).

    The rule, in order:

    1. an instance that already runs on spot, or is not running, is not a candidate;
    2. stateful serving is never a candidate: ``workload_type`` in ``STATEFUL_WORKLOADS``,
       or ``stateful=true``, or ``spot_eligible=false``;
    3. a candidate is tagged ``workload_type=batch`` or ``training``, or ``spot_eligible=true``.

    Everything else (untagged workloads) is not proposed: spot needs the owner's word that
    the work survives an interruption.
    """
    tags = {key.lower(): value.strip().lower() for key, value in instance.tags.items()}
    workload = tags.get("workload_type", "")
    if instance.lifecycle == "spot":
        return False, "already on spot"
    if instance.state != "running":
        return False, f"{instance.state}, not running"
    if workload in STATEFUL_WORKLOADS:
        return False, f"stateful ({workload})"
    if tags.get("stateful") in TRUE_WORDS:
        return False, "stateful (tagged stateful=true)"
    if tags.get("spot_eligible") in {"false", "no", "0"}:
        return False, "tagged spot_eligible=false"
    if tags.get("spot_eligible") in TRUE_WORDS:
        return True, "tagged spot_eligible=true"
    if workload in SPOT_WORKLOADS:
        return True, f"{workload} workload"
    return False, "no batch/training or spot_eligible tag"


# --- EC2 adapters -------------------------------------------------------------------------------


def fetch_spot_price_history(
    ec2: Any,
    instance_type: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    product: str = LINUX_PRODUCT,
) -> list[SpotPrice]:
    """Every ``DescribeSpotPriceHistory`` record of one type in the client's region, all
    pages (the API pages with ``NextToken``; a busy type has thousands of records).

    Raises:
        SpotDataError: EC2 refused or could not be reached.
    """
    request = {
        "InstanceTypes": [instance_type],
        "ProductDescriptions": [product],
        "StartTime": start,
        "EndTime": end,
        "PaginationConfig": {"PageSize": PAGE_SIZE},
    }
    records: list[SpotPrice] = []
    try:
        for page in ec2.get_paginator("describe_spot_price_history").paginate(**request):
            records += [_record(item) for item in page.get("SpotPriceHistory", [])]
    except ClientError as error:
        details = error.response.get("Error", {})
        raise SpotDataError(
            f"EC2 refused the spot price history of {instance_type} "
            f"({details.get('Code', 'error')}: {details.get('Message', '')})."
        ) from None
    except BotoCoreError as error:
        raise SpotDataError(f"Could not reach EC2 for spot prices: {error}") from None
    return records


def _record(item: dict[str, Any]) -> SpotPrice:
    at = item["Timestamp"]
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return SpotPrice(
        availability_zone=item["AvailabilityZone"],
        instance_type=item["InstanceType"],
        product=item.get("ProductDescription", ""),
        price=Decimal(str(item["SpotPrice"])),
        at=at if at.tzinfo else at.replace(tzinfo=dt.UTC),
    )


@dataclass(frozen=True)
class PlacementScores:
    """Spot placement scores (1-10: how likely a request of this size succeeds) per zone.

    ``problem`` says why there are none (no permission, not available where asked).
    """

    by_zone: dict[str, int]
    problem: str = ""


def fetch_placement_scores(
    ec2: Any, instance_types: Sequence[str], *, region: str, target_capacity: int = 1
) -> PlacementScores:
    """``GetSpotPlacementScores`` per Availability Zone of ``region``; never raises.

    The API answers zone ids (``use1-az4``), which are mapped to the account's zone names
    with ``DescribeAvailabilityZones``. Without ``ec2:GetSpotPlacementScores`` (or where the
    API is missing, as in emulators) the answer is empty with the reason.
    """
    try:
        response = ec2.get_spot_placement_scores(
            InstanceTypes=list(instance_types),
            TargetCapacity=target_capacity,
            SingleAvailabilityZone=True,
            RegionNames=[region],
        )
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        if code in {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}:
            return PlacementScores({}, "not permitted (needs ec2:GetSpotPlacementScores)")
        return PlacementScores({}, f"not available ({code})")
    except (BotoCoreError, ResponseParserError, AttributeError) as error:  # e.g. an HTML 500
        return PlacementScores({}, f"not available ({type(error).__name__})")
    names = {zone["ZoneId"]: zone["ZoneName"] for zone in zones if "ZoneId" in zone}
    scores = {}
    for item in response.get("SpotPlacementScores", []):
        zone_id = item.get("AvailabilityZoneId", "")
        if item.get("Region", region) == region and zone_id:
            scores[names.get(zone_id, zone_id)] = int(item["Score"])
    return PlacementScores(scores, "" if scores else "no scores returned")

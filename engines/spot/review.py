"""The spot advisor: one instance type's spot outlook in a region, a team's spot candidates,
and a fleet plan for one candidate.

**One piece of advice per instance.** Right-sizing speaks first: an instance that right-sizing
finds idle or over-provisioned, or that has an open stop or resize proposal, is not offered as
a spot candidate (moving an idle instance to spot saves less than stopping it, and a resize
changes the type a spot plan would copy). ``advice_first`` turns the right-sizing findings and
the change records it is handed into what the spot answer says instead; the advisor never
reads them itself.

Brings together the spot price history (``engines.spot.market``), on-demand prices
(``engines.rightsizing.pricing.PriceBook``), the Spot Instance Advisor feed
(``engines.spot.advisor_feed``), the instance type catalog and the running instances
(``engines.rightsizing.catalog``). AWS clients come from a factory handed in; the price
history is remembered in the ``ResponseCache`` for an hour (the API is free but throttled)
and placement scores for a day (AWS allows only a few distinct placement score queries a
day).
"""

from __future__ import annotations

import datetime as dt
import difflib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engines.changes.models import IN_FLIGHT, OPEN, Change, Kind, State
from engines.costs.sources.base import ResponseCache
from engines.errors import UserInputError
from engines.models import Team
from engines.rightsizing.catalog import describe_instance_types, describe_instances
from engines.rightsizing.models import Instance, InstanceTypeFacts, Recommendation
from engines.rightsizing.pricing import LINUX, PriceBook, PriceQuote, operating_system_of
from engines.spot.advisor_feed import AdvisorFeed, AdvisorFeedError, Interruption
from engines.spot.market import (
    LINUX_PRODUCT,
    LONG_WINDOW,
    WINDOWS_PRODUCT,
    PlacementScores,
    SpotPrice,
    ZonePrices,
    fetch_placement_scores,
    fetch_spot_price_history,
    monthly_saving,
    spot_suitability,
    zone_prices,
)
from engines.spot.plan import (
    SpotPlanError,
    build_spot_plan,
    compatible_types,
    describe_launch_basis,
)

HISTORY_FRESHNESS = dt.timedelta(hours=1)
PLACEMENT_FRESHNESS = dt.timedelta(hours=24)
PLANNABLE_STATES = frozenset({"pending", "running", "stopping", "stopped"})


class UnknownInstanceTypeError(UserInputError):
    """No such instance type in the region; carries the close matches."""


class NoSpotMarketError(UserInputError):
    """The type exists but has had no spot price in the region for 90 days."""


@dataclass(frozen=True)
class FeedStatus:
    """Which advisor data answered, how old it is, or why there is none."""

    origin: str
    as_of: dt.datetime | None
    problem: str = ""
    note: str = ""


@dataclass(frozen=True)
class SpotOutlook:
    """``/cost spot <type> [region]``: prices per zone, saving, interruption, placement."""

    instance_type: str
    region: str
    zones: tuple[ZonePrices, ...]
    on_demand: PriceQuote | None
    interruption: Interruption | None
    feed: FeedStatus
    placement: PlacementScores
    prices_fetched_at: dt.datetime
    now: dt.datetime
    operating_system: str = LINUX

    def as_json(self) -> dict[str, Any]:
        on_demand = self.on_demand.hourly if self.on_demand else None
        return {
            "instance_type": self.instance_type,
            "region": self.region,
            "operating_system": self.operating_system,
            "currency": "USD",
            "on_demand_hourly": _text(on_demand),
            "on_demand_source": self.on_demand.describe() if self.on_demand else None,
            "interruption": self.interruption.bucket if self.interruption else None,
            "advisor_saving_percent": (
                self.interruption.saving_percent if self.interruption else None
            ),
            "advisor_data": {
                "origin": self.feed.origin,
                "as_of": self.feed.as_of.isoformat() if self.feed.as_of else None,
                "problem": self.feed.problem or None,
            },
            "placement_scores": self.placement.by_zone or None,
            "placement_problem": self.placement.problem or None,
            "prices_fetched_at": self.prices_fetched_at.isoformat(),
            "groups": [
                {
                    "key": zone.availability_zone,
                    "current": _text(zone.current),
                    "changed_at": zone.changed_at.isoformat(),
                    "average_30d": _text(zone.average_30d.average),
                    "average_90d": _text(zone.average_90d.average),
                    "peak_90d": _text(zone.peak_90d),
                    "saving_30d": _text(zone.saving(on_demand), "0.0001") if on_demand else None,
                }
                for zone in self.zones
            ],
        }


@dataclass(frozen=True)
class SpotCandidate:
    """One instance that could run on spot, priced at its zone's 30-day average."""

    instance: Instance
    reason: str
    on_demand_hourly: Decimal | None
    spot_hourly: Decimal | None
    interruption: Interruption | None
    problem: str = ""  # why there is no saving figure (no price), or ""

    @property
    def monthly_saving(self) -> Decimal | None:
        if self.on_demand_hourly is None or self.spot_hourly is None:
            return None
        return monthly_saving(self.on_demand_hourly, self.spot_hourly)


@dataclass(frozen=True)
class TeamSpotReport:
    """A team's spot candidates; ``left_out`` are not suited to spot, ``held_back`` are
    suited but right-sizing advises something else first (no saving counted)."""

    team: str
    candidates: tuple[SpotCandidate, ...]
    left_out: tuple[tuple[Instance, str], ...]
    feed: FeedStatus
    now: dt.datetime
    held_back: tuple[tuple[Instance, str], ...] = ()
    rightsizing_problem: str = ""  # why right-sizing could not be consulted, or ""

    @property
    def total_monthly_saving(self) -> Decimal:
        return sum((c.monthly_saving or Decimal(0) for c in self.candidates), Decimal(0))

    def as_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "currency": "USD",
            "total": _text(self.total_monthly_saving, "0.01"),
            "groups": [
                {
                    "key": c.instance.instance_id,
                    "name": c.instance.name,
                    "instance_type": c.instance.instance_type,
                    "availability_zone": c.instance.availability_zone,
                    "reason": c.reason,
                    "on_demand_hourly": _text(c.on_demand_hourly),
                    "spot_hourly_30d": _text(c.spot_hourly),
                    "cost": _text(c.monthly_saving, "0.01"),
                    "interruption": c.interruption.bucket if c.interruption else None,
                    "problem": c.problem or None,
                }
                for c in self.candidates
            ],
            "left_out": [
                {"key": i.instance_id, "name": i.name, "reason": why} for i, why in self.left_out
            ],
            "held_back": [
                {"key": i.instance_id, "name": i.name, "reason": why} for i, why in self.held_back
            ],
            "rightsizing_problem": self.rightsizing_problem or None,
        }


@dataclass(frozen=True)
class SpotPlan:
    instance: Instance
    instance_types: tuple[str, ...]
    document: dict[str, Any]

    @property
    def filename(self) -> str:
        return f"spot-plan-{self.instance.name}.json"


class SpotAdvisor:
    """Answers the spot questions.

    Args:
        ec2_for: an EC2 client for (account id, region); "" is the bot's own account.
        prices: on-demand prices.
        load_feed: reads the advisor feed (raises ``AdvisorFeedError`` when it cannot).
        targets: the (account id, region) pairs where teams' fleets run.
        now: the clock.
        default_region: the region asked about when a question names none.
        cache: where price histories and placement scores are remembered (None: memory).
    """

    def __init__(
        self,
        *,
        ec2_for: Callable[[str, str], Any],
        prices: PriceBook,
        load_feed: Callable[[], AdvisorFeed],
        targets: Sequence[tuple[str, str]],
        now: Callable[[], dt.datetime],
        default_region: str,
        cache: ResponseCache | None = None,
    ) -> None:
        self.ec2_for = ec2_for
        self.prices = prices
        self.load_feed = load_feed
        self.targets = tuple(targets)
        self.now = now
        self.default_region = default_region
        self.cache = cache
        self._catalogs: dict[str, dict[str, InstanceTypeFacts]] = {}
        self._lock = threading.Lock()

    # --- /cost spot <type> [region] -----------------------------------------------------------

    def outlook(self, instance_type: str, region: str = "") -> SpotOutlook:
        """Spot prices of ``instance_type`` in every zone of ``region``, and their context.

        Raises:
            UnknownInstanceTypeError: the region has no such type (with a suggestion).
            NoSpotMarketError: no spot price for it in the region in the last 90 days.
            SpotDataError: EC2 refused or could not be reached.
        """
        region = region or self.default_region
        now = self.now()
        feed, status = self.feed()
        ec2 = self.ec2_for("", region)
        self._check_type(instance_type, region, ec2, feed)
        records, fetched_at = self._history(ec2, region, instance_type, LINUX_PRODUCT, now)
        zones = tuple(zone_prices(records, now=now))
        if not zones:
            raise NoSpotMarketError(_no_market(instance_type, region, feed))
        return SpotOutlook(
            instance_type=instance_type,
            region=region,
            zones=zones,
            on_demand=self.prices.quote(instance_type, region=region),
            interruption=feed.interruption(instance_type, region) if feed else None,
            feed=status,
            placement=self._placement(ec2, region, instance_type, now),
            prices_fetched_at=fetched_at,
            now=now,
        )

    def feed(self) -> tuple[AdvisorFeed | None, FeedStatus]:
        """The advisor feed and its status; a missing or broken feed is a status, not an error."""
        try:
            feed = self.load_feed()
        except AdvisorFeedError as error:
            problem = f"{error} Run `costbot spot refresh-advisor` to fetch it."
            return None, FeedStatus(origin="", as_of=None, problem=problem)
        return feed, FeedStatus(origin=feed.origin, as_of=feed.as_of, note=feed.note)

    def _check_type(
        self, instance_type: str, region: str, ec2: Any, feed: AdvisorFeed | None
    ) -> None:
        if instance_type in self._catalogs.get(region, {}):
            return
        if instance_type in describe_instance_types(ec2, [instance_type]):
            return  # one filtered call; the whole catalog only to suggest names
        catalog = self.catalog(ec2, region)
        known = set(catalog) | (feed.known_types() if feed else set())
        close = difflib.get_close_matches(instance_type, sorted(known), n=3, cutoff=0.6)
        if instance_type in known:
            elsewhere = feed.regions_offering(instance_type) if feed else []
            where = f" It has a spot market in {', '.join(elsewhere)}." if elsewhere else ""
            raise NoSpotMarketError(f"{instance_type} is not offered in {region}.{where}")
        did_you_mean = f" — did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
        raise UnknownInstanceTypeError(
            f"There is no instance type `{instance_type}` in {region}{did_you_mean}",
            hint="Instance types look like `g5.xlarge`, `m5.2xlarge` or `p3.8xlarge`.",
        )

    # --- /cost spot team <name> ---------------------------------------------------------------

    def team_report(
        self,
        team: Team,
        *,
        advice_first: Mapping[str, str] | None = None,
        rightsizing_problem: str = "",
    ) -> TeamSpotReport:
        """The team's running instances: which could run on spot, what each would save a
        month at its zone's 30-day average spot price, and how often that capacity is taken
        back.

        Args:
            team: whose instances.
            advice_first: instance id -> what right-sizing advises first (``advice_first()``
                makes it); those instances are held back, with no saving counted.
            rightsizing_problem: why right-sizing could not be consulted (shown as a note).
        """
        now = self.now()
        feed, status = self.feed()
        first = advice_first or {}
        candidates: list[SpotCandidate] = []
        left_out: list[tuple[Instance, str]] = []
        held_back: list[tuple[Instance, str]] = []
        zones_seen: dict[tuple[str, str, str, str], dict[str, ZonePrices]] = {}
        for account_id, region in self.targets:
            ec2 = self.ec2_for(account_id, region)
            for instance in self._team_instances(ec2, team, account_id, region):
                suitable, reason = spot_suitability(instance)
                if not suitable:
                    left_out.append((instance, reason))
                    continue
                if instance.instance_id in first:
                    held_back.append((instance, first[instance.instance_id]))
                    continue
                candidates.append(self._candidate(ec2, instance, reason, feed, now, zones_seen))
        candidates.sort(key=lambda c: (-(c.monthly_saving or Decimal(0)), c.instance.name))
        held_back.sort(key=lambda pair: pair[0].name)
        return TeamSpotReport(
            team.name,
            tuple(candidates),
            tuple(left_out),
            status,
            now,
            held_back=tuple(held_back),
            rightsizing_problem=rightsizing_problem,
        )

    def _team_instances(self, ec2: Any, team: Team, account_id: str, region: str) -> list[Instance]:
        filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in team.tags.items()]
        filters.append({"Name": "instance-state-name", "Values": ["running", "stopped"]})
        return describe_instances(ec2, region=region, account_id=account_id, filters=filters)

    def _candidate(
        self,
        ec2: Any,
        instance: Instance,
        reason: str,
        feed: AdvisorFeed | None,
        now: dt.datetime,
        zones_seen: dict[tuple[str, str, str, str], dict[str, ZonePrices]],
    ) -> SpotCandidate:
        operating_system = operating_system_of(instance.platform) or LINUX
        product = WINDOWS_PRODUCT if operating_system == "Windows" else LINUX_PRODUCT
        on_demand = self.prices.hourly(
            instance.instance_type, region=instance.region, operating_system=operating_system
        )
        key = (instance.account_id, instance.region, instance.instance_type, product)
        if key not in zones_seen:  # one history per type, however many instances run it
            records, _ = self._history(
                ec2, instance.region, instance.instance_type, product, now, instance.account_id
            )
            zones_seen[key] = {z.availability_zone: z for z in zone_prices(records, now=now)}
        zones = zones_seen[key]
        spot, problem = _spot_price_for(instance, zones)
        if on_demand is None:
            problem = f"no on-demand price for {instance.instance_type} in {instance.region}"
        interruption = (
            feed.interruption(instance.instance_type, instance.region, operating_system)
            if feed
            else None
        )
        return SpotCandidate(instance, reason, on_demand, spot, interruption, problem)

    # --- the plan -----------------------------------------------------------------------------

    def plan(self, instance_id: str, *, account_id: str, region: str) -> SpotPlan:
        """A launch template, EC2 Fleet and Auto Scaling group for one running instance.

        Raises:
            SpotPlanError: the instance is gone, or EC2 refused.
        """
        ec2 = self.ec2_for(account_id, region)
        found = describe_instances(
            ec2,
            region=region,
            account_id=account_id,
            filters=[{"Name": "instance-id", "Values": [instance_id]}],
        )
        if not found:
            raise SpotPlanError(f"{instance_id} no longer exists in {region}.")
        instance = found[0]
        if instance.state not in PLANNABLE_STATES:
            raise SpotPlanError(
                f"{instance.name} ({instance_id}) is {instance.state}: a plan copies a running "
                f"or stopped instance."
            )
        catalog = self.catalog(ec2, region)
        current = catalog.get(instance.instance_type)
        if current is None:
            raise SpotPlanError(f"EC2 does not list {instance.instance_type} in {region}.")
        feed, _ = self.feed()
        spot_types = set(feed.regions.get(region, {}).get(LINUX, {})) if feed else None
        types = compatible_types(current, catalog, spot_types=spot_types)
        basis = describe_launch_basis(ec2, instance)
        return SpotPlan(instance, tuple(types), build_spot_plan(basis, types))

    # --- data ---------------------------------------------------------------------------------

    def catalog(self, ec2: Any, region: str) -> dict[str, InstanceTypeFacts]:
        """The region's instance types, asked once."""
        with self._lock:
            if region not in self._catalogs:
                self._catalogs[region] = describe_instance_types(ec2)
            return self._catalogs[region]

    def _history(
        self,
        ec2: Any,
        region: str,
        instance_type: str,
        product: str,
        now: dt.datetime,
        account_id: str = "",
    ) -> tuple[list[SpotPrice], dt.datetime]:
        # Zone names are per account (us-east-1a is not the same zone everywhere).
        key = f"spot:history:{account_id}:{region}:{product}:{instance_type}"
        if self.cache is not None:
            entry = self.cache.get(key, max_age=HISTORY_FRESHNESS, now=now)
            if isinstance(entry, dict):
                return _records_from(entry["records"]), dt.datetime.fromisoformat(entry["at"])
        records = fetch_spot_price_history(
            ec2, instance_type, start=now - LONG_WINDOW, end=now, product=product
        )
        if self.cache is not None:
            entry = {"at": now.isoformat(), "records": _records_to(records)}
            self.cache.put(key, entry, now=now)
        return records, now

    def _placement(
        self, ec2: Any, region: str, instance_type: str, now: dt.datetime
    ) -> PlacementScores:
        key = f"spot:placement:{region}:{instance_type}"
        if self.cache is not None:
            entry = self.cache.get(key, max_age=PLACEMENT_FRESHNESS, now=now)
            if isinstance(entry, dict):
                return PlacementScores(dict(entry["by_zone"]), entry.get("problem", ""))
        scores = fetch_placement_scores(ec2, [instance_type], region=region)
        if self.cache is not None and scores.by_zone:  # a refusal is asked again next time
            self.cache.put(key, {"by_zone": scores.by_zone, "problem": scores.problem}, now=now)
        return scores


def advice_first(findings: Sequence[Recommendation], changes: Sequence[Change]) -> dict[str, str]:
    """What right-sizing advises first, by instance id, in the words the spot answer uses.

    The newest change of an instance decides when there is one:

    - open (proposed, approved, scheduled, snoozed): a stop is "idle: stop it first", a
      resize "has an open resize proposal (from → to)";
    - under way (stopping, modifying, starting): "a stop is under way" / "a resize is under way";
    - dismissed: the owner declined right-sizing, so spot may be offered.

    Otherwise the finding decides: an idle instance (a stop) is "idle: stop it first", an
    over-provisioned one with a saving "over-provisioned: resize to <type> first". Findings
    that change nothing (optimized, left alone, not enough data) hold nothing back.

    Args:
        findings: right-sizing's recommendations for the instances (any team).
        changes: the change records of those instances (and any open ones), in any order.
    """
    newest: dict[str, Change] = {}
    for change in sorted(changes, key=lambda c: (c.created_at, c.id)):
        if not change.kind.is_sagemaker:  # SageMaker resources are not EC2 instances
            newest[change.instance_id] = change
    advice: dict[str, str] = {}
    for instance_id, change in newest.items():
        said = _change_advice(change)
        if said:
            advice[instance_id] = said
    for rec in findings:
        instance_id = rec.instance.instance_id
        if instance_id in newest and (
            instance_id in advice or newest[instance_id].state is State.DISMISSED
        ):
            continue
        if rec.action == "stop" and rec.monthly_saving > 0:
            advice[instance_id] = "idle: stop it first"
        elif rec.action == "modify" and rec.monthly_saving > 0 and rec.recommended_type:
            advice[instance_id] = f"over-provisioned: resize to {rec.recommended_type} first"
    return advice


def _change_advice(change: Change) -> str:
    stop = change.kind is Kind.STOP
    if change.state in OPEN:
        if stop:
            return "idle: stop it first"
        return f"has an open resize proposal ({change.from_type} → {change.to_type})"
    if change.state in IN_FLIGHT:
        return "a stop is under way" if stop else "a resize is under way"
    return ""


def _spot_price_for(instance: Instance, zones: dict[str, ZonePrices]) -> tuple[Decimal | None, str]:
    """The 30-day average in the instance's zone; without one, the dearest zone's (so the
    saving is never overstated)."""
    zone = instance.availability_zone
    if zone in zones and zones[zone].average_30d.average is not None:
        return zones[zone].average_30d.average, ""
    averages = [z.average_30d.average for z in zones.values() if z.average_30d.average is not None]
    if averages:
        return max(averages), ""
    return None, f"no spot price for {instance.instance_type} in {instance.region}"


def _no_market(instance_type: str, region: str, feed: AdvisorFeed | None) -> str:
    elsewhere = [r for r in (feed.regions_offering(instance_type) if feed else []) if r != region]
    where = f" The advisor data lists it in {', '.join(elsewhere)}." if elsewhere else ""
    return (
        f"{instance_type} has no spot market in {region}: no spot price in the last 90 days.{where}"
    )


def _text(amount: Decimal | None, places: str = "0.000001") -> str | None:
    """Averages and shares are ratios: shown to a fixed number of places."""
    return None if amount is None else str(amount.quantize(Decimal(places)))


def _records_to(records: Sequence[SpotPrice]) -> list[list[str]]:
    return [
        [r.availability_zone, r.instance_type, r.product, str(r.price), r.at.isoformat()]
        for r in records
    ]


def _records_from(rows: Sequence[Sequence[str]]) -> list[SpotPrice]:
    return [
        SpotPrice(zone, instance_type, product, Decimal(price), dt.datetime.fromisoformat(at))
        for zone, instance_type, product, price, at in rows
    ]

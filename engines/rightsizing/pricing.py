"""On-demand EC2 prices, USD per instance-hour, and where each one came from.

A ``PriceBook`` answers "what does an m5.large cost per hour in us-east-1 on Linux" from three
layers, first answer wins:

1. **the database**, through the ``ResponseCache`` protocol: an answer the Pricing API gave
   less than ``freshness`` ago (7 days by default: list prices change rarely);
2. **the AWS Pricing API** (``GetProducts`` on a ``pricing`` client, which lives in us-east-1
   whatever region is priced), asked for exactly one product: service ``AmazonEC2``, the
   instance type, the region's Pricing *location* name, the operating system, shared tenancy,
   no pre-installed software, capacity status ``Used`` (plain on-demand usage, not capacity
   reservations). Its answer, price or "no such product", is remembered in the cache;
3. **a dated snapshot shipped with the code** (``engines/data/ec2-prices-us-east-1.json``):
   us-east-1, Linux only. Used when there is no Pricing client, when the API fails (the
   first failure turns the API off for the rest of the book's life, so a missing permission
   costs one refused call, not one per type) or when it knows no such product.

Every price is a ``PriceQuote`` that says its origin and date, so a message can say "list
price from the AWS Price List API, Nov 20, 2026" or "from the price snapshot of Jun 1, 2026".
Answers are also kept in memory for the book's life. moto has no Pricing API: tests use
botocore's ``Stubber``.

The Pricing client, the cache and the clock are passed in; nothing here reads the
environment or the system clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from engines.costs.sources.base import ResponseCache
from engines.errors import ConfigError

SNAPSHOT_FILE = "ec2-prices-us-east-1.json"
DEFAULT_FRESHNESS = dt.timedelta(days=7)
PRICING_API = "pricing-api"
SNAPSHOT = "snapshot"
LINUX = "Linux"
WINDOWS = "Windows"
CURRENCY = "USD"

REGION_LOCATIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "sa-east-1": "South America (Sao Paulo)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "eu-north-1": "EU (Stockholm)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
}
"""Region code -> the Pricing API's ``location``. Regions not listed are asked by
``regionCode`` instead (an attribute the price list also carries)."""

_PLATFORM_OPERATING_SYSTEMS = {
    "linux/unix": LINUX,
    "windows": WINDOWS,
    "red hat enterprise linux": "RHEL",
    "suse linux": "SUSE",
    "ubuntu pro": "Ubuntu Pro",
}


def operating_system_of(platform: str) -> str | None:
    """The Pricing API ``operatingSystem`` for an instance's ``PlatformDetails``.

    None for platforms priced with extra software or licences this module does not price
    (Windows with SQL Server, BYOL, ...).

    Args:
        platform: ``Instance.platform`` ("Linux/UNIX", "Windows", ...).
    """
    return _PLATFORM_OPERATING_SYSTEMS.get(platform.strip().lower())


# --- The shipped snapshot -----------------------------------------------------------------------


@dataclass(frozen=True)
class PriceSnapshot:
    """On-demand prices of one region and operating system as of ``snapshot_date``."""

    snapshot_date: dt.date
    region: str
    operating_system: str
    currency: str
    source: str
    prices: Mapping[str, Decimal]

    def hourly(self, instance_type: str, *, region: str, operating_system: str) -> Decimal | None:
        """The snapshot's price, or None when it has none for that type, region or system.

        Args:
            instance_type: e.g. "m5.large".
            region: region code.
            operating_system: Pricing API name ("Linux", "Windows", ...).
        """
        if region != self.region or operating_system != self.operating_system:
            return None
        return self.prices.get(instance_type)


def load_snapshot(path: str | Path | None = None) -> PriceSnapshot:
    """Read a price snapshot file (the one shipped in ``engines/data`` by default).

    Args:
        path: a snapshot JSON file; None reads the shipped one.

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        if path is None:
            text = resources.files("engines").joinpath("data", SNAPSHOT_FILE).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return parse_snapshot(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as error:
        raise ConfigError(
            f"The EC2 price snapshot {path or SNAPSHOT_FILE} is unreadable: {error}"
        ) from None


def parse_snapshot(data: Mapping[str, Any]) -> PriceSnapshot:
    """A snapshot from its JSON form (prices as decimal strings).

    Args:
        data: ``snapshot_date`` (ISO date), ``region``, ``operating_system``, ``currency``,
            ``source`` and ``prices`` (instance type -> "0.096").
    """
    return PriceSnapshot(
        snapshot_date=dt.date.fromisoformat(data["snapshot_date"]),
        region=str(data["region"]),
        operating_system=str(data["operating_system"]),
        currency=str(data["currency"]),
        source=str(data["source"]),
        prices={name: Decimal(str(price)) for name, price in data["prices"].items()},
    )


SHIPPED_SNAPSHOT = load_snapshot()
"""The snapshot shipped with the code; ``PriceBook``'s default last layer."""


# --- The Pricing API ----------------------------------------------------------------------------


def build_get_products_request(
    instance_type: str, *, region: str, operating_system: str = LINUX
) -> dict[str, Any]:
    """The ``GetProducts`` request for one on-demand instance price.

    Args:
        instance_type: e.g. "m5.large".
        region: region code; mapped to its Pricing ``location`` (else ``regionCode``).
        operating_system: Pricing API name ("Linux", "Windows", "RHEL", ...).
    """
    location = REGION_LOCATIONS.get(region)
    where = ("location", location) if location else ("regionCode", region)
    fields = [
        ("instanceType", instance_type),
        where,
        ("operatingSystem", operating_system),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
    ]
    return {
        "ServiceCode": "AmazonEC2",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in fields
        ],
        "FormatVersion": "aws_v1",
    }


def parse_price_list(price_list: Iterable[str | Mapping[str, Any]]) -> Decimal | None:
    """The hourly USD on-demand price in a ``GetProducts`` ``PriceList``.

    Each entry is a JSON string (or its parsed form): ``terms.OnDemand.<offer>.priceDimensions
    .<rate>.pricePerUnit.USD`` per ``Hrs``. Bring-your-own-licence products and markets other
    than ``OnDemand`` (capacity blocks) are skipped. When several products remain, the lowest
    positive price is taken; None when there is none.

    Args:
        price_list: the response's ``PriceList`` entries, from every page.
    """
    prices = [price for product in price_list for price in _product_prices(product)]
    positive = [price for price in prices if price > 0]
    return min(positive) if positive else None


def _product_prices(product: str | Mapping[str, Any]) -> Iterator[Decimal]:
    data = json.loads(product) if isinstance(product, str) else product
    attributes = data.get("product", {}).get("attributes", {})
    if attributes.get("licenseModel") == "Bring your own license":
        return
    if attributes.get("marketoption", "OnDemand") != "OnDemand":
        return
    for offer in data.get("terms", {}).get("OnDemand", {}).values():
        for dimension in offer.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get(CURRENCY)
            if usd is not None and dimension.get("unit", "Hrs") == "Hrs":
                yield Decimal(usd)


# --- The book -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceQuote:
    """One price and where it came from: ``origin`` is ``PRICING_API`` or ``SNAPSHOT``.

    ``as_of`` is the snapshot's date, or the day the Pricing API answered (None when the
    book had no clock).
    """

    instance_type: str
    region: str
    operating_system: str
    hourly: Decimal
    origin: str
    as_of: dt.date | None

    def describe(self) -> str:
        """Where the price came from, in words fit for a message."""
        when = f", {self.as_of:%b %-d, %Y}" if self.as_of else ""
        if self.origin == PRICING_API:
            return f"list price from the AWS Price List API{when}"
        return f"list price from the price snapshot{when} ({self.region}, {self.operating_system})"


_Key = tuple[str, str, str]
_Quote = TypeVar("_Quote")
_SHIPPED: Any = object()  # "the book's shipped snapshot" (None means no snapshot at all)


class LayeredPriceBook(Generic[_Quote]):
    """Hourly prices looked up in three layers: the cache of Price List API answers, then
    the API (remembered, a missing product too), then a shipped snapshot. A subclass says
    how a key becomes an API request, a quote and a snapshot price (EC2's ``PriceBook``,
    SageMaker's ``engines.sagemaker.prices.SageMakerPriceBook``).

    Args:
        pricing_client: a boto3 ``pricing`` client (us-east-1); None never asks the API.
        cache: where Pricing API answers are remembered; None remembers only in memory.
        now: the clock (returns a timezone-aware UTC ``datetime``); required with ``cache``.
        snapshot: the last layer (default ``shipped_snapshot``); None has no snapshot.
        freshness: how long a remembered Pricing API answer is used.
    """

    cache_prefix = ""  # names the answers in the cache: "<prefix>:<region>:<...>:<type>"
    shipped_snapshot: Any = None  # the snapshot used when none is passed

    def __init__(
        self,
        *,
        pricing_client: Any = None,
        cache: ResponseCache | None = None,
        now: Callable[[], dt.datetime] | None = None,
        snapshot: Any = _SHIPPED,
        freshness: dt.timedelta = DEFAULT_FRESHNESS,
    ) -> None:
        if cache is not None and now is None:
            raise ValueError(f"a {type(self).__name__} with a cache needs a clock: pass now=")
        self.pricing_client = pricing_client
        self.cache = cache
        self.now = now
        self.snapshot = self.shipped_snapshot if snapshot is _SHIPPED else snapshot
        self.freshness = freshness
        self.api_error = ""
        """Why the Pricing API was turned off (its first failure), or empty."""
        self._quotes: dict[_Key, _Quote | None] = {}

    # --- what a subclass says -------------------------------------------------------------

    def _request(self, key: _Key) -> dict[str, Any]:
        """The ``GetProducts`` request for ``key``."""
        raise NotImplementedError

    def _quote(self, key: _Key, hourly: Decimal, origin: str, as_of: dt.date | None) -> _Quote:
        raise NotImplementedError

    def _snapshot_hourly(self, key: _Key) -> Decimal | None:
        raise NotImplementedError

    # --- the layers -----------------------------------------------------------------------

    def _cached_quote(self, key: _Key) -> _Quote | None:
        """The price with its origin and date; None when no layer knows it."""
        if key not in self._quotes:
            self._quotes[key] = self._look_up(key)
        return self._quotes[key]

    def _look_up(self, key: _Key) -> _Quote | None:
        found, quote = self._remembered(key)
        if not found:
            found, quote = self._ask(key)
        if quote is not None:
            return quote
        return self._from_snapshot(key)  # not asked, failed, or no such product

    def _cache_key(self, key: _Key) -> str:
        first, region, variant = key
        return f"{self.cache_prefix}:{region}:{variant}:{first}"

    def _remembered(self, key: _Key) -> tuple[bool, _Quote | None]:
        """(whether a fresh API answer is cached, its quote: None for no such product)."""
        if self.cache is None or self.now is None:
            return False, None
        entry = self.cache.get(self._cache_key(key), max_age=self.freshness, now=self.now())
        if not isinstance(entry, dict):
            return False, None
        if entry.get("hourly") is None:
            return True, None
        fetched = entry.get("fetched_at")
        as_of = dt.datetime.fromisoformat(fetched).date() if fetched else None
        return True, self._quote(key, Decimal(entry["hourly"]), PRICING_API, as_of)

    def _ask(self, key: _Key) -> tuple[bool, _Quote | None]:
        """(whether the Pricing API answered, its quote: None for no such product); the
        answer is remembered in the cache. The first failure turns the API off."""
        if self.pricing_client is None or self.api_error:
            return False, None
        price_list = self._call(self._request(key))
        if price_list is None:
            return False, None
        hourly = parse_price_list(price_list)
        at = self.now() if self.now is not None else None
        if self.cache is not None and at is not None:
            entry = {
                "hourly": None if hourly is None else str(hourly),
                "fetched_at": at.isoformat(),
            }
            self.cache.put(self._cache_key(key), entry, now=at)
        if hourly is None:
            return True, None
        return True, self._quote(key, hourly, PRICING_API, at.date() if at is not None else None)

    def _call(self, request: dict[str, Any]) -> list[Any] | None:
        price_list: list[Any] = []
        try:
            for page in self.pricing_client.get_paginator("get_products").paginate(**request):
                price_list.extend(page.get("PriceList", []))
        except ClientError as error:
            details = error.response.get("Error", {})
            self.api_error = f"{details.get('Code', 'error')}: {details.get('Message', '')}"
            return None
        except BotoCoreError as error:
            self.api_error = str(error)
            return None
        return price_list

    def _from_snapshot(self, key: _Key) -> _Quote | None:
        if self.snapshot is None:
            return None
        hourly = self._snapshot_hourly(key)
        if hourly is None:
            return None
        return self._quote(key, hourly, SNAPSHOT, self.snapshot.snapshot_date)


class PriceBook(LayeredPriceBook[PriceQuote]):
    """EC2 on-demand hourly prices: cache, then Pricing API, then the shipped snapshot
    (``LayeredPriceBook``; the shipped snapshot by default)."""

    cache_prefix = "pricing:ec2-on-demand"
    shipped_snapshot = SHIPPED_SNAPSHOT

    def hourly(
        self, instance_type: str, *, region: str, operating_system: str = LINUX
    ) -> Decimal | None:
        """USD per instance-hour on demand, or None when no layer knows the price.

        Args:
            instance_type: e.g. "m5.large".
            region: region code, e.g. "us-east-1".
            operating_system: Pricing API name: "Linux", "Windows", "RHEL", "SUSE", ...
        """
        quote = self.quote(instance_type, region=region, operating_system=operating_system)
        return None if quote is None else quote.hourly

    def quote(
        self, instance_type: str, *, region: str, operating_system: str = LINUX
    ) -> PriceQuote | None:
        """The price with its origin and date; None when no layer knows it.

        Args:
            instance_type: e.g. "m5.large".
            region: region code.
            operating_system: Pricing API name.
        """
        return self._cached_quote((instance_type, region, operating_system))

    def _request(self, key: _Key) -> dict[str, Any]:
        instance_type, region, operating_system = key
        return build_get_products_request(
            instance_type, region=region, operating_system=operating_system
        )

    def _quote(self, key: _Key, hourly: Decimal, origin: str, as_of: dt.date | None) -> PriceQuote:
        instance_type, region, operating_system = key
        return PriceQuote(instance_type, region, operating_system, hourly, origin, as_of)

    def _snapshot_hourly(self, key: _Key) -> Decimal | None:
        instance_type, region, operating_system = key
        return self.snapshot.hourly(instance_type, region=region, operating_system=operating_system)

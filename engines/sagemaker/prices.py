"""SageMaker instance prices, USD per instance-hour on demand, and where each came from.

The same three layers as EC2's ``engines.rightsizing.pricing.PriceBook``, first answer wins:

1. **the database** (the ``ResponseCache`` protocol): a Pricing API answer younger than
   ``freshness`` (7 days);
2. **the AWS Price List API**: ``GetProducts`` for service code ``AmazonSageMaker``, product
   family ``ML Instance``, the ``instanceName`` ("ml.m5.large"), the region's Pricing
   ``location`` and the ``component`` the instance serves: ``Hosting`` (real-time
   endpoints), ``Training`` or ``Notebook``. The answer, price or none, is cached;
3. **a dated snapshot** shipped in ``engines/data/sagemaker-prices-us-east-1.json``
   (us-east-1; the ml.* types moto serves), when there is no client, the API fails (its
   first failure turns it off for the book's life) or it knows no such product.

Each answer is a ``SageMakerPriceQuote`` that says its origin and date. moto has no Pricing
API: tests use botocore's ``Stubber``. The client, cache and clock are passed in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from engines.errors import ConfigError
from engines.rightsizing.pricing import (
    PRICING_API,
    REGION_LOCATIONS,
    LayeredPriceBook,
)

SERVICE_CODE = "AmazonSageMaker"
SNAPSHOT_FILE = "sagemaker-prices-us-east-1.json"
HOSTING = "Hosting"
TRAINING = "Training"
NOTEBOOK = "Notebook"
COMPONENTS = (HOSTING, TRAINING, NOTEBOOK)


@dataclass(frozen=True)
class SageMakerPriceSnapshot:
    """On-demand prices of one region per component, as of ``snapshot_date``."""

    snapshot_date: dt.date
    region: str
    currency: str
    source: str
    prices: Mapping[str, Mapping[str, Decimal]]  # component -> instance type -> USD/h

    def hourly(self, instance_type: str, *, region: str, component: str) -> Decimal | None:
        if region != self.region:
            return None
        return self.prices.get(component, {}).get(instance_type)


def load_snapshot(path: str | Path | None = None) -> SageMakerPriceSnapshot:
    """Read a SageMaker price snapshot (the shipped one by default).

    Raises:
        ConfigError: the file is missing or malformed.
    """
    try:
        if path is None:
            text = resources.files("engines").joinpath("data", SNAPSHOT_FILE).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        return SageMakerPriceSnapshot(
            snapshot_date=dt.date.fromisoformat(data["snapshot_date"]),
            region=str(data["region"]),
            currency=str(data["currency"]),
            source=str(data["source"]),
            prices={
                component: {name: Decimal(str(price)) for name, price in table.items()}
                for component, table in data["prices"].items()
            },
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as error:
        raise ConfigError(
            f"The SageMaker price snapshot {path or SNAPSHOT_FILE} is unreadable: {error}"
        ) from None


SHIPPED_SNAPSHOT = load_snapshot()


def build_get_products_request(
    instance_type: str, *, region: str, component: str = HOSTING
) -> dict[str, Any]:
    """The ``GetProducts`` request for one SageMaker instance price.

    Args:
        instance_type: e.g. "ml.m5.large".
        region: region code; mapped to its Pricing ``location`` (else ``regionCode``).
        component: ``Hosting``, ``Training`` or ``Notebook``.
    """
    if component not in COMPONENTS:
        raise ValueError(f"unknown SageMaker component {component!r}: use one of {COMPONENTS}")
    location = REGION_LOCATIONS.get(region)
    where = ("location", location) if location else ("regionCode", region)
    fields = [
        ("productFamily", "ML Instance"),
        ("instanceName", instance_type),
        where,
        ("component", component),
    ]
    return {
        "ServiceCode": SERVICE_CODE,
        "Filters": [
            {"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in fields
        ],
        "FormatVersion": "aws_v1",
    }


@dataclass(frozen=True)
class SageMakerPriceQuote:
    """One price and its origin (``PRICING_API`` or ``SNAPSHOT``) and date."""

    instance_type: str
    region: str
    component: str
    hourly: Decimal
    origin: str
    as_of: dt.date | None

    def describe(self) -> str:
        when = f", {self.as_of:%b %-d, %Y}" if self.as_of else ""
        if self.origin == PRICING_API:
            return f"SageMaker list price from the AWS Price List API{when}"
        return f"SageMaker list price from the price snapshot{when} ({self.region})"


_Key = tuple[str, str, str]


class SageMakerPriceBook(LayeredPriceBook[SageMakerPriceQuote]):
    """SageMaker on-demand hourly prices: cache, then Price List API, then snapshot
    (``engines.rightsizing.pricing.LayeredPriceBook``; the shipped snapshot by default)."""

    cache_prefix = "pricing:sagemaker-on-demand"
    shipped_snapshot = SHIPPED_SNAPSHOT

    def hourly(
        self, instance_type: str, *, region: str, component: str = HOSTING
    ) -> Decimal | None:
        """USD per instance-hour, or None when no layer knows it."""
        quote = self.quote(instance_type, region=region, component=component)
        return None if quote is None else quote.hourly

    def quote(
        self, instance_type: str, *, region: str, component: str = HOSTING
    ) -> SageMakerPriceQuote | None:
        """The price with its origin and date; None when no layer knows it."""
        return self._cached_quote((instance_type, region, component))

    def _request(self, key: _Key) -> dict[str, Any]:
        instance_type, region, component = key
        return build_get_products_request(instance_type, region=region, component=component)

    def _quote(
        self, key: _Key, hourly: Decimal, origin: str, as_of: dt.date | None
    ) -> SageMakerPriceQuote:
        return SageMakerPriceQuote(*key, hourly, origin, as_of)

    def _snapshot_hourly(self, key: _Key) -> Decimal | None:
        instance_type, region, component = key
        return self.snapshot.hourly(instance_type, region=region, component=component)

"""SageMaker prices: the dated snapshot, the Price List API (Stubber: moto has no Pricing)
and the cache."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber

from bot.store import Store, StoreResponseCache
from engines.rightsizing.pricing import PRICING_API, SNAPSHOT
from engines.sagemaker.prices import (
    SHIPPED_SNAPSHOT,
    SageMakerPriceBook,
    build_get_products_request,
)

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def product(instance_name: str, price: str, component: str = "Hosting") -> str:
    return json.dumps(
        {
            "product": {
                "productFamily": "ML Instance",
                "attributes": {
                    "instanceName": instance_name,
                    "component": component,
                    "location": "US East (N. Virginia)",
                    "regionCode": "us-east-1",
                    "servicecode": "AmazonSageMaker",
                },
                "sku": "ABCDEF",
            },
            "serviceCode": "AmazonSageMaker",
            "terms": {
                "OnDemand": {
                    "ABCDEF.JRTCKXETXF": {
                        "priceDimensions": {
                            "ABCDEF.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": price},
                            }
                        }
                    }
                }
            },
        }
    )


def pricing_client() -> Any:
    return boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_the_snapshot_is_dated_and_prices_the_types_moto_serves() -> None:
    book = SageMakerPriceBook()

    quote = book.quote("ml.m5.large", region="us-east-1")
    assert quote is not None and quote.origin == SNAPSHOT
    assert quote.hourly == Decimal("0.115")
    assert SHIPPED_SNAPSHOT.snapshot_date == dt.date(2026, 12, 6)
    assert "NOT a Price List API download" in SHIPPED_SNAPSHOT.source  # says it is approximate
    for family in ("ml.g4dn.xlarge", "ml.p3.2xlarge", "ml.c5.large", "ml.inf1.xlarge"):
        assert book.hourly(family, region="us-east-1") is not None
    assert book.hourly("ml.p3.2xlarge", region="us-east-1", component="Training") == Decimal(
        "3.825"
    )
    assert book.hourly("ml.t3.medium", region="us-east-1", component="Notebook") == Decimal("0.05")
    assert book.hourly("ml.m5.large", region="eu-west-1") is None  # snapshot is us-east-1 only
    assert "price snapshot, Dec 6, 2026" in quote.describe()


def test_the_price_list_api_answers_first_and_is_cached(tmp_path: Path) -> None:
    client = pricing_client()
    stub = Stubber(client)
    request = build_get_products_request("ml.m5.large", region="us-east-1")
    assert request["ServiceCode"] == "AmazonSageMaker"
    assert {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"} in request["Filters"]
    stub.add_response(
        "get_products", {"PriceList": [product("ml.m5.large", "0.1150000000")]}, request
    )
    cache = StoreResponseCache(Store(tmp_path / "costbot.db"))

    with stub:
        book = SageMakerPriceBook(pricing_client=client, cache=cache, now=lambda: NOW)
        quote = book.quote("ml.m5.large", region="us-east-1")
    stub.assert_no_pending_responses()

    assert quote is not None and quote.origin == PRICING_API and quote.hourly == Decimal("0.115")
    assert quote.as_of == NOW.date()
    # A new book (no client at all) finds the answer in the cache, not the snapshot.
    again = SageMakerPriceBook(cache=cache, now=lambda: NOW + dt.timedelta(days=1))
    remembered = again.quote("ml.m5.large", region="us-east-1")
    assert remembered is not None and remembered.origin == PRICING_API


def test_a_refused_api_falls_back_to_the_snapshot_and_says_why() -> None:
    client = pricing_client()
    stub = Stubber(client)
    stub.add_client_error("get_products", "AccessDeniedException", "no pricing:GetProducts")

    with stub:
        book = SageMakerPriceBook(pricing_client=client)
        first = book.quote("ml.g4dn.xlarge", region="us-east-1")
        second = book.quote("ml.p3.2xlarge", region="us-east-1")  # API turned off: no call

    assert first is not None and first.origin == SNAPSHOT and first.hourly == Decimal("0.736")
    assert second is not None and second.origin == SNAPSHOT
    assert "AccessDeniedException" in book.api_error

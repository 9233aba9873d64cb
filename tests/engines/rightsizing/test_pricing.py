"""EC2 on-demand prices: the shipped snapshot, the Pricing API (Stubber) and the cache.

moto has no Pricing API, so the API is botocore's ``Stubber`` with responses shaped like
real ``GetProducts`` answers (each ``PriceList`` entry a JSON string). Calls are counted with
an event hook that fires before the stubber answers.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bot.demo.fleet import PRICE_SNAPSHOT_DATE, PRICES
from bot.store import Store, StoreResponseCache
from engines.errors import ConfigError
from engines.rightsizing.pricing import (
    PRICING_API,
    REGION_LOCATIONS,
    SHIPPED_SNAPSHOT,
    SNAPSHOT,
    PriceBook,
    build_get_products_request,
    load_snapshot,
    operating_system_of,
    parse_price_list,
)

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[3]


def product(
    instance_type: str,
    price: str,
    *,
    location: str = "EU (Ireland)",
    region: str = "eu-west-1",
    operating_system: str = "Linux",
    license_model: str = "No License required",
    market: str = "OnDemand",
    sku: str = "B4JUK3U7ZG63RGSF",
) -> str:
    """One ``GetProducts`` ``PriceList`` entry, as the API sends it (a JSON string)."""
    on_demand = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "instanceType": instance_type,
                    "location": location,
                    "regionCode": region,
                    "locationType": "AWS Region",
                    "operatingSystem": operating_system,
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "licenseModel": license_model,
                    "marketoption": market,
                    "usagetype": f"EU-BoxUsage:{instance_type}",
                    "operation": "RunInstances",
                    "vcpu": "2",
                    "memory": "8 GiB",
                    "servicecode": "AmazonEC2",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    on_demand: {
                        "priceDimensions": {
                            f"{on_demand}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${price} per On Demand Linux {instance_type} "
                                "Instance Hour",
                                "appliesTo": [],
                                "rateCode": f"{on_demand}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": f"{Decimal(price):.10f}"},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    f"{sku}.4NA7Y494T4": {
                        "priceDimensions": {
                            f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": "0.0420000000"},
                            }
                        },
                        "termAttributes": {
                            "LeaseContractLength": "1yr",
                            "PurchaseOption": "No Upfront",
                        },
                    }
                },
            },
            "version": "20261113002108",
            "publicationDate": "2026-11-13T00:21:08Z",
        }
    )


def answer(*products: str) -> dict[str, Any]:
    return {"FormatVersion": "aws_v1", "PriceList": list(products)}


class MemoryCache:
    """A ``ResponseCache`` in a dict, counting reads and writes."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[dt.datetime, Any]] = {}
        self.gets = 0
        self.puts = 0

    def get(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None:
        self.gets += 1
        entry = self.entries.get(key)
        if entry is None or now - entry[0] > max_age:
            return None
        return json.loads(json.dumps(entry[1]))  # what a database would give back

    def put(self, key: str, value: Any, *, now: dt.datetime) -> None:
        self.puts += 1
        self.entries[key] = (now, json.loads(json.dumps(value)))


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def pricing(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber, list[dict]]]:
    """A stubbed ``pricing`` client, its stubber, and the requests it was sent."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    client = boto3.client("pricing", region_name="us-east-1")
    sent: list[dict] = []
    client.meta.events.register(
        "before-parameter-build.pricing.GetProducts",
        lambda params, **_: sent.append(dict(params)),
    )
    with Stubber(client) as stubber:
        yield client, stubber, sent
        stubber.assert_no_pending_responses()  # every queued answer was asked for


IRELAND_M5_LARGE = build_get_products_request("m5.large", region="eu-west-1")


# --- The shipped snapshot -----------------------------------------------------------------------


def test_the_snapshot_says_its_date_region_system_currency_and_source() -> None:
    snapshot = load_snapshot()

    assert snapshot.snapshot_date == dt.date(2026, 6, 1) == PRICE_SNAPSHOT_DATE
    assert (snapshot.region, snapshot.operating_system, snapshot.currency) == (
        "us-east-1",
        "Linux",
        "USD",
    )
    assert "Price List" in snapshot.source


def test_the_snapshot_prices_every_type_of_the_demo_fleet_as_the_demo_does() -> None:
    for instance_type, price in PRICES.items():
        assert SHIPPED_SNAPSHOT.prices[instance_type] == price, instance_type


@pytest.mark.parametrize(
    ("instance_type", "price"),
    [
        ("c5.large", "0.085"),
        ("m5.large", "0.096"),
        ("r5.large", "0.126"),
        ("g4dn.xlarge", "0.526"),
        ("p3.2xlarge", "3.06"),
    ],
)
def test_the_snapshot_agrees_with_the_documented_list_prices(
    instance_type: str, price: str
) -> None:
    assert SHIPPED_SNAPSHOT.prices[instance_type] == Decimal(price)


@pytest.mark.parametrize("family", ["c5", "m5", "r5", "c6i", "m6i", "r6i", "m7i", "t3"])
def test_in_c_m_r_and_t_families_each_size_step_doubles_the_price(family: str) -> None:
    steps = ["large", "xlarge", "2xlarge", "4xlarge", "8xlarge"]
    prices = [SHIPPED_SNAPSHOT.prices.get(f"{family}.{size}") for size in steps]
    known = [price for price in prices if price is not None]

    assert len(known) >= 3
    for smaller, bigger in zip(prices, prices[1:], strict=False):
        if smaller is not None and bigger is not None:
            assert bigger == 2 * smaller


def test_the_snapshot_covers_the_common_families() -> None:
    families = {name.split(".")[0] for name in SHIPPED_SNAPSHOT.prices}

    assert {
        "c5",
        "m5",
        "r5",
        "t3",
        "c6i",
        "m6i",
        "r6i",
        "m7i",
        "g4dn",
        "g5",
        "p3",
        "p4d",
    } <= families


def test_the_snapshot_ships_with_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())

    assert "data/*.json" in pyproject["tool"]["setuptools"]["package-data"]["engines"]


def test_an_unreadable_snapshot_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "prices.json"
    broken.write_text('{"snapshot_date": "June"}')

    with pytest.raises(ConfigError, match="price snapshot"):
        load_snapshot(broken)


# --- A book with the snapshot only --------------------------------------------------------------


def source_of(book: PriceBook, instance_type: str, **where: str) -> str | None:
    """Where ``book.hourly`` got its price, in words; None when there is no price."""
    quote = book.quote(instance_type, **where)
    return None if quote is None else quote.describe()


def test_without_a_pricing_client_prices_come_from_the_snapshot() -> None:
    book = PriceBook()

    assert book.hourly("m5.large", region="us-east-1") == Decimal("0.096")
    quote = book.quote("m5.large", region="us-east-1")
    assert quote is not None
    assert (quote.origin, quote.as_of) == (SNAPSHOT, dt.date(2026, 6, 1))
    assert source_of(book, "m5.large", region="us-east-1") == (
        "list price from the price snapshot, Jun 1, 2026 (us-east-1, Linux)"
    )


def test_the_snapshot_answers_only_for_its_region_and_system() -> None:
    book = PriceBook()

    assert book.hourly("m5.large", region="eu-west-1") is None
    assert book.hourly("m5.large", region="us-east-1", operating_system="Windows") is None
    assert book.hourly("z9.huge", region="us-east-1") is None
    assert source_of(book, "z9.huge", region="us-east-1") is None


def test_a_book_without_a_snapshot_knows_nothing_alone() -> None:
    assert PriceBook(snapshot=None).hourly("m5.large", region="us-east-1") is None


# --- The Pricing API ----------------------------------------------------------------------------


def test_the_request_names_one_on_demand_linux_product() -> None:
    assert IRELAND_M5_LARGE == {
        "ServiceCode": "AmazonEC2",
        "FormatVersion": "aws_v1",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"},
            {"Type": "TERM_MATCH", "Field": "location", "Value": "EU (Ireland)"},
            {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
            {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
            {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
            {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        ],
    }


def test_a_region_without_a_location_name_is_asked_by_region_code() -> None:
    request = build_get_products_request("m5.large", region="xx-new-1")

    assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "xx-new-1"} in request["Filters"]
    assert REGION_LOCATIONS["us-east-1"] == "US East (N. Virginia)"


def test_the_api_price_is_parsed_as_a_decimal_and_says_where_it_came_from(
    pricing: tuple[Any, Stubber, list[dict]],
) -> None:
    client, stubber, _ = pricing
    stubber.add_response("get_products", answer(product("m5.large", "0.107")), IRELAND_M5_LARGE)
    book = PriceBook(pricing_client=client, now=Clock())

    assert book.hourly("m5.large", region="eu-west-1") == Decimal("0.107")
    assert source_of(book, "m5.large", region="eu-west-1") == (
        "list price from the AWS Price List API, Nov 20, 2026"
    )
    quote = book.quote("m5.large", region="eu-west-1")
    assert quote is not None and quote.origin == PRICING_API
    stubber.assert_no_pending_responses()


def test_the_api_wins_over_the_snapshot_and_windows_can_be_asked(
    pricing: tuple[Any, Stubber, list[dict]],
) -> None:
    client, stubber, sent = pricing
    windows = build_get_products_request("m5.large", region="us-east-1", operating_system="Windows")
    virginia = {"location": "US East (N. Virginia)", "region": "us-east-1"}
    stubber.add_response(
        "get_products",
        answer(product("m5.large", "0.188", operating_system="Windows", **virginia)),
        windows,
    )

    book = PriceBook(pricing_client=client)

    assert book.hourly("m5.large", region="us-east-1", operating_system="Windows") == Decimal(
        "0.188"
    )
    assert source_of(book, "m5.large", region="us-east-1", operating_system="Windows") == (
        "list price from the AWS Price List API"  # no clock: no date
    )
    assert len(sent) == 1


def test_every_page_of_the_answer_is_read(pricing: tuple[Any, Stubber, list[dict]]) -> None:
    client, stubber, sent = pricing
    stubber.add_response(
        "get_products",
        answer(product("m5.large", "0.107", license_model="Bring your own license"))
        | {"NextToken": "page-2"},
        IRELAND_M5_LARGE,
    )
    stubber.add_response(
        "get_products",
        answer(product("m5.large", "0.107")),
        IRELAND_M5_LARGE | {"NextToken": "page-2"},
    )

    assert PriceBook(pricing_client=client).hourly("m5.large", region="eu-west-1") == Decimal(
        "0.107"
    )
    assert len(sent) == 2


def test_the_book_asks_the_api_once_per_type(pricing: tuple[Any, Stubber, list[dict]]) -> None:
    client, stubber, sent = pricing
    stubber.add_response("get_products", answer(product("m5.large", "0.107")), IRELAND_M5_LARGE)
    book = PriceBook(pricing_client=client)

    for _ in range(3):
        assert book.hourly("m5.large", region="eu-west-1") == Decimal("0.107")
    assert len(sent) == 1


def test_no_such_product_falls_back_to_the_snapshot(
    pricing: tuple[Any, Stubber, list[dict]],
) -> None:
    client, stubber, _ = pricing
    stubber.add_response(
        "get_products", answer(), build_get_products_request("m5.large", region="us-east-1")
    )

    book = PriceBook(pricing_client=client)

    assert book.hourly("m5.large", region="us-east-1") == Decimal("0.096")
    assert "price snapshot" in (source_of(book, "m5.large", region="us-east-1") or "")
    assert book.api_error == ""  # the API answered: it just has no such product


def test_a_refused_api_falls_back_to_the_snapshot_and_is_not_asked_again(
    pricing: tuple[Any, Stubber, list[dict]],
) -> None:
    client, stubber, sent = pricing
    stubber.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: pricing:GetProducts",
        http_status_code=400,
    )
    book = PriceBook(pricing_client=client, now=Clock())

    assert book.hourly("m5.large", region="us-east-1") == Decimal("0.096")
    assert book.hourly("c5.large", region="us-east-1") == Decimal("0.085")
    assert book.hourly("m5.large", region="eu-west-1") is None
    assert len(sent) == 1
    assert book.api_error.startswith("AccessDeniedException")


# --- The cache ----------------------------------------------------------------------------------


def test_a_fresh_cached_answer_is_used_instead_of_the_api(
    pricing: tuple[Any, Stubber, list[dict]],
) -> None:
    client, stubber, sent = pricing
    stubber.add_response("get_products", answer(product("m5.large", "0.107")), IRELAND_M5_LARGE)
    cache = MemoryCache()
    clock = Clock()

    first = PriceBook(pricing_client=client, cache=cache, now=clock)
    assert first.hourly("m5.large", region="eu-west-1") == Decimal("0.107")
    clock.now = NOW + dt.timedelta(days=6)
    second = PriceBook(pricing_client=client, cache=cache, now=clock)

    assert second.hourly("m5.large", region="eu-west-1") == Decimal("0.107")
    assert source_of(second, "m5.large", region="eu-west-1") == (
        "list price from the AWS Price List API, Nov 20, 2026"  # the day it was asked
    )
    assert len(sent) == 1
    assert cache.puts == 1


def test_a_stale_cached_answer_is_asked_again(pricing: tuple[Any, Stubber, list[dict]]) -> None:
    client, stubber, sent = pricing
    for price in ("0.107", "0.109"):
        stubber.add_response("get_products", answer(product("m5.large", price)), IRELAND_M5_LARGE)
    cache = MemoryCache()
    clock = Clock()
    PriceBook(pricing_client=client, cache=cache, now=clock).hourly("m5.large", region="eu-west-1")

    clock.now = NOW + dt.timedelta(days=8)
    later = PriceBook(pricing_client=client, cache=cache, now=clock)

    assert later.hourly("m5.large", region="eu-west-1") == Decimal("0.109")
    assert len(sent) == 2


def test_no_such_product_is_remembered_too(pricing: tuple[Any, Stubber, list[dict]]) -> None:
    client, stubber, sent = pricing
    stubber.add_response(
        "get_products", answer(), build_get_products_request("z9.huge", region="eu-west-1")
    )
    cache = MemoryCache()

    for _ in range(2):
        book = PriceBook(pricing_client=client, cache=cache, now=Clock())
        assert book.hourly("z9.huge", region="eu-west-1") is None
    assert len(sent) == 1


def test_the_database_cache_survives_a_restart(
    pricing: tuple[Any, Stubber, list[dict]], tmp_path: Path
) -> None:
    client, stubber, sent = pricing
    stubber.add_response("get_products", answer(product("m5.large", "0.107")), IRELAND_M5_LARGE)
    path = tmp_path / "costbot.db"
    first = PriceBook(pricing_client=client, cache=StoreResponseCache(Store(path)), now=Clock())
    assert first.hourly("m5.large", region="eu-west-1") == Decimal("0.107")

    restarted = PriceBook(pricing_client=client, cache=StoreResponseCache(Store(path)), now=Clock())

    assert restarted.hourly("m5.large", region="eu-west-1") == Decimal("0.107")
    assert len(sent) == 1


def test_a_cache_needs_a_clock() -> None:
    with pytest.raises(ValueError, match="needs a clock"):
        PriceBook(cache=MemoryCache())


# --- Parsing and names --------------------------------------------------------------------------


def test_byol_and_capacity_block_products_are_skipped() -> None:
    price_list = [
        product("m5.large", "0.020", license_model="Bring your own license"),
        product("m5.large", "0.500", market="CapacityBlock"),
        product("m5.large", "0.107"),
    ]

    assert parse_price_list(price_list) == Decimal("0.107")


def test_no_on_demand_price_is_none() -> None:
    assert parse_price_list([]) is None
    assert parse_price_list([product("m5.large", "0")]) is None


@pytest.mark.parametrize(
    ("platform", "operating_system"),
    [
        ("Linux/UNIX", "Linux"),
        ("Windows", "Windows"),
        ("Red Hat Enterprise Linux", "RHEL"),
        ("SUSE Linux", "SUSE"),
        ("Windows with SQL Server Standard", None),
    ],
)
def test_platforms_map_to_pricing_operating_systems(
    platform: str, operating_system: str | None
) -> None:
    assert operating_system_of(platform) == operating_system

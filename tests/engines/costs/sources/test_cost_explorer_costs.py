"""Cost Explorer ``costs(query)``: every grouping's request, its answer's keys, and the cache.

Stubber checks the exact request for each grouping (an unexpected or extra request fails the
test, so Stubber also counts requests); moto, behind a counting wrapper, answers the caching
questions the way a real endpoint would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto import mock_aws

from bot.store import Store, StoreResponseCache
from engines.costs.query import CostGroup, CostQuery, Dimension
from engines.costs.sources.base import CostFilter
from engines.costs.sources.cost_explorer import CostExplorerSource, tag_value
from engines.errors import CostSourceError
from engines.models import Metric, Period

OCTOBER = Period(date(2026, 10, 1), date(2026, 11, 1), "October 2026")
NLP = CostFilter(tags={"team": "nlp"})
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
OCTOBER_TIME = {"Start": "2026-10-01", "End": "2026-11-01"}
NLP_FILTER = {"Tags": {"Key": "team", "Values": ["nlp"], "MatchOptions": ["EQUALS"]}}
EMPTY_ANSWER: dict[str, Any] = {"ResultsByTime": [], "DimensionValueAttributes": []}


def by(*words: str) -> tuple[Dimension, ...]:
    return tuple(Dimension.parse(word) for word in words)


def query(*words: str, period: Period = OCTOBER, **kwargs: Any) -> CostQuery:
    return CostQuery(period=period, cost_filter=kwargs.pop("cost_filter", NLP), group_by=by(*words))


def group(keys: list[str], amount: str, unit: str = "USD", metric: str = "UnblendedCost") -> dict:
    return {"Keys": keys, "Metrics": {metric: {"Amount": amount, "Unit": unit}}}


def result(start: str, end: str, *groups: dict, total: dict | None = None) -> dict:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Total": total or {},
        "Groups": list(groups),
        "Estimated": False,
    }


def answer(*results: dict, token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"ResultsByTime": list(results), "DimensionValueAttributes": []}
    if token:
        page["NextPageToken"] = token
    return page


class DictCache:
    """An in-memory ``ResponseCache``; values go through JSON, as in the database."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, datetime]] = {}

    def get(self, key: str, *, max_age: timedelta, now: datetime) -> Any | None:
        entry = self.entries.get(key)
        if entry is None or entry[1] < now - max_age:
            return None
        return json.loads(entry[0])

    def put(self, key: str, value: Any, *, now: datetime) -> None:
        self.entries[key] = (json.dumps(value), now)


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Counting:
    """Wraps a boto3 client and counts the Cost Explorer requests made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_cost_and_usage(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("get_cost_and_usage", request))
        response: dict[str, Any] = self.client.get_cost_and_usage(**request)
        return response


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="t"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


# --- the request for each grouping ----------------------------------------------------------


def monthly(group_by: list[dict[str, str]] | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": OCTOBER_TIME,
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": NLP_FILTER,
    }
    if group_by is not None:
        request["GroupBy"] = group_by
    return request


def dimension(key: str) -> dict[str, str]:
    return {"Type": "DIMENSION", "Key": key}


GROUPINGS = [
    (("service",), monthly([dimension("SERVICE")])),
    (("account",), monthly([dimension("LINKED_ACCOUNT")])),
    (("region",), monthly([dimension("REGION")])),
    (("charge_category",), monthly([dimension("RECORD_TYPE")])),
    (("tag:team",), monthly([{"Type": "TAG", "Key": "team"}])),
    (
        ("service", "tag:cost-center"),
        monthly([dimension("SERVICE"), {"Type": "TAG", "Key": "cost-center"}]),
    ),
    (("account", "region"), monthly([dimension("LINKED_ACCOUNT"), dimension("REGION")])),
    ((), monthly(None)),
    (("day",), {**monthly(None), "Granularity": "DAILY"}),
    (
        ("day", "service", "account"),
        {
            **monthly([dimension("SERVICE"), dimension("LINKED_ACCOUNT")]),
            "Granularity": "DAILY",
        },
    ),
]


@pytest.mark.parametrize(
    ("words", "expected"), GROUPINGS, ids=["+".join(words) or "total" for words, _ in GROUPINGS]
)
def test_each_grouping_asks_for_its_request(
    stubbed: tuple[Any, Stubber], words: tuple[str, ...], expected: dict[str, Any]
) -> None:
    client, stubber = stubbed
    stubber.add_response("get_cost_and_usage", EMPTY_ANSWER, expected)

    assert CostExplorerSource(client).costs(query(*words)).groups == ()


def test_a_resource_id_filter_is_refused_in_words(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed  # no request is made
    endpoints = CostFilter(resource_contains=":endpoint/")
    with pytest.raises(CostSourceError, match="Cost Explorer cannot pick lines by a pattern"):
        CostExplorerSource(client).costs(CostQuery(OCTOBER, Metric.BILLED, endpoints, by("region")))


def test_effective_cost_asks_for_net_amortized(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expected = {**monthly([dimension("REGION")]), "Metrics": ["NetAmortizedCost"]}
    stubber.add_response("get_cost_and_usage", EMPTY_ANSWER, expected)

    CostExplorerSource(client).costs(
        CostQuery(OCTOBER, Metric.EFFECTIVE, NLP, group_by=by("region"))
    )


def test_resources_ask_the_with_resources_api_for_ec2_compute_by_day(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    last_week = Period(date(2026, 11, 13), date(2026, 11, 20), "last 7d")
    expected = {
        "TimePeriod": {"Start": "2026-11-13", "End": "2026-11-20"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [dimension("RESOURCE_ID")],
        "Filter": {
            "And": [
                NLP_FILTER,
                {
                    "Dimensions": {
                        "Key": "SERVICE",
                        "Values": ["Amazon Elastic Compute Cloud - Compute"],
                    }
                },
            ]
        },
    }
    stubber.add_response(
        "get_cost_and_usage_with_resources",
        answer(
            result(
                "2026-11-13",
                "2026-11-14",
                group(["i-0abc"], "2.40"),
                group(["NoResourceId"], "0.5"),
            ),
            result("2026-11-14", "2026-11-15", group(["i-0abc"], "2.60")),
        ),
        expected,
    )

    costs = CostExplorerSource(client, now=Clock()).costs(query("resource", period=last_week))

    assert costs.groups == (
        CostGroup(("i-0abc",), "USD", Decimal("5.00")),
        CostGroup(("",), "USD", Decimal("0.5")),
    )


def test_resources_without_a_filter_still_filter_to_ec2_compute(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    expected_filter = {
        "Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}
    }
    stubber.add_response(
        "get_cost_and_usage_with_resources",
        EMPTY_ANSWER,
        {
            "TimePeriod": {"Start": "2026-11-19", "End": "2026-11-20"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [dimension("SERVICE"), dimension("RESOURCE_ID")],
            "Filter": expected_filter,
        },
    )
    yesterday = Period(date(2026, 11, 19), date(2026, 11, 20))

    source = CostExplorerSource(client, now=Clock())
    source.costs(query("service", "resource", period=yesterday, cost_filter=CostFilter()))


def test_resources_older_than_14_days_are_refused_without_asking(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, _ = stubbed  # nothing queued: a request would fail the test

    with pytest.raises(CostSourceError) as caught:
        CostExplorerSource(client, now=Clock()).costs(query("resource"))

    assert str(caught.value) == (
        "Cost Explorer keeps resource-level costs only for the last 14 days (since Nov 6, "
        "2026), and Oct 1 – Oct 31, 2026 (October 2026) starts before that: ask about a more "
        "recent period, or group by service instead."
    )


def test_resources_14_days_back_are_still_asked(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_cost_and_usage_with_resources", EMPTY_ANSWER)
    fortnight = Period(date(2026, 11, 6), date(2026, 11, 20))

    CostExplorerSource(client, now=Clock()).costs(query("resource", period=fortnight))


def test_aws_refusing_resource_data_says_how_to_turn_it_on(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "get_cost_and_usage_with_resources",
        service_error_code="ValidationException",
        service_message="Start date is more than 14 days ago",
    )

    with pytest.raises(CostSourceError) as caught:
        CostExplorerSource(client).costs(query("resource"))  # no clock: AWS decides

    message = str(caught.value)
    assert message.startswith("Could not get resource costs from Cost Explorer: ")
    assert "resource-level data at daily granularity' turned on" in message
    assert "last 14 days" in message
    assert "(ValidationException: Start date is more than 14 days ago)" in message


def test_access_denied_names_the_iam_action_of_the_api_used(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "get_cost_and_usage_with_resources", service_error_code="AccessDeniedException"
    )

    with pytest.raises(CostSourceError, match="needs ce:GetCostAndUsageWithResources"):
        CostExplorerSource(client).costs(query("resource"))


def test_three_groupings_are_refused_without_asking(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed

    with pytest.raises(CostSourceError) as caught:
        CostExplorerSource(client).costs(query("service", "account", "tag:team"))

    assert str(caught.value) == (
        "Cost Explorer can group by at most 2 things at once (besides day), and this asks "
        "for 3: service, account, tag:team. Drop one, or use a FOCUS export."
    )


def test_list_cost_is_refused_without_asking(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed

    with pytest.raises(CostSourceError, match="no list cost .* metric: ask for billed or eff"):
        CostExplorerSource(client).costs(CostQuery(OCTOBER, Metric.LIST, NLP))


# --- the answer's group keys ----------------------------------------------------------------


def costs_for(stubbed: tuple[Any, Stubber], words: tuple[str, ...], *pages: dict) -> Any:
    client, stubber = stubbed
    for page in pages:
        stubber.add_response("get_cost_and_usage", page)
    return CostExplorerSource(client).costs(query(*words)).groups


def test_tag_keys_lose_their_prefix_and_untagged_is_empty(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(
        stubbed,
        ("tag:team",),
        answer(
            result(
                "2026-10-01",
                "2026-11-01",
                group(["team$fraud-detection"], "310.25"),
                group(["team$"], "42.10"),
                group(["team$a$b"], "1"),
            )
        ),
    )

    assert groups == (
        CostGroup(("fraud-detection",), "USD", Decimal("310.25")),
        CostGroup(("",), "USD", Decimal("42.10")),
        CostGroup(("a$b",), "USD", Decimal("1")),
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [("team$nlp", "nlp"), ("team$", ""), ("team$x$y", "x$y"), ("bare", "bare")],
)
def test_tag_value(raw: str, value: str) -> None:
    assert tag_value(raw) == value


def test_days_are_keyed_by_their_start_date(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(
        stubbed,
        ("day",),
        answer(
            result(
                "2026-10-01",
                "2026-10-02",
                total={"UnblendedCost": {"Amount": "10.5", "Unit": "USD"}},
            ),
            result(
                "2026-10-02", "2026-10-03", total={"UnblendedCost": {"Amount": "0", "Unit": "USD"}}
            ),
            result(
                "2026-10-03", "2026-10-04", total={"UnblendedCost": {"Amount": "12", "Unit": "USD"}}
            ),
        ),
    )

    assert groups == (
        CostGroup(("2026-10-03",), "USD", Decimal("12")),
        CostGroup(("2026-10-01",), "USD", Decimal("10.5")),
    )


def test_day_takes_its_place_among_the_other_keys(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(
        stubbed,
        ("service", "day", "account"),
        answer(
            result("2026-10-01", "2026-10-02", group(["Amazon EC2", "111111111111"], "3")),
            result("2026-10-02", "2026-10-03", group(["Amazon EC2", "111111111111"], "4")),
        ),
    )

    assert groups == (
        CostGroup(("Amazon EC2", "2026-10-02", "111111111111"), "USD", Decimal("4")),
        CostGroup(("Amazon EC2", "2026-10-01", "111111111111"), "USD", Decimal("3")),
    )


def test_charge_categories_keep_credits_negative(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(
        stubbed,
        ("charge_category",),
        answer(
            result(
                "2026-10-01",
                "2026-11-01",
                group(["Usage"], "900.00"),
                group(["Tax"], "81.00"),
                group(["Credit"], "-100.00"),
                group(["Refund"], "-5.5"),
            )
        ),
    )

    assert [(g.key, g.amount) for g in groups] == [
        (("Usage",), Decimal("900.00")),
        (("Tax",), Decimal("81.00")),
        (("Refund",), Decimal("-5.5")),
        (("Credit",), Decimal("-100.00")),
    ]


def test_no_region_becomes_the_empty_key_and_currencies_stay_apart(
    stubbed: tuple[Any, Stubber],
) -> None:
    groups = costs_for(
        stubbed,
        ("region",),
        answer(
            result(
                "2026-10-01",
                "2026-11-01",
                group(["us-east-1"], "50"),
                group(["NoRegion"], "7"),
                group(["global"], "3"),
                group(["eu-west-1"], "20", unit="EUR"),
            )
        ),
    )

    assert groups == (
        CostGroup(("us-east-1",), "USD", Decimal("50")),
        CostGroup(("eu-west-1",), "EUR", Decimal("20")),
        CostGroup(("",), "USD", Decimal("7")),
        CostGroup(("global",), "USD", Decimal("3")),
    )


def test_no_grouping_is_one_total_per_currency(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(
        stubbed,
        (),
        answer(
            result(
                "2026-09-15",
                "2026-10-01",
                total={"UnblendedCost": {"Amount": "1.25", "Unit": "USD"}},
            ),
            result(
                "2026-10-01",
                "2026-11-01",
                total={"UnblendedCost": {"Amount": "2.5", "Unit": "USD"}},
            ),
        ),
    )

    assert groups == (CostGroup((), "USD", Decimal("3.75")),)


def test_pages_are_followed_and_summed(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    first = monthly([dimension("LINKED_ACCOUNT")])
    stubber.add_response(
        "get_cost_and_usage",
        answer(result("2026-10-01", "2026-11-01", group(["111111111111"], "10.10")), token="p2"),
        first,
    )
    stubber.add_response(
        "get_cost_and_usage",
        answer(
            result(
                "2026-10-01",
                "2026-11-01",
                group(["111111111111"], "0.01"),
                group(["222222222222"], "4"),
            )
        ),
        {**first, "NextPageToken": "p2"},
    )

    groups = CostExplorerSource(client).costs(query("account")).groups

    assert groups == (
        CostGroup(("111111111111",), "USD", Decimal("10.11")),
        CostGroup(("222222222222",), "USD", Decimal("4")),
    )


def test_no_data_is_an_empty_result(stubbed: tuple[Any, Stubber]) -> None:
    groups = costs_for(stubbed, ("service",), answer(result("2026-10-01", "2026-11-01")))

    assert groups == ()


def test_cost_by_service_still_names_the_nameless(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "get_cost_and_usage",
        answer(result("2026-10-01", "2026-11-01", group([""], "3"), group(["Amazon S3"], "3"))),
    )

    breakdown = CostExplorerSource(client).cost_by_service(
        period=OCTOBER, cost_filter=NLP, metric=Metric.BILLED
    )

    assert [line.service for line in breakdown.lines] == ["(no service)", "Amazon S3"]


# --- caching --------------------------------------------------------------------------------


@pytest.fixture
def moto_ce(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counting]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield Counting(boto3.client("ce", region_name="us-east-1"))


def inject(*results: dict) -> None:
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
        json={"results": list(results)},
        timeout=5,
    )
    assert response.status_code == 201


def test_identical_questions_within_the_window_cost_one_request(moto_ce: Counting) -> None:
    inject(answer(result("2026-10-01", "2026-11-01", group(["team$nlp"], "99.5"))))
    clock = Clock()
    source = CostExplorerSource(moto_ce, cache=DictCache(), now=clock)

    answers = []
    for minutes in range(5):
        clock.at = NOW + timedelta(minutes=minutes * 70)  # the last one 4h40 later
        answers.append(source.costs(query("tag:team")))

    assert len(moto_ce.calls) == 1
    assert {a.groups for a in answers} == {(CostGroup(("nlp",), "USD", Decimal("99.5")),)}


def test_after_the_window_the_question_is_asked_again(moto_ce: Counting) -> None:
    clock = Clock()
    source = CostExplorerSource(moto_ce, cache=DictCache(), freshness=timedelta(hours=6), now=clock)
    source.costs(query("service"))

    clock.at = NOW + timedelta(hours=6)
    source.costs(query("service"))
    assert len(moto_ce.calls) == 1

    clock.at = NOW + timedelta(hours=6, seconds=1)
    source.costs(query("service"))
    source.costs(query("service"))
    assert len(moto_ce.calls) == 2


def test_a_different_question_is_a_new_request(moto_ce: Counting) -> None:
    source = CostExplorerSource(moto_ce, cache=DictCache(), now=Clock())

    source.costs(query("service"))
    source.costs(query("account"))
    source.costs(query("service", cost_filter=CostFilter(tags={"team": "cv"})))
    source.costs(CostQuery(OCTOBER, Metric.EFFECTIVE, NLP))
    source.costs(query("service", period=Period(date(2026, 9, 1), date(2026, 10, 1))))
    source.costs(query("service"))

    assert len(moto_ce.calls) == 5


def test_every_page_is_cached_as_one_merged_answer(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "get_cost_and_usage",
        answer(result("2026-10-01", "2026-11-01", group(["Amazon EC2"], "1")), token="p2"),
    )
    stubber.add_response(
        "get_cost_and_usage", answer(result("2026-10-01", "2026-11-01", group(["Amazon EC2"], "2")))
    )
    cache = DictCache()
    source = CostExplorerSource(client, cache=cache, now=Clock())

    first = source.costs(query("service"))
    again = source.costs(query("service"))  # nothing left queued: no request

    assert first == again
    assert again.totals() == {"USD": Decimal("3")}
    ((key, (value, _)),) = cache.entries.items()
    assert json.loads(key.removeprefix("ce:")) == {
        "method": "get_cost_and_usage",
        "request": monthly([dimension("SERVICE")]),
    }
    assert len(json.loads(value)["ResultsByTime"]) == 2


def test_errors_are_not_cached(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_cost_and_usage", service_error_code="LimitExceededException")
    stubber.add_response("get_cost_and_usage", EMPTY_ANSWER)
    source = CostExplorerSource(client, cache=DictCache(), now=Clock())

    with pytest.raises(CostSourceError, match="throttling requests"):
        source.costs(query("service"))
    assert source.costs(query("service")).groups == ()


def test_the_database_cache_survives_a_new_store(
    stubbed: tuple[Any, Stubber], tmp_path: Path
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "get_cost_and_usage",
        answer(result("2026-10-01", "2026-11-01", group(["Amazon EC2"], "1234.5678901234"))),
    )
    path = tmp_path / "x.db"
    first = CostExplorerSource(client, cache=StoreResponseCache(Store(path)), now=Clock())
    asked = first.costs(query("service"))

    later = Clock(NOW + timedelta(hours=2))
    restarted = CostExplorerSource(client, cache=StoreResponseCache(Store(path)), now=later)

    assert restarted.costs(query("service")) == asked  # nothing queued: answered from disk
    assert asked.groups == (CostGroup(("Amazon EC2",), "USD", Decimal("1234.5678901234")),)


def test_a_cache_needs_a_clock() -> None:
    with pytest.raises(ValueError, match="needs a clock"):
        CostExplorerSource(object(), cache=DictCache())

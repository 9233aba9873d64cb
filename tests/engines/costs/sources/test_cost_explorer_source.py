"""Cost Explorer source: against moto's Cost Explorer with injected results, and Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto import mock_aws
from moto.ce.models import ce_backends
from moto.core import DEFAULT_ACCOUNT_ID

from engines.costs.sources.base import CostFilter
from engines.costs.sources.cost_explorer import CostExplorerSource
from engines.errors import CostSourceError
from engines.models import CostLine, Metric, Period

OCTOBER = Period(date(2026, 10, 1), date(2026, 11, 1), "October 2026")
NLP = CostFilter(tags={"team": "nlp"})


def group(service: str, amount: str, metric: str = "UnblendedCost", unit: str = "USD") -> dict:
    return {"Keys": [service], "Metrics": {metric: {"Amount": amount, "Unit": unit}}}


def month(start: str, end: str, *groups: dict) -> dict:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Total": {},
        "Groups": list(groups),
        "Estimated": False,
    }


def inject(*results: dict) -> None:
    """Queue answers in moto: each new distinct request takes the next one."""
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
        json={"results": list(results)},
        timeout=5,
    )
    assert response.status_code == 201


def requests_moto_saw() -> list[dict[str, Any]]:
    """The request bodies moto's Cost Explorer answered, in order."""
    backend = ce_backends[DEFAULT_ACCOUNT_ID]["global"]
    return [json.loads(body) for body in backend.cost_usage_results]


@pytest.fixture
def ce_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("ce", region_name="us-east-1")


def costs(client: Any, cost_filter: CostFilter = NLP, metric: Metric = Metric.BILLED) -> Any:
    return CostExplorerSource(client).cost_by_service(
        period=OCTOBER, cost_filter=cost_filter, metric=metric
    )


# --- against moto ---------------------------------------------------------------------------


def test_groups_become_lines_sorted_by_amount(ce_client: Any) -> None:
    inject(
        {
            "ResultsByTime": [
                month(
                    "2026-10-01",
                    "2026-11-01",
                    group("Amazon Simple Storage Service", "12.5"),
                    group("Amazon Elastic Compute Cloud - Compute", "1234.5678901234"),
                    group("Tax", "3.10"),
                )
            ]
        }
    )

    breakdown = costs(ce_client)

    assert breakdown.lines == (
        CostLine("Amazon Elastic Compute Cloud - Compute", "USD", Decimal("1234.5678901234")),
        CostLine("Amazon Simple Storage Service", "USD", Decimal("12.5")),
        CostLine("Tax", "USD", Decimal("3.10")),
    )
    assert breakdown.source == "ce"
    assert breakdown.period == OCTOBER
    assert breakdown.metric is Metric.BILLED


def test_pages_are_followed_and_months_summed(ce_client: Any) -> None:
    inject(
        {
            "ResultsByTime": [
                month("2026-09-15", "2026-10-01", group("Amazon EC2", "10.10")),
                month("2026-10-01", "2026-10-15", group("Amazon EC2", "0.01")),
            ],
            "NextPageToken": "page-2",
        },
        {
            "ResultsByTime": [
                month(
                    "2026-10-01", "2026-10-15", group("Amazon EC2", "5.5"), group("Amazon S3", "2")
                ),
                month("2026-10-01", "2026-10-15", group("AWS Marketplace", "7", unit="EUR")),
            ],
        },
    )

    breakdown = costs(ce_client)

    assert breakdown.lines == (
        CostLine("Amazon EC2", "USD", Decimal("15.61")),
        CostLine("AWS Marketplace", "EUR", Decimal("7")),
        CostLine("Amazon S3", "USD", Decimal("2")),
    )
    first, second = requests_moto_saw()
    assert "NextPageToken" not in first
    assert second == {**first, "NextPageToken": "page-2"}


def test_an_account_with_no_data_is_an_empty_breakdown(ce_client: Any) -> None:
    breakdown = costs(ce_client, CostFilter(accounts=("012345678901",)))

    assert breakdown.lines == ()
    assert breakdown.totals() == {}


def test_the_request_moto_saw_for_a_tag_filter(ce_client: Any) -> None:
    inject({"ResultsByTime": []})  # moto records the request that takes a queued answer

    costs(ce_client, NLP)

    (request,) = requests_moto_saw()
    assert request == {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Tags": {"Key": "team", "Values": ["nlp"], "MatchOptions": ["EQUALS"]}},
    }


def test_effective_cost_asks_for_net_amortized(ce_client: Any) -> None:
    inject(
        {
            "ResultsByTime": [
                month("2026-10-01", "2026-11-01", group("Amazon EC2", "9.99", "NetAmortizedCost"))
            ]
        }
    )

    breakdown = costs(ce_client, metric=Metric.EFFECTIVE)

    assert breakdown.lines == (CostLine("Amazon EC2", "USD", Decimal("9.99")),)
    assert requests_moto_saw()[0]["Metrics"] == ["NetAmortizedCost"]


# --- the exact request, with Stubber --------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "ce",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


EMPTY_ANSWER: dict[str, Any] = {"ResultsByTime": [], "DimensionValueAttributes": []}


def test_two_tags_and_accounts_are_combined_with_and(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expected_request = {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {
            "And": [
                {"Tags": {"Key": "team", "Values": ["nlp"], "MatchOptions": ["EQUALS"]}},
                {"Tags": {"Key": "env", "Values": ["prod"], "MatchOptions": ["EQUALS"]}},
                {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["012345678901"]}},
            ]
        },
    }
    stubber.add_response("get_cost_and_usage", EMPTY_ANSWER, expected_request)
    cost_filter = CostFilter(tags={"team": "nlp", "env": "prod"}, accounts=("012345678901",))

    assert costs(client, cost_filter).lines == ()


def test_no_filter_is_sent_for_everything(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expected_request = {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    stubber.add_response("get_cost_and_usage", EMPTY_ANSWER, expected_request)

    costs(client, CostFilter())


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("AccessDeniedException", "needs ce:GetCostAndUsage"),
        ("LimitExceededException", "throttling requests: wait a minute"),
        ("DataUnavailableException", "has no data for this period yet"),
        ("SomethingNewException", "AWS returned an error (SomethingNewException: boom)"),
    ],
)
def test_aws_errors_become_readable_cost_source_errors(
    stubbed: tuple[Any, Stubber], code: str, says: str
) -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_cost_and_usage", service_error_code=code, service_message="boom")

    with pytest.raises(CostSourceError) as caught:
        costs(client)

    message = str(caught.value)
    assert message.startswith("Could not get costs from Cost Explorer: ")
    assert says in message
    assert code in message
    assert "Traceback" not in message
    assert caught.value.__cause__ is None


def test_list_cost_is_refused_without_asking_aws(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed

    with pytest.raises(CostSourceError, match="Cost Explorer has no list cost"):
        costs(client, metric=Metric.LIST)


def test_a_repeated_page_token_does_not_loop_forever(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    page = {
        "ResultsByTime": [month("2026-10-01", "2026-11-01", group("Amazon EC2", "1"))],
        "NextPageToken": "same",
    }
    stubber.add_response("get_cost_and_usage", page)
    stubber.add_response("get_cost_and_usage", page)

    assert costs(client).totals() == {"USD": Decimal("2")}

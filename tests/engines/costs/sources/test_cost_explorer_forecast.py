"""Cost Explorer ``forecast``: the request, the answer, the errors and the cache.

moto has no ``GetCostForecast``, so botocore's Stubber plays Cost Explorer with answers
shaped like real ones (and fails the test on any request not queued).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from engines.costs.forecast_models import Forecast
from engines.costs.sources.base import CostFilter
from engines.costs.sources.cost_explorer import CostExplorerSource, forecast_period
from engines.errors import CostSourceError
from engines.models import Metric, Period

TODAY = date(2026, 10, 17)
NOW = datetime(2026, 10, 17, 8, 0, tzinfo=UTC)
NLP = CostFilter(tags={"team": "nlp"}, accounts=("012345678901",))
NLP_FILTER = {
    "And": [
        {"Tags": {"Key": "team", "Values": ["nlp"], "MatchOptions": ["EQUALS"]}},
        {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["012345678901"]}},
    ]
}


def ce_answer(
    start: str = "2026-10-17",
    end: str = "2026-11-01",
    mean: str = "4215.3391170213",
    bounds: tuple[str, str] | None = ("3883.6470523041", "4547.0311817385"),
) -> dict[str, Any]:
    month: dict[str, Any] = {"TimePeriod": {"Start": start, "End": end}, "MeanValue": mean}
    if bounds:
        month["PredictionIntervalLowerBound"], month["PredictionIntervalUpperBound"] = bounds
    return {"Total": {"Amount": mean, "Unit": "USD"}, "ForecastResultsByTime": [month]}


def expected_request(
    start: str = "2026-10-17", end: str = "2026-11-01", metric: str = "UNBLENDED_COST"
) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Metric": metric,
        "Granularity": "MONTHLY",
        "PredictionIntervalLevel": 80,
        "Filter": NLP_FILTER,
    }


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


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "ce", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="t"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def forecast(client: Any, metric: Metric = Metric.BILLED, today: date = TODAY) -> Forecast:
    return CostExplorerSource(client).forecast(cost_filter=NLP, metric=metric, today=today)


def test_forecast_to_the_month_end_with_an_80_percent_interval(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    stubber.add_response("get_cost_forecast", ce_answer(), expected_request())

    assert forecast(client) == Forecast(
        period=Period(date(2026, 10, 17), date(2026, 11, 1), "rest of October 2026"),
        metric=Metric.BILLED,
        currency="USD",
        amount=Decimal("4215.3391170213"),
        lower=Decimal("3883.6470523041"),
        upper=Decimal("4547.0311817385"),
        method="AWS Cost Explorer forecast (80% prediction interval)",
    )


def test_effective_cost_forecasts_net_amortized(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "get_cost_forecast", ce_answer(), expected_request(metric="NET_AMORTIZED_COST")
    )

    assert forecast(client, Metric.EFFECTIVE).metric is Metric.EFFECTIVE


def test_no_filter_is_sent_for_everything(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    request = expected_request()
    del request["Filter"]
    stubber.add_response("get_cost_forecast", ce_answer(), request)

    CostExplorerSource(client).forecast(cost_filter=CostFilter(), metric=Metric.BILLED, today=TODAY)


@pytest.mark.parametrize(
    ("today", "end"),
    [
        (date(2026, 10, 31), "2026-11-01"),
        (date(2026, 12, 31), "2027-01-01"),
        (date(2027, 2, 28), "2027-03-01"),
        (date(2028, 2, 28), "2028-03-01"),
    ],
)
def test_the_last_days_of_a_month_forecast_up_to_the_next_first(
    stubbed: tuple[Any, Stubber], today: date, end: str
) -> None:
    client, stubber = stubbed
    start = today.isoformat()
    stubber.add_response(
        "get_cost_forecast", ce_answer(start, end, "140.5"), expected_request(start, end)
    )

    result = forecast(client, today=today)

    assert result.period.start == today
    assert result.period.end.isoformat() == end
    assert result.amount == Decimal("140.5")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_the_forecast_period_is_the_rest_of_the_month(today: date) -> None:
    period = forecast_period(today)

    assert period.start == today
    assert period.end.day == 1
    assert (period.end - timedelta(days=1)).month == today.month
    assert 1 <= period.days <= 31


def test_without_bounds_there_is_no_interval(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_cost_forecast", ce_answer(bounds=None))

    result = forecast(client)

    assert (result.amount, result.lower, result.upper) == (Decimal("4215.3391170213"), None, None)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("DataUnavailableException", "cannot forecast this yet: it needs more cost history"),
        ("AccessDeniedException", "needs ce:GetCostForecast"),
        ("LimitExceededException", "throttling requests: wait a minute"),
    ],
)
def test_aws_errors_become_readable(stubbed: tuple[Any, Stubber], code: str, says: str) -> None:
    client, stubber = stubbed
    stubber.add_client_error("get_cost_forecast", service_error_code=code, service_message="x")

    with pytest.raises(CostSourceError) as caught:
        forecast(client)

    message = str(caught.value)
    assert message.startswith("Could not get a forecast from Cost Explorer: ")
    assert says in message
    assert f"({code}: x)" in message
    assert caught.value.__cause__ is None


def test_list_cost_is_refused_without_asking(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed

    with pytest.raises(CostSourceError, match="Cost Explorer has no list cost"):
        forecast(client, Metric.LIST)


def test_forecasts_are_cached_for_the_freshness_window(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_cost_forecast", ce_answer(), expected_request())
    stubber.add_response("get_cost_forecast", ce_answer(mean="4300"), expected_request())
    clock = [NOW]
    source = CostExplorerSource(client, cache=DictCache(), now=lambda: clock[0])

    def ask() -> Decimal:
        return source.forecast(cost_filter=NLP, metric=Metric.BILLED, today=TODAY).amount

    assert [ask(), ask(), ask()] == [Decimal("4215.3391170213")] * 3  # one request
    clock[0] = NOW + timedelta(hours=6, minutes=1)
    assert [ask(), ask()] == [Decimal("4300")] * 2  # the second request, then cached again

"""A cost source asking AWS Cost Explorer: costs grouped any way, and forecasts.

Each request costs $0.01 and every page counts, while Cost Explorer refreshes its data only
about three times a day. So, given a ``ResponseCache``, the source remembers each answer (all
pages merged) under its full request for ``freshness``: the same question asked again within
that window costs nothing. The boto3 ``ce`` client and the clock are passed in; this module
never builds a client, reads the environment or looks at the system clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from engines.costs.forecast_models import Forecast
from engines.costs.query import (
    SERVICE,
    UNKNOWN_KEY,
    CostGroup,
    CostQuery,
    CostResult,
    Dimension,
    DimensionKind,
)
from engines.costs.sources.base import CostFilter, ResponseCache
from engines.errors import CostSourceError
from engines.models import CostBreakdown, CostLine, Metric, Period

GET_COSTS = "get_cost_and_usage"
GET_RESOURCE_COSTS = "get_cost_and_usage_with_resources"
GET_FORECAST = "get_cost_forecast"

CE_METRICS = {
    Metric.BILLED: "UnblendedCost",
    Metric.EFFECTIVE: "NetAmortizedCost",
}
FORECAST_METRICS = {
    Metric.BILLED: "UNBLENDED_COST",
    Metric.EFFECTIVE: "NET_AMORTIZED_COST",
}
NO_SERVICE = "(no service)"
MAX_GROUP_BY = 2
"""Cost Explorer groups by at most two dimensions or tags (days come from granularity)."""
RESOURCE_DAYS = 14
"""Resource-level data covers only the last 14 days (and must be opted in)."""
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
"""``GetCostAndUsageWithResources`` requires this service in its filter."""
PREDICTION_INTERVAL = 80
FORECAST_METHOD = f"AWS Cost Explorer forecast ({PREDICTION_INTERVAL}% prediction interval)"
DEFAULT_FRESHNESS = dt.timedelta(hours=6)

_CE_DIMENSIONS = {
    DimensionKind.SERVICE: "SERVICE",
    DimensionKind.ACCOUNT: "LINKED_ACCOUNT",
    DimensionKind.REGION: "REGION",
    DimensionKind.RESOURCE: "RESOURCE_ID",
    DimensionKind.CHARGE_CATEGORY: "RECORD_TYPE",
}
# Cost Explorer's words for "no value"; every source says UNKNOWN_KEY ('') instead.
_NO_VALUE_WORDS = {"noregion", "noresourceid", "noservice", "nolinkedaccount", "norecordtype"}

_IAM_ACTIONS = {
    GET_COSTS: "ce:GetCostAndUsage",
    GET_RESOURCE_COSTS: "ce:GetCostAndUsageWithResources",
    GET_FORECAST: "ce:GetCostForecast",
}
_WHAT = {
    GET_COSTS: "costs",
    GET_RESOURCE_COSTS: "resource costs",
    GET_FORECAST: "a forecast",
}
_ERROR_ADVICE = {
    "LimitExceededException": "Cost Explorer is throttling requests: wait a minute and try again",
    "DataUnavailableException": (
        "Cost Explorer has no data for this period yet (new accounts take up to 24 hours)"
    ),
    "BillExpirationException": "that period is older than Cost Explorer keeps",
    "RequestChangedException": "the data changed while paging: try again",
    "InvalidNextTokenException": "the page token expired: try again",
    "ValidationException": "Cost Explorer rejected the request",
}
_RESOURCE_ADVICE = (
    "resource-level costs need 'resource-level data at daily granularity' turned on in Cost "
    "Explorer settings, cover only the last 14 days, and only EC2 compute"
)
_METHOD_ADVICE = {
    GET_RESOURCE_COSTS: {
        "DataUnavailableException": _RESOURCE_ADVICE,
        "ValidationException": f"Cost Explorer rejected the request: {_RESOURCE_ADVICE}",
    },
    GET_FORECAST: {
        "DataUnavailableException": (
            "Cost Explorer cannot forecast this yet: it needs more cost history for this "
            "filter (a few weeks of spend)"
        ),
    },
}


class CostExplorerSource:
    """Costs and forecasts from AWS Cost Explorer, optionally cached.

    Args:
        client: a boto3 ``ce`` client (Cost Explorer lives in us-east-1).
        cache: where answers are remembered by request; None asks AWS every time.
        freshness: how long a remembered answer is used (Cost Explorer refreshes about
            three times a day, so a few hours loses little).
        now: the clock (timezone-aware UTC ``datetime``); required with ``cache``. Also used
            to refuse resource-level questions older than 14 days before asking AWS.
    """

    name = "ce"
    max_dimensions = MAX_GROUP_BY  # besides day; engines.costs.questions asks within this

    def __init__(
        self,
        client: Any,
        *,
        cache: ResponseCache | None = None,
        freshness: dt.timedelta = DEFAULT_FRESHNESS,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if cache is not None and now is None:
            raise ValueError("a CostExplorerSource with a cache needs a clock: pass now=")
        self.client = client
        self.cache = cache
        self.freshness = freshness
        self.now = now

    def costs(self, query: CostQuery) -> CostResult:
        """The query's cost per group and currency, summed over all results and pages.

        Args:
            query: period, metric (billed or effective), filter and up to two groupings
                besides ``day``. Grouping by ``resource`` only works for the last 14 days,
                for EC2 compute, with resource-level data opted in.

        Raises:
            CostSourceError: list cost was asked for, more than two groupings, a resource
                question older than 14 days, or AWS refused; the message says what to do.
        """
        ce_metric = _ce_metric(query.metric)
        method, request = build_costs_request(query, ce_metric)
        if method == GET_RESOURCE_COSTS:
            self._check_resource_window(query.period)
        answer = self._answer(method, request)
        amounts = sum_groups(answer, query.group_by, ce_metric)
        groups = [CostGroup(key, unit, amount) for (key, unit), amount in amounts.items()]
        groups.sort(key=lambda group: (-group.amount, group.key, group.currency))
        return CostResult(query=query, groups=tuple(groups), source=self.name)

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        """Cost per (service, currency) over ``period``: ``costs`` grouped by service.

        Args:
            period: the days to include (``end`` exclusive, as Cost Explorer wants it).
            cost_filter: tags (all must match) and linked accounts; empty means everything.
            metric: BILLED (UnblendedCost) or EFFECTIVE (NetAmortizedCost).

        Raises:
            CostSourceError: as ``costs``.
        """
        query = CostQuery(
            period=period, metric=metric, cost_filter=cost_filter, group_by=(SERVICE,)
        )
        result = self.costs(query)
        lines = [
            CostLine(group.key[0] or NO_SERVICE, group.currency, group.amount)
            for group in result.groups
        ]
        lines.sort(key=lambda line: (-line.amount, line.service, line.currency))
        return CostBreakdown(period=period, metric=metric, lines=tuple(lines), source=self.name)

    def forecast(self, *, cost_filter: CostFilter, metric: Metric, today: dt.date) -> Forecast:
        """Cost Explorer's forecast of spend from ``today`` to the end of this month.

        The period is ``[today, first of next month)``: on the last day of a month that is
        just today. Spend before today is not included; add month-to-date ``costs`` for a
        month total.

        Args:
            cost_filter: tags (all must match) and linked accounts; empty means everything.
            metric: BILLED (UNBLENDED_COST) or EFFECTIVE (NET_AMORTIZED_COST).
            today: the first day to forecast (Cost Explorer refuses days in the past).

        Raises:
            CostSourceError: list cost was asked for, Cost Explorer has too little history
                to forecast, or AWS refused; the message says what to do.
        """
        period = forecast_period(today)
        request = build_forecast_request(period, cost_filter, _forecast_metric(metric))
        answer = self._answer(GET_FORECAST, request)
        return parse_forecast(answer, period=period, metric=metric)

    def _check_resource_window(self, period: Period) -> None:
        if self.now is None:
            return  # no clock: Cost Explorer itself refuses, and the error says why
        earliest = _utc_date(self.now()) - dt.timedelta(days=RESOURCE_DAYS)
        if period.start < earliest:
            raise CostSourceError(
                f"Cost Explorer keeps resource-level costs only for the last {RESOURCE_DAYS} "
                f"days (since {earliest:%b %-d, %Y}), and {period.describe()} starts before "
                "that: ask about a more recent period, or group by service instead."
            )

    def _answer(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to ``request``: remembered if fresh, else asked (and remembered)."""
        if self.cache is None or self.now is None:
            return self._ask(method, request)
        key = cache_key(method, request)
        at = self.now()
        remembered: dict[str, Any] | None = self.cache.get(key, max_age=self.freshness, now=at)
        if remembered is not None:
            return remembered
        answer = self._ask(method, request)
        self.cache.put(key, answer, now=at)
        return answer

    def _ask(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        if method == GET_FORECAST:
            page = self._call(method, request)
            return {key: page[key] for key in ("Total", "ForecastResultsByTime") if key in page}
        results: list[dict[str, Any]] = []
        for page in self._pages(method, request):
            results.extend(page.get("ResultsByTime", []))
        return {"ResultsByTime": results}

    def _pages(self, method: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of the answer, following ``NextPageToken`` (each page is billed)."""
        seen_tokens: set[str] = set()
        token: str | None = None
        while True:
            page = self._call(method, {**request, "NextPageToken": token} if token else request)
            yield page
            token = page.get("NextPageToken")
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)

    def _call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, method)(**request)
        except ClientError as error:
            raise _client_error(error, method) from None
        except NoCredentialsError:
            raise CostSourceError(
                "Could not ask Cost Explorer: no AWS credentials were found for the bot."
            ) from None
        except BotoCoreError as error:
            raise CostSourceError(f"Could not reach Cost Explorer: {error}") from None
        return response


# --- requests -------------------------------------------------------------------------------


def build_costs_request(query: CostQuery, ce_metric: str) -> tuple[str, dict[str, Any]]:
    """The boto3 method and its arguments for ``query`` (the first page's request).

    Grouping by ``day`` asks for DAILY results; by ``resource`` it asks
    ``GetCostAndUsageWithResources`` (DAILY, EC2 compute); otherwise MONTHLY.

    Args:
        query: the question.
        ce_metric: e.g. ``"UnblendedCost"``.

    Raises:
        CostSourceError: more than two groupings besides ``day``.
    """
    group_by = _group_definitions(query.group_by)
    with_resources = any(d.kind is DimensionKind.RESOURCE for d in query.group_by)
    by_day = any(d.kind is DimensionKind.DAY for d in query.group_by)
    request: dict[str, Any] = {
        "TimePeriod": _time_period(query.period),
        "Granularity": "DAILY" if by_day or with_resources else "MONTHLY",
        "Metrics": [ce_metric],
    }
    if group_by:
        request["GroupBy"] = group_by
    extra = [_dimension_condition("SERVICE", [EC2_COMPUTE])] if with_resources else []
    expression = _filter_expression(query.cost_filter, extra)
    if expression:
        request["Filter"] = expression
    return (GET_RESOURCE_COSTS if with_resources else GET_COSTS), request


def build_forecast_request(period: Period, cost_filter: CostFilter, metric: str) -> dict[str, Any]:
    """The ``GetCostForecast`` arguments: MONTHLY, with an 80% prediction interval.

    Args:
        period: the days to forecast; starts today or later, ``End`` exclusive.
        cost_filter: tags and linked accounts, as for costs.
        metric: e.g. ``"UNBLENDED_COST"``.
    """
    request: dict[str, Any] = {
        "TimePeriod": _time_period(period),
        "Metric": metric,
        "Granularity": "MONTHLY",
        "PredictionIntervalLevel": PREDICTION_INTERVAL,
    }
    expression = _filter_expression(cost_filter, [])
    if expression:
        request["Filter"] = expression
    return request


def forecast_period(today: dt.date) -> Period:
    """From ``today`` to the first of next month (exclusive): the rest of this month.

    Args:
        today: the first day forecast; on a month's last day the period is that one day.
    """
    first_of_next = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return Period(today, first_of_next, f"rest of {today:%B %Y}")


def cache_key(method: str, request: dict[str, Any]) -> str:
    """The whole request as canonical JSON, so different questions never share an answer.

    Args:
        method: the boto3 method name, e.g. ``get_cost_and_usage``.
        request: its arguments (the first page's).
    """
    body = json.dumps({"method": method, "request": request}, sort_keys=True, separators=(",", ":"))
    return f"ce:{body}"


def _group_definitions(dimensions: Iterable[Dimension]) -> list[dict[str, str]]:
    definitions = [_group_definition(d) for d in dimensions if d.kind is not DimensionKind.DAY]
    if len(definitions) > MAX_GROUP_BY:
        asked = ", ".join(d.label for d in dimensions if d.kind is not DimensionKind.DAY)
        raise CostSourceError(
            f"Cost Explorer can group by at most {MAX_GROUP_BY} things at once (besides day), "
            f"and this asks for {len(definitions)}: {asked}. Drop one, or use a FOCUS export."
        )
    return definitions


def _group_definition(dimension: Dimension) -> dict[str, str]:
    if dimension.kind is DimensionKind.TAG:
        return {"Type": "TAG", "Key": dimension.tag_key}
    return {"Type": "DIMENSION", "Key": _CE_DIMENSIONS[dimension.kind]}


def _time_period(period: Period) -> dict[str, str]:
    return {"Start": period.start.isoformat(), "End": period.end.isoformat()}


def _dimension_condition(key: str, values: list[str]) -> dict[str, Any]:
    return {"Dimensions": {"Key": key, "Values": values}}


def _filter_expression(
    cost_filter: CostFilter, extra: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if cost_filter.resource_contains:
        raise CostSourceError(
            "Cost Explorer cannot pick lines by a pattern of resource ids: use a billing "
            "export (FOCUS or CUR) or Athena for that question."
        )
    conditions: list[dict[str, Any]] = [
        {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}
        for key, value in cost_filter.tags.items()
    ]
    if cost_filter.accounts:
        conditions.append(_dimension_condition("LINKED_ACCOUNT", list(cost_filter.accounts)))
    conditions.extend(extra)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"And": conditions}


def _ce_metric(metric: Metric) -> str:
    if metric not in CE_METRICS:
        raise CostSourceError(
            f"Cost Explorer has no {metric.label} metric: ask for billed or effective cost, "
            "or use a FOCUS export for list prices."
        )
    return CE_METRICS[metric]


def _forecast_metric(metric: Metric) -> str:
    _ce_metric(metric)  # the same refusal for list cost
    return FORECAST_METRICS[metric]


def _utc_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date() if moment.tzinfo else moment.date()


# --- answers --------------------------------------------------------------------------------

GroupAmounts = dict[tuple[tuple[str, ...], str], Decimal]


def sum_groups(
    answer: dict[str, Any], dimensions: tuple[Dimension, ...], ce_metric: str
) -> GroupAmounts:
    """Amount per (group key, currency) over every result (month or day) of ``answer``.

    Args:
        answer: ``{"ResultsByTime": [...]}`` with the results of all pages.
        dimensions: the query's groupings, in order; ``day`` takes the result's start date.
        ce_metric: which metric to read, e.g. ``"UnblendedCost"``.
    """
    grouped = any(d.kind is not DimensionKind.DAY for d in dimensions)
    amounts: GroupAmounts = {}
    for result in answer.get("ResultsByTime", []):
        day = result.get("TimePeriod", {}).get("Start", UNKNOWN_KEY)
        for ce_keys, figure in _figures(result, ce_metric, grouped=grouped):
            key = (_group_key(dimensions, ce_keys, day), figure.get("Unit") or "USD")
            amounts[key] = amounts.get(key, Decimal(0)) + Decimal(str(figure["Amount"]))
    return amounts


def _figures(
    result: dict[str, Any], ce_metric: str, *, grouped: bool
) -> Iterator[tuple[list[str], dict[str, Any]]]:
    """(Cost Explorer keys, metric figure) per group; the non-zero total when ungrouped."""
    if not grouped:
        total = result.get("Total", {}).get(ce_metric)
        if total is not None and Decimal(str(total["Amount"])) != 0:
            yield [], total
        return
    for group in result.get("Groups", []):
        figure = group.get("Metrics", {}).get(ce_metric)
        if figure is not None:
            yield list(group.get("Keys") or []), figure


def _group_key(dimensions: tuple[Dimension, ...], ce_keys: list[str], day: str) -> tuple[str, ...]:
    values = iter(ce_keys)
    key = []
    for dimension in dimensions:
        if dimension.kind is DimensionKind.DAY:
            key.append(day)
        else:
            key.append(_key_value(dimension, next(values, UNKNOWN_KEY)))
    return tuple(key)


def _key_value(dimension: Dimension, raw: str) -> str:
    """One group key as every source spells it: tag values bare, '' for none."""
    if dimension.kind is DimensionKind.TAG:
        return tag_value(raw)
    if raw.replace(" ", "").lower() in _NO_VALUE_WORDS:
        return UNKNOWN_KEY
    return raw


def tag_value(raw: str) -> str:
    """``team$fraud-detection`` → ``fraud-detection``; ``team$`` (untagged) → ``''``.

    Tag keys cannot contain ``$``, so the value is everything after the first one.

    Args:
        raw: Cost Explorer's group key for a tag, ``<key>$<value>``.
    """
    _, dollar, value = raw.partition("$")
    return value if dollar else raw


def parse_forecast(answer: dict[str, Any], *, period: Period, metric: Metric) -> Forecast:
    """A ``Forecast`` from a ``GetCostForecast`` answer.

    The interval comes from the single month's bounds; bounds of several months do not add
    up to an interval of their sum, so then there is none.

    Args:
        answer: ``Total`` and ``ForecastResultsByTime`` as Cost Explorer returned them.
        period: the forecast period asked for.
        metric: the metric asked for.
    """
    total = answer.get("Total") or {}
    if "Amount" not in total:
        raise CostSourceError("Could not get a forecast from Cost Explorer: it returned none.")
    months = answer.get("ForecastResultsByTime") or []
    bounds = months[0] if len(months) == 1 else {}
    return Forecast(
        period=period,
        metric=metric,
        currency=total.get("Unit") or "USD",
        amount=Decimal(str(total["Amount"])),
        lower=_optional_decimal(bounds.get("PredictionIntervalLowerBound")),
        upper=_optional_decimal(bounds.get("PredictionIntervalUpperBound")),
        method=FORECAST_METHOD,
    )


def _optional_decimal(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(str(text))


def _client_error(error: ClientError, method: str) -> CostSourceError:
    code = error.response.get("Error", {}).get("Code", "")
    detail = error.response.get("Error", {}).get("Message", "")
    advice = _METHOD_ADVICE.get(method, {}).get(code) or _advice(code, method)
    suffix = f" ({code}: {detail})" if detail else f" ({code})"
    return CostSourceError(f"Could not get {_WHAT[method]} from Cost Explorer: {advice}{suffix}.")


def _advice(code: str, method: str) -> str:
    if code == "AccessDeniedException":
        return (
            f"access was denied: the bot's IAM role needs {_IAM_ACTIONS[method]}, and Cost "
            "Explorer must be enabled for the account"
        )
    return _ERROR_ADVICE.get(code, "AWS returned an error")

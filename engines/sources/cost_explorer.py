"""A cost source asking AWS Cost Explorer (``GetCostAndUsage``), grouped by service.

Each request costs $0.01 and every page counts, so callers should cache answers. The boto3
``ce`` client is passed in; this module never builds one.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from engines.errors import CostSourceError
from engines.models import CostBreakdown, CostLine, Metric, Period
from engines.sources.base import CostFilter

CE_METRICS = {
    Metric.BILLED: "UnblendedCost",
    Metric.EFFECTIVE: "NetAmortizedCost",
}
NO_SERVICE = "(no service)"

_ERROR_ADVICE = {
    "AccessDeniedException": (
        "access was denied: the bot's IAM role needs ce:GetCostAndUsage, and Cost Explorer "
        "must be enabled for the account"
    ),
    "LimitExceededException": "Cost Explorer is throttling requests: wait a minute and try again",
    "DataUnavailableException": (
        "Cost Explorer has no data for this period yet (new accounts take up to 24 hours)"
    ),
    "BillExpirationException": "that period is older than Cost Explorer keeps",
    "RequestChangedException": "the data changed while paging: try again",
    "InvalidNextTokenException": "the page token expired: try again",
    "ValidationException": "Cost Explorer rejected the request",
}


class CostExplorerSource:
    """Cost by service from AWS Cost Explorer.

    Args:
        client: a boto3 ``ce`` client (Cost Explorer lives in us-east-1).
    """

    name = "ce"

    def __init__(self, client: Any) -> None:
        self.client = client

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        """Cost per (service, currency) over ``period``, summed over all pages and months.

        Args:
            period: the days to include (``end`` exclusive, as Cost Explorer wants it).
            cost_filter: tags (all must match) and linked accounts; empty means everything.
            metric: BILLED (UnblendedCost) or EFFECTIVE (NetAmortizedCost).

        Raises:
            CostSourceError: LIST was asked for (Cost Explorer has no list-price metric), or
                AWS refused (access, throttling, no data); the message says what to check.
        """
        ce_metric = _ce_metric(metric)
        request = build_request(period, cost_filter, ce_metric)
        amounts: dict[tuple[str, str], Decimal] = {}
        for page in self._pages(request):
            _add_groups(amounts, page, ce_metric)
        lines = [CostLine(service, unit, amount) for (service, unit), amount in amounts.items()]
        lines.sort(key=lambda line: (-line.amount, line.service, line.currency))
        return CostBreakdown(period=period, metric=metric, lines=tuple(lines), source=self.name)

    def _pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of the answer, following ``NextPageToken`` (each page is billed)."""
        seen_tokens: set[str] = set()
        token: str | None = None
        while True:
            page = self._call({**request, "NextPageToken": token} if token else request)
            yield page
            token = page.get("NextPageToken")
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self.client.get_cost_and_usage(**request)
        except ClientError as error:
            raise _client_error(error) from None
        except NoCredentialsError:
            raise CostSourceError(
                "Could not ask Cost Explorer: no AWS credentials were found for the bot."
            ) from None
        except BotoCoreError as error:
            raise CostSourceError(f"Could not reach Cost Explorer: {error}") from None
        return response


def build_request(period: Period, cost_filter: CostFilter, ce_metric: str) -> dict[str, Any]:
    """The ``GetCostAndUsage`` arguments for one period, filter and Cost Explorer metric.

    Args:
        period: the days to include; ``End`` is exclusive.
        cost_filter: tags (``EQUALS``, several combined with ``And``) and linked accounts.
        ce_metric: e.g. ``"UnblendedCost"``.
    """
    request: dict[str, Any] = {
        "TimePeriod": {"Start": period.start.isoformat(), "End": period.end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [ce_metric],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    expression = _filter_expression(cost_filter)
    if expression:
        request["Filter"] = expression
    return request


def _filter_expression(cost_filter: CostFilter) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = [
        {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}
        for key, value in cost_filter.tags.items()
    ]
    if cost_filter.accounts:
        conditions.append(
            {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": list(cost_filter.accounts)}}
        )
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


def _add_groups(amounts: dict[tuple[str, str], Decimal], page: dict[str, Any], metric: str) -> None:
    for result in page.get("ResultsByTime", []):
        for group in result.get("Groups", []):
            service = (group.get("Keys") or [""])[0] or NO_SERVICE
            figure = group.get("Metrics", {}).get(metric)
            if figure is None:
                continue
            key = (service, figure.get("Unit") or "USD")
            amounts[key] = amounts.get(key, Decimal("0")) + Decimal(str(figure["Amount"]))


def _client_error(error: ClientError) -> CostSourceError:
    code = error.response.get("Error", {}).get("Code", "")
    detail = error.response.get("Error", {}).get("Message", "")
    advice = _ERROR_ADVICE.get(code, "AWS returned an error")
    suffix = f" ({code}: {detail})" if detail else f" ({code})"
    return CostSourceError(f"Could not get costs from Cost Explorer: {advice}{suffix}.")

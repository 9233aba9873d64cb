"""A team's cost summary: totals, the change against the previous period, top services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from engines.costs import ServiceCost, summarize_team_cost
from engines.errors import CostSourceError
from engines.models import CostBreakdown, CostLine, Metric, Period, Team
from engines.sources.base import CostFilter

OCTOBER_TO_DATE = Period(date(2026, 10, 1), date(2026, 10, 18), "month to date")
SAME_DAYS_OF_SEPTEMBER = Period(date(2026, 9, 1), date(2026, 9, 18), "same days of September")
NLP = Team(name="nlp", tags={"team": "nlp"}, channel="#nlp-costs", accounts=("012345678901",))


@dataclass
class FakeSource:
    """Answers from a table keyed by period start; records what it was asked."""

    lines_by_start: dict[date, list[tuple[str, str, str]]]
    name: str = "fake"
    asked: list[tuple[Period, CostFilter, Metric]] = field(default_factory=list)

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        self.asked.append((period, cost_filter, metric))
        lines = tuple(
            CostLine(service, currency, Decimal(amount))
            for service, currency, amount in self.lines_by_start.get(period.start, [])
        )
        return CostBreakdown(period=period, metric=metric, lines=lines, source=self.name)


def source(now: list[tuple[str, str, str]], before: list[tuple[str, str, str]]) -> FakeSource:
    return FakeSource({OCTOBER_TO_DATE.start: now, SAME_DAYS_OF_SEPTEMBER.start: before})


def test_summary_compares_with_the_same_days_of_the_previous_month() -> None:
    fake = source(
        now=[("Amazon EC2", "USD", "700.00"), ("Amazon S3", "USD", "300.00")],
        before=[("Amazon EC2", "USD", "500.00"), ("Amazon S3", "USD", "300.00")],
    )

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE)

    assert summary.team_name == "nlp"
    assert summary.period == OCTOBER_TO_DATE
    assert summary.previous_period == SAME_DAYS_OF_SEPTEMBER
    assert summary.metric is Metric.BILLED
    assert summary.currency == "USD"
    assert summary.total == Decimal("1000.00")
    assert summary.previous_total == Decimal("800.00")
    assert summary.change == Decimal("200.00")
    assert summary.change_pct == Decimal("25.00")
    assert summary.top_services == (
        ServiceCost("Amazon EC2", Decimal("700.00"), Decimal("500.00")),
        ServiceCost("Amazon S3", Decimal("300.00"), Decimal("300.00")),
    )
    assert summary.other_services_total == Decimal("0")
    assert summary.source == "fake"
    assert summary.by_currency == {}
    assert summary.other_currencies == ()


def test_the_team_filter_and_metric_are_passed_for_both_periods() -> None:
    fake = source(now=[], before=[])

    summarize_team_cost(fake, NLP, OCTOBER_TO_DATE, metric=Metric.EFFECTIVE)

    expected_filter = CostFilter(tags={"team": "nlp"}, accounts=("012345678901",))
    assert fake.asked == [
        (OCTOBER_TO_DATE, expected_filter, Metric.EFFECTIVE),
        (SAME_DAYS_OF_SEPTEMBER, expected_filter, Metric.EFFECTIVE),
    ]


def test_top_n_services_and_the_rest_as_other() -> None:
    fake = source(
        now=[
            ("Amazon S3", "USD", "50"),
            ("Amazon EC2", "USD", "400"),
            ("AWS Lambda", "USD", "5"),
            ("Amazon RDS", "USD", "100"),
            ("Tax", "USD", "10.01"),
            ("Credit", "USD", "-20"),
        ],
        before=[("Amazon RDS", "USD", "90"), ("Amazon Athena", "USD", "3")],
    )

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE, top_n=3)

    assert summary.top_services == (
        ServiceCost("Amazon EC2", Decimal("400"), Decimal("0")),
        ServiceCost("Amazon RDS", Decimal("100"), Decimal("90")),
        ServiceCost("Amazon S3", Decimal("50"), Decimal("0")),
    )
    assert summary.other_services_total == Decimal("-4.99")  # Tax + Lambda + Credit
    assert summary.total == Decimal("545.01")
    assert summary.previous_total == Decimal("93")
    assert sum(s.amount for s in summary.top_services) + summary.other_services_total == (
        summary.total
    )


def test_no_previous_cost_has_no_percentage() -> None:
    fake = source(now=[("Amazon EC2", "USD", "12.34")], before=[])

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE)

    assert summary.previous_total == Decimal("0")
    assert summary.change == Decimal("12.34")
    assert summary.change_pct is None


def test_a_fall_is_a_negative_percentage_rounded_to_hundredths() -> None:
    fake = source(now=[("Amazon EC2", "USD", "200")], before=[("Amazon EC2", "USD", "300")])

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE)

    assert summary.change == Decimal("-100")
    assert summary.change_pct == Decimal("-33.33")


def test_no_cost_at_all_is_a_zero_summary() -> None:
    summary = summarize_team_cost(source(now=[], before=[]), NLP, OCTOBER_TO_DATE)

    assert summary.total == summary.previous_total == summary.change == Decimal("0")
    assert summary.change_pct is None
    assert summary.top_services == ()
    assert summary.currency == "USD"


def test_several_currencies_headline_the_largest_and_list_all() -> None:
    fake = source(
        now=[
            ("Amazon EC2", "EUR", "900"),
            ("Amazon S3", "USD", "100"),
            ("AWS Marketplace", "USD", "50"),
        ],
        before=[("Amazon EC2", "EUR", "600"), ("Amazon S3", "USD", "80")],
    )

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE)

    assert summary.currency == "EUR"
    assert summary.total == Decimal("900")
    assert summary.previous_total == Decimal("600")
    assert summary.top_services == (ServiceCost("Amazon EC2", Decimal("900"), Decimal("600")),)
    assert summary.by_currency == {"EUR": Decimal("900"), "USD": Decimal("150")}
    assert summary.other_currencies == ("USD",)


def test_the_currency_comes_from_the_previous_period_when_now_is_empty() -> None:
    fake = source(now=[], before=[("Amazon EC2", "EUR", "10")])

    summary = summarize_team_cost(fake, NLP, OCTOBER_TO_DATE)

    assert summary.currency == "EUR"
    assert summary.previous_total == Decimal("10")
    assert summary.change_pct == Decimal("-100.00")


def test_calendar_months_compare_with_the_month_before() -> None:
    september = Period(date(2026, 9, 1), date(2026, 10, 1), "September 2026")
    fake = FakeSource({date(2026, 9, 1): [("Amazon EC2", "USD", "1")]})

    summary = summarize_team_cost(fake, NLP, september)

    assert summary.previous_period == Period(date(2026, 8, 1), date(2026, 9, 1), "August 2026")


def test_source_errors_pass_through() -> None:
    class Refusing:
        name = "refusing"

        def cost_by_service(self, **_: object) -> CostBreakdown:
            raise CostSourceError("Cost Explorer is throttling requests")

    with pytest.raises(CostSourceError, match="throttling"):
        summarize_team_cost(Refusing(), NLP, OCTOBER_TO_DATE)  # type: ignore[arg-type]

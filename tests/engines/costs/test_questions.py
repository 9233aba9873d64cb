"""The questions, answered from a real FOCUS file and the demo teams file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from engines.config.teams import find_team, load_config
from engines.costs import questions
from engines.costs.query import CostQuery
from engines.costs.sources.focus import FocusFileSource
from engines.errors import CostSourceError
from engines.models import Period
from tests.conftest import write_two_account_export

DEMO_TEAMS = Path(__file__).resolve().parents[3] / "bot" / "demo" / "teams.toml"
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1), "October 2026")


@pytest.fixture
def setup(small_export):
    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    return FocusFileSource(str(small_export.path)), config, small_export


def test_team_cost_matches_the_rows_and_compares_the_same_days_of_the_month_before(setup):
    source, config, export = setup
    november = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1), "November 2026")
    answer = questions.team_cost(
        source, config.teams, config.shared, team=find_team(config.teams, "NLP"), period=november
    )
    # The export runs through Nov 23: November so far is compared with Oct 1 – 23.
    assert answer.subject == "nlp"
    assert answer.data_through == dt.date(2026, 11, 23)
    assert answer.period == Period(dt.date(2026, 11, 1), dt.date(2026, 11, 24), "November 2026")
    assert answer.previous_period == Period(
        dt.date(2026, 10, 1), dt.date(2026, 10, 24), "same days of October"
    )
    assert answer.total == export.billed(team="nlp", start=november.start, end=november.end)
    before = export.billed(team="nlp", start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 24))
    assert answer.previous_total == before
    assert {line.key for line in answer.lines} == {
        "Amazon Elastic Compute Cloud",
        "Amazon Simple Storage Service",
    }
    assert answer.notes == ("The FOCUS billing export has data for Nov 1 – Nov 23, 2026 only, "
                            "not all of Nov 1 – Nov 30, 2026 (November 2026).",)  # fmt: skip


def test_a_month_whose_month_before_is_partly_missing_has_no_change(setup):
    # Was: October compared with the 6 days of September in the export (Sep 25 – 30), as
    # if Sep 1 – 24 had cost nothing. Against missing data there is no change at all.
    source, config, export = setup
    answer = questions.team_cost(
        source, config.teams, config.shared, team=find_team(config.teams, "NLP"), period=OCTOBER
    )
    assert answer.total == export.billed(team="nlp", start=OCTOBER.start, end=OCTOBER.end)
    assert answer.previous_period is None and answer.change_pct is None
    assert not answer.lines_compared
    assert answer.notes == (
        "There is no data for Sep 1 – Sep 24, 2026 to compare with, so no change is shown.",
    )


def test_top_by_team_adds_up_to_the_source_total(setup):
    source, config, _ = setup
    answer = questions.top_costs(source, config.teams, config.shared, period=OCTOBER)
    everything = source.costs(CostQuery(OCTOBER, group_by=())).totals()["USD"]
    assert sum(line.amount for line in answer.lines) + answer.others == everything
    assert [line.key for line in answer.lines] == ["fraud-detection", "nlp", "(untagged)"]


def test_untagged_is_what_no_rule_claims(setup):
    source, config, export = setup
    answer = questions.untagged_costs(source, config.teams, config.shared, period=OCTOBER)
    untagged = sum(
        Decimal(row["BilledCost"])
        for row in export.rows
        if not row["Tags"] and "2026-10" <= row["ChargePeriodStart"][:7] <= "2026-10"
    )
    assert answer.total == untagged


def test_a_period_outside_the_data_names_what_the_data_covers(setup):
    source, config, _ = setup
    with pytest.raises(CostSourceError) as caught:
        questions.team_cost(
            source,
            config.teams,
            config.shared,
            team=find_team(config.teams, "nlp"),
            period=Period(dt.date(2025, 1, 1), dt.date(2025, 2, 1), "January 2025"),
        )
    assert "no cost data for Jan 1 – Jan 31, 2025" in str(caught.value)
    assert "covers Sep 25 – Nov 23, 2026" in str(caught.value)


def test_a_team_with_no_matching_costs_says_so(setup):
    source, config, _ = setup
    answer = questions.team_cost(
        source,
        config.teams,
        config.shared,
        team=find_team(config.teams, "recommendations"),
        period=OCTOBER,
    )
    assert answer.total == 0
    assert "No costs matched recommendations's rule (team=recommendations)" in answer.notes[-1]


def test_compare_orders_lines_by_the_size_of_the_move(setup):
    source, config, _ = setup
    answer = questions.compare_periods(
        source,
        config.teams,
        config.shared,
        current=Period(dt.date(2026, 11, 1), dt.date(2026, 11, 11)),
        baseline=Period(dt.date(2026, 10, 1), dt.date(2026, 10, 11)),
        team=find_team(config.teams, "nlp"),
    )
    moves = [abs(line.change) for line in answer.lines]
    assert moves == sorted(moves, reverse=True)
    assert all(line.change > 0 for line in answer.lines)  # the export grows every day


def test_trend_has_every_day_and_forecast_states_its_method(setup):
    source, config, export = setup
    period = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 21))
    trend = questions.daily_trend(
        source, config.teams, team=find_team(config.teams, "nlp"), period=period
    )
    assert len(trend.days) == 20
    assert trend.total == export.billed(team="nlp", start=period.start, end=period.end)
    forecast = questions.month_end_forecast(
        source, config.teams, today=dt.date(2026, 11, 20), team=find_team(config.teams, "nlp")
    )
    assert forecast.forecast.period.start == dt.date(2026, 11, 1)
    # The export grows every day, and the forecast says it follows that trend.
    assert "linear trend of the last 28 days, with weekday pattern" in forecast.forecast.method
    assert forecast.forecast.lower <= forecast.forecast.amount <= forecast.forecast.upper


# --- a gap inside the data ------------------------------------------------------------------


def test_a_gap_between_two_accounts_is_named_and_never_compared_as_zero(tmp_path):
    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    source = FocusFileSource(str(write_two_account_export(tmp_path / "export.csv")))
    november = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1), "November 2026")

    answer = questions.team_cost(
        source, config.teams, config.shared, team=find_team(config.teams, "nlp"), period=november
    )

    assert answer.total == Decimal("300.00")
    assert answer.previous_period is None and answer.change_pct is None  # not "vs $0.00"
    assert answer.data_through == dt.date(2026, 11, 30)  # the last day of data it holds
    assert answer.notes == (
        "There is no data for Oct 1 – Oct 31, 2026 to compare with, so no change is shown.",
        "The FOCUS billing export has no data for AWS account 111111111111 or AWS account "
        "222222222222 from Sep 2 to Oct 31, 2026.",
    )
    covered = questions.team_cost(
        source,
        config.teams,
        config.shared,
        team=find_team(config.teams, "nlp"),
        period=Period(dt.date(2026, 11, 16), dt.date(2026, 12, 1)),
    )
    assert (covered.total, covered.previous_total, covered.notes) == (
        Decimal("150.00"),
        Decimal("150.00"),
        (),
    )


def test_an_account_billing_only_monthly_fees_is_no_gap(tmp_path):
    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    spans = {"222222222222": (dt.date(2026, 10, 1), dt.date(2026, 12, 6))}
    export = write_two_account_export(
        tmp_path / "export.csv", spans, monthly_fees=("333333333333",)
    )
    source = FocusFileSource(str(export))
    assert source.coverage().gaps == ()  # 333…'s fee on the 1st is not a month of missing days

    answer = questions.team_cost(
        source,
        config.teams,
        config.shared,
        team=find_team(config.teams, "nlp"),
        period=Period(dt.date(2026, 12, 1), dt.date(2026, 12, 7), "month to date"),
    )
    assert answer.notes == ()
    assert (answer.total, answer.previous_total) == (Decimal("149.00"), Decimal("149.00"))


class _NoCoverage:
    """A source that cannot say which days it covers (as Cost Explorer)."""

    name = "ce"
    max_dimensions = None

    def __init__(self, inner: FocusFileSource) -> None:
        self.inner = inner

    def costs(self, query: CostQuery):
        return self.inner.costs(query)


def test_a_source_without_coverage_is_taken_to_cover_up_to_yesterday(setup):
    source, config, export = setup
    today = dt.date(2026, 11, 20)
    answer = questions.team_cost(
        _NoCoverage(source),
        config.teams,
        config.shared,
        team=find_team(config.teams, "nlp"),
        period=Period(dt.date(2026, 11, 1), dt.date(2026, 11, 21), "month to date"),
        today=today,
    )
    # Today's costs are still arriving: Nov 1 – 19 against Oct 1 – 19.
    assert answer.data_through == dt.date(2026, 11, 19)
    assert answer.total == export.billed(team="nlp", start=dt.date(2026, 11, 1), end=today)
    assert answer.previous_total == export.billed(
        team="nlp", start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 20)
    )

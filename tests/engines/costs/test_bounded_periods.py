"""Bounded periods: clipped to the data, capped at about a year, trends drawn by week or
month when long, and no date arithmetic that overflows whatever is typed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.config.teams import find_team, load_config
from engines.costs import questions
from engines.costs.answers import TrendUnit, trend_unit
from engines.costs.coverage import MAX_PERIOD_DAYS, Coverage, bound_period, fair_comparison
from engines.costs.periods import parse_period, previous_period
from engines.costs.sources.focus import FocusFileSource
from engines.errors import UserInputError
from engines.models import Period
from tests.conftest import write_two_account_export

DEMO_TEAMS = Path(__file__).resolve().parents[3] / "bot" / "demo" / "teams.toml"
TODAY = dt.date(2026, 12, 5)
DATA = Coverage("FOCUS export", through=dt.date(2026, 12, 4), first=dt.date(2023, 1, 1))
EVERYTHING = Period(dt.date(2000, 1, 1), dt.date(2026, 12, 6), "2000-01-01 to 2026-12-05")


# --- clipping and the cap -----------------------------------------------------------------


def test_a_period_longer_than_the_data_is_clipped_to_it_and_capped_at_366_days():
    bounded, notes = bound_period(EVERYTHING, DATA)
    assert bounded.end == dt.date(2026, 12, 5)  # the data's last day, included
    assert bounded.days == MAX_PERIOD_DAYS == 366
    assert bounded.start == dt.date(2025, 12, 4)  # the last 366 days: the most recent kept
    assert bounded.label == ""  # no longer what was typed: shown by its dates
    assert notes == (
        "A question covers at most 366 days: this one uses the last 366, "
        "Dec 4, 2025 – Dec 4, 2026.",
    )


def test_a_period_inside_the_data_and_under_a_year_is_kept_as_typed():
    september = Period(dt.date(2026, 9, 1), dt.date(2026, 10, 1), "September 2026")
    assert bound_period(september, DATA) == (september, ())


def test_a_period_starting_before_the_data_starts_on_its_first_day():
    asked = Period(dt.date(2022, 11, 1), dt.date(2023, 2, 1), "3 months")
    bounded, notes = bound_period(asked, DATA)
    assert bounded == Period(dt.date(2023, 1, 1), dt.date(2023, 2, 1))
    assert notes == ()  # the question's own note says what the data covers


def test_without_known_coverage_a_period_is_only_capped():
    bounded, notes = bound_period(EVERYTHING, None)
    assert (bounded.start, bounded.end) == (dt.date(2025, 12, 5), dt.date(2026, 12, 6))
    assert "at most 366 days" in notes[0]


def test_a_capped_period_is_compared_with_the_366_days_before_it():
    bounded, _ = bound_period(EVERYTHING, DATA)
    fair = fair_comparison(bounded, DATA)
    assert fair.previous is not None and fair.previous.days == 366
    assert fair.previous.end == bounded.start


# --- trend granularity --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "unit"),
    [(1, TrendUnit.DAY), (90, TrendUnit.DAY), (91, TrendUnit.WEEK), (730, TrendUnit.WEEK),
     (731, TrendUnit.MONTH)],
)  # fmt: skip
def test_a_trend_is_daily_to_90_days_weekly_to_2_years_then_monthly(days, unit):
    assert trend_unit(days) is unit


@pytest.fixture(scope="module")
def long_export(tmp_path_factory):
    """nlp's EC2 at $10.00 a day from Jan 1, 2023 through Dec 4, 2026."""
    path = tmp_path_factory.mktemp("long") / "export.csv"
    write_two_account_export(path, {"111111111111": (dt.date(2023, 1, 1), dt.date(2026, 12, 5))})
    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    return FocusFileSource(str(path)), config


def test_a_trend_of_everything_draws_53_weekly_bars_of_the_last_366_days(long_export):
    # Was: `/cost trend fraud-detection 0001-01-01..2026-12-05` drew ~740,000 daily bars.
    source, config = long_export
    trend = questions.daily_trend(
        source, config.teams, team=find_team(config.teams, "nlp"), period=EVERYTHING
    )
    assert trend.unit is TrendUnit.WEEK
    assert trend.period == Period(dt.date(2025, 12, 4), dt.date(2026, 12, 5))
    assert len(trend.days) == 53  # 52 weeks and 2 days
    assert trend.days[0] == (dt.date(2025, 12, 4), Decimal("70.00"))
    assert trend.days[-1] == (dt.date(2026, 12, 3), Decimal("20.00"))  # the last 2 days
    assert trend.total == Decimal("3660.00")
    assert any("at most 366 days" in note for note in trend.notes)
    assert any("has data for Jan 1, 2023 – Dec 4, 2026 only" in note for note in trend.notes)
    assert trend.as_json()["unit"] == "week"


def test_a_trend_over_more_than_2_years_is_monthly(long_export):
    source, config = long_export
    trend = questions.daily_trend(
        source, config.teams, team=find_team(config.teams, "nlp"), period=EVERYTHING, max_days=1000
    )
    assert trend.unit is TrendUnit.MONTH
    assert trend.days[1] == (dt.date(2024, 4, 1), Decimal("300.00"))  # April: 30 days
    assert all(day.day == 1 for day, _ in trend.days[1:])
    assert trend.total == Decimal("10000.00")


def test_a_team_question_over_everything_answers_for_the_last_366_days(long_export):
    source, config = long_export
    answer = questions.team_cost(
        source,
        config.teams,
        config.shared,
        team=find_team(config.teams, "nlp"),
        period=EVERYTHING,
        today=TODAY,
    )
    assert answer.period.days == 366 and answer.total == Decimal("3660.00")
    assert answer.previous_period is not None and answer.previous_total == Decimal("3660.00")
    assert any("at most 366 days" in note for note in answer.notes)


# --- no overflow, whatever is typed -------------------------------------------------------

TYPED = [
    "0001-01-01..2026-12-05", "last 999999d", "last 999999999d", "9999-12-31..",
    "9999-12-31", "9999-12-31..9999-12-31", "2000-01-01..9999-12-31", "9999-12", "0001-01",
    "december 9999", "jan 0001", "last 3660d", "2000-01-01..2026-12-05", "1999-12-31",
]  # fmt: skip


@pytest.mark.parametrize("text", TYPED)
def test_huge_and_tiny_dates_are_answered_or_refused_in_words(text):
    _understood_or_refused(text, TODAY)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.from_regex(r"\A(last )?[0-9]{1,12} ?d(ays?)?\Z"),
        st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,3}(-[0-9]{1,3})?(\.\.[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3})?\Z"),
        st.from_regex(r"\A(jan|feb|dec|december|sep) [0-9]{1,5}\Z"),
        st.text(max_size=30),
    ),
    today=st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)  # fmt: skip
def test_no_typed_period_overflows_on_any_day(text, today):
    _understood_or_refused(text, today)


def _understood_or_refused(text: str, today: dt.date) -> None:
    try:
        period = parse_period(text, today=today)
    except UserInputError as error:
        assert str(error) and error.hint  # words, and the forms that work
        return
    bounded, _ = bound_period(period, Coverage("data", through=today, first=dt.date(2000, 1, 1)))
    assert bounded.days <= MAX_PERIOD_DAYS
    if bounded.start.year > 1:  # the comparison of a capped period is always computable
        previous_period(bounded)

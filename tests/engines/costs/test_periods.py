"""Periods as arithmetic: what each form means on a given day, and what it is compared with."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.costs.periods import parse_period, previous_period
from engines.errors import UserInputError
from engines.models import Period

TODAY = date(2026, 10, 17)


def period(start: str, end: str, label: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end), label)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", period("2026-10-01", "2026-10-18", "month to date")),
        ("mtd", period("2026-10-01", "2026-10-18", "month to date")),
        ("  This   Month ", period("2026-10-01", "2026-10-18", "month to date")),
        ("yesterday", period("2026-10-16", "2026-10-17", "yesterday")),
        ("today", period("2026-10-17", "2026-10-18", "today")),
        ("last 7d", period("2026-10-10", "2026-10-17", "last 7 days")),
        ("7d", period("2026-10-10", "2026-10-17", "last 7 days")),
        ("last 30d", period("2026-09-17", "2026-10-17", "last 30 days")),
        ("last 30 days", period("2026-09-17", "2026-10-17", "last 30 days")),
        ("past 1 day", period("2026-10-16", "2026-10-17", "last day")),
        ("last month", period("2026-09-01", "2026-10-01", "September 2026")),
        ("2026-09", period("2026-09-01", "2026-10-01", "September 2026")),
        ("2026-10", period("2026-10-01", "2026-10-18", "October 2026 to date")),
        ("2025-12", period("2025-12-01", "2026-01-01", "December 2025")),
        ("september", period("2026-09-01", "2026-10-01", "September 2026")),
        ("Dec", period("2025-12-01", "2026-01-01", "December 2025")),
        ("feb 2024", period("2024-02-01", "2024-03-01", "February 2024")),
        (
            "2026-09-01..2026-09-15",
            period("2026-09-01", "2026-09-16", "2026-09-01 to 2026-09-15"),
        ),
        (
            "2026-09-01 to 2026-10-17",
            period("2026-09-01", "2026-10-18", "2026-09-01 to 2026-10-17"),
        ),
        ("2026-09-05", period("2026-09-05", "2026-09-06", "2026-09-05")),
    ],
)
def test_what_each_form_means(text: str, expected: Period) -> None:
    assert parse_period(text, today=TODAY) == expected


def test_month_to_date_on_the_first_is_just_today() -> None:
    assert parse_period("mtd", today=date(2026, 3, 1)) == period(
        "2026-03-01", "2026-03-02", "month to date"
    )


def test_last_month_in_january_is_december_of_the_year_before() -> None:
    assert parse_period("last month", today=date(2027, 1, 10)) == period(
        "2026-12-01", "2027-01-01", "December 2026"
    )


def test_a_leap_february_has_29_days() -> None:
    assert parse_period("2024-02", today=TODAY).days == 29
    assert parse_period("2025-02", today=TODAY).days == 28


def test_last_days_cross_year_ends() -> None:
    assert parse_period("last 7d", today=date(2027, 1, 3)) == period(
        "2026-12-27", "2027-01-03", "last 7 days"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2026-11", "November 2026 is in the future"),
        ("november", None),  # November 2025: the most recent November is not in the future
        ("2026-13", "there is no month 13"),
        ("0004-01", "the year 4 is before 2000: write it in full, like 2026"),
        ("jan 0025", "the year 25 is before 2000"),
        ("0004-01-01..2025-01-01", "the year 4 is before 2000"),
        ("0d", "the number of days must be 1 to"),
        ("last 99999d", "the number of days must be 1 to"),
        ("2026-02-30", "'2026-02-30' is not a date"),
        ("2026-09-15..2026-09-01", "2026-09-15 is after 2026-09-01"),
        ("2026-10-01..2026-10-18", "2026-10-18 is in the future"),
        ("last fortnight", ""),
        ("costs for nlp", ""),
    ],
)
def test_what_is_refused_and_why(text: str, why: str | None) -> None:
    if why is None:
        assert parse_period(text, today=TODAY).start == date(2025, 11, 1)
        return
    with pytest.raises(UserInputError) as caught:
        parse_period(text, today=TODAY)
    assert why in str(caught.value)
    assert caught.value.hint.startswith("Try one of: mtd, yesterday, last 7d, last 30d")


def test_the_hint_shows_forms_that_work_today() -> None:
    with pytest.raises(UserInputError) as caught:
        parse_period("whenever", today=TODAY)

    assert str(caught.value) == "I can't use 'whenever' as a period"
    assert caught.value.hint == (
        "Try one of: mtd, yesterday, last 7d, last 30d, last month, 2026-09, september, "
        "2026-09-01..2026-09-15"
    )
    for example in caught.value.hint.removeprefix("Try one of: ").split(", "):
        parse_period(example, today=TODAY)  # every example given really works


# --- previous_period -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        # calendar months → the month before, across year ends and leap Februaries
        (period("2026-09-01", "2026-10-01", ""), period("2026-08-01", "2026-09-01", "August 2026")),
        (
            period("2026-01-01", "2026-02-01", ""),
            period("2025-12-01", "2026-01-01", "December 2025"),
        ),
        (
            period("2024-03-01", "2024-04-01", ""),
            period("2024-02-01", "2024-03-01", "February 2024"),
        ),
        # several whole months → as many months before
        (
            period("2026-04-01", "2026-07-01", ""),
            period("2026-01-01", "2026-04-01", "previous 3 months"),
        ),
        # month to date → the same days of the month before, cut at its end
        (
            period("2026-10-01", "2026-10-18", ""),
            period("2026-09-01", "2026-09-18", "same days of September"),
        ),
        (
            period("2026-01-01", "2026-01-11", ""),
            period("2025-12-01", "2025-12-11", "same days of December"),
        ),
        (
            period("2025-03-01", "2025-03-31", ""),
            period("2025-02-01", "2025-03-01", "same days of February"),
        ),
        (
            period("2024-03-01", "2024-03-31", ""),
            period("2024-02-01", "2024-03-01", "same days of February"),
        ),
        (
            period("2024-03-01", "2024-03-30", ""),
            period("2024-02-01", "2024-03-01", "same days of February"),
        ),
        # a month to date on its last day is the whole month
        (
            period("2025-03-01", "2025-04-01", ""),
            period("2025-02-01", "2025-03-01", "February 2025"),
        ),
        # anything else → the same length just before
        (
            period("2026-10-10", "2026-10-17", ""),
            period("2026-10-03", "2026-10-10", "previous 7 days"),
        ),
        (
            period("2026-10-16", "2026-10-17", ""),
            period("2026-10-15", "2026-10-16", "previous day"),
        ),
        (
            period("2026-03-02", "2026-03-05", ""),
            period("2026-02-27", "2026-03-02", "previous 3 days"),
        ),
    ],
)
def test_previous_period(current: Period, expected: Period) -> None:
    assert previous_period(current) == expected


def test_previous_of_mtd_as_parsed() -> None:
    current = parse_period("mtd", today=date(2024, 3, 31))

    assert previous_period(current) == period("2024-02-01", "2024-03-01", "February 2024")


# --- properties ----------------------------------------------------------------------------

reasonable_days = st.dates(min_value=date(1971, 1, 1), max_value=date(2100, 12, 31))


@given(text=st.text(max_size=40), today=reasonable_days)
def test_parse_period_only_ever_raises_user_input_error(text: str, today: date) -> None:
    with contextlib.suppress(UserInputError):
        parse_period(text, today=today)


@given(
    text=st.one_of(
        st.sampled_from(["mtd", "yesterday", "last month", "today", "november"]),
        st.integers(min_value=1, max_value=400).map(lambda n: f"last {n}d"),
    ),
    today=reasonable_days,
)
def test_parsed_periods_end_by_tomorrow_and_precede_their_comparison(
    text: str, today: date
) -> None:
    current = parse_period(text, today=today)
    before = previous_period(current)

    assert current.end <= today + timedelta(days=1)
    assert before.end <= current.start
    assert 0 < before.days <= max(current.days, 31)  # a previous month may be longer


@given(today=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)), text=st.text())
def test_extreme_days_still_only_raise_user_input_error(today: date, text: str) -> None:
    for words in (text, "last month", "last 3660d", "0001-01", "9999-12-31"):
        with contextlib.suppress(UserInputError):
            parse_period(words, today=today)

"""Fair comparisons: like with like over the days the data covers, never against missing data.

``fair_comparison`` is pure arithmetic on days, so it is tested as such: with hand-picked
cases from issue 13 and with random coverage (hypothesis).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from engines.costs.coverage import Coverage, Gap, coverage_from_days, cut_at, fair_comparison
from engines.costs.periods import parse_period
from engines.models import Period

DEC_6 = dt.date(2026, 12, 6)


def days(first: str, last: str) -> list[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def span(period: Period | None) -> tuple[dt.date, dt.date] | None:
    return None if period is None else (period.start, period.end)


# --- the findings of issue 13 -------------------------------------------------------------

THROUGH_DEC_5 = Coverage("FOCUS export", dt.date(2026, 12, 5), dt.date(2026, 9, 22))


def test_month_to_date_through_the_5th_is_compared_with_the_1st_to_the_5th():
    fair = fair_comparison(parse_period("mtd", today=DEC_6), THROUGH_DEC_5)
    assert span(fair.period) == (dt.date(2026, 12, 1), dt.date(2026, 12, 6))
    assert span(fair.previous) == (dt.date(2026, 11, 1), dt.date(2026, 11, 6))
    assert fair.previous is not None and fair.previous.label == "same days of November"
    assert fair.notes == () and fair.data_through == dt.date(2026, 12, 5)


def test_the_same_days_typed_as_a_range_are_compared_the_same_way():
    typed = parse_period("2026-12-01..2026-12-05", today=DEC_6)
    mtd = fair_comparison(parse_period("mtd", today=DEC_6), THROUGH_DEC_5)
    assert (span(fair_comparison(typed, THROUGH_DEC_5).previous), span(typed)) == (
        span(mtd.previous),
        span(mtd.period),
    )


def test_last_7d_missing_its_last_day_is_compared_over_6_days():
    through_dec_4 = Coverage("FOCUS export", dt.date(2026, 12, 4), dt.date(2026, 9, 22))
    fair = fair_comparison(parse_period("last 7d", today=DEC_6), through_dec_4)
    assert span(fair.period) == (dt.date(2026, 11, 29), dt.date(2026, 12, 5))
    assert span(fair.previous) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))


def test_last_999d_has_nothing_to_compare_with_and_says_for_which_days():
    fair = fair_comparison(parse_period("last 999d", today=DEC_6), THROUGH_DEC_5)
    assert fair.previous is None
    assert fair.notes == (
        "There is no data for Jun 17, 2021 – Mar 11, 2024 to compare with, so no change is shown.",
    )


def test_a_month_before_partly_covered_is_not_compared():
    fair = fair_comparison(parse_period("2026-10", today=DEC_6), THROUGH_DEC_5)
    assert fair.previous is None
    assert fair.notes == (
        "There is no data for Sep 1 – Sep 21, 2026 to compare with, so no change is shown.",
    )


def test_whole_months_both_covered_are_compared_whole():
    fair = fair_comparison(parse_period("2026-11", today=DEC_6), THROUGH_DEC_5)
    assert span(fair.previous) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def test_cost_explorer_today_is_not_compared_with_yesterday():
    fair = fair_comparison(
        parse_period("today", today=DEC_6),
        Coverage("Cost Explorer data", DEC_6 - dt.timedelta(days=1)),
    )
    assert fair.previous is None
    assert fair.notes == ("The Cost Explorer data has no data after Dec 5, 2026 yet.",)


# --- gaps, per part of the export ---------------------------------------------------------

TWO_ACCOUNTS = coverage_from_days(
    "FOCUS export",
    {
        "AWS account 111111111111": days("2026-07-01", "2026-09-01"),
        "AWS account 222222222222": days("2026-11-01", "2026-12-05"),
    },
)


def test_an_export_ending_for_one_account_and_starting_for_another_has_a_named_gap():
    assert TWO_ACCOUNTS is not None
    assert (TWO_ACCOUNTS.first, TWO_ACCOUNTS.through, TWO_ACCOUNTS.gaps) == (
        dt.date(2026, 7, 1),
        dt.date(2026, 12, 5),
        (
            Gap(
                dt.date(2026, 9, 2),
                dt.date(2026, 11, 1),
                ("AWS account 111111111111", "AWS account 222222222222"),
            ),
        ),
    )
    assert TWO_ACCOUNTS.gaps[0].describe() == (
        "no data for AWS account 111111111111 or AWS account 222222222222 "
        "from Sep 2 to Oct 31, 2026"
    )


def test_a_comparison_with_days_in_the_gap_has_no_change_and_names_the_gap():
    fair = fair_comparison(parse_period("2026-11", today=DEC_6), TWO_ACCOUNTS)
    assert fair.previous is None
    assert fair.notes == (
        "There is no data for Oct 1 – Oct 31, 2026 to compare with, so no change is shown.",
        "The FOCUS export has no data for AWS account 111111111111 or AWS account "
        "222222222222 from Sep 2 to Oct 31, 2026.",
    )
    inside = fair_comparison(parse_period("2026-09", today=DEC_6), TWO_ACCOUNTS)
    assert inside.previous is None
    assert inside.notes[0] == "Part of this period has no data, so no change is shown."


def test_one_account_missing_days_while_another_has_them_is_a_gap_of_that_account():
    coverage = coverage_from_days(
        "FOCUS export",
        {
            "account 111111111111": days("2026-10-01", "2026-10-09")
            + days("2026-10-13", "2026-11-30"),
            "account 222222222222": days("2026-10-01", "2026-11-30"),
        },
    )
    assert coverage is not None
    assert coverage.gaps == (
        Gap(dt.date(2026, 10, 10), dt.date(2026, 10, 13), ("account 111111111111",)),
    )
    assert not coverage.covers(dt.date(2026, 10, 11)) and coverage.covers(dt.date(2026, 10, 13))
    fair = fair_comparison(parse_period("2026-11", today=DEC_6), coverage)
    assert fair.previous is None
    assert "no data for account 111111111111 from Oct 10 to Oct 12, 2026" in fair.notes[-1]


def test_an_export_without_parts_names_its_gap_without_a_part():
    coverage = coverage_from_days(
        "CUR export", {"": days("2026-10-01", "2026-10-05") + days("2026-10-08", "2026-10-20")}
    )
    assert coverage is not None
    assert [gap.describe() for gap in coverage.gaps] == ["no data from Oct 6 to Oct 7, 2026"]


def test_no_days_is_no_coverage():
    assert coverage_from_days("FOCUS export", {"": [], "AWS": []}) is None


# --- the property: like with like, over random coverage ------------------------------------

START = dt.date(2026, 1, 1)
_day_offsets = st.integers(min_value=0, max_value=400)


@st.composite
def coverages(draw: st.DrawFn) -> Coverage:
    first = START + dt.timedelta(days=draw(_day_offsets))
    through = first + dt.timedelta(days=draw(st.integers(min_value=0, max_value=300)))
    gaps = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        start = first + dt.timedelta(days=draw(st.integers(min_value=1, max_value=300)))
        length = draw(st.integers(min_value=1, max_value=40))
        if start + dt.timedelta(days=length) <= through:
            gaps.append(Gap(start, start + dt.timedelta(days=length), ("account 1",)))
    return Coverage("export", through, first, tuple(gaps))


@st.composite
def asked_periods(draw: st.DrawFn) -> tuple[Period, dt.date]:
    today = START + dt.timedelta(days=draw(st.integers(min_value=1, max_value=800)))
    text = draw(
        st.sampled_from(["mtd", "yesterday", "last 7d", "last 30d", "last 90d", "last month"])
        | st.integers(min_value=1, max_value=12).map(lambda month: f"2026-{month:02d}")
        | st.integers(min_value=0, max_value=60).map(
            lambda back: (
                f"{today - dt.timedelta(days=back + 10)}..{today - dt.timedelta(days=back)}"
            )
        )
    )
    try:
        return parse_period(text, today=today), today
    except Exception:  # a month after today: not a period anyone can ask about
        return parse_period("mtd", today=today), today


def covered_days(period: Period, coverage: Coverage) -> int:
    return sum(coverage.covers(period.start + dt.timedelta(days=n)) for n in range(period.days))


def whole_month(period: Period) -> bool:
    return period.start.day == 1 and period.end.day == 1


@given(asked_periods(), coverages())
def test_a_comparison_covers_the_same_number_of_covered_days_on_both_sides(asked, coverage):
    period, _ = asked
    fair = fair_comparison(period, coverage)
    assert fair.period == cut_at(period, coverage.through)
    if fair.previous is None:
        assert fair.notes, "no change figure without saying why"
        return
    now, before = fair.period, fair.previous
    # Every day compared is in the data: a gap or a day before it is never taken as $0.
    assert covered_days(now, coverage) == now.days
    assert covered_days(before, coverage) == before.days
    # Like with like: as many days on both sides (whole calendar months, both entirely in
    # the data, are compared whole: November with October).
    if not (whole_month(now) and whole_month(before)):
        assert now.days == before.days
    assert before.end <= now.start

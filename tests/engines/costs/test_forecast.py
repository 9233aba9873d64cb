"""Month-end forecasts from daily costs: arithmetic on hand-built series."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engines.costs.forecast import MonthEndForecast, NotEnoughHistoryError, forecast_month_end
from engines.costs.forecast_models import Forecast
from engines.errors import CostSourceError
from engines.models import Metric, Period

# The backtest lives with the benchmarks (it prints the figures the docs quote); load it by path.
_BACKTEST = Path(__file__).parents[3] / "benchmarks" / "forecast_backtest.py"
_spec = importlib.util.spec_from_file_location("forecast_backtest", _BACKTEST)
assert _spec is not None and _spec.loader is not None
backtest = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = backtest  # its dataclasses look their module up
_spec.loader.exec_module(backtest)

D = Decimal
MARCH_20 = date(2025, 3, 20)


def series(first: date, *amounts: str | int) -> list[tuple[date, Decimal]]:
    return [(first + timedelta(days=i), D(str(amount))) for i, amount in enumerate(amounts)]


def flat(first: date, last: date, amount: str | int) -> list[tuple[date, Decimal]]:
    return series(first, *[amount] * ((last - first).days + 1))


def forecast(daily: list[tuple[date, Decimal]], today: date = MARCH_20) -> MonthEndForecast:
    return forecast_month_end(daily, today=today, metric=Metric.BILLED, currency="USD")


def band(result: MonthEndForecast) -> Decimal:
    assert result.upper is not None
    return result.upper - result.amount


def test_a_flat_month_is_actual_plus_remaining_days_at_the_rate() -> None:
    result = forecast(flat(date(2025, 3, 1), date(2025, 3, 19), 100))

    assert result.actual == D(1900)
    assert result.rest.period == Period(date(2025, 3, 20), date(2025, 4, 1), "rest of March 2025")
    assert result.rest.amount == D(1200)  # 12 days (today included) × 100
    assert result.amount == D(3100)
    assert result.lower == result.upper == D(3100)  # no variation, no band
    assert result.period == Period(date(2025, 3, 1), date(2025, 4, 1), "March 2025")
    assert (result.metric, result.currency) == (Metric.BILLED, "USD")
    assert result.method == (
        "month to date (Mar 1–19) + run-rate of the last 14 days (100.00 USD/day) "
        "for 12 days; 80% band from day-to-day variation"
    )


def test_todays_partial_cost_is_neither_actual_nor_in_the_rate() -> None:
    daily = flat(date(2025, 3, 1), date(2025, 3, 19), 100) + [(MARCH_20, D(7))]

    assert forecast(daily) == forecast(daily[:-1])


def test_a_rising_month_follows_its_trend() -> None:
    # 10, 20, ..., 280 on Feb 20..Mar 19: the month goes on rising 10 a day, to 400 on Mar 31.
    result = forecast(series(date(2025, 2, 20), *range(10, 290, 10)))

    assert result.actual == sum(range(100, 290, 10))  # Mar 1..19: 3,610
    assert result.rest.amount == sum(range(290, 410, 10))  # Mar 20..31: 4,140
    assert result.amount == D(7750)  # the flat run-rate said 3,610 + 12 × 215 = 6,190
    assert result.lower == result.upper == result.amount  # a perfect line: no band
    assert result.method == (
        "month to date (Mar 1–19) + linear trend of the last 28 days, with weekday pattern "
        "(daily cost rising 10.00 USD each day) for 12 days; "
        "80% band from the scatter around the trend"
    )


def test_each_weekday_keeps_its_level_on_the_trend() -> None:
    # Weekdays cost 100 and weekend days 20, all rising 2 a day, from Feb 15 (a Saturday).
    def cost(day: date) -> int:
        return (20 if day.weekday() >= 5 else 100) + 2 * (day - date(2025, 2, 15)).days

    days = [date(2025, 2, 15) + timedelta(days=n) for n in range(45)]  # to Mar 31

    result = forecast([(day, D(cost(day))) for day in days if day < MARCH_20])

    assert result.amount == sum(cost(day) for day in days if day.month == 3)
    assert result.lower == result.upper == result.amount
    assert "linear trend of the last 28 days, with weekday pattern" in result.method


def test_a_falling_trend_does_not_forecast_days_below_zero() -> None:
    # 560, 540, ..., 20 on Feb 20..Mar 19: the line reaches 0 on Mar 20 and would go on down.
    result = forecast(series(date(2025, 2, 20), *range(560, 0, -20)))

    assert result.rest.amount == 0
    assert result.lower == result.actual
    assert "daily cost falling 20.00 USD each day" in result.method


def test_noise_without_a_trend_keeps_the_run_rate_of_the_last_14_days() -> None:
    noise = [104, 93, 110, 97, 101, 88, 112, 99, 95, 107, 102, 91, 109, 96] * 2
    result = forecast(series(date(2025, 2, 20), *noise))

    assert result.rest.amount == D(sum(noise[14:])) / 14 * 12
    assert result.method.startswith("month to date (Mar 1–19) + run-rate of the last 14 days")


def test_with_14_to_27_days_a_trend_is_the_run_rate_of_the_last_14() -> None:
    # 10, 20, ..., 190 on Mar 1..19: too short for a trend; the window Mar 6..19 is 60..190.
    result = forecast(series(date(2025, 3, 1), *range(10, 200, 10)))

    assert result.actual == D(1900)
    assert result.rest.amount == D(1500)
    # σ = √1750 (sample), band = 1.2816 · σ · √(12 + 12²/14)
    assert band(result).quantize(D("0.01")) == D("253.10")
    assert result.lower is not None
    assert (result.amount - result.lower).quantize(D("0.01")) == D("253.10")


def test_a_spike_raises_the_rate_and_widens_the_band() -> None:
    daily = flat(date(2025, 3, 1), date(2025, 3, 19), 100)
    daily[9] = (date(2025, 3, 10), D(1500))

    result = forecast(daily)

    assert result.actual == D(3300)
    assert result.rest.amount == D(2400)  # (13 × 100 + 1500) / 14 = 200 a day
    assert band(result).quantize(D(1)) == D(2264)
    assert result.rest.lower is not None
    assert result.rest.lower.quantize(D(1)) == D(136)


def test_the_band_stops_at_zero_when_no_day_is_negative() -> None:
    daily = flat(date(2025, 3, 1), date(2025, 3, 19), 1)
    daily[18] = (date(2025, 3, 19), D(500))

    result = forecast(daily)

    assert result.rest.lower == 0
    assert result.lower == result.actual


def test_credits_may_take_the_band_below_zero() -> None:
    daily = series(date(2025, 3, 6), *([10, -30] * 7))

    result = forecast(daily)

    assert result.rest.amount == D(-120)
    assert result.rest.lower is not None and result.rest.lower < D(-120)


def test_early_in_the_month_the_rate_comes_from_last_month() -> None:
    daily = flat(date(2025, 2, 15), date(2025, 2, 28), 50) + series(date(2025, 3, 1), 80, 80)

    result = forecast(daily, today=date(2025, 3, 3))

    assert result.actual == D(160)
    assert result.rest.period.start == date(2025, 3, 3)
    assert result.rest.period.days == 29
    assert result.rest.amount == D(760) / 14 * 29  # window Feb 17..Mar 2
    assert result.method.startswith(
        "month to date (Mar 1–2) + run-rate of the last 14 days (54.29 USD/day) for 29 days"
    )


def test_on_the_first_the_whole_month_is_forecast() -> None:
    result = forecast(flat(date(2025, 2, 1), date(2025, 2, 28), 10), today=date(2025, 3, 1))

    assert result.actual == 0
    assert result.rest.period == Period(date(2025, 3, 1), date(2025, 4, 1), "rest of March 2025")
    assert result.amount == D(310)
    assert result.method.startswith("run-rate of the last 14 days (10.00 USD/day) for 31 days")


def test_on_the_last_day_one_day_is_forecast() -> None:
    result = forecast(flat(date(2025, 3, 1), date(2025, 3, 30), 10), today=date(2025, 3, 31))

    assert result.rest.period.days == 1
    assert result.amount == D(310)
    assert "(10.00 USD/day) for 1 day;" in result.method


@pytest.mark.parametrize(("year", "days_left", "month_end"), [(2024, 10, 2900), (2025, 9, 2800)])
def test_february_has_28_or_29_days(year: int, days_left: int, month_end: int) -> None:
    today = date(year, 2, 20)
    result = forecast(flat(date(year, 2, 1), date(year, 2, 19), 100), today=today)

    assert result.rest.period.days == days_left
    assert result.amount == D(month_end)


def test_days_a_lagging_export_lacks_are_forecast_not_zero() -> None:
    result = forecast(flat(date(2025, 3, 1), date(2025, 3, 17), 100))

    assert result.actual == D(1700)
    assert result.rest.period.start == date(2025, 3, 18)
    assert result.rest.period.days == 14
    assert result.amount == D(3100)
    assert result.method.startswith(
        "month to date (Mar 1–17) + run-rate of the last 14 days (100.00 USD/day) for 14 days"
    )


def test_a_lag_across_the_month_boundary_forecasts_only_this_month() -> None:
    result = forecast(flat(date(2025, 2, 1), date(2025, 2, 27), 10), today=date(2025, 3, 2))

    assert result.actual == 0
    assert result.rest.period.start == date(2025, 3, 1)
    assert result.amount == D(310)


def test_a_missing_day_inside_the_window_cost_nothing() -> None:
    daily = flat(date(2025, 3, 1), date(2025, 3, 19), 140)
    del daily[14]  # Mar 15

    result = forecast(daily)

    assert result.actual == D(2520)
    assert result.rest.amount == D(13 * 140) / 14 * 12


def test_a_day_listed_twice_is_summed() -> None:
    daily = flat(date(2025, 3, 1), date(2025, 3, 19), 50) * 2

    assert forecast(daily).amount == D(3100)  # 100 a day


def test_with_7_to_13_days_the_rate_is_the_last_7() -> None:
    daily = series(date(2025, 3, 9), 1000, 1000, 1000, 7, 7, 7, 7, 7, 7, 7, 7)

    result = forecast(daily)

    assert result.rest.amount == D(7 * 12)
    assert "run-rate of the last 7 days (7.00 USD/day)" in result.method


def test_fewer_than_7_complete_days_cannot_be_forecast() -> None:
    daily = flat(date(2025, 3, 14), date(2025, 3, 19), 100) + [(MARCH_20, D(5))]

    with pytest.raises(NotEnoughHistoryError) as caught:
        forecast(daily)

    assert isinstance(caught.value, CostSourceError)
    assert str(caught.value) == (
        "I can't forecast March 2025 yet: the daily costs cover 6 complete days "
        "(Mar 14–19), and I need at least 7 to estimate a daily run-rate."
    )


def test_no_complete_day_cannot_be_forecast() -> None:
    with pytest.raises(NotEnoughHistoryError, match="the daily costs have no complete day yet"):
        forecast([(MARCH_20, D(5))])


def test_a_non_finite_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        forecast([(date(2025, 3, 1), D("NaN"))])


def test_a_cost_explorer_forecast_gets_the_actual_added_the_same_way() -> None:
    rest = Forecast(
        period=Period(date(2026, 10, 17), date(2026, 11, 1), "rest of October 2026"),
        metric=Metric.EFFECTIVE,
        currency="USD",
        amount=D("500.10"),
        lower=D("400"),
        upper=None,
        method="AWS Cost Explorer forecast (80% prediction interval)",
    )

    result = MonthEndForecast(actual=D("1000.05"), rest=rest)

    assert result.period == Period(date(2026, 10, 1), date(2026, 11, 1), "October 2026")
    assert (result.amount, result.lower, result.upper) == (D("1500.15"), D("1400.05"), None)
    assert result.method == (
        "month to date (Oct 1–16) + AWS Cost Explorer forecast (80% prediction interval)"
    )


def test_too_little_history_across_months_names_both_months() -> None:
    daily = flat(date(2025, 2, 26), date(2025, 3, 2), 100)

    with pytest.raises(NotEnoughHistoryError, match=r"cover 5 complete days \(Feb 26–Mar 2\)"):
        forecast(daily, today=date(2025, 3, 3))


def test_the_80_percent_band_holds_about_80_percent_of_month_ends() -> None:
    """400 synthetic months of six kinds (flat, rising, falling, weekly, noisy, spikes)."""
    trials = backtest.backtest(67, seed=2025)

    assert 0.70 <= backtest.coverage(trials) <= 0.90
    assert backtest.coverage(trials, old=True) < 0.65  # the flat run-rate misses trends
    assert backtest.mape(trials) < backtest.mape(trials, old=True)

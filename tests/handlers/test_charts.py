"""The charts a digest and ``/cost trend`` post: read back from the PNG, as a person sees them."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from PIL import Image

from handlers.cost.charts import AVERAGE_COLOR, BAR_COLOR, render_daily_trend_png

PLOT_TOP = 46  # the legend's swatch sits above this line: only bars below it are counted


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).convert("RGB")


def _bar_spans(png: bytes) -> list[tuple[int, int]]:
    """Each bar's (top, bottom) row in pixels, left to right: a run of columns holding bar
    colour below the legend."""
    image = _image(png)
    blue = _rgb(BAR_COLOR)
    pixels = image.load()
    assert pixels is not None
    spans: list[tuple[int, int]] = []
    run: list[tuple[int, int]] = []
    for x in range(image.width + 1):
        rows = [] if x == image.width else [
            y for y in range(PLOT_TOP, image.height) if pixels[x, y] == blue
        ]  # fmt: skip
        if rows:
            run.append((min(rows), max(rows)))
        elif run:
            spans.append(run[len(run) // 2])
            run = []
    return spans


def _bars(png: bytes) -> list[int]:
    """Each bar's height in pixels, left to right."""
    return [bottom - top + 1 for top, bottom in _bar_spans(png)]


def _count(png: bytes, colour: str) -> int:
    wanted = _rgb(colour)
    image = _image(png)
    return sum(1 for pixel in image.get_flattened_data() if pixel == wanted)


def days(*amounts: int, first: dt.date = dt.date(2026, 10, 1)) -> list[tuple[dt.date, Decimal]]:
    return [(first + dt.timedelta(days=n), Decimal(amount)) for n, amount in enumerate(amounts)]


def test_a_chart_is_an_800_by_340_png_with_one_bar_a_day_in_proportion_to_the_cost():
    png = render_daily_trend_png(days(100, 200, 50, 100), title="nlp · billed cost")

    assert _image(png).size == (800, 340)
    first, second, third, fourth = _bars(png)
    assert abs(second - 2 * first) <= 2  # twice the cost, twice as tall
    assert abs(third * 2 - first) <= 2
    assert abs(fourth - first) <= 1


def test_a_missing_day_leaves_a_gap_where_its_bar_would_be():
    both = days(100, 100, 100)
    gap = [both[0], both[2]]  # the second day has no cost line at all

    assert len(_bars(render_daily_trend_png(gap, title="gap"))) == 2
    with_gap = _image(render_daily_trend_png(gap, title="gap"))
    full = _image(render_daily_trend_png(both, title="gap"))
    assert with_gap.size == full.size


def test_the_seven_day_average_is_drawn_from_the_seventh_day_only_when_daily():
    a_week = render_daily_trend_png(days(*[100] * 8), title="a week")
    six_days = render_daily_trend_png(days(*[100] * 6), title="six days")
    weekly = render_daily_trend_png(days(*[100] * 8), title="weekly", unit="week")

    red_line = _count(a_week, AVERAGE_COLOR)
    assert red_line > 40  # the line, and its swatch in the legend
    assert _count(six_days, AVERAGE_COLOR) == 0
    assert _count(weekly, AVERAGE_COLOR) == 0


def test_a_credit_is_a_bar_below_zero_as_tall_as_its_amount():
    png = render_daily_trend_png(days(100, -100, 100), title="credit")

    (charge_top, charge_bottom), (credit_top, credit_bottom), _ = _bar_spans(png)
    assert abs((charge_bottom - charge_top) - (credit_bottom - credit_top)) <= 2  # as tall
    assert charge_bottom <= credit_top + 1  # the credit hangs below where the charges stand


def test_charts_drawn_one_after_another_never_show_each_others_bars():
    tall = render_daily_trend_png(days(*[900] * 30), title="team-a · billed cost")
    short = render_daily_trend_png(days(100, 300), title="team-b · billed cost")
    short_again = render_daily_trend_png(days(100, 300), title="team-b · billed cost")

    assert short == short_again
    assert len(_bars(tall)) == 30 and len(_bars(short)) == 2


def test_weekly_and_monthly_bars_and_other_currencies_draw():
    weeks = [(dt.date(2025, 12, 4) + dt.timedelta(days=7 * n), Decimal(70 + n)) for n in range(53)]
    for unit in ("week", "month"):
        png = render_daily_trend_png(weeks[:: 1 if unit == "week" else 4], title="nlp",
                                     unit=unit, currency="CHF")  # fmt: skip
        assert len(_bars(png)) == (53 if unit == "week" else 14)

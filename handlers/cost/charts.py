"""Charts as PNG bytes: bars (a day, week or month each) and their 7-day average.

Drawn straight with Pillow (matplotlib's own image library, so always installed with it) in
matplotlib's look: its DejaVu Sans font, the same colours, a title top left, the legend
above the plot on the right, a light grid, dates slanted under the bars. A morning of
digests draws one chart per team; matplotlib took about 100 ms for each (its tick and
layout machinery, not the drawing), this a few. Text is antialiased by FreeType and the
average's line is drawn at twice the size and halved, so both are smooth as matplotlib's.

Pure: no state is kept between charts but the loaded fonts (read-only), so charts drawn one
after another, or in several threads at once, never show each other's bars.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import io
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from handlers.blocks.common import CURRENCY_SYMBOLS

BAR_COLOR = "#4a90d9"
AVERAGE_COLOR = "#d0021b"
WIDTH, HEIGHT = 800, 340  # pixels, as matplotlib's 8 x 3.4 inches at 100 dpi
_BARS = {  # unit: (legend, days a bar spans, date format under it)
    "day": ("daily", 1, "%b %-d"),
    "week": ("weekly", 7, "%b %-d"),
    "month": ("monthly", 30, "%b %Y"),
}
_LINE_SCALE = 2  # the average line is drawn at twice the size, then halved: antialiased
_TEXT = (0, 0, 0)
_GRID = (231, 231, 231)  # matplotlib's grid colour (#b0b0b0) at alpha 0.3 on white
_MAX_DATE_LABELS = 10


def render_daily_trend_png(
    days: Sequence[tuple[dt.date, Decimal]],
    *,
    title: str,
    currency: str = "USD",
    unit: str = "day",
) -> bytes:
    """Cost as bars (one a day, week or month) with a 7-day moving average when daily;
    returns PNG bytes (800 x 340 pixels).

    Args:
        days: (first day of the bar, cost) in order; missing bars are drawn as zero.
        title: the chart's title, e.g. "nlp · billed cost · last 30 days".
        currency: ISO code for the axis labels.
        unit: what one bar adds up: "day", "week" or "month" (the legend says which).
    """
    from PIL import Image, ImageDraw

    legend, span, date_format = _BARS[unit]
    values = [float(amount) for _, amount in days]
    averages = _moving_average(values, 7) if unit == "day" and len(values) >= 7 else []
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    tick_font, title_font, legend_font = _font(10), _font(11), _font(8)

    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    low, high, ticks = _value_axis([*values, *averages])
    labels = [f"{symbol}{tick:,.0f}" for tick in ticks]
    label_width = max((draw.textlength(text, font=tick_font) for text in labels), default=0)

    dates = [day for day, _ in days]
    first = dates[0] if dates else dt.date(2000, 1, 1)  # no bars: any day will do
    last = dates[-1] if dates else first
    if span == 1:  # bars centred on their day
        x_low, x_high = -0.5 - 0.6, (last - first).days + 0.5 + 0.6
    else:  # bars from their first day over 0.8 of their span
        x_low, x_high = -0.2 * span, (last - first).days + 0.8 * span + 0.2 * span
    date_labels = _date_ticks(dates, date_format)
    slant = math.sin(math.radians(30))
    date_drop = max(
        (draw.textlength(text, font=tick_font) * slant for _, text in date_labels), default=0
    )

    left = int(label_width + 14)
    right = WIDTH - 12
    top = 46
    bottom = HEIGHT - int(date_drop + 24)

    def x_of(day: dt.date, offset: float = 0.0) -> float:
        position = (day - first).days + offset
        return left + (position - x_low) / (x_high - x_low) * (right - left)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    for tick, text in zip(ticks, labels, strict=True):  # grid, then the y labels
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=_GRID, width=1)
        draw.line([(left - 4, y), (left, y)], fill=_TEXT, width=1)
        draw.text((left - 6, y), text, font=tick_font, fill=_TEXT, anchor="rm")

    zero = y_of(0.0)
    for day, value in zip(dates, values, strict=True):
        start = x_of(day, -0.4) if span == 1 else x_of(day)
        end = start + 0.8 * span / (x_high - x_low) * (right - left)
        y = y_of(value)
        draw.rectangle([start, min(y, zero), end, max(y, zero)], fill=BAR_COLOR)
    if averages:
        points = [(x_of(day), y_of(value)) for day, value in zip(dates[6:], averages, strict=True)]
        _smooth_line(image, points, AVERAGE_COLOR, width=2)

    draw.line([(left, top), (left, bottom)], fill=_TEXT, width=1)  # the left and bottom spines
    draw.line([(left, bottom), (right, bottom)], fill=_TEXT, width=1)
    for day, text in date_labels:
        x = x_of(day)
        draw.line([(x, bottom), (x, bottom + 4)], fill=_TEXT, width=1)
        _slanted(image, text, tick_font, (x, bottom + 7))

    draw.text((left, top - 10), title, font=title_font, fill=_TEXT, anchor="ls")
    _legend(draw, legend_font, right, top - 12, legend, bool(averages))

    buffer = io.BytesIO()
    # A chart is a few flat colours and their antialiased blends: a palette of exactly those
    # keeps it as drawn, and a palette image encodes in half the time (and size) of RGB.
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


def _legend(draw: Any, font: Any, right: float, y: float, bars: str, average: bool) -> None:
    """Right-aligned on the line ``y``: the average's swatch and name, then the bars'."""
    entries = ([("line", "7-day average")] if average else []) + [("bar", bars)]
    x = right
    for kind, text in reversed(entries):
        x -= draw.textlength(text, font=font)
        draw.text((x, y), text, font=font, fill=_TEXT, anchor="lm")
        x -= 26
        if kind == "bar":
            draw.rectangle([x + 2, y - 4, x + 20, y + 3], fill=BAR_COLOR)
        else:
            draw.line([(x + 2, y), (x + 20, y)], fill=AVERAGE_COLOR, width=2)
        x -= 16


def _smooth_line(image: Any, points: list[tuple[float, float]], color: str, width: int) -> None:
    """An antialiased polyline: drawn at ``_LINE_SCALE`` times the size on a mask of the
    line's own box, halved, and painted through it."""
    from PIL import Image, ImageDraw

    k = _LINE_SCALE
    pad = width + 2
    box_left = max(0, int(min(x for x, _ in points)) - pad)
    box_top = max(0, int(min(y for _, y in points)) - pad)
    box_right = min(image.width, int(max(x for x, _ in points)) + pad + 1)
    box_bottom = min(image.height, int(max(y for _, y in points)) + pad + 1)
    mask = Image.new("L", ((box_right - box_left) * k, (box_bottom - box_top) * k), 0)
    scaled = [((x - box_left) * k, (y - box_top) * k) for x, y in points]
    ImageDraw.Draw(mask).line(scaled, fill=255, width=width * k, joint="curve")
    image.paste(color, (box_left, box_top), mask.reduce(k))


def _slanted(image: Any, text: str, font: Any, anchor: tuple[float, float]) -> None:
    """``text`` turned 30 degrees anticlockwise, its right end at ``anchor`` (the tick)."""
    turned = _slanted_mask(text, font)
    x, y = anchor
    image.paste(_TEXT, (int(x - turned.width), int(y)), turned)


@functools.lru_cache(maxsize=512)
def _slanted_mask(text: str, font: Any) -> Any:
    """The coverage of ``text`` turned 30 degrees (every digest shows the same dates: drawn
    once). Never drawn on: a cached mask is only read."""
    from PIL import Image, ImageDraw

    _, _, right, bottom = font.getbbox(text)
    label = Image.new("L", (int(right) + 2, int(bottom) + 2), 0)
    ImageDraw.Draw(label).text((0, 0), text, font=font, fill=255)
    return label.rotate(30, resample=Image.Resampling.BICUBIC, expand=True)


def _value_axis(values: Sequence[float]) -> tuple[float, float, list[float]]:
    """The value axis's bounds and its ticks: round steps (1, 2, 2.5 or 5 x 10^n), zero
    included, a little room above the highest bar."""
    high = max([0.0, *values])
    low = min([0.0, *values])
    if high == low:
        high = low + 1.0
    high += (high - low) * 0.05
    if low < 0:
        low -= (high - low) * 0.05
    raw = (high - low) / 7
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return low, high, [n * step for n in range(first, last + 1)]


def _date_ticks(dates: Sequence[dt.date], date_format: str) -> list[tuple[dt.date, str]]:
    """At most ``_MAX_DATE_LABELS`` bars labelled, evenly spaced, ending on the last one."""
    if not dates:
        return []
    every = max(1, math.ceil(len(dates) / _MAX_DATE_LABELS))
    chosen = dates[::-1][::every][::-1]
    return [(day, day.strftime(date_format)) for day in chosen]


@functools.lru_cache(maxsize=1)
def _palette() -> Any:
    """The chart's colours and 16 steps of each blend its text and line edges make."""
    from PIL import Image

    white, black, bar, average = (255, 255, 255), _TEXT, _rgb(BAR_COLOR), _rgb(AVERAGE_COLOR)
    # Bars, grid and spines are drawn on whole pixels; text and the average's line blend.
    pairs = [(white, black), (white, average), (bar, average), (_GRID, average), (white, bar)]
    colours = dict.fromkeys(
        tuple(round(a + (b - a) * step / 16) for a, b in zip(base, ink, strict=True))
        for base, ink in pairs
        for step in range(17)
    )
    palette = Image.new("P", (1, 1))
    palette.putpalette([value for colour in colours for value in colour])
    return palette


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@functools.lru_cache(maxsize=8)
def _font(points: int) -> Any:
    """DejaVu Sans (matplotlib's default font) at ``points`` for 100 dpi."""
    from PIL import ImageFont

    pixels = round(points * 100 / 72)
    spec = importlib.util.find_spec("matplotlib")
    folders = spec.submodule_search_locations if spec else None
    if folders:
        path = Path(next(iter(folders))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.exists():
            return ImageFont.truetype(str(path), pixels)
    return ImageFont.load_default(pixels)


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    return [sum(values[i - window + 1 : i + 1]) / window for i in range(window - 1, len(values))]

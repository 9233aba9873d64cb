"""Charts as PNG bytes, drawn with matplotlib's object API (pyplot is not thread-safe)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal

from handlers.blocks.common import CURRENCY_SYMBOLS

BAR_COLOR = "#4a90d9"
AVERAGE_COLOR = "#d0021b"
_BARS = {  # unit: (legend, days a bar spans, date format under it)
    "day": ("daily", 1, "%b %-d"),
    "week": ("weekly", 7, "%b %-d"),
    "month": ("monthly", 30, "%b %Y"),
}


def render_daily_trend_png(
    days: Sequence[tuple[dt.date, Decimal]],
    *,
    title: str,
    currency: str = "USD",
    unit: str = "day",
) -> bytes:
    """Cost as bars (one a day, week or month) with a 7-day moving average when daily;
    returns PNG bytes.

    Args:
        days: (first day of the bar, cost) in order; missing bars are drawn as zero.
        title: the chart's title, e.g. "nlp · billed cost · last 30 days".
        currency: ISO code for the axis labels.
        unit: what one bar adds up: "day", "week" or "month" (the legend says which).
    """
    # matplotlib takes a second to import: `costbot serve` starts without it, the first chart pays.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    dates = [day for day, _ in days]
    values = [float(amount) for _, amount in days]
    figure = Figure(figsize=(8, 3.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Matplotlib plots dates through its units registry, but its type hints accept numbers
    # and arrays only (matplotlib/matplotlib#27140): the two ignores below are for that.
    legend, span, date_format = _BARS[unit]
    axes.bar(
        dates,  # type: ignore[arg-type]
        values,
        color=BAR_COLOR,
        width=0.8 * span,
        align="edge" if span > 1 else "center",
        label=legend,
    )
    if unit == "day" and len(values) >= 7:
        averages = _moving_average(values, 7)
        axes.plot(
            dates[6:],  # type: ignore[arg-type]
            averages,
            color=AVERAGE_COLOR,
            linewidth=2,
            label="7-day average",
        )
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{symbol}{value:,.0f}"))
    axes.set_title(title, fontsize=11, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    # Above the plot, right of the title: full bars would hide a legend inside it.
    axes.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=2, fontsize=8, frameon=False)

    axes.xaxis.set_major_formatter(DateFormatter(date_format))
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    return [sum(values[i - window + 1 : i + 1]) / window for i in range(window - 1, len(values))]

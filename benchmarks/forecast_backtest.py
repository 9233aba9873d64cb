"""How honest the month-end forecast of export files is: a backtest over synthetic months.

Each trial makes six weeks of daily cost before a month and the month itself, of one kind:

* ``flat``: one level, 5% day-to-day noise;
* ``rising`` / ``falling``: a level that grows (0.5–2% of the start a day) or shrinks
  (0.3–1%), 5% noise;
* ``weekly``: weekends at half the weekday cost, 5% noise;
* ``noisy``: one level, 25% noise;
* ``spikes``: one level, 5% noise, and on 4% of days (in history and month alike) a spike
  of 3–8 times the day's cost.

It forecasts from a random day of the month (the export lagging 1 to 3 days, as they do)
with ``engines.costs.forecast.forecast_month_end``, and with the old method (the flat run-rate of
the last 14 days alone), and compares both with the month as it turned out: how often the
80% band holds the realised month end (it should be about 80%), and the mean absolute
percentage error of the point forecast.

    .venv/bin/python benchmarks/forecast_backtest.py [--trials 200] [--seed 13]

``--trials`` is per kind. The last line is the figures line ``run_all.py`` reads.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock

from engines.costs import forecast
from engines.models import Metric

KINDS = ("flat", "rising", "falling", "weekly", "noisy", "spikes")
HISTORY_DAYS = 42
"""Days of history before the month (a digest asks for 42)."""
TARGET_COVERAGE = (0.75, 0.85)

Level = Callable[[int, dt.date], float]


@dataclass(frozen=True)
class Trial:
    kind: str
    covered: bool
    error: float  # |forecast - realised| / realised
    covered_old: bool
    error_old: float


def synthetic_month(kind: str, rng: random.Random) -> tuple[dt.date, list[tuple[dt.date, Decimal]]]:
    """A month's first day and daily costs from ``HISTORY_DAYS`` before it to its end."""
    month = dt.date(rng.randint(2024, 2026), rng.randint(1, 12), 1)
    days = calendar.monthrange(month.year, month.month)[1]
    first = month - dt.timedelta(days=HISTORY_DAYS)
    base = rng.uniform(100, 2000)
    growth = {"rising": rng.uniform(0.005, 0.02), "falling": -rng.uniform(0.003, 0.01)}
    slope = growth.get(kind, 0.0)
    noise = 0.25 if kind == "noisy" else 0.05
    daily = []
    for n in range(HISTORY_DAYS + days):
        day = first + dt.timedelta(days=n)
        level = base * (1 + slope * n)
        if kind == "weekly" and day.weekday() >= 5:
            level *= 0.5
        cost = level * max(0.0, rng.gauss(1, noise))
        if kind == "spikes" and rng.random() < 0.04:
            cost *= rng.uniform(3, 8)
        daily.append((day, Decimal(f"{cost:.2f}")))
    return month, daily


@contextmanager
def old_method() -> Iterator[None]:
    """The forecast before the trend: the flat run-rate of the last 14 days, always."""
    with mock.patch.object(forecast, "_trend_forecast", lambda *args, **kwargs: None):
        yield


def one_trial(kind: str, rng: random.Random) -> Trial:
    month, daily = synthetic_month(kind, rng)
    days = calendar.monthrange(month.year, month.month)[1]
    today = month + dt.timedelta(days=rng.randint(0, days - 1))
    lag = rng.randint(1, 3)  # the last complete day in the export is 1 to 3 days ago
    known = [(day, cost) for day, cost in daily if day <= today - dt.timedelta(days=lag)]
    realised = sum((cost for day, cost in daily if day >= month), Decimal(0))

    def judge() -> tuple[bool, float]:
        result = forecast.forecast_month_end(
            known, today=today, metric=Metric.BILLED, currency="USD"
        )
        assert result.lower is not None and result.upper is not None
        error = abs(result.amount - realised) / realised
        return result.lower <= realised <= result.upper, float(error)

    covered, error = judge()
    with old_method():
        covered_old, error_old = judge()
    return Trial(kind, covered, error, covered_old, error_old)


def backtest(trials_per_kind: int, seed: int = 13) -> list[Trial]:
    """``trials_per_kind`` trials of every kind, the same ones for the same seed."""
    rng = random.Random(seed)
    return [one_trial(kind, rng) for kind in KINDS for _ in range(trials_per_kind)]


def coverage(trials: list[Trial], *, old: bool = False) -> float:
    return sum(t.covered_old if old else t.covered for t in trials) / len(trials)


def mape(trials: list[Trial], *, old: bool = False) -> float:
    return sum(t.error_old if old else t.error for t in trials) / len(trials)


def main() -> None:
    from summary import figures_line, print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per kind")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    trials = backtest(args.trials, args.seed)
    print(f"{len(trials)} synthetic months, seed {args.seed}; 80% band, point error (MAPE)")
    print(f"  {'kind':8} {'coverage':>9} {'old':>6}   {'MAPE':>6} {'old':>6}")
    details = {}
    for kind in (*KINDS, "all"):
        some = trials if kind == "all" else [t for t in trials if t.kind == kind]
        row = {
            "coverage": round(coverage(some), 3),
            "coverage_old": round(coverage(some, old=True), 3),
            "mape": round(mape(some), 4),
            "mape_old": round(mape(some, old=True), 4),
        }
        details[kind] = row
        print(
            f"  {kind:8} {row['coverage']:>9.1%} {row['coverage_old']:>6.1%}   "
            f"{row['mape']:>6.2%} {row['mape_old']:>6.2%}"
        )
    low, high = TARGET_COVERAGE
    overall = details["all"]
    figures = [
        (
            "80% band coverage",
            f"{low:.0%}–{high:.0%}",
            f"{overall['coverage']:.1%} (old {overall['coverage_old']:.1%})",
            low <= overall["coverage"] <= high,
        ),
        (
            "point forecast MAPE",
            "below the old flat run-rate",
            f"{overall['mape']:.2%} (old {overall['mape_old']:.2%})",
            overall["mape"] < overall["mape_old"],
        ),
    ]
    print_table(figures)
    print(figures_line("forecast_backtest", figures, {"trials": len(trials), **details}))


if __name__ == "__main__":
    main()

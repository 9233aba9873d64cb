"""Which days a cost source's data covers, and fair comparisons over them.

The principle: compare like with like. A change is computed over the days covered on both
sides; against missing data there is no change figure at all. And every answer says which
day its data runs through.

``Coverage`` is what a source knows: the first and last day with data, and the gaps inside
(named by the part of the export that lacks them: a provider or billing account).
``fair_comparison`` cuts a period at the last day with data and picks the days to compare
it with, or none when those days (or the period's own) fall outside the data.

Pure: ``today`` is passed in where it matters; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engines.costs.periods import previous_period
from engines.models import Period

_ONE_DAY = dt.timedelta(days=1)
MAX_PERIOD_DAYS = 366
"""The most days one question covers: about a year. Longer periods keep their last days."""
_NAMED_PARTS = 4  # a gap names at most this many parts of the export, then "N more"


@dataclass(frozen=True)
class Gap:
    """Days inside the data with no lines: ``start`` inclusive, ``end`` exclusive.

    ``parts`` names what lacks them ("account 111111111111", "AWS account 1111…"); empty
    when the whole export lacks them with nobody to name.
    """

    start: dt.date
    end: dt.date
    parts: tuple[str, ...] = ()

    def describe(self) -> str:
        last = self.end - _ONE_DAY
        span = (
            f"on {last:%b %-d, %Y}"
            if self.start == last
            else f"from {self.start:%b %-d} to {last:%b %-d, %Y}"
        )
        if not self.parts:
            return f"no data {span}"
        named = list(self.parts[:_NAMED_PARTS])
        if len(self.parts) > _NAMED_PARTS:
            named.append(f"{len(self.parts) - _NAMED_PARTS} more")
        who = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
        return f"no data for {who} {span}"


@dataclass(frozen=True)
class Coverage:
    """The days a source has data for.

    Args:
        label: how notes name the data ("FOCUS export", "Cost Explorer").
        through: the last day with data.
        first: the first day with data (None: as far back as anyone asks).
        gaps: days between ``first`` and ``through`` with no data (for some part).
    """

    label: str
    through: dt.date
    first: dt.date | None = None
    gaps: tuple[Gap, ...] = ()

    def covers(self, day: dt.date) -> bool:
        if day > self.through or (self.first is not None and day < self.first):
            return False
        return not any(gap.start <= day < gap.end for gap in self.gaps)

    def missing(self, period: Period) -> tuple[Period, ...]:
        """The runs of days of ``period`` the data does not cover, in order."""
        runs: list[Period] = []
        start: dt.date | None = None
        day = period.start
        while day <= period.end:
            uncovered = day < period.end and not self.covers(day)
            if uncovered and start is None:
                start = day
            elif not uncovered and start is not None:
                runs.append(Period(start, day))
                start = None
            day += _ONE_DAY
        return tuple(runs)

    def gaps_in(self, period: Period) -> tuple[Gap, ...]:
        """The gaps that share a day with ``period``."""
        return tuple(g for g in self.gaps if g.start < period.end and period.start < g.end)


def coverage_from_days(
    label: str, days_by_part: Mapping[str, Iterable[dt.date]]
) -> Coverage | None:
    """The coverage of an export whose parts (providers, billing accounts) have data on
    the given days; None when no part has any.

    A gap is a run of days, between the export's first and last day, on which a part has
    no data although it has data before and after (named by that part), or on which no part
    has any (named by every part).

    Args:
        label: how notes name the export.
        days_by_part: each part's name ("" when the export does not say) and its days.
    """
    parts = {name: sorted(set(days)) for name, days in days_by_part.items()}
    parts = {name: days for name, days in parts.items() if days}
    if not parts:
        return None
    every_day = sorted({day for days in parts.values() for day in days})
    gaps: list[Gap] = []
    for start, end in _holes(every_day):  # no part has data
        gaps.append(Gap(start, end, tuple(sorted(name for name in parts if name))))
    if len(parts) > 1:
        for name, days in sorted(parts.items()):
            for start, end in _holes(days):
                inside = [(g.start, g.end) for g in gaps if g.start <= start and end <= g.end]
                if not inside:  # other parts have data then: only this part lacks it
                    gaps.append(Gap(start, end, (name or "part of the export",)))
    gaps.sort(key=lambda gap: (gap.start, gap.parts))
    return Coverage(label, every_day[-1], every_day[0], tuple(gaps))


@dataclass(frozen=True)
class Comparison:
    """What to report and what to compare it with.

    Args:
        period: the days reported: the asked period cut at the last day with data.
        previous: the days compared with; None when no fair comparison exists.
        notes: why there is no change figure, naming the days without data.
        data_through: the last day the data covers.
    """

    period: Period
    previous: Period | None
    notes: tuple[str, ...]
    data_through: dt.date | None


def fair_comparison(
    period: Period, coverage: Coverage | None, *, baseline: Period | None = None
) -> Comparison:
    """``period`` cut at the data's last day, and the days to compare it with.

    Without a ``baseline`` those are ``previous_period`` of the cut period: month to date
    through the 5th is compared with the 1st to the 5th of the month before, "last 7d"
    missing its last day with the 6 days before it. A ``baseline`` the user chose is cut at
    the data's last day too. When a day of the comparison falls outside the data (before
    it starts, in a gap, or the period itself after its end), there is no comparison:
    ``previous`` is None and the notes say which days have no data.

    Args:
        period: the period asked about.
        coverage: what the data covers (None: unknown, compared as asked).
        baseline: the period to compare with, when the user named one.
    """
    if coverage is None:
        return Comparison(period, baseline or previous_period(period), (), None)
    period = cut_at(period, coverage.through)
    previous = cut_at(baseline, coverage.through) if baseline else previous_period(period)
    if period.start > coverage.through:
        note = f"The {coverage.label} has no data after {coverage.through:%b %-d, %Y} yet."
        return Comparison(period, None, (note,), coverage.through)
    missing_before = coverage.missing(previous)
    gaps_now = coverage.gaps_in(period)
    notes: list[str] = []
    if missing_before:
        spans = ", ".join(_span(run.start, run.end) for run in missing_before)
        notes.append(f"There is no data for {spans} to compare with, so no change is shown.")
    elif gaps_now:
        notes.append("Part of this period has no data, so no change is shown.")
    for gap in coverage.gaps_in(period) + coverage.gaps_in(previous):
        note = f"The {coverage.label} has {gap.describe()}."
        if note not in notes:
            notes.append(note)
    fair = not missing_before and not gaps_now
    last_day_included = min(coverage.through, period.end - _ONE_DAY)
    return Comparison(period, previous if fair else None, tuple(notes), last_day_included)


def bound_period(
    period: Period, coverage: Coverage | None, *, max_days: int = MAX_PERIOD_DAYS
) -> tuple[Period, tuple[str, ...]]:
    """``period`` clipped to the data and capped at ``max_days``, with a note on the cap.

    Days before the data's first day and after its last are dropped (a period the data does
    not reach at all is returned as it is: the question says so). Beyond ``max_days`` only
    the last ``max_days`` are kept, and the note says which days were used. A period whose
    first day moved loses its label (it no longer means what was typed) and is compared as
    a window ("rolling"). The questions note the clipping themselves (what the data covers).

    Args:
        period: the period asked about.
        coverage: what the data covers (None: unknown, only capped).
        max_days: the longest period answered.
    """
    start, end = period.start, period.end
    if coverage is not None:
        if coverage.first is not None and start < coverage.first < end:
            start = coverage.first
        if start <= coverage.through < end - _ONE_DAY:
            end = coverage.through + _ONE_DAY
    notes: tuple[str, ...] = ()
    if (end - start).days > max_days:
        start = end - dt.timedelta(days=max_days)
        notes = (
            f"A question covers at most {max_days} days: this one uses the last {max_days}, "
            f"{_span(start, end)}.",
        )
    if (start, end) == (period.start, period.end):
        return period, notes
    if start == period.start:
        return Period(start, end, period.label, rolling=period.rolling), notes
    return Period(start, end, rolling=True), notes


def cut_at(period: Period, through: dt.date) -> Period:
    """``period`` without the days after ``through`` (unchanged when none, or when every
    day is after it)."""
    end = through + _ONE_DAY
    if period.end <= end or period.start >= end:
        return period
    return Period(period.start, end, period.label, rolling=period.rolling)


def coverage_up_to_yesterday(label: str, today: dt.date) -> Coverage:
    """What a source with no coverage of its own (Cost Explorer, Athena) is taken to
    cover: every day up to yesterday (today's costs are still arriving)."""
    return Coverage(label, today - _ONE_DAY)


def _holes(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Runs of missing days between sorted ``days``: (first missing, first present after)."""
    return [
        (before + _ONE_DAY, after)
        for before, after in zip(days, days[1:], strict=False)
        if after - before > _ONE_DAY
    ]


def _span(start: dt.date, end: dt.date) -> str:
    return Period(start, end).describe()

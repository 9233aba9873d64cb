"""The morning digest of a team: what it spent, where that is heading, what moved, what to do.

Pure apart from the cost source it is handed: the caller passes ``today``, the billing date
(``periods.billing_date``: the UTC date, as every answer uses), the local date the digest is
posted for, and the team's changes (from the changes table); nothing here reads the clock.

A digest is built from organisation-wide questions to the source, the same for every team
(``team_days.team_daily_costs``): cost by team and day over the last six weeks, and by
team, day and service over the two weeks its movers, anomalies and weekly summary read.
Each is allocated once and every team's days are read from it in one pass (remembered in
the ``AllocationCache`` handed in), so a morning of digests for every team costs one scan
and one allocation of each question, and the budget alerts after them none.

Figures (all in the team's main currency and one metric, shared costs included):

* **The day**: the last complete day with cost before today (normally yesterday; exports
  lag), against the mean of the 7 days before it.
* **Month to date**: the team's month view (``engines.costs.month_view``), as every surface
  shows it: the month through the last complete day (``data_through``), shared costs split
  as ``/cost team`` splits them, against the monthly budget, with the month-end forecast of
  ``engines.costs.forecast`` (the trend of the last 28 complete days, or the run-rate of the last
  14; the digest says which).
* **Movers**: the 3 services whose cost on the day differs most from their 7-day mean.
* **Anomalies**: services whose cost on the day is more than 3 standard deviations and
  more than ``ANOMALY_MIN_SHARE`` of the team's daily mean above their previous 14 days.
* **Savings**: changes waiting for an approver, approved or scheduled ones, and those
  carried out this month (their monthly saving, and the part of it already realized).
* **Last week** (Monday's digest, when the team wants it): the 7 days before today
  against the 7 before them, with their movers.
* **Unit cost** (teams with SageMaker endpoint lines in the month so far): per model, the
  cost per 1,000 invocations and its trend against the same days before, exactly
  ``/cost unit <team>``'s answer (``engines.costs.unit_cost.unit_cost``, the same period).
  Which teams have endpoints is one organisation-wide question (``endpoint_owners``), so
  CloudWatch is asked only for those. When CloudWatch cannot be read, the section says so
  and the rest of the digest stands.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import explain
from engines.changes.models import Change, State
from engines.costs import answers, team_days
from engines.costs.allocation_cache import AllocationCache
from engines.costs.forecast import MonthEndForecast
from engines.costs.month_view import MonthView, month_view
from engines.costs.periods import parse_period
from engines.costs.sources.protocol import Source
from engines.costs.unit_cost import CloudWatchFor, UnitCost, endpoint_owners, unit_cost
from engines.models import Metric, Period, SharedCost, Team

HISTORY_DAYS = 42
"""How far back a digest looks for its day, movers, anomalies and chart: six weeks, so an
export's lag still leaves two weeks of baseline (the month itself is the month view's)."""
AVERAGE_DAYS = 7
ANOMALY_BASELINE_DAYS = 14
ANOMALY_SIGMAS = 3
ANOMALY_MIN_SHARE = Decimal("0.05")
MOVERS = 3
CHART_DAYS = 14

_ZERO = Decimal(0)
_ONE_DAY = dt.timedelta(days=1)
_CENT = Decimal("0.01")


# --- when ------------------------------------------------------------------------------------


def local_now(team: Team, now: dt.datetime) -> dt.datetime:
    """``now`` (aware) on the team's wall clock."""
    return now.astimezone(ZoneInfo(team.timezone))


def digest_due_date(team: Team, now: dt.datetime) -> dt.date | None:
    """The local date whose digest is due at ``now``, or None.

    Due once the team's wall clock has reached ``digest_time`` today (on weekdays unless
    the team wants weekends). Keyed by the local date, so a job that runs every minute,
    restarts, or meets a DST change still finds one digest per day: the caller posts each
    date once.
    """
    local = local_now(team, now)
    if local.weekday() >= 5 and not team.digest_weekends:
        return None
    if (local.hour, local.minute) < (team.digest_time.hour, team.digest_time.minute):
        return None
    return local.date()


def digest_key(team_name: str, day: dt.date) -> str:
    """The idempotency key of a team's digest for a local date (one message, ever)."""
    return f"digest:{team_name}:{day.isoformat()}"


def is_weekly(team: Team, day: dt.date) -> bool:
    return team.weekly_digest and day.weekday() == 0


# --- what --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mover:
    key: str
    amount: Decimal
    previous: Decimal  # the mean of the comparison days, or the comparison week

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous

    @property
    def change_pct(self) -> Decimal | None:
        if not self.previous:
            return None
        return (self.change / abs(self.previous) * 100).quantize(_CENT)

    def as_json(self) -> dict[str, Any]:
        pct = self.change_pct
        return {
            "key": self.key,
            "cost": _text(self.amount),
            "previous": _text(self.previous),
            "change": _text(self.change),
            "change_pct": None if pct is None else str(pct),
        }


@dataclass(frozen=True)
class Anomaly:
    key: str
    day: dt.date
    amount: Decimal
    expected: Decimal  # the mean of the baseline days

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "day": self.day.isoformat(),
            "cost": _text(self.amount),
            "expected": _text(self.expected),
        }


@dataclass(frozen=True)
class Savings:
    """Money the team's changes save, each figure a monthly run-rate unless named otherwise."""

    pending_count: int = 0
    pending_monthly: Decimal = _ZERO
    approved_count: int = 0
    approved_monthly: Decimal = _ZERO
    done_count: int = 0
    done_monthly: Decimal = _ZERO
    realized_this_month: Decimal = _ZERO  # the part of ``done_monthly`` already saved
    rehearsed_count: int = 0  # done as dry runs: they saved nothing

    def as_json(self) -> dict[str, Any]:
        return {
            "pending_approvals": self.pending_count,
            "pending_monthly_saving": _text(self.pending_monthly),
            "approved": self.approved_count,
            "approved_monthly_saving": _text(self.approved_monthly),
            "done_this_month": self.done_count,
            "done_monthly_saving": _text(self.done_monthly),
            "realized_this_month": _text(self.realized_this_month),
            "rehearsed_dry_runs": self.rehearsed_count,
        }


@dataclass(frozen=True)
class TeamFigures:
    """The numbers both the digest and the budget alerts are made of."""

    team: str
    today: dt.date
    metric: Metric
    currency: str
    day: dt.date | None  # the last complete day with cost (None: no cost in six weeks)
    day_cost: Decimal
    average: Decimal  # the mean of the 7 days before ``day``
    month_to_date: Decimal
    budget: Decimal | None
    forecast: MonthEndForecast | None
    daily: tuple[tuple[dt.date, Decimal], ...]  # the last CHART_DAYS complete days
    notes: tuple[str, ...] = ()
    data_through: dt.date | None = None  # the last complete day in ``month_to_date``

    @property
    def month_label(self) -> str:
        return f"{self.today:%Y-%m}"

    def budget_used_pct(self) -> Decimal | None:
        if not self.budget:
            return None
        return (self.month_to_date / self.budget * 100).quantize(_CENT)

    def day_change_pct(self) -> Decimal | None:
        if not self.average:
            return None
        return ((self.day_cost - self.average) / abs(self.average) * 100).quantize(_CENT)

    def as_json(self) -> dict[str, Any]:
        forecast = self.forecast
        return {
            "team": self.team,
            "date": self.today.isoformat(),
            "metric": self.metric.value,
            "currency": self.currency,
            "day": self.day.isoformat() if self.day else None,
            "day_cost": _text(self.day_cost),
            "seven_day_average": _text(self.average),
            "month_to_date": _text(self.month_to_date),
            "data_through": self.data_through.isoformat() if self.data_through else None,
            "budget": None if self.budget is None else str(self.budget),
            "budget_used_pct": _optional(self.budget_used_pct()),
            "forecast": None if forecast is None else _text(forecast.amount),
            "forecast_method": None if forecast is None else forecast.method,
            "daily": [{"day": d.isoformat(), "cost": _text(a)} for d, a in self.daily],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class WeekSummary:
    period: Period
    total: Decimal
    previous_total: Decimal
    movers: tuple[Mover, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "total": _text(self.total),
            "previous_total": _text(self.previous_total),
            "movers": [mover.as_json() for mover in self.movers],
        }


@dataclass(frozen=True)
class UnitCostSection:
    """The digest's unit cost: ``/cost unit <team>``'s answer for ``period``, or, when the
    invocations could not be read, why (``problem``) and no figures."""

    period: Period
    answer: UnitCost | None
    problem: str = ""

    def as_json(self) -> dict[str, Any]:
        if self.answer is None:
            period = {"start": str(self.period.start), "end": str(self.period.end),
                      "label": self.period.label}  # fmt: skip
            return {"period": period, "problem": self.problem, "models": [], "endpoints": []}
        return {**self.answer.as_json(), "problem": None}


@dataclass(frozen=True)
class Digest:
    figures: TeamFigures
    movers: tuple[Mover, ...]
    anomalies: tuple[Anomaly, ...]
    savings: Savings
    week: WeekSummary | None = None
    source: str = ""
    posted_on: dt.date | None = None  # the team's local date the digest is for
    unit_cost: UnitCostSection | None = None  # teams with SageMaker endpoints only

    @property
    def team(self) -> str:
        return self.figures.team

    @property
    def day(self) -> dt.date:
        """The team's local date the digest is for (its title and its once-a-day key)."""
        return self.posted_on or self.figures.today

    @property
    def key(self) -> str:
        return digest_key(self.team, self.day)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.figures.as_json(),
            "movers": [mover.as_json() for mover in self.movers],
            "anomalies": [anomaly.as_json() for anomaly in self.anomalies],
            "savings": self.savings.as_json(),
            "week": None if self.week is None else self.week.as_json(),
            "unit_cost": None if self.unit_cost is None else self.unit_cost.as_json(),
            "source": self.source,
            "posted_on": self.day.isoformat(),
        }


def build_digest(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    team: Team,
    today: dt.date,
    changes: Sequence[Change] = (),
    metric: Metric = Metric.BILLED,
    cache: AllocationCache | None = None,
    posted_on: dt.date | None = None,
    cloudwatch_for: CloudWatchFor | None = None,
) -> Digest:
    """A team's digest as of the billing date ``today``.

    Args:
        source: where costs come from.
        teams, shared: the teams file.
        team: the team (``engines.config.teams.find_team`` finds it by name).
        today: the billing date (the UTC date); only the complete days before it count.
        changes: the team's changes (any state), for the savings figures.
        metric: the cost type of every figure.
        cache: where allocations are remembered (the bot's); None: a default one.
        posted_on: the team's local date the digest is posted for (default ``today``): its
            title, its key, and whether it is Monday's weekly digest.
        cloudwatch_for: a CloudWatch client for an account and region, for the unit cost
            of a team with SageMaker endpoints; None: no unit cost section.

    Raises:
        CostSourceError: the source has no cost data for the last six weeks.
    """
    days = _history(source, teams, shared, team, today, metric, cache)
    view = month_view(source, teams, shared, today=today, team=team, metric=metric, cache=cache)
    figures = _figures(days, team, today, view)
    detail = _detail(source, teams, shared, days, figures.day, cache)
    movers: tuple[Mover, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    if figures.day is not None:
        movers = _day_movers(detail, figures.day)
        anomalies = _anomalies(detail, figures.day, figures.average)
    week = _week(detail, today) if is_weekly(team, posted_on or today) else None
    return Digest(
        figures=figures,
        movers=movers,
        anomalies=anomalies,
        savings=summarize_savings(changes, today=today),
        week=week,
        source=days.source,
        posted_on=posted_on,
        unit_cost=None
        if cloudwatch_for is None
        else unit_cost_section(
            source, teams, team=team, today=today, metric=metric, cloudwatch_for=cloudwatch_for
        ),  # fmt: skip
    )


def unit_cost_period(today: dt.date) -> Period:
    """The unit cost's period: ``/cost unit``'s own default, the month to date, or on the
    1st (no complete day yet) last month, as ``/cost unit`` answers then."""
    period = parse_period("", today=today)
    return parse_period("last month", today=today) if period.start >= today else period


def unit_cost_section(
    source: Source,
    teams: Mapping[str, Team],
    *,
    team: Team,
    today: dt.date,
    cloudwatch_for: CloudWatchFor,
    metric: Metric = Metric.BILLED,
) -> UnitCostSection | None:
    """``/cost unit <team>``'s answer for ``unit_cost_period(today)``, for a team with
    SageMaker endpoint lines in it; None for a team without. CloudWatch failing is said in
    the section (``problem``), never raised.
    """
    period = unit_cost_period(today)
    owners = endpoint_owners(source, teams, period=period, metric=metric)
    if owners is not None and team.name not in owners:
        return None  # no endpoint lines: neither the by-resource costs nor CloudWatch
    try:
        answer = unit_cost(source, teams, subject=team.name, period=period,
                           cloudwatch_for=cloudwatch_for, metric=metric, today=today)  # fmt: skip
    except (ClientError, BotoCoreError) as error:
        problem = f"I could not read the invocations from CloudWatch ({explain(error)})."
        return UnitCostSection(period, None, problem)
    if not answer.endpoints:
        return None
    return UnitCostSection(answer.period, answer)


def team_figures(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    *,
    team: Team,
    today: dt.date,
    metric: Metric = Metric.BILLED,
    cache: AllocationCache | None = None,
) -> TeamFigures:
    """The digest's headline numbers only (what budget alerts and App Home need): no
    service detail is read."""
    days = _history(source, teams, shared, team, today, metric, cache)
    view = month_view(source, teams, shared, today=today, team=team, metric=metric, cache=cache)
    return _figures(days, team, today, view)


def _history(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    team: Team,
    today: dt.date,
    metric: Metric,
    cache: AllocationCache | None,
) -> answers.TeamDays:
    """The team's cost per day over ``HISTORY_DAYS``: its own, and each shared cost's share
    (keys ``shared: <name>``). Broken down by service where the source cannot allocate by
    day alone (Cost Explorer: one question per team, the detail in it)."""
    period = Period(today - dt.timedelta(days=HISTORY_DAYS), today, "digest history")
    by = "" if team_days.allocates(source, teams, shared) else "service"
    return team_days.team_daily_costs(
        source, teams, shared, team=team, period=period, metric=metric, by=by,
        cache=cache,
    )  # fmt: skip


def _detail(
    source: Source,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost],
    days: answers.TeamDays,
    day: dt.date | None,
    cache: AllocationCache | None,
) -> answers.TeamDays:
    """``days`` by service over the days movers, anomalies and the weekly summary read: the
    ``ANOMALY_BASELINE_DAYS`` before the day (or before today) up to today. The team's own
    cost by service from an allocation of those days; its shares of shared costs as in
    ``days`` (split over the whole history, as before)."""
    if not team_days.allocates(source, teams, shared):
        return days  # asked by service already
    today = days.period.end
    start = min(day or today, today) - dt.timedelta(days=ANOMALY_BASELINE_DAYS)
    window = Period(max(start, days.period.start), today, "digest detail")
    own = team_days.team_daily_costs(
        source, teams, shared, team=teams[days.subject], period=window, metric=days.metric,
        with_shared=False, currency=days.currency, cache=cache,
    )  # fmt: skip
    merged: dict[dt.date, dict[str, Decimal]] = {}
    for when in set(own.days) | {when for when in days.days if window.start <= when < today}:
        rows = dict(own.days.get(when, {}))
        for key, amount in days.days.get(when, {}).items():
            if key.startswith("shared: "):
                rows[key] = amount
        merged[when] = rows
    return replace(own, days=merged)


def _figures(days: answers.TeamDays, team: Team, today: dt.date, view: MonthView) -> TeamFigures:
    """The day, its average and the chart from ``days``; the month (month to date, budget,
    forecast) from the team's month view, as every other surface shows it."""
    totals = days.totals()
    with_cost = [day for day, amount in totals if amount]
    day = with_cost[-1] if with_cost else None
    notes: list[str] = []
    if day is None:
        notes.append(f"No cost for {team.name} in the last {HISTORY_DAYS} days.")
    elif day < today - _ONE_DAY:
        notes.append(f"The billing data ends on {day:%b %-d}: later days are not in yet.")
    by_day = dict(totals)
    average = _ZERO
    if day is not None:
        before = [by_day.get(day - dt.timedelta(days=n), _ZERO) for n in range(1, 8)]
        average = sum(before, _ZERO) / AVERAGE_DAYS
    notes += [note for note in view.notes if note not in notes]
    last = day or today - _ONE_DAY
    chart = tuple((d, a) for d, a in totals if last - dt.timedelta(days=CHART_DAYS) < d <= last)
    return TeamFigures(
        team=team.name,
        today=today,
        metric=days.metric,
        currency=days.currency,
        day=day,
        day_cost=by_day.get(day, _ZERO) if day else _ZERO,
        average=average,
        month_to_date=view.month_to_date,
        budget=view.budget,
        forecast=view.forecast,
        daily=chart,
        notes=tuple(notes),
        data_through=view.data_through,
    )


def _keys_between(days: answers.TeamDays, first: dt.date, end: dt.date) -> dict[str, Decimal]:
    """Each key's total over the days from ``first`` (included) to ``end`` (excluded)."""
    sums: dict[str, Decimal] = {}
    for day, rows in days.days.items():
        if first <= day < end:
            for key, amount in rows.items():
                sums[key] = sums.get(key, _ZERO) + amount
    return sums


def _top_movers(now: dict[str, Decimal], before: dict[str, Decimal]) -> tuple[Mover, ...]:
    movers = [
        Mover(key, now.get(key, _ZERO), before.get(key, _ZERO))
        for key in now.keys() | before.keys()
    ]
    movers = [mover for mover in movers if mover.change.quantize(_CENT)]
    movers.sort(key=lambda mover: (-abs(mover.change), mover.key))
    return tuple(movers[:MOVERS])


def _day_movers(days: answers.TeamDays, day: dt.date) -> tuple[Mover, ...]:
    now = dict(days.days.get(day, {}))
    week = _keys_between(days, day - dt.timedelta(days=AVERAGE_DAYS), day)
    return _top_movers(now, {key: amount / AVERAGE_DAYS for key, amount in week.items()})


def _anomalies(days: answers.TeamDays, day: dt.date, average: Decimal) -> tuple[Anomaly, ...]:
    floor = abs(average) * ANOMALY_MIN_SHARE
    found = []
    for key, amount in days.days.get(day, {}).items():
        history = [
            days.days.get(day - dt.timedelta(days=n), {}).get(key, _ZERO)
            for n in range(1, ANOMALY_BASELINE_DAYS + 1)
        ]
        mean = sum(history, _ZERO) / len(history)
        spread = _std_dev(history, mean)
        if amount - mean > max(ANOMALY_SIGMAS * spread, floor) and amount - mean > 0:
            found.append(Anomaly(key, day, amount, mean))
    found.sort(key=lambda anomaly: -(anomaly.amount - anomaly.expected))
    return tuple(found[:MOVERS])


def _week(days: answers.TeamDays, today: dt.date) -> WeekSummary:
    start = today - dt.timedelta(days=7)
    now = _keys_between(days, start, today)
    before = _keys_between(days, start - dt.timedelta(days=7), start)
    return WeekSummary(
        period=Period(start, today, "last week"),
        total=sum(now.values(), _ZERO),
        previous_total=sum(before.values(), _ZERO),
        movers=_top_movers(now, before),
    )


def summarize_savings(changes: Sequence[Change], *, today: dt.date) -> Savings:
    """The savings of a team's changes as of its local ``today``.

    A change carried out this month saves its monthly saving from the day it was done;
    ``realized_this_month`` is that saving pro rata for the days up to today.
    """
    month_start = today.replace(day=1)
    days_in_month = _days_in_month(today)
    pending = [c for c in changes if c.state is State.PROPOSED]
    approved = [c for c in changes if c.state in {State.APPROVED, State.SCHEDULED}]
    done_this_month = [
        c for c in changes if c.state is State.DONE and month_start <= c.updated_at.date() <= today
    ]
    real = [c for c in done_this_month if not c.dry_run]
    realized = sum(
        (
            c.monthly_saving * Decimal((today - c.updated_at.date()).days) / days_in_month
            for c in real
        ),
        _ZERO,
    )
    return Savings(
        pending_count=len(pending),
        pending_monthly=sum((c.monthly_saving for c in pending), _ZERO),
        approved_count=len(approved),
        approved_monthly=sum((c.monthly_saving for c in approved), _ZERO),
        done_count=len(real),
        done_monthly=sum((c.monthly_saving for c in real), _ZERO),
        realized_this_month=realized,
        rehearsed_count=len(done_this_month) - len(real),
    )


def _days_in_month(day: dt.date) -> int:
    following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return (following - day.replace(day=1)).days


def _std_dev(values: list[Decimal], mean: Decimal) -> Decimal:
    if len(values) < 2:
        return _ZERO
    squares = sum(((value - mean) ** 2 for value in values), _ZERO)
    return Decimal(math.sqrt(squares / (len(values) - 1)))


def _text(amount: Decimal) -> str:
    return str(amount.quantize(_CENT))


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

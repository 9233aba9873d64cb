"""Desired state: whether a resource should run at an instant, when that next changes, and
what the schedule saves. Pure arithmetic over ``engines.schedules.model``: no clock, no AWS.

Enforcement (``engines.schedules.enforcement``) acts only when the desired state changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from engines.schedules.model import (
    Decision,
    Desired,
    Mode,
    Override,
    Schedule,
    ScheduledResource,
)

# --- desired state -----------------------------------------------------------------------


def schedule_state(
    schedule: Schedule, holidays: Collection[dt.date], overrides: Iterable[Override], t: dt.datetime
) -> tuple[Desired, str]:
    """What the schedule itself wants at ``t`` (before per-resource ``keep`` overrides)."""
    local = t.astimezone(schedule.zone)
    if local.date() in holidays or local.date() in schedule.holidays:
        return Desired.STOPPED, f"holiday {local.date():%b %-d}"
    if any(o.active(t) and o.skips(schedule) for o in overrides):
        return Desired.STOPPED, "skipped today"
    clock = local.time().replace(tzinfo=None)
    for period in schedule.periods:
        if local.weekday() in period.days and period.start <= clock < period.stop:
            return Desired.RUNNING, f"within {period.describe()}"
    return Desired.STOPPED, "outside its hours"


def desired_state(
    schedules: Sequence[Schedule],
    holidays: Collection[dt.date],
    overrides: Sequence[Override],
    t: dt.datetime,
    *,
    resources: Iterable[ScheduledResource],
) -> dict[str, Decision]:
    """Each selected resource's desired state at ``t``, by ``ScheduledResource.key``.

    Args:
        schedules: the schedules (paused ones are ignored).
        holidays: local dates off for every schedule (each schedule adds its own).
        overrides: keep and skip overrides (only those active at ``t`` count).
        t: the instant (timezone-aware).
        resources: what the inventory found; those no active schedule selects are left out.
    """
    active = [s for s in schedules if not s.paused]
    live = [o for o in overrides if o.active(t)]
    decisions: dict[str, Decision] = {}
    for resource in resources:
        for schedule in active:
            if not schedule.selects(resource):
                continue
            decision = _decide(schedule, holidays, live, t, resource)
            earlier = decisions.get(resource.key)
            if earlier is None or (
                earlier.desired is Desired.STOPPED and decision.desired is Desired.RUNNING
            ):
                decisions[resource.key] = decision
    return decisions


def _decide(
    schedule: Schedule,
    holidays: Collection[dt.date],
    overrides: Sequence[Override],
    t: dt.datetime,
    resource: ScheduledResource,
) -> Decision:
    keep = next((o for o in overrides if o.keeps(schedule, resource)), None)
    if keep is not None:
        reason = keep.describe(schedule.zone)
        return Decision(resource, Desired.RUNNING, schedule.name, schedule.mode, reason)
    desired, reason = schedule_state(schedule, holidays, overrides, t)
    return Decision(resource, desired, schedule.name, schedule.mode, reason)


def action_for(mode: Mode, desired: Desired) -> str:
    """``"start"``, ``"stop"`` or ``""``: a stop-only schedule never starts anything."""
    if desired is Desired.STOPPED:
        return "stop"
    return "" if mode is Mode.STOP_ONLY else "start"


# --- boundaries --------------------------------------------------------------------------


def boundaries(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Every instant in [start, end) where the schedule's state may change: each period's
    local start and stop, and each local midnight (holidays), in order, UTC."""
    zone = schedule.zone
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    instants: set[dt.datetime] = set()
    day = first
    while day <= last:
        instants.add(_instant(day, dt.time(0, 0), zone))
        for period in schedule.periods:
            if day.weekday() in period.days:
                instants.add(_instant(day, period.start, zone))
                instants.add(_instant(day, period.stop, zone))
        day += dt.timedelta(days=1)
    yield from (i for i in sorted(instants) if start <= i < end)


def _instant(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock time (fold=0: a repeated time's first one)."""
    local = dt.datetime.combine(day, clock, tzinfo=zone)
    return local.astimezone(dt.UTC)


def change_candidates(
    schedule: Schedule, overrides: Sequence[Override], after: dt.datetime, within: dt.timedelta
) -> list[dt.datetime]:
    """The instants in (after, after + within] where a state may change: the schedule's
    boundaries and the overrides' starts and ends, in order."""
    tick = dt.timedelta(microseconds=1)
    candidates = set(boundaries(schedule, after + tick, after + within + tick))
    candidates |= {o.until for o in overrides if after < o.until <= after + within}
    candidates |= {o.starts for o in overrides if after < o.starts <= after + within}
    return sorted(candidates)


def next_change(
    schedule: Schedule,
    holidays: Collection[dt.date],
    overrides: Sequence[Override],
    after: dt.datetime,
    *,
    within: dt.timedelta = dt.timedelta(days=8),
) -> tuple[dt.datetime, Desired] | None:
    """The first instant after ``after`` (within ``within``) the schedule's own state changes,
    and the state it changes to; None when it does not change in that time."""
    current, _ = schedule_state(schedule, holidays, overrides, after)
    for instant in change_candidates(schedule, overrides, after, within):
        state, _ = schedule_state(schedule, holidays, overrides, instant)
        if state is not current:
            return instant, state
    return None


# --- the saving --------------------------------------------------------------------------


@dataclass(frozen=True)
class SavingEstimate:
    """Hours off a month × the resources' hourly prices; resources without a price are
    counted in ``unpriced`` and left out of the figure."""

    hours_off_per_month: Decimal
    monthly: Decimal
    priced: int
    unpriced: tuple[str, ...]


def estimate_saving(
    schedule: Schedule,
    resources: Iterable[ScheduledResource],
    hourly_price: Mapping[str, Decimal | None],
) -> SavingEstimate:
    """The estimated monthly saving of ``schedule`` over the resources it selects.

    Args:
        schedule: the schedule.
        resources: the inventory (only the selected ones count).
        hourly_price: USD per hour for each resource's key (an ASG: all its instances);
            None when unknown.
    """
    hours = schedule.hours_off_per_month()
    total, priced, unpriced = Decimal(0), 0, []
    for resource in resources:
        if not schedule.selects(resource):
            continue
        price = hourly_price.get(resource.key)
        if price is None:
            unpriced.append(resource.label)
            continue
        total += price * hours
        priced += 1
    return SavingEstimate(hours, total.quantize(Decimal("0.01")), priced, tuple(unpriced))

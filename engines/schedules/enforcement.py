"""Running off-hours schedules: enforce them, warn before stops, take overrides.

``OffHours.enforce(now)`` is what the scheduler calls every minute. For each resource some
active schedule selects, it compares the desired state now with the desired state it last
applied (kept in the store): only a *change* of the desired state leads to a stop or start.
So a box started by hand after the evening stop stays up until the next boundary, a
restart does nothing twice (the last applied state survives it), and a boundary missed
while the bot was down is applied once when it is back. Stops and starts of resources
already in that state make no call. Every action is audited; dry runs rehearse.

Who may do what (``may_manage``/``may_override``): a team's approvers create, pause and
resume its schedules; its members and approvers may keep resources running and skip a day
(self-service, and they expire by themselves).
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.models import Team
from engines.schedules.aws import ActionError, AwsScheduleTarget, NotYet
from engines.schedules.desired import (
    SavingEstimate,
    action_for,
    change_candidates,
    desired_state,
    estimate_saving,
    next_change,
)
from engines.schedules.model import (
    Decision,
    Desired,
    Override,
    OverrideKind,
    ResourceKind,
    Schedule,
    ScheduledResource,
    ScheduleError,
    check_selects_something,
    day_off_reason,
    parse_time,
)
from engines.schedules.store import ScheduleStore
from engines.words import echo

logger = logging.getLogger(__name__)

ACTOR = "costbot-scheduler"
WARNING_LEAD = dt.timedelta(minutes=15)
KEEP_RUNNING_FOR = dt.timedelta(hours=2)

# RDS has no entry in our EC2 price snapshot. On-demand list prices, USD per hour,
# us-east-1, PostgreSQL single-AZ (MySQL is a few percent cheaper), checked June 2026;
# Multi-AZ deployments cost twice as much. Storage is billed while stopped and is not a
# saving. A class not listed is shown as "price unknown" and left out of the figure.
RDS_HOURLY_USD: dict[str, Decimal] = {
    "db.t3.micro": Decimal("0.018"),
    "db.t3.small": Decimal("0.036"),
    "db.t3.medium": Decimal("0.072"),
    "db.t3.large": Decimal("0.145"),
    "db.t4g.medium": Decimal("0.065"),
    "db.m5.large": Decimal("0.178"),
    "db.m5.xlarge": Decimal("0.356"),
    "db.m5.2xlarge": Decimal("0.712"),
    "db.m6g.large": Decimal("0.159"),
    "db.r5.large": Decimal("0.25"),
    "db.r5.xlarge": Decimal("0.50"),
    "db.r6g.large": Decimal("0.225"),
}


@dataclass(frozen=True)
class Applied:
    """One stop or start (or a failure to): what, why, and what AWS said."""

    resource: ScheduledResource
    schedule: str
    action: str  # start | stop | "" (a stop-only schedule's start: nothing to do)
    ok: bool
    detail: str
    dry_run: bool


@dataclass(frozen=True)
class StopWarning:
    """A stop coming within the warning lead, for the resources it would stop."""

    schedule: Schedule
    stop_at: dt.datetime
    resources: tuple[ScheduledResource, ...]

    @property
    def key(self) -> str:
        return f"schedule-warning:{self.schedule.name}:{self.stop_at.isoformat()}"


@dataclass(frozen=True)
class ScheduleView:
    """A schedule with what it does now: for ``list`` and ``show``."""

    schedule: Schedule
    resources: tuple[Decision, ...]
    saving: SavingEstimate
    next_change: tuple[dt.datetime, Desired] | None
    overrides: tuple[Override, ...]


class OffHours:
    """Off-hours schedules over one or more AWS targets.

    Args:
        targets: the accounts and regions to find resources in.
        store: where Slack-defined schedules, pauses, overrides and applied states are kept.
        teams: the teams file's teams (approvers, members, tags, time zones).
        file_schedules: the schedules the teams file defines.
        audit: ``store.record_audit``-shaped.
        dry_run: rehearse instead of stopping and starting.
        ec2_hourly: USD per hour of an EC2 instance type in a region (None: unknown).
        notebook_hourly: USD per hour of a SageMaker notebook instance type in a region
            (None: unknown).
        holidays: dates off for every schedule.
    """

    def __init__(
        self,
        *,
        targets: Sequence[AwsScheduleTarget],
        store: ScheduleStore,
        teams: Mapping[str, Team],
        file_schedules: Sequence[Schedule] = (),
        audit: Callable[..., int],
        dry_run: bool,
        ec2_hourly: Callable[[str, str], Decimal | None] = lambda _type, _region: None,
        notebook_hourly: Callable[[str, str], Decimal | None] = lambda _type, _region: None,
        holidays: Collection[dt.date] = (),
    ) -> None:
        self.targets = list(targets)
        self.store = store
        self.teams = teams
        self.file_schedules = list(file_schedules)
        self.audit = audit
        self.dry_run = dry_run
        self.ec2_hourly = ec2_hourly
        self.notebook_hourly = notebook_hourly
        self.holidays = frozenset(holidays)
        self._failures: dict[str, str] = {}  # resource key -> the last failure audited

    # --- reading -------------------------------------------------------------------------

    def schedules(self) -> list[Schedule]:
        """The teams file's schedules, then Slack's, each marked paused or not."""
        paused = self.store.paused_schedules()
        defined = list(self.file_schedules)
        for definition in self.store.slack_schedules():
            team = self.teams.get(definition["team"])
            if team is None:
                logger.warning("schedule %s: team %s is gone", definition["name"], team)
                continue
            defined.append(Schedule.from_dict(definition, team_tags=team.tags))
        return [
            replace(s, paused=s.name in paused, claimed_first=_claimed_before(self.teams, s.team))
            for s in defined
        ]

    def find(self, name: str) -> Schedule:
        by_name = {s.name: s for s in self.schedules()}
        wanted = name.strip().lower()
        if wanted in by_name:
            return by_name[wanted]
        close = difflib.get_close_matches(wanted, list(by_name), n=1, cutoff=0.6)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        known = ", ".join(sorted(by_name)) or "none yet"
        if not wanted:
            raise ScheduleError(f"Which schedule? Name one of: {known}.")
        raise ScheduleError(f"There is no schedule '{echo(name)}'.{hint} Schedules: {known}.")

    def inventory(self) -> list[ScheduledResource]:
        """Every resource of every target.

        Raises:
            ScheduleError: AWS could not be read (the reason, e.g. missing credentials).
        """
        try:
            return [resource for target in self.targets for resource in target.inventory()]
        except (ClientError, BotoCoreError) as error:
            raise ScheduleError(f"I could not list the resources in AWS: {error}") from None

    def overrides(self, now: dt.datetime) -> list[Override]:
        return self.store.schedule_overrides(active_at=now)

    def view(
        self, schedule: Schedule, now: dt.datetime, resources: Sequence[ScheduledResource]
    ) -> ScheduleView:
        overrides = self.overrides(now)
        current = replace(schedule, paused=False)
        decisions = desired_state([current], self.holidays, overrides, now, resources=resources)
        selected = [r for r in resources if schedule.selects(r)]
        return ScheduleView(
            schedule=schedule,
            resources=tuple(decisions[r.key] for r in selected),
            saving=estimate_saving(schedule, selected, self.hourly_prices(selected)),
            next_change=None
            if schedule.paused
            else next_change(schedule, self.holidays, overrides, now),
            overrides=tuple(o for o in overrides if _concerns(o, schedule)),
        )

    def hourly_prices(self, resources: Sequence[ScheduledResource]) -> dict[str, Decimal | None]:
        """USD per hour of each resource (an ASG: of all its instances), None if unknown."""
        prices: dict[str, Decimal | None] = {}
        for resource in resources:
            if resource.kind is ResourceKind.RDS:
                price = RDS_HOURLY_USD.get(resource.size)
                prices[resource.key] = price * 2 if price and resource.multi_az else price
                continue
            if resource.kind is ResourceKind.NOTEBOOK:
                prices[resource.key] = (
                    self.notebook_hourly(resource.size, resource.region) if resource.size else None
                )
                continue
            price = self.ec2_hourly(resource.size, resource.region) if resource.size else None
            count = max(resource.count, 1)
            prices[resource.key] = None if price is None else price * count
        return prices

    # --- enforcing -----------------------------------------------------------------------

    def run_minute(self, now: dt.datetime) -> tuple[list[Applied], list[StopWarning]]:
        """The scheduler's minute: ``enforce`` then ``warnings_due``, over one inventory."""
        resources = self.inventory()
        return self.enforce(now, resources=resources), self.warnings_due(now, resources=resources)

    def enforce(
        self, now: dt.datetime, *, resources: Sequence[ScheduledResource] | None = None
    ) -> list[Applied]:
        """Applies every change of desired state since the last run (see the module doc)."""
        resources = self.inventory() if resources is None else resources
        decisions = desired_state(
            self.schedules(), self.holidays, self.overrides(now), now, resources=resources
        )
        applied_before = self.store.last_schedule_states()
        done = []
        for key, decision in decisions.items():
            if applied_before.get(key) == decision.desired.value:
                continue
            outcome = self._apply(decision, now)
            done.append(outcome)
            if outcome.ok:
                self.store.record_schedule_state(
                    key,
                    schedule=decision.schedule,
                    desired=decision.desired.value,
                    detail=outcome.detail,
                    at=now,
                    dry_run=self.dry_run,
                )
        return done

    def _apply(self, decision: Decision, now: dt.datetime) -> Applied:
        resource = decision.resource
        verb = action_for(decision.mode, decision.desired)
        target = self._target_of(resource)
        try:
            if verb == "stop":
                result = target.stop(resource, dry_run=self.dry_run)
                if result.capacity is not None and not self.dry_run:
                    self.store.save_capacity(resource.key, result.capacity, at=now)
            elif verb == "start":
                capacity = self.store.saved_capacity(resource.key)
                result = target.start(resource, dry_run=self.dry_run, capacity=capacity)
            else:
                note = "stop-only schedule: nothing is started"
                return Applied(resource, decision.schedule, verb, True, note, self.dry_run)
        except ActionError as error:
            # Tried again every minute until it works; recorded once per distinct failure
            # (or, for a resource between states, once per reason it had to wait).
            waiting = isinstance(error, NotYet)
            if self._failures.get(resource.key) != str(error):
                self._failures[resource.key] = str(error)
                why = {"deferred" if waiting else "error": str(error)}
                self._audit(decision, verb or "start", why, now)
            log = logger.info if waiting else logger.warning
            log("schedule %s: %s", decision.schedule, error)
            return Applied(resource, decision.schedule, verb, False, str(error), self.dry_run)
        self._failures.pop(resource.key, None)
        if result.called:  # a resource already in that state needed no call: no record
            detail: dict[str, Any] = {"result": result.detail}
            if result.capacity is not None:
                detail["capacity_before"] = result.capacity.as_dict()
            self._audit(decision, verb, detail, now)
        return Applied(resource, decision.schedule, verb, True, result.detail, self.dry_run)

    def _target_of(self, resource: ScheduledResource) -> AwsScheduleTarget:
        for target in self.targets:
            if (target.account_id, target.region) == (resource.account_id, resource.region):
                return target
        raise ActionError(f"no AWS access for {resource.account_id or 'this account'}")

    def _audit(
        self, decision: Decision, verb: str, detail: dict[str, Any], now: dt.datetime
    ) -> None:
        schedule = next((s for s in self.schedules() if s.name == decision.schedule), None)
        self.audit(
            actor=ACTOR,
            action=f"schedule.{verb}",
            target=decision.resource.resource_id,
            detail={
                "team": schedule.team if schedule else "",
                "schedule": decision.schedule,
                "resource": decision.resource.key,
                "reason": decision.reason,
                **detail,
            },
            dry_run=self.dry_run,
            at=now,
        )

    # --- warnings ------------------------------------------------------------------------

    def warnings_due(
        self,
        now: dt.datetime,
        *,
        lead: dt.timedelta = WARNING_LEAD,
        resources: Sequence[ScheduledResource] | None = None,
    ) -> list[StopWarning]:
        """Stops coming within ``lead`` that would stop something running now."""
        overrides = self.overrides(now)
        found = []
        inventory: Sequence[ScheduledResource] | None = resources
        for schedule in self.schedules():
            if schedule.paused:
                continue
            candidates = change_candidates(schedule, overrides, now, lead)
            if not candidates:
                continue
            if inventory is None:
                inventory = self.inventory()
            running = [r for r in inventory if r.running and schedule.selects(r)]
            warning = _first_stop(schedule, self.holidays, overrides, now, candidates, running)
            if warning is not None:
                found.append(warning)
        return found

    # --- changing ------------------------------------------------------------------------

    def may_manage(self, user: str, team: str) -> bool:
        """Create, pause, resume: the team's approvers."""
        found = self.teams.get(team)
        return bool(found and user in found.approvers)

    def may_override(self, user: str, team: str) -> bool:
        """Keep running, skip a day: the team's members and approvers."""
        found = self.teams.get(team)
        return bool(found and (user in found.approvers or user in found.members))

    def create(self, schedule: Schedule, *, by: str, now: dt.datetime) -> list[ScheduledResource]:
        """Saves a schedule defined from Slack; returns what it selects.

        Raises:
            ScheduleError: the name is taken, the person may not, or it selects nothing
                (nothing is saved then).
        """
        self._require_manager(by, schedule.team, "create schedules")
        if any(s.name == schedule.name for s in self.schedules()):
            raise ScheduleError(f"A schedule called '{schedule.name}' exists: pick another name.")
        owned = replace(schedule, claimed_first=_claimed_before(self.teams, schedule.team))
        selected = check_selects_something(owned, self.inventory())
        if not self.store.save_schedule(schedule.as_dict() | {"created_by": by}, at=now):
            raise ScheduleError(f"A schedule called '{schedule.name}' exists: pick another name.")
        self.audit(
            actor=by,
            action="schedule.created",
            target=schedule.name,
            detail={"team": schedule.team, **schedule.as_dict()},
            at=now,
        )
        return selected

    def set_paused(self, name: str, paused: bool, *, by: str, now: dt.datetime) -> Schedule:
        schedule = self.find(name)
        self._require_manager(by, schedule.team, "pause or resume its schedules")
        if schedule.paused == paused:
            state = "paused" if paused else "running"
            raise ScheduleError(f"`{schedule.name}` is already {state}.")
        self.store.set_paused(schedule.name, paused, by=by, at=now)
        action = "schedule.paused" if paused else "schedule.resumed"
        self.audit(actor=by, action=action, target=schedule.name, detail={"team": schedule.team})
        return replace(schedule, paused=paused)

    def keep(
        self, target: str, until_text: str, *, by: str, now: dt.datetime
    ) -> tuple[list[Override], list[ScheduledResource]]:
        """Keeps the resources ``target`` names (id, Name or ``key=value``) running until the
        next ``until_text`` (HH:MM) in their schedule's time zone."""
        clock = parse_time(until_text)
        resources = self.inventory()
        schedules = [s for s in self.schedules() if not s.paused]
        matched = _matching(target, resources, schedules)
        by_team: dict[str, tuple[Schedule, list[ScheduledResource]]] = {}
        for resource, schedule in matched:
            by_team.setdefault(schedule.team, (schedule, []))[1].append(resource)
        # All or nothing: every team's rights first, then every override in one transaction.
        for team in by_team:
            if not self.may_override(by, team):
                raise ScheduleError(_not_allowed(self.teams.get(team), "keep its resources up"))
        overrides = [
            Override(OverrideKind.KEEP, team, target, now, _next_local(clock, s.zone, now), by)
            for team, (s, _) in by_team.items()
        ]
        return self._save_overrides(overrides, now), [resource for resource, _ in matched]

    def keep_schedule_running(
        self, name: str, stop_at: dt.datetime, *, by: str, now: dt.datetime
    ) -> Override:
        """The warning's **Keep running 2 h**: every resource of the schedule stays up until
        two hours after the stop that was coming."""
        schedule = self.find(name)
        if not self.may_override(by, schedule.team):
            raise ScheduleError(_not_allowed(self.teams.get(schedule.team), "keep it running"))
        until = max(stop_at, now) + KEEP_RUNNING_FOR
        override = Override(OverrideKind.KEEP, schedule.team, f"schedule:{name}", now, until, by)
        return self._save_override(override, now)

    def skip_tomorrow(
        self, *, by: str, now: dt.datetime, schedule_name: str = "", team: str = ""
    ) -> list[Override]:
        """Tomorrow (local to each schedule) the schedule stays off, like a holiday.

        A schedule that would run nothing tomorrow anyway (not one of its days, or a
        holiday) is left out; when that is every chosen schedule, nothing is recorded and
        the error says why ("nlp-dev's schedule doesn't run on Sunday: nothing to skip")."""
        if schedule_name:
            chosen = [self.find(schedule_name)]
        else:
            chosen = [s for s in self.schedules() if s.team == team and not s.paused]
            if not chosen:
                raise ScheduleError(f"Team {team} has no active schedule to skip.")
        # All or nothing: every team's rights first, then every override in one transaction.
        for schedule in chosen:
            if not self.may_override(by, schedule.team):
                raise ScheduleError(_not_allowed(self.teams.get(schedule.team), "skip a day"))
        idle = {s.name: self.day_off_tomorrow(s, now) for s in chosen}
        if all(idle.values()):
            whys = [f"schedule `{name}` {why}" for name, why in idle.items()]
            text = "; ".join(whys) + ": nothing to skip."
            raise ScheduleError(text[0].upper() + text[1:])
        overrides = []
        for schedule in chosen:
            if idle[schedule.name]:
                continue
            tomorrow = now.astimezone(schedule.zone).date() + dt.timedelta(days=1)
            starts = dt.datetime.combine(tomorrow, dt.time(), tzinfo=schedule.zone)
            until = dt.datetime.combine(
                tomorrow + dt.timedelta(days=1), dt.time(), tzinfo=schedule.zone
            )
            override = Override(
                OverrideKind.SKIP,
                schedule.team,
                schedule.name,
                starts.astimezone(dt.UTC),
                until.astimezone(dt.UTC),
                by,
            )
            overrides.append(override)
        return self._save_overrides(overrides, now)

    def day_off_tomorrow(self, schedule: Schedule, now: dt.datetime) -> str:
        """Why ``schedule`` runs nothing tomorrow (its local tomorrow) anyway, or ""."""
        tomorrow = now.astimezone(schedule.zone).date() + dt.timedelta(days=1)
        return day_off_reason(schedule, tomorrow, self.holidays)

    def _save_override(self, override: Override, now: dt.datetime) -> Override:
        return self._save_overrides([override], now)[0]

    def _save_overrides(self, overrides: Sequence[Override], now: dt.datetime) -> list[Override]:
        """Saves the overrides in one transaction (all or none), then audits each."""
        ids = self.store.add_overrides(overrides, at=now)
        for override in overrides:
            self.audit(
                actor=override.created_by,
                action=f"schedule.override.{override.kind.value}",
                target=override.target,
                detail={
                    "team": override.team,
                    "starts": override.starts.isoformat(),
                    "until": override.until.isoformat(),
                },
                at=now,
            )
        return [replace(override, id=i) for override, i in zip(overrides, ids, strict=True)]

    def _require_manager(self, user: str, team: str, what: str) -> None:
        if not self.may_manage(user, team):
            raise ScheduleError(_not_allowed(self.teams.get(team), what, approvers_only=True))


def _claimed_before(
    teams: Mapping[str, Team], team: str
) -> tuple[tuple[Mapping[str, str], tuple[str, ...]], ...]:
    """The rules of the teams listed before ``team``: what they match is theirs (ownership
    is allocation: the first matching rule in file order), never ``team``'s to schedule."""
    rules = []
    for name, other in teams.items():
        if name == team:
            break
        if other.tags or other.accounts:
            rules.append((dict(other.tags), tuple(other.accounts)))
    return tuple(rules)


def _first_stop(
    schedule: Schedule,
    holidays: Collection[dt.date],
    overrides: Sequence[Override],
    now: dt.datetime,
    candidates: Sequence[dt.datetime],
    running: Sequence[ScheduledResource],
) -> StopWarning | None:
    """The first candidate instant at which running resources the schedule wants up now
    would be stopped."""
    if not running:
        return None
    wanted_now = desired_state([schedule], holidays, overrides, now, resources=running)
    up = [d.resource for d in wanted_now.values() if d.desired is Desired.RUNNING]
    for instant in candidates:
        later = desired_state([schedule], holidays, overrides, instant, resources=up)
        stopping = tuple(d.resource for d in later.values() if d.desired is Desired.STOPPED)
        if stopping:
            return StopWarning(schedule, instant, stopping)
    return None


def _concerns(override: Override, schedule: Schedule) -> bool:
    if override.team != schedule.team:
        return False
    if override.kind is OverrideKind.SKIP:
        return override.target == schedule.name
    return not override.target.startswith("schedule:") or override.target == (
        f"schedule:{schedule.name}"
    )


def _matching(
    target: str, resources: Sequence[ScheduledResource], schedules: Sequence[Schedule]
) -> list[tuple[ScheduledResource, Schedule]]:
    """The scheduled resources ``target`` names, each with a schedule selecting it."""
    probe = Override(OverrideKind.KEEP, "", target, dt.datetime.min, dt.datetime.min)
    matched = []
    for resource in resources:
        schedule = next((s for s in schedules if s.selects(resource)), None)
        if schedule is not None and probe.keeps(replace(schedule, team=""), resource):
            matched.append((resource, schedule))
    if matched:
        return matched
    names = sorted(
        {r.name for r in resources for s in schedules if s.selects(r)}
        | {r.resource_id for r in resources for s in schedules if s.selects(r)}
    )
    close = difflib.get_close_matches(target, names, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise ScheduleError(
        f"'{echo(target)}' names no resource an active schedule looks after.{hint} Name an "
        "instance id, a notebook instance's name, a Name tag, or a tag as key=value (e.g. "
        "`env=dev`)."
    )


def _next_local(clock: dt.time, zone: Any, now: dt.datetime) -> dt.datetime:
    local_now = now.astimezone(zone)
    candidate = dt.datetime.combine(local_now.date(), clock, tzinfo=zone)
    if candidate <= local_now:
        candidate = dt.datetime.combine(local_now.date() + dt.timedelta(days=1), clock, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def _not_allowed(team: Team | None, what: str, *, approvers_only: bool = False) -> str:
    if team is None:
        return f"Only the team's approvers can {what}."
    people = list(team.approvers) if approvers_only else [*team.approvers, *team.members]
    names = ", ".join(f"<@{p}>" for p in dict.fromkeys(people)) or "nobody (none configured)"
    who = "approvers" if approvers_only else "members and approvers"
    return f"Only {team.name}'s {who} can {what}: {names}."

"""Off-hours schedules: when a team's dev and training resources should be up, as arithmetic.

A schedule has a name, an IANA time zone, periods (weekday names with a local start and stop
time), optional holidays, a mode and a tag selector within one team::

    fraud-dev-hours  America/New_York  mon-fri 09:00-19:00  tags env=dev  start_stop

Everything here is pure: no clock, no AWS, no Slack. ``desired_state`` answers "should this
resource run at ``t``?" from the schedules, the holidays and the overrides; ``next_change``
finds the next instant that answer changes (``engines.schedules.desired``). Enforcement
(``engines.schedules.enforcement``) acts only when the answer changes, as AWS Instance
Scheduler does, so a box someone starts by hand at 23:00 is left alone until the next boundary.

Rules worth knowing:

- Times are local wall-clock times in the schedule's zone, turned into instants with
  ``zoneinfo``: a 09:00 start happens once a day at 09:00 local, across both DST changes.
  A time that does not exist on a spring-forward day (02:30 in New York) happens at the
  same distance from midnight in the old offset (03:30 new time); a repeated one (01:30 on a
  fall-back day) happens at its first occurrence.
- A period runs from its start up to (not including) its stop on the same day. Overnight
  periods are written as two periods (``mon-fri 22:00-23:59`` and ``tue-sat 00:00-06:00``).
- A holiday (a local date) is off all day. ``skip`` overrides add holidays for one schedule.
- ``stop_only`` schedules never start anything: outside their periods resources are stopped,
  inside them nobody is fought whatever they do.
- A ``keep`` override keeps matching resources running until it expires, then the schedule
  applies again (and stops them, being a change of the desired state).
- A resource several active schedules select runs when any of them wants it running.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engines.errors import UserInputError
from engines.words import echo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_WORDS = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
LONG_DAY_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "tues": "tue",
    "thur": "thu",
    "thurs": "thu",
}
HOURS_PER_MONTH = Decimal(730)  # AWS's convention for monthly prices
HOURS_PER_WEEK = Decimal(168)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class ScheduleError(UserInputError):
    """A schedule cannot be used as written; the message says what to change."""


class Desired(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class Mode(StrEnum):
    START_STOP = "start_stop"
    STOP_ONLY = "stop_only"


class OverrideKind(StrEnum):
    KEEP = "keep"  # keep matching resources running until ``until``
    SKIP = "skip"  # the schedule's resources stay off from ``starts`` to ``until`` (a day)


class ResourceKind(StrEnum):
    EC2 = "ec2"
    RDS = "rds"
    ASG = "asg"
    NOTEBOOK = "notebook"  # a SageMaker notebook instance

    @property
    def label(self) -> str:
        return RESOURCE_LABELS[self]


RESOURCE_LABELS = {
    ResourceKind.EC2: "EC2 instance",
    ResourceKind.RDS: "RDS instance",
    ResourceKind.ASG: "Auto Scaling group",
    ResourceKind.NOTEBOOK: "SageMaker notebook instance",
}


def describe_kinds() -> str:
    """Every kind a schedule stops and starts, in words: "EC2 instance, ... or SageMaker
    notebook instance"."""
    labels = list(RESOURCE_LABELS.values())
    return ", ".join(labels[:-1]) + " or " + labels[-1]


# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """On ``days`` (0 = Monday) from ``start`` (included) to ``stop`` (excluded), local time."""

    days: tuple[int, ...]
    start: dt.time
    stop: dt.time

    def describe(self) -> str:
        return f"{describe_days(self.days)} {self.start:%H:%M}-{self.stop:%H:%M}"

    def hours_per_week(self) -> Decimal:
        minutes = (self.stop.hour * 60 + self.stop.minute) - (
            self.start.hour * 60 + self.start.minute
        )
        return Decimal(minutes) / 60 * len(self.days)


@dataclass(frozen=True)
class Schedule:
    """One off-hours schedule of one team.

    Args:
        name: lowercase letters, digits and '-'.
        team: the team whose resources it selects.
        timezone: IANA zone the periods and holidays are read in.
        periods: when resources run.
        tags: the selector: a resource is selected when it has all of these tags and all of
            ``team_tags``.
        team_tags: the team's own tags (from the teams file), so a schedule never reaches
            another team's resources.
        claimed_first: the (tags, accounts) rules of the teams listed before this one: a
            resource one of them matches is that team's (the first matching rule owns it,
            as in allocation), so the schedule leaves it alone.
        holidays: local dates that are off all day.
        mode: ``start_stop`` or ``stop_only``.
        paused: a paused schedule does nothing.
        source: ``"teams file"`` or ``"slack"``.
    """

    name: str
    team: str
    timezone: str
    periods: tuple[Period, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    team_tags: Mapping[str, str] = field(default_factory=dict)
    holidays: tuple[dt.date, ...] = ()
    mode: Mode = Mode.START_STOP
    paused: bool = False
    source: str = "slack"
    created_by: str = ""
    claimed_first: tuple[tuple[Mapping[str, str], tuple[str, ...]], ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def selects(self, resource: ScheduledResource) -> bool:
        wanted = {**self.team_tags, **self.tags}
        if not wanted or any(resource.tags.get(k) != v for k, v in wanted.items()):
            return False
        return not any(
            all(resource.tags.get(k) == v for k, v in tags.items())
            and (not accounts or resource.account_id in accounts)
            for tags, accounts in self.claimed_first
        )

    def describe_periods(self) -> str:
        return ", ".join(period.describe() for period in self.periods)

    def describe_selector(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.tags.items()) or "all the team's resources"

    def hours_on_per_week(self) -> Decimal:
        return sum((p.hours_per_week() for p in self.periods), Decimal(0))

    def hours_off_per_month(self) -> Decimal:
        """Hours a month its resources are stopped (holidays aside), on 730 h a month."""
        on = self.hours_on_per_week() * HOURS_PER_MONTH / HOURS_PER_WEEK
        return (HOURS_PER_MONTH - on).quantize(Decimal("0.1"))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able form (what the store keeps for schedules defined from Slack)."""
        return {
            "name": self.name,
            "team": self.team,
            "timezone": self.timezone,
            "periods": [p.describe() for p in self.periods],
            "tags": dict(self.tags),
            "holidays": [day.isoformat() for day in self.holidays],
            "mode": self.mode.value,
            "created_by": self.created_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, team_tags: Mapping[str, str]) -> Schedule:
        return cls(
            name=data["name"],
            team=data["team"],
            timezone=data["timezone"],
            periods=tuple(parse_period(text) for text in data["periods"]),
            tags=dict(data.get("tags") or {}),
            team_tags=dict(team_tags),
            holidays=tuple(dt.date.fromisoformat(day) for day in data.get("holidays", [])),
            mode=Mode(data.get("mode", Mode.START_STOP)),
            source="slack",
            created_by=data.get("created_by", ""),
        )


@dataclass(frozen=True)
class ScheduledResource:
    """Something a schedule can stop and start, as the inventory found it.

    ``size`` is the instance type (EC2, and an ASG's instances) or DB instance class (RDS);
    ``count`` is how many instances it runs (1, or an ASG's desired capacity).
    """

    kind: ResourceKind
    resource_id: str
    name: str
    tags: Mapping[str, str]
    region: str
    running: bool
    size: str = ""
    count: int = 1
    account_id: str = ""
    state: str = ""  # as AWS says it ("stopped", "available", "stopping", ...)
    multi_az: bool = False

    @property
    def key(self) -> str:
        """Stable identity across restarts: kind, account, region and id."""
        return f"{self.kind.value}:{self.account_id}:{self.region}:{self.resource_id}"

    @property
    def label(self) -> str:
        if self.name and self.name != self.resource_id:
            return f"{self.name} ({self.resource_id})"
        return self.resource_id


@dataclass(frozen=True)
class Override:
    """A temporary exception: ``keep`` a resource (or tag, or schedule) running, or ``skip``
    a schedule's day. Active from ``starts`` (included) to ``until`` (excluded), UTC.

    ``target`` for ``keep``: a resource id or Name, ``key=value`` for a tag, or
    ``schedule:<name>`` for every resource of a schedule. For ``skip``: a schedule name.
    """

    kind: OverrideKind
    team: str
    target: str
    starts: dt.datetime
    until: dt.datetime
    created_by: str = ""
    id: int = 0

    def active(self, t: dt.datetime) -> bool:
        return self.starts <= t < self.until

    def keeps(self, schedule: Schedule, resource: ScheduledResource) -> bool:
        if self.kind is not OverrideKind.KEEP or schedule.team != self.team:
            return False
        if self.target.startswith("schedule:"):
            return self.target.removeprefix("schedule:") == schedule.name
        if "=" in self.target:
            key, _, value = self.target.partition("=")
            return resource.tags.get(key.strip()) == value.strip()
        return self.target in {resource.resource_id, resource.name}

    def skips(self, schedule: Schedule) -> bool:
        return self.kind is OverrideKind.SKIP and self.target == schedule.name

    def describe(self, zone: ZoneInfo) -> str:
        until = self.until.astimezone(zone)
        if self.kind is OverrideKind.SKIP:
            day = self.starts.astimezone(zone)
            return f"skip {self.target} on {day:%a %b %-d}"
        target = self.target.removeprefix("schedule:")
        return f"keep {target} running until {until:%a %H:%M %Z}"


@dataclass(frozen=True)
class Decision:
    """What one resource should be at ``t`` and why."""

    resource: ScheduledResource
    desired: Desired
    schedule: str  # the deciding schedule
    mode: Mode
    reason: str


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""Day names by ``date.weekday()`` (Monday is 0, as in ``Period.days``), for messages."""


def day_off_reason(schedule: Schedule, day: dt.date, holidays: Collection[dt.date] = ()) -> str:
    """Why ``schedule`` runs nothing on the local date ``day`` anyway, as a predicate
    ("doesn't run on Sunday"), or "" when it runs that day."""
    if day in holidays or day in schedule.holidays:
        return f"is off on {DAY_NAMES[day.weekday()]} {day:%b %-d} anyway (a holiday)"
    if not any(day.weekday() in period.days for period in schedule.periods):
        return f"doesn't run on {DAY_NAMES[day.weekday()]}"
    return ""


# --- reading what people write -----------------------------------------------------------


def check_name(name: str) -> str:
    if not name.strip():
        raise ScheduleError(
            "A schedule needs a name: lowercase letters, digits and '-', like `fraud-dev-hours`."
        )
    if not _NAME.match(name):
        why = (
            f"it is {len(name)} characters long, and 63 is the most"
            if len(name) > 63 and _NAME.match(name[:63])
            else "it may only have lowercase letters, digits and '-', and start with a "
            "letter or digit"
        )
        raise ScheduleError(
            f"'{echo(name)}' cannot be a schedule name: {why}. Try something like "
            "`fraud-dev-hours`."
        )
    return name


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA zone (case mended), else a ``ScheduleError`` with a
    near-miss suggestion."""
    text = name.strip()
    by_lower = {zone.lower(): zone for zone in _zone_names()}
    if text.lower() in by_lower:
        text = by_lower[text.lower()]
    try:
        ZoneInfo(text)
        return text
    except (ZoneInfoNotFoundError, ValueError):
        pass
    close = difflib.get_close_matches(text.lower(), list(by_lower), n=1, cutoff=0.7)
    hint = f" Did you mean `{by_lower[close[0]]}`?" if close else ""
    raise ScheduleError(
        f"'{echo(text)}' is not a time zone I know.{hint} Use an IANA name like "
        "`America/New_York` or `Europe/London`."
    )


def parse_time(text: str) -> dt.time:
    match = _TIME.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(
            f"'{echo(text)}' is not a time: write 24-hour HH:MM, like 09:00 or 19:30."
        )
    return dt.time(int(match[1]), int(match[2]))


def parse_days(text: str) -> tuple[int, ...]:
    """``mon-fri``, ``mon,wed,fri``, ``sat-sun``, ``weekdays``, ``weekends``, ``daily``."""
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        if part in DAY_WORDS:
            days += DAY_WORDS[part]
            continue
        first, dash, last = part.partition("-")
        start = _weekday(first)
        if not dash:
            days.append(start)
            continue
        stop = _weekday(last)
        span = (stop - start) % 7
        days += [(start + offset) % 7 for offset in range(span + 1)]
    return tuple(sorted(set(days)))


def _weekday(word: str) -> int:
    word = LONG_DAY_NAMES.get(word, word)
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    known = list(WEEKDAYS) + list(DAY_WORDS) + list(LONG_DAY_NAMES)
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise ScheduleError(
        f"'{echo(word)}' is not a day.{hint} Use mon, tue, wed, thu, fri, sat, sun, ranges like "
        "`mon-fri`, or `weekdays`, `weekends`, `daily`."
    )


def parse_period(text: str) -> Period:
    """``mon-fri 09:00-19:00`` → a period. Stop must come after start on the same day."""
    parts = text.split()
    if len(parts) != 2 or parts[1].count("-") != 1:
        raise ScheduleError(
            f"'{echo(text)}' is not a period: write days and hours like `mon-fri 09:00-19:00`."
        )
    days = parse_days(parts[0])
    start_text, _, stop_text = parts[1].partition("-")
    start, stop = parse_time(start_text), parse_time(stop_text)
    if stop <= start:
        raise ScheduleError(
            f"In '{echo(text)}' the stop ({stop:%H:%M}) is not after the start ({start:%H:%M}). "
            "A period stops later the same day; for a night write two periods, e.g. "
            "`mon-fri 22:00-23:59` and `tue-sat 00:00-06:00`."
        )
    return Period(days, start, stop)


def parse_periods(text: str) -> tuple[Period, ...]:
    """Periods separated by ``;`` or new lines, checked for overlaps."""
    pieces = [piece.strip() for piece in re.split(r"[;\n]", text) if piece.strip()]
    if not pieces:
        raise ScheduleError("A schedule needs at least one period, like `mon-fri 09:00-19:00`.")
    return check_periods(tuple(parse_period(piece) for piece in pieces))


def check_periods(periods: tuple[Period, ...]) -> tuple[Period, ...]:
    for index, first in enumerate(periods):
        for second in periods[index + 1 :]:
            shared = sorted(set(first.days) & set(second.days))
            if shared and first.start < second.stop and second.start < first.stop:
                raise ScheduleError(
                    f"The periods `{first.describe()}` and `{second.describe()}` overlap on "
                    f"{describe_days(tuple(shared))}: make them one period or move one."
                )
    return periods


def parse_holidays(values: Iterable[str | dt.date]) -> tuple[dt.date, ...]:
    days = []
    for value in values:
        if isinstance(value, dt.date):
            days.append(value)
            continue
        try:
            days.append(dt.date.fromisoformat(value.strip()))
        except ValueError:
            raise ScheduleError(
                f"'{echo(value)}' is not a date: write holidays as YYYY-MM-DD, like 2026-12-25."
            ) from None
    return tuple(sorted(set(days)))


def parse_tags(text: str) -> dict[str, str]:
    """``env=dev, workload_type=notebook`` → a selector."""
    tags: dict[str, str] = {}
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        key, equals, value = part.partition("=")
        if not equals or not key or not value:
            raise ScheduleError(
                f"'{echo(part)}' is not a tag: write key=value pairs like `env=dev`, "
                "separated by commas."
            )
        tags[key] = value
    return tags


def parse_mode(text: str) -> Mode:
    word = text.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"start_stop": Mode.START_STOP, "stop_only": Mode.STOP_ONLY, "stop": Mode.STOP_ONLY}
    if word in aliases:
        return aliases[word]
    raise ScheduleError(
        f"'{echo(text)}' is not a mode: say `start_stop` (stops and starts) or `stop_only` "
        "(stops only; people start them)."
    )


def describe_days(days: tuple[int, ...]) -> str:
    for word, listed in DAY_WORDS.items():
        if word != "everyday" and tuple(days) == listed:
            return {"daily": "every day", "weekdays": "mon-fri", "weekends": "sat-sun"}[word]
    runs: list[str] = []
    start = prev = days[0]
    for day in [*days[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        runs.append(WEEKDAYS[start] if start == prev else f"{WEEKDAYS[start]}-{WEEKDAYS[prev]}")
        if day is not None:
            start = prev = day
    return ",".join(runs)


def check_selects_something(
    schedule: Schedule, resources: Sequence[ScheduledResource]
) -> list[ScheduledResource]:
    """The resources ``schedule`` selects; a ``ScheduleError`` when there are none, naming
    the tags the team's resources do have (and the closest one)."""
    selected = [r for r in resources if schedule.selects(r)]
    if selected:
        return selected
    team_resources = [r for r in resources if replace(schedule, tags={}).selects(r)]
    seen = sorted({f"{k}={v}" for r in team_resources for k, v in r.tags.items() if k != "Name"})
    wanted = schedule.describe_selector()
    close = difflib.get_close_matches(
        ",".join(f"{k}={v}" for k, v in schedule.tags.items()), seen, n=1, cutoff=0.6
    )
    hint = f" Did you mean `{close[0]}`?" if close else ""
    if not team_resources:
        raise ScheduleError(
            f"The tag selector {wanted} matches nothing: team {schedule.team} has no "
            f"{describe_kinds()} I can see."
        )
    listed = ", ".join(seen[:12])
    raise ScheduleError(
        f"The tag selector {wanted} matches none of team {schedule.team}'s "
        f"{len(team_resources)} resources.{hint} Their tags: {listed}."
    )

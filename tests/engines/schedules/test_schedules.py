"""Desired state as arithmetic: boundaries, DST, holidays, overrides, stop-only. No sleeping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from engines.schedules.desired import (
    action_for,
    boundaries,
    desired_state,
    estimate_saving,
    next_change,
    schedule_state,
)
from engines.schedules.model import (
    Desired,
    Mode,
    Override,
    OverrideKind,
    ResourceKind,
    ScheduledResource,
    ScheduleError,
    check_selects_something,
)
from tests.engines.schedules.written_schedules import build_schedule

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC


def office_hours(timezone="America/New_York", tags="env=dev", **extra):
    return build_schedule(
        name="dev-hours",
        team="fraud-detection",
        team_tags={"team": "fraud-detection"},
        timezone=timezone,
        periods="mon-fri 09:00-19:00",
        tags=tags,
        **extra,
    )


def box(name="notebook", **tags):
    return ScheduledResource(
        kind=ResourceKind.EC2,
        resource_id=f"i-{name}",
        name=name,
        tags={"team": "fraud-detection", "env": "dev", **tags},
        region="us-east-1",
        running=True,
        size="m5.large",
    )


def at(zone, *args):
    return dt.datetime(*args, tzinfo=zone).astimezone(UTC)


def state(schedule, t, holidays=(), overrides=()):
    return schedule_state(schedule, holidays, overrides, t)[0]


# --- weekday and weekend boundaries ------------------------------------------------------


def test_a_weekday_runs_from_nine_to_seven_local():
    schedule = office_hours()
    # Wed Nov 18 2026
    assert state(schedule, at(NEW_YORK, 2026, 11, 18, 8, 59)) is Desired.STOPPED
    assert state(schedule, at(NEW_YORK, 2026, 11, 18, 9, 0)) is Desired.RUNNING
    assert state(schedule, at(NEW_YORK, 2026, 11, 18, 18, 59)) is Desired.RUNNING
    assert state(schedule, at(NEW_YORK, 2026, 11, 18, 19, 0)) is Desired.STOPPED


def test_the_weekend_stays_off_from_friday_evening_to_monday_morning():
    schedule = office_hours()
    friday_stop = at(NEW_YORK, 2026, 11, 20, 19, 0)
    assert next_change(schedule, (), (), friday_stop - dt.timedelta(minutes=1)) == (
        friday_stop,
        Desired.STOPPED,
    )
    change = next_change(schedule, (), (), friday_stop)
    assert change == (at(NEW_YORK, 2026, 11, 23, 9, 0), Desired.RUNNING)  # Monday 09:00
    assert state(schedule, at(NEW_YORK, 2026, 11, 21, 12, 0)) is Desired.STOPPED  # Saturday noon


def test_a_weekday_in_the_schedules_zone_not_utc():
    # 01:00 UTC on Saturday is still Friday 20:00 in New York: off, but a Friday.
    schedule = build_schedule(
        name="late",
        team="t",
        team_tags={"team": "t"},
        timezone="America/New_York",
        periods="fri 19:00-21:00",
    )
    assert state(schedule, dt.datetime(2026, 11, 21, 1, 0, tzinfo=UTC)) is Desired.RUNNING


# --- daylight saving time ----------------------------------------------------------------


def _starts_between(schedule, first, last):
    """The instants in [first, last) the schedule turns RUNNING."""
    starts = []
    for instant in boundaries(schedule, first, last):
        before = state(schedule, instant - dt.timedelta(microseconds=1))
        if before is Desired.STOPPED and state(schedule, instant) is Desired.RUNNING:
            starts.append(instant)
    return starts


@pytest.mark.parametrize(
    ("zone_name", "change_day"),
    [
        ("America/New_York", dt.date(2026, 3, 8)),  # spring forward, Sunday
        ("America/New_York", dt.date(2026, 11, 1)),  # fall back, Sunday
        ("Europe/London", dt.date(2026, 3, 29)),
        ("Europe/London", dt.date(2026, 10, 25)),
    ],
)
def test_a_nine_oclock_start_happens_once_at_nine_local_across_dst(zone_name, change_day):
    zone = ZoneInfo(zone_name)
    schedule = build_schedule(
        name="daily", team="t", team_tags={"team": "t"}, timezone=zone_name,
        periods="daily 09:00-17:00",
    )  # fmt: skip
    first = dt.datetime.combine(change_day - dt.timedelta(days=2), dt.time(), tzinfo=zone)
    last = dt.datetime.combine(change_day + dt.timedelta(days=3), dt.time(), tzinfo=zone)
    starts = _starts_between(schedule, first.astimezone(UTC), last.astimezone(UTC))
    local = [s.astimezone(zone) for s in starts]
    assert [d.date() for d in local] == [
        change_day + dt.timedelta(days=offset) for offset in range(-2, 3)
    ]
    assert {(d.hour, d.minute) for d in local} == {(9, 0)}
    # ... and in UTC the start moves by the hour the clocks moved, on the change day.
    offsets = {d.date(): d.utcoffset() for d in local}
    assert offsets[change_day - dt.timedelta(days=1)] != offsets[change_day + dt.timedelta(days=1)]


def test_ten_hours_on_the_day_the_clocks_go_back_are_ten_hours_of_wall_clock():
    schedule = build_schedule(
        name="d", team="t", team_tags={"team": "t"}, timezone="Europe/London",
        periods="daily 00:30-10:30",
    )  # fmt: skip
    day = dt.date(2026, 10, 25)  # 02:00 BST -> 01:00 GMT
    start = next_change(schedule, (), (), at(LONDON, 2026, 10, 25, 0, 0))
    stop = next_change(schedule, (), (), start[0])
    assert start[1] is Desired.RUNNING and stop[1] is Desired.STOPPED
    assert start[0].astimezone(LONDON).date() == day
    assert stop[0] - start[0] == dt.timedelta(hours=11)  # the repeated hour is lived twice


# --- holidays, overrides, stop-only ------------------------------------------------------


def test_a_holiday_is_off_all_day():
    thanksgiving = dt.date(2026, 11, 26)
    schedule = office_hours(holidays=["2026-11-26"])
    assert state(schedule, at(NEW_YORK, 2026, 11, 26, 11, 0)) is Desired.STOPPED
    assert state(schedule, at(NEW_YORK, 2026, 11, 27, 11, 0)) is Desired.RUNNING
    plain = office_hours()
    noon = at(NEW_YORK, 2026, 11, 26, 12, 0)
    assert state(plain, noon, holidays={thanksgiving}) is Desired.STOPPED
    assert next_change(schedule, (), (), at(NEW_YORK, 2026, 11, 25, 12, 0)) == (
        at(NEW_YORK, 2026, 11, 25, 19, 0),
        Desired.STOPPED,
    )
    assert next_change(schedule, (), (), at(NEW_YORK, 2026, 11, 25, 19, 0)) == (
        at(NEW_YORK, 2026, 11, 27, 9, 0),
        Desired.RUNNING,
    )


def test_a_keep_override_holds_until_it_expires_then_the_schedule_applies():
    schedule = office_hours()
    notebook = box()
    keep = Override(
        OverrideKind.KEEP, "fraud-detection", "notebook",
        starts=at(NEW_YORK, 2026, 11, 18, 18, 30), until=at(NEW_YORK, 2026, 11, 18, 22, 0),
    )  # fmt: skip

    def desired(t):
        return desired_state([schedule], (), [keep], t, resources=[notebook])[notebook.key].desired

    assert desired(at(NEW_YORK, 2026, 11, 18, 19, 0)) is Desired.RUNNING
    assert desired(at(NEW_YORK, 2026, 11, 18, 21, 59)) is Desired.RUNNING
    assert desired(at(NEW_YORK, 2026, 11, 18, 22, 0)) is Desired.STOPPED
    # another box of the same schedule is not kept
    other = box("other")
    decisions = desired_state(
        [schedule], (), [keep], at(NEW_YORK, 2026, 11, 18, 20, 0), resources=[other]
    )
    assert decisions[other.key].desired is Desired.STOPPED


def test_a_skip_override_keeps_the_day_off_and_ends_at_midnight():
    schedule = office_hours()
    skip = Override(
        OverrideKind.SKIP, "fraud-detection", "dev-hours",
        starts=at(NEW_YORK, 2026, 11, 19, 0, 0), until=at(NEW_YORK, 2026, 11, 20, 0, 0),
    )  # fmt: skip
    assert state(schedule, at(NEW_YORK, 2026, 11, 19, 10, 0), overrides=[skip]) is Desired.STOPPED
    assert state(schedule, at(NEW_YORK, 2026, 11, 20, 10, 0), overrides=[skip]) is Desired.RUNNING


def test_stop_only_schedules_never_start_anything():
    schedule = office_hours(mode="stop_only")
    assert schedule.mode is Mode.STOP_ONLY
    morning = at(NEW_YORK, 2026, 11, 18, 9, 0)
    decision = desired_state([schedule], (), (), morning, resources=[box()])[box().key]
    assert action_for(decision.mode, decision.desired) == ""
    evening = at(NEW_YORK, 2026, 11, 18, 19, 0)
    decision = desired_state([schedule], (), (), evening, resources=[box()])[box().key]
    assert action_for(decision.mode, decision.desired) == "stop"


def test_paused_schedules_and_other_teams_resources_are_left_out():
    from dataclasses import replace

    schedule = office_hours()
    stranger = ScheduledResource(
        ResourceKind.EC2, "i-x", "x", {"team": "nlp", "env": "dev"}, "us-east-1", True
    )
    t = at(NEW_YORK, 2026, 11, 18, 20, 0)
    assert desired_state([schedule], (), (), t, resources=[stranger]) == {}
    assert desired_state([replace(schedule, paused=True)], (), (), t, resources=[box()]) == {}


def test_the_saving_is_hours_off_times_prices():
    schedule = office_hours()  # 50 h a week on
    assert schedule.hours_off_per_month() == Decimal("512.7")  # 730 - 50 * 730 / 168
    estimate = estimate_saving(
        schedule, [box("a"), box("b")], {box("a").key: Decimal("0.096"), box("b").key: None}
    )
    assert estimate.monthly == Decimal("49.22")  # 512.7 h x $0.096
    assert estimate.unpriced == ("b (i-b)",)


# --- bad input ---------------------------------------------------------------------------


def _build(**changes):
    fields = dict(
        name="dev-hours", team="t", team_tags={"team": "t"}, timezone="Europe/London",
        periods="mon-fri 09:00-19:00",
    )  # fmt: skip
    return build_schedule(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"timezone": "America/New_Yrok"}, "Did you mean `America/New_York`?"),
        ({"timezone": "Mars/Olympus"}, "not a time zone I know"),
        ({"periods": "mon-fri 19:00-09:00"}, "the stop (09:00) is not after the start (19:00)"),
        (
            {"periods": "mon-fri 09:00-17:00; wed 16:00-20:00"},
            "`mon-fri 09:00-17:00` and `wed 16:00-20:00` overlap on wed",
        ),
        ({"periods": "mon-fir 09:00-19:00"}, "Did you mean `fri`?"),
        ({"periods": "mon-fri 9-17"}, "'9' is not a time: write 24-hour HH:MM"),
        ({"periods": "weekdays"}, "write days and hours like `mon-fri 09:00-19:00`"),
        ({"periods": "mon-fri 09:00-25:00"}, "'25:00' is not a time"),
        ({"holidays": ["25/12/2026"]}, "write holidays as YYYY-MM-DD"),
        ({"name": "Dev Hours"}, "cannot be a schedule name"),
        ({"mode": "sometimes"}, "say `start_stop` (stops and starts) or `stop_only`"),
    ],
)
def test_bad_input_says_what_is_wrong(changes, expected):
    with pytest.raises(ScheduleError) as raised:
        _build(**changes)
    assert expected in str(raised.value)


def test_case_is_mended_in_time_zone_names():
    assert _build(timezone="europe/london").timezone == "Europe/London"


def test_a_selector_matching_nothing_names_the_tags_there_are():
    schedule = office_hours(tags="env=dve")
    with pytest.raises(ScheduleError) as raised:
        check_selects_something(schedule, [box("a"), box("b")])
    message = str(raised.value)
    assert "env=dve matches none of team fraud-detection's 2 resources" in message
    assert "Did you mean `env=dev`?" in message
    assert check_selects_something(office_hours(), [box("a")]) == [box("a")]

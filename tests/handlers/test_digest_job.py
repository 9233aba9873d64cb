"""The digest job with frozen time: one digest per team per local day, whatever happens.

The job runs every minute in production; here the test is the clock. A "restart" is a new
store, outbox and job on the same database file, as after a crash.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_deps
from bot.settings import Settings
from bot.store import Store
from engines.sources.focus import FocusFileSource
from handlers.digests import DigestJob, check_budget_alerts
from tests.conftest import DEMO_TEAMS

NEW_YORK = ZoneInfo("America/New_York")


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def source(small_export):
    return FocusFileSource(str(small_export.path))


def start_process(db_path, source, clock, teams_file=DEMO_TEAMS):
    """What a start-up builds: a store on the file, deps with an outbox, the job."""
    settings = Settings(db_path=db_path, teams_file=teams_file, slack_bot_token="xoxb-unused")
    store = Store(db_path)
    deps = build_deps(settings, store=store, cost_source=source, now=clock)
    return store, deps, DigestJob(deps)


def digests_by_team_and_day(store: Store) -> Counter:
    rows = store.outbox_rows(kind="digest", limit=10_000)
    return Counter((row["team"], json.loads(row["meta"])["date"]) for row in rows)


def at_new_york(hour: int, minute: int, second: int = 0, day: int = 20) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=NEW_YORK).astimezone(dt.UTC)


def test_a_restart_at_09_00_30_does_not_post_a_second_digest(tmp_path, source):
    clock = Clock(at_new_york(8, 59))
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    assert "fraud-detection" not in job(clock.now).queued  # 08:59 in New York: not yet
    clock.now = at_new_york(9, 0)
    assert "fraud-detection" in job(clock.now).queued

    clock.now = at_new_york(9, 0, 30)  # the process dies and starts again
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    again = job(clock.now)

    assert "fraud-detection" not in again.queued and "fraud-detection" in again.already
    assert digests_by_team_and_day(store)[("fraud-detection", "2026-11-20")] == 1
    (row,) = store.outbox_rows(team="fraud-detection", kind="digest")
    assert row["key"] == "digest:fraud-detection:2026-11-20"
    assert row["channel"] == "#fraud-detection-costs"
    assert "fraud-detection · daily digest · Fri Nov 20" in json.loads(row["message"])["text"]


def test_a_restart_before_the_post_is_delivered_still_delivers_it_once(tmp_path, source):
    clock = Clock(at_new_york(9, 0))
    _, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    job(clock.now)  # queued, then the process dies before posting

    clock.now = at_new_york(9, 1)
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    job(clock.now)
    pending = store.outbox_rows(team="fraud-detection", state="pending")
    # The new process's outbox delivers them (see tests/bot/test_outbox): once each.
    assert sorted(row["kind"] for row in pending) == ["digest", "digest_chart"]


def test_one_digest_per_team_per_weekday_across_both_dst_changes(tmp_path, source):
    # London falls back on Oct 25, New York on Nov 1; the job runs every minute.
    clock = Clock(dt.datetime(2026, 10, 23, 7, 0, tzinfo=dt.UTC))  # before 9 everywhere
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    end = dt.datetime(2026, 11, 4, 0, 0, tzinfo=dt.UTC)
    while clock.now < end:
        job(clock.now)
        if clock.now.minute == 30 and clock.now.hour == 14:  # a restart every afternoon
            store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
        clock.now += dt.timedelta(minutes=1)

    counts = digests_by_team_and_day(store)
    assert set(counts.values()) == {1}
    for team in ("fraud-detection", "recommendations", "nlp"):
        days = sorted(day for name, day in counts if name == team)
        weekdays = [
            d.isoformat()
            for d in (dt.date(2026, 10, 23) + dt.timedelta(days=n) for n in range(12))
            if d.weekday() < 5
        ]
        assert days == weekdays, team
    for row in store.outbox_rows(kind="digest", limit=100):
        zone = ZoneInfo(deps.teams[row["team"]].timezone)
        local = dt.datetime.fromisoformat(row["created_at"]).astimezone(zone)
        assert (local.hour, local.minute) == (9, 0), row["key"]  # on time, both sides of DST


def test_budget_alerts_are_queued_once_per_period(tmp_path, source):
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text(
        '[teams.fraud-detection]\ntags = { team = "fraud-detection" }\n'
        'channel = "#fraud-detection-costs"\nmonthly_budget = 1000\n'
        'members = ["U0DEMOBOB"]\napprovers = ["U0DEMOALICE"]\n'
    )
    clock = Clock(dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC))
    store, deps, _ = start_process(tmp_path / "costbot.db", source, clock, teams_file)

    first = check_budget_alerts(deps, now=clock.now)
    clock.now += dt.timedelta(hours=3)
    second = check_budget_alerts(deps, now=clock.now)

    assert {(d.alert.kind.value, str(d.alert.threshold), d.status) for d in first} == {
        ("budget", "50", "sent"),
        ("forecast", "100", "sent"),
    }
    assert {d.status for d in second} == {"already sent"}
    assert len(store.outbox_rows(kind="alert")) == 2


def test_the_digest_carries_its_chart_right_behind_it(tmp_path, source):
    from slack_sdk import WebClient

    from bot.demo.slack_standin import SlackStandIn
    from bot.outbox import Outbox, SlackPoster

    clock = Clock(at_new_york(9, 0))
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    job(clock.now)
    rows = store.outbox_rows(team="fraud-detection", limit=10)
    assert sorted(row["kind"] for row in rows) == ["digest", "digest_chart"]
    slack = SlackStandIn(signing_secret="s" * 20, bot_token="xoxb-chart")
    slack.start()
    try:
        client = WebClient(token="xoxb-chart", base_url=slack.api_url, retry_handlers=[])
        outbox = Outbox(store, SlackPoster(client), clock=clock)
        for _ in range(4):  # one message per channel per second: digest, then chart
            outbox.deliver_due()
            clock.now += dt.timedelta(seconds=1)
        posted = slack.messages("#fraud-detection-costs")
    finally:
        slack.stop()
    assert [bool(m["files"]) for m in posted] == [False, True]  # the digest, then its chart
    assert "daily digest" in posted[0]["text"]
    chart = slack.file_bytes(posted[1]["files"][0]["id"])
    assert chart is not None and chart.startswith(b"\x89PNG")

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
from engines.costs.sources.focus import FocusFileSource
from handlers.digests.jobs import DigestJob, check_budget_alerts
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
    # The new process's outbox delivers it (see tests/bot/test_outbox): once, its chart in it.
    assert [row["kind"] for row in pending] == ["digest"]
    assert json.loads(pending[0]["message"])["chart"]["filename"].endswith(".png")


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


def deliver_digest(store, clock, slack, *, passes=4, between=None):
    """The outbox, as `costbot serve` runs it, against the stand-in; ``between`` runs after
    the first pass (another message queued meanwhile)."""
    from slack_sdk import WebClient

    from bot.outbox import Outbox, SlackPoster

    client = WebClient(token="xoxb-chart", base_url=slack.api_url, retry_handlers=[])
    outbox = Outbox(store, SlackPoster(client), clock=clock)
    for n in range(passes):  # one message per channel per second
        outbox.deliver_due()
        if n == 0 and between is not None:
            between(outbox)
        clock.now += dt.timedelta(seconds=1)
    return outbox


@pytest.fixture
def slack():
    from bot.demo.slack_standin import SlackStandIn

    standin = SlackStandIn(signing_secret="s" * 20, bot_token="xoxb-chart")
    standin.start()
    yield standin
    standin.stop()


def test_the_digest_and_its_chart_are_one_message(tmp_path, source, slack):
    clock = Clock(at_new_york(9, 0))
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    job(clock.now)
    rows = store.outbox_rows(team="fraud-detection", limit=10)
    assert [row["kind"] for row in rows] == ["digest"]  # one row: one key, one post

    def alert(outbox):  # something else for the channel, queued right after the digest
        outbox.enqueue("alert:test", channel="#fraud-detection-costs",
                       message={"text": "an alert"}, kind="alert")  # fmt: skip

    deliver_digest(store, clock, slack, between=alert)
    posted = slack.messages("#fraud-detection-costs")
    assert len(posted) == 2
    digest, other = posted
    assert "daily digest" in str(digest["blocks"])
    assert [f["name"].endswith(".png") for f in digest["files"]] == [True]  # the chart in it
    assert other["text"] == "an alert" and not other["files"]


def test_when_slack_takes_no_blocks_with_the_upload_the_chart_goes_in_the_digests_thread(
    tmp_path, source, slack
):
    clock = Clock(at_new_york(9, 0))
    store, deps, job = start_process(tmp_path / "costbot.db", source, clock)
    job(clock.now)
    queued = len(store.outbox_rows(kind="digest"))  # every team's: they go out in parallel
    slack.fail_next(
        "files.completeUploadExternal", status=200, error="invalid_blocks", count=queued
    )

    def alert(outbox):  # queued while the digest is being sent again
        outbox.enqueue("alert:test", channel="#fraud-detection-costs",
                       message={"text": "an alert"}, kind="alert")  # fmt: skip

    outbox = deliver_digest(store, clock, slack, passes=6, between=alert)
    posted = slack.messages("#fraud-detection-costs")
    digests = [m for m in posted if "daily digest" in m["text"] + str(m["blocks"])]
    assert len(digests) == 1 and not digests[0]["files"]  # posted once, as plain blocks
    charts = [m for m in posted if m["files"]]
    assert len(charts) == 1 and charts[0]["thread_ts"] == digests[0]["ts"]  # in its thread
    assert [m["text"] for m in posted if not m.get("thread_ts") and not m["files"]][-1] == (
        "an alert"
    )

    # A retry, a restart or a second split posts nothing again.
    assert outbox.recover() == 0
    outbox.deliver_due()
    assert not store.outbox_due(clock.now)
    assert len(slack.messages("#fraud-detection-costs")) == len(posted)
    keys = {
        row["key"]: row["state"]
        for row in store.outbox_rows(limit=10)
        if row["channel"] == "#fraud-detection-costs"
    }
    assert keys == {
        "digest:fraud-detection:2026-11-20": "sent",
        "digest:fraud-detection:2026-11-20:chart": "sent",
        "alert:test": "sent",
    }

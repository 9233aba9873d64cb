"""An edited teams file answers the next question, without a restart.

The bot serves HTTP to the Slack stand-in, on a FOCUS export whose lines carry a tag key
(``project``) no rule of the teams file uses at first. The test adds a team matching on it,
and asks about that team: the answer is the export's own sum, and the export's rollup comes
to hold the new key. A teams file edited into something invalid changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import build_costbot, load_teams_file
from bot.demo.slack_standin import SlackStandIn
from bot.server import EVENTS_PATH, HttpServer, build_wsgi_app
from bot.settings import Settings
from bot.teams_file import TeamsFileWatch
from engines.costs.sources.rollup import RollupSource
from handlers.blocks.common import money
from tests.conftest import BOT_TOKEN, DEMO_TEAMS, FOCUS_COLUMNS, FROZEN_NOW, SIGNING_SECRET, Stack
from tests.handlers.test_cost_questions import ask, ask_wrongly, fields
from tests.waiting import wait_until

SEARCH_TEAM = """
[teams.search]
tags = { project = "search" }
channel = "#search-costs"
approvers = ["U0DEMODEV"]
members = ["U0DEMODEV"]
"""


def write_export(path: Path) -> dict[str, Decimal]:
    """October lines of nlp, and of a project tagged only ``project=search``; returns the
    search project's October sum by service."""
    search: dict[str, Decimal] = {}
    rows = []
    for day in range(1, 32):
        start = dt.date(2026, 10, day)
        for tags, service, amount in (
            ({"team": "nlp"}, "Amazon Elastic Compute Cloud", Decimal("12.5")),
            ({"project": "search"}, "Amazon Elastic Compute Cloud", Decimal(day) / 8),
            ({"project": "search"}, "Amazon Simple Storage Service", Decimal("0.33")),
        ):
            rows.append({
                "BillingAccountId": "123456789012", "SubAccountId": "123456789012",
                "ChargePeriodStart": f"{start}T00:00:00Z",
                "ChargePeriodEnd": f"{start + dt.timedelta(days=1)}T00:00:00Z",
                "BillingCurrency": "USD", "BilledCost": str(amount),
                "EffectiveCost": str(amount), "ListCost": str(amount), "ChargeCategory": "Usage",
                "ServiceName": service, "RegionId": "us-east-1",
                "ResourceId": f"i-{day}", "Tags": json.dumps(tags),
            })  # fmt: skip
            if "project" in tags:
                search[service] = search.get(service, Decimal(0)) + amount
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FOCUS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return search


@pytest.fixture
def followed(tmp_path: Path) -> Iterator[tuple[Stack, Path, dict[str, Decimal]]]:

    teams = tmp_path / "teams.toml"
    shutil.copy(DEMO_TEAMS, teams)
    search = write_export(tmp_path / "focus.csv")
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    slack.start()
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        db_path=tmp_path / "costbot.db",
        teams_file=teams,
        cost_source=f"focus:{tmp_path / 'focus.csv'}",
        rollup_db=tmp_path / "rollup.duckdb",
    )
    costbot = build_costbot(settings, now=lambda: FROZEN_NOW)
    assert costbot.deps.teams_file is not None
    costbot.deps.teams_file.recheck_s = 0  # look at every question (the bot: every second)
    server = HttpServer(
        build_wsgi_app(costbot.app, signing_secret=SIGNING_SECRET, health=costbot.store.ping)
    ).start()
    slack.connect_bot(server.url + EVENTS_PATH)
    try:
        yield Stack(costbot=costbot, server=server, slack=slack, store=costbot.store), teams, search
    finally:
        server.stop()
        costbot.deps.questions.shutdown(wait=True)
        costbot.deps.background.shutdown(wait=True)
        slack.stop()


def test_a_team_added_to_the_teams_file_is_answered_at_the_next_question(
    followed: tuple[Stack, Path, dict[str, Decimal]],
) -> None:
    stack, teams, search = followed
    rollup = stack.costbot.deps.cost_source
    assert isinstance(rollup, RollupSource)
    assert rollup.status().tag_keys == ("team",)
    refused = ask_wrongly(stack, "team search 2026-10")
    assert "search" in refused["text"]

    teams.write_text(teams.read_text() + SEARCH_TEAM)  # edited while the bot runs
    answer = ask(stack, "team search 2026-10 by service")

    expected = sorted(search.items(), key=lambda item: -item[1])
    shown = fields(answer)
    assert len(shown) == len(expected)
    for field, (service, amount) in zip(shown, expected, strict=True):
        assert service in field and money(amount, "USD") in field
    # The rollup follows: rebuilt (in the background) to hold the new rule's tag key.
    wait_until(lambda: rollup.status().tag_keys == ("project", "team"), 15)
    again = ask(stack, "team search 2026-10 by service")
    assert fields(again) == shown


def test_a_teams_file_edited_into_a_mistake_keeps_the_teams_it_had(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    teams = tmp_path / "teams.toml"
    shutil.copy(DEMO_TEAMS, teams)
    now = [0.0]
    changes: list[set[str]] = []
    watch = TeamsFileWatch(
        teams,
        load=load_teams_file,
        config=load_teams_file(teams),
        on_change=lambda config: changes.append(set(config.teams)),
        clock=lambda: now[0],
    )
    assert watch.changed() is None  # unchanged

    good = teams.read_text() + SEARCH_TEAM
    teams.write_text(good.replace('tags = { project = "search" }', "tags = 3"))
    now[0] += watch.recheck_s
    with caplog.at_level(logging.WARNING, logger="bot.teams_file"):
        assert watch.changed() is None
    assert "cannot be used" in caplog.text and "search" in caplog.text
    assert "search" not in watch.config.teams and changes == []

    teams.write_text(good)
    assert watch.changed() is None  # looked less than recheck_s ago
    now[0] += watch.recheck_s
    config = watch.changed()
    assert config is not None and "search" in config.teams
    assert changes == [{"fraud-detection", "recommendations", "nlp", "search"}]


def _watch(teams: Path, now: list[float]) -> TeamsFileWatch:
    return TeamsFileWatch(
        teams, load=load_teams_file, config=load_teams_file(teams), clock=lambda: now[0]
    )


def test_a_teams_file_replaced_with_its_old_size_and_mtime_is_read_again(tmp_path: Path) -> None:
    # `rsync -a` or `cp -p` put a team renamed to a name of the same length in place, with
    # the old file's mtime: size and mtime alone said "unchanged" and the old teams stayed.
    teams = tmp_path / "teams.toml"
    shutil.copy(DEMO_TEAMS, teams)
    now = [0.0]
    watch = _watch(teams, now)
    before = teams.stat()
    edited = tmp_path / "edited.toml"
    edited.write_text(teams.read_text().replace("nlp", "llm"))
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    edited.replace(teams)
    assert teams.stat().st_size == before.st_size

    now[0] += watch.recheck_s
    config = watch.changed()

    assert config is not None and "llm" in config.teams and "nlp" not in config.teams


def test_a_teams_file_that_is_not_utf8_keeps_the_teams_it_had(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    teams = tmp_path / "teams.toml"
    shutil.copy(DEMO_TEAMS, teams)
    now = [0.0]
    watch = _watch(teams, now)
    teams.write_bytes(teams.read_bytes() + "# caf\u00e9\n".encode("latin-1"))

    now[0] += watch.recheck_s
    with caplog.at_level(logging.WARNING, logger="bot.teams_file"):
        assert watch.changed() is None

    assert "cannot be used" in caplog.text
    assert set(watch.config.teams) == {"fraud-detection", "recommendations", "nlp"}


def test_a_question_is_answered_with_the_teams_it_was_asked_about(
    followed: tuple[Stack, Path, dict[str, Decimal]],
) -> None:
    # A question waiting for the pool while the file drops its team was answered "$0.00 ...
    # No costs matched nlp's rule" from the new teams: it keeps the teams it was planned with.
    from handlers.cost.questions import plan_team
    from handlers.parsing import parse_cost_command

    stack, teams, _ = followed
    deps = stack.costbot.deps
    work = plan_team(parse_cost_command("team nlp 2026-10"), deps, "U0DEMODEV")
    teams.write_text(teams.read_text().replace("nlp", "llm"))
    assert deps.follow_teams_file() and "nlp" not in deps.teams

    answer = work.result()

    assert answer.total == Decimal("12.5") * 31


def test_a_schedule_edit_says_it_takes_effect_at_the_next_restart(
    followed: tuple[Stack, Path, dict[str, Decimal]], caplog: pytest.LogCaptureFixture
) -> None:
    # Off-hours schedules are built at start-up: an edit that quietly did nothing left a
    # deleted schedule stopping instances every night.
    stack, teams, _ = followed
    teams.write_text(teams.read_text().replace("mon-fri 08:00-20:00", "mon-fri 09:00-20:00"))
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        stack.costbot.deps.follow_teams_file()
    assert "take effect when costbot restarts" in caplog.text

"""Hostile and random text in every parser that reads what people type: nothing escapes,
and every reply is a message written for a person (never a traceback or an internal error).

The whole `/cost` path is fuzzed (parsing, planning and the delivered answer), plus the
parsers reached from elsewhere: periods, schedules (the create modal) and the teams file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

from bot.app import build_costbot
from bot.settings import Settings
from engines.config.teams import load_config
from engines.costs.periods import parse_period
from engines.errors import CostbotError, UserInputError
from engines.schedules.model import ScheduleError
from handlers.commands.cost import answer_cost_command
from handlers.deps import Deps
from handlers.parsing import SCHEDULE_VERBS, SUBCOMMANDS
from tests.conftest import DEMO_TEAMS, FROZEN_NOW
from tests.engines.schedules.written_schedules import build_schedule

VOCABULARY = [
    *SUBCOMMANDS, *SCHEDULE_VERBS, "fraud-detection", "nlp", "recommendations", "platform",
    "fraud-detecton", "by", "metric", "vs", "team", "until", "tomorrow", "last", "month", "mtd",
    "7d", "30d", "last 90 days", "2026-10", "2026-13-45", "2026-02-30..2026-01-01", "september",
    "service", "account", "region", "resource", "billed", "effective", "list", "amortized",
    "g5.xlarge", "p3.2xlarge", "x1e.nope", "us-east-1", "mars-north-9", "25", "0", "-1",
    "99999999999999999999", "1e309", "NaN", "10:00", "25:99", "env=dev", "=", "team=",
    "<@U0DEMOALICE>", "<!channel>", "`", "*bold*", "\u202e", "🤑", "\x00", "'; drop table x;--",
    "{{7*7}}", "../../etc/passwd", "x" * 300, "\n", "\t",
]  # fmt: skip
HOSTILE_TEXT = st.one_of(
    st.lists(st.sampled_from(VOCABULARY), max_size=8).map(" ".join),
    st.builds(  # a real subcommand, then a few words: reaches every planner and answer
        lambda sub, words: " ".join([sub, *words]),
        st.sampled_from(SUBCOMMANDS),
        st.lists(st.sampled_from(VOCABULARY), max_size=4),
    ),
    st.text(max_size=200),
    st.builds(lambda a, b: f"{a} {b}", st.sampled_from(SUBCOMMANDS), st.text(max_size=60)),
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def example_each(texts: list[str]) -> Callable[[Any], Any]:
    """``@example(text=…)`` for each of ``texts``: every kind of answer is always tried."""

    def decorate(test: Any) -> Any:
        for text in texts:
            test = example(text=text)(test)
        return test

    return decorate


class RightAway(Executor):
    """Runs background work at once, so the delivered answer is checked too."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class NoSlack:
    """Slack's Web API answering ok to every call the command path makes."""

    def files_upload_v2(self, **_: Any) -> dict[str, Any]:
        return {"ok": True}

    def views_open(self, **_: Any) -> dict[str, Any]:
        return {"ok": True}

    def chat_postEphemeral(self, **_: Any) -> dict[str, Any]:
        return {"ok": True}

    def chat_postMessage(self, **_: Any) -> dict[str, Any]:
        return {"ok": True}


@pytest.fixture(scope="module")
def deps(tmp_path_factory, small_export) -> Iterator[Deps]:
    """The bot's real dependencies, over the small export and an empty moto account."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings(
        slack_bot_token="xoxb-fuzz",
        slack_signing_secret="fuzz-signing-secret",
        db_path=tmp_path_factory.mktemp("fuzz") / "costbot.db",
        teams_file=DEMO_TEAMS,
        cost_source=f"focus:{small_export.path}",
        aws_endpoint_url=f"http://{host}:{port}",
        aws_region="us-east-1",
    )
    costbot = build_costbot(settings, now=lambda: FROZEN_NOW, verify_token=False)
    yield dataclasses.replace(costbot.deps, background=RightAway(), questions=RightAway())
    moto.stop()
    patch.undo()


def assert_written_for_a_person(message: dict[str, Any], text: str) -> None:
    words = message.get("text", "")
    assert words.strip(), f"/cost {text!r}: an empty reply"
    for leak in ("Traceback", "internal error", "Exception", "NoneType", "KeyError"):
        assert leak not in words, f"/cost {text!r} answered {words!r}"


EVERY_KIND = [
    "team nlp", "top 3 by service", "untagged last month", "compare 2026-10 vs mtd team nlp",
    "forecast team nlp", "trend nlp last 7d", "rightsize nlp", "audit", "spot g5.xlarge",
    "spot g5.xlarge eu-west-1", "spot team nlp", "schedule list", "schedule show nlp-notebooks",
    "schedule keep nlp-notebook until 22:00", "schedule skip tomorrow", "schedule pause x",
    "schedule create", "SCHEDULE CREATE",
]  # fmt: skip


@SETTINGS
@given(text=HOSTILE_TEXT)
@example_each(EVERY_KIND)
def test_any_cost_command_gets_one_ack_and_a_message_for_a_person(deps, text):
    acks: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    command = {"user_id": "U0DEMOBOB", "channel_id": "C0DEMONLP", "text": text}

    answer_cost_command(
        ack=lambda **message: acks.append(message),
        command=command,
        respond=lambda **message: answers.append(message),
        client=NoSlack(),  # type: ignore[arg-type]
        deps=deps,
    )

    assert len(acks) == 1, f"/cost {text!r}: {len(acks)} acks"
    for message in acks + answers:
        assert_written_for_a_person(message, text)


@SETTINGS
@given(text=HOSTILE_TEXT)
def test_a_period_is_understood_or_refused_in_words(text):
    try:
        period = parse_period(text, today=dt.date(2026, 11, 20))
    except UserInputError as error:
        assert str(error).strip() and error.hint.strip()
    else:
        assert period.start <= period.end


SCHEDULE_FIELDS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["mon-fri 09:00-19:00", "sat 10:00-09:00", "mon 09:00-12:00\nmon 11:00-13:00",
                     "Europe/Lodnon", "America/New_York", "Etc/GMT+14", "env=dev", "=", "a=b=c",
                     "2026-12-25", "2026-02-30", "stop_only", "start_stop", "∞", ""]),
)  # fmt: skip


@SETTINGS
@given(
    name=SCHEDULE_FIELDS, timezone=SCHEDULE_FIELDS, periods=SCHEDULE_FIELDS,
    tags=SCHEDULE_FIELDS, holiday=SCHEDULE_FIELDS, mode=SCHEDULE_FIELDS,
)  # fmt: skip
def test_a_schedule_form_is_saved_or_refused_in_words(name, timezone, periods, tags, holiday, mode):
    try:
        build_schedule(
            name=name, team="nlp", team_tags={"team": "nlp"}, timezone=timezone,
            periods=periods, tags=tags, holidays=[holiday] if holiday else [], mode=mode,
        )  # fmt: skip
    except ScheduleError as error:
        assert str(error).strip()


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from([
            "[teams.nlp]", 'tags = { team = "nlp" }', 'channel = "#nlp"', "monthly_budget = -5",
            'approvers = ["U1"]', "approvers = 3", "[shared.x]", 'split = "even"', "[accounts.1]",
            'role_arn = "arn"', "[schedules.s]", 'team = "nlp"', 'timezone = "Mars/Base"',
            'periods = ["mon-fri 09:00-19:00"]', "monthly_budget = 1e999", "= =", "[[teams]]",
        ]), max_size=12).map("\n".join),
    )
)  # fmt: skip
def test_a_teams_file_loads_or_names_what_is_wrong(text):
    try:
        load_config(text, filename="teams.toml")
    except CostbotError as error:
        assert "teams.toml" in str(error)

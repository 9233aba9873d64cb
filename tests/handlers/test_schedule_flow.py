"""Off-hours schedules in the channel, on the demo world with a clock the test moves.

Wednesday Nov 18 2026, fraud-detection's dev boxes (schedule ``fraud-dev-hours``,
mon-fri 08:00-20:00 New York time, from the demo teams file) are about to stop.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.demo.slack_standin import limit_violations
from handlers import action_ids
from handlers.schedules.jobs import run_schedules
from tests.waiting import wait_until

ALICE, BOB, ERIN = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOERIN"
FRAUD = "C0DEMOFRAUD"
NEW_YORK = ZoneInfo("America/New_York")
DEV_BOXES = ("fraud-notebook-alice", "fraud-notebook-bob", "fraud-sandbox-api")


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def set_local(self, *args: int) -> None:
        self.current = dt.datetime(*args, tzinfo=NEW_YORK).astimezone(dt.UTC)


CLOCK = Clock(dt.datetime(2026, 11, 18, 19, 45, tzinfo=NEW_YORK).astimezone(dt.UTC))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=False
    )
    with DemoSandbox(options, now=CLOCK) as running:
        yield running


def ec2_states(sandbox: DemoSandbox) -> dict[str, str]:
    ec2 = sandbox.world.client("ec2")
    ids = {sandbox.world.instance_ids[name]: name for name in DEV_BOXES}
    reservations = ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
    return {ids[i["InstanceId"]]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def tick(sandbox: DemoSandbox, *local: int) -> int:
    CLOCK.set_local(*local)
    return run_schedules(sandbox.costbot.deps, sandbox.costbot.app.client)


def command(sandbox: DemoSandbox, user: str, text: str, expect: str) -> dict:
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    slack.send_command(user_id=user, channel_id=FRAUD, text=text)
    return slack.wait_for_message(
        lambda m: (
            m["channel"] == FRAUD
            and expect in (m["text"] + str(m["blocks"]))
            and "Working on" not in m["text"]
        ),
        timeout=30,
        after_ts=before,
    )


def test_the_list_shows_each_schedule_its_hours_and_saving(sandbox):
    message = command(sandbox, BOB, "schedule list", "off-hours schedules")
    text = str(message["blocks"])
    assert message["ephemeral_for"] == BOB
    assert "fraud-dev-hours" in text and "mon-fri 08:00-20:00 America/New_York" in text
    assert "nlp-notebooks" in text and "(nlp, stops only)" in text
    assert "(fraud-detection, stops and starts)" in text
    assert "stop_only" not in text and "start_stop" not in text and "(s)" not in text
    assert "next: stops Wed Nov 18 20:00 EST" in text
    assert "/month" in text and "$0.00/month" not in text
    assert limit_violations(message) == []


def test_keep_running_2h_holds_the_stop_and_it_comes_when_the_two_hours_end(sandbox):
    slack = sandbox.standin
    assert tick(sandbox, 2026, 11, 18, 19, 45) >= 0  # first look: records what it wants
    warning = slack.wait_for_message(
        lambda m: m["channel"] == FRAUD and "Keep running 2 h" in str(m["blocks"]), timeout=10
    )
    assert "At 20:00 EST schedule *fraud-dev-hours* stops" in warning["blocks"][0]["text"]["text"]
    assert "fraud-notebook-bob" in warning["text"]
    tick(sandbox, 2026, 11, 18, 19, 46)  # the next minute posts no second warning
    warnings = [m for m in slack.messages(FRAUD) if "Keep running 2 h" in str(m["blocks"])]
    assert len(warnings) == 1

    slack.click(user_id=ERIN, channel_id=FRAUD, message_ts=warning["ts"],
                action_id=action_ids.SCHEDULE_KEEP_RUNNING)  # fmt: skip
    refusal = slack.wait_for_message(lambda m: m["ephemeral_for"] == ERIN, timeout=10)
    assert "Only fraud-detection's members and approvers can keep it running" in refusal["text"]

    slack.click(user_id=BOB, channel_id=FRAUD, message_ts=warning["ts"],
                action_id=action_ids.SCHEDULE_KEEP_RUNNING)  # fmt: skip

    def updated():
        current = next(m for m in slack.messages(FRAUD) if m["ts"] == warning["ts"])
        return current if "keeps them running" in str(current["blocks"]) else None

    current = wait_until(updated)
    assert "<@U0DEMOBOB> keeps them running until 22:00 EST" in str(current["blocks"])

    tick(sandbox, 2026, 11, 18, 20, 0)
    assert set(ec2_states(sandbox).values()) == {"running"}
    tick(sandbox, 2026, 11, 18, 22, 0)
    assert set(ec2_states(sandbox).values()) == {"stopped"}
    stops = [r for r in sandbox.costbot.store.audit_records() if r["action"] == "schedule.stop"]
    fraud_stops = [r["target"] for r in stops if r["detail"]["schedule"] == "fraud-dev-hours"]
    ids = sandbox.world.instance_ids
    assert {ids[name] for name in DEV_BOXES} | {"fraud-dev-postgres"} <= set(fraud_stops)
    assert len(fraud_stops) == len(set(fraud_stops))  # each once
    nlp_stops = {r["target"] for r in stops if r["detail"]["schedule"] == "nlp-notebooks"}
    assert nlp_stops == {ids["nlp-notebook-dev"]}  # stop-only, 19:00 in Los Angeles


def test_keep_and_skip_from_the_command_are_said_in_the_channel(sandbox):
    CLOCK.set_local(2026, 11, 18, 22, 30)
    kept = command(sandbox, BOB, "schedule keep fraud-notebook-bob until 23:30", "keeps")
    assert kept["ephemeral_for"] is None
    assert "<@U0DEMOBOB> keeps fraud-notebook-bob" in kept["text"]
    assert "until Wed 23:30 EST" in kept["text"]
    tick(sandbox, 2026, 11, 18, 22, 31)
    assert ec2_states(sandbox)["fraud-notebook-bob"] == "running"  # kept: started again
    tick(sandbox, 2026, 11, 18, 23, 30)
    assert ec2_states(sandbox)["fraud-notebook-bob"] == "stopped"  # expired by itself

    skipped = command(sandbox, BOB, "schedule skip tomorrow", "skips tomorrow")
    assert "skips tomorrow (Thu Nov 19) for `fraud-dev-hours`" in skipped["text"]
    tick(sandbox, 2026, 11, 19, 8, 0)
    assert set(ec2_states(sandbox).values()) == {"stopped"}
    tick(sandbox, 2026, 11, 20, 8, 0)  # Friday: back to normal
    assert set(ec2_states(sandbox).values()) == {"running"}


@pytest.mark.parametrize(
    ("user", "text", "expected"),
    [
        (BOB, "schedule pause fraud-dev-hours", "Only fraud-detection's approvers can pause"),
        (ALICE, "schedule pause fraud-dev-hour", "Did you mean `fraud-dev-hours`?"),
        (BOB, "schedule keep fraud-notebok-bob until 22:00", "Did you mean `fraud-notebook-bob`?"),
        (BOB, "schedule keep fraud-notebook-bob until 25:00", "'25:00' is not a time"),
        (BOB, "schedule keep fraud-notebook-bob", "needs what to keep and until when"),
        (BOB, "schedule stop fraud-dev-hours", "I don't know `/cost schedule stop`"),
    ],
)
def test_bad_schedule_commands_get_a_clear_answer(sandbox, user, text, expected):
    CLOCK.set_local(2026, 11, 20, 12, 0)
    before = len(sandbox.costbot.store.schedule_overrides(active_at=CLOCK()))
    answer = command(sandbox, user, text, expected)
    assert answer["ephemeral_for"] == user
    assert len(sandbox.costbot.store.schedule_overrides(active_at=CLOCK())) == before
    assert sandbox.costbot.store.paused_schedules() == set()


def test_skip_tomorrow_on_a_saturday_says_there_is_nothing_to_skip_and_records_nothing(sandbox):
    CLOCK.set_local(2026, 11, 21, 12, 0)  # Saturday: tomorrow is a Sunday
    assert CLOCK().astimezone(NEW_YORK).strftime("%A") == "Saturday"
    before = sandbox.costbot.store.schedule_overrides(active_at=CLOCK() + dt.timedelta(days=1))
    audited = len(sandbox.costbot.store.audit_records(limit=10_000))

    for text in ("schedule skip tomorrow", "schedule skip tomorrow fraud-dev-hours"):
        answer = command(sandbox, BOB, text, "nothing to skip")
        assert answer["ephemeral_for"] == BOB  # nothing happened: only Bob is told
        assert answer["text"].startswith(":warning:")
        assert (
            "Schedule `fraud-dev-hours` doesn't run on Sunday: nothing to skip." in (answer["text"])
        )
        assert "skips tomorrow" not in answer["text"]

    after = sandbox.costbot.store.schedule_overrides(active_at=CLOCK() + dt.timedelta(days=1))
    assert after == before
    records = sandbox.costbot.store.audit_records(limit=10_000)
    assert not [r for r in records[: len(records) - audited] if r["action"].startswith("schedule.")]


def test_pause_and_resume_by_the_approver(sandbox):
    CLOCK.set_local(2026, 11, 20, 12, 0)
    paused = command(sandbox, ALICE, "schedule pause fraud-dev-hours", "paused")
    assert "<@U0DEMOALICE> paused schedule `fraud-dev-hours`" in paused["text"]
    assert sandbox.costbot.store.paused_schedules() == {"fraud-dev-hours"}
    resumed = command(sandbox, ALICE, "schedule resume fraud-dev-hours", "resumed")
    assert resumed["ephemeral_for"] is None
    assert sandbox.costbot.store.paused_schedules() == set()


def test_the_create_form_refuses_bad_input_and_saves_nothing_then_saves_a_good_one(sandbox):
    slack = sandbox.standin
    store = sandbox.costbot.store
    CLOCK.set_local(2026, 11, 20, 12, 0)
    slack.send_command(user_id=ALICE, channel_id=FRAUD, text="schedule create")
    modal = wait_until(lambda: slack.open_modals(ALICE))[-1]
    assert modal["callback_id"] == action_ids.SCHEDULE_CREATE_MODAL

    good = {"name": "fraud-gpu-nights", "team": "fraud-detection",
            "periods": "mon-fri 07:00-21:00", "tags": "workload_type=notebook",
            "timezone": "", "holidays": "", "mode": "start_stop"}  # fmt: skip
    bad = slack.submit_view(
        user_id=ALICE,
        view_id=modal["id"],
        values=good | {"timezone": "America/New_Yrok", "periods": "mon-fri 21:00-07:00"},
    ).json()
    assert bad["response_action"] == "errors"
    assert "Did you mean America/New_York?" in bad["errors"]["schedule_timezone"]
    assert "is not after the start" in bad["errors"]["schedule_periods"]
    assert store.slack_schedules() == []

    slack.submit_view(user_id=ALICE, view_id=modal["id"], values=good | {"tags": "env=dve"})
    refusal = slack.wait_for_message(
        lambda m: m["ephemeral_for"] == ALICE and "was not saved" in m["text"], timeout=20
    )
    assert "Did you mean `env=dev`?" in refusal["text"]
    assert store.slack_schedules() == []

    slack.submit_view(user_id=ALICE, view_id=modal["id"], values=good)
    created = slack.wait_for_message(
        lambda m: m["channel"] == FRAUD and "created schedule" in m["text"], timeout=20
    )
    assert "fraud-notebook-alice" in created["text"] and "fraud-notebook-bob" in created["text"]
    assert [s["name"] for s in store.slack_schedules()] == ["fraud-gpu-nights"]
    listed = command(sandbox, BOB, "schedule show fraud-gpu-nights", "off-hours schedule")
    assert "workload_type=notebook" in str(listed["blocks"])


# --- found by a hostile review ----------------------------------------------------------------


@pytest.mark.parametrize("state", [{"values": {}}, {}, None])
def test_a_create_form_with_an_empty_state_gets_field_errors_not_a_500(sandbox, state):
    # Slack documents `view.state.values` as possibly empty; the Dismiss form was fixed for
    # it, the schedule form raised KeyError (HTTP 500: "We had some trouble connecting").
    from tests.handlers.test_rightsize_cards import post_payload, unique

    view = {"id": "V" + unique().replace(".", ""), "type": "modal",
            "callback_id": action_ids.SCHEDULE_CREATE_MODAL, "private_metadata": ""}  # fmt: skip
    if state is not None:
        view["state"] = state
    payload = {"type": "view_submission", "user": {"id": ALICE}, "team": {"id": "T0DEMO"},
               "api_app_id": "A0DEMO", "view": view}  # fmt: skip
    status, body = post_payload(sandbox, payload)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert answer["errors"]["schedule_team"] == "Pick a team."


def test_a_non_approvers_create_form_error_names_no_raw_user_ids(sandbox):
    # Form errors are plain text: "<@U…>" is not rendered there, and a bare "U0DEMOALICE"
    # is an id where a name exists.
    slack = sandbox.standin
    slack.send_command(user_id=BOB, channel_id=FRAUD, text="schedule create")
    modal = wait_until(lambda: slack.open_modals(BOB))[-1]
    form = {"name": "fraud-bob-nights", "team": "fraud-detection",
            "periods": "mon-fri 07:00-21:00", "tags": "workload_type=notebook",
            "timezone": "", "holidays": "", "mode": "start_stop"}  # fmt: skip
    answer = slack.submit_view(user_id=BOB, view_id=modal["id"], values=form).json()
    error = answer["errors"]["schedule_team"]
    assert "fraud-detection's approvers" in error
    assert not re.search(r"\bU0[A-Z0-9]{6,}\b", error), error

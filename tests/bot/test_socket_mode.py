"""costbot in Socket Mode, on the demo world: the same conversation, over a WebSocket.

The bot is connected to the Slack stand-in by slack_sdk's built-in Socket Mode client
(``bot.socket_mode``); nothing reaches it over HTTP. Commands, clicks and forms go through
the socket, a refresh and a crashed Slack are survived, and an envelope Slack sends twice is
carried out once.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from slack_bolt import App

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.server import build_wsgi_app
from bot.socket_mode import UNHEALTHY_AFTER_S, Backoff, SocketModeRunner
from engines.changes.models import State
from handlers import action_ids
from tests.handlers.test_rightsize_flow import ask_rightsize, change_for
from tests.waiting import wait_until

ALICE, BOB = "U0DEMOALICE", "U0DEMOBOB"
FRAUD = "C0DEMOFRAUD"
FAST = Backoff(first=0.1, cap=0.5)  # the restart test waits for the back-off


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False,
                          dry_run=True, socket_mode=True, socket_backoff=FAST)  # fmt: skip
    with DemoSandbox(options) as running:
        yield running


def healthz(sandbox: DemoSandbox) -> tuple[int, dict]:
    assert sandbox.bot_server is not None
    try:
        with urllib.request.urlopen(sandbox.bot_server.url + "/healthz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def ask(sandbox: DemoSandbox, user: str, text: str, expect: str) -> dict:
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    result = slack.send_command(user_id=user, channel_id=FRAUD, text=text)
    assert result.status == 200, result
    return slack.wait_for_message(
        lambda m: m["channel"] == FRAUD and m["text"].startswith(expect),
        timeout=60,
        after_ts=before,
    )


def test_cost_team_is_answered_over_the_socket(sandbox):
    slack = sandbox.standin
    answer = ask(sandbox, BOB, "team fraud-detection", "fraud-detection: $")
    assert re.match(r"fraud-detection: \$\d{1,3}(,\d{3})*\.\d{2} billed cost", answer["text"])
    command = [e for e in slack.socket_mode.envelopes if e["type"] == "slash_commands"][-1]
    assert command["payload"]["text"] == "team fraud-detection"
    assert slack.socket_mode.acks_for(command["envelope_id"])
    assert slack.events_url is None  # nothing went over HTTP: the bot has no events URL
    assert healthz(sandbox) == (200, {"ok": True, "socket": {"connected": True,
                                      "healthy": True, "reconnects": 0}})  # fmt: skip


def test_an_approve_click_is_refused_for_an_outsider_and_carried_out_for_the_approver(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = change_for(message, "fraud-etl-prod")
    store = sandbox.costbot.store

    refused = slack.click(user_id=BOB, channel_id=FRAUD, message_ts=message["ts"],
                          action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    assert refused.status == 200
    refusal = slack.wait_for_message(
        lambda m: m["ephemeral_for"] == BOB and "can approve this" in m["text"], timeout=20
    )
    assert "<@U0DEMOALICE>" in refusal["text"]
    assert store.get_change(int(change_id)).state is State.PROPOSED

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    assert wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    change = store.get_change(int(change_id))
    assert change.dry_run and change.decided_by == ALICE
    clicks = [e for e in slack.socket_mode.envelopes if e["type"] == "interactive"]
    assert [e["payload"]["user"]["id"] for e in clicks[-2:]] == [BOB, ALICE]


def open_schedule_form(sandbox: DemoSandbox) -> dict:
    slack = sandbox.standin
    slack.send_command(user_id=ALICE, channel_id=FRAUD, text="schedule create")
    modal = wait_until(lambda: slack.open_modals(ALICE))[-1]
    assert modal["callback_id"] == action_ids.SCHEDULE_CREATE_MODAL
    return modal


GOOD_FORM = {"name": "fraud-gpu-nights", "team": "fraud-detection",
             "periods": "mon-fri 07:00-21:00", "tags": "workload_type=notebook",
             "timezone": "", "holidays": "", "mode": "start_stop"}  # fmt: skip


def test_a_form_is_submitted_over_the_socket_and_its_errors_come_back_in_the_ack(sandbox):
    slack = sandbox.standin
    modal = open_schedule_form(sandbox)
    bad = slack.submit_view(user_id=ALICE, view_id=modal["id"],
                            values=GOOD_FORM | {"timezone": "America/New_Yrok"})  # fmt: skip
    assert bad.json()["response_action"] == "errors"
    assert "Did you mean America/New_York?" in bad.json()["errors"]["schedule_timezone"]
    submission = [e for e in slack.socket_mode.envelopes if e["type"] == "interactive"][-1]
    assert submission["payload"]["type"] == "view_submission"
    assert submission["accepts_response_payload"] is True

    slack.submit_view(user_id=ALICE, view_id=modal["id"], values=GOOD_FORM)
    created = slack.wait_for_message(
        lambda m: m["channel"] == FRAUD and "created schedule `fraud-gpu-nights`" in m["text"],
        timeout=30,
    )
    assert "fraud-notebook-alice" in created["text"]
    store = sandbox.costbot.store
    assert "fraud-gpu-nights" in [s["name"] for s in store.slack_schedules()]


def test_a_refresh_in_the_middle_of_a_session_loses_nothing(sandbox):
    slack = sandbox.standin
    socket = slack.socket_mode
    opened = socket.connections_opened
    modal = open_schedule_form(sandbox)  # a session under way: a form is open

    assert socket.refresh() == 1
    # Sent at once, while the bot is moving to its new connection.
    ask(sandbox, BOB, "team fraud-detection", "fraud-detection: $")

    submitted = slack.submit_view(user_id=ALICE, view_id=modal["id"],
                                  values=GOOD_FORM | {"name": "fraud-after-refresh"})  # fmt: skip
    assert submitted.status == 200
    slack.wait_for_message(lambda m: "created schedule `fraud-after-refresh`" in m["text"],
                           timeout=30)  # fmt: skip
    assert socket.connections_opened == opened + 1
    assert wait_until(lambda: socket.connection_count == 1)  # the bot closed the old one
    assert socket.misses == []  # every envelope acknowledged in time
    assert sandbox.socket_runner.reconnects == 0  # a refresh is not a lost connection


def test_an_envelope_delivered_twice_is_acked_once_and_carried_out_once(sandbox):
    slack = sandbox.standin
    runner = sandbox.socket_runner
    duplicates = runner.duplicates
    slack.socket_mode.send_next_twice()
    answer = ask(sandbox, BOB, "team nlp", "nlp: $")
    envelope = slack.socket_mode.envelopes[-1]
    assert envelope["payload"]["text"] == "team nlp"
    # The second copy is dropped before Bolt sees it; one ack answers both.
    assert wait_until(lambda: runner.duplicates == duplicates + 1)
    assert len(slack.socket_mode.acks_for(envelope["envelope_id"])) == 1
    answers = [m for m in slack.messages(FRAUD) if m["text"].startswith("nlp: $")]
    assert answers == [answer]


def test_an_envelope_sent_again_on_a_new_connection_is_acked_again_not_run_again(sandbox):
    slack = sandbox.standin
    runner = sandbox.socket_runner
    answer = ask(sandbox, BOB, "team recommendations", "recommendations: $")
    envelope = slack.socket_mode.envelopes[-1]
    assert len(slack.socket_mode.acks_for(envelope["envelope_id"])) == 1

    slack.socket_mode.refresh()  # the ack might have been lost with the old connection
    assert wait_until(lambda: slack.socket_mode.connected)
    duplicates = runner.duplicates
    again = slack.socket_mode.deliver_again(envelope["envelope_id"])
    assert again.acked
    assert len(slack.socket_mode.acks_for(envelope["envelope_id"])) == 2
    assert runner.duplicates == duplicates + 1
    answers = [m for m in slack.messages(FRAUD) if m["text"].startswith("recommendations: $")]
    assert answers == [answer]


def test_slack_killed_and_restarted_the_bot_reconnects_and_answers(sandbox):
    slack = sandbox.standin
    runner = sandbox.socket_runner
    port = int(slack.base_url.rsplit(":", 1)[1])
    reconnects = runner.reconnects

    slack.socket_mode.stop(abrupt=True)  # the process dies: its connections drop,
    slack.stop()  # and its port closes
    assert wait_until(lambda: not runner.connected, timeout=10)
    status, report = healthz(sandbox)
    assert status == 200  # down for a moment: not yet unhealthy
    assert report["socket"]["connected"] is False
    assert wait_until(lambda: runner.failures >= 2, timeout=30)  # tried, and backs off

    slack.start(port=port)
    assert wait_until(lambda: runner.connected, timeout=30)
    assert runner.reconnects == reconnects + 1
    ask(sandbox, BOB, "team fraud-detection", "fraud-detection: $")
    assert healthz(sandbox)[1]["socket"] == {"connected": True, "healthy": True,
                                             "reconnects": reconnects + 1}  # fmt: skip


def test_the_app_home_is_published_on_an_events_api_envelope(sandbox):
    slack = sandbox.standin
    result = slack.open_app_home(ALICE)
    assert result is not None and result.status == 200
    assert wait_until(lambda: slack.published_view(ALICE), timeout=30)
    event = [e for e in slack.socket_mode.envelopes if e["type"] == "events_api"][-1]
    assert event["payload"]["event"]["type"] == "app_home_opened"


def test_the_back_off_doubles_up_to_its_cap_with_jitter():
    backoff = Backoff(first=1.0, cap=30.0)
    highest = [backoff.delay(n, draw=lambda low, high: high) for n in range(1, 8)]
    lowest = [backoff.delay(n, draw=lambda low, high: low) for n in range(1, 8)]
    assert highest == [1, 2, 4, 8, 16, 30, 30]
    assert lowest == [0.5, 1, 2, 4, 8, 15, 15]


def test_healthz_fails_once_the_socket_has_been_down_too_long():
    clock = {"now": 1000.0}
    app = App(token="xoxb-health", signing_secret="s" * 20, token_verification_enabled=False)
    runner = SocketModeRunner(app, "xapp-1-health", clock=lambda: clock["now"])  # never started
    wsgi = build_wsgi_app(app, signing_secret="s" * 20, socket=runner.report)

    def health() -> tuple[str, dict]:
        answered: list[str] = []
        body = wsgi({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"},
                    lambda status, headers: answered.append(status))  # fmt: skip
        return answered[0], json.loads(b"".join(body))

    try:
        clock["now"] += UNHEALTHY_AFTER_S - 1
        status, report = health()
        assert status == "200 OK"
        assert report["socket"]["connected"] is False
        assert report["socket"]["down_for_s"] == UNHEALTHY_AFTER_S - 1

        clock["now"] += 2
        status, report = health()
        assert status == "503 Service Unavailable"
        assert report["ok"] is False and report["socket"]["healthy"] is False
    finally:
        runner.close()

"""The stand-in's Socket Mode, seen from the app's side of the WebSocket.

The test plays the app with a plain WebSocket client, so that every frame Slack's side sends
is checked as Slack documents it: the URL from ``apps.connections.open``, ``hello``, the
envelopes, ``disconnect``, and what an ack that is late or missing leads to.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.demo.slack_standin import SlackStandIn
from tests.waiting import wait_until

SECRET = "socket-standin-secret-0123456789"
BOT_TOKEN = "xoxb-socket-standin"
APP_TOKEN = "xapp-1-A0DEMOCOST-socket-standin"
ALICE, FRAUD = "U0DEMOALICE", "C0DEMOFRAUD"
SHORT_ACK = 0.5  # the ack time, shortened: the tests that let it pass wait that long


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SECRET, bot_token=BOT_TOKEN)
    standin.enable_socket_mode(APP_TOKEN, ack_timeout=SHORT_ACK)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def in_background() -> Iterator[Callable[..., Future]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool.submit


def open_url(slack: SlackStandIn, token: str = APP_TOKEN) -> str:
    return WebClient(token=token, base_url=slack.api_url).apps_connections_open(app_token=token)[
        "url"
    ]


@contextlib.contextmanager
def connect_app(slack: SlackStandIn) -> Iterator[ClientConnection]:
    with connect(open_url(slack), compression=None, open_timeout=5) as app:
        hello = json.loads(app.recv(timeout=5))
        assert hello["type"] == "hello"
        yield app


def next_envelope(app: ClientConnection) -> dict[str, Any]:
    return json.loads(app.recv(timeout=5))


def ack(app: ClientConnection, envelope: dict, payload: dict | None = None) -> None:
    answer: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
    if payload is not None:
        answer["payload"] = payload
    app.send(json.dumps(answer))


def test_the_app_token_gets_a_single_use_websocket_url_and_a_hello(slack):
    with pytest.raises(SlackApiError) as bot_token:
        open_url(slack, BOT_TOKEN)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        open_url(slack, "xapp-1-A0DEMOCOST-not-this-one")
    assert wrong.value.response["error"] == "invalid_auth"

    url = open_url(slack)
    assert url.startswith("ws://127.0.0.1:") and "ticket=" in url
    with connect(url, compression=None) as app:
        hello = json.loads(app.recv(timeout=5))
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": slack.app_id}
        assert slack.socket_mode.connected
    with pytest.raises(InvalidStatus) as used_twice:
        connect(url, compression=None)
    assert used_twice.value.response.status_code == 401


def test_a_slash_command_is_an_envelope_and_the_ack_payload_is_the_reply(slack, in_background):
    with connect_app(slack) as app:
        sent = in_background(
            slack.send_command, user_id=ALICE, channel_id=FRAUD, text="team fraud-detection"
        )
        envelope = next_envelope(app)
        assert envelope["type"] == "slash_commands"
        assert envelope["accepts_response_payload"] is True
        payload = envelope["payload"]
        assert (payload["command"], payload["text"]) == ("/cost", "team fraud-detection")
        assert (payload["user_id"], payload["channel_id"]) == (ALICE, FRAUD)
        assert payload["response_url"].startswith(slack.base_url + "/response/")
        assert payload["trigger_id"]
        ack(app, envelope, {"text": "Working on it…"})
        assert sent.result(timeout=10).status == 200

    reply = slack.wait_for_message(lambda m: m["text"] == "Working on it…", timeout=5)
    assert reply["ephemeral_for"] == ALICE
    assert slack.socket_mode.misses == []
    assert [a["envelope_id"] for a in slack.socket_mode.acks] == [envelope["envelope_id"]]


def test_a_click_is_an_interactive_envelope_that_takes_no_reply(slack, in_background):
    message = WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_postMessage(
        channel=FRAUD,
        text="a button",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "go",
                        "text": {"type": "plain_text", "text": "Go"},
                        "value": "1",
                    }
                ],
            }
        ],  # fmt: skip
    )
    with connect_app(slack) as app:
        clicked = in_background(slack.click, user_id=ALICE, channel_id=FRAUD,
                                message_ts=message["ts"], action_id="go")  # fmt: skip
        envelope = next_envelope(app)
        assert envelope["type"] == "interactive"
        assert envelope["accepts_response_payload"] is False
        assert envelope["payload"]["type"] == "block_actions"
        assert envelope["payload"]["actions"][0]["action_id"] == "go"
        ack(app, envelope)
        assert clicked.result(timeout=10).status == 200


def test_an_event_not_acked_in_time_comes_again_with_the_same_envelope_id(slack, in_background):
    with connect_app(slack) as app:
        opened = in_background(slack.open_app_home, ALICE)
        first = next_envelope(app)
        assert first["type"] == "events_api"
        assert first["payload"]["event"]["type"] == "app_home_opened"
        assert (first["retry_attempt"], first["retry_reason"]) == (0, "")

        again = next_envelope(app)  # no ack: after the ack time, Slack sends it again
        assert again["envelope_id"] == first["envelope_id"]
        assert (again["retry_attempt"], again["retry_reason"]) == (1, "timeout")
        assert again["payload"] == first["payload"]
        ack(app, again)
        assert opened.result(timeout=10).status == 200

    assert slack.socket_mode.misses == [
        {
            "envelope_id": first["envelope_id"],
            "type": "events_api",
            "attempt": 0,
            "reason": "missing",
        }  # fmt: skip
    ]


def test_a_command_never_acked_shows_the_person_slacks_error(slack, in_background):
    with connect_app(slack) as app:
        sent = in_background(slack.send_command, user_id=ALICE, channel_id=FRAUD, text="help")
        envelope = next_envelope(app)
        result = sent.result(timeout=10)
        assert result.status == 0
        error = slack.wait_for_message(lambda m: m["user"] == "USLACKBOT", timeout=5)
        assert "/cost failed" in error["text"] and "dispatch_failed" in error["text"]
        assert error["ephemeral_for"] == ALICE
        assert slack.socket_mode.misses[-1]["reason"] == "missing"

        ack(app, envelope)  # too late: recorded as such; a command is not sent again
        wait_until(lambda: slack.socket_mode.misses[-1]["reason"] == "late", timeout=5)
        assert [e["envelope_id"] for e in slack.socket_mode.envelopes] == [envelope["envelope_id"]]


def test_a_refresh_asks_the_app_to_reconnect_and_nothing_new_goes_to_the_old_connection(
    slack, in_background
):
    with connect_app(slack) as old:
        assert slack.socket_mode.refresh() == 1
        disconnect = json.loads(old.recv(timeout=5))
        assert disconnect["type"] == "disconnect"
        assert disconnect["reason"] == "refresh_requested"
        assert not slack.socket_mode.connected  # the old connection takes nothing new

        sent = in_background(slack.send_command, user_id=ALICE, channel_id=FRAUD, text="help")
        with connect_app(slack) as new:  # the envelope waited for the new connection
            envelope = next_envelope(new)
            assert envelope["payload"]["text"] == "help"
            ack(new, envelope, {"text": "Here to help."})
            assert sent.result(timeout=10).status == 200
        with pytest.raises(TimeoutError):
            old.recv(timeout=0.1)  # nothing was sent on the old one
    assert slack.socket_mode.connections_opened == 2


def test_an_envelope_sent_twice_needs_one_ack(slack, in_background):
    with connect_app(slack) as app:
        slack.socket_mode.send_next_twice()
        sent = in_background(slack.send_command, user_id=ALICE, channel_id=FRAUD, text="help")
        first, second = next_envelope(app), next_envelope(app)
        assert first == second
        ack(app, first)
        assert sent.result(timeout=10).status == 200
    assert len(slack.socket_mode.acks_for(first["envelope_id"])) == 1


def test_with_no_connection_a_command_fails_after_the_ack_time(slack):
    result = slack.send_command(user_id=ALICE, channel_id=FRAUD, text="help")
    assert result.status == 0 and "no Socket Mode connection" in result.body
    error = slack.wait_for_message(lambda m: m["user"] == "USLACKBOT", timeout=5)
    assert "costbot did not answer: no Socket Mode connection" in error["text"]


def test_a_stopped_stand_in_drops_the_connection_without_a_goodbye(slack, in_background):
    with connect_app(slack) as app:
        reading = in_background(app.recv, timeout=10)
        slack.socket_mode.stop(abrupt=True)
        with pytest.raises(ConnectionClosedError) as dropped:
            reading.result(timeout=10)
        assert dropped.value.rcvd is None  # no closing handshake: as a crashed server

"""`costbot serve` in Socket Mode, as its own process, and Slack going away under it.

With ``SLACK_APP_TOKEN`` set, the bot opens a WebSocket to the Slack stand-in and takes every
request from it; its HTTP port serves ``/healthz`` only. When Slack dies (the stand-in's
connections drop without a goodbye, its port closes) the bot says so on ``/healthz``, tries
again with back-off, and once Slack is back, reconnects and answers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.demo.slack_standin import SlackStandIn
from tests.faults.test_sigkill_mid_change import SECRET, TOKEN, start_serve
from tests.waiting import wait_until

APP_TOKEN = "xapp-1-A0DEMOCOST-serve-socket-mode"
BOB, FRAUD = "U0DEMOBOB", "C0DEMOFRAUD"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN)
    standin.enable_socket_mode(APP_TOKEN)
    standin.start()
    yield standin
    standin.stop()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def answered(slack: SlackStandIn, team: str) -> dict:
    """``/cost team <team>``, acked over the socket, then answered (the small export may have
    nothing for this month: an answer that says so is an answer)."""
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    result = slack.send_command(user_id=BOB, channel_id=FRAUD, text=f"team {team}")
    assert result.status == 200, result
    return slack.wait_for_message(
        lambda m: bool(m["bot_id"]) and "Working on" not in m["text"],
        timeout=60,
        after_ts=before,
    )


def test_serve_in_socket_mode_survives_slack_going_away_and_coming_back(
    tmp_path, moto_url, slack, small_export
):
    bot = start_serve(tmp_path, slack, moto_url, small_export.path,
                      SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="",
                      COSTBOT_LOG_LEVEL="DEBUG")  # fmt: skip
    health = bot.base_url + "/healthz"  # type: ignore[attr-defined]
    try:
        assert wait_until(lambda: get(health)[1].get("socket", {}).get("connected"))
        assert answered(slack, "fraud-detection")
        assert slack.socket_mode.misses == []
        # Slack's requests come over the socket only: the HTTP port does not take them.
        refused = urllib.request.Request(bot.base_url + "/slack/events", data=b"{}",  # type: ignore[attr-defined]
                                         method="POST")  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as not_served:
            urllib.request.urlopen(refused, timeout=5)
        not_served.value.close()
        assert not_served.value.code == 404

        port = int(slack.base_url.rsplit(":", 1)[1])
        slack.socket_mode.stop(abrupt=True)  # Slack dies: its connections drop,
        slack.stop()  # and nothing answers on its port
        status, down = wait_until(lambda: (s := get(health))[1]["socket"]["connected"] is False
                                  and s)  # fmt: skip
        assert status == 200 and down["socket"]["healthy"] is True  # not down for long yet
        log = tmp_path / "serve.log"
        assert wait_until(lambda: "trying again in" in log.read_text(), timeout=30)

        slack.start(port=port)
        back = wait_until(lambda: (s := get(health)[1]["socket"])["connected"] and s, timeout=60)
        assert back == {"connected": True, "healthy": True, "reconnects": 1}
        # Commands sent after the reconnect are answered.
        assert answered(slack, "nlp")
        assert answered(slack, "fraud-detection")
        logged = log.read_text()  # at DEBUG: envelopes, acks, reconnects
        assert "Socket Mode: connected again" in logged
        assert APP_TOKEN not in logged and TOKEN not in logged
        assert slack.base_url + "/response/" not in logged  # envelopes carry response_urls
    finally:
        bot.terminate()
        bot.wait(10)

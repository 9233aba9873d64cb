"""costbot serve over HTTP: signed requests answered in time, unsigned ones refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from tests.conftest import SIGNING_SECRET, Stack
from tests.waiting import wait_until


def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
    }


def command_body(stack: Stack, text: str) -> str:
    return urllib.parse.urlencode(
        {
            "command": "/cost",
            "text": text,
            "user_id": "U0DEMOBOB",
            "channel_id": "C0DEMOFRAUD",
            "team_id": "T0DEMO",
            "response_url": stack.slack.base_url + "/response/not-issued",
            "trigger_id": f"{time.time_ns()}.1.2",  # one per command, as Slack's
        }
    )


def test_signed_command_is_acked_within_3s_and_answered_in_channel(stack: Stack, small_export):
    result = stack.slack.send_command(
        user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team fraud-detection"
    )
    assert result.status == 200
    assert result.elapsed_s < 3.0
    # The note came at the response_url before the ack: the ack's body adds nothing.
    assert not result.body.strip()
    assert any("Working on" in m["text"] for m in stack.slack.ui_state()["messages"])

    answer = stack.slack.wait_for_message(
        lambda m: m["ephemeral_for"] is None and "fraud-detection:" in m["text"], timeout=10
    )
    import datetime as dt

    expected = small_export.billed(
        team="fraud-detection", start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 20)
    )
    assert f"${expected:,.2f}" in answer["text"]
    assert "billed cost (unblended)" in answer["text"]


def test_forged_missing_or_stale_signatures_are_refused_and_nothing_runs(stack: Stack):
    body = command_body(stack, "team fraud-detection")
    forged = signed_headers(body, secret="not-the-secret")
    stale = signed_headers(body, timestamp=int(time.time()) - 301)
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers in (forged, stale, unsigned):
        status, _ = post(stack.events_url, body, headers)
        assert status == 401
    time.sleep(0.3)
    assert stack.store.audit_records() == []
    assert stack.slack.messages() == []


def test_a_recent_signature_within_five_minutes_is_accepted(stack: Stack):
    body = command_body(stack, "help")
    status, answer = post(
        stack.events_url, body, signed_headers(body, timestamp=int(time.time()) - 290)
    )
    assert status == 200
    assert "/cost team fraud-detection" in answer


def test_a_replayed_slash_command_runs_once(stack: Stack):
    body = command_body(stack, "help")
    answers = []
    for _ in range(3):  # the same signed body, re-sent within its five minutes
        status, answer = post(stack.events_url, body, signed_headers(body))
        assert status == 200
        answers.append(answer)
    time.sleep(0.3)

    assert "/cost team fraud-detection" in answers[0]
    assert answers[1:] == ["", ""]
    commands = [r for r in stack.store.audit_records() if r["action"] == "command"]
    assert len(commands) == 1


def test_event_retries_never_run_twice(stack: Stack):
    envelope = {
        "type": "event_callback",
        "team_id": "T0DEMO",
        "api_app_id": "A0COSTBOT",
        "event_id": "Ev0RETRY1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "U0DEMOALICE", "tab": "home"},
    }
    body = json.dumps(envelope)
    first = {**signed_headers(body), "Content-Type": "application/json"}
    assert post(stack.events_url, body, first)[0] == 200
    for retry in (1, 2, 3):
        headers = {
            **signed_headers(body),
            "Content-Type": "application/json",
            "X-Slack-Retry-Num": str(retry),
            "X-Slack-Retry-Reason": "http_timeout",
        }
        assert post(stack.events_url, body, headers)[0] == 200

    def publishes() -> list[dict]:
        return [call for call in stack.slack.calls if call["method"] == "views.publish"]

    wait_until(publishes, timeout=15)  # the first delivery is handled, however busy the box
    time.sleep(0.5)  # and the retries, had they been run, would have published by now
    assert len(publishes()) == 1
    home = stack.slack.published_view("U0DEMOALICE")
    assert "fraud-detection" in json.dumps(home)


def test_unknown_team_gets_a_suggestion_and_the_list(stack: Stack):
    result = stack.slack.send_command(
        user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team fraud-detectoin"
    )
    reply = result.json()
    assert "no team 'fraud-detectoin' — did you mean 'fraud-detection'?" in reply["text"]
    assert "`nlp`" in json.dumps(reply["blocks"])


def test_unknown_subcommand_gets_the_usage(stack: Stack):
    reply = stack.slack.send_command(
        user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="budgets"
    ).json()
    assert "I don't know `/cost budgets`. Did you mean `/cost digest`?" in reply["text"]
    shown = json.dumps(reply["blocks"])
    assert "Usage: `/cost digest [team]` or `/cost digest post`" in shown  # its one line
    assert "/cost team fraud-detection" not in shown  # not the whole help


def test_a_failing_cost_source_answers_plainly_without_a_traceback(stack: Stack, tmp_path):
    from engines.costs.sources.focus import FocusFileSource

    object.__setattr__(
        stack.costbot.deps, "cost_source", FocusFileSource(str(tmp_path / "nothing-*.csv"))
    )
    stack.slack.send_command(user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team nlp")
    failure = stack.slack.wait_for_message(lambda m: m["text"].startswith(":x:"), timeout=10)
    assert "Could not get the cost of *nlp*" in failure["text"]
    assert "No FOCUS files match" in failure["text"]
    assert "Traceback" not in failure["text"]


def test_health_and_other_paths(stack: Stack):
    with urllib.request.urlopen(stack.server.url + "/healthz", timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True}
    for path, method, code in (("/slack/events", "GET", 405), ("/nope", "GET", 404)):
        request = urllib.request.Request(stack.server.url + path, method=method)
        try:
            urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == code
        else:
            raise AssertionError(f"{path} answered 200")

"""Every HTTP path that acts verifies Slack's signature, with Slack's five-minute window."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from tests.bot.test_http import command_body, post, signed_headers
from tests.conftest import Stack


@pytest.mark.parametrize(("skew_s", "status"), [(-301, 401), (-299, 200), (299, 200), (301, 401)])
def test_a_clock_skew_of_up_to_299_s_is_accepted_and_301_s_refused(
    stack: Stack, skew_s: int, status: int
):
    body = command_body(stack, "help")
    headers = signed_headers(body, timestamp=int(time.time()) + skew_s)
    assert post(stack.events_url, body, headers)[0] == status


def _acting_bodies(stack: Stack) -> dict[str, tuple[str, str]]:
    """One body of every kind Slack sends that makes costbot do something."""
    click = {
        "type": "block_actions",
        "user": {"id": "U0DEMOALICE"},
        "team": {"id": "T0DEMO"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0DEMOFRAUD"},
        "response_url": stack.slack.base_url + "/response/not-issued",
        "trigger_id": f"{time.time_ns()}.1.2",  # one per command, as Slack's
        "actions": [{"action_id": "rightsize_approve", "block_id": "rightsize:1", "value": "1",
                     "type": "button", "action_ts": "1.3"}],
    }  # fmt: skip
    submission = {
        "type": "view_submission",
        "user": {"id": "U0DEMOALICE"},
        "team": {"id": "T0DEMO"},
        "view": {"callback_id": "rightsize_dismiss_modal", "private_metadata": "1|",
                 "state": {"values": {"reason": {"reason": {"value": "sized for Q4"}}}}},
    }  # fmt: skip
    event = {
        "type": "event_callback",
        "team_id": "T0DEMO",
        "event_id": "Ev0UNSIGNED",
        "event": {"type": "app_home_opened", "user": "U0DEMOALICE", "tab": "home"},
    }
    form = "application/x-www-form-urlencoded"
    return {
        "slash command": (command_body(stack, "team fraud-detection"), form),
        "button click": (urllib.parse.urlencode({"payload": json.dumps(click)}), form),
        "modal submission": (urllib.parse.urlencode({"payload": json.dumps(submission)}), form),
        "event": (json.dumps(event), "application/json"),
        "url verification": (json.dumps({"type": "url_verification", "challenge": "c"}),
                             "application/json"),
    }  # fmt: skip


def test_unsigned_forged_or_replayed_requests_of_every_kind_are_refused(stack: Stack):
    for kind, (body, content_type) in _acting_bodies(stack).items():
        forged = signed_headers(body, secret="not-the-secret")
        stale = signed_headers(body, timestamp=int(time.time()) - 3600)
        tampered = signed_headers(body.replace("U0DEMOALICE", "U0DEMOBOB"))
        attempts = {"unsigned": {}, "forged": forged, "stale": stale}
        if "U0DEMOALICE" in body:  # a valid signature, but of a body naming someone else
            attempts["signed for another body"] = tampered
        for name, headers in attempts.items():
            status, _ = post(stack.events_url, body, {**headers, "Content-Type": content_type})
            assert status == 401, f"{kind}, {name}: {status}"
    time.sleep(0.3)
    assert stack.store.audit_records() == []
    assert stack.slack.messages() == []
    assert [c for c in stack.slack.calls if c["method"] != "auth.test"] == []


def test_no_other_path_acts(stack: Stack):
    body, content_type = _acting_bodies(stack)["slash command"]
    headers = {**signed_headers(body), "Content-Type": content_type}
    for path in ("/", "/healthz", "/slack/actions", "/slack/commands", "/slack/events/x"):
        status, _ = post(stack.server.url + path, body, headers)
        assert status in (404, 405), f"POST {path}: {status}"
    time.sleep(0.3)
    assert stack.store.audit_records() == []
    assert stack.slack.messages() == []

"""The Slack stand-in behaves as Slack does towards a bot: signed requests, acks, Web API."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.demo import people
from bot.demo.slack_standin import SlackStandIn, limit_violations, validate_blocks

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
ALICE, BOB = "U0DEMOALICE", "U0DEMOBOB"
FRAUD, FINOPS = "C0DEMOFRAUD", "C0DEMOFINOPS"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class FakeBot:
    """A tiny bot: verifies Slack's signature, records each request, answers via ``answer``."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.requests: list[dict] = []
        self.answer: Callable[[dict], tuple[int, str]] = lambda req: (200, "")
        self.received = threading.Event()

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        headers = {
            k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        valid = self.verifier.is_valid_request(raw, headers)
        ctype = environ.get("CONTENT_TYPE", "")
        if "json" in ctype:
            data = json.loads(raw)
        else:
            data = dict(urllib.parse.parse_qsl(raw.decode()))
            if "payload" in data:
                data = json.loads(data["payload"])
        request = {"raw": raw, "headers": headers, "valid": valid, "data": data}
        self.requests.append(request)
        self.received.set()
        status, body = (401, "invalid signature") if not valid else self.answer(request)
        ctype = "application/json" if body.startswith("{") else "text/plain"
        start_response(f"{status} X", [("Content-Type", ctype)])
        return [body.encode()]


@pytest.fixture
def world() -> Iterator[tuple[SlackStandIn, FakeBot]]:
    bot = FakeBot()
    server = make_server("127.0.0.1", 0, bot, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    standin = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN)
    standin.start()
    standin.connect_bot(f"http://127.0.0.1:{server.server_port}/slack/events")
    try:
        yield standin, bot
    finally:
        standin.stop()
        server.shutdown()
        server.server_close()
        thread.join()


def _client(standin: SlackStandIn, token: str = TOKEN) -> WebClient:
    return WebClient(base_url=standin.api_url, token=token, timeout=5)


def _get(url: str) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _post_json(url: str, data: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, json.dumps(data).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, json.loads(resp.read())


def test_slash_command_is_signed_with_slack_fields_and_ack_becomes_ephemeral(world):
    standin, bot = world
    bot.answer = lambda req: (200, json.dumps({"text": "Working on *fraud-detection*…"}))

    result = standin.send_command(user_id=ALICE, channel_id=FRAUD, text="team fraud-detection")

    assert result.status == 200 and result.elapsed_s < 3
    (req,) = bot.requests
    assert req["valid"], "SignatureVerifier must accept the stand-in's signature"
    assert req["headers"]["X-Slack-Signature"].startswith("v0=")
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = req["data"]
    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form["team_id"] == people.TEAM_ID and form["api_app_id"] == people.APP_ID
    assert (form["channel_id"], form["channel_name"]) == (FRAUD, "fraud-detection-costs")
    assert (form["user_id"], form["user_name"]) == (ALICE, "alice")
    assert (form["command"], form["text"]) == ("/cost", "team fraud-detection")
    assert form["response_url"].startswith(standin.base_url + "/response/")

    (msg,) = standin.messages(FRAUD)
    assert msg["ephemeral_for"] == ALICE and msg["bot_id"] == people.BOT_ID
    assert msg["text"] == "Working on *fraud-detection*…"
    assert standin.messages(FRAUD, include_ephemeral=False) == []


def test_in_channel_ack_is_public_and_echoes_the_command(world):
    standin, bot = world
    bot.answer = lambda req: (200, json.dumps({"response_type": "in_channel", "text": "Spend"}))
    standin.send_command(user_id=BOB, channel_id="#fraud-detection-costs", text="top")
    echo, answer = standin.messages(FRAUD)
    assert (echo["user"], echo["text"], echo["ephemeral_for"]) == (BOB, "/cost top", None)
    assert (answer["bot_id"], answer["text"], answer["ephemeral_for"]) == (
        people.BOT_ID,
        "Spend",
        None,
    )


def test_bad_signature_or_error_status_shows_dispatch_failed(world):
    standin, bot = world
    result = standin.send_command(
        user_id=ALICE,
        channel_id=FRAUD,
        text="help",
        headers_override={"X-Slack-Signature": "v0=00"},
    )
    assert result.status == 401 and not bot.requests[0]["valid"]
    (msg,) = standin.messages(FRAUD)
    assert msg["user"] == "USLACKBOT" and msg["ephemeral_for"] == ALICE
    assert "costbot did not answer: HTTP 401" in msg["text"] and "dispatch_failed" in msg["text"]


def test_response_url_in_channel_then_sixth_use_is_rejected(world):
    standin, bot = world
    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="report")
    response_url = bot.requests[0]["data"]["response_url"]
    hook = WebhookClient(response_url, timeout=5)

    first = hook.send(text="Weekly report", response_type="in_channel")
    assert first.status_code == 200 and first.body == "ok"
    visible_to_bob = [m for m in standin.messages(FRAUD) if m["ephemeral_for"] in (None, BOB)]
    assert [m["text"] for m in visible_to_bob] == ["/cost report", "Weekly report"]

    for i in range(4):
        assert hook.send(text=f"update {i}").status_code == 200
    sixth = hook.send(text="one too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert not any(m["text"] == "one too many" for m in standin.messages(FRAUD))


def test_button_click_sends_block_actions_and_replace_original_replaces(world):
    standin, bot = world
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Stop *i-123*?"}},
        {
            "type": "actions",
            "block_id": "approve",
            "elements": [
                {
                    "type": "button",
                    "action_id": "fix_approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": "fix-1",
                },
                {
                    "type": "button",
                    "action_id": "fix_reject",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": "fix-1",
                },
            ],
        },
    ]
    posted = standin.post_as_bot(FRAUD, "Stop i-123?", blocks)
    result = standin.click(
        user_id=ALICE, channel_id=FRAUD, message_ts=posted["ts"], action_id="fix_approve"
    )
    assert result.status == 200
    req = bot.requests[-1]
    payload = req["data"]
    assert req["valid"] and payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": ALICE,
        "username": "alice",
        "name": "alice",
        "team_id": "T0DEMO",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": FRAUD,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": FRAUD, "name": "fraud-detection-costs"}
    assert payload["message"]["ts"] == posted["ts"]
    assert payload["message"]["blocks"][1] == blocks[1]
    assert payload["message"]["blocks"][0]["block_id"], "Slack gives every block an id"
    (action,) = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "fix_approve",
        "approve",
        "fix-1",
        "button",
    )
    assert action["text"]["text"] == "Approve" and payload["trigger_id"]

    hook = WebhookClient(payload["response_url"], timeout=5)
    assert hook.send(text="Approved by <@U0DEMOALICE>", replace_original=True).status_code == 200
    (msg,) = standin.messages(FRAUD)
    assert msg["ts"] == posted["ts"] and msg["text"] == "Approved by <@U0DEMOALICE>"
    assert msg["blocks"] == [] and msg["edited"]
    assert hook.send(delete_original=True).status_code == 200
    assert standin.messages(FRAUD) == []


def test_web_client_post_update_delete_and_lookups(world):
    standin, _bot = world
    client = _client(standin)
    assert client.auth_test()["user_id"] == people.BOT_USER_ID
    first = client.chat_postMessage(channel="#fraud-detection-costs", text="hello")
    second = client.chat_postMessage(
        channel="finops", text="fallback", blocks=[{"type": "divider"}]
    )
    assert first["channel"] == FRAUD and second["channel"] == FINOPS
    assert float(second["ts"]) > float(first["ts"])
    assert [b["type"] for b in second["message"]["blocks"]] == ["divider"]

    updated = client.chat_update(channel=FRAUD, ts=first["ts"], text="hello again")
    assert updated["text"] == "hello again"
    msg = standin.wait_for_message(lambda m: m["text"] == "hello again", timeout=1)
    assert msg["edited"] and msg["ts"] == first["ts"]

    eph = client.chat_postEphemeral(channel=FRAUD, user=BOB, text="psst")
    assert standin.messages(FRAUD)[-1]["ephemeral_for"] == BOB
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=FRAUD, ts=eph["message_ts"], text="no")
    assert err.value.response["error"] == "message_not_found"

    client.chat_delete(channel=FRAUD, ts=first["ts"])
    assert [m["text"] for m in standin.messages(FRAUD)] == ["psst"]
    assert client.users_info(user=ALICE)["user"]["real_name"] == "Alice Moreau"
    assert client.conversations_info(channel=FRAUD)["channel"]["name"] == "fraud-detection-costs"
    names = [c["name"] for c in client.conversations_list()["channels"]]
    assert "fraud-detection-costs" in names and "finops" in names
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="#nope", text="x")
    assert err.value.response["error"] == "channel_not_found"
    methods = [c["method"] for c in standin.calls]
    assert methods[:3] == ["auth.test", "chat.postMessage", "chat.postMessage"]


def test_invalid_blocks_are_rejected_like_slack(world):
    standin, _bot = world
    client = _client(standin)
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=FRAUD, text="x", blocks=too_many)
    assert err.value.response["error"] == "invalid_blocks"
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    assert validate_blocks(long_header)
    assert standin.messages() == []


def test_limit_checker_catches_violations():
    too_many = {"text": "x", "blocks": [{"type": "divider"}] * 51}
    assert limit_violations(too_many)
    assert limit_violations({"blocks": []}) == ["no plain-text fallback 'text'"]
    assert limit_violations({"text": "x" * 40_001}) == [
        "text is longer than 40,000 characters (msg_too_long)"
    ]
    fields = {
        "text": "x",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "a"},
                "fields": [{"type": "mrkdwn", "text": "f"}] * 11,
            }
        ],
    }
    assert limit_violations(fields) == [
        "[ERROR] must be at most 10 items [json-pointer:/blocks/0/fields]"
    ]


def test_files_upload_v2_end_to_end(world):
    standin, _bot = world
    client = _client(standin)
    response = client.files_upload_v2(
        channel=FRAUD,
        content=PNG,
        filename="spend.png",
        title="Spend, last 30 days",
        initial_comment="Here is the chart",
    )
    file = response["file"]
    assert file["title"] == "Spend, last 30 days" and file["mimetype"] == "image/png"
    msg = standin.wait_for_message(lambda m: m["files"], timeout=1)
    assert msg["text"] == "Here is the chart" and msg["files"][0]["id"] == file["id"]
    status, headers, data = _get(msg["files"][0]["url_private"])
    assert status == 200 and headers["Content-Type"] == "image/png" and data == PNG
    assert [c["method"] for c in standin.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_wrong_token_is_invalid_auth(world):
    standin, _bot = world
    with pytest.raises(SlackApiError) as err:
        _client(standin, token="xoxb-wrong").chat_postMessage(channel=FRAUD, text="x")
    assert err.value.response["error"] == "invalid_auth"
    assert standin.messages() == []


def test_fail_next_429_reaches_web_client_with_retry_after(world):
    standin, _bot = world
    client = _client(standin)
    standin.fail_next("chat.postMessage", status=429, retry_after=2)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=FRAUD, text="rate limited")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "2"
    assert err.value.response["error"] == "ratelimited"
    assert standin.messages() == []

    standin.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=FRAUD, text="server error")
    assert err.value.response.status_code == 500

    client.chat_postMessage(channel=FRAUD, text="fine now")
    assert [m["text"] for m in standin.messages()] == ["fine now"]
    assert [c["status"] for c in standin.calls] == [429, 500, 200]


def test_long_poll_returns_new_messages(world):
    standin, _bot = world
    seq = standin.ui_state()["seq"]
    result: dict = {}

    def poll() -> None:
        with urllib.request.urlopen(
            f"{standin.base_url}/ui/api/events?after={seq}&timeout=5", timeout=10
        ) as resp:
            result.update(json.loads(resp.read()))

    poller = threading.Thread(target=poll)
    started = time.monotonic()
    poller.start()
    time.sleep(0.1)
    _client(standin).chat_postMessage(channel=FRAUD, text="scheduled digest")
    poller.join(5)
    assert time.monotonic() - started < 2
    (event,) = result["events"]
    assert event["type"] == "message" and event["message"]["text"] == "scheduled digest"
    assert result["seq"] > seq


def test_views_open_needs_a_fresh_trigger_and_publish_keeps_home(world):
    standin, bot = world
    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="settings")
    trigger = bot.requests[0]["data"]["trigger_id"]
    client = _client(standin)
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Budget"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    view = client.views_open(trigger_id=trigger, view=modal)["view"]
    assert standin.open_modals(ALICE)[0]["id"] == view["id"]
    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=trigger, view=modal)
    assert err.value.response["error"] == "exchanged_trigger_id"

    home = {
        "type": "home",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "H"}}],
    }
    client.views_publish(user_id=BOB, view=home)
    assert standin.published_view(BOB)["blocks"][0]["text"]["text"] == "H"
    assert standin.published_view(ALICE) is None


def test_workspace_page_and_ui_command(world):
    standin, bot = world
    status, headers, page = _get(standin.base_url + "/")
    assert (
        status == 200
        and b'id="composer"' in page
        and headers["Content-Type"].startswith("text/html")
    )
    assert _get(standin.base_url + "/static/app.js")[0] == 200

    bot.answer = lambda req: (200, json.dumps({"text": "pong"}))
    status, _ = _post_json(
        standin.base_url + "/ui/api/command", {"user": BOB, "channel": FINOPS, "text": "/cost ping"}
    )
    assert status == 202
    msg = standin.wait_for_message(lambda m: m["text"] == "pong", timeout=3)
    assert msg["ephemeral_for"] == BOB and bot.requests[0]["data"]["text"] == "ping"

    status, body = _post_json(
        standin.base_url + "/ui/api/message", {"user": BOB, "channel": FINOPS, "text": "hi all"}
    )
    assert status == 200 and standin.messages(FINOPS)[-1]["user"] == BOB


def test_late_ack_is_an_operation_timeout_and_its_body_is_dropped(world):
    standin, bot = world
    standin.ack_timeout = 0.2

    def slow(req: dict) -> tuple[int, str]:
        time.sleep(0.3)
        return 200, json.dumps({"text": "too late"})

    bot.answer = slow
    result = standin.send_command(user_id=ALICE, channel_id=FRAUD, text="slow")
    assert result.status == 200 and result.elapsed_s > 0.2
    (msg,) = standin.messages(FRAUD)
    assert msg["user"] == "USLACKBOT" and "operation_timeout" in msg["text"]


def test_unreachable_bot_shows_dispatch_failed(world):
    standin, _bot = world
    standin.connect_bot("http://127.0.0.1:9/slack/events")
    result = standin.send_command(user_id=ALICE, channel_id=FRAUD, text="x")
    assert result.status == 0
    (msg,) = standin.messages(FRAUD)
    assert msg["ephemeral_for"] == ALICE and "dispatch_failed" in msg["text"]


# --- a slash command's response_url: one message per question ------------------------------


def test_a_slash_commands_response_url_replaces_its_ephemeral_note_in_place(world):
    standin, bot = world
    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="team nlp")
    hook = WebhookClient(bot.requests[0]["data"]["response_url"], timeout=5)

    assert hook.send(text="⏳ Working on nlp…").status_code == 200
    (note,) = standin.messages(FRAUD)
    assert hook.send(text="nlp: $12.00", replace_original=True).body == "ok"

    (answer,) = standin.messages(FRAUD)
    assert (answer["ts"], answer["text"]) == (note["ts"], "nlp: $12.00")
    assert answer["ephemeral_for"] == ALICE  # a replaced ephemeral note stays ephemeral


def test_a_slash_commands_response_url_deletes_its_note_then_answers_in_the_channel(world):
    standin, bot = world
    bot.answer = lambda req: (200, json.dumps({"text": "Working on nlp…"}))  # the ack's body
    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="team nlp")
    hook = WebhookClient(bot.requests[0]["data"]["response_url"], timeout=5)

    assert hook.send(delete_original=True).body == "ok"  # the ack's note is the original
    assert standin.messages(FRAUD) == []
    assert hook.send(text="nlp: $12.00", response_type="in_channel").status_code == 200

    echo, answer = standin.messages(FRAUD)
    assert (echo["user"], echo["text"]) == (ALICE, "/cost team nlp")
    assert (answer["text"], answer["ephemeral_for"]) == ("nlp: $12.00", None)
    again = hook.send(delete_original=True)  # the original is now the public answer
    assert again.body == "ok" and [m["text"] for m in standin.messages(FRAUD)] == [echo["text"]]


def test_replace_or_delete_before_anything_was_posted_is_message_not_found(world):
    standin, bot = world
    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="team nlp")  # an empty ack
    hook = WebhookClient(bot.requests[0]["data"]["response_url"], timeout=5)

    assert (hook.send(delete_original=True).status_code, standin.messages(FRAUD)) == (404, [])
    replaced = hook.send(text="x", replace_original=True)
    assert (replaced.status_code, replaced.body) == (404, "message_not_found")


def test_a_command_can_come_without_response_url_and_in_any_case(world):
    standin, bot = world
    standin.commands = ("/cost",)

    standin.send_command(user_id=ALICE, channel_id=FRAUD, text="TEAM NLP", command="/COST",
                         response_url=False)  # fmt: skip

    form = bot.requests[0]["data"]
    assert "response_url" not in form and form["trigger_id"]
    assert (form["command"], form["text"]) == ("/COST", "TEAM NLP")  # as typed
    assert standin.messages(FRAUD) == []  # no "not a valid command" from Slackbot


def test_an_upload_with_blocks_is_one_message_with_the_file_below_them(world):
    standin, _ = world
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*nlp* daily trend"}}]

    _client(standin).files_upload_v2(
        channel=FRAUD, content=PNG, filename="trend.png", title="trend", blocks=json.dumps(blocks)
    )

    (message,) = standin.messages(FRAUD)
    assert message["blocks"][0]["text"]["text"] == "*nlp* daily trend"
    assert [f["name"] for f in message["files"]] == ["trend.png"]


def test_an_uploaded_files_message_is_never_seen_before_its_file_is_shared_there(world):
    standin, _ = world
    seq = standin.ui_events(0, timeout=0)["seq"]

    _client(standin).files_upload_v2(channel=FRAUD, content=PNG, filename="trend.png")

    (posted,) = [e["message"] for e in standin.ui_events(seq, timeout=0)["events"]
                 if e["type"] == "message"]  # fmt: skip
    (file,) = posted["files"]
    assert file["channels"] == [FRAUD]
    assert [s["ts"] for s in file["shares"]["public"][FRAUD]] == [posted["ts"]]
    assert standin.messages(FRAUD) == [posted]  # one message, the same as first shown


def test_a_file_shared_in_two_channels_shows_both_in_each_message_from_the_first_read(world):
    """files.completeUploadExternal with ``channels=C1,C2``: one message in each, and each
    shows the file shared in both, as files.info says, never a first message left saying
    C1 alone while the file is in C2 too."""
    standin, _ = world
    client = _client(standin)
    upload = client.files_getUploadURLExternal(filename="trend.png", length=len(PNG))
    request = urllib.request.Request(upload["upload_url"], data=PNG, method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass
    seq = standin.ui_events(0, timeout=0)["seq"]

    client.files_completeUploadExternal(files=[{"id": upload["file_id"]}], channels=[FRAUD, FINOPS])

    shown = [e["message"] for e in standin.ui_events(seq, timeout=0)["events"]]
    assert [m["channel"] for m in shown] == [FRAUD, FINOPS]
    info = client.files_info(file=upload["file_id"])["file"]
    assert info["channels"] == [FRAUD, FINOPS]
    for message in shown:
        (file,) = message["files"]
        assert file["channels"] == [FRAUD, FINOPS] and file["shares"] == info["shares"]
        (stored,) = standin.messages(message["channel"])
        assert stored == message  # one message, the same as first shown


def test_an_upload_with_a_comment_ignores_its_blocks_and_bad_blocks_are_refused(world):
    standin, _ = world
    client = _client(standin)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ignored"}}
    client.files_upload_v2(channel=FRAUD, content=PNG, filename="a.png",
                           initial_comment="the chart", blocks=json.dumps([section]))  # fmt: skip
    (message,) = standin.messages(FRAUD)
    assert (message["text"], message["blocks"]) == ("the chart", [])

    with pytest.raises(SlackApiError) as refused:
        client.files_upload_v2(channel=FRAUD, content=PNG, filename="b.png",
                               blocks=json.dumps([{"type": "section"}]))  # fmt: skip
    assert refused.value.response["error"] == "invalid_blocks"


def test_the_workspace_knows_every_emoji_code_costbot_writes():
    """The page shows ``:wastebasket:`` as 🗑️, as Slack does: its table has every code the
    handlers and engines write (a word glued to a colon, as in ``arn:aws:``, is no code)."""
    root = Path(__file__).resolve().parents[2]
    code = re.compile(r"(?<![\w:/.-]):([a-z0-9_+]+):(?![\w/:])")
    written = {
        name
        for folder in ("handlers", "engines")
        for path in (root / folder).rglob("*.py")
        for name in code.findall(path.read_text())
        if not name.isdigit()
    }
    table = (root / "bot" / "demo" / "static" / "app.js").read_text()
    known = set(re.findall(r"[{ ,]\"?([a-z0-9_+\-]+)\"?: \"", table.split("function emojify")[0]))
    assert "wastebasket" in written and "wastebasket" in known
    assert written - known == set()

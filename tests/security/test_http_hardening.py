"""What reaches `POST /slack/events` from anyone on the network: oversized, unsigned, malformed.

Each is refused before Bolt reads it, with the right status (never a 500), in one log line that
names its size and the reason and never its body. The demo workspace's API takes only JSON
from its own page.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import time
import urllib.parse

import pytest

from bot.logs import RedactSecrets
from bot.server import MAX_BODY_BYTES
from tests.bot.test_http import post
from tests.conftest import SIGNING_SECRET, Stack

FORGED = "WARNING costbot: recovered a change left half-way: FORGED"


def refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("refused a request")]


def test_a_body_over_1_mb_gets_413_before_anything_reads_it(stack: Stack, caplog):
    caplog.set_level(logging.INFO)
    host, port = urllib.parse.urlsplit(stack.server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    # Only the headers are sent: a server that waited for the body would time out here.
    connection.putrequest("POST", "/slack/events")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.putheader("Content-Length", str(100 * 1024 * 1024))
    connection.endheaders()

    response = connection.getresponse()

    assert response.status == 413
    connection.close()
    [line] = refusals(caplog)
    assert str(100 * 1024 * 1024) in line.getMessage()
    assert stack.slack.messages("C0DEMOFRAUD") == []


def test_a_body_of_exactly_the_limit_is_read_and_judged_by_its_signature(stack: Stack):
    body = "text=" + "a" * (MAX_BODY_BYTES - len("text="))

    status, _ = post(stack.events_url, body, {"Content-Type": "application/x-www-form-urlencoded"})

    assert status == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ('{"type": "event_callback", "event": ', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
        ("\udcff", "application/x-www-form-urlencoded"),
    ],
)
def test_a_malformed_body_is_401_unsigned_and_400_signed_never_500(
    stack: Stack, caplog, body, content_type
):
    caplog.set_level(logging.INFO)
    raw = body.encode("utf-8", "surrogateescape")

    assert _post_bytes(stack.events_url, raw, {"Content-Type": content_type}) == 401
    assert _post_bytes(stack.events_url, raw, _signed(raw, content_type)) == 400

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(refusals(caplog)) == 2


def test_a_refused_body_is_never_logged_and_cannot_forge_a_line(stack: Stack, caplog):
    caplog.set_level(logging.DEBUG)
    body = f"command=%2Fcost&text=x\n{FORGED}\r\n{FORGED}"

    status, _ = post(stack.events_url, body, {"Content-Type": "application/x-www-form-urlencoded"})

    assert status == 401
    assert not [r for r in caplog.records if "FORGED" in r.getMessage()]
    [line] = refusals(caplog)
    assert f"({len(body.encode())} bytes)" in line.getMessage()


def test_every_log_record_is_one_line_whatever_it_carries():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("costbot.test.one-line")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("unknown team %r", f"nlp\n{FORGED}\rmore")
    finally:
        logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "\\n" + FORGED in lines[0]


@pytest.mark.parametrize(
    ("content_type", "origin", "status"),
    [
        ("application/json", None, 202),  # a script on the machine, as the tests are
        ("application/json; charset=utf-8", "same", 202),
        ("text/plain; a=json", None, 415),  # a "simple" request, sent cross-site unasked
        ("text/plain", "same", 415),
        ("application/x-www-form-urlencoded", None, 415),
        ("application/json", "http://evil.example", 403),
        ("application/json", "null", 403),
    ],
)
def test_the_demo_workspace_api_takes_json_from_its_own_page_only(
    stack: Stack, content_type, origin, status
):
    headers = {"Content-Type": content_type}
    if origin is not None:
        headers["Origin"] = stack.slack.base_url if origin == "same" else origin
    body = json.dumps({"user": "U0DEMOBOB", "channel": "C0DEMOFRAUD", "text": "/cost help"})

    answer, _ = post(stack.slack.base_url + "/ui/api/command", body, headers)

    assert answer == status


def _post_bytes(url: str, body: bytes, headers: dict[str, str]) -> int:
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", urllib.parse.urlsplit(url).path, body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def _signed(raw: bytes, content_type: str) -> dict[str, str]:
    """Slack's signature over the exact bytes (``signed_headers`` signs text)."""
    timestamp = str(int(time.time())).encode()
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp + b":" + raw, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp.decode(),
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }

"""Slack answering 429 (with Retry-After) or 5xx: answers are delayed, never lost."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Stack


def ask(stack: Stack, text: str) -> dict:
    stack.slack.send_command(user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text=text)
    return stack.slack.wait_for_message(
        lambda m: m["ephemeral_for"] is None and m["text"].startswith("fraud-detection:"),
        timeout=20,
    )


def response_url_posts(stack: Stack) -> list[dict]:
    return [call for call in stack.slack.calls if call["method"] == "response_url"]


@pytest.mark.parametrize(("status", "retry_after"), [(429, 2), (500, None), (503, None)])
def test_an_answer_at_a_response_url_survives_a_429_or_a_5xx(
    stack: Stack, small_export, status: int, retry_after: int | None
):
    # The first post is the "Working on…" note, which is never retried (the ack cannot wait;
    # it goes in the ack's body instead); the second is the answer's.
    stack.slack.fail_next("response_url", status=status, retry_after=retry_after, count=2)
    started = time.monotonic()

    answer = ask(stack, "team fraud-detection")

    assert "billed cost" in answer["text"]
    if retry_after:
        assert time.monotonic() - started >= retry_after  # Retry-After was honoured
    assert len(response_url_posts(stack)) >= 3  # the note refused, the answer refused, delivered


@pytest.mark.parametrize(("status", "retry_after"), [(429, 2), (500, None), (503, None)])
def test_web_api_calls_survive_a_429_or_a_5xx(stack: Stack, status: int, retry_after):
    client = stack.costbot.app.client
    stack.slack.fail_next("chat.postMessage", status=status, retry_after=retry_after)
    started = time.monotonic()

    posted = client.chat_postMessage(channel="C0DEMOFRAUD", text="budget alert")

    assert posted["ok"]
    if retry_after:
        assert time.monotonic() - started >= retry_after
    assert [m["text"] for m in stack.slack.messages("C0DEMOFRAUD")] == ["budget alert"]

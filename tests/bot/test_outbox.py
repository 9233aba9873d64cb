"""The outbox against the Slack stand-in: once, in order, at Slack's pace, nothing lost.

Time is frozen: each test moves the clock and runs a delivery pass itself, so a
``Retry-After: 2`` is two seconds of the test's clock, not of the wall's.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.demo.slack_standin import SlackStandIn
from bot.outbox import Outbox, SlackPoster
from bot.store import Store
from tests.conftest import Stack

SECRET, TOKEN = "test-signing-secret", "xoxb-test-token"
FRAUD, NLP = "C0DEMOFRAUD", "C0DEMONLP"
T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN)
    standin.start()
    yield standin
    standin.stop()


def make_outbox(slack: SlackStandIn, store: Store, clock: Clock) -> Outbox:
    client = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    return Outbox(store, SlackPoster(client), clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "costbot.db")


def texts(slack: SlackStandIn, channel: str) -> list[str]:
    return [m["text"] for m in slack.messages(channel)]


def add(outbox: Outbox, key: str, channel: str = FRAUD) -> bool:
    return outbox.enqueue(key, channel=channel, message={"text": key}, kind="test")


def test_a_429_with_retry_after_2_waits_two_seconds_then_delivers(slack, store, clock):
    outbox = make_outbox(slack, store, clock)
    add(outbox, "digest:fraud-detection:2026-11-20")
    slack.fail_next("chat.postMessage", status=429, retry_after=2)

    first = outbox.deliver_due()
    assert (first.sent, first.retried) == (0, 1)
    assert first.next_wake == T0 + dt.timedelta(seconds=2)

    clock.advance(1.5)
    assert outbox.deliver_due().sent == 0  # still inside Retry-After
    assert texts(slack, FRAUD) == []

    clock.advance(0.5)
    assert outbox.deliver_due().sent == 1
    assert texts(slack, FRAUD) == ["digest:fraud-detection:2026-11-20"]
    assert [c["status"] for c in slack.calls] == [429, 200]


def test_when_slack_keeps_failing_nothing_is_lost(slack, store, clock):
    outbox = make_outbox(slack, store, clock)
    add(outbox, "alert:one")
    slack.fail_next("chat.postMessage", status=500, count=3)

    waits = []
    for _ in range(4):
        result = outbox.deliver_due()
        if result.sent:
            break
        waits.append((result.next_wake - clock.now).total_seconds())
        clock.now = result.next_wake

    assert waits == [2, 4, 8]  # exponential back-off
    assert texts(slack, FRAUD) == ["alert:one"]
    (row,) = store.outbox_rows()
    assert (row["state"], row["attempts"]) == ("sent", 4)


def test_one_message_per_second_per_channel_and_channels_in_parallel(slack, store, clock):
    outbox = make_outbox(slack, store, clock)
    for n in range(3):
        add(outbox, f"fraud {n}")
    add(outbox, "nlp 0", NLP)

    assert outbox.deliver_due().sent == 2  # one per channel
    clock.advance(0.5)
    assert outbox.deliver_due().sent == 0
    clock.advance(0.5)
    assert outbox.deliver_due().sent == 1
    clock.advance(1)
    assert outbox.deliver_due().sent == 1

    assert texts(slack, FRAUD) == ["fraud 0", "fraud 1", "fraud 2"]  # in order
    assert texts(slack, NLP) == ["nlp 0"]


def test_a_key_is_sent_once_even_when_added_twice_or_delivered_by_two_processes(
    slack, tmp_path, clock
):
    path = tmp_path / "shared.db"
    first = make_outbox(slack, Store(path), clock)
    second = make_outbox(slack, Store(path), clock)  # another process on the same database

    assert add(first, "digest:nlp:2026-11-20", NLP)
    assert not add(second, "digest:nlp:2026-11-20", NLP)

    passes = [threading.Thread(target=box.deliver_due) for box in (first, second)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join()

    assert texts(slack, NLP) == ["digest:nlp:2026-11-20"]


def test_a_crash_mid_send_or_before_sending_loses_nothing(slack, tmp_path, clock):
    path = tmp_path / "costbot.db"
    before = make_outbox(slack, Store(path), clock)
    add(before, "queued before the crash")
    add(before, "being sent at the crash", NLP)
    (row,) = Store(path).outbox_rows(team="", state="pending", limit=1)  # newest pending
    Store(path).outbox_update(row["id"], expected="pending", new="sending")
    # ... the process dies here: one row pending, one sending, neither posted.

    after = make_outbox(slack, Store(path), clock)
    assert after.recover() == 1
    assert after.deliver_due().sent == 2

    assert texts(slack, FRAUD) == ["queued before the crash"]
    assert texts(slack, NLP) == ["being sent at the crash"]


def test_a_channel_that_does_not_exist_is_recorded_as_failed(slack, store, clock):
    outbox = make_outbox(slack, store, clock)
    add(outbox, "to nowhere", "#no-such-channel")

    assert outbox.deliver_due().failed == 1

    (row,) = store.outbox_rows()
    assert (row["state"], row["last_error"]) == ("failed", "channel_not_found")
    assert outbox.deliver_due().next_wake is None  # not retried for ever


def test_the_standin_can_rate_limit_channels_like_slack(slack):
    slack.channel_rate_limit = 1.0
    client = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    client.chat_postMessage(channel=FRAUD, text="first")
    client.chat_postMessage(channel=NLP, text="other channel: fine")
    with pytest.raises(Exception) as refused:
        client.chat_postMessage(channel=FRAUD, text="too soon")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"
    assert slack.rate_limited == 1


def test_the_delivery_thread_keeps_the_pace_of_a_rate_limited_slack(slack, store):
    slack.channel_rate_limit = 1.0
    client = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
    outbox = Outbox(store, SlackPoster(client), clock=lambda: dt.datetime.now(dt.UTC)).start()
    try:
        add(outbox, "one")
        add(outbox, "two")
        deadline = time.monotonic() + 10
        while len(texts(slack, FRAUD)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        outbox.stop()
    assert texts(slack, FRAUD) == ["one", "two"]
    assert slack.rate_limited == 0


def test_the_outbox_the_process_starts_is_the_one_listeners_queue_into(stack: Stack):
    """``costbot serve`` starts ``Costbot.outbox``; listeners queue through ``deps.outbox``.
    One object, so that queueing wakes the delivery thread instead of it finding the message
    at its next idle pass (30 s later)."""
    assert stack.costbot.outbox is stack.costbot.deps.outbox

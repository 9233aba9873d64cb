"""Another process keeps the database busy: acks stay in time and nothing is lost."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.store import database as store_module
from tests.bot.test_http import post, signed_headers
from tests.conftest import Stack


@contextmanager
def database_locked(path, seconds: float) -> Iterator[None]:
    """Another process's long write: an exclusive lock held for ``seconds``."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(5)
    try:
        yield
    finally:
        holder.join()


def commands(stack: Stack) -> list[dict]:
    return [r for r in stack.store.audit_records(limit=100) if r["action"] == "command"]


@pytest.fixture
def one_second_busy_timeout(monkeypatch) -> None:
    """Each wait for the lock gives up after 1 s instead of 5 s, so a lock of 3 s outlasts
    one wait, as 8 s would in production, and the audit write has to try again."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 1000)


def test_a_command_is_acked_in_time_and_audited_once_the_lock_is_gone(
    one_second_busy_timeout, stack: Stack, small_export
):
    with database_locked(stack.store.path, seconds=3):
        result = stack.slack.send_command(
            user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team fraud-detection"
        )
        assert result.status == 200 and result.elapsed_s < 3.0
        answer = stack.slack.wait_for_message(
            lambda m: m["ephemeral_for"] is None and m["text"].startswith("fraud-detection:"),
            timeout=20,
        )
        assert "billed cost" in answer["text"]  # answers need no writes
    deadline = time.monotonic() + 60
    while not commands(stack) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r["detail"]["text"] for r in commands(stack)] == ["team fraud-detection"]


def test_an_event_is_acked_in_time_while_the_ledger_cannot_be_written(stack: Stack):
    envelope = {
        "type": "event_callback",
        "team_id": "T0DEMO",
        "event_id": "Ev0BUSY1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "U0DEMOALICE", "tab": "home"},
    }
    body = json.dumps(envelope)
    with database_locked(stack.store.path, seconds=4):
        started = time.monotonic()
        status, _ = post(
            stack.events_url, body, {**signed_headers(body), "Content-Type": "application/json"}
        )
        assert status == 200
        assert time.monotonic() - started < 3.0
    deadline = time.monotonic() + 10
    while stack.slack.published_view("U0DEMOALICE") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "fraud-detection" in json.dumps(stack.slack.published_view("U0DEMOALICE"))

"""Slow questions never hold up clicks, and a question that takes too long is answered so.

On the demo world, with a cost source made deliberately slow: its ``costs`` waits until the
test lets it go. Questions run in a pool of their own under a time limit (60 s by default,
3 s in the first test); clicks and approvals run in another.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import State
from handlers import action_ids
from tests.handlers.test_rightsize_flow import ALICE, BOB, FRAUD, ask_rightsize, change_for
from tests.waiting import wait_until

DEV, CARA, NLP = "U0DEMODEV", "U0DEMOCARA", "C0DEMONLP"
TIME_LIMIT_S = 3.0
TOO_LONG = "this took too long: try a shorter period"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    # Dry run, as `costbot serve` defaults to (the demo itself changes its sandbox for real).
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=True
    )
    with DemoSandbox(options) as running:
        yield running


@contextlib.contextmanager
def time_limit(sandbox: DemoSandbox, seconds: float) -> Iterator[None]:
    """A shorter time limit for questions (``COSTBOT_QUESTION_SECONDS``) while inside."""
    deps = sandbox.costbot.deps
    before = deps.question_seconds
    object.__setattr__(deps, "question_seconds", seconds)  # the listeners hold these deps
    try:
        yield
    finally:
        object.__setattr__(deps, "question_seconds", before)


class SlowCosts:
    """Makes the sandbox's cost source answer only once ``release()`` is called."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.gate = threading.Event()
        self.waiting = 0
        self._costs = source.costs

    def __enter__(self) -> SlowCosts:
        def slow(query: Any) -> Any:
            self.waiting += 1
            self.gate.wait(timeout=30)
            return self._costs(query)

        self.source.costs = slow
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        del self.source.costs  # the class's own method again


def test_a_question_over_the_time_limit_is_answered_too_long_and_only_once(sandbox):
    slack = sandbox.standin
    with time_limit(sandbox, TIME_LIMIT_S), SlowCosts(sandbox.costbot.deps.cost_source):
        asked = time.monotonic()
        slack.send_command(user_id=DEV, channel_id=NLP, text="team nlp last 30d")
        (note,) = [m for m in slack.messages(NLP) if "Working on" in m["text"]]
        answer = slack.wait_for_message(
            lambda m: m["ephemeral_for"] == DEV and TOO_LONG in m["text"], timeout=10
        )
        waited = time.monotonic() - asked
    assert answer["ts"] == note["ts"]  # in the note's place
    assert TIME_LIMIT_S - 0.5 < waited < TIME_LIMIT_S + 3
    assert "Traceback" not in answer["text"] and "internal error" not in answer["text"]
    # The question finishes later: its answer is dropped, the user is not told twice.
    time.sleep(1.0)
    late = [m for m in slack.messages(NLP) if float(m["ts"]) > float(answer["ts"])]
    assert not [m for m in late if "nlp ·" in str(m["blocks"])], late


def test_an_approval_completes_within_5_s_with_20_slow_questions_in_flight(sandbox):
    """Would fail if clicks shared the questions' pool: the pool is full of questions that
    wait for the slow source until the end of the test."""
    slack = sandbox.standin
    store = sandbox.costbot.store
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = int(change_for(message, "fraud-etl-prod"))
    with SlowCosts(sandbox.costbot.deps.cost_source) as slow:
        for _ in range(20):
            ack = slack.send_command(user_id=DEV, channel_id=NLP, text="team nlp last 30d")
            assert ack.status == 200 and ack.elapsed_s < 3.0
        for user in (DEV, ALICE, BOB, CARA):  # App Home asks for costs too: a slow question
            slack.open_app_home(user_id=user)
        wait_until(lambda: slow.waiting >= 2, timeout=5)  # the questions' pool is full

        clicked = time.monotonic()
        slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change_id))  # fmt: skip
        wait_until(lambda: store.get_change(change_id).state is State.DONE, timeout=5)
        took = time.monotonic() - clicked
        still_slow = not slow.gate.is_set()
    assert still_slow  # every question was still in flight while the change ran
    assert took < 5.0
    change = store.get_change(change_id)
    assert change.dry_run and change.decided_by == ALICE


def first_change(message: dict) -> str:
    """The change id behind the first card's buttons in a right-sizing message."""
    block = next(b for b in message["blocks"] if b.get("block_id", "").startswith("rightsize:"))
    return block["block_id"].split(":")[1]


def test_four_approvals_waiting_for_aws_never_hold_up_another_teams_click(sandbox):
    """An endpoint takes minutes to delete or re-create, an instance to stop and start.
    Would fail if approvals ran on the clicks' pool (four threads in the sandbox): the four
    approvals below wait for AWS until the end of the test, and the Snooze would queue."""
    slack, store = sandbox.standin, sandbox.costbot.store
    runner = sandbox.costbot.deps.changes
    assert runner is not None
    fraud = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    nlp = ask_rightsize(sandbox, DEV, NLP, "nlp")
    approved = [
        int(change_for(fraud, name))
        for name in ("fraud-etl-prod", "fraud-sandbox-api", "fraud-legacy-scorer",
                     "fraud-chargeback-scorer")
    ]  # fmt: skip
    snoozed = int(first_change(nlp))
    aws = threading.Event()
    waiting: list[int] = []
    execute = runner.execute

    def slow_execute(change_id: int) -> Any:
        waiting.append(change_id)
        aws.wait(timeout=30)
        return execute(change_id)

    runner.execute = slow_execute  # type: ignore[method-assign]
    try:
        for change_id in approved:
            slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=fraud["ts"],
                        action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change_id))  # fmt: skip
        wait_until(lambda: len(waiting) == 4, timeout=10)

        slack.click(user_id=DEV, channel_id=NLP, message_ts=nlp["ts"],
                    action_id=action_ids.RIGHTSIZE_SNOOZE, value=str(snoozed))  # fmt: skip
        wait_until(lambda: store.get_change(snoozed).state is State.SNOOZED, timeout=5)
        still_waiting = not aws.is_set()
    finally:
        aws.set()
        del runner.execute  # the class's own method again
    assert still_waiting  # the approvals were all still waiting for AWS
    for change_id in approved:
        wait_until(lambda c=change_id: store.get_change(c).state is State.DONE, timeout=30)

"""Deps.run_question: one answer per question, from the question or from its time limit."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from handlers.deps import Deps
from tests.waiting import wait_until


def deps(pool: ThreadPoolExecutor, seconds: float) -> Deps:
    return Deps(teams={}, cost_source=None, now=lambda: dt.datetime.now(dt.UTC), audit=None,
                ledger=None, questions=pool, question_seconds=seconds)  # type: ignore[arg-type]  # fmt: skip


def test_a_quick_question_answers_itself_and_the_time_limit_says_nothing():
    answers: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        deps(pool, 0.3).run_question(
            lambda claim: claim() and answers.append("answer"),
            too_long=lambda: answers.append("too long"),
        )
    threading.Event().wait(0.5)
    assert answers == ["answer"]


def test_past_the_limit_a_running_question_is_dropped_and_a_queued_one_never_starts():
    answers: list[str] = []
    started: list[str] = []
    gate = threading.Event()

    def slow(name: str):
        def work(claim) -> None:
            started.append(name)
            gate.wait(5)
            if claim():
                answers.append(name)

        return work

    pool = ThreadPoolExecutor(max_workers=1)
    limited = deps(pool, 0.3)
    limited.run_question(slow("first"), too_long=lambda: answers.append("first: too long"))
    limited.run_question(slow("second"), too_long=lambda: answers.append("second: too long"))
    wait_until(lambda: len(answers) == 2, timeout=3)
    gate.set()
    pool.shutdown(wait=True)
    assert sorted(answers) == ["first: too long", "second: too long"]  # each told once
    assert started == ["first"]  # the second was still queued: it never ran

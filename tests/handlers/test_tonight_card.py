"""A change approved for "Tonight" runs later, from the scheduler: its channel card then shows
how it ended, for everyone, with the buttons that fit (Revert once done for real), not
"Scheduled" and a Deny button that can only answer "already…".

On the demo sandbox, whose changes are real (moto), with a clock the test moves to tonight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.scheduler import run_due_changes
from engines.changes.models import State
from handlers import action_ids
from handlers.rightsizing.notify import post_change_outcome
from tests.handlers.test_rightsize_cards import buttons_of, current, line_shows, status_of
from tests.handlers.test_rightsize_flow import ask_rightsize, change_ids
from tests.waiting import wait_until

DEV, ERIN, NLP = "U0DEMODEV", "U0DEMOERIN", "C0DEMONLP"
LATER = {"by": dt.timedelta(0)}  # how far the sandbox's clock is ahead of the wall clock


def clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LATER["by"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("tonight"), run_scheduler=False)
    with DemoSandbox(options, now=clock) as running:
        yield running


def run_tonight(sandbox: DemoSandbox, at: dt.datetime) -> int:
    """The scheduler's job at ``at``, told the way `costbot serve` tells it."""
    costbot = sandbox.costbot
    LATER["by"] = at - dt.datetime.now(dt.UTC)
    return run_due_changes(
        changes=costbot.deps.changes,
        now=lambda: at,
        notify=lambda outcome: post_change_outcome(
            costbot.app.client, outcome, cards=costbot.store, now=lambda: at
        ),
    )


def test_tonights_run_updates_the_card_with_its_outcome_and_a_revert_button(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    change_id = change_ids(card)[0]
    other = change_ids(card)[1]
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE_TONIGHT, value=change_id)  # fmt: skip
    scheduled = wait_until(
        lambda: (
            (m := current(sandbox, NLP, card["ts"])) and buttons_of(m, change_id) == ["Deny"] and m
        )
    )
    assert status_of(scheduled, change_id).startswith(":clock10: ")
    when = store.get_change(int(change_id)).scheduled_for

    assert run_tonight(sandbox, when - dt.timedelta(minutes=1)) == 0  # not yet
    assert buttons_of(current(sandbox, NLP, card["ts"]), change_id) == ["Deny"]

    assert run_tonight(sandbox, when + dt.timedelta(minutes=1)) == 1
    change = store.get_change(int(change_id))
    assert change.state is State.DONE and not change.dry_run
    done = line_shows(sandbox, NLP, card["ts"], change_id, ":white_check_mark:")
    assert buttons_of(done, change_id) == ["Revert"]
    line = status_of(done, change_id)
    assert change.instance_name in line
    ran = (when + dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M UTC")
    assert line.endswith(f"(scheduled by <@{DEV}>, {ran})")
    assert ":clock10:" not in line  # no longer "scheduled for 22:00"
    # The other recommendation on the same card is left as it was, buttons and all.
    assert "Approve" in buttons_of(done, other) or "Stop" in buttons_of(done, other)
    # And the thread is told, as before.
    assert wait_until(lambda: [m for m in slack.messages(NLP) if m.get("thread_ts") == card["ts"]])


def test_a_card_costbot_kept_no_copy_of_gets_only_the_thread(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    change_id = change_ids(card)[0]
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE_TONIGHT, value=change_id)  # fmt: skip
    wait_until(lambda: buttons_of(current(sandbox, NLP, card["ts"]), change_id) == ["Deny"])
    channel = current(sandbox, NLP, card["ts"])["channel"]
    wait_until(lambda: store.card(channel, card["ts"]))  # the click's copy is kept…
    store.db.execute("delete from cards")  # …then lost: a card decided before costbot kept cards
    when = store.get_change(int(change_id)).scheduled_for

    assert run_tonight(sandbox, when + dt.timedelta(minutes=1)) == 1
    assert wait_until(
        lambda: [m for m in slack.messages(NLP)
                 if m.get("thread_ts") == card["ts"] and ":white_check_mark:" in m["text"]]
    )  # fmt: skip
    assert buttons_of(current(sandbox, NLP, card["ts"]), change_id) == ["Deny"]


def test_a_change_whose_window_ended_shows_it_was_withdrawn_without_a_broken_mention(sandbox):
    """costbot came back at 09:00: the change is withdrawn, and the card says so with no
    button left and no ``<@costbot>``, which Slack would show as an unknown user."""
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    change_id = change_ids(card)[0]
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE_TONIGHT, value=change_id)  # fmt: skip
    wait_until(lambda: buttons_of(current(sandbox, NLP, card["ts"]), change_id) == ["Deny"])
    when = store.get_change(int(change_id)).scheduled_for

    assert run_tonight(sandbox, when + dt.timedelta(hours=11)) == 1

    assert store.get_change(int(change_id)).state is State.DENIED
    withdrawn = line_shows(sandbox, NLP, card["ts"], change_id, "did not run")
    assert buttons_of(withdrawn, change_id) == []
    line = status_of(withdrawn, change_id)
    assert line.startswith(":no_entry_sign: ") and "<@costbot>" not in line
    told = wait_until(
        lambda: [m["text"] for m in slack.messages(NLP)
                 if m.get("thread_ts") == card["ts"] and "did not run" in m["text"]]
    )  # fmt: skip
    assert "<@costbot>" not in told[0]

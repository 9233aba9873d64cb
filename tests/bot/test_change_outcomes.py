"""Outcomes nobody clicked for (tonight's run, a recovery) are told in the message's thread."""

from __future__ import annotations

import datetime as dt

from bot.demo.slack_standin import SlackStandIn
from bot.scheduler import run_due_changes
from engines.changes.models import State
from handlers.rightsizing.notify import post_change_outcome
from tests.engines.test_changes import (  # noqa: F401  (fixtures)
    ALICE,
    APPROVERS,
    BOB,
    NOW,
    describe,
    ec2,
    fake_time,
    instance_id,
    make_runner,
    moto_ec2,
    propose,
    recorder,
    store,
)
from tests.waiting import wait_until

TOKEN = "xoxb-outcome-test"


def test_a_change_approved_for_tonight_runs_when_due_and_tells_the_thread(
    recorder, store, fake_time, ec2, instance_id
):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, now=lambda: clock["now"])
    change_id = propose(runner, instance_id)
    store.set_change_message(change_id, channel="C0DEMONLP", ts="1700000000.000100")
    tonight = NOW.replace(hour=22, minute=0)
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS, at=tonight).ok
    told = []

    assert run_due_changes(changes=runner, now=lambda: clock["now"], notify=told.append) == 0
    assert store.get_change(change_id).state is State.SCHEDULED

    clock["now"] = tonight + dt.timedelta(minutes=1)
    assert run_due_changes(changes=runner, now=lambda: clock["now"], notify=told.append) == 1
    assert [outcome.state for outcome in told] == [State.DONE]
    assert describe(ec2, instance_id)["InstanceType"] == "m5.large"
    assert told[0].change.message_channel == "C0DEMONLP"


def test_the_outcome_is_posted_in_the_thread_of_the_decision(
    recorder, store, fake_time, ec2, instance_id
):
    slack = SlackStandIn(signing_secret="s" * 20, bot_token=TOKEN)
    slack.start()
    try:
        from slack_sdk import WebClient

        client = WebClient(token=TOKEN, base_url=slack.base_url + "/api/")
        root = client.chat_postMessage(channel="C0DEMONLP", text="nlp · right-sizing")
        runner = make_runner(recorder, store, fake_time)
        change_id = propose(runner, instance_id)
        store.set_change_message(change_id, channel="C0DEMONLP", ts=root["ts"])
        runner.approve(change_id, approver=ALICE, approvers=APPROVERS)

        assert post_change_outcome(client, runner.execute(change_id))

        reply = wait_until(
            lambda: [m for m in slack.messages("C0DEMONLP") if m.get("thread_ts") == root["ts"]]
        )[0]
        assert reply["text"].startswith(":white_check_mark: Done:")
        assert "m5.large" in reply["text"]
    finally:
        slack.stop()


def test_an_outcome_without_a_message_is_not_posted(recorder, store, fake_time, instance_id):
    runner = make_runner(recorder, store, fake_time)
    change_id = propose(runner, instance_id)
    runner.approve(change_id, approver=ALICE, approvers=APPROVERS)
    assert not post_change_outcome(None, runner.execute(change_id))  # type: ignore[arg-type]

"""A SageMaker change approved for tonight runs from the scheduler (``run_due_changes``) on the
SageMaker path, and the thread hears how it ended, not once a minute while it waits."""

from __future__ import annotations

import datetime as dt

from botocore.exceptions import ClientError

from bot.scheduler import run_due_changes
from engines.changes.models import ChangeRequest, State
from engines.changes.runner import ChangeRunner
from engines.sagemaker.models import Finding, SageMakerAction
from tests.engines.test_sagemaker_changes import (  # noqa: F401  (fixtures)
    ACCOUNT,
    ALICE,
    APPROVERS,
    BOB,
    NOW,
    REGION,
    count_of,
    fake_time,
    make_endpoint,
    moto_sagemaker,
    recommendation,
    recorder,
    sm,
    store,
)


def make_runner(client, store, fake_time, clock, sagemaker_client_for=None) -> ChangeRunner:
    return ChangeRunner(
        lambda account, region: None,
        store,
        audit=store.record_audit,
        dry_run=False,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        poll_s=5,
        timeout_s=600,
        now=lambda: clock["now"],
        sagemaker_client_for=sagemaker_client_for or (lambda account, region: client),
    )


def approved_for_tonight(runner, sm, store) -> tuple[int, str, dt.datetime]:
    """A 4 → 2 count change on a new endpoint, approved for 22:00, its card in a thread."""
    name, config = make_endpoint(sm, count=4)
    rec = recommendation(
        SageMakerAction.SET_INSTANCE_COUNT, name, config,
        finding=Finding.OVER_PROVISIONED, current_count=4, recommended_count=2,
    )  # fmt: skip
    request = ChangeRequest.from_sagemaker(rec, requested_by=BOB, team="fraud-detection")
    change_id = runner.propose(request).id
    store.set_change_message(change_id, channel="C0DEMOFRAUD", ts="1700000000.000100")
    tonight = NOW.replace(hour=22, minute=0)
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS, at=tonight).ok
    return change_id, name, tonight


def test_a_count_change_for_tonight_waits_out_an_updating_endpoint_and_tells_the_thread_twice(
    recorder, store, sm, fake_time
):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, clock)
    change_id, name, tonight = approved_for_tonight(runner, sm, store)
    # At 22:00 autoscaling is updating the endpoint: three minutes pass before it settles.
    recorder.describe_endpoint(EndpointName=name)
    recorder.statuses = ["Updating", "Updating", "Updating"]
    told, waiting = [], {}  # ``waiting``: kept between runs, as the scheduler's job does

    for minute in range(1, 5):
        clock["now"] = tonight + dt.timedelta(minutes=minute)
        run_due_changes(
            changes=runner, now=lambda: clock["now"], notify=told.append, waiting=waiting
        )

    assert store.get_change(change_id).state is State.DONE
    assert count_of(sm, name) == 2
    texts = [outcome.text for outcome in told]
    assert len(texts) == 2, texts  # that it waits, once; then how it ended
    assert told[0].state is State.SCHEDULED
    assert f"endpoint `{name}`" in texts[0] and "has not run yet" in texts[0]
    assert "Updating" in texts[0] and "I try again every minute" in texts[0]
    assert told[1].state is State.DONE and "2" in texts[1]


def test_a_change_whose_account_cannot_be_reached_waits_and_does_not_hold_up_the_others(
    recorder, store, sm, fake_time
):
    # The first change's account: costbot's role there cannot be assumed any more. The second
    # change, due at the same time, must still run.
    clock = {"now": NOW}
    lost = "210987654321"

    def client_for(account: str, region: str):
        if account == lost:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": (
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/costbot/x is not authorized "
                    f"to perform: sts:AssumeRole on resource: arn:aws:iam::{lost}:role/costbot"
                )}},
                "AssumeRole",
            )  # fmt: skip
        return recorder

    runner = make_runner(recorder, store, fake_time, clock, sagemaker_client_for=client_for)
    tonight = NOW.replace(hour=22, minute=0)
    ids = []
    for account in (lost, ACCOUNT):
        name, config = make_endpoint(sm, count=4)
        rec = recommendation(
            SageMakerAction.SET_INSTANCE_COUNT, name, config,
            finding=Finding.OVER_PROVISIONED, current_count=4, recommended_count=2,
            arn=f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}",
        )  # fmt: skip
        request = ChangeRequest.from_sagemaker(rec, requested_by=BOB, team="fraud-detection")
        ids.append(runner.propose(request).id)
        assert runner.approve(ids[-1], approver=ALICE, approvers=APPROVERS, at=tonight).ok
    told = []
    clock["now"] = tonight + dt.timedelta(minutes=1)

    run_due_changes(changes=runner, now=lambda: clock["now"], notify=told.append, waiting={})

    assert store.get_change(ids[0]).state is State.SCHEDULED
    assert store.get_change(ids[1]).state is State.DONE
    waiting = next(outcome.text for outcome in told if outcome.change.id == ids[0])
    assert "could not reach account 210987654321" in waiting
    assert "sts:AssumeRole" in waiting and "arn:aws" not in waiting


def test_a_change_kept_waiting_past_its_window_is_withdrawn_not_run_in_the_morning(
    recorder, store, sm, fake_time
):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, clock)
    change_id, name, tonight = approved_for_tonight(runner, sm, store)
    recorder.describe_endpoint(EndpointName=name)
    recorder.statuses = ["Updating"] * 400  # autoscaling keeps it busy all night
    told, waiting = [], {}

    for minutes in range(1, 5 * 60, 10):  # 22:01 … 02:51, then it would settle
        clock["now"] = tonight + dt.timedelta(minutes=minutes)
        run_due_changes(
            changes=runner, now=lambda: clock["now"], notify=told.append, waiting=waiting
        )
    recorder.statuses = []
    clock["now"] = tonight + dt.timedelta(hours=11)  # 09:00, the working day
    run_due_changes(changes=runner, now=lambda: clock["now"], notify=told.append, waiting=waiting)

    change = store.get_change(change_id)
    assert change.state is State.DENIED and "maintenance window" in change.reason
    assert count_of(sm, name) == 4  # never changed
    assert [outcome.state for outcome in told] == [State.SCHEDULED, State.DENIED]
    assert "did not run" in told[-1].text and "`/cost rightsize fraud-detection`" in told[-1].text
    assert "change.expired" in {entry["action"] for entry in store.recent_audit(limit=100)}


def test_a_change_due_while_costbot_was_down_is_not_run_when_it_starts_next_morning(
    recorder, store, sm, fake_time
):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, clock)
    change_id, name, tonight = approved_for_tonight(runner, sm, store)
    told = []

    clock["now"] = tonight + dt.timedelta(hours=3, minutes=59)  # still within the window
    assert [c.id for c in runner.due(clock["now"])] == [change_id]
    clock["now"] = tonight + dt.timedelta(hours=11)  # costbot is back at 09:00
    run_due_changes(changes=runner, now=lambda: clock["now"], notify=told.append, waiting={})

    assert store.get_change(change_id).state is State.DENIED
    assert count_of(sm, name) == 4
    assert [outcome.state for outcome in told] == [State.DENIED]

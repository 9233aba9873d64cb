"""One acting process: the lease passes only when its holder stops renewing it, and what a
live process is doing is never settled by another.

Two ``ActingLease`` objects on one database file stand for two ``costbot serve`` processes;
the clock is the test's, so "the holder died" is "the holder stops beating and time passes".
(tests/faults/test_one_acting_process.py does the same with real processes and kill -9.)
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from bot.lease import ActingLease
from bot.outbox import Outbox
from bot.store import Store
from engines.changes.models import ChangeRequest, State
from engines.changes.runner import ChangeRunner

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(seconds=20)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Process:
    """One process's lease, and a log of when it started and stopped acting."""

    def __init__(self, name: str, store: Store, clock: Clock, *, may_act: bool = True) -> None:
        self.events: list[str] = []
        self.lease = ActingLease(
            store,
            process_id=name,
            now=clock,
            lease_time=LEASE,
            may_act=may_act,
            on_acquire=lambda: self.events.append("acts"),
            on_lose=lambda: self.events.append("stands by"),
        )


def test_of_two_processes_one_acts_and_the_other_takes_over_only_after_the_lease_expires(
    tmp_path, clock
):
    first = Process("first", Store(tmp_path / "costbot.db"), clock)
    second = Process("second", Store(tmp_path / "costbot.db"), clock)

    assert first.lease.beat() is True
    assert second.lease.beat() is False
    for _ in range(10):  # the holder keeps renewing: the standby never gets it
        clock.advance(5)
        assert first.lease.beat() is True
        assert second.lease.beat() is False
    assert (first.events, second.events) == (["acts"], [])

    # The holder dies (no more beats). Until its lease expires nobody acts instead of it ...
    clock.advance(19)
    assert second.lease.beat() is False
    # ... then the standby takes over.
    clock.advance(1)
    assert second.lease.beat() is True
    assert second.events == ["acts"]

    # A holder that was only stalled finds the lease gone on its next beat and stops acting.
    assert first.lease.beat() is False
    assert first.events == ["acts", "stands by"]
    assert Store(tmp_path / "costbot.db").lease_holder("acting", now=clock()) == "second"


def test_a_holder_that_stops_cleanly_hands_over_at_once(tmp_path, clock):
    first = Process("first", Store(tmp_path / "costbot.db"), clock)
    second = Process("second", Store(tmp_path / "costbot.db"), clock)
    first.lease.beat()

    first.lease.stop()

    assert first.events == ["acts", "stands by"]
    assert second.lease.beat() is True
    assert second.lease.live_processes() == {"second"}  # the stopped one said goodbye


def test_a_process_that_may_not_act_beats_but_never_takes_the_lease(tmp_path, clock):
    store = Store(tmp_path / "costbot.db")
    answering = Process("answers-only", store, clock, may_act=False)

    assert answering.lease.beat() is False
    assert answering.events == []
    assert store.lease_holder("acting", now=clock()) is None
    assert store.live_processes(clock()) == {"answers-only"}
    clock.advance(20)
    assert store.live_processes(clock()) == set()


def in_flight_dry_run(store: Store, runner: ChangeRunner, instance_id: str) -> int:
    request = ChangeRequest(instance_id, "111122223333", "us-east-1", "m5.xlarge", "m5.large",
                            Decimal("70.08"), "U0BOB", team="fraud-detection")  # fmt: skip
    change = runner.propose(request)
    store.transition(change.id, expected={State.PROPOSED}, new=State.APPROVED)
    store.transition(change.id, expected={State.APPROVED}, new=State.STOPPING, dry_run=True,
                     executor=runner.process_id)  # fmt: skip
    return change.id


def test_recovery_settles_only_the_changes_of_processes_that_are_gone(tmp_path, clock):
    store = Store(tmp_path / "costbot.db")

    def runner(process_id: str) -> ChangeRunner:
        def no_aws(account: str, region: str) -> None:
            raise AssertionError("a dry run's recovery touches no AWS")

        return ChangeRunner(no_aws, store, audit=store.record_audit, dry_run=True, now=clock,
                            process_id=process_id)  # fmt: skip

    alive = in_flight_dry_run(store, runner("alive"), "i-0aaaaaaaaaaaaaaa1")
    dead = in_flight_dry_run(store, runner("dead"), "i-0aaaaaaaaaaaaaaa2")

    outcomes = runner("holder").recover(clock(), live={"alive", "holder"})

    assert [outcome.change.id for outcome in outcomes if outcome.change] == [dead]
    assert store.get_change(dead).state is State.FAILED  # an interrupted dry run
    assert store.get_change(alive).state is State.STOPPING  # left to the live process
    assert store.get_change(alive).executor == "alive"
    recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
    assert [r["detail"]["change_id"] for r in recovered] == [dead]
    # Settled once: the next pass finds nothing left to do while the live process lives.
    assert runner("holder").recover(clock(), live={"alive", "holder"}) == []


class NeverPosts:
    def post(self, channel: str, message: dict) -> str:
        raise AssertionError("not posting in this test")


def test_the_outbox_requeues_only_what_a_process_that_is_gone_left_sending(tmp_path, clock):
    store = Store(tmp_path / "costbot.db")
    outbox = Outbox(store, NeverPosts(), clock=clock, process_id="holder")
    for key, sender in (("digest:a", "alive"), ("digest:b", "dead")):
        outbox.enqueue(key, channel="C1", message={"text": key}, kind="digest")
        row = store.outbox_rows(limit=1)[0]
        assert store.outbox_update(row["id"], expected="pending", new="sending", sender=sender)

    assert outbox.recover(live={"alive", "holder"}) == 1

    state = {row["key"]: row["state"] for row in store.outbox_rows()}
    assert state == {"digest:a": "sending", "digest:b": "pending"}
    assert json.loads(store.outbox_rows(state="pending")[0]["message"]) == {"text": "digest:b"}


def test_the_heartbeats_of_processes_gone_for_a_day_are_dropped(tmp_path, clock):
    store = Store(tmp_path / "costbot.db")
    Process("gone", store, clock, may_act=False).lease.beat()
    holder = Process("holder", store, clock)
    clock.advance(23 * 3600)
    holder.lease.beat()
    assert {row["id"] for row in store.db.table("processes").rows} == {"gone", "holder"}

    clock.advance(3600 + 21)  # over a day after its heartbeat expired
    holder.lease.beat()

    assert {row["id"] for row in store.db.table("processes").rows} == {"holder"}

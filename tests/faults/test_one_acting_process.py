"""Two `costbot serve` processes on one database: one acts, the other stands by.

Real processes against moto (through a proxy that counts and can hold EC2 calls) and the
Slack stand-in, with a lease of three seconds and a scheduler that ticks every second, so
what takes minutes in production takes seconds here. Only the process holding the lease
runs the schedules and sends the outbox; a change the standby carries out is never
"recovered" under it; and when the holder is killed with SIGKILL the standby takes over
within the lease time, settles the change the holder left half-way and sends what waits.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from bot.demo.slack_standin import SlackStandIn
from bot.outbox import Outbox
from bot.store import Store
from engines.changes.models import State
from handlers import action_ids
from tests.conftest import DEMO_TEAMS
from tests.faults.aws_proxy import AwsProxy
from tests.faults.test_sigkill_mid_change import (  # noqa: F401  (the slack fixture)
    ALICE,
    BOB,
    FRAUD,
    SECRET,
    TOKEN,
    approve_button,
    change_state,
    slack,
    start_serve,
)
from tests.waiting import wait_until

LEASE_SECONDS = 3  # beats every 0.75 s: room for a busy machine


@pytest.fixture
def world(tmp_path, moto_url) -> Iterator[tuple[AwsProxy, object, Path]]:
    """The AWS proxy, an EC2 client straight to moto, and a teams file whose schedule
    wants the instances tagged ``lease-test=off`` stopped right now."""
    proxy = AwsProxy(moto_url)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    other_day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%a").lower()
    teams = tmp_path / "teams.toml"
    teams.write_text(
        DEMO_TEAMS.read_text()
        + f'\n[schedules.lease-test]\nteam = "fraud-detection"\ntimezone = "UTC"\n'
        f'periods = ["{other_day} 10:00-11:00"]\ntags = {{ lease-test = "off" }}\n'
    )
    yield proxy, ec2, teams
    proxy.released.set()
    proxy.stop()


def serve(tmp_path: Path, slack: SlackStandIn, proxy: AwsProxy, export: Path, teams: Path):
    return start_serve(
        tmp_path, slack, proxy.url, export,
        COSTBOT_SCHEDULER="true", COSTBOT_TEAMS=str(teams),
        COSTBOT_LEASE_SECONDS=str(LEASE_SECONDS), COSTBOT_SCHEDULER_TICK_SECONDS="1",
    )  # fmt: skip


def acting(process: subprocess.Popen) -> bool:
    with urllib.request.urlopen(process.base_url + "/healthz", timeout=5) as response:  # type: ignore[attr-defined]
        return bool(json.load(response)["acting"])


def run_instance(ec2, tags: dict[str, str]) -> str:
    return ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge",
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip


def instance_state(ec2, instance_id: str) -> tuple[str, str]:
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return instance["InstanceType"], instance["State"]["Name"]


def stop_calls(proxy: AwsProxy, instance_id: str) -> int:
    return sum(b"Action=StopInstances" in body and instance_id.encode() in body
               for body in list(proxy.seen))  # fmt: skip


def queue_message(store: Store, key: str, text: str) -> None:
    """What any process does to post on its own: add to the outbox."""

    class NotHere:
        def post(self, channel: str, message: dict) -> str:
            raise AssertionError("the test process never sends")

    outbox = Outbox(store, NotHere(), clock=lambda: dt.datetime.now(dt.UTC))
    outbox.enqueue(key, channel=FRAUD, message={"text": text}, kind="test", team="fraud-detection")


def posted(slack: SlackStandIn, text: str) -> list[dict]:
    return [m for m in slack.messages(FRAUD) if m.get("text") == text]


def holder(store: Store) -> str:
    return store.lease_holder("acting", now=dt.datetime.now(dt.UTC)) or ""


def recovered(store: Store) -> list[dict]:
    return [r for r in store.audit_records(limit=1000) if r["action"] == "change.recovered"]


def test_two_processes_on_one_database_one_acts_and_leaves_the_others_change_alone(
    tmp_path, slack, world, small_export
):
    proxy, ec2, teams = world
    off_box = run_instance(ec2, {"team": "fraud-detection", "lease-test": "off"})
    resized = run_instance(ec2, {"team": "fraud-detection"})
    store = Store(tmp_path / "costbot.db")
    first = serve(tmp_path, slack, proxy, small_export.path, teams)
    second = serve(tmp_path, slack, proxy, small_export.path, teams)  # Slack now talks to it
    try:
        assert (acting(first), acting(second)) == (True, False)
        assert f":{first.pid}:" in holder(store)

        # The schedule's stop happens, once, though both processes tick every second.
        wait_until(lambda: instance_state(ec2, off_box)[1] == "stopped")
        # Any process adds to the outbox; the holder sends, once.
        queue_message(store, "lease-test:hello", "sent by the acting process")
        wait_until(lambda: posted(slack, "sent by the acting process"))

        # The standby carries out an approved change; the holder, settling what dead
        # processes left every beat, must not touch it while the standby lives.
        change_id, message_ts = approve_button(store, slack, resized)
        proxy.hold_action = "StopInstances"
        slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message_ts,
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change_id))  # fmt: skip
        assert proxy.held.wait(30), "the standby never stopped the instance"
        time.sleep(LEASE_SECONDS)  # the holder settles the dead every beat (4 times) meanwhile
        assert change_state(tmp_path / "costbot.db", change_id) == State.STOPPING.value
        proxy.hold_action = ""
        proxy.released.set()
        wait_until(lambda: change_state(tmp_path / "costbot.db", change_id) == State.DONE.value)

        assert recovered(store) == []
        assert instance_state(ec2, resized) == ("m5.large", "running")
        assert stop_calls(proxy, off_box) == 1
        assert len(posted(slack, "sent by the acting process")) == 1
        senders = {row["sender"] for row in store.outbox_rows(limit=1000) if row["sender"]}
        assert senders == {holder(store)}  # nothing was sent by the standby
        assert (acting(first), acting(second)) == (True, False)
    finally:
        for process in (first, second):
            process.kill()
            process.wait(10)


def test_when_the_holder_is_killed_the_standby_takes_over_settles_and_sends(
    tmp_path, slack, world, small_export
):
    proxy, ec2, teams = world
    resized = run_instance(ec2, {"team": "fraud-detection"})
    store = Store(tmp_path / "costbot.db")
    first = serve(tmp_path, slack, proxy, small_export.path, teams)
    second = serve(tmp_path, slack, proxy, small_export.path, teams)
    try:
        assert (acting(first), acting(second)) == (True, False)
        # The holder carries out a change and is killed while EC2 stops the instance.
        slack.connect_bot(first.base_url + "/slack/events")  # type: ignore[attr-defined]
        change_id, thread_ts = approve_button(store, slack, resized)
        proxy.hold_action = "StopInstances"
        slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=thread_ts,
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change_id))  # fmt: skip
        assert proxy.held.wait(30), "the holder never stopped the instance"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        proxy.hold_action = ""
        proxy.released.set()
        queue_message(store, "lease-test:after", "sent after the takeover")

        wait_until(lambda: acting(second), timeout=30)
        # Within the lease time and a beat (and the test's own polling).
        assert time.monotonic() - killed_at < 1.25 * LEASE_SECONDS + 4
        assert f":{second.pid}:" in holder(store)
        # The standby, now acting, settles the change the dead holder left half-way ...
        wait_until(
            lambda: change_state(tmp_path / "costbot.db", change_id) == State.ROLLED_BACK.value
        )
        assert [r["detail"]["decision"] for r in recovered(store)] == ["roll back"]
        assert instance_state(ec2, resized) == ("m5.xlarge", "running")
        told = wait_until(
            lambda: [m for m in slack.messages(FRAUD) if m.get("thread_ts") == thread_ts]
        )
        assert resized in told[-1]["text"]
        # ... and sends what was queued meanwhile.
        wait_until(lambda: posted(slack, "sent after the takeover"))
        row = next(r for r in store.outbox_rows(limit=1000) if r["key"] == "lease-test:after")
        assert row["sender"] == holder(store)
    finally:
        for process in (first, second):
            process.kill()
            process.wait(10)

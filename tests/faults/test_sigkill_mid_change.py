"""`costbot serve` killed with SIGKILL in the middle of an approved change, then restarted.

The real thing, end to end: `costbot serve` runs as its own process with dry run off, against
moto (through a proxy that can hold one EC2 call) and the Slack stand-in. The approver clicks
Approve; while EC2 is carrying out the chosen call, the bot is killed with SIGKILL. The
restarted bot must settle the change once the killed process's heartbeat has expired (the
lease time, two seconds here) — finished when the type was already changed, rolled back
otherwise — say which in the audit log, and tell the channel in the thread of the
recommendation.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from slack_sdk import WebClient

from bot.demo.slack_standin import SlackStandIn
from bot.store import Store
from engines.changes.models import ChangeRequest, State
from handlers import action_ids
from tests.conftest import DEMO_TEAMS
from tests.faults.aws_proxy import AwsProxy
from tests.waiting import wait_until

SECRET = "sigkill-signing-secret-0123456789"
TOKEN = "xoxb-sigkill-0000-costbot"
ALICE, BOB, FRAUD = "U0DEMOALICE", "U0DEMOBOB", "C0DEMOFRAUD"
ACTING = {"COSTBOT_SCHEDULER": "true"}  # it may take the lease, and so settle changes


OWNED_BY_FRAUD = {
    "ResourceType": "instance",
    "Tags": [{"Key": "team", "Value": "fraud-detection"}],
}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SECRET, bot_token=TOKEN)
    standin.start()
    yield standin
    standin.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(
    tmp_path: Path, slack: SlackStandIn, aws_url: str, export: Path, **extra_env: str
) -> subprocess.Popen:
    """`costbot serve` on a free port, logging to ``tmp_path / "serve.log"``; ``extra_env``
    overrides the environment (e.g. other secrets)."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "COSTBOT_HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.base_url + "/api/",
        "COSTBOT_TEAMS": str(DEMO_TEAMS),
        "COSTBOT_COST_SOURCE": f"focus:{export}",
        "COSTBOT_DB": str(tmp_path / "costbot.db"),
        "COSTBOT_DRY_RUN": "false",
        "COSTBOT_SCHEDULER": "false",
        "COSTBOT_LEASE_SECONDS": "2",
        "COSTBOT_LOG_LEVEL": "WARNING",
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra_env,
    }
    costbot = Path(sys.executable).with_name("costbot")
    log = tmp_path / "serve.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(costbot), "serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                slack.connect_bot(base + "/slack/events")
                process.base_url = base  # type: ignore[attr-defined]
                return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.1)
    process.kill()
    raise AssertionError("costbot serve did not start")


def change_state(db: Path, change_id: int) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute("select state from changes where id = ?", [change_id]).fetchone()
    return row[0]


def approve_button(store: Store, slack: SlackStandIn, instance_id: str) -> tuple[int, str]:
    """A proposed resize of ``instance_id`` and its message with an Approve button."""
    request = ChangeRequest(instance_id, "", "us-east-1", "m5.xlarge", "m5.large",
                            Decimal("70.08"), BOB, team="fraud-detection")  # fmt: skip
    change = store.create_change(request, now=dt.datetime.now(dt.UTC))
    button = {"type": "button", "text": {"type": "plain_text", "text": "Approve"},
              "action_id": action_ids.RIGHTSIZE_APPROVE, "value": str(change.id)}  # fmt: skip
    message = WebClient(token=TOKEN, base_url=slack.base_url + "/api/").chat_postMessage(
        channel=FRAUD,
        text="fraud-detection · right-sizing",
        blocks=[{"type": "actions", "block_id": f"rightsize:{change.id}", "elements": [button]}],
    )
    return change.id, message["ts"]


@pytest.mark.parametrize(
    ("killed_during", "state_at_kill", "settled", "decision", "final_type"),
    [
        ("StopInstances", "stopping", State.ROLLED_BACK, "roll back", "m5.xlarge"),
        ("StartInstances", "starting", State.DONE, "finish", "m5.large"),
    ],
)
def test_a_change_killed_half_way_is_settled_when_the_bot_restarts(
    killed_during, state_at_kill, settled, decision, final_type,
    tmp_path, moto_url, slack, small_export,
):  # fmt: skip
    proxy = AwsProxy(moto_url)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.xlarge",
        TagSpecifications=[OWNED_BY_FRAUD],  # the approver's team owns it when they click
    )["Instances"][0]["InstanceId"]
    store = Store(tmp_path / "costbot.db")
    change_id, message_ts = approve_button(store, slack, instance_id)
    bot = start_serve(tmp_path, slack, proxy.url, small_export.path, **ACTING)
    try:
        proxy.hold_action = killed_during
        slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message_ts,
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change_id))  # fmt: skip
        assert proxy.held.wait(30), f"{killed_during} never came"
        assert change_state(tmp_path / "costbot.db", change_id) == state_at_kill
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        proxy.hold_action = ""
        proxy.released.set()

        bot = start_serve(tmp_path, slack, proxy.url, small_export.path, **ACTING)

        wait_until(lambda: change_state(tmp_path / "costbot.db", change_id) == settled.value)
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
            "Instances"
        ][0]
        assert (instance["InstanceType"], instance["State"]["Name"]) == (final_type, "running")
        recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
        assert [r["detail"]["decision"] for r in recovered] == [decision]
        assert recovered[0]["detail"]["state_at_crash"] == state_at_kill
        told = wait_until(
            lambda: [m for m in slack.messages(FRAUD) if m.get("thread_ts") == message_ts]
        )
        assert instance_id in told[-1]["text"]
    finally:
        bot.kill()
        bot.wait(10)
        proxy.stop()

"""`costbot serve` killed with SIGKILL in the middle of an approved change, then restarted.

The real thing, end to end: `costbot serve` runs as its own process with dry run off, against
moto (through a proxy that can hold one EC2 call) and the Slack stand-in. The approver clicks
Approve; while EC2 is carrying out the chosen call, the bot is killed with SIGKILL. The
restarted bot must settle the change before it serves again — finished when the type was
already changed, rolled back otherwise — say which in the audit log, and tell the channel in
the thread of the recommendation.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from slack_sdk import WebClient

from bot.demo.slack_standin import SlackStandIn
from bot.store import Store
from engines.changes import ChangeRequest, State
from handlers import action_ids
from tests.conftest import DEMO_TEAMS

SECRET = "sigkill-signing-secret-0123456789"
TOKEN = "xoxb-sigkill-0000-costbot"
ALICE, BOB, FRAUD = "U0DEMOALICE", "U0DEMOBOB", "C0DEMOFRAUD"


class HoldingProxy:
    """Forwards AWS calls to moto; the chosen EC2 action is carried out, but its answer is
    held back until ``release`` (so the bot dies after EC2 acted, before it heard)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.hold_action = ""
        self.held = threading.Event()
        self.released = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, payload, kind = answer.status, answer.read(), answer.headers
                except urllib.error.HTTPError as error:
                    status, payload, kind = error.code, error.read(), error.headers
                if proxy.hold_action and f"Action={proxy.hold_action}".encode() in body:
                    proxy.held.set()
                    proxy.released.wait(60)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind.get("Content-Type", "text/xml"))
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the bot is dead: nobody is listening any more

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST")):
        pass
    yield url
    server.stop()


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


def start_serve(tmp_path: Path, slack: SlackStandIn, aws_url: str, export: Path):
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
        "COSTBOT_LOG_LEVEL": "WARNING",
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
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
                return process
        except OSError:
            if process.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.1)
    process.kill()
    raise AssertionError("costbot serve did not start")


def wait_until(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def change_state(db: Path, change_id: int) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        row = connection.execute("select state from changes where id = ?", [change_id]).fetchone()
    return row[0]


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
    proxy = HoldingProxy(moto_url)
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge"
    )["Instances"][0]["InstanceId"]
    store = Store(tmp_path / "costbot.db")
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
    bot = start_serve(tmp_path, slack, proxy.url, small_export.path)
    try:
        proxy.hold_action = killed_during
        slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change.id))  # fmt: skip
        assert proxy.held.wait(30), f"{killed_during} never came"
        assert change_state(tmp_path / "costbot.db", change.id) == state_at_kill
        bot.send_signal(signal.SIGKILL)
        bot.wait(10)
        proxy.hold_action = ""
        proxy.released.set()

        bot = start_serve(tmp_path, slack, proxy.url, small_export.path)

        assert change_state(tmp_path / "costbot.db", change.id) == settled.value
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0][
            "Instances"
        ][0]
        assert (instance["InstanceType"], instance["State"]["Name"]) == (final_type, "running")
        recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
        assert [r["detail"]["decision"] for r in recovered] == [decision]
        assert recovered[0]["detail"]["state_at_crash"] == state_at_kill
        told = wait_until(
            lambda: [m for m in slack.messages(FRAUD) if m.get("thread_ts") == message["ts"]]
        )
        assert instance_id in told[-1]["text"]
    finally:
        bot.kill()
        bot.wait(10)
        proxy.stop()

"""Tokens, the signing secret, AWS keys and response_urls never reach the logs or Slack,
even at DEBUG, through refusals, failures and retries: `costbot serve` as in production."""

from __future__ import annotations

import datetime as dt
import signal
import urllib.parse
from decimal import Decimal

import boto3
import pytest
from slack_sdk import WebClient

from bot.demo.slack_standin import SlackStandIn
from bot.store import Store
from engines.changes.models import ChangeRequest
from handlers import action_ids
from tests.bot.test_http import post, signed_headers
from tests.faults.test_sigkill_mid_change import start_serve
from tests.waiting import wait_until

TOKEN = "xoxb-1234567890-0987654321-SeCrEtToKeNvAlUe42"
SIGNING_SECRET = "8f3c1e0b5d7a4c2e9b6f1a3d5c7e9b0a"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = (TOKEN, SIGNING_SECRET, ACCESS_KEY, SECRET_KEY, "SeCrEtToKeNvAlUe42")


OWNED_BY_FRAUD = {
    "ResourceType": "instance",
    "Tags": [{"Key": "team", "Value": "fraud-detection"}],
}


@pytest.fixture
def slack():
    standin = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=TOKEN)
    standin.start()
    yield standin
    standin.stop()


def test_no_secret_is_ever_logged_or_posted(tmp_path, moto_url, slack, small_export):
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)  # fmt: skip
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.xlarge",
        TagSpecifications=[OWNED_BY_FRAUD],  # the approver's team owns it when they click
    )["Instances"][0]["InstanceId"]
    store = Store(tmp_path / "costbot.db")
    change = store.create_change(
        ChangeRequest(instance_id, "", "us-east-1", "m5.xlarge", "m5.large", Decimal("70"),
                      "U0DEMOBOB", team="fraud-detection"),
        now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    bot = start_serve(
        tmp_path, slack, moto_url, small_export.path,
        SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        COSTBOT_LOG_LEVEL="DEBUG", COSTBOT_DRY_RUN="true",
    )  # fmt: skip
    try:
        # An answer, a refusal, an answer Slack refuses twice, a typo, a click that runs EC2.
        slack.send_command(
            user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team fraud-detection"
        )
        body = urllib.parse.urlencode({"command": "/cost", "text": "help", "user_id": "U0X"})
        events = slack.events_url
        assert post(events, body, signed_headers(body, secret="wrong-secret"))[0] == 401
        slack.fail_next("response_url", status=500, count=2)
        slack.send_command(user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="forecast nlp")
        slack.send_command(user_id="U0DEMOBOB", channel_id="C0DEMOFRAUD", text="team frad")
        button = {"type": "button", "text": {"type": "plain_text", "text": "Approve"},
                  "action_id": action_ids.RIGHTSIZE_APPROVE, "value": str(change.id)}  # fmt: skip
        message = WebClient(token=TOKEN, base_url=slack.base_url + "/api/").chat_postMessage(
            channel="C0DEMOFRAUD",
            text="fraud-detection · right-sizing",
            blocks=[
                {"type": "actions", "block_id": f"rightsize:{change.id}", "elements": [button]}
            ],
        )
        slack.click(user_id="U0DEMOALICE", channel_id="C0DEMOFRAUD", message_ts=message["ts"],
                    action_id=action_ids.RIGHTSIZE_APPROVE, value=str(change.id))  # fmt: skip
        wait_until(lambda: store.get_change(change.id).state.value == "done", timeout=30)
        wait_until(lambda: len([m for m in slack.messages() if m["ephemeral_for"] is None]) >= 3)
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(15)

    log = (tmp_path / "serve.log").read_text()
    assert "DEBUG slack_sdk.webhook.client" in log and "RequestVerification" in log  # it saw all
    posted = str([(m["text"], m["blocks"]) for m in slack.messages()])
    for secret in SECRETS:
        assert secret not in log, f"{secret[:6]}… is in the log"
        assert secret not in posted, f"{secret[:6]}… was posted to Slack"
    response_urls = [c["id"] for c in slack.calls if c["method"] == "response_url"]
    assert len(response_urls) >= 4  # answers, and the refused tries
    for url in response_urls:
        assert url not in log

"""Right-sizing in the channel, on the demo world: propose, refuse outsiders, approve, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.demo.slack_standin import limit_violations
from engines.changes.models import State
from handlers import action_ids
from tests.waiting import wait_until

ALICE, BOB, CARA = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOCARA"
FRAUD, RECS = "C0DEMOFRAUD", "C0DEMORECS"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    # Dry run, as `costbot serve` defaults to (the demo itself changes its sandbox for real).
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=True
    )
    with DemoSandbox(options) as running:
        yield running


def ask_rightsize(sandbox: DemoSandbox, user: str, channel: str, team: str) -> dict:
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    slack.send_command(user_id=user, channel_id=channel, text=f"rightsize {team}")
    return slack.wait_for_message(
        lambda m: (
            m["channel"] == channel
            and m["ephemeral_for"] is None
            and f"{team} · right-sizing" in str(m["blocks"])
        ),
        timeout=60,
        after_ts=before,
    )


def change_ids(message: dict) -> list[str]:
    return [
        block["block_id"].split(":")[1]
        for block in message["blocks"]
        if block.get("type") == "actions" and block.get("block_id", "").startswith("rightsize:")
    ]


def change_for(message: dict, instance_name: str) -> str:
    """The change id behind the buttons under the recommendation for ``instance_name``."""
    blocks = message["blocks"]
    for block, following in zip(blocks, blocks[1:], strict=False):
        if instance_name in str(block.get("text", "")) and following.get("type") == "actions":
            return following["block_id"].split(":")[1]
    raise AssertionError(f"no buttons for {instance_name}")


def buttons(message: dict, change_id: str) -> list[str]:
    block = next(b for b in message["blocks"] if b.get("block_id") == f"rightsize:{change_id}")
    return [element["text"]["text"] for element in block["elements"]]


def test_the_list_ranks_savings_and_names_the_approver(sandbox):
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    text = str(message["blocks"])
    assert "fraud-etl-prod" in text and "`m5.4xlarge` → `m5.xlarge`" in text
    assert "Saves $420.48/month" in text
    assert "<@U0DEMOALICE>" in text
    assert "Dry run" in text
    assert limit_violations(message) == []
    resize, stop = change_for(message, "fraud-etl-prod"), change_for(message, "fraud-sandbox-api")
    # The demo's SageMaker has changes too: the idle endpoint and the over-provisioned one,
    # and the notebook left running when the (wall) clock is outside New York's working hours.
    endpoints = [change_for(message, name)
                 for name in ("fraud-legacy-scorer", "fraud-chargeback-scorer")]  # fmt: skip
    listed = change_ids(message)
    assert len(listed) == len(set(listed)) and {resize, stop, *endpoints} <= set(listed)
    others = set(listed) - {resize, stop, *endpoints}
    assert not others or others == {change_for(message, "fraud-lab-alice")}
    assert buttons(message, resize)[0] == "Approve"
    assert buttons(message, stop)[0] == "Stop"  # the idle box is a stop candidate


def test_an_outsider_is_refused_and_the_approver_carries_it_out(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")  # Bob asks: no rights
    change_id = change_for(message, "fraud-etl-prod")
    store = sandbox.costbot.store
    assert store.get_change(int(change_id)).requested_by == "costbot"

    slack.click(user_id=BOB, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    refusal = slack.wait_for_message(
        lambda m: m["ephemeral_for"] == BOB and "can approve this" in m["text"], timeout=20
    )
    assert "only fraud-detection's approvers can approve this: <@U0DEMOALICE>" in refusal["text"]
    refused = store.get_change(int(change_id))
    assert refused.state is State.PROPOSED
    assert refused.message_ts == ""  # a refused click does not make its message the thread

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    done = wait_until(lambda: store.get_change(int(change_id)).state is State.DONE)
    assert done
    change = store.get_change(int(change_id))
    assert change.dry_run and change.decided_by == ALICE
    assert (change.message_channel, change.message_ts) == (FRAUD, message["ts"])  # for later news

    def updated():
        current = next(m for m in slack.messages(FRAUD) if m["ts"] == message["ts"])
        return current if change_id not in change_ids(current) else None

    current = wait_until(updated)
    assert "dry run" in str(current["blocks"]).lower()
    instance = sandbox.world.client("ec2").describe_instances(InstanceIds=[change.instance_id])
    assert instance["Reservations"][0]["Instances"][0]["InstanceType"] == "m5.4xlarge"


def test_a_teams_only_approver_who_asked_first_approves(sandbox):
    # Cara is recommendations' only approver; asking for the review gives her no other role.
    slack = sandbox.standin
    message = ask_rightsize(sandbox, CARA, RECS, "recommendations")
    change_id = change_ids(message)[0]
    slack.click(user_id=CARA, channel_id=RECS, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    store = sandbox.costbot.store
    assert wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    assert store.get_change(int(change_id)).decided_by == CARA


def test_a_denied_recommendation_is_recorded_and_audited(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, CARA, RECS, "recommendations")
    first = change_ids(message)[0]
    slack.click(user_id=CARA, channel_id=RECS, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_DENY, value=first)  # fmt: skip
    store = sandbox.costbot.store
    wait_until(lambda: store.get_change(int(first)).state is State.DENIED)

    slack.send_command(user_id=CARA, channel_id=RECS, text="audit recommendations")
    audit = slack.wait_for_message(
        lambda m: m["ephemeral_for"] == CARA and "recommendations · audit log" in str(m["blocks"]),
        timeout=20,
    )
    text = str(audit["blocks"])
    assert "*denied*" in text and "*proposed*" in text
    assert "change.denied" not in text and "change.proposed" not in text
    change = store.get_change(int(first))
    assert change.instance_name and f"{change.instance_name} (`{change.instance_id}`)" in text
    assert f"/{change.region}/{change.instance_id}" not in text  # no account/region/id paths


DEV, ERIN, NLP = "U0DEMODEV", "U0DEMOERIN", "C0DEMONLP"


def test_tonight_schedules_the_change_for_22_00_in_the_team_time_zone(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    change_id = change_ids(message)[0]
    slack.click(user_id=DEV, channel_id=NLP, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE_TONIGHT, value=change_id)  # fmt: skip
    store = sandbox.costbot.store
    wait_until(lambda: store.get_change(int(change_id)).state is State.SCHEDULED)
    when = store.get_change(int(change_id)).scheduled_for
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo("America/Los_Angeles"))  # nlp's time zone
    assert (local.hour, local.minute) == (22, 0)
    assert when > sandbox.now()


def test_dismiss_asks_why_and_the_recommendation_stops_coming_back(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    change_id = change_ids(message)[-1]
    store = sandbox.costbot.store
    instance_id = store.get_change(int(change_id)).instance_id
    slack.click(user_id=DEV, channel_id=NLP, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=change_id)  # fmt: skip
    modal = wait_until(lambda: slack.open_modals(DEV))[-1]
    assert modal["callback_id"] == action_ids.RIGHTSIZE_DISMISS_MODAL
    change = store.get_change(int(change_id))  # the modal names the instance, id second
    asked = modal["blocks"][0]["text"]["text"]
    assert asked.startswith(f"Dismiss {change.instance_name} (`{instance_id}`, ")
    slack.submit_view(user_id=DEV, view_id=modal["id"], values={"reason": "sized for Q4 batch"})
    wait_until(lambda: store.get_change(int(change_id)).state is State.DISMISSED)
    assert store.get_change(int(change_id)).reason == "sized for Q4 batch"

    again = ask_rightsize(sandbox, ERIN, NLP, "nlp")
    assert instance_id not in str(again["blocks"])


def test_a_member_asks_for_approval_in_the_thread_and_decides_nothing(sandbox):
    slack = sandbox.standin
    message = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = change_for(message, "fraud-etl-prod")
    assert "Ask for approval" in buttons(message, change_id)

    slack.click(user_id=BOB, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_ASK, value=change_id)  # fmt: skip
    asked = slack.wait_for_message(
        lambda m: m.get("thread_ts") == message["ts"] and "asks" in m["text"], timeout=20
    )
    assert "<@U0DEMOBOB> asks <@U0DEMOALICE> to decide" in asked["text"]
    change = sandbox.costbot.store.get_change(int(change_id))
    assert change.state is State.PROPOSED and change.requested_by == "costbot"

    slack.click(user_id="U0DEMOERIN", channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_ASK, value=change_id)  # fmt: skip
    refusal = slack.wait_for_message(
        lambda m: m["ephemeral_for"] == "U0DEMOERIN" and "can ask" in m["text"], timeout=20
    )
    assert "Only fraud-detection's members can ask its approvers" in refusal["text"]

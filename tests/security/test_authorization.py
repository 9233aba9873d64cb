"""Who may do what: every button and command that changes something, clicked or typed by
the team's approver, the person who asked, someone outside the team and another team's
approver. In Slack, on the demo world (dry run off, so allowed actions really happen).

fraud-detection: approver Alice; member Bob (who asks for the changes); Erin is in
recommendations; Cara approves for recommendations.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from slack_sdk import WebClient

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes import ChangeRequest, State
from handlers import action_ids
from tests.waiting import wait_until

ALICE, BOB, ERIN, CARA = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOERIN", "U0DEMOCARA"
FRAUD = "C0DEMOFRAUD"
OUTSIDERS = {"the requester": BOB, "an outsider": ERIN, "another team's approver": CARA}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("authz"), run_scheduler=False, dry_run=False
    )
    with DemoSandbox(options) as running:
        yield running


def proposed(sandbox: DemoSandbox, instance: str, to_type: str) -> tuple[int, str]:
    """A change Bob asked for, on a message with every right-sizing button."""
    ec2 = sandbox.world.client("ec2")
    instance_id = sandbox.world.instance_ids[instance]
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    from_type = described["Instances"][0]["InstanceType"]
    request = ChangeRequest(instance_id, "", sandbox.world.region, from_type, to_type,
                            Decimal("100"), BOB, team="fraud-detection")  # fmt: skip
    change = sandbox.costbot.deps.changes.propose(request)
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": action}, "action_id": action,
         "value": str(change.id)}
        for action in (action_ids.RIGHTSIZE_APPROVE, action_ids.RIGHTSIZE_APPROVE_TONIGHT,
                       action_ids.RIGHTSIZE_DENY, action_ids.RIGHTSIZE_SNOOZE,
                       action_ids.RIGHTSIZE_DISMISS, action_ids.RIGHTSIZE_REVERT)
    ]  # fmt: skip
    client = WebClient(token=sandbox.standin.bot_token, base_url=sandbox.standin.api_url)
    posted = client.chat_postMessage(
        channel=FRAUD,
        text="fraud-detection · right-sizing",
        blocks=[{"type": "actions", "block_id": f"rightsize:{change.id}", "elements": buttons}],
    )
    return change.id, posted["ts"]


def refusal_to(sandbox: DemoSandbox, user: str, since: float) -> str:
    def found():
        return [
            m["text"]
            for m in sandbox.standin.messages(FRAUD)
            if m["ephemeral_for"] == user and float(m["ts"]) > since
        ]

    return wait_until(found)[-1]


def latest_ts(sandbox: DemoSandbox) -> float:
    return max((float(m["ts"]) for m in sandbox.standin.messages()), default=0.0)


def click(sandbox: DemoSandbox, user: str, ts: str, action: str, value: int | str) -> float:
    before = latest_ts(sandbox)
    sandbox.standin.click(user_id=user, channel_id=FRAUD, message_ts=ts, action_id=action,
                          value=str(value))  # fmt: skip
    return before


def dismiss_through_the_modal(sandbox: DemoSandbox, user: str, ts: str, change_id: int) -> float:
    before = click(sandbox, user, ts, action_ids.RIGHTSIZE_DISMISS, change_id)
    modal = wait_until(lambda: sandbox.standin.open_modals(user))[-1]
    sandbox.standin.submit_view(user_id=user, view_id=modal["id"],
                                values={"reason": "sized for the Q4 batch"})  # fmt: skip
    return before


# action, instance, type to propose, who may, the state their click leads to. Everyone
# else in OUTSIDERS is refused. The requester may withdraw (deny) their own change.
RIGHTSIZE_MATRIX = [
    (action_ids.RIGHTSIZE_APPROVE, "fraud-notebook-alice", "m5.xlarge", ALICE, State.DONE),
    (action_ids.RIGHTSIZE_APPROVE_TONIGHT, "fraud-scoring-prod-1", "c5.xlarge", ALICE,
     State.SCHEDULED),
    (action_ids.RIGHTSIZE_DENY, "fraud-scoring-prod-2", "c5.xlarge", ALICE, State.DENIED),
    (action_ids.RIGHTSIZE_DENY, "fraud-xgb-experiment", "r5.large", BOB, State.DENIED),
    (action_ids.RIGHTSIZE_SNOOZE, "fraud-scoring-prod-3", "c5.xlarge", ALICE, State.SNOOZED),
    (action_ids.RIGHTSIZE_DISMISS, "fraud-feature-store-prod", "r5.xlarge", ALICE,
     State.DISMISSED),
    (action_ids.RIGHTSIZE_REVERT, "fraud-notebook-bob", "m5.large", ALICE, State.REVERTED),
]  # fmt: skip


@pytest.mark.parametrize(("action", "instance", "to_type", "allowed", "end"), RIGHTSIZE_MATRIX)
def test_only_the_teams_approver_decides_a_change(sandbox, action, instance, to_type, allowed, end):
    store = sandbox.costbot.store
    change_id, ts = proposed(sandbox, instance, to_type)
    runner = sandbox.costbot.deps.changes
    if action == action_ids.RIGHTSIZE_REVERT:  # only a done change has a Revert
        assert runner.approve(change_id, approver=ALICE, approvers=(ALICE,)).ok
        assert runner.execute(change_id).state is State.DONE
    before_state = store.get_change(change_id).state
    refused = {role: user for role, user in OUTSIDERS.items() if user != allowed}
    if action == action_ids.RIGHTSIZE_DENY:
        refused.pop("the requester", None)  # may withdraw: its own row above
    for role, user in refused.items():
        if action == action_ids.RIGHTSIZE_DISMISS:
            since = dismiss_through_the_modal(sandbox, user, ts, change_id)
        else:
            since = click(sandbox, user, ts, action, change_id)
        refusal = refusal_to(sandbox, user, since)
        assert "<@U0DEMOALICE>" in refusal, f"{role}: {refusal}"
        assert store.get_change(change_id).state is before_state, role

    if action == action_ids.RIGHTSIZE_DISMISS:
        dismiss_through_the_modal(sandbox, allowed, ts, change_id)
    else:
        click(sandbox, allowed, ts, action, change_id)
    assert wait_until(lambda: store.get_change(change_id).state is end, timeout=60)
    assert store.get_change(change_id).decided_by == allowed


def ask(sandbox: DemoSandbox, user: str, text: str) -> str:
    """Sends /cost text as ``user``; returns what that user is told."""
    before = latest_ts(sandbox)
    sandbox.standin.send_command(user_id=user, channel_id=FRAUD, text=text)

    def answered():
        return [
            m["text"]
            for m in sandbox.standin.messages(FRAUD)
            if float(m["ts"]) > before
            and m["ephemeral_for"] in (None, user)
            and not m["text"].startswith((":hourglass", "/cost"))  # the ack, the echo
        ]

    return wait_until(answered)[-1]


def paused(sandbox: DemoSandbox) -> set[str]:
    return sandbox.costbot.store.paused_schedules()


def overrides(sandbox: DemoSandbox) -> int:
    return len(sandbox.costbot.deps.offhours.overrides(sandbox.now()))


@pytest.mark.parametrize(
    ("text", "allowed", "changed"),
    [
        ("schedule pause fraud-dev-hours", {ALICE}, lambda s: "fraud-dev-hours" in paused(s)),
        ("schedule resume fraud-dev-hours", {ALICE}, lambda s: "fraud-dev-hours" not in paused(s)),
        ("schedule keep fraud-notebook-bob until 23:00", {ALICE, BOB}, overrides),
        ("schedule skip tomorrow fraud-dev-hours", {ALICE, BOB}, overrides),
    ],
)
def test_schedule_commands_follow_the_team(sandbox, text, allowed, changed):
    if text.startswith("schedule resume"):
        ask(sandbox, ALICE, "schedule pause fraud-dev-hours")
    for role, user in {**OUTSIDERS, "the approver": ALICE}.items():
        before_paused, before_overrides = paused(sandbox), overrides(sandbox)
        answer = ask(sandbox, user, text)
        if user in allowed:
            assert answer.startswith(":white_check_mark:"), f"{role}: {answer}"
            assert changed(sandbox), role
            continue
        assert "fraud-detection" in answer or "<@U0DEMOALICE>" in answer, f"{role}: {answer}"
        assert (paused(sandbox), overrides(sandbox)) == (before_paused, before_overrides), role


def schedule_names(store) -> list[str]:
    return [schedule["name"] for schedule in store.slack_schedules()]


def test_only_the_teams_approver_creates_a_schedule(sandbox):
    store = sandbox.costbot.store
    form = {"name": "fraud-authz-nights", "team": "fraud-detection",
            "periods": "mon-fri 07:00-21:00", "tags": "workload_type=notebook",
            "timezone": "", "holidays": "", "mode": "start_stop"}  # fmt: skip
    for role, user in {**OUTSIDERS, "the approver": ALICE}.items():
        sandbox.standin.send_command(user_id=user, channel_id=FRAUD, text="schedule create")
        modal = wait_until(lambda user=user: sandbox.standin.open_modals(user))[-1]
        since = latest_ts(sandbox)
        answer = sandbox.standin.submit_view(user_id=user, view_id=modal["id"], values=form)
        if user == ALICE:
            assert wait_until(lambda: schedule_names(store) == ["fraud-authz-nights"]), role
            continue
        errors = (answer.json() or {}).get("errors") if answer.body.strip() else None
        told = str(errors) if errors else refusal_to(sandbox, user, since)
        assert "approver" in told.lower() or "<@U0DEMOALICE>" in told, f"{role}: {told}"
        assert store.slack_schedules() == [], role


def test_only_the_team_snoozes_its_budget_alerts(sandbox):
    from tests.handlers.test_digest_flow import post_alert

    store = sandbox.costbot.store
    for role, user in {"an outsider": ERIN, "another team's approver": CARA}.items():
        alert = post_alert(sandbox, f"2025-0{len(role) % 9 + 1}")
        since = click(sandbox, user, alert["ts"], action_ids.ALERT_SNOOZE, "fraud-detection")
        assert "members and approvers" in refusal_to(sandbox, user, since), role
        assert store.alerts_snoozed_until("fraud-detection") is None, role
    alert = post_alert(sandbox, "2025-12")
    click(sandbox, ALICE, alert["ts"], action_ids.ALERT_SNOOZE, "fraud-detection")
    assert wait_until(lambda: store.alerts_snoozed_until("fraud-detection"))

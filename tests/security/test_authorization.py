"""Who may do what: every button and command that changes something, clicked or typed by
the team's approver, the person who asked, someone outside the team and another team's
approver. In Slack, on the demo world (dry run off, so allowed actions really happen).

The model: a resource's owner is the team whose rule claims it (the first matching rule,
as in allocation); only that team's approvers decide about it; asking gives no rights.

fraud-detection: approver Alice; member Bob; Erin is in recommendations; Cara approves for
recommendations; Dev approves for nlp.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

import pytest
from slack_sdk import WebClient

from bot.demo.sandbox import DemoOptions, DemoSandbox
from engines.changes.models import ChangeRequest, State
from engines.models import Team
from handlers import action_ids
from tests.waiting import wait_until

ALICE, BOB, ERIN, CARA = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOERIN", "U0DEMOCARA"
DEV = "U0DEMODEV"
FRAUD = "C0DEMOFRAUD"
OUTSIDERS = {"the owner's member": BOB, "an outsider": ERIN, "another team's approver": CARA}


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
    """Someone who may not dismiss is told so at the click, before a form asks why."""
    before = click(sandbox, user, ts, action_ids.RIGHTSIZE_DISMISS, change_id)

    def opened_or_told() -> list:
        told = [m for m in sandbox.standin.messages(FRAUD)
                if m["ephemeral_for"] == user and float(m["ts"]) > before]  # fmt: skip
        return sandbox.standin.open_modals(user) or told

    wait_until(opened_or_told)
    modals = sandbox.standin.open_modals(user)
    if modals:
        sandbox.standin.submit_view(user_id=user, view_id=modals[-1]["id"],
                                    values={"reason": "sized for the Q4 batch"})  # fmt: skip
    return before


@contextmanager
def teams_file(sandbox: DemoSandbox) -> Iterator[dict[str, Team]]:
    """The running bot's teams (by name, in file order) to edit; restored afterwards."""
    teams = sandbox.costbot.deps.teams
    assert isinstance(teams, dict)
    saved = dict(teams)
    try:
        yield teams
    finally:
        teams.clear()
        teams.update(saved)


def reorder(teams: dict[str, Team], order: list[str]) -> None:
    """Rewrites the teams file's order (which decides ownership of overlapping rules)."""
    by_name = dict(teams)
    teams.clear()
    teams.update({name: by_name[name] for name in order})


def other_type(instance_type: str) -> str:
    family, size = instance_type.split(".")
    return f"{family}.{'xlarge' if size == 'large' else 'large'}"


def proposed_on(sandbox: DemoSandbox, instance: str) -> tuple[int, str]:
    ec2 = sandbox.world.client("ec2")
    instance_id = sandbox.world.instance_ids[instance]
    described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
    return proposed(sandbox, instance, other_type(described["Instances"][0]["InstanceType"]))


def decide_as(sandbox: DemoSandbox, user: str, ts: str, action: str, change_id: int) -> float:
    if action == action_ids.RIGHTSIZE_DISMISS:
        return dismiss_through_the_modal(sandbox, user, ts, change_id)
    return click(sandbox, user, ts, action, change_id)


def shown(sandbox: DemoSandbox, ts: str) -> list[dict]:
    """The message's blocks as people see them now."""
    return next(m for m in sandbox.standin.messages(FRAUD) if m["ts"] == ts)["blocks"]


# Every decision on a right-sizing change, the instance it is tried on, and where it ends.
DECISIONS = [
    (action_ids.RIGHTSIZE_APPROVE, "fraud-notebook-alice", State.DONE),
    (action_ids.RIGHTSIZE_APPROVE_TONIGHT, "fraud-scoring-prod-1", State.SCHEDULED),
    (action_ids.RIGHTSIZE_DENY, "fraud-scoring-prod-2", State.DENIED),
    (action_ids.RIGHTSIZE_SNOOZE, "fraud-scoring-prod-3", State.SNOOZED),
    (action_ids.RIGHTSIZE_DISMISS, "fraud-feature-store-prod", State.DISMISSED),
    (action_ids.RIGHTSIZE_REVERT, "fraud-notebook-bob", State.REVERTED),
]
APPROVALS = {action_ids.RIGHTSIZE_APPROVE, action_ids.RIGHTSIZE_APPROVE_TONIGHT}


@pytest.mark.parametrize("four_eyes", [False, True], ids=["alone", "four-eyes"])
@pytest.mark.parametrize(("action", "instance", "end"), DECISIONS)
def test_only_the_owning_teams_approvers_decide(sandbox, action, instance, end, four_eyes):
    """Roles: the owner's approver (Alice; the team's only one without four-eyes), the
    owner's member (Bob), another team's approver (Cara), an outsider (Erin). With four-eyes
    fraud-detection has a second approver, Dev, and an approval needs both."""
    store, runner = sandbox.costbot.store, sandbox.costbot.deps.changes
    with teams_file(sandbox) as teams:
        fraud = teams["fraud-detection"]
        if four_eyes:
            teams["fraud-detection"] = replace(
                fraud, approvers=(ALICE, DEV), require_second_approver=True
            )
        change_id, ts = proposed_on(sandbox, instance)
        if action == action_ids.RIGHTSIZE_REVERT:  # only a done change has a Revert
            assert runner.approve(change_id, approver=ALICE, approvers=(ALICE,)).ok
            assert runner.execute(change_id).state is State.DONE
        before = store.get_change(change_id).state

        for role, user in OUTSIDERS.items():
            since = decide_as(sandbox, user, ts, action, change_id)
            refusal = refusal_to(sandbox, user, since)
            assert "fraud-detection's approvers" in refusal, f"{role}: {refusal}"
            assert "<@U0DEMOALICE>" in refusal, f"{role}: {refusal}"
            after = store.get_change(change_id)
            assert after.state is before, role
            assert after.message_ts == "", f"{role}'s refused click became the thread"

        deciders = [ALICE, DEV] if four_eyes and action in APPROVALS else [ALICE]
        if len(deciders) == 2:
            since = decide_as(sandbox, ALICE, ts, action, change_id)
            assert wait_until(lambda: store.get_change(change_id).first_approved_by == ALICE)
            assert store.get_change(change_id).state is before  # waits for a second approver
            since = decide_as(sandbox, ALICE, ts, action, change_id)
            assert "second approver" in refusal_to(sandbox, ALICE, since)
        decide_as(sandbox, deciders[-1], ts, action, change_id)
        assert wait_until(lambda: store.get_change(change_id).state is end, timeout=60)
        decided = store.get_change(change_id)
        assert decided.decided_by == deciders[-1]
        if action != action_ids.RIGHTSIZE_DISMISS:  # the modal has no message
            # The click's message is remembered right after the decision is carried out.
            def where() -> tuple[str, str]:
                change = store.get_change(change_id)
                return (change.message_channel, change.message_ts)

            assert wait_until(lambda: where() == (FRAUD, ts)), where()
            # and the message shows the decision in place of the buttons
            assert wait_until(lambda: f"<@{deciders[-1]}>" in str(shown(sandbox, ts)))


def test_with_four_eyes_a_first_approval_for_tonight_keeps_the_second_one_for_tonight(sandbox):
    """Alice approves for the maintenance window; Dev's plain Approve must not make the
    change at once, in the working day: it is scheduled for the window as Alice asked."""
    store = sandbox.costbot.store
    ec2 = sandbox.world.client("ec2")
    instance_id = sandbox.world.instance_ids["fraud-scoring-prod-1"]
    with teams_file(sandbox) as teams:
        teams["fraud-detection"] = replace(
            teams["fraud-detection"], approvers=(ALICE, DEV), require_second_approver=True
        )
        change_id, ts = proposed_on(sandbox, "fraud-scoring-prod-1")
        type_before = store.get_change(change_id).from_type
        click(sandbox, ALICE, ts, action_ids.RIGHTSIZE_APPROVE_TONIGHT, change_id)
        assert wait_until(lambda: store.get_change(change_id).first_approved_by == ALICE)
        assert store.get_change(change_id).scheduled_for is not None

        click(sandbox, DEV, ts, action_ids.RIGHTSIZE_APPROVE, change_id)

        assert wait_until(lambda: store.get_change(change_id).state is State.SCHEDULED)
        change = store.get_change(change_id)
        assert change.decided_by == DEV and change.scheduled_for.minute == 0
        described = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]
        assert described["Instances"][0]["InstanceType"] == type_before  # nothing ran
        sandbox.costbot.deps.changes.deny(change_id, by=ALICE)  # the module's next tests


def test_a_teams_only_approver_with_four_eyes_is_told_to_add_one(sandbox):
    store = sandbox.costbot.store
    with teams_file(sandbox) as teams:
        teams["fraud-detection"] = replace(teams["fraud-detection"], require_second_approver=True)
        change_id, ts = proposed_on(sandbox, "fraud-sandbox-api")
        since = click(sandbox, ALICE, ts, action_ids.RIGHTSIZE_APPROVE, change_id)
        assert "add another approver" in refusal_to(sandbox, ALICE, since)
        assert store.get_change(change_id).state is State.PROPOSED


def rightsize_as(sandbox: DemoSandbox, user: str, team: str) -> dict:
    """``/cost rightsize <team>`` as ``user``; the message with the buttons."""
    before = latest_ts(sandbox)
    sandbox.standin.send_command(user_id=user, channel_id=FRAUD, text=f"rightsize {team}")
    return sandbox.standin.wait_for_message(
        lambda m: m["ephemeral_for"] is None and f"{team} · right-sizing" in str(m["blocks"]),
        timeout=90,
        after_ts=str(before),
    )


def change_behind(message: dict, instance_name: str) -> int | None:
    blocks = message["blocks"]
    for block, following in zip(blocks, blocks[1:], strict=False):
        if instance_name in str(block.get("text", "")) and following.get("type") == "actions":
            return int(following["block_id"].split(":")[1])
    return None


PROD_OWNERS = Team(name="prod-owners", tags={"env": "prod"}, channel="#prod-owners",
                   approvers=(CARA,), members=(CARA,))  # fmt: skip


def test_an_overlapping_rule_listed_later_gets_nothing_of_the_owners(sandbox):
    store = sandbox.costbot.store
    with teams_file(sandbox) as teams:
        teams["prod-owners"] = PROD_OWNERS  # after nlp: nlp's instances stay nlp's
        theirs = rightsize_as(sandbox, CARA, "prod-owners")
        assert change_behind(theirs, "nlp-tokenize-batch") is None
        assert "fraud-etl-prod" not in str(theirs["blocks"])

        message = rightsize_as(sandbox, DEV, "nlp")
        change_id = change_behind(message, "nlp-tokenize-batch")
        assert change_id is not None and store.get_change(change_id).team == "nlp"
        since = click(sandbox, CARA, message["ts"], action_ids.RIGHTSIZE_DENY, change_id)
        assert "only nlp's approvers" in refusal_to(sandbox, CARA, since)
        click(sandbox, DEV, message["ts"], action_ids.RIGHTSIZE_DENY, change_id)
        assert wait_until(lambda: store.get_change(change_id).state is State.DENIED)


def test_an_overlapping_rule_listed_first_owns_them_and_decides(sandbox):
    store = sandbox.costbot.store
    with teams_file(sandbox) as teams:
        teams["prod-owners"] = PROD_OWNERS  # listed after nlp: nlp proposes a change
        nlp_change = store.get_change(change_behind(rightsize_as(sandbox, DEV, "nlp"),
                                                    "nlp-tokenize-batch"))  # fmt: skip
        reorder(teams, ["prod-owners", *(name for name in teams if name != "prod-owners")])
        nlp = rightsize_as(sandbox, DEV, "nlp")
        assert change_behind(nlp, "nlp-tokenize-batch") is None  # no longer nlp's

        message = rightsize_as(sandbox, CARA, "prod-owners")
        change_id = change_behind(message, "nlp-tokenize-batch")
        assert change_id is not None and store.get_change(change_id).team == "prod-owners"
        # nlp's pending change was withdrawn when prod-owners' review found the box.
        assert store.get_change(nlp_change.id).state is State.DENIED
        since = click(sandbox, DEV, message["ts"], action_ids.RIGHTSIZE_SNOOZE, change_id)
        assert "only prod-owners's approvers" in refusal_to(sandbox, DEV, since)
        click(sandbox, CARA, message["ts"], action_ids.RIGHTSIZE_SNOOZE, change_id)
        assert wait_until(lambda: store.get_change(change_id).state is State.SNOOZED)


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


def test_keep_over_several_teams_is_all_or_nothing(sandbox):
    # env=dev names fraud-detection's dev boxes and nlp's notebook: Bob may keep only the first.
    before = overrides(sandbox)
    answer = ask(sandbox, BOB, "schedule keep env=dev until 23:30")
    assert "Only nlp's members and approvers" in answer, answer
    assert overrides(sandbox) == before  # fraud-detection's part was not saved either
    answer = ask(sandbox, ALICE, "schedule keep env=dev until 23:30")
    assert "Only nlp's" in answer and overrides(sandbox) == before

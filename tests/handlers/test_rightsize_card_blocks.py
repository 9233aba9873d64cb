"""The right-sizing card as Block Kit: decision lines with real mentions, escaped data, and
buttons that fit each state (pure builders, no Slack)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.demo.slack_standin import limit_violations
from engines.changes.models import Change, Kind, Outcome, State
from engines.rightsizing.models import Finding, Instance, Recommendation
from handlers import action_ids
from handlers.blocks.common import escape_keeping_mentions
from handlers.rightsizing.blocks import (
    build_rightsize_message,
    card_buttons,
    decision_status,
    with_decision,
)
from handlers.rightsizing.notify import post_change_outcome

NOW = dt.datetime(2026, 12, 6, 5, 50, tzinfo=dt.UTC)
CARA, ALICE = "U0DEMOCARA", "U0DEMOALICE"


def change(state: State, *, kind: Kind = Kind.RESIZE, dry_run: bool = False, **extra) -> Change:
    return Change(
        id=7, created_at=NOW, updated_at=NOW, state=state, instance_id="i-0abc",
        account_id="123456789012", region="us-east-1", team="nlp", from_type="m5.2xlarge",
        to_type="m5.xlarge", monthly_saving=Decimal("140.16"), requested_by="costbot",
        dry_run=dry_run, kind=kind, **extra,
    )  # fmt: skip


def card(*change_ids: int) -> list[dict]:
    instance = Instance(
        instance_id="i-0abc", instance_type="m5.2xlarge", account_id="123456789012",
        region="us-east-1", state="running", tags={"Name": "nlp-<b>&train"},
    )  # fmt: skip
    rec = Recommendation(
        instance=instance, finding=Finding.OVER_PROVISIONED, current_type="m5.2xlarge",
        recommended_type="m5.xlarge", current_hourly=Decimal("0.384"),
        recommended_hourly=Decimal("0.192"), monthly_saving=Decimal("140.16"), risk=None,
        reason="CPU p95 9%",
    )  # fmt: skip
    message = build_rightsize_message(
        "nlp", [(str(cid), rec) for cid in change_ids], approvers=[ALICE], dry_run=False,
        lookback_days=14,
    )  # fmt: skip
    return message["blocks"]


def context_texts(blocks: list[dict]) -> list[str]:
    return [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]


def labels(blocks: list[dict], change_id: int) -> list[str]:
    for block in blocks:
        if block.get("block_id") == f"rightsize:{change_id}":
            return [e["text"]["text"] for e in block["elements"]]
    return []


def test_a_snooze_line_mentions_the_person_for_real_and_escapes_the_data():
    outcome = Outcome(
        True, f"<@{CARA}> snoozed `i-0abc` <nlp & co> until 2027-01-05.", change(State.SNOOZED)
    )
    status = decision_status(outcome, CARA, now=NOW)
    blocks = with_decision(card(7), "7", status, buttons=card_buttons(outcome.change))
    line = next(t for t in context_texts(blocks) if "snoozed" in t)
    assert line.startswith(f":zzz: <@{CARA}> snoozed `i-0abc` &lt;nlp &amp; co&gt; until")
    assert line.endswith("until 2027-01-05. (2026-12-06 05:50 UTC)")  # the sentence says who
    assert "&lt;@" not in line
    assert limit_violations({"text": "x", "blocks": blocks}) == []


def test_a_done_line_says_whose_click_carried_it_out():
    outcome = Outcome(True, "`i-0abc` is now m5.xlarge.", change(State.DONE))
    line = decision_status(outcome, ALICE, now=NOW, clicked="approved by")
    assert line.endswith(f"(approved by <@{ALICE}>, 2026-12-06 05:50 UTC)")


def test_already_dismissed_by_names_the_person_with_a_real_mention():
    outcome = Outcome(False, f"`i-0abc` is already dismissed by <@{ALICE}>.",
                      change(State.DISMISSED, decided_by=ALICE))  # fmt: skip
    line = decision_status(outcome, "", now=NOW)
    assert line == f":wastebasket: `i-0abc` is already dismissed by <@{ALICE}>."


def test_a_mention_typed_as_data_stays_escaped_only_where_it_is_not_ours():
    assert escape_keeping_mentions("<@U1> & <b>") == "<@U1> &amp; &lt;b&gt;"
    assert escape_keeping_mentions("<!channel>") == "&lt;!channel&gt;"  # no broadcast
    already = "nlp &amp; co &lt;b&gt;"  # a Name tag the engine escaped in Change.label
    assert escape_keeping_mentions(f"{already} <@U1> & <x>") == f"{already} <@U1> &amp; &lt;x&gt;"


@pytest.mark.parametrize(
    ("state", "kind", "dry_run", "expected"),
    [
        (State.PROPOSED, Kind.RESIZE, False,
         ["Approve", "Tonight at 22:00", "Deny", "Snooze 30 days", "Dismiss", "Ask for approval"]),
        (State.PROPOSED, Kind.STOP, False,
         ["Stop", "Tonight at 22:00", "Deny", "Snooze 30 days", "Dismiss", "Ask for approval"]),
        (State.SNOOZED, Kind.RESIZE, False,
         ["Approve", "Tonight at 22:00", "Deny", "Dismiss", "Ask for approval"]),
        (State.SCHEDULED, Kind.RESIZE, False, ["Deny"]),
        (State.DONE, Kind.RESIZE, False, ["Revert"]),
        (State.DONE, Kind.RESIZE, True, []),  # a dry run changed nothing to revert
        (State.DISMISSED, Kind.RESIZE, False, []),
        (State.DENIED, Kind.RESIZE, False, []),
        (State.APPROVED, Kind.RESIZE, False, []),
        (State.STOPPING, Kind.RESIZE, False, []),
        (State.FAILED, Kind.RESIZE, False, []),
        (State.ROLLED_BACK, Kind.RESIZE, False, []),
        (State.REVERTED, Kind.RESIZE, False, []),
    ],
)  # fmt: skip
def test_the_buttons_fit_the_state(state, kind, dry_run, expected):
    buttons = card_buttons(change(state, kind=kind, dry_run=dry_run))
    assert [b["text"]["text"] for b in buttons] == expected
    assert all(b["value"] == "7" for b in buttons)


def test_a_dismissed_change_loses_its_buttons_and_the_others_keep_theirs():
    blocks = card(7, 8)
    status = ":wastebasket: dismissed"
    after = with_decision(blocks, "7", status, buttons=card_buttons(change(State.DISMISSED)))
    assert labels(after, 7) == []
    assert labels(after, 8)[0] == "Approve"
    assert status in context_texts(after)


def test_a_second_decision_replaces_the_line_instead_of_adding_one():
    snoozed = with_decision(card(7), "7", "zzz line", buttons=card_buttons(change(State.SNOOZED)))
    approved = with_decision(snoozed, "7", "approved line", buttons=[])
    texts = context_texts(approved)
    assert "approved line" in texts and "zzz line" not in texts
    assert sum(1 for b in approved if str(b.get("block_id", "")).endswith(":7")) == 1
    done = with_decision(approved, "7", "done line", buttons=card_buttons(change(State.DONE)))
    assert labels(done, 7) == ["Revert"]
    revert = next(b for b in done if b.get("block_id") == "rightsize:7")["elements"][0]
    assert revert["action_id"] == action_ids.RIGHTSIZE_REVERT and "confirm" in revert


class RecordingClient:
    def __init__(self) -> None:
        self.posts: list[dict] = []

    def chat_postMessage(self, **kwargs):
        self.posts.append(kwargs)


def test_a_later_outcome_in_the_thread_mentions_for_real():
    done = change(State.DONE, message_channel="C1", message_ts="1.2", decided_by=CARA)
    client = RecordingClient()
    assert post_change_outcome(client, Outcome(True, f"<@{CARA}>'s change <done>.", done))
    assert client.posts[0]["text"] == f":white_check_mark: <@{CARA}>'s change &lt;done&gt;."

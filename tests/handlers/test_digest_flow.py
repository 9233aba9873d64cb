"""Digests and alerts in the demo workspace, as people see them: /cost digest, posting today's
digests, the alert buttons, and App Home."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.demo.slack_standin import limit_violations
from engines.digests.budgets import Alert, AlertKind
from engines.digests.digest import digest_key, local_now
from handlers import action_ids
from handlers.digests.blocks import build_alert_message
from handlers.digests.jobs import check_budget_alerts
from tests.waiting import wait_until

ALICE, BOB, CARA, ERIN = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOCARA", "U0DEMOERIN"
FRAUD, RECS, NLP = "C0DEMOFRAUD", "C0DEMORECS", "C0DEMONLP"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False)
    with DemoSandbox(options) as running:
        yield running


def newest_ts(sandbox: DemoSandbox) -> str | None:
    return max((m["ts"] for m in sandbox.standin.messages()), default=None, key=float)


def ask(sandbox: DemoSandbox, user: str, channel: str, text: str, expect: str) -> dict:
    before = newest_ts(sandbox)
    sandbox.standin.send_command(user_id=user, channel_id=channel, text=text)
    return sandbox.standin.wait_for_message(
        lambda m: m["channel"] == channel and expect in str(m["blocks"]) + m["text"],
        timeout=60,
        after_ts=before,
    )


def deliver(sandbox: DemoSandbox) -> None:
    """The outbox's delivery pass (the demo runs it in a thread; this sandbox does not)."""
    outbox = sandbox.costbot.deps.outbox
    for _ in range(10):
        outbox.deliver_due()
        if not sandbox.costbot.store.outbox_rows(state="pending"):
            return
        time.sleep(1.05)  # one message per second per channel


def test_cost_digest_shows_a_team_its_morning_figures(sandbox):
    # The sandbox runs on the real clock: on a Monday the digest is the weekly one.
    message = ask(sandbox, BOB, FRAUD, "digest fraud-detection", " digest · ")

    text = str(message["blocks"])
    assert "fraud-detection · " in text
    assert "vs 7-day average" in text and "Month to date" in text and "of $25,000.00" in text
    assert "▓" in text  # spend against budget as a bar
    assert "Month-end forecast" in text and "Top movers" in text and "daily cost" in text
    # One message: the digest's blocks with its chart below them (a file share has no text).
    assert limit_violations({"text": "fallback", "blocks": message["blocks"]}) == []
    (chart,) = message["files"]
    assert sandbox.standin.file_bytes(chart["id"]).startswith(b"\x89PNG")


def test_without_a_name_the_digest_is_of_the_askers_team(sandbox):
    message = ask(sandbox, ERIN, RECS, "digest", " digest · ")
    assert "recommendations · " in str(message["blocks"])


def test_a_misspelt_team_gets_a_suggestion(sandbox):
    message = ask(sandbox, BOB, FRAUD, "digest fraud-detectoin", "fraud-detection")
    assert message["ephemeral_for"] == BOB
    assert " digest · " not in str(message["blocks"])


def test_only_approvers_post_digests_and_never_use_up_the_scheduled_one(sandbox):
    refused = ask(sandbox, ERIN, FRAUD, "digest post", "approvers")
    assert refused["ephemeral_for"] == ERIN and "you approve for no team" in refused["text"]

    reply = ask(sandbox, ALICE, FRAUD, "digest post", "Posting today's digest")
    assert "fraud-detection" in reply["text"] and "nlp" not in reply["text"]
    deliver(sandbox)
    posted = [
        m
        for m in sandbox.standin.messages(FRAUD, include_ephemeral=False)
        if m["origin"] != "response_url"  # posted by the outbox, not a /cost answer
        and float(m["ts"]) > float(reply["ts"])  # nor the answer to /cost digest before
        and "fraud-detection · " in str(m["blocks"])
        and " digest · " in str(m["blocks"])
    ]
    assert len(posted) == 1
    assert [f["name"].endswith(".png") for f in posted[0]["files"]] == [True]  # its chart
    for channel in (RECS, NLP):  # not Alice's to post
        outbox_posts = [
            m
            for m in sandbox.standin.messages(channel)
            if m["origin"] != "response_url" and float(m["ts"]) > float(reply["ts"])
        ]
        assert not any(" digest · " in str(m["blocks"]) + m["text"] for m in outbox_posts)

    team = sandbox.costbot.deps.teams["fraud-detection"]
    day = local_now(team, sandbox.now()).date()
    # The scheduled digest's key is not used up: it still goes out at its time.
    assert not sandbox.costbot.deps.outbox.has(digest_key("fraud-detection", day))

    again = ask(sandbox, ALICE, FRAUD, "digest post", "Already posted by hand today")
    assert "fraud-detection" in again["text"]


def post_alert(sandbox: DemoSandbox, period: str) -> dict:
    alert = Alert("fraud-detection", AlertKind.BUDGET, Decimal(80), period,
                  Decimal("20500"), Decimal("25000"), "USD")  # fmt: skip
    sandbox.costbot.deps.outbox.enqueue(
        alert.key, channel="#fraud-detection-costs", message=build_alert_message(alert),
        kind="alert", team="fraud-detection",
    )  # fmt: skip
    deliver(sandbox)
    return sandbox.standin.wait_for_message(
        lambda m: (
            m["channel"] == FRAUD
            and period in m["text"] + str(m["blocks"])
            and action_ids.ALERT_SNOOZE in str(m["blocks"])
        )
    )


def click(sandbox: DemoSandbox, user: str, message: dict, action_id: str) -> None:
    sandbox.standin.click(user_id=user, channel_id=FRAUD, message_ts=message["ts"],
                          action_id=action_id, value="fraud-detection")  # fmt: skip


def test_only_the_team_can_snooze_and_a_snooze_silences_its_alerts(sandbox):
    alert = post_alert(sandbox, "2026-01")
    assert "spent 80% of its budget" in alert["text"]

    click(sandbox, CARA, alert, action_ids.ALERT_SNOOZE)  # Cara is not in fraud-detection
    refusal = sandbox.standin.wait_for_message(
        lambda m: m["ephemeral_for"] == CARA and "snooze" in m["text"]
    )
    assert "Only fraud-detection's members and approvers" in refusal["text"]

    click(sandbox, BOB, alert, action_ids.ALERT_SNOOZE)

    def snoozed():
        current = next(m for m in sandbox.standin.messages(FRAUD) if m["ts"] == alert["ts"])
        return current if ":zzz:" in str(current["blocks"]) else None

    current = wait_until(snoozed)
    assert action_ids.ALERT_SNOOZE not in str(current["blocks"])  # the buttons are gone
    until = sandbox.costbot.store.alerts_snoozed_until("fraud-detection")
    assert dt.timedelta(hours=23) < until - sandbox.now() <= dt.timedelta(hours=24)
    deps = sandbox.costbot.deps
    fraud = [deps.teams["fraud-detection"]]
    decisions = check_budget_alerts(deps, now=deps.now(), dry_run=True, teams=fraud)
    assert all(d.status in {"snoozed", "already sent"} for d in decisions)


def test_show_top_drivers_answers_in_the_channel(sandbox):
    alert = post_alert(sandbox, "2026-02")
    before = newest_ts(sandbox)
    click(sandbox, BOB, alert, action_ids.ALERT_DRIVERS)
    drivers = sandbox.standin.wait_for_message(
        lambda m: m["channel"] == FRAUD and "fraud-detection · " in str(m["blocks"])
        and "Amazon" in str(m["blocks"]) and m["ephemeral_for"] is None,
        timeout=60, after_ts=before,
    )  # fmt: skip
    assert "<@U0DEMOBOB>" in str(drivers["blocks"])


def test_propose_savings_runs_right_sizing_for_the_team(sandbox):
    alert = post_alert(sandbox, "2026-03")
    before = newest_ts(sandbox)
    click(sandbox, BOB, alert, action_ids.ALERT_PROPOSE_SAVINGS)
    proposal = sandbox.standin.wait_for_message(
        lambda m: m["channel"] == FRAUD and "fraud-detection · right-sizing" in str(m["blocks"]),
        timeout=90, after_ts=before,
    )  # fmt: skip
    assert action_ids.RIGHTSIZE_APPROVE in str(proposal["blocks"])  # the usual Approve flow
    assert "<@U0DEMOALICE>" in str(proposal["blocks"])


def test_app_home_shows_spend_against_budget_approvals_and_the_last_digest(sandbox):
    test_propose_savings_runs_right_sizing_for_the_team(sandbox)  # a change waits for Alice
    sandbox.standin.open_app_home(ALICE)

    def published():
        view = sandbox.standin.published_view(ALICE)
        return view if view and "Spend this month" in str(view) else None

    text = str(wait_until(published, timeout=60)["blocks"])
    assert "fraud-detection" in text and "of $25,000.00" in text and "▓" in text
    assert "Waiting for your approval" in text
    assert "Last digest" in text and "(posted)" in text

    sandbox.standin.open_app_home(BOB)  # a member: sees who is to approve

    def bobs():
        view = sandbox.standin.published_view(BOB)
        return view if view and "Spend this month" in str(view) else None

    assert "Waiting for approval by <@U0DEMOALICE>" in str(wait_until(bobs, timeout=60)["blocks"])

"""The right-sizing card in the channel tells everyone what was decided, by whom, and offers
only the buttons that still fit; every payload shape Slack documents gets an answer.

On the demo sandbox, whose changes are real (moto), as in `costbot demo`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.server import EVENTS_PATH
from bot.settings import Settings
from engines.changes.models import State
from handlers import action_ids
from tests.handlers.test_rightsize_flow import ask_rightsize, buttons, change_ids
from tests.waiting import wait_until

ALICE, BOB, CARA, DEV, ERIN = "U0DEMOALICE", "U0DEMOBOB", "U0DEMOCARA", "U0DEMODEV", "U0DEMOERIN"
FRAUD, RECS, NLP = "C0DEMOFRAUD", "C0DEMORECS", "C0DEMONLP"
REFERENCE = re.compile(r"ref ([0-9a-f]{8})")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("cards"), run_scheduler=False)
    with DemoSandbox(options) as running:
        yield running


def current(sandbox: DemoSandbox, channel: str, ts: str) -> dict:
    return next(m for m in sandbox.standin.messages(channel) if m["ts"] == ts)


def status_of(message: dict, change_id: str) -> str:
    """The decision line of one change on the card ("" while nobody decided)."""
    for block in message["blocks"]:
        if block.get("block_id") == f"rightsize_status:{change_id}":
            return block["elements"][0]["text"]
    return ""


def buttons_of(message: dict, change_id: str) -> list[str]:
    try:
        return buttons(message, change_id)
    except StopIteration:
        return []


def line_shows(sandbox: DemoSandbox, channel: str, ts: str, change_id: str, words: str) -> dict:
    def shown() -> dict | None:
        message = current(sandbox, channel, ts)
        return message if words in status_of(message, change_id) else None

    return wait_until(shown, timeout=30)


def ephemeral_to(sandbox: DemoSandbox, user: str, words: str, *, after: str = "0") -> dict:
    def mine(m: dict) -> bool:
        return m["ephemeral_for"] == user and words in m["text"] and float(m["ts"]) > float(after)

    return sandbox.standin.wait_for_message(mine, timeout=30)


def post_payload(sandbox: DemoSandbox, payload: dict) -> tuple[int, str]:
    """POSTs a payload to the bot as Slack does (form-encoded, signed)."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = SignatureVerifier(sandbox.signing_secret).generate_signature(
        timestamp=stamp, body=body
    )
    request = urllib.request.Request(
        sandbox.bot_server.url + EVENTS_PATH, data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature or ""},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def unique() -> str:
    """A fresh trigger_id / action_ts: the bot skips a delivery it has seen (Slack's retries)."""
    return f"{time.time_ns()}.{time.perf_counter_ns()}"


def last_ts(sandbox: DemoSandbox) -> str:
    return max((m["ts"] for m in sandbox.standin.messages()), default="0", key=float)


# --- decisions show on the card, for everyone -----------------------------------------------


def test_dismiss_shows_on_the_card_for_everyone_and_takes_its_buttons_away(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, ERIN, RECS, "recommendations")
    dismissed, *others = change_ids(card)
    slack.click(user_id=CARA, channel_id=RECS, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=dismissed)  # fmt: skip
    modal = wait_until(lambda: slack.open_modals(CARA))[-1]
    slack.submit_view(user_id=CARA, view_id=modal["id"], values={"reason": "sized for <Q4>"})

    after = line_shows(sandbox, RECS, card["ts"], dismissed, "dismissed")
    line = status_of(after, dismissed)
    assert line.startswith(f":wastebasket: <@{CARA}> dismissed")  # a real mention
    assert re.search(r" \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$", line)  # and when
    assert buttons_of(after, dismissed) == []  # no Stop, Deny, … left to click
    for other in others:
        assert buttons_of(after, other)[0] in ("Approve", "Stop")
    assert after["ephemeral_for"] is None and after["edited"]  # the one channel message
    assert store.get_change(int(dismissed)).state is State.DISMISSED
    assert "reason" not in line and "&lt;Q4&gt;" not in line

    # Erin, who asked, sees the same card: she is told nothing privately, the card says it.
    seen_by_erin = [m for m in slack.messages(RECS) if m["ts"] == card["ts"]]
    assert status_of(seen_by_erin[0], dismissed) == line


def test_snooze_then_deny_each_replace_the_line_and_the_buttons(sandbox):
    slack = sandbox.standin
    card = ask_rightsize(sandbox, DEV, NLP, "nlp")
    change_id = change_ids(card)[0]
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_SNOOZE, value=change_id)  # fmt: skip
    snoozed = line_shows(sandbox, NLP, card["ts"], change_id, "snoozed")
    assert status_of(snoozed, change_id).startswith(f":zzz: <@{DEV}> snoozed ")
    assert "Snooze 30 days" not in buttons_of(snoozed, change_id)
    assert "Deny" in buttons_of(snoozed, change_id)

    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DENY, value=change_id)  # fmt: skip
    denied = line_shows(sandbox, NLP, card["ts"], change_id, "denied")
    assert status_of(denied, change_id).startswith(f":no_entry_sign: <@{DEV}> denied ")
    assert buttons_of(denied, change_id) == []
    assert sum(1 for b in denied["blocks"] if b.get("block_id", "").endswith(f":{change_id}")) == 1


def test_a_click_on_an_out_of_date_copy_says_who_decided_with_a_real_mention(sandbox):
    slack = sandbox.standin
    card = ask_rightsize(sandbox, DEV, NLP, "nlp")
    change_id = change_ids(card)[-1]
    stale = slack.post_as_bot(NLP, card["text"], card["blocks"])  # a copy with every button
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DENY, value=change_id)  # fmt: skip
    line_shows(sandbox, NLP, card["ts"], change_id, "denied")

    slack.click(user_id=DEV, channel_id=NLP, message_ts=stale["ts"],
                action_id=action_ids.RIGHTSIZE_SNOOZE, value=change_id)  # fmt: skip
    told = ephemeral_to(sandbox, DEV, "is already denied")
    assert f"by <@{DEV}>" in told["text"] and "&lt;" not in told["text"]
    updated = line_shows(sandbox, NLP, stale["ts"], change_id, "already denied")
    assert status_of(updated, change_id).endswith(f"is already denied by <@{DEV}>.")
    assert buttons_of(updated, change_id) == []


# --- payload shapes Slack documents ---------------------------------------------------------


def test_approve_on_an_ephemeral_copy_keeps_its_other_buttons_and_tells_the_clicker(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = next(c for c in change_ids(card) if buttons(card, c)[0] == "Stop")
    mine = slack.post_as_bot(FRAUD, card["text"], card["blocks"], ephemeral_for=ALICE)
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=mine["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    assert wait_until(lambda: store.get_change(int(change_id)).state is State.DONE, timeout=60)
    told = ephemeral_to(sandbox, ALICE, "is stopped", after=mine["ts"])
    assert f"(approved by <@{ALICE}>, " in told["text"]
    still = current(sandbox, FRAUD, mine["ts"])
    assert still["blocks"] == mine["blocks"]  # not wiped to a line of text
    assert store.get_change(int(change_id)).message_ts == ""  # an ephemeral is no thread


def test_a_click_from_a_view_gets_an_answer_without_a_response_url(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, ERIN, RECS, "recommendations")
    change_id = next(c for c in change_ids(card) if buttons_of(card, c))
    payload = {
        "type": "block_actions", "user": {"id": CARA, "team_id": "T0DEMO"},
        "api_app_id": "A0DEMO", "team": {"id": "T0DEMO"}, "trigger_id": unique(),
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "blocks": [], "state": {"values": {}}},
        "actions": [{"action_id": action_ids.RIGHTSIZE_SNOOZE, "block_id": f"rightsize:{change_id}",
                     "value": change_id, "type": "button", "action_ts": unique()}],
    }  # fmt: skip
    status, _ = post_payload(sandbox, payload)
    assert status == 200
    assert wait_until(lambda: store.get_change(int(change_id)).state is State.SNOOZED)
    direct = slack.wait_for_message(
        lambda m: m["channel"].startswith("D") and "snoozed" in m["text"], timeout=30
    )
    assert f"<@{CARA}> snoozed" in direct["text"]


def test_dismiss_when_the_form_cannot_open_answers_with_a_sentence_and_a_reference(sandbox, caplog):
    slack = sandbox.standin
    card = ask_rightsize(sandbox, ERIN, RECS, "recommendations")
    change_id = next(c for c in change_ids(card) if "Dismiss" in buttons_of(card, c))
    before = last_ts(sandbox)
    sandbox.standin.trigger_ttl = 0.0  # the trigger has expired by the time the bot uses it
    try:
        with caplog.at_level(logging.WARNING):
            result = slack.click(user_id=CARA, channel_id=RECS, message_ts=card["ts"],
                                 action_id=action_ids.RIGHTSIZE_DISMISS,
                                 value=change_id)  # fmt: skip
            told = ephemeral_to(sandbox, CARA, "could not open the Dismiss form", after=before)
    finally:
        sandbox.standin.trigger_ttl = 3.0
    assert result.status == 200
    assert "expired_trigger_id" in told["text"] or "invalid_trigger" in told["text"]
    reference = REFERENCE.search(told["text"]).group(1)
    assert any(reference in record.getMessage() for record in caplog.records)
    assert not [m for m in slack.messages(RECS) if m["user"] == "USLACKBOT" and
                float(m["ts"]) > float(before)]  # fmt: skip


@pytest.mark.parametrize(
    "state",
    [{"values": {}}, {}, None, {"values": {"reason": {}}}, {"values": {"reason": {"reason": {}}}}],
)
def test_a_dismiss_form_with_an_empty_state_asks_for_a_reason(sandbox, state):
    view = {"id": "V0FORM", "type": "modal", "callback_id": action_ids.RIGHTSIZE_DISMISS_MODAL,
            "private_metadata": '{"change":1}'}  # fmt: skip
    if state is not None:
        view["state"] = state
    view["id"] = "V" + unique().replace(".", "")
    payload = {"type": "view_submission", "user": {"id": CARA}, "team": {"id": "T0DEMO"},
               "api_app_id": "A0DEMO", "view": view}  # fmt: skip
    status, body = post_payload(sandbox, payload)
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors", "errors": {"reason": "Say in a few words why."}
    }  # fmt: skip


def test_a_dismiss_form_that_lost_its_change_says_so_with_a_reference(sandbox, caplog):
    view = {"id": "V0FORM", "type": "modal", "callback_id": action_ids.RIGHTSIZE_DISMISS_MODAL,
            "private_metadata": "",
            "state": {"values": {"reason": {"reason": {"value": "sized for Q4"}}}}}  # fmt: skip
    view["id"] = "V" + unique().replace(".", "")
    payload = {"type": "view_submission", "user": {"id": CARA}, "team": {"id": "T0DEMO"},
               "api_app_id": "A0DEMO", "view": view}  # fmt: skip
    with caplog.at_level(logging.WARNING):
        status, body = post_payload(sandbox, payload)
    assert status == 200
    error = json.loads(body)["errors"]["reason"]
    assert "click Dismiss on the card again" in error
    reference = REFERENCE.search(error).group(1)
    assert any(reference in record.getMessage() for record in caplog.records)


# --- the demo changes its sandbox for real; `costbot serve` does not -------------------------


def test_the_demo_changes_its_sandbox_for_real_and_says_so_while_serve_stays_a_dry_run(sandbox):
    assert sandbox.costbot.deps.dry_run is False
    assert sandbox.costbot.deps.changes.dry_run is False
    notice = sandbox.standin.ui_state()["notice"]
    assert notice.startswith("Sandbox:") and "moto" in notice and "Revert" in notice
    served = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s"})
    assert served.dry_run is True  # COSTBOT_DRY_RUN is true unless someone says otherwise
    assert Settings().dry_run is True


def test_approve_then_revert_in_the_demo_shows_each_step_on_the_card(sandbox):
    slack, store = sandbox.standin, sandbox.costbot.store
    card = ask_rightsize(sandbox, BOB, FRAUD, "fraud-detection")
    change_id = next(c for c in change_ids(card) if buttons(card, c)[0] == "Approve")
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
    done = line_shows(sandbox, FRAUD, card["ts"], change_id, "is now")
    assert status_of(done, change_id).startswith(":white_check_mark: ")
    assert f"(approved by <@{ALICE}>, " in status_of(done, change_id)
    assert buttons_of(done, change_id) == ["Revert"]
    assert not store.get_change(int(change_id)).dry_run

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_REVERT, value=change_id)  # fmt: skip
    reverted = line_shows(sandbox, FRAUD, card["ts"], change_id, "reverted")
    assert status_of(reverted, change_id).startswith(":leftwards_arrow_with_hook: ")
    assert f"(reverted by <@{ALICE}>, " in status_of(reverted, change_id)
    assert buttons_of(reverted, change_id) == []
    assert store.get_change(int(change_id)).state is State.REVERTED


@pytest.mark.parametrize(
    ("user", "action_id", "value", "words"),
    [
        (ALICE, action_ids.ALERT_SNOOZE, "fraud-detection", "snoozed fraud-detection's alerts"),
        (BOB, action_ids.SCHEDULE_KEEP_RUNNING, "fraud-dev-hours|not-a-time", "out of date"),
        (BOB, action_ids.SCHEDULE_KEEP_RUNNING, "no-such-schedule|2026-11-18T20:00:00-05:00",
         "no-such-schedule"),
    ],
)  # fmt: skip
def test_other_buttons_clicked_in_a_view_answer_the_clicker_directly(
    sandbox, user, action_id, value, words
):
    before = last_ts(sandbox)
    payload = {
        "type": "block_actions", "user": {"id": user, "team_id": "T0DEMO"},
        "api_app_id": "A0DEMO", "team": {"id": "T0DEMO"}, "trigger_id": unique(),
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "blocks": [], "state": {"values": {}}},
        "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button",
                     "action_ts": unique()}],
    }  # fmt: skip
    assert post_payload(sandbox, payload)[0] == 200
    direct = sandbox.standin.wait_for_message(
        lambda m: m["channel"] == "D" + user[1:] and float(m["ts"]) > float(before), timeout=30
    )
    assert words in direct["text"]


# --- found by a hostile review ----------------------------------------------------------------


def test_dismiss_by_another_teams_user_is_refused_before_a_form_asks_for_a_reason(sandbox):
    # Bob (fraud-detection) clicked Dismiss on nlp's card: the form opened, he typed why,
    # and only then learned that only nlp's approvers decide.
    slack = sandbox.standin
    card = ask_rightsize(sandbox, DEV, NLP, "nlp")
    change_id = next(c for c in change_ids(card) if "Dismiss" in buttons_of(card, c))
    modals_before = len(slack.open_modals(BOB))
    before = last_ts(sandbox)
    slack.click(user_id=BOB, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=change_id)  # fmt: skip
    told = ephemeral_to(sandbox, BOB, "approvers", after=before)
    assert "only nlp's approvers can dismiss this" in told["text"]
    assert f"<@{DEV}>" in told["text"]
    assert len(slack.open_modals(BOB)) == modals_before  # no form to fill in for nothing


def test_dismiss_on_an_out_of_date_copy_says_who_decided_instead_of_opening_a_form(sandbox):
    slack = sandbox.standin
    card = ask_rightsize(sandbox, DEV, NLP, "nlp")
    change_id = next(c for c in change_ids(card) if "Dismiss" in buttons_of(card, c))
    stale = slack.post_as_bot(NLP, card["text"], card["blocks"])
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DENY, value=change_id)  # fmt: skip
    line_shows(sandbox, NLP, card["ts"], change_id, "denied")
    modals_before = len(slack.open_modals(DEV))
    slack.click(user_id=DEV, channel_id=NLP, message_ts=stale["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=change_id)  # fmt: skip
    told = ephemeral_to(sandbox, DEV, "is already denied", after=stale["ts"])
    assert f"by <@{DEV}>" in told["text"]
    assert len(slack.open_modals(DEV)) == modals_before


def test_a_dismiss_form_submitted_to_another_process_still_updates_the_card(sandbox, monkeypatch):
    # Two bot processes behind one URL: the form opened in one, its submission reached the
    # other, which never saw the click. The card's copy kept in the shared store serves.
    from handlers.rightsizing import actions as rightsize_actions

    slack = sandbox.standin
    card = ask_rightsize(sandbox, DEV, NLP, "nlp")
    dismissed = next(c for c in change_ids(card) if "Dismiss" in buttons_of(card, c))
    slack.click(user_id=DEV, channel_id=NLP, message_ts=card["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=dismissed)  # fmt: skip
    modal = wait_until(lambda: slack.open_modals(DEV))[-1]
    monkeypatch.setattr(rightsize_actions._Cards, "take", lambda self, channel, ts: None)
    slack.submit_view(user_id=DEV, view_id=modal["id"], values={"reason": "batch only"})

    after = line_shows(sandbox, NLP, card["ts"], dismissed, "dismissed")
    assert buttons_of(after, dismissed) == []

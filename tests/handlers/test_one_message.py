"""One message per question, in the demo world as a user sees it in Slack.

A slow question's "Working on…" note comes first, only to the asker, and the answer takes
its place: an error replaces it in place, a public answer is posted once the note is gone.
``/COST TEAM NLP`` is the same question as ``/cost team nlp``, and a command that comes
without a ``response_url`` is still answered, through the Web API.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator

import pytest
from slack_bolt import Respond

from bot.demo.sandbox import DemoOptions, DemoSandbox
from handlers.commands.cost import _answer_in_place, _post_working_note
from tests.waiting import wait_until

BOB, FRAUD = "U0DEMOBOB", "C0DEMOFRAUD"  # a fraud-detection member, in #fraud-detection-costs
WORKING = ":hourglass_flowing_sand: Working on"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False)
    with DemoSandbox(options) as running:
        yield running


def ask(
    sandbox: DemoSandbox, text: str, *, done: str, anywhere: bool = False, **how: object
) -> tuple[dict, list[dict], list[dict]]:
    """Sends ``/cost text`` as Bob; waits for the message saying ``done`` and for the note to
    go; returns it with the workspace's events (message posted, changed, deleted) since."""
    slack = sandbox.standin
    seq = slack.ui_events(0, timeout=0)["seq"]
    before = {m["ts"] for m in slack.messages()}
    newest = max(before, key=float, default=None)
    result = slack.send_command(user_id=BOB, channel_id=FRAUD, text=text, **how)  # type: ignore[arg-type]
    assert result.status == 200 and result.elapsed_s < 3.0, result
    answer = slack.wait_for_message(
        lambda m: (anywhere or m["channel"] == FRAUD) and done in m["text"] + str(m["blocks"])
        and not m["text"].startswith(WORKING),
        timeout=60,
        after_ts=newest,
    )  # fmt: skip
    if how.get("response_url", True):
        # this question's note only: one asked without a response_url keeps its note
        wait_until(
            lambda: (
                not any(
                    WORKING in m["text"] for m in slack.messages(FRAUD) if m["ts"] not in before
                )
            ),
            15,
        )
    new = [m for m in slack.messages() if m["ts"] not in before]
    return answer, new, slack.ui_events(seq, timeout=0)["events"]


def test_an_error_found_after_the_ack_takes_the_notes_place_never_comes_before_it(sandbox):
    answer, new, events = ask(
        sandbox, "schedule keep team=nobody until 25:99", done="is not a time"
    )

    assert new == [answer] and answer["ephemeral_for"] == BOB  # one message, for Bob alone
    first = next(e for e in events if e["type"] == "message")
    assert first["message"]["text"].startswith(WORKING)
    assert first["message"]["ts"] == answer["ts"]  # the note, replaced in place
    assert "'25:99' is not a time" in answer["text"]


def test_a_public_answer_leaves_the_question_and_one_answer_in_the_channel(sandbox):
    answer, new, events = ask(sandbox, "team fraud-detection", done="fraud-detection · ")

    kinds = [(e["type"], (e.get("message") or {}).get("text", "")[:40]) for e in events]
    assert kinds[0][0] == "message" and kinds[0][1].startswith(WORKING[:30])  # the note first
    assert ("message_deleted", "") in kinds  # then it went
    assert [m["user"] for m in new] == [BOB, answer["user"]]  # "/cost team …", the answer
    assert answer["ephemeral_for"] is None and "Working on" not in str(new)


def test_a_trend_chart_travels_in_its_answers_message(sandbox):
    answer, new, _ = ask(sandbox, "trend fraud-detection", done="daily trend")

    assert new == [answer] and answer["ephemeral_for"] is None
    (chart,) = answer["files"]
    assert chart["mimetype"] == "image/png"
    assert sandbox.standin.file_bytes(chart["id"]).startswith(b"\x89PNG")


def test_a_slack_that_takes_no_blocks_with_a_file_gets_the_chart_right_under_its_answer(sandbox):
    sandbox.standin.fail_next("files.completeUploadExternal", status=200, error="invalid_blocks")
    answer, new, _ = ask(sandbox, "trend fraud-detection last 7d", done="fraud-detection · daily")

    assert answer["ephemeral_for"] is None and not answer["files"]
    chart = wait_until(
        lambda: [
            m
            for m in sandbox.standin.messages(FRAUD)
            if m["files"] and float(m["ts"]) > float(answer["ts"])
        ]  # fmt: skip
    )
    assert len(chart) == 1 and "I could not post the chart" not in str(answer["blocks"])


def test_an_upper_case_command_is_the_same_question_and_keeps_the_teams_spelling(sandbox):
    answer, _, _ = ask(sandbox, "TEAM FRAUD-DETECTION LAST 7D", done="fraud-detection · ",
                       command="/COST")  # fmt: skip

    assert answer["ephemeral_for"] is None
    assert answer["blocks"][0]["text"]["text"].startswith("fraud-detection · last 7 days")
    assert "dispatch_failed" not in str(sandbox.standin.messages(FRAUD))


def test_without_response_url_the_answer_comes_through_the_web_api(sandbox):
    answer, _, _ = ask(sandbox, "team fraud-detection last 7d", done="fraud-detection · last 7",
                       response_url=False)  # fmt: skip

    assert answer["ephemeral_for"] is None and answer["origin"] == "api"  # chat.postMessage
    calls = [c["method"] for c in sandbox.standin.calls[-5:]]
    assert "chat.postMessage" in calls


def test_without_response_url_an_error_reaches_the_asker_alone(sandbox):
    answer, _, _ = ask(sandbox, "schedule keep team=nobody until 25:99", done="is not a time",
                       response_url=False)  # fmt: skip

    assert answer["ephemeral_for"] == BOB and answer["origin"] == "api"  # chat.postEphemeral


def test_without_response_url_a_refused_answer_becomes_a_sentence_and_a_logged_reference(
    sandbox, caplog
):
    sandbox.standin.fail_next("chat.postEphemeral", status=400)
    with caplog.at_level(logging.WARNING, logger="handlers.commands.cost"):
        told, _, _ = ask(sandbox, "schedule keep team=nobody until 25:99",
                         done="I could not answer your /cost", anywhere=True,
                         response_url=False)  # fmt: skip

    assert told["channel"] == "D" + BOB[1:]  # by direct message, naming the channel
    assert told["text"].startswith(":x: I could not answer your /cost in <#C0DEMOFRAUD>")
    reference = re.search(r"ref ([0-9a-f]{8})", told["text"])
    assert reference and reference.group(1) in caplog.text


# --- when the response_url misbehaves ---------------------------------------------------------


class Recorded:
    """A ``respond`` that records what it was given and answers with ``status``."""

    def __init__(self, status: int) -> None:
        self.status, self.sent = status, []

    def __call__(self, **message: object) -> object:
        self.sent.append(message)
        return type("Answer", (), {"status_code": self.status})()


def test_an_ephemeral_answer_with_no_note_to_replace_is_posted_all_the_same():
    respond = Recorded(404)  # Slack: message_not_found
    _answer_in_place(respond, {"text": ":x: no", "response_type": "ephemeral"})

    assert [m.get("replace_original") for m in respond.sent] == [True, None]
    assert respond.sent[-1]["text"] == ":x: no"


def test_a_working_note_slack_is_slow_to_take_is_never_sent_twice():
    with socket.socket() as silent, socket.socket() as closed:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts, never answers
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        slow = Respond(response_url=f"http://127.0.0.1:{silent.getsockname()[1]}/r")
        refused = Respond(response_url=f"http://127.0.0.1:{closed.getsockname()[1]}/r")
        note = {"text": "⏳ Working on it…", "response_type": "ephemeral"}

        assert _post_working_note(slow, note)  # it may be there: the ack adds no second one
        assert not _post_working_note(refused, note)  # surely not there: the ack carries it


# --- found by a hostile review ----------------------------------------------------------------


def test_a_cost_answer_by_resource_names_instances_that_have_a_name(sandbox):
    # `/cost team fraud-detection by resource` listed "i-600ecddbcadeac49c: $544.51": the
    # instance has a Name tag (the right-sizing card and the audit show it) and no text a
    # user reads should carry a raw id where a name exists.
    answer, _, _ = ask(sandbox, "team fraud-detection by resource", done="By resource")
    lines = [*answer["text"].splitlines(), str(answer["blocks"])]
    assert not any(re.search(r"(?<![`(])\bi-[0-9a-f]{8,17}\b(?![`)])", line) for line in lines)

"""The word guide applied (docs/WORDS.md): what people read in help, errors, right-sizing
cards, the audit, App Home, the Dismiss modal and the digest footer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import pytest

from bot.demo.slack_standin import limit_violations
from engines.changes.models import Change, ChangeRequest, Kind, State
from engines.digests.digest import build_digest
from engines.errors import UserInputError
from engines.models import Team
from engines.rightsizing.models import Finding, Instance, Recommendation, Risk
from handlers.blocks.text import render_text
from handlers.cost.blocks import build_error_message, build_help_message
from handlers.digests.blocks import build_digest_message
from handlers.digests.home_blocks import TeamHome, build_app_home
from handlers.parsing import SCHEDULE_VERBS, SUBCOMMANDS, USAGE, parse_cost_command
from handlers.rightsizing.audit_blocks import build_audit_message
from handlers.rightsizing.blocks import build_dismiss_modal, build_rightsize_message
from tests.engines.daily_costs import DailyCosts

ALICE = "U0DEMOALICE"
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
TEAM = Team(
    name="nlp",
    tags={"team": "nlp"},
    channel="#nlp-costs",
    approvers=(ALICE,),
    monthly_budget=Decimal("3000"),
)


# --- help ----------------------------------------------------------------------------------


def test_help_names_every_command_the_parser_accepts_with_its_prefix():
    text = render_text(build_help_message(["nlp"]))
    for subcommand in SUBCOMMANDS:
        assert f"/cost {subcommand}" in text, subcommand
    for verb in SCHEDULE_VERBS:
        assert f"`/cost schedule {verb}" in text, verb
    assert "`/cost spot team <name>`" in text and "`/cost spot <instance-type> [region]`" in text
    assert "`schedule list" not in text  # every command line starts with /cost


# --- errors: the one relevant usage line, at most 80 characters echoed -----------------------

LONG = "x" * 5000


@pytest.mark.parametrize(
    "text",
    [
        "teem nlp",
        "team",
        "top 999",
        "compare last month",
        "forecast nlp next year",
        "trend",
        "rightsize nlp fraud",
        "spot",
        "spot x",
        "schedule stop it",
        "schedule keep fraud-notebook-bob",
        "digest a b",
        "team nlp metric cheapest",
    ],
)
def test_a_parse_error_shows_one_usage_line_not_the_whole_help(text):
    with pytest.raises(UserInputError) as caught:
        parse_cost_command(text)
    message = build_error_message(caught.value, show_usage=True)
    shown = render_text(message)

    assert shown.startswith("⚠"), shown
    usage_lines = [line for line in shown.splitlines() if line.startswith("Usage: ")]
    assert len(usage_lines) == 1, shown
    assert usage_lines[0].removeprefix("Usage: ") in USAGE.values()
    assert " — " not in shown, shown  # no line of the help's examples
    assert len(shown.splitlines()) <= 3, shown


def test_an_unknown_command_without_a_near_miss_points_to_help():
    with pytest.raises(UserInputError) as caught:
        parse_cost_command("frobnicate")
    shown = render_text(build_error_message(caught.value, show_usage=True))
    assert shown.splitlines() == [
        "⚠ I don't know `/cost frobnicate`.",
        "`/cost help` lists every command.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        LONG,
        f"team nlp {LONG}",
        f"team nlp by {LONG}",
        f"top {LONG}",
        f"spot {LONG}",
        f"spot g5.xlarge {LONG}",
        f"forecast nlp {LONG}",
        f"schedule {LONG}",
        f"team nlp metric {LONG}",
    ],
)
def test_a_5000_character_input_is_echoed_at_most_80_characters(text):
    from engines.costs.periods import parse_period
    from engines.costs.query import Dimension

    try:
        request = parse_cost_command(text)
        period = getattr(request, "period_text", "")
        if period:
            parse_period(period, today=dt.date(2026, 11, 20))
        if getattr(request, "group_by", ""):
            Dimension.parse(request.group_by)
        raise AssertionError(f"{text[:30]} was accepted")
    except UserInputError as error:
        shown = render_text(build_error_message(error, show_usage=True))
    assert "x" * 81 not in shown, shown
    assert re.search(r"x{20,}…", shown) or "x" not in shown


def test_engine_errors_echo_at_most_80_characters():
    from engines.config.teams import find_team
    from engines.schedules.model import ScheduleError, check_name, parse_time

    for raise_it in (
        lambda: find_team({"nlp": TEAM}, LONG),
        lambda: check_name(LONG),
        lambda: parse_time(LONG),
    ):
        with pytest.raises(UserInputError) as caught:
            raise_it()
        assert "x" * 81 not in str(caught.value)
    with pytest.raises(ScheduleError, match="A schedule needs a name") as caught:
        check_name("")
    assert "''" not in str(caught.value)


# --- right-sizing, App Home, the Dismiss modal ------------------------------------------------


def recommendation(name: str, action: str, risk: Risk) -> Recommendation:
    instance = Instance(
        "i-0123456789abcdef0", "c5.xlarge", "running", "us-east-1",
        account_id="123456789012", tags={"Name": name},
    )  # fmt: skip
    stop = action == "stop"
    return Recommendation(
        instance=instance,
        finding=Finding.IDLE if stop else Finding.OVER_PROVISIONED,
        current_type="c5.xlarge",
        recommended_type="" if stop else "c5.large",
        current_hourly=Decimal("0.17"),
        recommended_hourly=Decimal("0") if stop else Decimal("0.085"),
        monthly_saving=Decimal("124.10") if stop else Decimal("62.05"),
        risk=risk,
        reason="CPU p95 1.6% over 14 days.",
        action=action,
    )


def change_from(rec: Recommendation, change_id: int = 7) -> Change:
    request = ChangeRequest.from_recommendation(rec, requested_by="costbot", team="nlp")
    return Change(
        id=change_id, created_at=NOW, updated_at=NOW, state=State.PROPOSED,
        instance_id=request.instance_id, account_id=request.account_id, region=request.region,
        team="nlp", from_type=request.from_type, to_type=request.to_type,
        monthly_saving=request.monthly_saving, requested_by="costbot", kind=request.kind,
        instance_name=request.instance_name,
    )  # fmt: skip


def test_right_sizing_says_risk_and_counts_in_words():
    recs = [("1", recommendation("nlp-idle-box", "stop", Risk.VERY_LOW))]
    one = render_text(
        build_rightsize_message("nlp", recs, approvers=[ALICE], dry_run=True, lookback_days=14)
    )
    assert "could be saved by 1 change (" in one and "very low risk" in one
    recs.append(("2", recommendation("nlp-batch", "modify", Risk.MEDIUM)))
    two = render_text(
        build_rightsize_message("nlp", recs, approvers=[ALICE], dry_run=True, lookback_days=14)
    )
    assert "could be saved by 2 changes (" in two and "medium risk" in two
    for text in (one, two):
        assert "(s)" not in text and "VeryLow" not in text and "risk Medium" not in text


def test_app_home_and_the_dismiss_modal_name_the_instance_first():
    change = change_from(recommendation("nlp-eval-runner-dev", "stop", Risk.VERY_LOW))
    assert change.instance_name == "nlp-eval-runner-dev"
    home = render_text(
        build_app_home(user=ALICE, teams=[TEAM], homes={"nlp": TeamHome(pending=(change,))})
    )
    assert "nlp — you approve its changes" in home and "you are approver" not in home
    assert "Waiting for your approval: 1 change, saving $124.10/month" in home
    assert "• nlp-eval-runner-dev (`i-0123456789abcdef0`, stop: idle c5.xlarge)" in home

    modal = build_dismiss_modal("7", metadata="", label=change.label)
    asked = modal["blocks"][0]["text"]["text"]
    assert asked == (
        "Dismiss nlp-eval-runner-dev (`i-0123456789abcdef0`, stop: idle c5.xlarge)? "
        "It will not be proposed again."
    )


def test_a_name_tag_is_escaped_and_a_change_without_one_keeps_its_id():
    change = change_from(recommendation("a<b>&c", "modify", Risk.LOW))
    assert change.label == "a&lt;b&gt;&amp;c (`i-0123456789abcdef0`, c5.xlarge → c5.large)"
    nameless = dataclasses.replace(change, instance_name="")
    assert nameless.label == "`i-0123456789abcdef0` (c5.xlarge → c5.large)"


# --- the audit --------------------------------------------------------------------------------


def record(action: str, **detail: object) -> dict[str, object]:
    return {
        "at": "2026-12-06T05:46:00+00:00",
        "actor": "costbot",
        "action": action,
        "target": "123456789012/us-east-1/i-a9bb63634921fcb75",
        "detail": {"instance_id": "i-a9bb63634921fcb75", **detail},
        "dry_run": 1,
    }


def test_the_audit_reads_as_sentences_with_names_first():
    records = [
        record(
            "change.proposed",
            instance_name="nlp-eval-runner-dev",
            kind="stop",
            from_type="g4dn.xlarge",
            to_type="g4dn.xlarge",
        ),  # fmt: skip
        record(
            "change.denied",
            instance_name="nlp-tokenize-batch",
            kind="resize",
            from_type="c5.4xlarge",
            to_type="c5.xlarge",
        ),  # fmt: skip
        record("change.proposed", from_type="c5.xlarge", to_type="c5.xlarge"),  # an old record
        record(
            "ec2.stop_instances",
            instance_name="nlp-eval-runner-dev",
            kind="stop",
            from_type="g4dn.xlarge",
            to_type="g4dn.xlarge",
        ),  # fmt: skip
    ]
    message = build_audit_message("nlp", records)
    lines = render_text(message).splitlines()[2:6]

    assert lines[0] == (
        "`2026-12-06 05:46` costbot proposed nlp-eval-runner-dev (`i-a9bb63634921fcb75`): "
        "stop (idle)"  # a proposal is not rehearsed: no "(dry run)"
    )
    assert "denied nlp-tokenize-batch (`i-a9bb63634921fcb75`): c5.4xlarge → c5.xlarge" in lines[1]
    assert "proposed `i-a9bb63634921fcb75`: stop (idle)" in lines[2]
    assert "called EC2 StopInstances on nlp-eval-runner-dev" in lines[3]
    assert lines[3].endswith("(dry run)")
    text = "\n".join(lines)
    assert "123456789012/us-east-1" not in text and "g4dn.xlarge → g4dn.xlarge" not in text
    assert "change." not in text and "ec2." not in text
    assert limit_violations(message) == []


def test_a_change_withdrawn_when_its_window_ended_is_a_decision_not_a_rehearsal():
    """In a dry run the withdrawal of a change whose window ended is as real as a denial:
    the audit says what costbot did, without "(dry run)"."""
    expired = record("change.expired", instance_name="nlp-tokenize-batch", kind="resize",
                     from_type="c5.4xlarge", to_type="c5.xlarge")  # fmt: skip
    (line,) = render_text(build_audit_message("nlp", [expired])).splitlines()[2:3]

    assert line == (
        "`2026-12-06 05:46` costbot withdrew (its window ended before it ran) "
        "nlp-tokenize-batch (`i-a9bb63634921fcb75`): c5.4xlarge → c5.xlarge"
    )


def test_a_command_in_the_audit_is_echoed_short():
    message = build_audit_message(
        "all teams",
        [
            {
                "at": "2026-12-06T05:46",
                "actor": ALICE,
                "action": "command",
                "target": "/cost",
                "detail": {"text": LONG},
                "dry_run": 0,
            }
        ],  # fmt: skip
    )
    text = render_text(message)
    assert "asked `/cost xxx" in text and "x" * 81 not in text


# --- the digest names its source as every other answer does ----------------------------------


def test_the_digest_footer_names_the_source_by_its_display_name():
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), dt.date(2026, 11, 19), "nlp", "EC2", "80")
    from engines.config.teams import find_team, load_config

    teams = load_config(
        '[teams.nlp]\ntags = { team = "nlp" }\nchannel = "#nlp-costs"\n', filename="teams.toml"
    ).teams
    digest = build_digest(
        costs, teams, (), team=find_team(teams, "nlp"), today=dt.date(2026, 11, 20)
    )
    text = render_text(build_digest_message(dataclasses.replace(digest, source="focus")))
    assert "Source: FOCUS billing export" in text and "source: focus" not in text
    assert Kind.STOP.value == "stop"  # the stored value the audit reads stays as it is

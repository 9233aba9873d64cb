"""/cost top, untagged, compare, forecast, trend and team … by …, asked in Slack.

Every command goes through the real Bolt app over signed HTTP (the ``stack`` fixture) and is
answered in the Slack stand-in, as a user would see it. Every figure expected here is added
up from the export's rows by the test itself (``SmallExport``), never by the engines.

The clock is frozen at 2026-11-20; the export covers 2026-09-25 .. 2026-11-23.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest

from bot.demo.slack_standin import limit_violations
from engines.costs.forecast import MonthEndForecast, forecast_month_end
from engines.models import Metric
from handlers.blocks.common import money, percent, signed_money
from tests.conftest import ANY_TEAM, SmallExport, Stack
from tests.waiting import wait_until

DEV, NLP_CHANNEL = "U0DEMODEV", "C0DEMONLP"  # the NLP lead, in #nlp-costs
TODAY = dt.date(2026, 11, 20)
# Today's costs are still arriving: the month to date runs through yesterday, as the month
# view's does (the export has later days, which no answer about "now" includes).
MTD = {"start": dt.date(2026, 11, 1), "end": TODAY}
SAME_DAYS_OF_OCTOBER = {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 20)}
OCTOBER = {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 11, 1)}
SEPTEMBER = {"start": dt.date(2026, 9, 1), "end": dt.date(2026, 10, 1)}
LAST_30_DAYS = {"start": dt.date(2026, 10, 21), "end": TODAY}  # whole days before today
EC2, S3 = "Amazon Elastic Compute Cloud", "Amazon Simple Storage Service"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PERIOD_FORMS = "Try one of: mtd, yesterday, last 7d, last 30d, last month, 2026-10"


# --- asking, and reading what Slack shows ---------------------------------------------------


WORKING = ":hourglass_flowing_sand: Working on"


def is_answer(message: dict[str, Any]) -> bool:
    """A message costbot posted as an answer (not the "Working on…" note it replaces)."""
    return message["origin"] in ("response_url", "upload") and not message["text"].startswith(
        WORKING
    )


def ask(stack: Stack, text: str, *, channel: str = NLP_CHANNEL) -> dict[str, Any]:
    """Sends ``/cost text``; checks that a "working on it" note came at once and that the
    answer took its place (one message per question); returns the answer."""
    seen = stack.slack.messages()
    seq = stack.slack.ui_events(0, timeout=0)["seq"]
    result = stack.slack.send_command(user_id=DEV, channel_id=channel, text=text)
    assert result.status == 200 and result.elapsed_s < 3.0
    answer = stack.slack.wait_for_message(
        is_answer, timeout=10, after_ts=seen[-1]["ts"] if seen else None
    )
    assert answer["ephemeral_for"] is None, f"/cost {text} failed: {answer['text']}"
    assert answer["channel"] == channel
    events = stack.slack.ui_events(seq, timeout=0)["events"]
    first = next(e for e in events if e["type"] == "message")
    assert first["message"]["text"].startswith(WORKING), first
    assert first["message"]["ephemeral_for"] == DEV  # the note came first, to the asker only
    wait_until(  # a chart's answer is posted first, then the note goes
        lambda: not any(m["text"].startswith(WORKING) for m in stack.slack.messages()), 15
    )
    return answer


def ask_wrongly(stack: Stack, text: str) -> dict[str, Any]:
    """Sends a ``/cost`` that cannot be answered; returns the ack (which must say why)."""
    result = stack.slack.send_command(user_id=DEV, channel_id=NLP_CHANNEL, text=text)
    assert result.status == 200 and result.elapsed_s < 3.0, text
    ack = result.json()
    assert ack["response_type"] == "ephemeral", (text, ack)
    assert ack["text"].startswith(":warning:"), (text, ack["text"])  # not "working on it"
    return ack


def fields(message: dict[str, Any]) -> list[str]:
    """The section fields, in order: one per group ("*key*\\namount …")."""
    return [f["text"] for b in message["blocks"] for f in b.get("fields", [])]


def shown(message: dict[str, Any]) -> str:
    """Everything the message shows (blocks and fallback), as one string."""
    texts = [message["text"]]
    for block in message["blocks"]:
        for part in (block.get("text"), *block.get("fields", []), *block.get("elements", [])):
            if isinstance(part, dict):
                texts.append(part.get("text", ""))
    return "\n".join(texts)


def mrkdwn(message: dict[str, Any]) -> list[str]:
    """The texts Slack parses for mentions: the fallback and every mrkdwn text object."""
    found = [message["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


def dollars(text: str) -> list[Decimal]:
    return [Decimal(m.replace(",", "")) for m in re.findall(r"\$(-?[\d,]+\.\d\d)", text)]


def public_messages(stack: Stack) -> list[dict[str, Any]]:
    return stack.slack.messages(NLP_CHANNEL, include_ephemeral=False)


@pytest.fixture(autouse=True)
def every_message_is_valid(stack: Stack):
    """After each test: every message costbot left respects Slack's limits, with no traceback."""
    yield
    for message in stack.slack.messages():
        if not message["bot_id"] or message["origin"] == "upload":  # a file share has no blocks
            continue
        assert limit_violations(message) == [], message["text"]
        assert "Traceback" not in json.dumps(message), message["text"]
        assert "internal error" not in message["text"], message["text"]


# --- team … by / metric --------------------------------------------------------------------


def test_team_by_service_shows_the_total_each_service_and_the_month_before(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "team nlp by service")

    total = small_export.total(team="nlp", **MTD)
    before = small_export.total(team="nlp", **SAME_DAYS_OF_OCTOBER)
    services = small_export.by_service(team="nlp", **MTD)
    services_before = small_export.by_service(team="nlp", **SAME_DAYS_OF_OCTOBER)
    text = shown(answer)
    assert f"*{money(total)}* billed cost (unblended)" in text
    assert "Nov 1 – Nov 19, 2026 (month to date)" in text  # today's costs still arriving
    assert f"vs {money(before)} in same days of October" in text
    assert f"{percent(total / 30000 * 100)} of the monthly budget of $30,000.00 used" in text
    assert fields(answer) == [  # largest first, each with its change
        f"*{service}*\n{money(amount)} :arrow_up: {signed_money(amount - services_before[service])}"
        for service, amount in sorted(services.items(), key=lambda item: -item[1])
    ]


def test_metric_effective_says_so_and_adds_up_effective_cost(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "team nlp metric effective")

    effective = small_export.total(team="nlp", column="EffectiveCost", **MTD)
    billed = small_export.total(team="nlp", **MTD)
    text = shown(answer)
    assert f"*{money(effective)}* effective cost (net amortized)" in text
    assert money(billed) not in text
    assert "billed" not in text  # the footer names the cost type too
    ec2 = small_export.total(team="nlp", service=EC2, column="EffectiveCost", **MTD)
    assert fields(answer)[0].startswith(f"*{EC2}*\n{money(ec2)}")


def test_by_day_lists_every_day_in_date_order_without_a_comparison(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "team nlp by day")

    days = small_export.by_day(team="nlp", **MTD)
    assert "*By day*" in shown(answer)
    assert f"*{money(sum(days.values()))}* billed" in shown(answer)
    # A day has no counterpart in the period before, so no per-day change is shown.
    assert fields(answer) == [
        f"*{day.isoformat()}*\n{money(amount)}" for day, amount in sorted(days.items())
    ]


def test_by_day_lists_only_days_of_the_period(stack: Stack, small_export: SmallExport):
    answer = ask(stack, "team nlp by day last 7d")

    days = small_export.by_day(team="nlp", start=dt.date(2026, 11, 13), end=TODAY)
    listed = [field.split("\n")[0].strip("*") for field in fields(answer)]
    assert sorted(listed) == [day.isoformat() for day in sorted(days)]


# --- top, untagged ------------------------------------------------------------------------


def test_top_by_team_lists_each_team_and_untagged_adding_up_to_everything(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "top")

    by_team = small_export.by_team(**MTD)
    # recommendations has no cost in this export, now or then: it is not a line.
    expected = {
        "fraud-detection": by_team["fraud-detection"],
        "nlp": by_team["nlp"],
        "(untagged)": by_team[None],
    }
    listed = {f.split("\n")[0].strip("*"): dollars(f)[0] for f in fields(answer)}
    assert listed == {team: amount.quantize(Decimal("0.01")) for team, amount in expected.items()}
    # [shared.platform] matches no line of this export: no share is added or shown, so every
    # team's figure is its own cost and the lines add up to the whole bill.
    assert "platform" not in shown(answer)
    assert f"*{money(small_export.total(**MTD))}* billed" in shown(answer)
    assert f"*{money(small_export.total(team='nlp', **MTD))}* billed" in shown(
        ask(stack, "team nlp")
    )


def test_top_n_by_service_cuts_at_n(stack: Stack, small_export: SmallExport):
    services = small_export.by_service(**MTD)

    top_two = ask(stack, "top 2 by service")
    assert "Top 2 by service · month to date" in shown(top_two)
    assert [f.split(" :arrow")[0] for f in fields(top_two)] == [
        f"*{EC2}*\n{money(services[EC2])}",
        f"*{S3}*\n{money(services[S3])}",
    ]
    top_one = ask(stack, "top 1 by service")
    assert [f.split(" :arrow")[0] for f in fields(top_one)] == [
        f"*{EC2}*\n{money(services[EC2])}",
        f"*Others*\n{money(services[S3])}",
    ]


def test_untagged_is_the_sum_of_the_untagged_rows(stack: Stack, small_export: SmallExport):
    answer = ask(stack, "untagged")

    untagged = small_export.by_service(team=None, **MTD)
    assert f"*{money(sum(untagged.values()))}* billed" in shown(answer)
    assert [f.split(" :arrow")[0] for f in fields(answer)] == [
        f"*{service}*\n{money(amount)}"
        for service, amount in sorted(untagged.items(), key=lambda item: -item[1])
    ]


# --- compare ------------------------------------------------------------------------------


def test_compare_shows_both_periods_and_the_biggest_movers_first(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "compare 2026-11-01..2026-11-10 vs 2026-10-01..2026-10-10 team nlp")

    november = small_export.by_service(
        team="nlp", start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 11)
    )
    october = small_export.by_service(
        team="nlp", start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 11)
    )
    movers = sorted(november, key=lambda service: -abs(november[service] - october[service]))
    text = shown(answer)
    assert "nlp · 2026-11-01 to 2026-11-10 vs 2026-10-01 to 2026-10-10" in text
    assert f"*{money(sum(november.values()))}* billed" in text
    assert f"vs {money(sum(october.values()))} in 2026-10-01 to 2026-10-10" in text
    assert "*Biggest movers*" in text
    assert fields(answer) == [
        f"*{service}*\n{money(october[service])} → {money(november[service])} "
        f":arrow_up: {signed_money(november[service] - october[service])}"
        for service in movers
    ]
    assert "Data through Nov 10, 2026" in text  # the last day of data the answer holds


def test_compare_with_a_month_only_partly_in_the_export_shows_no_change(
    stack: Stack, small_export: SmallExport
):
    # Was: October against the 6 days of September in the export, as if Sep 1 – 24 had
    # cost $0.00, with an arrow up on every service.
    answer = ask(stack, "compare 2026-10 vs 2026-09 team nlp")

    october = small_export.by_service(team="nlp", **OCTOBER)
    text = shown(answer)
    assert f"*{money(sum(october.values()))}* billed" in text
    assert " vs $" not in text and "arrow" not in text and "→" not in text
    assert "Biggest movers" not in text
    assert fields(answer) == [
        f"*{service}*\n{money(amount)}"
        for service, amount in sorted(october.items(), key=lambda item: -item[1])
    ]
    assert text.count("to compare with") == 1
    assert "There is no data for Sep 1 – Sep 24, 2026 to compare with" in text


# --- fair comparisons (issue 13) -----------------------------------------------------------


@pytest.mark.parametrize("question", ["team nlp", "top", "compare mtd vs last month"])
def test_every_answer_says_which_day_its_data_runs_through(stack: Stack, question: str):
    answer = ask(stack, question)
    footer = answer["blocks"][-1]
    assert footer["type"] == "context"
    # Today (Nov 20) is still arriving: the export's later days are in no answer about "now".
    assert "Data through Nov 19, 2026" in footer["elements"][0]["text"]


def test_against_missing_data_no_change_figure_and_no_arrow_on_any_service(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "team nlp last 999d")

    services = small_export.by_service(team="nlp", start=dt.date(2024, 2, 25), end=TODAY)
    text = shown(answer)
    assert f"*{money(sum(services.values()))}* billed" in text
    assert " vs $" not in text and "chart_with" not in text and "%)" not in text
    assert fields(answer) == [  # each service's cost, no arrow and no change
        f"*{service}*\n{money(amount)}"
        for service, amount in sorted(services.items(), key=lambda item: -item[1])
    ]
    assert text.count("to compare with") == 1
    # The period is clipped to the export (from Sep 25, 2026), and said so; there is no
    # data for the 56 days before it to compare with.
    assert "has data for Sep 25 – Nov 19, 2026 only, not all of" in text
    assert "There is no data for Jul 31 – Sep 24, 2026 to compare with" in text


# --- forecast -----------------------------------------------------------------------------


def _forecast(small_export: SmallExport, **team: str) -> tuple[MonthEndForecast, Decimal]:
    """What the engine forecasts from the export's own days, and the old flat run-rate's figure
    (month to date + 11 days at the mean of the last 14), which a growing export exceeds."""
    history = small_export.by_day(start=dt.date(2026, 10, 16), end=TODAY, **team)
    assert len(history) >= 28  # enough for the trend
    expected = forecast_month_end(
        sorted(history.items()), today=TODAY, metric=Metric.BILLED, currency="USD"
    )
    last_14 = [cost for day, cost in history.items() if day >= dt.date(2026, 11, 6)]
    actual = small_export.total(start=dt.date(2026, 11, 1), end=TODAY, **team)
    return expected, actual + 11 * sum(last_14) / 14  # Nov 20 (today, partial) to Nov 30


@pytest.mark.parametrize(
    ("text", "team", "subject", "budget"),
    [
        ("forecast nlp", {"team": "nlp"}, "nlp", Decimal(30000)),
        ("forecast", {"team": ANY_TEAM}, "all teams", Decimal(95000)),
    ],
)
def test_forecast_follows_the_trend_and_states_its_method_and_a_range(
    stack: Stack, small_export: SmallExport, text, team, subject, budget
):
    answer = ask(stack, text)

    expected, flat = _forecast(small_export, **team)
    shown_text = shown(answer)
    assert f"{subject} · forecast to month end" in shown_text
    assert (
        f"*{money(expected.amount)}* billed cost (unblended) expected for Nov 1 – Nov 30"
    ) in shown_text
    assert expected.amount > flat  # the export grows every day: the trend sees it
    assert (
        "Method: month to date (Nov 1–19) + linear trend of the last 28 days, with weekday "
        "pattern (daily cost rising "
    ) in shown_text
    assert "for 11 days; 80% band from the scatter around the trend" in shown_text
    low, high = dollars(re.search(r"Likely between \S+ and \S+", shown_text).group(0))
    assert expected.lower is not None and expected.upper is not None
    assert abs(low - expected.lower) <= Decimal("0.01")
    assert abs(high - expected.upper) <= Decimal("0.01")
    assert f"of the budget of {money(budget)}" in shown_text


# --- trend --------------------------------------------------------------------------------


def test_trend_uploads_a_png_chart_to_the_channel_and_answers_with_total_and_average(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "trend nlp")

    assert public_messages(stack) == [answer]  # one message: the answer with its chart
    (chart,) = answer["files"]
    assert chart["mimetype"] == "image/png"
    assert NLP_CHANNEL in chart["channels"]
    assert stack.slack.file_bytes(chart["id"]).startswith(PNG_SIGNATURE)

    days = small_export.by_day(team="nlp", **LAST_30_DAYS)
    total = sum(days.values())
    peak_day = max(days, key=days.get)
    text = shown(answer)
    assert "nlp · daily trend" in text
    assert f"*{money(total)}* billed cost (unblended), Oct 21 – Nov 19, 2026" in text
    assert f"Average {money(total / 30)}/day" in text
    assert f"peak {money(days[peak_day])} on {peak_day:%b %-d}" in text


def test_a_trend_since_2000_is_drawn_over_the_days_with_data_and_says_so(
    stack: Stack, small_export: SmallExport
):
    answer = ask(stack, "trend nlp 2000-01-01..2026-11-19")

    days = small_export.by_day(team="nlp", start=dt.date(2026, 9, 25), end=TODAY)
    text = shown(answer)
    assert "nlp · daily trend" in text  # 56 days with data: one bar a day
    assert f"*{money(sum(days.values()))}* billed cost (unblended), Sep 25 – Nov 19, 2026" in text
    assert f"Average {money(sum(days.values()) / 56)}/day" in text
    assert "has data for Sep 25 – Nov 19, 2026 only, not all of Jan 1, 2000" in text


def test_what_the_user_typed_never_becomes_a_mention_in_the_channel(stack: Stack):
    for text in ("top by tag:<!channel>", "untagged by tag:<!here>", "team nlp by tag:<@U0X>"):
        answer = ask(stack, text)
        mentions = re.findall(r"<[!@][^>]*>", "\n".join(mrkdwn(answer)))
        assert mentions == [f"<@{DEV}>"], text  # only "Asked by", in the footer
        assert "tag:&lt;" in shown(answer), text  # shown as typed, escaped


# --- help ---------------------------------------------------------------------------------


def test_help_shows_how_to_ask_every_question(stack: Stack):
    result = stack.slack.send_command(user_id=DEV, channel_id=NLP_CHANNEL, text="help")

    help_text = shown(result.json())
    for question in ("team", "top", "untagged", "compare", "forecast", "trend"):
        assert f"`/cost {question} " in help_text, question
    assert "vs" in help_text and " by " in help_text and "metric effective" in help_text
    assert public_messages(stack) == []

    usage = next(b["text"]["text"] for b in result.json()["blocks"] if "*Usage*" in str(b))
    examples = re.findall(r"`/cost ([^`]+)`", usage)  # the AWS commands' lines are syntax
    for example in examples:  # every example works as it is written
        if example != "help":
            ask(stack, example)


# --- mistakes: answered at once, only to the asker, saying what would work ------------------
# (one test per kind of mistake, each trying every subcommand: a running stack per case would
# cost a second each)

UNKNOWN_TEAM = (
    "team nlpp",
    "team nlpp by service last 7d",
    "compare 2026-10 vs 2026-09 team nlpp",
    "forecast nlpp",
    "forecast team nlpp metric effective",
    "trend nlpp",
)
BAD_PERIOD = (
    ("team nlp 2026-13", "I can't use '2026-13' as a period: there is no month 13"),
    ("top last fortnight", "I can't use 'last fortnight' as a period"),
    ("untagged by region sometime", "I can't use 'sometime' as a period"),
    ("compare 2026-10 vs 2026-12", "December 2026 is in the future"),
    ("trend nlp 2026-11-01..2026-11-31", "'2026-11-31' is not a date"),
)
OTHER_MISTAKES = (
    ("top 500", "`/cost top 500`: choose between 1 and 25.", "/cost top"),
    ("compare 2026-10 team nlp", "needs two periods with `vs` between them", "vs 2026-09"),
    ("team nlp by colour", "I can't group by 'colour'.", "Group by one of: service,"),
    ("top by colour", "I can't group by 'colour'.", "Group by one of: service,"),
    ("untagged by team", "Group by team only works across teams.", "/cost top by team"),
    ("team nlp by team", "Group by team only works across teams.", "/cost top by team"),
    ("forecast nlp last 7d", "I don't understand 'last 7d'", "/cost forecast nlp"),
    ("trend", "`/cost trend` needs a team name.", "/cost trend nlp"),
)


def test_an_unknown_team_gets_a_suggestion_only_the_asker_sees(stack: Stack):
    for text in UNKNOWN_TEAM:
        ack = ask_wrongly(stack, text)
        assert "no team 'nlpp' — did you mean 'nlp'?" in ack["text"], text
        assert "`fraud-detection`, `nlp`, `recommendations`" in shown(ack), text
    assert public_messages(stack) == []


def test_a_bad_period_says_which_forms_work(stack: Stack):
    for text, says in BAD_PERIOD:
        ack = ask_wrongly(stack, text)
        assert says in ack["text"], text
        assert PERIOD_FORMS in shown(ack), text
    assert public_messages(stack) == []


def test_other_mistakes_are_explained_in_the_ack(stack: Stack):
    for text, says, hint in OTHER_MISTAKES:
        ack = ask_wrongly(stack, text)
        assert says in ack["text"], text
        assert hint in shown(ack), text
    assert public_messages(stack) == []


def test_a_period_outside_the_data_names_what_the_data_covers(stack: Stack):
    stack.slack.send_command(user_id=DEV, channel_id=NLP_CHANNEL, text="top 2025-01")
    failure = stack.slack.wait_for_message(is_answer, timeout=10)

    assert failure["ephemeral_for"] == DEV
    assert "There is no cost data for Jan 1 – Jan 31, 2025" in failure["text"]
    assert "covers Sep 25 – Nov 23, 2026" in failure["text"]
    # About the question asked (⚠️), said once: not "Could not get X: there is no data for X".
    assert failure["text"].startswith(":warning:"), failure["text"]
    assert "Could not get" not in failure["text"]
    assert failure["text"].count("Jan 1 – Jan 31, 2025") == 1
    assert public_messages(stack) == []

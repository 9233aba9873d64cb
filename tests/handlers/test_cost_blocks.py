"""Every /cost message is readable, says its cost type, and respects Slack's limits."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.demo.slack_standin import limit_violations
from engines.costs.answers import Answer, Line
from engines.errors import UnknownTeamError, UserInputError
from engines.models import Metric, Period, Team
from handlers.blocks.common import cost, money
from handlers.blocks.text import render_text
from handlers.cost.blocks import (
    build_answer_message,
    build_error_message,
    build_failure_message,
    build_help_message,
    build_working_message,
)
from handlers.digests.home_blocks import build_app_home

TEAM = Team(
    name="fraud-detection",
    tags={"team": "fraud-detection"},
    channel="#fraud-detection-costs",
    approvers=("U0DEMOALICE",),
    monthly_budget=Decimal("25000"),
)
MTD = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "month to date")
BEFORE = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 30), "same days of October")


def ServiceCost(name, amount, previous):  # CamelCase: reads like the rows it builds
    return Line(name, amount, previous)


def summary(services, *, previous_total=Decimal("10000"), by_currency=None) -> Answer:
    total = sum((s.amount for s in services), Decimal(0))
    return Answer(
        subject=TEAM.name,
        period=MTD,
        previous_period=BEFORE,
        metric=Metric.BILLED,
        currency="USD",
        dimension="service",
        total=total,
        previous_total=previous_total,
        lines=tuple(services),
        other_currencies={k: v for k, v in (by_currency or {}).items() if k != "USD"},
        source="focus",
    )


def build_team_cost_message(answer, team, *, asked_by=""):
    return build_answer_message(
        answer,
        title=f"{team.name} · month to date",
        budget=team.monthly_budget,
        asked_by=asked_by,
    )


def test_team_cost_message_shows_total_change_services_budget_and_cost_type():
    msg = build_team_cost_message(
        summary(
            [
                ServiceCost("Amazon Elastic Compute Cloud", Decimal("9000.126"), Decimal("7000")),
                ServiceCost("Amazon Simple Storage Service", Decimal("1000"), Decimal("1200")),
            ],
            previous_total=Decimal("8000"),
        ),
        TEAM,
        asked_by="U0DEMOBOB",
    )
    text = render_text(msg)
    assert "$10,000.13" in text  # to the cent, rounded half up
    assert "billed cost (unblended)" in text
    assert "+$2,000.13 (+25.0%) vs $8,000.00 in same days of October" in text
    assert "Amazon Elastic Compute Cloud: $9,000.13 ↑ +$2,000.13" in text
    assert "40.0% of the monthly budget of $25,000.00 used" in text
    assert "same days of October" in text
    assert "@U0DEMOBOB" in text
    assert msg["response_type"] == "in_channel"
    assert msg["text"].startswith("fraud-detection: $10,000.13 billed cost (unblended)")
    assert limit_violations(msg) == []


def test_other_currencies_are_shown_and_not_added():
    msg = build_team_cost_message(
        summary(
            [ServiceCost("Amazon EC2", Decimal("100"), Decimal("0"))],
            by_currency={"USD": Decimal("100"), "EUR": Decimal("40")},
        ),
        TEAM,
    )
    text = render_text(msg)
    assert "€40.00" in text and "not added" in text
    assert "$100.00" in text and "$140.00" not in text


def test_zero_previous_total_has_no_percentage():
    msg = build_team_cost_message(
        summary([ServiceCost("S", Decimal("5"), Decimal("0"))], previous_total=Decimal("0")), TEAM
    )
    assert "+$5.00 vs $0.00" in render_text(msg)


def test_unknown_team_suggests_and_lists():
    error = UnknownTeamError(
        "fraud-detectoin", suggestions=["fraud-detection"], known=["fraud-detection", "nlp"]
    )
    msg = build_error_message(error)
    text = render_text(msg)
    assert "no team 'fraud-detectoin' — did you mean 'fraud-detection'?" in text
    assert "`nlp`" in text
    assert msg["response_type"] == "ephemeral"


def test_user_text_is_escaped_in_errors():
    msg = build_error_message(UserInputError("I don't know `/cost <!channel>`"))
    assert "<!channel>" not in msg["blocks"][0]["text"]["text"]


def test_help_lists_examples_and_teams():
    text = render_text(build_help_message(["nlp", "fraud-detection"]))
    assert "/cost team fraud-detection" in text and "last 7d" in text
    assert "`fraud-detection`, `nlp`" in text


names = st.text(min_size=1, max_size=400)
amounts = st.decimals(min_value=-(10**9), max_value=10**12, places=4, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(names, amounts, amounts), min_size=0, max_size=60),
    st.text(max_size=5000),
)
def test_every_message_respects_slack_limits(services, hostile_text):
    rows = [ServiceCost(name, amount, previous) for name, amount, previous in services]
    messages = [
        build_team_cost_message(summary(rows), TEAM, asked_by="U1"),
        build_error_message(UserInputError(hostile_text, hint=hostile_text), show_usage=True),
        build_failure_message(hostile_text, hostile_text),
        build_working_message(hostile_text),
        build_help_message([hostile_text[:50]] * 30),
    ]
    for msg in messages:
        assert limit_violations(msg) == [], msg


def test_app_home_shows_role_and_budget():
    view = build_app_home(user="U0DEMOALICE", teams=[TEAM])
    text = render_text(view)
    assert "fraud-detection — you approve its changes" in text
    assert "$25,000.00" in text
    assert len(view["blocks"]) <= 100


@pytest.mark.parametrize(
    "amount,expected",
    [
        (Decimal("1234.565"), "$1,234.57"),
        (Decimal("-0.004"), "$0.00"),
        (Decimal("-12.5"), "-$12.50"),
    ],
)
def test_money(amount, expected):
    assert money(amount) == expected


@pytest.mark.parametrize(
    "amount,expected",
    [
        (Decimal("12.5"), "$12.50"),
        (Decimal("0"), "$0.00"),
        (Decimal("-0.004"), "$0.00"),  # rounds to nothing: not a credit
        (Decimal("-12"), "\u2212$12.00 (credit)"),
        (Decimal("-1234.565"), "\u2212$1,234.57 (credit)"),
        (Decimal("-5"), "\u22125.00 CHF (credit)"),
    ],
)
def test_a_negative_cost_reads_as_a_credit(amount, expected):
    currency = "CHF" if "CHF" in expected else "USD"
    assert cost(amount, currency) == expected


def test_credits_in_an_answer_read_as_credits_and_reduce_the_total():
    msg = build_team_cost_message(
        summary(
            [
                ServiceCost("Amazon EC2", Decimal("30.10"), Decimal("20")),
                ServiceCost("AWS Support", Decimal("-12.00"), Decimal("0")),
            ],
            previous_total=Decimal("20"),
        ),
        TEAM,
    )
    text = render_text(msg)

    assert "$18.10" in text  # the total: 30.10 less the 12.00 credit
    fields = [f["text"] for block in msg["blocks"] for f in block.get("fields", [])]
    assert "*AWS Support*\n\u2212$12.00 (credit) :arrow_down: -$12.00" in fields
    assert "\n-$12.00" not in text  # the amount itself never a bare minus (the change may be)


def test_a_period_of_credits_only_reads_as_a_credit_in_the_headline():
    msg = build_team_cost_message(
        summary([ServiceCost("Credits", Decimal("-40"), Decimal("0"))], previous_total=Decimal(0)),
        TEAM,
    )

    assert msg["blocks"][1]["text"]["text"].startswith("*\u2212$40.00 (credit)* billed")
    assert "\u2212$40.00 (credit)" in msg["text"]


# --- a long trend: one bar a week, and what the period was cut to --------------------------


def test_a_weekly_trend_says_per_week_and_what_the_period_was_cut_to():
    from engines.costs.answers import Trend, TrendUnit
    from handlers.cost.blocks import build_trend_message
    from handlers.cost.charts import render_daily_trend_png

    weeks = tuple(
        (dt.date(2025, 12, 4) + dt.timedelta(days=7 * n), Decimal(70 + n)) for n in range(53)
    )
    note = "A question covers at most 366 days: this one uses the last 366, Dec 4, 2025 – …"
    trend = Trend("nlp", Period(dt.date(2025, 12, 4), dt.date(2026, 12, 5)), Metric.BILLED,
                  "USD", weeks, "focus", TrendUnit.WEEK, (note,))  # fmt: skip

    message = build_trend_message(trend)
    text = render_text(message)
    assert "nlp · weekly trend" in text
    assert "/week" in text and "/day" not in text
    assert "peak $122.00 in the week from Dec 3" in text
    assert note in text
    assert limit_violations(message) == []
    for unit in ("week", "month"):
        png = render_daily_trend_png(weeks, title="nlp · weekly", unit=unit)
        assert png.startswith(b"\x89PNG")

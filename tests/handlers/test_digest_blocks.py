"""The digest and alert messages: what a reader sees, within Slack's limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.demo.slack_standin import limit_violations, validate_blocks
from engines.config.teams import find_team, load_config
from engines.digests.budgets import Alert, AlertKind, evaluate_alerts
from engines.digests.digest import build_digest
from handlers import action_ids
from handlers.blocks.text import render_text
from handlers.digests.blocks import budget_bar, build_alert_message, build_digest_message, sparkline
from handlers.digests.home_blocks import TeamHome, build_app_home
from tests.engines.daily_costs import DailyCosts

TEAMS = load_config(
    '[teams.nlp]\ntags = { team = "nlp" }\nchannel = "#nlp-costs"\nmonthly_budget = 3000\n',
    filename="teams.toml",
).teams


def test_a_sparkline_and_a_budget_bar_in_text():
    assert sparkline([Decimal(1), Decimal(5), Decimal(9)]) == "▁▄█"
    assert sparkline([Decimal(3)] * 3) == "▄▄▄"
    assert budget_bar(Decimal(62), Decimal(100), width=10) == "`▓▓▓▓▓▓░░░░` 62%"
    assert budget_bar(Decimal(130), Decimal(100), width=10) == "`▓▓▓▓▓▓▓▓▓▓` 130%"


def test_the_digest_reads_as_a_morning_briefing():
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), dt.date(2026, 11, 19), "nlp", "EC2", "80")
    costs.add(dt.date(2026, 11, 19), "nlp", "SageMaker", "400")
    digest = build_digest(
        costs, TEAMS, (), team=find_team(TEAMS, "nlp"), today=dt.date(2026, 11, 20)
    )

    message = build_digest_message(digest)
    text = render_text(message)

    assert text.startswith("nlp · daily digest · Fri Nov 20")
    assert "Thu Nov 19: $480.00 (+500.0% vs 7-day average)" in text
    assert "$1,920.00 of $3,000.00" in text and "64%" in text
    assert "• SageMaker: $400.00 (+$400.00, new vs average $0.00)" in text
    assert "Anomalies" in text and "SageMaker cost $400.00 on Nov 19" in text
    assert "Nothing open. Look for some: `/cost rightsize nlp`" in text
    assert "response_type" not in message  # posted by the outbox, not a /cost answer
    assert limit_violations(message) == [] and validate_blocks(message["blocks"]) == []


def test_an_alert_has_its_three_buttons_and_says_what_crossed():
    alert = Alert("nlp", AlertKind.BUDGET, Decimal(80), "2026-11", Decimal("2450"),
                  Decimal("3000"), "USD")  # fmt: skip

    message = build_alert_message(alert)

    text = render_text(message)
    assert "nlp has spent 80% of its budget" in text
    assert "Month to date: $2,450.00 of $3,000.00 (2026-11)" in text
    assert "[Snooze 24 h] [Show top drivers] [Propose savings]" in text
    (actions,) = [block for block in message["blocks"] if block["type"] == "actions"]
    ids = [element["action_id"] for element in actions["elements"]]
    assert ids == [action_ids.ALERT_SNOOZE, action_ids.ALERT_DRIVERS,
                   action_ids.ALERT_PROPOSE_SAVINGS]  # fmt: skip
    assert limit_violations(message) == [] and validate_blocks(message["blocks"]) == []


def rising_costs() -> DailyCosts:
    """nlp's EC2 bill rises 2 a day from 60 on Oct 1 to 158 on Nov 19."""
    costs = DailyCosts()
    for n in range(50):
        costs.add(dt.date(2026, 10, 1) + dt.timedelta(days=n), "nlp", "EC2", str(60 + 2 * n))
    return costs


def test_every_forecast_surface_shows_the_method_and_the_range():
    today = dt.date(2026, 11, 20)
    digest = build_digest(rising_costs(), TEAMS, (), team=find_team(TEAMS, "nlp"), today=today)
    forecast = digest.figures.forecast
    assert forecast is not None and forecast.lower is not None and forecast.upper is not None
    # Nov 1..19 cost 2,660; Nov 20..30 go on rising, 160 to 180: 1,870 more.
    assert forecast.amount == Decimal(4530)
    method = (
        "month to date (Nov 1–19) + linear trend of the last 28 days, with weekday pattern "
        "(daily cost rising 2.00 USD each day) for 11 days; "
        "80% band from the scatter around the trend"
    )

    digest_text = render_text(build_digest_message(digest))
    assert "Month-end forecast: $4,530.00 (151.0% of budget)" in digest_text
    assert "likely $4,530.00 – $4,530.00" in digest_text  # a perfect line: no spread
    assert f"Forecast: {method}" in digest_text

    home = render_text(
        build_app_home(user="U1", teams=[TEAMS["nlp"]], homes={"nlp": TeamHome(digest.figures)})
    )
    assert "Month-end forecast: $4,530.00 (likely $4,530.00 – $4,530.00)" in home
    assert f"Forecast: {method}" in home

    (alert,) = [a for a in evaluate_alerts(TEAMS["nlp"], digest.figures)
                if a.kind is AlertKind.FORECAST]  # fmt: skip
    alert_text = render_text(build_alert_message(alert))
    assert "Month-end forecast: $4,530.00, 151.0% of the $3,000.00 budget" in alert_text
    assert f"Forecast: {method}" in alert_text


def test_a_day_of_credits_reads_as_a_credit_in_the_digest():
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), dt.date(2026, 11, 19), "nlp", "EC2", "80")
    costs.add(dt.date(2026, 11, 19), "nlp", "Credits", "-500")
    digest = build_digest(
        costs, TEAMS, (), team=find_team(TEAMS, "nlp"), today=dt.date(2026, 11, 20)
    )

    text = render_text(build_digest_message(digest))

    assert "Thu Nov 19: \u2212$420.00 (credit)" in text  # 80 of EC2 less a 500 credit
    assert "• Credits: \u2212$500.00 (credit)" in text

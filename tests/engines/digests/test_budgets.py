"""Budget alerts: which thresholds hold, and that each is sent once per period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from engines.config.teams import find_team, load_config
from engines.digests.budgets import AlertKind, alerts_to_send, evaluate_alerts
from engines.digests.digest import team_figures
from tests.engines.daily_costs import DailyCosts

TEAMS = load_config(
    """
[teams.nlp]
tags = { team = "nlp" }
channel = "#nlp-costs"
monthly_budget = 3000
""",
    filename="teams.toml",
).teams
NLP = TEAMS["nlp"]


def alerts(costs: DailyCosts, today: dt.date):
    figures = team_figures(costs, TEAMS, (), team=find_team(TEAMS, "nlp"), today=today)
    return evaluate_alerts(NLP, figures)


def spend(daily: str, first: dt.date, last: dt.date) -> DailyCosts:
    costs = DailyCosts()
    costs.every_day(first, last, "nlp", "EC2", daily)
    return costs


def test_half_the_budget_spent_alerts_at_50_percent_only():
    costs = spend("100", dt.date(2026, 10, 20), dt.date(2026, 11, 15))  # Nov: 1,500

    fired = alerts(costs, dt.date(2026, 11, 16))

    budget = [a for a in fired if a.kind is AlertKind.BUDGET]
    assert [a.threshold for a in budget] == [Decimal(50)]
    assert budget[0].amount == Decimal(1500) and budget[0].key == "alert:nlp:budget:50:2026-11"


def test_the_forecast_alerts_before_the_budget_is_blown():
    costs = spend("110", dt.date(2026, 10, 20), dt.date(2026, 11, 9))  # 110/day: 3,300/month

    kinds = {a.kind for a in alerts(costs, dt.date(2026, 11, 10))}

    assert AlertKind.FORECAST in kinds
    assert not any(a.threshold == 100 for a in alerts(costs, dt.date(2026, 11, 10))
                   if a.kind is AlertKind.BUDGET)  # fmt: skip


def test_each_threshold_is_sent_once_per_month():
    sent: set[str] = set()
    costs = spend("100", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    messages = []
    for day in range(1, 48):  # every day of a month and into the next
        today = dt.date(2026, 11, 1) + dt.timedelta(days=day)
        plan = alerts_to_send(alerts(costs, today), already_sent=sent.__contains__)
        sent |= {a.key for a in plan.send + plan.superseded}
        messages += [(today, a.kind, a.threshold) for a in plan.send]

    budget = [(day, t) for day, kind, t in messages if kind is AlertKind.BUDGET]
    assert budget == [
        (dt.date(2026, 11, 16), Decimal(50)),  # 1,500 of 3,000 after 15 days
        (dt.date(2026, 11, 25), Decimal(80)),  # 2,400 after 24 days
        (dt.date(2026, 12, 16), Decimal(50)),  # December is a new budget period
    ]
    forecast = [day for day, kind, _ in messages if kind is AlertKind.FORECAST]
    assert forecast == [dt.date(2026, 11, 2), dt.date(2026, 12, 1)]  # on track for 100%: once


def test_crossing_several_thresholds_at_once_sends_the_highest_only():
    costs = spend("100", dt.date(2026, 10, 1), dt.date(2026, 11, 5))
    costs.add(dt.date(2026, 11, 5), "nlp", "EC2", "2000")  # 2,600 by Nov 6

    plan = alerts_to_send(alerts(costs, dt.date(2026, 11, 6)), already_sent=lambda key: False)

    assert [a.threshold for a in plan.send if a.kind is AlertKind.BUDGET] == [Decimal(80)]
    assert [a.threshold for a in plan.superseded] == [Decimal(50)]


def test_a_day_far_above_its_average_is_a_spend_change_alert_once():
    costs = spend("100", dt.date(2026, 10, 1), dt.date(2026, 11, 5))
    costs.add(dt.date(2026, 11, 5), "nlp", "EC2", "60")  # 160: +60% on a 100 average

    (change,) = [a for a in alerts(costs, dt.date(2026, 11, 6)) if a.kind is AlertKind.SPEND_CHANGE]

    assert change.amount == Decimal(160) and change.reference == Decimal(100)
    assert change.key == "alert:nlp:spend_change:50:2026-11-05"
    calm = spend("100", dt.date(2026, 10, 1), dt.date(2026, 11, 5))
    assert not [a for a in alerts(calm, dt.date(2026, 11, 6)) if a.kind is AlertKind.SPEND_CHANGE]

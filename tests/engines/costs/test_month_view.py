"""The month view (issue 13, part 1): one month to date and one forecast per team and date.

Properties over random billing lines, teams, shared costs and as-of dates:

* each team's month to date + untagged + the shared cost left unsplit = the source's total
  (what `/cost top by team` lists beside the teams), through the last complete day;
* every surface (`/cost forecast`, the digest, App Home, the forecast alert) gives the month
  view's forecast for the same as-of date, exactly.

And the cases a person would notice: shared costs in the month to date, as `/cost team`
splits them; the last complete day, also when the export lags; Cost Explorer's own
forecast with the team's shared costs added.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.config.teams import find_team
from engines.costs import questions
from engines.costs.coverage import Coverage
from engines.costs.forecast_models import Forecast
from engines.costs.month_view import month_view
from engines.digests.budgets import AlertKind, evaluate_alerts
from engines.digests.digest import build_digest, team_figures
from engines.errors import CostSourceError
from engines.models import Metric, Period, SharedCost, SplitRule, Team
from handlers.blocks.common import money
from handlers.blocks.text import render_text
from handlers.digests.home_blocks import TeamHome, build_app_home
from tests.engines.daily_costs import DailyCosts

D = Decimal
NAMES = ("nlp", "fraud", "recs")
FIRST = dt.date(2026, 9, 20)
LAST = dt.date(2026, 12, 20)
SPAN = (LAST - FIRST).days
SERVICES = ("EC2", "S3")


def team(name: str, **extra) -> Team:
    return Team(name=name, tags={"team": name}, channel=f"#{name}", **extra)


def platform(split: SplitRule = "proportional", among: tuple[str, ...] = ()) -> SharedCost:
    return SharedCost(name="platform", tags={"team": "platform"}, split=split, among=among)


amounts = st.decimals(min_value=-50, max_value=500, places=4, allow_nan=False)
lines = st.lists(
    st.tuples(
        st.integers(0, SPAN),
        st.sampled_from((*NAMES, "platform", "unknown")),
        st.sampled_from(SERVICES),
        amounts,
    ),
    max_size=60,
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[DailyCosts, dict[str, Team], list[SharedCost], dt.date]:
    count = draw(st.integers(1, len(NAMES)))
    teams = {name: team(name) for name in NAMES[:count]}
    split = draw(st.sampled_from(("proportional", "even")))
    among = tuple(draw(st.lists(st.sampled_from(tuple(teams)), unique=True)))
    shared = draw(st.sampled_from(([], [platform(split, among)])))
    source = DailyCosts()
    for offset, owner, service, amount in draw(lines):
        source.add(FIRST + dt.timedelta(days=offset), owner, service, amount)
    today = FIRST + dt.timedelta(days=draw(st.integers(1, SPAN + 5)))
    return source, teams, shared, today


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_teams_untagged_and_unsplit_shared_add_up_to_the_source_total(world):
    source, teams, shared, today = world
    views = [
        month_view(
            source, teams, shared, today=today, team=find_team(teams, name), with_forecast=False
        )
        for name in teams
    ]
    whole = month_view(source, teams, shared, today=today, with_forecast=False)
    first = today.replace(day=1)
    expected = sum((a for day, _, _, a in source.lines if first <= day < today), D(0))
    assert whole.month_to_date == expected
    assert {view.data_through for view in views} <= {whole.data_through}
    assert whole.data_through == today - dt.timedelta(days=1)
    rest = D(0)
    if today.day > 1:
        top = questions.top_costs(
            source, teams, shared, period=Period(first, today), today=today, count=0
        )
        rest = sum(
            (line.amount for line in top.lines if line.key not in teams), D(0)
        )  # untagged and the shared cost left unsplit
        assert {k.key: k.amount for k in top.lines if k.key in teams and k.amount} == {
            view.subject: view.month_to_date for view in views if view.month_to_date
        }
    assert sum((view.month_to_date for view in views), D(0)) + rest == expected


steady = st.lists(st.decimals(min_value=0, max_value=300, places=2), min_size=91, max_size=91)


@settings(max_examples=25, deadline=None)
@given(
    nlp=steady,
    recs=steady,
    shared_daily=steady,
    as_of=st.integers(35, 91),
    split=st.sampled_from(("proportional", "even")),
)
def test_every_surface_gives_the_month_views_forecast_for_the_same_date(
    nlp, recs, shared_daily, as_of, split
):
    source = DailyCosts()
    for offset in range(91):
        day = FIRST + dt.timedelta(days=offset)
        source.add(day, "nlp", "EC2", nlp[offset])
        source.add(day, "recs", "S3", recs[offset])
        source.add(day, "platform", "EC2", shared_daily[offset])
    budgeted = team("nlp", monthly_budget=D(1), forecast_alert=D(100), spend_change_alert=None)
    teams = {"nlp": budgeted, "recs": team("recs")}
    shared = [platform(split)]
    today = FIRST + dt.timedelta(days=as_of)

    view = month_view(source, teams, shared, today=today, team=find_team(teams, "nlp"))
    figures = team_figures(source, teams, shared, team=find_team(teams, "nlp"), today=today)
    digest = build_digest(source, teams, shared, team=find_team(teams, "nlp"), today=today)
    alerts = evaluate_alerts(budgeted, figures)
    for budget_alert in (a for a in alerts if a.kind is AlertKind.BUDGET):
        assert budget_alert.amount == view.month_to_date
    assert figures.month_to_date == digest.figures.month_to_date == view.month_to_date
    if view.forecast is None:  # too few days with cost: no surface forecasts
        assert figures.forecast is None and digest.figures.forecast is None
        with pytest.raises(CostSourceError):
            questions.month_end_forecast(
                source, teams, today=today, team=find_team(teams, "nlp"), shared=shared
            )
        return
    answer = questions.month_end_forecast(
        source, teams, today=today, team=find_team(teams, "nlp"), shared=shared
    )
    forecast_alerts = [a for a in alerts if a.kind is AlertKind.FORECAST]
    home = render_text(
        {
            "text": "",
            "blocks": build_app_home(
                user="U1", teams=[budgeted], homes={"nlp": TeamHome(figures=figures)}
            )["blocks"],
        }
    )

    made = view.forecast
    for other in (answer.forecast, figures.forecast, digest.figures.forecast):
        assert other is not None
        assert (other.amount, other.lower, other.upper) == (made.amount, made.lower, made.upper)
        assert other.method == made.method
    # The alert fires when the view's forecast reaches the budget, with the view's figure.
    assert [a.amount for a in forecast_alerts] == ([made.amount] if made.amount >= 1 else [])
    assert f"Month-end forecast: {money(made.amount)}" in home
    assert answer.month_to_date == view.month_to_date == made.actual


# --- cases ------------------------------------------------------------------------------------


def test_the_month_to_date_has_the_teams_share_of_shared_costs_as_cost_team_splits_them():
    source = DailyCosts()
    source.every_day(dt.date(2026, 11, 1), dt.date(2026, 12, 5), "nlp", "EC2", "30")
    source.every_day(dt.date(2026, 11, 1), dt.date(2026, 12, 5), "recs", "S3", "10")
    source.every_day(dt.date(2026, 11, 1), dt.date(2026, 12, 5), "platform", "EC2", "8")
    # November's split is not December's: recs spent more in November.
    source.every_day(dt.date(2026, 11, 1), dt.date(2026, 11, 30), "recs", "S3", "50")
    teams = {"nlp": team("nlp", monthly_budget=D(1000)), "recs": team("recs")}
    shared = [platform()]
    today = dt.date(2026, 12, 6)

    view = month_view(source, teams, shared, today=today, team=find_team(teams, "nlp"))
    answer = questions.team_cost(
        source,
        teams,
        shared,
        team=find_team(teams, "nlp"),
        period=Period(dt.date(2026, 12, 1), today),
    )

    # Dec 1–5: nlp 150 direct, recs 50; platform 40 split 3 : 1.
    assert view.month_to_date == answer.total == D(150) + D(30)
    assert view.shared == D(30)
    assert view.data_through == dt.date(2026, 12, 5)
    assert view.budget_used_pct() == D("18.00")
    assert view.forecast is not None and view.forecast.actual == view.month_to_date


class LaggingCosts(DailyCosts):
    """An export whose last day is Dec 3 although it is Dec 6."""

    def coverage(self) -> Coverage:
        return Coverage("test export", dt.date(2026, 12, 3), dt.date(2026, 11, 1))


def test_a_lagging_export_gives_the_month_to_date_through_its_last_day():
    source = LaggingCosts()
    source.every_day(dt.date(2026, 11, 1), dt.date(2026, 12, 3), "nlp", "EC2", "10")
    view = month_view(
        source,
        {"nlp": team("nlp")},
        [],
        today=dt.date(2026, 12, 6),
        team=find_team({"nlp": team("nlp")}, "nlp"),
    )
    assert view.data_through == dt.date(2026, 12, 3)
    assert view.month_to_date == D(30)
    assert view.forecast is not None
    assert view.forecast.amount == D(310)  # 10 a day, every day of December
    assert view.as_json()["data_through"] == "2026-12-03"


class ForecastingCosts(DailyCosts):
    """A source with a forecast of its own, as Cost Explorer has."""

    asked: list[dict[str, str]]

    def forecast(self, *, cost_filter, metric: Metric, today: dt.date) -> Forecast:
        self.asked.append(dict(cost_filter.tags))
        period = Period(today, dt.date(2027, 1, 1), "rest of December 2026")
        return Forecast(period, metric, "USD", D(260), D(200), D(320), "Cost Explorer forecast")


def test_a_source_that_forecasts_itself_gets_the_teams_shared_costs_added():
    source = ForecastingCosts()
    source.asked = []
    source.every_day(dt.date(2026, 12, 1), dt.date(2026, 12, 5), "nlp", "EC2", "30")
    source.every_day(dt.date(2026, 12, 1), dt.date(2026, 12, 5), "recs", "S3", "10")
    source.every_day(dt.date(2026, 12, 1), dt.date(2026, 12, 5), "platform", "EC2", "8")
    teams = {"nlp": team("nlp"), "recs": team("recs")}

    view = month_view(
        source, teams, [platform()], today=dt.date(2026, 12, 6), team=find_team(teams, "nlp")
    )

    assert source.asked == [{"team": "nlp"}]
    assert view.month_to_date == D(180)  # 150 direct + 30 of the platform
    assert view.forecast is not None
    assert view.forecast.actual == D(180)
    assert view.forecast.amount == D(180) + D(260) * D(180) / D(150)  # shared: 20% on top
    assert "plus shared costs" in view.forecast.method

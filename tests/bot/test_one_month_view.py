"""Issue 13, part 1: one figure for each fact of the month, on every surface.

Found in the demo world on 2026-12-06 UTC (billing data through Dec 5): `/cost forecast
fraud-detection` gave $15,434.79 while the digest and App Home gave another figure outside
its band; `/cost forecast` left the shared platform cost out of the month to date ($2,483.93
against `/cost team`'s $2,528.53); recommendations' month was $6,470.62 in `/cost team` and
$6,458.90 in App Home.

Here every surface is rendered from one demo world (the demo's own export, the clock at
2026-12-06 15:00 UTC) as a user meets it: `costbot cost team`, `costbot cost forecast` and
`costbot digest` (text and --json), App Home, and the budget and forecast alerts. Budgets
are lowered to $5,000 so that both alerts fire for every team. The month to date, the
forecast and the budget used must be the same to the cent, and each surface says which day
the data runs through.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.cli import main
from bot.settings import Settings
from bot.store import Store
from engines.digests.budgets import AlertKind
from handlers.blocks.common import money, percent
from handlers.blocks.text import render_text
from handlers.digests.blocks import build_alert_message
from handlers.digests.home import team_home
from handlers.digests.home_blocks import build_app_home
from handlers.digests.jobs import check_budget_alerts
from tests.conftest import DEMO_NOW, DEMO_TEAMS, write_demo_export

BUDGET = Decimal(5000)
CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
def configured(demo_export: Path, tmp_path, monkeypatch):
    teams = tmp_path / "teams.toml"
    text = re.sub(r"monthly_budget = \d+", f"monthly_budget = {BUDGET}", DEMO_TEAMS.read_text())
    teams.write_text(text)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{demo_export}/*.parquet")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    frozen = functools.partial(bot.app.build_deps, now=lambda: DEMO_NOW)
    monkeypatch.setattr(bot.app, "build_deps", frozen)


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def as_json(capsys, *argv: str) -> dict[str, Any]:
    return json.loads(run(capsys, *argv, "--json"))


def cents(text: str) -> Decimal:
    return Decimal(text).quantize(CENT)


@pytest.mark.parametrize("team", ["fraud-detection", "recommendations", "nlp"])
def test_every_surface_shows_the_same_month_to_the_cent(capsys, team):
    # /cost team: the answer, its month view (JSON) and its budget line (text).
    answer = as_json(capsys, "cost", "team", team)
    month_to_date = cents(answer["month_to_date"])
    forecast = cents(answer["month"]["forecast"])
    used = Decimal(answer["month"]["budget_used_pct"])
    assert answer["data_through"] == answer["month"]["data_through"] == "2026-12-05"
    assert month_to_date == cents(answer["total"])  # the same split of the shared cost
    assert used == (Decimal(answer["total"]) / BUDGET * 100).quantize(CENT)
    team_text = run(capsys, "cost", "team", team)
    assert (
        f"{percent(used)} of the monthly budget of {money(BUDGET)} used: "
        f"{money(month_to_date)} through Dec 5, heading for {money(forecast)} by month end"
    ) in team_text

    # /cost forecast: shared costs in its month to date, the same forecast.
    answered = as_json(capsys, "cost", "forecast", team)
    assert cents(answered["month_to_date"]) == month_to_date
    assert cents(answered["total"]) == forecast
    assert answered["data_through"] == "2026-12-05"
    forecast_text = run(capsys, "cost", "forecast", team)
    assert f"{money(forecast)} billed cost (unblended) expected" in forecast_text
    assert f"Month to date {money(month_to_date)} through Dec 5" in forecast_text
    low, high = Decimal(answered["lower"]), Decimal(answered["upper"])
    assert low <= forecast <= high

    # The digest.
    digest = as_json(capsys, "digest", "--team", team)
    figures = digest["digest"]
    assert cents(figures["month_to_date"]) == month_to_date
    assert cents(figures["forecast"]) == forecast
    assert Decimal(figures["budget_used_pct"]) == used
    assert figures["data_through"] == "2026-12-05"
    digest_text = render_text(digest["message"])
    assert f"Month to date (through Dec 5): {money(month_to_date)} of {money(BUDGET)}" in (
        digest_text
    )
    assert f"Month-end forecast: {money(forecast)}" in digest_text
    assert f"likely {money(low)} – {money(high)}" in digest_text

    # App Home and the alerts, from the same configuration the CLI reads.
    settings = Settings.from_env(require_slack=False)
    deps = bot.app.build_deps(settings, store=Store(settings.db_path))
    member = deps.teams[team]
    user = member.members[0]
    view = build_app_home(user=user, teams=[member], homes={team: team_home(member, user, deps)})
    home_text = render_text({"text": "", "blocks": view["blocks"]})
    assert f"Spend this month: {money(month_to_date)} (through Dec 5) of {money(BUDGET)}" in (
        home_text
    )
    assert f"Month-end forecast: {money(forecast)} (likely {money(low)} – {money(high)})" in (
        home_text
    )

    decisions = check_budget_alerts(deps, now=DEMO_NOW, dry_run=True, teams=[member])
    alerts = {(d.alert.kind, d.alert.threshold): d.alert for d in decisions}
    budget_alerts = [a for (kind, _), a in alerts.items() if kind is AlertKind.BUDGET]
    assert budget_alerts, "the month to date crossed 50% of $5,000: a budget alert fires"
    for alert in budget_alerts:
        assert alert.amount.quantize(CENT) == month_to_date
        text = render_text(build_alert_message(alert))
        assert f"Month to date: {money(month_to_date)} of {money(BUDGET)}" in text
        assert "Data through Dec 5." in text
    forecast_alert = alerts[(AlertKind.FORECAST, Decimal(100))]
    assert forecast_alert.amount.quantize(CENT) == forecast
    text = render_text(build_alert_message(forecast_alert))
    assert f"Month-end forecast: {money(forecast)}" in text
    assert "Data through Dec 5." in text


def test_the_three_disagreements_of_the_issue_are_one_figure_each(capsys):
    # /cost forecast fraud-detection against the digest: one forecast, inside its own band.
    forecast = as_json(capsys, "cost", "forecast", "fraud-detection")
    digest = as_json(capsys, "digest", "--team", "fraud-detection")["digest"]
    assert cents(forecast["total"]) == cents(digest["forecast"])
    assert Decimal(forecast["lower"]) <= Decimal(digest["forecast"]) <= Decimal(forecast["upper"])
    # /cost forecast's month to date has the shared platform cost, as /cost team's has.
    team = as_json(capsys, "cost", "team", "fraud-detection")
    platform = next(line for line in team["shared"] if line["key"] == "shared: platform")
    assert Decimal(platform["cost"]) > 0
    assert cents(forecast["month_to_date"]) == cents(team["total"]) == Decimal("2528.53")
    # recommendations' month: the same in /cost team and App Home (the digest's figures).
    team = as_json(capsys, "cost", "team", "recommendations")
    digest = as_json(capsys, "digest", "--team", "recommendations")["digest"]
    assert cents(team["total"]) == cents(digest["month_to_date"]) == Decimal("6470.62")


def test_json_of_top_carries_data_through_and_the_organisations_month_to_date(capsys):
    top = as_json(capsys, "cost", "top")
    assert top["data_through"] == "2026-12-05"
    assert cents(top["month_to_date"]) == cents(top["total"])
    teams = [as_json(capsys, "cost", "team", name) for name in ("fraud-detection", "nlp")]
    assert all(answer["data_through"] == top["data_through"] for answer in teams)


def test_every_surface_sees_a_teams_month_as_of_the_billing_date(capsys, monkeypatch):
    # 03:00 UTC on Dec 6 is still Dec 5 in Los Angeles, nlp's home. Billing days are UTC
    # days, so every answer is as of Dec 6 (data through Dec 5) whatever the team's zone;
    # the zone decides only when the digest is posted, and the date in its title.
    early = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
    _at(monkeypatch, early)

    forecast = as_json(capsys, "cost", "forecast", "nlp")
    digest = as_json(capsys, "digest", "--team", "nlp")["digest"]
    team = as_json(capsys, "cost", "team", "nlp")
    top = as_json(capsys, "cost", "top")

    assert digest["posted_on"] == "2026-12-05"
    assert "nlp · daily digest · Sat Dec 5" in run(capsys, "digest", "--team", "nlp")
    assert digest["date"] == "2026-12-06"
    assert forecast["data_through"] == digest["data_through"] == "2026-12-05"
    assert team["month"]["data_through"] == top["data_through"] == "2026-12-05"
    assert cents(forecast["total"]) == cents(digest["forecast"]) == cents(team["month"]["forecast"])
    assert (
        cents(forecast["month_to_date"])
        == cents(digest["month_to_date"])
        == cents(team["month_to_date"])
    )


def test_cost_team_headline_and_budget_line_use_one_date(capsys, monkeypatch, tmp_path):
    # 05:00 UTC on Dec 1 is still Nov 30 in Los Angeles, nlp's home. The headline and the
    # budget line both see the billing date, Dec 1: no day of December is complete, so the
    # answer is November, whole, and says why.
    evening_of_nov_30 = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)
    export = tmp_path / "focus"
    write_demo_export(export, evening_of_nov_30)
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{export}/*.parquet")
    _at(monkeypatch, evening_of_nov_30)

    answer = as_json(capsys, "cost", "team", "nlp")

    assert answer["period"]["start"] == "2026-11-01"
    assert answer["data_through"] == "2026-11-30"
    text = run(capsys, "cost", "team", "nlp")
    assert "Nov 1 – Nov 30, 2026" in text
    assert "No day of December is complete yet" in text
    assert "Data through Nov 30, 2026" in text


# --- found by a hostile review (issues 13/15/19 just built) -----------------------------------


def _at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(
        bot.app, "build_deps", functools.partial(bot.app.build_deps.func, now=lambda: moment)
    )


def test_a_teams_trend_runs_through_the_same_day_as_its_cost_answer(capsys, monkeypatch):
    # 07:00 UTC on Dec 6 is still Dec 5 in Los Angeles: `/cost trend nlp`, asked a second
    # after `/cost team nlp` in the same channel, must run through the same day and draw no
    # bar /cost team left out.
    _at(monkeypatch, dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC))
    team = as_json(capsys, "cost", "team", "nlp")
    trend = as_json(capsys, "cost", "trend", "nlp")
    assert team["data_through"] == "2026-12-05"
    assert trend["data_through"] == team["data_through"]
    assert max(group["key"] for group in trend["groups"]) == "2026-12-05"


def test_a_teams_trend_adds_up_to_its_month_to_date(capsys):
    # `/cost team nlp` (and the digest's "daily cost" sparkline) count nlp's share of the
    # shared platform cost; `/cost trend nlp` silently leaves it out, so its Dec bars add up
    # to $50.86 less than the month to date shown next to it.
    team = as_json(capsys, "cost", "team", "nlp")
    trend = as_json(capsys, "cost", "trend", "nlp")
    december = sum(
        (Decimal(g["cost"]) for g in trend["groups"] if g["key"] >= "2026-12-01"), Decimal(0)
    )
    assert cents(december) == cents(team["month_to_date"])


def test_top_and_team_give_one_month_to_date_for_a_team(capsys, monkeypatch):
    # At 07:00 UTC on Dec 6, `/cost top` listed nlp at $3,614.75 (Dec 1–5) while
    # `/cost team nlp` said $2,897.00 (Dec 1–4): two "month to date" figures for one team.
    _at(monkeypatch, dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC))
    team = as_json(capsys, "cost", "team", "nlp")
    top = as_json(capsys, "cost", "top")
    listed = next(group for group in top["groups"] if group["key"] == "nlp")
    assert cents(Decimal(listed["cost"])) == cents(team["month_to_date"])


def test_a_teams_comparison_sees_the_same_month_as_its_cost_answer(capsys, monkeypatch):
    # At 07:00 UTC on Dec 6 (Dec 5 in Los Angeles) `/cost compare mtd vs last month team nlp`
    # counted Dec 1–5 while `/cost team nlp`'s month to date was Dec 1–4.
    _at(monkeypatch, dt.datetime(2026, 12, 6, 7, 0, tzinfo=dt.UTC))
    team = as_json(capsys, "cost", "team", "nlp")
    compared = as_json(capsys, "cost", "compare", "mtd", "vs", "last", "month", "team", "nlp")
    assert compared["data_through"] == team["data_through"] == "2026-12-05"
    assert cents(Decimal(compared["total"])) == cents(team["month_to_date"])


def test_the_default_question_on_the_first_of_the_month_is_answered_not_refused(
    capsys, monkeypatch, tmp_path
):
    # On Dec 1 (12:00 UTC) `/cost team fraud-detection` — the command help puts first, with
    # nothing typed after the team — answered "⚠ There is no cost data for Dec 1, 2026 (month
    # to date) … Ask about a period in that range.": the ⚠ of bad input, every 1st of the
    # month, while the digest and /cost forecast answered ("Month to date $0.00").
    first = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    export = tmp_path / "focus"
    write_demo_export(export, first)
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{export}/*.parquet")
    _at(monkeypatch, first)
    code = main(["cost", "team", "fraud-detection"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "Ask about a period in that range" not in out + err
    assert "No day of December is complete yet" in out and "so this is November 2026" in out
    assert "Nov 1 – Nov 30, 2026" in out

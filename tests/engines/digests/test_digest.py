"""The digest's figures, from costs the test knows line by line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engines.changes.models import Change, State
from engines.config.teams import find_team, load_config
from engines.costs.allocation_cache import AllocationCache
from engines.costs.sources.focus import FocusFileSource
from engines.digests.digest import build_digest, digest_due_date, summarize_savings, team_figures
from engines.errors import UnknownTeamError
from engines.models import SharedCost, Team
from tests.engines.billing_lines import _focus, write_focus_parquet
from tests.engines.daily_costs import DailyCosts

TEAMS = load_config(
    """
[teams.nlp]
tags = { team = "nlp" }
channel = "#nlp-costs"
monthly_budget = 3000
timezone = "Europe/London"

[teams.vision]
tags = { team = "vision" }
channel = "#vision-costs"
timezone = "America/New_York"
digest_weekends = true
""",
    filename="teams.toml",
).teams
TODAY = dt.date(2026, 11, 20)  # a Friday
YESTERDAY = TODAY - dt.timedelta(days=1)


def steady_costs() -> DailyCosts:
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), YESTERDAY, "nlp", "EC2", "80")
    costs.every_day(dt.date(2026, 10, 1), YESTERDAY, "nlp", "S3", "20")
    costs.every_day(dt.date(2026, 10, 1), YESTERDAY, "vision", "EC2", "5")
    return costs


def digest(costs: DailyCosts, team: str = "nlp", today: dt.date = TODAY, changes=()):
    return build_digest(costs, TEAMS, (), team=find_team(TEAMS, team), today=today, changes=changes)


def test_yesterday_against_the_seven_day_average_and_the_month_against_budget():
    costs = steady_costs()
    costs.add(YESTERDAY, "nlp", "SageMaker", "140")  # a new service yesterday

    figures = digest(costs).figures

    assert figures.day == YESTERDAY
    assert figures.day_cost == Decimal("240")
    assert figures.average == Decimal("100")
    assert figures.day_change_pct() == Decimal("140.00")
    assert figures.month_to_date == costs.total("nlp", dt.date(2026, 11, 1), TODAY)
    assert figures.budget == Decimal(3000)
    assert figures.budget_used_pct() == (figures.month_to_date / 30).quantize(Decimal("0.01"))
    assert figures.forecast is not None
    # 19 days so far, 11 to come at the mean of the last 14 days (incl. the spike).
    rate = (Decimal(100) * 13 + 240) / 14
    assert figures.forecast.amount == pytest.approx(figures.month_to_date + 11 * rate)


def test_the_top_movers_name_service_dollars_and_percent():
    costs = steady_costs()
    costs.add(YESTERDAY, "nlp", "SageMaker", "140")
    costs.add(YESTERDAY, "nlp", "S3", "-10")  # S3 was 10 cheaper yesterday

    movers = digest(costs).movers

    assert [m.key for m in movers] == ["SageMaker", "S3"]
    assert movers[0].change == Decimal(140) and movers[0].change_pct is None  # new: no %
    assert movers[1].amount == Decimal(10) and movers[1].change_pct == Decimal("-50.00")


def test_a_spike_far_outside_a_service_history_is_an_anomaly():
    costs = steady_costs()
    costs.add(YESTERDAY, "nlp", "EC2", "300")
    quiet = steady_costs()
    quiet.add(YESTERDAY, "nlp", "EC2", "1")  # +1 on 80: noise, not an anomaly

    (anomaly,) = digest(costs).anomalies
    assert (anomaly.key, anomaly.amount, anomaly.expected) == ("EC2", Decimal(380), Decimal(80))
    assert digest(quiet).anomalies == ()


def test_lagging_data_reports_the_last_day_it_has_and_says_so():
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), TODAY - dt.timedelta(days=3), "nlp", "EC2", "50")

    figures = digest(costs).figures

    assert figures.day == TODAY - dt.timedelta(days=3)
    assert any("ends on Nov 17" in note for note in figures.notes)
    assert figures.forecast is not None  # from the days it has, not zeros for the missing


def test_a_team_without_cost_gets_a_digest_that_says_so():
    figures = digest(DailyCosts(), "vision").figures
    assert figures.day is None and figures.month_to_date == 0
    assert any("No cost for vision" in note for note in figures.notes)


def test_monday_digest_adds_last_week_against_the_week_before():
    monday = dt.date(2026, 11, 23)
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), dt.date(2026, 11, 15), "nlp", "EC2", "10")
    costs.every_day(dt.date(2026, 11, 16), dt.date(2026, 11, 22), "nlp", "EC2", "20")

    week = digest(costs, today=monday).week

    assert week is not None
    assert (week.total, week.previous_total) == (Decimal(140), Decimal(70))
    assert week.movers[0].key == "EC2" and week.movers[0].change_pct == Decimal("100.00")
    assert digest(costs, today=monday - dt.timedelta(days=3)).week is None


def test_a_digest_posted_on_a_local_monday_before_the_utc_monday_is_the_weekly_one():
    # 08:00 on Monday Nov 23 in Tokyo is 23:00 UTC on Sunday Nov 22: the figures are as of
    # the billing date (Sunday, data through Saturday), the title, key and weekly summary
    # go by the team's Monday.
    sunday, monday = dt.date(2026, 11, 22), dt.date(2026, 11, 23)
    costs = DailyCosts()
    costs.every_day(dt.date(2026, 10, 1), sunday, "nlp", "EC2", "10")

    posted = build_digest(
        costs, TEAMS, (), team=find_team(TEAMS, "nlp"), today=sunday, posted_on=monday
    )

    assert posted.week is not None
    assert posted.key == "digest:nlp:2026-11-23" and posted.as_json()["posted_on"] == "2026-11-23"
    assert posted.figures.data_through == dt.date(2026, 11, 21)
    assert posted.figures.today == sunday


def test_savings_count_pending_approved_and_realized_this_month():
    def change(state, saving, when=dt.datetime(2026, 11, 10, tzinfo=dt.UTC), dry_run=False):
        return Change(
            id=1, created_at=when, updated_at=when, state=state, instance_id="i-1",
            account_id="1", region="us-east-1", team="nlp", from_type="m5.2xlarge",
            to_type="m5.xlarge", monthly_saving=Decimal(saving), requested_by="U1",
            dry_run=dry_run,
        )  # fmt: skip

    savings = summarize_savings(
        [
            change(State.PROPOSED, "100"),
            change(State.PROPOSED, "50"),
            change(State.SCHEDULED, "30"),
            change(State.DONE, "300"),  # done Nov 10: 10 of 30 days saved by Nov 20
            change(State.DONE, "99", dry_run=True),
            change(State.DONE, "500", when=dt.datetime(2026, 10, 5, tzinfo=dt.UTC)),  # last month
        ],
        today=TODAY,
    )

    assert (savings.pending_count, savings.pending_monthly) == (2, Decimal(150))
    assert (savings.approved_count, savings.approved_monthly) == (1, Decimal(30))
    assert (savings.done_count, savings.done_monthly) == (1, Decimal(300))
    assert savings.realized_this_month == Decimal(100)
    assert savings.rehearsed_count == 1


def test_the_digest_reads_a_focus_export_with_shared_costs(small_export):
    from tests.conftest import DEMO_TEAMS

    config = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")
    source = FocusFileSource(str(small_export.path))

    figures = team_figures(
        source,
        config.teams,
        config.shared,
        team=find_team(config.teams, "fraud-detection"),
        today=TODAY,
    )

    assert figures.day == YESTERDAY
    assert figures.day_cost == small_export.billed(
        team="fraud-detection", start=YESTERDAY, end=TODAY
    )
    assert figures.month_to_date == small_export.billed(
        team="fraud-detection", start=dt.date(2026, 11, 1), end=TODAY
    )


def test_an_unknown_team_suggests_the_near_name():
    with pytest.raises(UnknownTeamError) as caught:
        digest(steady_costs(), "npl")
    assert "nlp" in caught.value.suggestions


# --- when a digest is due -----------------------------------------------------------------


def minutes(start: dt.datetime, end: dt.datetime):
    now = start
    while now < end:
        yield now
        now += dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("team", "start"),
    [
        ("nlp", dt.date(2026, 10, 22)),  # London falls back Oct 25
        ("vision", dt.date(2026, 10, 29)),  # New York falls back Nov 1
        ("nlp", dt.date(2027, 3, 25)),  # London springs forward Mar 28
        ("vision", dt.date(2027, 3, 11)),  # New York springs forward Mar 14
    ],
)
def test_one_digest_per_local_day_at_nine_across_dst_changes(team, start):
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(TEAMS[team].timezone)
    start = dt.datetime.combine(start, dt.time(0, 0), tzinfo=zone).astimezone(dt.UTC)
    first_due: dict[dt.date, dt.datetime] = {}
    for now in minutes(start, start + dt.timedelta(days=7)):
        day = digest_due_date(TEAMS[team], now)
        if day is not None:
            first_due.setdefault(day, now)

    local_days = {start.astimezone(zone).date() + dt.timedelta(days=n) for n in range(7)}
    wanted = {d for d in local_days if TEAMS[team].digest_weekends or d.weekday() < 5}
    assert set(first_due) == wanted
    for day, when in first_due.items():
        local = when.astimezone(zone)
        assert local.date() == day and (local.hour, local.minute) == (9, 0)


def test_a_digest_built_again_after_new_data_names_the_new_mover(tmp_path):
    # The bot hands every digest one AllocationCache. A file that lands between two builds
    # (Athena, or files without the rollup) must show in the movers and anomalies, not only
    # in the headline: they were once remembered by the source alone, and stayed stale.
    teams = {"nlp": Team(name="nlp", tags={"team": "nlp"}, channel="#nlp")}
    shared = [SharedCost(name="support", tags={}, accounts=("444455556666",))]
    days = [f"2026-10-{n:02d}T00:00:00Z" for n in range(1, 13)]
    write_focus_parquet(
        tmp_path / "a.parquet", [_focus(d, "100", "Amazon EC2", tags={"team": "nlp"}) for d in days]
    )
    source = FocusFileSource(str(tmp_path / "*.parquet"))
    source.relist_after_s = 0
    cache, today = AllocationCache(), dt.date(2026, 10, 13)
    before = build_digest(source, teams, shared, team=teams["nlp"], today=today, cache=cache)
    assert not before.anomalies

    spike = _focus("2026-10-12T05:00:00Z", "5000", "Amazon S3", tags={"team": "nlp"})
    write_focus_parquet(tmp_path / "b.parquet", [spike])
    after = build_digest(source, teams, shared, team=teams["nlp"], today=today, cache=cache)

    assert after.figures.day_cost == Decimal(5100)
    assert [mover.key for mover in after.movers][:1] == ["Amazon S3"]
    assert [anomaly.key for anomaly in after.anomalies] == ["Amazon S3"]

"""A team sees its own changes however many other teams have: App Home and the digest ask for
the team's changes, not for everyone's newest rows filtered afterwards (which once dropped a
team's changes behind 500 or 1,000 newer ones of another team)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.app import build_deps
from bot.settings import Settings
from bot.store import Store
from engines.changes.models import ChangeRequest
from engines.costs.sources.focus import FocusFileSource
from handlers.deps import Deps
from handlers.digests.blocks import build_digest_message
from handlers.digests.home import team_home
from handlers.digests.home_blocks import build_app_home
from handlers.digests.jobs import team_digest
from tests.conftest import DEMO_TEAMS

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
ALICE = "U0DEMOALICE"  # fraud-detection's approver
OTHER_TEAMS_CHANGES = 1_001  # more than either old limit (500 for App Home, 1,000 for digests)


@pytest.fixture
def deps(tmp_path, small_export) -> Deps:
    settings = Settings(
        db_path=tmp_path / "costbot.db", teams_file=DEMO_TEAMS, slack_bot_token="xoxb-unused"
    )
    store = Store(tmp_path / "costbot.db")
    source = FocusFileSource(str(small_export.path))
    return build_deps(settings, store=store, cost_source=source, now=lambda: NOW)


def propose(deps: Deps, team: str, number: int) -> None:
    assert deps.changes is not None
    deps.changes.propose(
        ChangeRequest(
            instance_id=f"i-{number:017x}",
            account_id="123456789012",
            region="us-east-1",
            from_type="m5.xlarge",
            to_type="m5.large",
            monthly_saving=Decimal("10"),
            requested_by="costbot",
            team=team,
        )
    )


@pytest.fixture
def crowded(deps: Deps) -> Deps:
    """fraud-detection's three proposals, then more newer ones of another team than the old
    limits let through."""
    for number in range(3):
        propose(deps, "fraud-detection", number)
    for number in range(3, 3 + OTHER_TEAMS_CHANGES):
        propose(deps, "recommendations", number)
    return deps


def test_app_home_shows_all_of_a_teams_waiting_changes_behind_other_teams(crowded):
    team = crowded.teams["fraud-detection"]

    home = team_home(team, ALICE, crowded)
    view = build_app_home(user=ALICE, teams=[team], homes={team.name: home})

    assert "*Waiting for your approval*: 3 changes, saving $30.00/month" in str(view)


def test_the_digest_counts_all_of_a_teams_changes_behind_other_teams(crowded):
    team = crowded.teams["fraud-detection"]

    digest = team_digest(crowded, team, NOW)

    assert (digest.savings.pending_count, digest.savings.pending_monthly) == (3, Decimal("30"))
    assert "3 changes waiting for approval would save $30.00/month" in str(
        build_digest_message(digest)
    )

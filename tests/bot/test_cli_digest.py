"""costbot digest and costbot alerts check: the digest and the alerts without Slack.

As for ``costbot cost``, the small export is configured through the environment and the
clock is frozen at 2026-11-20 15:00 UTC; expected figures are added up from its rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal

import pytest

import bot.app
from bot.cli import main
from tests.conftest import FROZEN_NOW, SmallExport

TEAMS = """
[teams.fraud-detection]
tags = { team = "fraud-detection" }
channel = "#fraud-detection-costs"
monthly_budget = 1000
timezone = "America/New_York"

[teams.nlp]
tags = { team = "nlp" }
channel = "#nlp-costs"
monthly_budget = 30000
"""


@pytest.fixture(autouse=True)
def configured(small_export: SmallExport, tmp_path, monkeypatch):
    teams = tmp_path / "teams.toml"
    teams.write_text(TEAMS)
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{small_export.path}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    frozen = functools.partial(bot.app.build_deps, now=lambda: FROZEN_NOW)
    monkeypatch.setattr(bot.app, "build_deps", frozen)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_digest_json_prints_the_message_and_the_figures_without_posting(capsys, small_export):
    code, out, _ = run(capsys, "digest", "--team", "fraud-detection", "--json")

    assert code == 0
    printed = json.loads(out)
    assert printed["channel"] == "#fraud-detection-costs"
    assert printed["key"] == "digest:fraud-detection:2026-11-20"
    digest = printed["digest"]
    yesterday = small_export.billed(
        team="fraud-detection", start=dt.date(2026, 11, 19), end=dt.date(2026, 11, 20)
    )
    mtd = small_export.billed(
        team="fraud-detection", start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 20)
    )
    assert Decimal(digest["day_cost"]) == yesterday.quantize(Decimal("0.01"))
    assert Decimal(digest["month_to_date"]) == mtd.quantize(Decimal("0.01"))
    assert digest["budget"] == "1000"
    assert "fraud-detection · daily digest · Fri Nov 20" in printed["message"]["text"]
    assert printed["message"]["blocks"][0]["type"] == "header"


def test_digest_for_a_date_and_for_a_misspelt_team(capsys):
    code, out, _ = run(capsys, "digest", "--team", "nlp", "--date", "2026-11-16", "--json")
    assert code == 0 and json.loads(out)["digest"]["week"] is not None  # a Monday: weekly

    code, _, err = run(capsys, "digest", "--team", "fraud-detectoin")
    assert code == 1 and "fraud-detection" in err

    code, _, err = run(capsys, "digest", "--team", "nlp", "--date", "20/11/2026")
    assert code == 2 and "2026-11-20" in err


def test_alerts_check_dry_run_shows_what_would_fire_and_queues_nothing(capsys):
    code, out, _ = run(capsys, "alerts", "check", "--dry-run", "--json")
    assert code == 0
    fired = {(row["team"], row["kind"], row["threshold_pct"], row["status"])
             for row in json.loads(out)}  # fmt: skip
    assert ("fraud-detection", "budget", "50", "would send") in fired
    assert ("fraud-detection", "forecast", "100", "would send") in fired
    assert not any(team == "nlp" for team, *_ in fired)

    code, out, _ = run(capsys, "alerts", "check", "--dry-run")  # nothing was queued: the same
    assert "would send" in out and "fraud-detection" in out and "50%" in out


def test_outbox_lists_what_was_queued_and_why_it_failed(capsys, tmp_path):
    from bot.store import Store

    store = Store(tmp_path / "cli.db")
    store.outbox_add({"key": "digest:nlp:2026-11-20", "kind": "digest", "team": "nlp",
                      "channel": "#nlp-costs", "message": "{}", "meta": "{}", "state": "failed",
                      "created_at": "2026-11-20T14:00:00+00:00",
                      "next_attempt_at": "2026-11-20T14:00:00+00:00",
                      "last_error": "channel_not_found"})  # fmt: skip

    code, out, _ = run(capsys, "outbox", "--state", "failed")

    assert code == 0
    assert "failed" in out and "digest:nlp:2026-11-20" in out and "channel_not_found" in out

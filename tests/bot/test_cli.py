"""The costbot command: ask through the same app, and clear failures for bad configuration."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from bot.cli import main
from tests.conftest import DEMO_TEAMS

DEMO_TEAM_NAMES = ("fraud-detection", "recommendations", "nlp")


def _team_total_in_export(focus_dir, team: str, start: dt.date, end: dt.date) -> Decimal:
    total = Decimal(0)
    for path in focus_dir.glob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            tags = json.loads(row["Tags"] or "{}")
            day = row["ChargePeriodStart"]
            day = (
                day.date() if isinstance(day, dt.datetime) else dt.date.fromisoformat(str(day)[:10])
            )
            if tags.get("team") == team and start <= day < end:
                total += Decimal(str(row["BilledCost"]))
    return total


def test_ask_with_nothing_configured_uses_the_demo_world(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COSTBOT_TEAMS", raising=False)
    monkeypatch.delenv("COSTBOT_COST_SOURCE", raising=False)
    code = main(["ask", "/cost team fraud-detection", "--json", "--workdir", str(tmp_path)])
    replies = json.loads(capsys.readouterr().out)
    assert code == 0
    answer = next(r for r in replies if r["response_type"] == "in_channel")
    today = dt.datetime.now(dt.UTC).date()
    month = (tmp_path / "aws" / "focus", today.replace(day=1), today + dt.timedelta(days=1))
    direct = {team: _team_total_in_export(month[0], team, *month[1:]) for team in DEMO_TEAM_NAMES}
    platform = _team_total_in_export(month[0], "platform", *month[1:])
    # The demo splits team=platform across the teams in proportion to their own spend.
    share = platform * direct["fraud-detection"] / sum(direct.values())
    expected = direct["fraud-detection"] + share
    assert direct["fraud-detection"] > 0 and platform > 0
    shown = Decimal(re.search(r"\$([\d,]+\.\d\d) billed", answer["text"]).group(1).replace(",", ""))
    assert abs(shown - expected) <= Decimal("0.01")
    assert answer["blocks"][0]["type"] == "header"


def test_ask_shows_one_answer_with_its_chart_and_the_asker_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COSTBOT_TEAMS", raising=False)
    monkeypatch.delenv("COSTBOT_COST_SOURCE", raising=False)
    code = main(["ask", "/COST TREND NLP", "--workdir", str(tmp_path)])  # capitals work too
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("nlp · daily trend")  # the answer alone: no "Working on…" note
    assert "Working on" not in out and "Asked by @alice" in out  # a name, not U0DEMOALICE
    assert out.rstrip().endswith("(chart: trend.png)")  # in the answer's message


def test_ask_uses_configured_teams_and_source_and_fails_on_a_typo(
    small_export, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{small_export.path}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "ask.db"))
    code = main(["ask", "/cost team fraud-detectoin", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "no team 'fraud-detectoin' — did you mean 'fraud-detection'?" in out
    assert "Traceback" not in out


def test_ask_needs_a_slash_command(tmp_path, capsys):
    assert main(["ask", "cost help", "--workdir", str(tmp_path)]) == 2
    assert 'costbot ask "/cost help"' in capsys.readouterr().err


def test_serve_names_what_is_missing(monkeypatch, capsys):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "eighty")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN is not set" in err
    assert "SLACK_SIGNING_SECRET is not set" in err
    assert "PORT='eighty' is not a port number" in err


def test_serve_rejects_a_malformed_teams_file(monkeypatch, capsys, tmp_path):
    teams = tmp_path / "teams.toml"
    teams.write_text('[teams.nlp]\ntags = { team = "nlp" }\nchannel = "#nlp"\nmonthly_budjet = 5\n')
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", "focus:/nonexistent/*.csv")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "teams.toml:4" in err and "monthly_budjet" in err and "monthly_budget" in err


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["bogus"])
    assert caught.value.code == 2


def test_serve_refuses_a_focus_source_that_matches_no_file(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "x.db"))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{tmp_path}/exports/*.parquet")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "COSTBOT_COST_SOURCE" in err and "exports/*.parquet" in err


def test_check_reports_overlapping_rules_with_where_they_overlap(
    small_export, tmp_path, capsys, monkeypatch
):
    teams = tmp_path / "teams.toml"
    teams.write_text(
        DEMO_TEAMS.read_text()
        + '\n[teams.prod-owners]\naccounts = ["123456789012"]\nchannel = "#prod"\n'
        + 'approvers = ["U0DEMOCARA"]\n'
    )
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{small_export.path}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "check.db"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    code = main(["check", "--days", "60"])

    out = capsys.readouterr().out
    assert code == 1
    assert "The rules themselves: " in out
    assert (
        "teams.nlp owns what teams.prod-owners also match: "
        "cost lines tagged team=nlp in account 123456789012"
    ) in out
    assert "teams.fraud-detection owns what teams.prod-owners also match" in out
    assert "Traceback" not in out


def test_check_passes_a_teams_file_without_overlaps(small_export, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{small_export.path}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "check.db"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["check", "--days", "60"])
    out = capsys.readouterr().out
    assert "Cost lines of the last 60 days: no overlapping rules." in out
    assert "The rules themselves: no overlapping rules." in out
    # AWS is not configured in tests: a check that could not look does not pass.
    assert "Instances: could not list them" in out and code == 1


def test_serve_warns_at_start_up_about_overlapping_rules(caplog):
    from bot.cli import warn_overlapping_rules
    from engines.models import Team

    nlp = Team(name="nlp", tags={"team": "nlp"}, channel="#nlp")
    prod = Team(name="prod-owners", tags={"env": "prod"}, channel="#prod")
    with caplog.at_level("WARNING", logger="costbot"):
        warn_overlapping_rules({"nlp": nlp, "prod-owners": prod}, ())
    (record,) = caplog.records
    assert record.getMessage() == (
        "teams file: teams.nlp and teams.prod-owners both match env=prod, team=nlp; the first "
        "listed, teams.nlp, owns such resources and decides about them (run costbot check)"
    )


def test_ask_cost_unit_gives_each_models_cost_per_1000_invocations_in_the_demo(
    tmp_path, capsys, monkeypatch
):
    # The demo world's fraud-detection endpoints, billed and called (bot/demo/sagemaker_fleet):
    # the figures are recomputed here from the export it wrote and the traffic it published.
    import bot.demo.sandbox
    from bot.demo.sagemaker_fleet import ENDPOINTS, hourly_invocations
    from handlers.blocks.common import money
    from handlers.blocks.text import render_text
    from tests.conftest import DEMO_NOW

    monkeypatch.delenv("COSTBOT_TEAMS", raising=False)
    monkeypatch.delenv("COSTBOT_COST_SOURCE", raising=False)
    frozen = functools.partial(bot.demo.sandbox.DemoSandbox, now=lambda: DEMO_NOW)
    monkeypatch.setattr(bot.demo.sandbox, "DemoSandbox", frozen)
    code = main(["ask", "/cost unit fraud-detection", "--json", "--workdir", str(tmp_path)])
    replies = json.loads(capsys.readouterr().out)
    assert code == 0
    answer = next(r for r in replies if r["response_type"] == "in_channel")
    text = render_text({"text": "", "blocks": answer["blocks"]})

    start, end = dt.date(2026, 12, 1), DEMO_NOW.date()  # month to date: Dec 1 – 5
    assert "Dec 1 – Dec 5, 2026" in text
    costs: dict[str, Decimal] = {}
    for path in (tmp_path / "aws" / "focus").glob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            model = json.loads(row["Tags"]).get("model_name")
            if model and start <= row["ChargePeriodStart"].date() < end:
                costs[model] = costs.get(model, Decimal(0)) + Decimal(str(row["BilledCost"]))
    hours = [
        dt.datetime.combine(start, dt.time(), dt.UTC) + dt.timedelta(hours=n)
        for n in range((end - start).days * 24)
    ]
    for endpoint in ENDPOINTS:
        calls = sum(hourly_invocations(endpoint, h, (end - h.date()).days) for h in hours)
        spent = money(costs[endpoint.model], "USD")
        if endpoint.name == "fraud-legacy-scorer":  # idle: its cost, and no rate
            assert calls == 0
            assert f"{endpoint.model}: {spent} · no invocations" in text
            continue
        rate = money(costs[endpoint.model] * 1000 / calls, "USD")
        assert f"{endpoint.model}: {rate} per 1,000" in text
        assert f"{spent} · {calls:,} invocations" in text
    assert "No invocations in this period: fraud-legacy-scorer" in text

"""The digest and alert keys of a team: defaults, values, and the errors a person sees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engines.config.teams import load_teams
from engines.errors import ConfigError

TEAM = '[teams.nlp]\ntags = { team = "nlp" }\nchannel = "#nlp-costs"\n'


def load(extra: str):
    return load_teams(TEAM + extra, filename="teams.toml")["nlp"]


def error_for(extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(extra)
    return str(caught.value)


def test_defaults_are_nine_in_the_morning_weekdays_and_50_80_100_percent() -> None:
    team = load("")
    assert team.digest_time == dt.time(9, 0)
    assert not team.digest_weekends and team.weekly_digest
    assert team.budget_alerts == (Decimal(50), Decimal(80), Decimal(100))
    assert team.forecast_alert == Decimal(100)
    assert team.spend_change_alert == Decimal(50)


def test_values_are_read_as_written() -> None:
    team = load(
        'digest_time = "7:30"\ndigest_weekends = true\nweekly_digest = false\n'
        "budget_alerts = [90, 75]\nforecast_alert = false\nspend_change_alert = 25.5\n"
    )
    assert team.digest_time == dt.time(7, 30)
    assert team.digest_weekends and not team.weekly_digest
    assert team.budget_alerts == (Decimal(75), Decimal(90))
    assert team.forecast_alert is None
    assert team.spend_change_alert == Decimal("25.5")


def test_a_bare_toml_time_works_too() -> None:
    assert load("digest_time = 08:15:00\n").digest_time == dt.time(8, 15)


def test_a_bad_time_names_file_line_and_key() -> None:
    message = error_for('digest_time = "9am"\n')
    assert message.startswith("teams.toml:4: teams.nlp.digest_time:")
    assert '"HH:MM"' in message


def test_a_misspelt_key_gets_a_suggestion() -> None:
    message = error_for("budget_alert = [50]\n")
    assert "did you mean 'budget_alerts'?" in message
    assert message.startswith("teams.toml:4:")


def test_thresholds_must_be_numbers_in_range() -> None:
    assert "between 0 and 1000" in error_for("budget_alerts = [0, 80]\n")
    assert "as a number like 80, got text" in error_for('budget_alerts = ["80%"]\n')
    assert "listed twice" in error_for("budget_alerts = [80, 80]\n")
    assert "expected true or false" in error_for('digest_weekends = "yes"\n')

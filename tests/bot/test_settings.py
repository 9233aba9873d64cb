"""Settings are read from the environment once, and every problem is named."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, configured_settings, demo_signing_secret

VALID = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "s3cr3t-signing"}


def test_defaults_are_safe_dry_run_and_cost_explorer():
    settings = Settings.from_env(VALID)
    assert settings.dry_run is True
    assert settings.cost_source == "ce"
    assert settings.port == 3000
    assert settings.db_path == Path("costbot.db")
    assert settings.socket_mode is False


def test_every_missing_or_malformed_variable_is_named_at_once():
    env = {
        "SLACK_BOT_TOKEN": "xoxp-user-token",
        "PORT": "http",
        "COSTBOT_DRY_RUN": "maybe",
        "COSTBOT_COST_SOURCE": "s3://bucket",
        "SLACK_API_URL": "localhost:3000",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "PORT",
        "COSTBOT_DRY_RUN",
        "COSTBOT_COST_SOURCE",
        "SLACK_API_URL",
    ):
        assert name in message
    assert "xoxb-" in message  # says what would work
    assert len(caught.value.problems) == 6


def test_socket_mode_needs_app_token_not_signing_secret():
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1-A-1-x"})
    assert settings.socket_mode
    with pytest.raises(SettingsError, match="xapp-"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"})


def test_focus_source_and_booleans():
    settings = Settings.from_env(
        {
            **VALID,
            "COSTBOT_COST_SOURCE": "focus:/data/*.parquet",
            "COSTBOT_DRY_RUN": "false",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert settings.cost_source == "focus:/data/*.parquet"
    assert settings.dry_run is False
    assert settings.aws_region == "eu-west-1"


def test_repr_never_shows_secrets():
    settings = Settings.from_env({**VALID, "SLACK_APP_TOKEN": "xapp-1-secret"})
    shown = repr(settings) + str(settings)
    assert "xoxb-1-2-abc" not in shown
    assert "s3cr3t-signing" not in shown
    assert "xapp-1-secret" not in shown
    assert "slack_bot_token='<set>'" in shown


def test_demo_and_ask_do_not_need_slack_credentials():
    assert Settings.from_env({}, require_slack=False).slack_bot_token == ""


def test_questions_have_a_60_s_time_limit_that_can_be_set():
    assert Settings.from_env(VALID).question_seconds == 60.0
    assert Settings.from_env({**VALID, "COSTBOT_QUESTION_SECONDS": "20"}).question_seconds == 20
    with pytest.raises(SettingsError, match="COSTBOT_QUESTION_SECONDS"):
        Settings.from_env({**VALID, "COSTBOT_QUESTION_SECONDS": "0"})


def test_a_standby_takes_over_within_30_s_by_default_and_the_lease_time_is_settable():
    default = Settings.from_env(VALID)
    # A standby takes the lease once it expires, and looks every quarter of it.
    assert default.lease_seconds * 1.25 <= 30
    assert default.scheduler_tick_seconds == 60
    fast = Settings.from_env(
        {**VALID, "COSTBOT_LEASE_SECONDS": "2", "COSTBOT_SCHEDULER_TICK_SECONDS": "1"}
    )
    assert (fast.lease_seconds, fast.scheduler_tick_seconds) == (2, 1)
    with pytest.raises(SettingsError, match="COSTBOT_LEASE_SECONDS='0'"):
        Settings.from_env({**VALID, "COSTBOT_LEASE_SECONDS": "0"})


def test_the_export_files_rollup_sits_next_to_the_database_unless_moved_or_off():
    beside = Settings.from_env({**VALID, "COSTBOT_DB": "/var/lib/costbot/state.db"})
    assert beside.rollup_db == Path("/var/lib/costbot/costbot-rollup.duckdb")
    moved = Settings.from_env({**VALID, "COSTBOT_ROLLUP_DB": "/fast/rollup.duckdb"})
    assert moved.rollup_db == Path("/fast/rollup.duckdb")
    assert Settings.from_env({**VALID, "COSTBOT_ROLLUP_DB": "off"}).rollup_db is None


def test_the_cli_uses_its_own_configuration_only_when_a_teams_file_or_source_is_named():
    assert configured_settings({"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}) is None  # the demo world
    settings = configured_settings({"COSTBOT_TEAMS": "ours.toml", "COSTBOT_DB": "ours.db"})
    assert settings is not None  # no Slack credentials needed to ask or list the outbox
    assert (settings.teams_file, settings.db_path) == (Path("ours.toml"), Path("ours.db"))
    with pytest.raises(SettingsError, match="COSTBOT_COST_SOURCE"):
        configured_settings({"COSTBOT_COST_SOURCE": "s3://bucket"})


def test_the_demo_signs_with_the_given_secret_or_makes_one_up():
    assert demo_signing_secret({"SLACK_SIGNING_SECRET": "s3cr3t-signing"}) == "s3cr3t-signing"
    assert demo_signing_secret({}) == ""

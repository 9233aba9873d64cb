"""Settings: the only module that reads the environment.

Every setting is read and checked once at start-up; problems are collected and reported
together, each naming the variable and what would work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlparse

from engines.errors import ConfigError

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}
SPOT_ADVISOR_FILENAME = "spot-advisor-data.json"
ROLLUP_FILENAME = "costbot-rollup.duckdb"
SECRET_FIELDS = {"slack_bot_token", "slack_signing_secret", "slack_app_token"}
CONFIGURING_VARIABLES = ("COSTBOT_TEAMS", "COSTBOT_COST_SOURCE")
"""Either of these set means costbot runs on its own configuration, not the demo world."""


class SettingsError(ConfigError):
    """One or more settings are missing or malformed; ``problems`` lists each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"costbot cannot start, the configuration has problems:\n{lines}")


@dataclass(frozen=True)
class Settings:
    """costbot's configuration. ``repr`` never shows secrets."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = ""
    port: int = 3000
    host: str = "0.0.0.0"
    db_path: Path = Path("costbot.db")
    teams_file: Path = Path("teams.toml")
    cost_source: str = "ce"
    dry_run: bool = True
    aws_region: str = ""
    aws_endpoint_url: str = ""
    aws_profile: str = ""
    scheduler_enabled: bool = True
    lease_seconds: float = 20.0
    scheduler_tick_seconds: float = 60.0
    log_level: str = "INFO"
    ce_cache_hours: float = 6.0
    athena_workgroup: str = "primary"
    athena_output: str = ""
    athena_scan_limit_gb: float = 10.0
    athena_schema: str = "focus"
    spot_advisor_file: Path | None = None
    question_seconds: float = 60.0
    rollup_db: Path | None = None  # export files' daily rollup; None: scan the files

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def spot_advisor_path(self) -> Path:
        """Where ``costbot spot refresh-advisor`` keeps the downloaded Spot Instance Advisor
        feed (next to the database unless ``COSTBOT_SPOT_ADVISOR_FILE`` says otherwise)."""
        return self.spot_advisor_file or self.db_path.with_name(SPOT_ADVISOR_FILENAME)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "<set>"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_slack: bool = True
    ) -> Settings:
        """Reads and validates the settings.

        Args:
            env: the environment to read (``os.environ`` when omitted).
            require_slack: whether Slack credentials must be present (not for the demo or ``ask``).

        Raises:
            SettingsError: naming every variable that is missing or malformed.
        """
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            slack_bot_token=reader.text("SLACK_BOT_TOKEN"),
            slack_signing_secret=reader.text("SLACK_SIGNING_SECRET"),
            slack_app_token=reader.text("SLACK_APP_TOKEN"),
            slack_api_url=reader.url("SLACK_API_URL"),
            port=reader.port("PORT", 3000),
            host=reader.text("COSTBOT_HOST") or "0.0.0.0",
            db_path=Path(reader.text("COSTBOT_DB") or "costbot.db"),
            teams_file=Path(reader.text("COSTBOT_TEAMS") or "teams.toml"),
            cost_source=reader.cost_source("COSTBOT_COST_SOURCE"),
            dry_run=reader.boolean("COSTBOT_DRY_RUN", True),
            aws_region=reader.text("AWS_REGION") or reader.text("AWS_DEFAULT_REGION"),
            aws_endpoint_url=reader.url("AWS_ENDPOINT_URL"),
            aws_profile=reader.text("AWS_PROFILE"),
            scheduler_enabled=reader.boolean("COSTBOT_SCHEDULER", True),
            lease_seconds=reader.positive_number("COSTBOT_LEASE_SECONDS", 20.0),
            scheduler_tick_seconds=reader.positive_number("COSTBOT_SCHEDULER_TICK_SECONDS", 60.0),
            log_level=reader.log_level("COSTBOT_LOG_LEVEL"),
            ce_cache_hours=reader.positive_number("COSTBOT_CE_CACHE_HOURS", 6.0),
            athena_workgroup=reader.text("COSTBOT_ATHENA_WORKGROUP") or "primary",
            athena_output=reader.s3_url("COSTBOT_ATHENA_OUTPUT"),
            athena_scan_limit_gb=reader.positive_number("COSTBOT_ATHENA_SCAN_LIMIT_GB", 10.0),
            athena_schema=reader.choice("COSTBOT_ATHENA_SCHEMA", ("focus", "cur"), "focus"),
            question_seconds=reader.positive_number("COSTBOT_QUESTION_SECONDS", 60.0),
            spot_advisor_file=Path(reader.text("COSTBOT_SPOT_ADVISOR_FILE"))
            if reader.text("COSTBOT_SPOT_ADVISOR_FILE")
            else None,
            rollup_db=reader.rollup_db("COSTBOT_ROLLUP_DB", reader.text("COSTBOT_DB")),
        )
        if require_slack:
            reader.problems.extend(_slack_problems(settings))
        if reader.problems:
            raise SettingsError(reader.problems)
        return settings


def configured_settings(env: Mapping[str, str] | None = None) -> Settings | None:
    """The settings (Slack credentials not required) when the environment configures costbot,
    i.e. names a teams file or a cost source (``CONFIGURING_VARIABLES``); None when it does
    not, and the CLI's ``ask``, ``outbox`` and one-off commands use the demo world instead.

    Args:
        env: the environment to read (``os.environ`` when omitted).

    Raises:
        SettingsError: the environment configures costbot, with problems.
    """
    env = os.environ if env is None else env
    if not any(env.get(name) for name in CONFIGURING_VARIABLES):
        return None
    return Settings.from_env(env, require_slack=False)


def demo_signing_secret(env: Mapping[str, str] | None = None) -> str:
    """``SLACK_SIGNING_SECRET`` for ``costbot demo`` ("" when unset: the demo makes one up).

    Args:
        env: the environment to read (``os.environ`` when omitted).
    """
    env = os.environ if env is None else env
    return env.get("SLACK_SIGNING_SECRET", "")


def _slack_problems(settings: Settings) -> list[str]:
    problems = []
    if not settings.slack_bot_token:
        problems.append(
            "SLACK_BOT_TOKEN is not set: the bot token from OAuth & Permissions (xoxb-…)."
        )
    elif not settings.slack_bot_token.startswith("xoxb-"):
        problems.append(
            "SLACK_BOT_TOKEN does not look like a bot token: it should start with 'xoxb-'."
        )
    if settings.slack_app_token:
        if not settings.slack_app_token.startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN does not look like an app-level token: "
                "it should start with 'xapp-'."
            )
    elif not settings.slack_signing_secret:
        problems.append(
            "SLACK_SIGNING_SECRET is not set: find it under Basic Information > App Credentials "
            "(or set SLACK_APP_TOKEN to use Socket Mode instead of HTTP)."
        )
    return problems


class _Reader:
    """Reads variables one by one, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def url(self, name: str) -> str:
        value = self.text(name)
        if not value:
            return ""
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            self.problems.append(
                f"{name}={value!r} is not an http(s) URL, e.g. https://slack.com/api/."
            )
            return ""
        return value

    def port(self, name: str, default: int) -> int:
        value = self.text(name)
        if not value:
            return default
        if not value.isdigit() or not 0 <= int(value) <= 65535:
            self.problems.append(
                f"{name}={value!r} is not a port number (0–65535), e.g. {default}."
            )
            return default
        return int(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name).lower()
        if not value:
            return default
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        self.problems.append(f"{name}={value!r} is not a yes/no value: use true or false.")
        return default

    def log_level(self, name: str) -> str:
        value = self.text(name).upper() or "INFO"
        if value not in LOG_LEVELS:
            self.problems.append(
                f"{name}={value!r} is not a log level: use one of {sorted(LOG_LEVELS)}."
            )
            return "INFO"
        return value

    def positive_number(self, name: str, default: float) -> float:
        value = self.text(name)
        if not value:
            return default
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number > 0:
            self.problems.append(f"{name}={value!r} is not a positive number, e.g. {default:g}.")
            return default
        return number

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name).lower()
        if not value:
            return default
        if value not in choices:
            self.problems.append(f"{name}={value!r} is not one of {', '.join(choices)}.")
            return default
        return value

    def rollup_db(self, name: str, db: str) -> Path | None:
        """A path; ``off`` for none; unset: ``costbot-rollup.duckdb`` next to ``COSTBOT_DB``."""
        value = self.text(name)
        if value.lower() in FALSE_WORDS:
            return None
        if value:
            return Path(value)
        return Path(db or "costbot.db").with_name(ROLLUP_FILENAME)

    def s3_url(self, name: str) -> str:
        value = self.text(name)
        if value and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", value):
            self.problems.append(
                f"{name}={value!r} is not an S3 location like s3://bucket/prefix/."
            )
            return ""
        return value

    def cost_source(self, name: str) -> str:
        value = self.text(name) or "ce"
        if value == "ce" or re.fullmatch(r"(focus|cur):.+", value):
            return value
        if re.fullmatch(r"athena:[A-Za-z0-9_]+\.[A-Za-z0-9_]+", value):
            return value
        self.problems.append(
            f"{name}={value!r} is not a cost source: use 'ce' (AWS Cost Explorer), "
            "'focus:<path or glob>' (FOCUS export files, CSV or Parquet), 'cur:<path or glob>' "
            "(CUR 2.0 Parquet) or 'athena:<database>.<table>' (either, in Athena)."
        )
        return "ce"

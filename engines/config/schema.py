"""What the teams file may say: one validator per key, and the tables of keys (``TEAM_SCHEMA``,
``SHARED_SCHEMA``, ``ACCOUNT_SCHEMA``, ``SCHEDULE_SCHEMA``) that ``engines.config.teams``
loads with. Each validator takes the raw TOML value and returns the field's value, or raises
``InvalidValue`` with a message for the person editing the file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engines.config.toml_lines import Locator
from engines.models import SplitRule
from engines.schedules.model import (
    ScheduleError,
    check_periods,
    check_timezone,
    parse_holidays,
    parse_mode,
    parse_period,
)

TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{2,})$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
# Any provider's account id as FOCUS writes it in SubAccountId: letters, digits and the
# punctuation of GUIDs, project ids, OCIDs and resource paths; no spaces or quotes.
_ANY_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,254}$")


class AccountIds(StrEnum):
    """Which account ids the cost source knows, so which ``accounts`` the teams file takes."""

    AWS = "aws"  # Cost Explorer, CUR: 12-digit AWS account ids
    ANY = "any"  # FOCUS (files or Athena): any provider's sub account ids


class InvalidValue(Exception):
    """A value is wrong. ``value`` (optional) helps find the exact line in a list."""

    def __init__(
        self, message: str, *, value: str | None = None, subkey: str | None = None
    ) -> None:
        super().__init__(message)
        self.value = value
        self.subkey = subkey


# --- validators: each takes the raw TOML value and returns the Team field's value ---------


def describe_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected {what} in quotes, got {describe_type(value)}")
    return value


def _text_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidValue(f'expected a list of {what} like ["..."], got {describe_type(value)}')
    return [_text(item, what) for item in value]


def _validate_tags(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidValue(f'expected a table like {{ team = "nlp" }}, got {describe_type(value)}')
    tags: dict[str, str] = {}
    for key, tag_value in value.items():
        if not key.strip():
            raise InvalidValue("tag keys cannot be empty")
        if isinstance(tag_value, int | float) and not isinstance(tag_value, bool):
            raise InvalidValue(f"tag '{key}' must be text: write {key} = \"{tag_value}\"")
        if not isinstance(tag_value, str):
            raise InvalidValue(
                f"tag '{key}' must be text in quotes, got {describe_type(tag_value)}"
            )
        if not tag_value.strip():
            raise InvalidValue(
                f"tag '{key}' needs a value: an empty one would match untagged costs"
            )
        tags[key] = tag_value
    return tags


def _validate_accounts(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and any(isinstance(item, int) for item in value):
        raise InvalidValue('write account ids as text in quotes, like ["012345678901"]')
    accounts = _text_list(value, "account ids")
    for account in accounts:
        if not _ANY_ACCOUNT_ID.match(account):
            raise InvalidValue(
                f"'{account}' is not an account id (a 12-digit AWS account, an Azure "
                "subscription, a Google Cloud project or an OCI compartment OCID)",
                value=account,
            )
    return tuple(accounts)


def check_aws_accounts(path: tuple[str, ...], accounts: tuple[str, ...], locator: Locator) -> None:
    """Cost Explorer and CUR know AWS accounts only: refuse any other id, saying why."""
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            message = (
                f"'{account}' is not a 12-digit AWS account id (Cost Explorer and CUR "
                "sources know AWS accounts only; a FOCUS source takes any provider's)"
            )
            raise locator.error((*path, "accounts"), message, value=account)


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def _validate_role_arn(value: object) -> str:
    arn = _text(value, 'an IAM role ARN like "arn:aws:iam::123456789012:role/costbot"')
    if not _ROLE_ARN.match(arn):
        raise InvalidValue(
            f"'{arn}' is not an IAM role ARN like arn:aws:iam::123456789012:role/costbot",
            value=arn,
        )
    return arn


def _validate_regions(value: object) -> tuple[str, ...]:
    regions = _text_list(value, 'AWS regions like ["us-east-1"]')
    for region in regions:
        if not _REGION.match(region):
            raise InvalidValue(f"'{region}' is not an AWS region like us-east-1", value=region)
    return tuple(regions)


def _validate_external_id(value: object) -> str:
    return _text(value, "the role's external id")


def _validate_channel(value: object) -> str:
    channel = _text(value, 'a Slack channel like "#team-costs"')
    if not _SLACK_CHANNEL.match(channel):
        raise InvalidValue(
            f"'{channel}' is not a Slack channel: write \"#name\" (lowercase) "
            "or a channel id like C012ABCDEF",
            value=channel,
        )
    return channel


def _validate_user_ids(value: object) -> tuple[str, ...]:
    users = _text_list(value, "Slack user ids")
    for user in users:
        if not _SLACK_USER_ID.match(user):
            raise InvalidValue(f"'{user}' is not a Slack user id (like U012ABCDEF)", value=user)
    return tuple(users)


def _validate_budget(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"expected a number like 25000, got {describe_type(value)}")
    budget = Decimal(str(value))
    if not budget.is_finite() or budget < 0:
        raise InvalidValue(f"expected a number of 0 or more, got {value}")
    return budget


def _validate_timezone(value: object) -> str:
    name = _text(value, 'an IANA time zone like "Europe/London"')
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"'{name}' is not a known time zone (use IANA names like \"America/New_York\")",
            value=name,
        ) from None
    return name


_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _validate_digest_time(value: object) -> dt.time:
    if isinstance(value, dt.time):  # TOML's bare local time: 09:00 or 09:00:00
        return value.replace(second=0, microsecond=0)
    text = _text(value, 'a local time like "09:00"')
    match = _CLOCK_TIME.match(text.strip())
    if match is None:
        raise InvalidValue(
            f'\'{text}\' is not a time of day: write "HH:MM" like "09:00"', value=text
        )
    return dt.time(int(match[1]), int(match[2]))


def _validate_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"expected true or false, got {describe_type(value)}")
    return value


def _percentage(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"expected {what} as a number like 80, got {describe_type(value)}")
    percent = Decimal(str(value))
    if not percent.is_finite() or not 0 < percent <= 1000:
        raise InvalidValue(f"expected {what} between 0 and 1000 (percent), got {value}")
    return percent


def _validate_budget_alerts(value: object) -> tuple[Decimal, ...]:
    if not isinstance(value, list):
        raise InvalidValue(
            f"expected a list of percentages like [50, 80, 100], got {describe_type(value)}"
        )
    percents = [_percentage(item, "a percentage of the budget") for item in value]
    if len(set(percents)) != len(percents):
        raise InvalidValue("a percentage is listed twice")
    return tuple(sorted(percents))


def _validate_optional_percentage(value: object) -> Decimal | None:
    if value is False:
        return None  # `= false` turns the alert off
    return _percentage(value, "a percentage (or false to turn it off)")


_SPLIT_WORDS = ("proportional", "even")


def _validate_split(value: object) -> SplitRule:
    if isinstance(value, str):
        if value in _SPLIT_WORDS:
            return "proportional" if value == "proportional" else "even"
        close = difflib.get_close_matches(value, _SPLIT_WORDS, n=1)
        hint = f' — did you mean "{close[0]}"?' if close else ""
        raise InvalidValue(
            f"'{value}' is not a split{hint} "
            '(write "proportional", "even" or { team = percent, ... })',
            value=value,
        )
    if not isinstance(value, dict):
        raise InvalidValue(
            'expected "proportional", "even" or a table like { nlp = 60, recommendations = 40 }, '
            f"got {describe_type(value)}"
        )
    return _validate_percentages(value)


def _validate_percentages(value: dict[str, object]) -> dict[str, Decimal]:
    if not value:
        raise InvalidValue("name at least one team and its percentage, like { nlp = 100 }")
    percentages: dict[str, Decimal] = {}
    for team, raw in value.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            message = f"the percentage for '{team}' must be a number, got {describe_type(raw)}"
            raise InvalidValue(message, subkey=team)
        percent = Decimal(str(raw))
        if not percent.is_finite() or not 0 <= percent <= 100:
            message = f"the percentage for '{team}' must be between 0 and 100, got {raw}"
            raise InvalidValue(message, subkey=team)
        percentages[team] = percent
    total = sum(percentages.values(), Decimal(0))
    if total != 100:
        raise InvalidValue(f"the percentages must add up to 100, these add up to {total}")
    return percentages


def _validate_among(value: object) -> tuple[str, ...]:
    names = _text_list(value, "team names")
    if not names:
        raise InvalidValue("name at least one team, or leave 'among' out to mean every team")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidValue(f"'{name}' is listed twice", value=name)
        seen.add(name)
    return tuple(names)


def _schedule_value(parse: Callable[[Any], Any], value: object, shown: str | None) -> Any:
    try:
        return parse(value)
    except ScheduleError as error:
        raise InvalidValue(str(error).replace("`", "'"), value=shown) from None


def _validate_periods(value: object) -> tuple[Any, ...]:
    texts = _text_list(value, 'periods like "mon-fri 09:00-19:00"')
    if not texts:
        raise InvalidValue('name at least one period, like ["mon-fri 09:00-19:00"]')
    periods = tuple(_schedule_value(parse_period, text, text) for text in texts)
    return _schedule_value(check_periods, periods, None)


def _validate_schedule_timezone(value: object) -> str:
    name = _text(value, 'an IANA time zone like "Europe/London"')
    return _schedule_value(check_timezone, name, name)


def _validate_holidays(value: object) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise InvalidValue(
            f"expected a list of dates like [2026-12-25], got {describe_type(value)}"
        )
    for item in value:
        if not isinstance(item, str) and type(item).__name__ != "date":
            raise InvalidValue(f"expected dates like 2026-12-25, got {describe_type(item)}")
    return _schedule_value(parse_holidays, value, None)


def _validate_mode(value: object) -> Any:
    word = _text(value, '"start_stop" or "stop_only"')
    return _schedule_value(parse_mode, word, word)


def _validate_team_name(value: object) -> str:
    return _text(value, "a team name")


@dataclass(frozen=True)
class KeySpec:
    """One key a team table may have: how to check it and what it means."""

    validate: Callable[[object], Any]
    meaning: str


TEAM_SCHEMA: dict[str, KeySpec] = {
    "tags": KeySpec(_validate_tags, "cost allocation tags that all must match"),
    "accounts": KeySpec(_validate_accounts, "account ids whose costs are the team's"),
    "channel": KeySpec(_validate_channel, "the team's Slack channel"),
    "approvers": KeySpec(_validate_user_ids, "Slack user ids allowed to approve changes"),
    "members": KeySpec(_validate_user_ids, "Slack user ids of the team's members"),
    "monthly_budget": KeySpec(_validate_budget, "monthly budget in the billing currency"),
    "timezone": KeySpec(_validate_timezone, "IANA time zone for schedules and reports"),
    "digest_time": KeySpec(_validate_digest_time, 'local time of the daily digest ("09:00")'),
    "digest_weekends": KeySpec(_validate_flag, "post the digest on weekends too (false)"),
    "weekly_digest": KeySpec(_validate_flag, "Monday's digest also covers last week (true)"),
    "budget_alerts": KeySpec(
        _validate_budget_alerts, "alert when spend reaches these % of the budget ([50, 80, 100])"
    ),
    "forecast_alert": KeySpec(
        _validate_optional_percentage, "alert when the forecast reaches this % of the budget (100)"
    ),
    "spend_change_alert": KeySpec(
        _validate_optional_percentage,
        "alert when a day's spend exceeds its 7-day average by this % (50)",
    ),
    "require_second_approver": KeySpec(
        _validate_flag, "four-eyes: a change needs two different approvers (false)"
    ),
}
REQUIRED_KEYS = ("channel",)

SHARED_SCHEMA: dict[str, KeySpec] = {
    "tags": KeySpec(_validate_tags, "cost allocation tags that all must match"),
    "accounts": KeySpec(_validate_accounts, "account ids whose costs are shared"),
    "split": KeySpec(_validate_split, 'how to divide it: "proportional", "even" or percentages'),
    "among": KeySpec(_validate_among, "the teams that share it (default: every team)"),
}
ACCOUNT_SCHEMA: dict[str, KeySpec] = {
    "role_arn": KeySpec(_validate_role_arn, "the IAM role costbot assumes in that account"),
    "regions": KeySpec(_validate_regions, "the regions whose instances costbot reviews"),
    "external_id": KeySpec(
        _validate_external_id, "the external id the role's trust policy asks for"
    ),
}
SCHEDULE_SCHEMA: dict[str, KeySpec] = {
    "team": KeySpec(_validate_team_name, "the team whose resources it stops and starts"),
    "periods": KeySpec(_validate_periods, 'when resources run, like ["mon-fri 09:00-19:00"]'),
    "tags": KeySpec(_validate_tags, "tags its resources have besides the team's own"),
    "timezone": KeySpec(_validate_schedule_timezone, "IANA time zone (default: the team's)"),
    "holidays": KeySpec(_validate_holidays, "dates that are off all day"),
    "mode": KeySpec(_validate_mode, '"start_stop" (default) or "stop_only"'),
}
TOP_LEVEL_KEYS = ("teams", "shared", "accounts", "schedules")

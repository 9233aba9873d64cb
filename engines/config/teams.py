"""The teams file: who owns which costs, where to talk to them, who may approve changes.

The file is TOML, one table per team::

    [teams.fraud-detection]
    tags = { team = "fraud-detection" }
    channel = "#fraud-detection-costs"
    approvers = ["U0DEMOALICE"]
    require_second_approver = false     # true: every change needs two different approvers
    monthly_budget = 25000
    timezone = "America/New_York"
    digest_time = "09:00"               # the daily digest, in the team's time zone
    budget_alerts = [50, 80, 100]       # % of the budget; forecast_alert, spend_change_alert

Costs several teams share (a platform, a shared account) are tables of their own::

    [shared.platform]
    tags = { team = "platform" }        # and/or accounts = ["111122223333"]
    split = "proportional"              # or "even", or { fraud-detection = 50, nlp = 50 }
    among = ["fraud-detection", "nlp"]  # optional: default every team

Off-hours schedules select a team's resources by tags (see ``engines.schedules.model``)::

    [schedules.fraud-dev-hours]
    team = "fraud-detection"
    periods = ["mon-fri 09:00-19:00"]   # local times; several periods may not overlap
    tags = { env = "dev" }              # besides the team's own tags
    timezone = "America/New_York"       # optional: default the team's
    holidays = [2026-12-25]             # optional: dates (or "YYYY-MM-DD") off all day
    mode = "start_stop"                 # or "stop_only" (never starts anything)

Account ids in ``accounts`` are 12-digit AWS account ids when costs come from Cost Explorer
or a CUR; a FOCUS source may mix providers, so there they are any provider's account: an
Azure subscription GUID, a Google Cloud project id, an OCI compartment OCID
(``load_config(..., account_ids=AccountIds.ANY)``). ``[accounts.<id>]`` tables, the AWS
accounts costbot assumes a role in, always take 12-digit ids.

``split`` defaults to ``"proportional"`` (to each team's direct cost). Fixed percentages
must add up to exactly 100 and already name the teams, so they take no ``among``.

Every key a team may have is one row of ``TEAM_SCHEMA`` (key → validator), and every key a
shared cost may have one row of ``SHARED_SCHEMA``. To add a key, add a field to
``engines.models.Team`` (or ``SharedCost``) and a row here; the row's key is the field's name.
Errors name the file, the line and the key, because a person fixes them in an editor.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engines.errors import ConfigError, UnknownTeamError
from engines.models import AccountAccess, SharedCost, SplitRule, Team
from engines.schedules.model import (
    Schedule,
    ScheduleError,
    check_periods,
    check_timezone,
    parse_holidays,
    parse_mode,
    parse_period,
)

_TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{2,})$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
# Any provider's account id as FOCUS writes it in SubAccountId: letters, digits and the
# punctuation of GUIDs, project ids, OCIDs and resource paths; no spaces or quotes.
_ANY_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,254}$")


class AccountIds(StrEnum):
    """Which account ids the cost source knows, so which ``accounts`` the teams file takes."""

    AWS = "aws"  # Cost Explorer, CUR: 12-digit AWS account ids
    ANY = "any"  # FOCUS (files or Athena): any provider's sub account ids


class _Invalid(Exception):
    """A value is wrong. ``value`` (optional) helps find the exact line in a list."""

    def __init__(
        self, message: str, *, value: str | None = None, subkey: str | None = None
    ) -> None:
        super().__init__(message)
        self.value = value
        self.subkey = subkey


# --- validators: each takes the raw TOML value and returns the Team field's value ---------


def _describe_type(value: object) -> str:
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
        raise _Invalid(f"expected {what} in quotes, got {_describe_type(value)}")
    return value


def _text_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list):
        raise _Invalid(f'expected a list of {what} like ["..."], got {_describe_type(value)}')
    return [_text(item, what) for item in value]


def _validate_tags(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid(f'expected a table like {{ team = "nlp" }}, got {_describe_type(value)}')
    tags: dict[str, str] = {}
    for key, tag_value in value.items():
        if not key.strip():
            raise _Invalid("tag keys cannot be empty")
        if isinstance(tag_value, int | float) and not isinstance(tag_value, bool):
            raise _Invalid(f"tag '{key}' must be text: write {key} = \"{tag_value}\"")
        if not isinstance(tag_value, str):
            raise _Invalid(f"tag '{key}' must be text in quotes, got {_describe_type(tag_value)}")
        if not tag_value.strip():
            raise _Invalid(f"tag '{key}' needs a value: an empty one would match untagged costs")
        tags[key] = tag_value
    return tags


def _validate_accounts(value: object) -> tuple[str, ...]:
    if isinstance(value, list) and any(isinstance(item, int) for item in value):
        raise _Invalid('write account ids as text in quotes, like ["012345678901"]')
    accounts = _text_list(value, "account ids")
    for account in accounts:
        if not _ANY_ACCOUNT_ID.match(account):
            raise _Invalid(
                f"'{account}' is not an account id (a 12-digit AWS account, an Azure "
                "subscription, a Google Cloud project or an OCI compartment OCID)",
                value=account,
            )
    return tuple(accounts)


def _check_aws_accounts(
    path: tuple[str, ...], accounts: tuple[str, ...], locator: _Locator
) -> None:
    """Cost Explorer and CUR know AWS accounts only: refuse any other id, saying why."""
    for account in accounts:
        if not _ACCOUNT_ID.match(account):
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
        raise _Invalid(
            f"'{arn}' is not an IAM role ARN like arn:aws:iam::123456789012:role/costbot",
            value=arn,
        )
    return arn


def _validate_regions(value: object) -> tuple[str, ...]:
    regions = _text_list(value, 'AWS regions like ["us-east-1"]')
    for region in regions:
        if not _REGION.match(region):
            raise _Invalid(f"'{region}' is not an AWS region like us-east-1", value=region)
    return tuple(regions)


def _validate_external_id(value: object) -> str:
    return _text(value, "the role's external id")


def _validate_channel(value: object) -> str:
    channel = _text(value, 'a Slack channel like "#team-costs"')
    if not _SLACK_CHANNEL.match(channel):
        raise _Invalid(
            f"'{channel}' is not a Slack channel: write \"#name\" (lowercase) "
            "or a channel id like C012ABCDEF",
            value=channel,
        )
    return channel


def _validate_user_ids(value: object) -> tuple[str, ...]:
    users = _text_list(value, "Slack user ids")
    for user in users:
        if not _SLACK_USER_ID.match(user):
            raise _Invalid(f"'{user}' is not a Slack user id (like U012ABCDEF)", value=user)
    return tuple(users)


def _validate_budget(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number like 25000, got {_describe_type(value)}")
    budget = Decimal(str(value))
    if not budget.is_finite() or budget < 0:
        raise _Invalid(f"expected a number of 0 or more, got {value}")
    return budget


def _validate_timezone(value: object) -> str:
    name = _text(value, 'an IANA time zone like "Europe/London"')
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
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
        raise _Invalid(f'\'{text}\' is not a time of day: write "HH:MM" like "09:00"', value=text)
    return dt.time(int(match[1]), int(match[2]))


def _validate_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_describe_type(value)}")
    return value


def _percentage(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected {what} as a number like 80, got {_describe_type(value)}")
    percent = Decimal(str(value))
    if not percent.is_finite() or not 0 < percent <= 1000:
        raise _Invalid(f"expected {what} between 0 and 1000 (percent), got {value}")
    return percent


def _validate_budget_alerts(value: object) -> tuple[Decimal, ...]:
    if not isinstance(value, list):
        raise _Invalid(
            f"expected a list of percentages like [50, 80, 100], got {_describe_type(value)}"
        )
    percents = [_percentage(item, "a percentage of the budget") for item in value]
    if len(set(percents)) != len(percents):
        raise _Invalid("a percentage is listed twice")
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
        raise _Invalid(
            f"'{value}' is not a split{hint} "
            '(write "proportional", "even" or { team = percent, ... })',
            value=value,
        )
    if not isinstance(value, dict):
        raise _Invalid(
            'expected "proportional", "even" or a table like { nlp = 60, recommendations = 40 }, '
            f"got {_describe_type(value)}"
        )
    return _validate_percentages(value)


def _validate_percentages(value: dict[str, object]) -> dict[str, Decimal]:
    if not value:
        raise _Invalid("name at least one team and its percentage, like { nlp = 100 }")
    percentages: dict[str, Decimal] = {}
    for team, raw in value.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            message = f"the percentage for '{team}' must be a number, got {_describe_type(raw)}"
            raise _Invalid(message, subkey=team)
        percent = Decimal(str(raw))
        if not percent.is_finite() or not 0 <= percent <= 100:
            message = f"the percentage for '{team}' must be between 0 and 100, got {raw}"
            raise _Invalid(message, subkey=team)
        percentages[team] = percent
    total = sum(percentages.values(), Decimal(0))
    if total != 100:
        raise _Invalid(f"the percentages must add up to 100, these add up to {total}")
    return percentages


def _validate_among(value: object) -> tuple[str, ...]:
    names = _text_list(value, "team names")
    if not names:
        raise _Invalid("name at least one team, or leave 'among' out to mean every team")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _Invalid(f"'{name}' is listed twice", value=name)
        seen.add(name)
    return tuple(names)


def _schedule_value(parse: Callable[[Any], Any], value: object, shown: str | None) -> Any:
    try:
        return parse(value)
    except ScheduleError as error:
        raise _Invalid(str(error).replace("`", "'"), value=shown) from None


def _validate_periods(value: object) -> tuple[Any, ...]:
    texts = _text_list(value, 'periods like "mon-fri 09:00-19:00"')
    if not texts:
        raise _Invalid('name at least one period, like ["mon-fri 09:00-19:00"]')
    periods = tuple(_schedule_value(parse_period, text, text) for text in texts)
    return _schedule_value(check_periods, periods, None)


def _validate_schedule_timezone(value: object) -> str:
    name = _text(value, 'an IANA time zone like "Europe/London"')
    return _schedule_value(check_timezone, name, name)


def _validate_holidays(value: object) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of dates like [2026-12-25], got {_describe_type(value)}")
    for item in value:
        if not isinstance(item, str) and type(item).__name__ != "date":
            raise _Invalid(f"expected dates like 2026-12-25, got {_describe_type(item)}")
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


# --- finding line numbers ----------------------------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED_KEY})\s*\]\]?")
_KEY_ASSIGNMENT = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")


def _split_dotted_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, dotted)
    return tuple(part[1:-1] if part[:1] in "\"'" else part for part in parts)


@dataclass(frozen=True)
class _KeyLine:
    number: int
    path: tuple[str, ...]


def _index_key_lines(text: str) -> list[_KeyLine]:
    """Every table header and key assignment with the full key path it defines."""
    lines: list[_KeyLine] = []
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TABLE_HEADER.match(line):
            table = _split_dotted_key(header.group(1))
            lines.append(_KeyLine(number, table))
        elif assignment := _KEY_ASSIGNMENT.match(line):
            lines.append(_KeyLine(number, table + _split_dotted_key(assignment.group(1))))
    return lines


class _Locator:
    """Turns a key path into ``file:line: path: message``."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.lines = text.splitlines()
        self.index = _index_key_lines(text)

    def error(
        self,
        path: tuple[str, ...],
        message: str,
        *,
        label: tuple[str, ...] | None = None,
        value: str | None = None,
    ) -> ConfigError:
        """A ``ConfigError`` at the line defining ``path``, prefixed by ``label`` (or path)."""
        number = self._line_of(path, value)
        where = f"{self.filename}:{number}" if number else self.filename
        dotted = ".".join(path if label is None else label)
        return ConfigError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")

    def _line_of(self, path: tuple[str, ...], value: str | None) -> int:
        """The line defining ``path``, else its closest enclosing (or first inner) key; 0."""
        best: _KeyLine | None = None
        best_depth = 0
        for key_line in self.index:
            depth = min(len(path), len(key_line.path))
            related = path[:depth] == key_line.path[:depth]
            if related and depth > best_depth:
                best, best_depth = key_line, depth
        if best is None:
            return 0
        return best.number if value is None else self._line_showing(best, value)

    def _line_showing(self, start: _KeyLine, value: str) -> int:
        """The first line from ``start`` up to the next key that shows ``value`` quoted."""
        stop = next((k.number for k in self.index if k.number > start.number), None)
        last = stop - 1 if stop else len(self.lines)
        for number in range(start.number, last + 1):
            line = self.lines[number - 1]
            if f'"{value}"' in line or f"'{value}'" in line:
                return number
        return start.number


# --- loading -----------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"^(?P<reason>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


@dataclass(frozen=True)
class CostConfig:
    """Everything the teams file says: the teams (in file order) and the shared costs."""

    teams: dict[str, Team]
    shared: tuple[SharedCost, ...] = ()
    accounts: tuple[AccountAccess, ...] = ()
    schedules: tuple[Schedule, ...] = ()


def load_config(
    text: str, *, filename: str, account_ids: AccountIds = AccountIds.AWS
) -> CostConfig:
    """Parse and validate a teams file, shared costs included.

    Args:
        text: the file's contents (TOML).
        filename: how to name the file in error messages, e.g. ``"teams.toml"``.
        account_ids: which account ids team and shared ``accounts`` may hold: AWS ones
            (Cost Explorer, CUR) or any provider's (FOCUS).

    Returns:
        The teams by name and the shared costs, both in file order. Each shared cost's
        ``among`` is spelled out (every team when the file leaves it out).

    Raises:
        ConfigError: the TOML is malformed, or a key is unknown, missing or has a bad value,
            or a shared cost names an unknown team; the message names the file, the line
            and the key.
    """
    document = _parse_toml(text, filename)
    locator = _Locator(text, filename)
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise locator.error((key,), _unknown_top_level_message(key), label=())
    teams_table = _top_level_table(document, "teams", locator)
    teams = {name: _load_team(name, body, locator) for name, body in teams_table.items()}
    shared_table = _top_level_table(document, "shared", locator)
    shared = tuple(
        _load_shared(name, body, locator, list(teams)) for name, body in shared_table.items()
    )
    if account_ids is AccountIds.AWS:
        for team in teams.values():
            _check_aws_accounts(("teams", team.name), team.accounts, locator)
        for cost in shared:
            _check_aws_accounts(("shared", cost.name), cost.accounts, locator)
    accounts_table = _top_level_table(document, "accounts", locator)
    accounts = tuple(
        _load_account(account_id, body, locator) for account_id, body in accounts_table.items()
    )
    schedules_table = _top_level_table(document, "schedules", locator)
    schedules = tuple(
        _load_schedule(name, body, locator, teams) for name, body in schedules_table.items()
    )
    return CostConfig(teams=teams, shared=shared, accounts=accounts, schedules=schedules)


def load_teams(
    text: str, *, filename: str, account_ids: AccountIds = AccountIds.AWS
) -> dict[str, Team]:
    """Parse and validate a teams file; the teams only (``load_config`` has shared costs).

    Args:
        text: the file's contents (TOML).
        filename: how to name the file in error messages, e.g. ``"teams.toml"``.
        account_ids: as ``load_config``.

    Returns:
        Teams by name, in file order.

    Raises:
        ConfigError: as ``load_config`` (shared tables are validated too).
    """
    return load_config(text, filename=filename, account_ids=account_ids).teams


def _unknown_top_level_message(key: str) -> str:
    message = _unknown_key_message(key, TOP_LEVEL_KEYS, what="unknown top-level key")
    if difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1) == ["shared"]:
        return f"{message} (declare shared costs as [shared.<name>])"
    return f"{message} (declare teams as [teams.<name>])"


def _top_level_table(document: dict[str, Any], key: str, locator: _Locator) -> dict[str, Any]:
    table = document.get(key, {})
    if not isinstance(table, dict):
        raise locator.error((key,), f"declare each one as a table like [{key}.<name>]")
    return table


def _parse_toml(text: str, filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = _TOML_POSITION.match(str(error))
        if position is None:
            reason = str(error).removesuffix(" (at end of document)")
            last_line = max(len(text.splitlines()), 1)
            raise ConfigError(
                f"{filename}:{last_line}: invalid TOML: {reason} (at end of file)"
            ) from None
        raise ConfigError(
            f"{filename}:{position['line']}: invalid TOML: {position['reason']} "
            f"(line {position['line']}, column {position['column']})"
        ) from None


def _unknown_key_message(
    key: str, known: tuple[str, ...] | list[str], *, what: str = "unknown key"
) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"{what} '{key}' — did you mean '{close[0]}'?"
    return f"{what} '{key}' (known keys: {', '.join(known)})"


def _load_team(name: str, body: object, locator: _Locator) -> Team:
    path = ("teams", name)
    if not _TEAM_NAME.match(name):
        raise locator.error(path, "team names use lowercase letters, digits and '-' only")
    if not isinstance(body, dict):
        raise locator.error(path, f"expected a table [teams.{name}], got {_describe_type(body)}")
    for key in body:
        if key not in TEAM_SCHEMA:
            message = _unknown_key_message(key, list(TEAM_SCHEMA))
            raise locator.error((*path, key), message, label=path)
    fields = {key: _validated(path, key, body[key], locator) for key in body}
    for key in REQUIRED_KEYS:
        if key not in fields:
            meaning = TEAM_SCHEMA[key].meaning
            raise locator.error(path, f"missing '{key}' ({meaning})")
    if not fields.get("tags") and not fields.get("accounts"):
        raise locator.error(path, "needs 'tags' or 'accounts' to say which costs are the team's")
    fields.setdefault("tags", {})
    return Team(name=name, **fields)


def _validated(
    path: tuple[str, ...],
    key: str,
    value: object,
    locator: _Locator,
    schema: Mapping[str, KeySpec] = TEAM_SCHEMA,
) -> Any:
    try:
        return schema[key].validate(value)
    except _Invalid as error:
        where = (*path, key) if error.subkey is None else (*path, key, error.subkey)
        label = (*path, key)
        raise locator.error(where, str(error), label=label, value=error.value) from None


def _load_shared(name: str, body: object, locator: _Locator, teams: list[str]) -> SharedCost:
    path = ("shared", name)
    if not _TEAM_NAME.match(name):
        message = "shared cost names use lowercase letters, digits and '-' only"
        raise locator.error(path, message)
    if not isinstance(body, dict):
        message = f"expected a table [shared.{name}], got {_describe_type(body)}"
        raise locator.error(path, message)
    for key in body:
        if key not in SHARED_SCHEMA:
            message = _unknown_key_message(key, list(SHARED_SCHEMA))
            raise locator.error((*path, key), message, label=path)
    fields = {key: _validated(path, key, body[key], locator, SHARED_SCHEMA) for key in body}
    if not fields.get("tags") and not fields.get("accounts"):
        raise locator.error(path, "needs 'tags' or 'accounts' to say which costs are shared")
    fields.setdefault("tags", {})
    fields["among"] = _resolve_among(path, fields, locator, teams)
    return SharedCost(name=name, **fields)


def _load_account(account_id: str, body: object, locator: _Locator) -> AccountAccess:
    """``[accounts.<12-digit id>]``: the role to assume there and the regions to review."""
    path = ("accounts", account_id)
    if not _ACCOUNT_ID.match(account_id):
        raise locator.error(path, f"'{account_id}' is not a 12-digit AWS account id")
    if not isinstance(body, dict):
        message = f"expected a table [accounts.{account_id}], got {_describe_type(body)}"
        raise locator.error(path, message)
    for key in body:
        if key not in ACCOUNT_SCHEMA:
            message = _unknown_key_message(key, list(ACCOUNT_SCHEMA))
            raise locator.error((*path, key), message, label=path)
    fields = {key: _validated(path, key, body[key], locator, ACCOUNT_SCHEMA) for key in body}
    if "role_arn" not in fields:
        raise locator.error(path, "needs 'role_arn': the IAM role costbot assumes there")
    if f"::{account_id}:" not in fields["role_arn"]:
        message = f"the role must be in account {account_id}, not {fields['role_arn']}"
        raise locator.error((*path, "role_arn"), message, label=path)
    return AccountAccess(account_id=account_id, **fields)


def _load_schedule(
    name: str, body: object, locator: _Locator, teams: Mapping[str, Team]
) -> Schedule:
    """``[schedules.<name>]``: an off-hours schedule of one team's resources."""
    path = ("schedules", name)
    if not _TEAM_NAME.match(name):
        raise locator.error(path, "schedule names use lowercase letters, digits and '-' only")
    if not isinstance(body, dict):
        message = f"expected a table [schedules.{name}], got {_describe_type(body)}"
        raise locator.error(path, message)
    for key in body:
        if key not in SCHEDULE_SCHEMA:
            message = _unknown_key_message(key, list(SCHEDULE_SCHEMA))
            raise locator.error((*path, key), message, label=path)
    fields = {key: _validated(path, key, body[key], locator, SCHEDULE_SCHEMA) for key in body}
    for key in ("team", "periods"):
        if key not in fields:
            raise locator.error(path, f"missing '{key}' ({SCHEDULE_SCHEMA[key].meaning})")
    _check_team_name(fields["team"], (*path, "team"), locator, list(teams), value=fields["team"])
    team = teams[fields["team"]]
    return Schedule(
        name=name,
        team=team.name,
        timezone=fields.get("timezone", team.timezone),
        periods=fields["periods"],
        tags=fields.get("tags", {}),
        team_tags=team.tags,
        holidays=fields.get("holidays", ()),
        mode=fields.get("mode", Schedule.mode),
        source="teams file",
    )


def _resolve_among(
    path: tuple[str, ...], fields: dict[str, Any], locator: _Locator, teams: list[str]
) -> tuple[str, ...]:
    """The teams that share the cost: the percentages' teams, ``among``, or every team."""
    split = fields.get("split", "proportional")
    if isinstance(split, dict):
        if "among" in fields:
            message = "leave 'among' out: the percentages in 'split' already name the teams"
            raise locator.error((*path, "among"), message)
        for team in split:
            _check_team_name(team, (*path, "split", team), locator, teams, value=None)
        return tuple(split)
    if "among" in fields:
        for team in fields["among"]:
            _check_team_name(team, (*path, "among"), locator, teams, value=team)
        return tuple(fields["among"])
    if not teams:
        raise locator.error(path, "there are no teams to share it among: declare [teams.<name>]")
    return tuple(teams)


def _check_team_name(
    team: str, where: tuple[str, ...], locator: _Locator, teams: list[str], *, value: str | None
) -> None:
    if team in teams:
        return
    close = difflib.get_close_matches(team, teams, n=1)
    if close:
        message = f"unknown team '{team}' — did you mean '{close[0]}'?"
    else:
        message = f"unknown team '{team}' (teams: {', '.join(teams) or 'none declared'})"
    raise locator.error(where, message, label=where[:3], value=value)


# --- looking a team up -------------------------------------------------------------------


def find_team(teams: Mapping[str, Team], name: str) -> Team:
    """The team called ``name`` (case-insensitive, surrounding spaces ignored).

    Args:
        teams: teams by name, as ``load_teams`` returns them.
        name: what the user typed.

    Raises:
        UnknownTeamError: no such team; carries close matches (typos, prefixes) and all names.
    """
    wanted = name.strip().lower()
    by_lower_name = {team_name.lower(): team for team_name, team in teams.items()}
    if wanted in by_lower_name:
        return by_lower_name[wanted]
    suggestions = _suggest_team_names(wanted, list(teams))
    raise UnknownTeamError(name.strip(), suggestions=suggestions, known=sorted(teams))


def _suggest_team_names(wanted: str, names: list[str], limit: int = 3) -> list[str]:
    by_lower_name = {team_name.lower(): team_name for team_name in names}
    starting_with = [n for n in sorted(by_lower_name) if wanted and n.startswith(wanted)]
    close = difflib.get_close_matches(wanted, list(by_lower_name), n=limit, cutoff=0.6)
    ordered = list(dict.fromkeys(close + starting_with))[:limit]
    return [by_lower_name[lower] for lower in ordered]

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
``engines.models.Team`` (or ``SharedCost``) and a row in ``engines.config.schema``; the row's
key is the field's name.
Errors name the file, the line and the key, because a person fixes them in an editor.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engines.config.schema import (
    ACCOUNT_ID,
    ACCOUNT_SCHEMA,
    REQUIRED_KEYS,
    SCHEDULE_SCHEMA,
    SHARED_SCHEMA,
    TEAM_NAME,
    TEAM_SCHEMA,
    TOP_LEVEL_KEYS,
    AccountIds,
    InvalidValue,
    KeySpec,
    check_aws_accounts,
    describe_type,
)
from engines.config.toml_lines import Locator
from engines.errors import ConfigError, UnknownTeamError
from engines.models import AccountAccess, SharedCost, Team
from engines.schedules.model import Schedule

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
    locator = Locator(text, filename)
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
            check_aws_accounts(("teams", team.name), team.accounts, locator)
        for cost in shared:
            check_aws_accounts(("shared", cost.name), cost.accounts, locator)
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


def _top_level_table(document: dict[str, Any], key: str, locator: Locator) -> dict[str, Any]:
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


def _load_team(name: str, body: object, locator: Locator) -> Team:
    path = ("teams", name)
    if not TEAM_NAME.match(name):
        raise locator.error(path, "team names use lowercase letters, digits and '-' only")
    if not isinstance(body, dict):
        raise locator.error(path, f"expected a table [teams.{name}], got {describe_type(body)}")
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
    locator: Locator,
    schema: Mapping[str, KeySpec] = TEAM_SCHEMA,
) -> Any:
    try:
        return schema[key].validate(value)
    except InvalidValue as error:
        where = (*path, key) if error.subkey is None else (*path, key, error.subkey)
        label = (*path, key)
        raise locator.error(where, str(error), label=label, value=error.value) from None


def _load_shared(name: str, body: object, locator: Locator, teams: list[str]) -> SharedCost:
    path = ("shared", name)
    if not TEAM_NAME.match(name):
        message = "shared cost names use lowercase letters, digits and '-' only"
        raise locator.error(path, message)
    if not isinstance(body, dict):
        message = f"expected a table [shared.{name}], got {describe_type(body)}"
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


def _load_account(account_id: str, body: object, locator: Locator) -> AccountAccess:
    """``[accounts.<12-digit id>]``: the role to assume there and the regions to review."""
    path = ("accounts", account_id)
    if not ACCOUNT_ID.match(account_id):
        raise locator.error(path, f"'{account_id}' is not a 12-digit AWS account id")
    if not isinstance(body, dict):
        message = f"expected a table [accounts.{account_id}], got {describe_type(body)}"
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
    name: str, body: object, locator: Locator, teams: Mapping[str, Team]
) -> Schedule:
    """``[schedules.<name>]``: an off-hours schedule of one team's resources."""
    path = ("schedules", name)
    if not TEAM_NAME.match(name):
        raise locator.error(path, "schedule names use lowercase letters, digits and '-' only")
    if not isinstance(body, dict):
        message = f"expected a table [schedules.{name}], got {describe_type(body)}"
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
    path: tuple[str, ...], fields: dict[str, Any], locator: Locator, teams: list[str]
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
    team: str, where: tuple[str, ...], locator: Locator, teams: list[str], *, value: str | None
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

"""Turns the text after ``/cost`` into a typed request, or a ``UserInputError``.

The grammar, the same for the slash command and ``costbot cost``::

    help
    team <name> [period] [by <dimension>] [metric billed|effective|list]
    top [n] [period] [by <dimension>] [metric ...]        (default: by team)
    untagged [period] [by <dimension>] [metric ...]       (default: by service)
    compare <period> vs <period> [team <name>] [metric ...]
    forecast [team <name>] [metric ...]
    trend <team> [period] [metric ...]
    unit <team|model> [period] [metric ...]              (cost per 1,000 SageMaker invocations)
    rightsize [team]
    audit [team]
    spot <instance-type> [region]
    spot team <name>
    schedule [list [team] | show <name> | create | pause <name> | resume <name>
              | keep <resource, Name or key=value> until HH:MM | skip tomorrow [<name>]]
    digest [team] | digest post                          (post: approvers, your teams' now)

A period is whatever ``engines.costs.periods.parse_period`` reads; words are case-insensitive.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from engines.errors import UserInputError
from engines.models import Metric

SUBCOMMANDS = (
    "help",
    "team",
    "top",
    "untagged",
    "compare",
    "forecast",
    "trend",
    "unit",
    "rightsize",
    "audit",
    "spot",
    "schedule",
    "digest",
)
SCHEDULE_VERBS = ("list", "show", "create", "pause", "resume", "keep", "skip")
METRIC_WORDS = {
    "billed": Metric.BILLED,
    "unblended": Metric.BILLED,
    "effective": Metric.EFFECTIVE,
    "amortized": Metric.EFFECTIVE,
    "amortised": Metric.EFFECTIVE,
    "net": Metric.EFFECTIVE,
    "list": Metric.LIST,
}
MAX_TOP = 25

USAGE = {
    "help": "`/cost help`",
    "team": "`/cost team <name> [period] [by <dimension>] [metric billed|effective|list]`",
    "top": "`/cost top [n] [period] [by <dimension>] [metric …]`",
    "untagged": "`/cost untagged [period] [by <dimension>] [metric …]`",
    "compare": "`/cost compare <period> vs <period> [team <name>] [metric …]`",
    "forecast": "`/cost forecast [team] [metric …]`",
    "trend": "`/cost trend <team> [period] [metric …]`",
    "unit": "`/cost unit <team|model> [period] [metric …]`",
    "rightsize": "`/cost rightsize [team]`",
    "audit": "`/cost audit [team]`",
    "spot": "`/cost spot <instance-type> [region]` or `/cost spot team <name>`",
    "schedule": "`/cost schedule list [team] | show <name> | create | pause <name> | "
    "resume <name> | keep <instance, notebook or key=value> until HH:MM | skip tomorrow [<name>]`",
    "digest": "`/cost digest [team]` or `/cost digest post`",
}
"""The one usage line of each subcommand: an error about it shows this line, not all of them."""


@dataclass(frozen=True)
class HelpRequest:
    topic: str = ""


@dataclass(frozen=True)
class TeamCostRequest:
    team: str
    period_text: str = ""
    group_by: str = ""
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class TopRequest:
    count: int = 10
    period_text: str = ""
    group_by: str = "team"
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class UntaggedRequest:
    period_text: str = ""
    group_by: str = "service"
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class CompareRequest:
    left_text: str
    right_text: str
    team: str = ""
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class ForecastRequest:
    team: str = ""
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class TrendRequest:
    team: str
    period_text: str = ""
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class UnitCostRequest:
    """``/cost unit``: a team's endpoints, or a model's (its ``model_name`` tag)."""

    subject: str
    period_text: str = ""
    metric: Metric = Metric.BILLED


@dataclass(frozen=True)
class RightsizeRequest:
    team: str = ""


@dataclass(frozen=True)
class AuditRequest:
    team: str = ""


@dataclass(frozen=True)
class SpotRequest:
    instance_type: str
    region: str = ""


@dataclass(frozen=True)
class SpotTeamRequest:
    team: str


@dataclass(frozen=True)
class ScheduleRequest:
    """``/cost schedule ...``: ``verb`` is one of ``SCHEDULE_VERBS``."""

    verb: str = "list"
    name: str = ""  # a schedule (show, pause, resume, skip) or a team (list)
    target: str = ""  # keep: a resource id, Name or key=value
    until: str = ""  # keep: HH:MM


@dataclass(frozen=True)
class DigestRequest:
    team: str = ""
    post: bool = False  # queue today's digest of every team for posting, due or not


CostCommand = (
    HelpRequest
    | TeamCostRequest
    | TopRequest
    | UntaggedRequest
    | CompareRequest
    | ForecastRequest
    | TrendRequest
    | UnitCostRequest
    | RightsizeRequest
    | AuditRequest
    | SpotRequest
    | SpotTeamRequest
    | ScheduleRequest
    | DigestRequest
)


def parse_cost_command(text: str) -> CostCommand:
    """Parses ``/cost`` arguments.

    Raises:
        UserInputError: for an unknown subcommand or a missing argument, with a hint.
    """
    words = (text or "").split()
    if not words or words[0].lower() in {"help", "-h", "--help", "?"}:
        return HelpRequest(topic=" ".join(words[1:]).lower())
    subcommand, rest = words[0].lower(), words[1:]
    parser = _PARSERS.get(subcommand)
    if parser is None:
        # Swapped letters, or a close spelling: at 0.6 "unit" (then not built) was offered
        # "audit".
        close = [name for name in SUBCOMMANDS if sorted(name) == sorted(subcommand)]
        close = close or (["digest"] if subcommand.rstrip("s") == "budget" else [])
        close = close or (["unit"] if subcommand == "units" else [])
        close = close or difflib.get_close_matches(subcommand, SUBCOMMANDS, n=1, cutoff=0.7)
        did_you_mean = f" Did you mean `/cost {close[0]}`?" if close else ""
        raise UserInputError(
            f"I don't know `/cost {_short(words[0])}`.{did_you_mean}",
            usage=USAGE[close[0]] if close else "",
        )
    try:
        return parser(rest)
    except UserInputError as error:
        error.usage = error.usage or USAGE.get(subcommand, USAGE["schedule"])
        raise


def _parse_team(words: list[str]) -> TeamCostRequest:
    if not words:
        raise UserInputError(
            "`/cost team` needs a team name.", hint="Try `/cost team fraud-detection`."
        )
    options = _take_options(words[1:], allowed={"by", "metric"})
    return TeamCostRequest(
        team=words[0],
        period_text=options.rest,
        group_by=options.group_by,
        metric=options.metric,
    )


def _parse_top(words: list[str]) -> TopRequest:
    count = 10
    if words and words[0].isdigit():  # "²" too: refused below, like 5,000 digits
        count = int(words[0]) if words[0].isdecimal() and len(words[0]) <= 3 else 0
        if not 1 <= count <= MAX_TOP:
            shown = words[0] if len(words[0]) <= 6 else words[0][:6] + "…"
            raise UserInputError(f"`/cost top {shown}`: choose between 1 and {MAX_TOP}.")
        words = words[1:]
    options = _take_options(words, allowed={"by", "metric"})
    return TopRequest(
        count=count,
        period_text=options.rest,
        group_by=options.group_by or "team",
        metric=options.metric,
    )


def _parse_untagged(words: list[str]) -> UntaggedRequest:
    options = _take_options(words, allowed={"by", "metric"})
    return UntaggedRequest(
        period_text=options.rest, group_by=options.group_by or "service", metric=options.metric
    )


def _parse_compare(words: list[str]) -> CompareRequest:
    options = _take_options(words, allowed={"team", "metric"})
    left, separator, right = _split_on_vs(options.rest)
    if not separator or not left or not right:
        raise UserInputError(
            "`/cost compare` needs two periods with `vs` between them.",
            hint="Try `/cost compare last month vs 2026-09` or `/cost compare last 7d vs "
            "2026-11-01..2026-11-07 team nlp`.",
        )
    return CompareRequest(
        left_text=left, right_text=right, team=options.team, metric=options.metric
    )


def _parse_forecast(words: list[str]) -> ForecastRequest:
    if words and words[0].lower() not in {"team", "metric"}:
        words = ["team", *words]  # `/cost forecast nlp` reads as `/cost forecast team nlp`
    options = _take_options(words, allowed={"team", "metric"})
    if options.rest:
        raise UserInputError(
            f"`/cost forecast` forecasts to the end of this month; I don't understand "
            f"'{_short(options.rest)}'.",
            hint="Try `/cost forecast` or `/cost forecast nlp`.",
        )
    return ForecastRequest(team=options.team, metric=options.metric)


def _parse_trend(words: list[str]) -> TrendRequest:
    if not words:
        raise UserInputError("`/cost trend` needs a team name.", hint="Try `/cost trend nlp`.")
    options = _take_options(words[1:], allowed={"metric"})
    return TrendRequest(team=words[0], period_text=options.rest, metric=options.metric)


def _parse_unit(words: list[str]) -> UnitCostRequest:
    if not words:
        raise UserInputError(
            "`/cost unit` needs a team or a model name.",
            hint="Try `/cost unit fraud-detection` or `/cost unit fraud-xgb last month`.",
        )
    options = _take_options(words[1:], allowed={"metric"})
    return UnitCostRequest(subject=words[0], period_text=options.rest, metric=options.metric)


def _parse_rightsize(words: list[str]) -> RightsizeRequest:
    return RightsizeRequest(team=_only_team(words, "rightsize"))


def _parse_audit(words: list[str]) -> AuditRequest:
    return AuditRequest(team=_only_team(words, "audit"))


def _only_team(words: list[str], subcommand: str) -> str:
    if len(words) > 1:
        raise UserInputError(
            f"`/cost {subcommand}` takes at most a team name.",
            hint=f"Try `/cost {subcommand}` or `/cost {subcommand} nlp`.",
        )
    return words[0] if words else ""


INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9-]+")
REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d{1,2}")
_SPOT_HINT = (
    "Try `/cost spot g5.xlarge`, `/cost spot g5.xlarge us-west-2` or `/cost spot team nlp`."
)


def _parse_spot(words: list[str]) -> SpotRequest | SpotTeamRequest:
    if not words:
        raise UserInputError("`/cost spot` needs an instance type or a team.", hint=_SPOT_HINT)
    if words[0].lower() == "team":
        if len(words) != 2:
            raise UserInputError("`/cost spot team` needs one team name.", hint=_SPOT_HINT)
        return SpotTeamRequest(team=words[1])
    instance_type = words[0].lower()
    if not INSTANCE_TYPE.fullmatch(instance_type):
        raise UserInputError(
            f"'{_short(words[0])}' is not an instance type (like `g5.xlarge`). For a team's "
            f"instances, ask `/cost spot team {_short(words[0])}`.",
            hint=_SPOT_HINT,
        )
    if len(words) > 2:
        raise UserInputError(
            "`/cost spot` takes an instance type and at most a region.", hint=_SPOT_HINT
        )
    region = words[1].lower() if len(words) == 2 else ""
    if region and not REGION.fullmatch(region):
        raise UserInputError(
            f"'{_short(words[1])}' is not a region code (like `us-east-1`).", hint=_SPOT_HINT
        )
    return SpotRequest(instance_type=instance_type, region=region)


_SCHEDULE_USAGE = (
    "Try `/cost schedule list`, `/cost schedule show <name>`, `/cost schedule create`, "
    "`/cost schedule pause <name>`, `/cost schedule resume <name>`, "
    "`/cost schedule keep <instance or key=value> until 22:00` or `/cost schedule skip tomorrow`."
)


def _parse_schedule(words: list[str]) -> ScheduleRequest:
    if not words:
        return ScheduleRequest("list")
    verb, rest = words[0].lower(), words[1:]
    if verb not in SCHEDULE_VERBS:
        close = difflib.get_close_matches(verb, SCHEDULE_VERBS, n=1, cutoff=0.6)
        did_you_mean = f" Did you mean `/cost schedule {close[0]}`?" if close else ""
        raise UserInputError(
            f"I don't know `/cost schedule {_short(words[0])}`.{did_you_mean}",
            hint=_SCHEDULE_USAGE,
        )
    if verb in {"list", "create"}:
        if len(rest) > (1 if verb == "list" else 0):
            usage = "`/cost schedule list [team]`" if verb == "list" else "`/cost schedule create`"
            raise UserInputError(f"{usage} takes nothing more.", hint=_SCHEDULE_USAGE)
        return ScheduleRequest(verb, name=rest[0] if rest else "")
    if verb in {"show", "pause", "resume"}:
        if len(rest) != 1:
            raise UserInputError(
                f"`/cost schedule {verb}` needs one schedule name.",
                hint=f"Try `/cost schedule {verb} fraud-dev-hours`; `/cost schedule list` "
                "shows the names.",
            )
        return ScheduleRequest(verb, name=rest[0])
    if verb == "keep":
        return _parse_keep(rest)
    return _parse_skip(rest)


def _parse_keep(words: list[str]) -> ScheduleRequest:
    lowered = [word.lower() for word in words]
    if "until" not in lowered or lowered.index("until") != 1 or len(words) != 3:
        raise UserInputError(
            "`/cost schedule keep` needs what to keep and until when.",
            hint="Try `/cost schedule keep fraud-notebook-bob until 22:00` or "
            "`/cost schedule keep env=dev until 21:30`.",
        )
    return ScheduleRequest("keep", target=words[0], until=words[2])


def _parse_skip(words: list[str]) -> ScheduleRequest:
    if not words or words[0].lower() != "tomorrow" or len(words) > 2:
        raise UserInputError(
            "`/cost schedule skip` skips tomorrow: the schedule's resources stay off all day.",
            hint="Try `/cost schedule skip tomorrow` (your team's schedules) or "
            "`/cost schedule skip tomorrow fraud-dev-hours`.",
        )
    return ScheduleRequest("skip", name=words[1] if len(words) == 2 else "")


def _parse_digest(words: list[str]) -> DigestRequest:
    if len(words) == 1 and words[0].lower() == "post":
        return DigestRequest(post=True)
    return DigestRequest(team=_only_team(words, "digest"))


_PARSERS: dict[str, Callable[[list[str]], CostCommand]] = {
    "team": _parse_team,
    "top": _parse_top,
    "untagged": _parse_untagged,
    "compare": _parse_compare,
    "forecast": _parse_forecast,
    "trend": _parse_trend,
    "unit": _parse_unit,
    "rightsize": _parse_rightsize,
    "audit": _parse_audit,
    "spot": _parse_spot,
    "schedule": _parse_schedule,
    "schedules": _parse_schedule,
    "digest": _parse_digest,
}


@dataclass(frozen=True)
class _Options:
    rest: str
    group_by: str = ""
    metric: Metric = Metric.BILLED
    team: str = ""


def _take_options(words: list[str], *, allowed: set[str]) -> _Options:
    """Pulls ``by X``, ``metric X`` and ``team X`` out of ``words``; the rest is the period."""
    rest: list[str] = []
    found: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index].lower()
        if word in allowed:
            if index + 1 >= len(words):
                raise UserInputError(f"`{word}` needs a value.", hint=_OPTION_HINTS[word])
            if word in found:
                raise UserInputError(f"`{word}` is given twice.", hint=_OPTION_HINTS[word])
            found[word] = words[index + 1]
            index += 2
            continue
        rest.append(words[index])
        index += 1
    by = found.get("by", "")
    return _Options(
        rest=" ".join(rest),
        # tag keys keep their case; the words around them do not matter ("BY TAG:Env")
        group_by="tag:" + by[4:] if by.lower().startswith("tag:") else by.lower(),
        metric=_metric(found["metric"]) if "metric" in found else Metric.BILLED,
        team=found.get("team", ""),
    )


_OPTION_HINTS = {
    "by": "Group `by` service, account, region, resource, day, team or tag:<key>.",
    "metric": "Use `metric billed`, `metric effective` or `metric list`.",
    "team": "Name a team, e.g. `team fraud-detection`.",
}


def _metric(word: str) -> Metric:
    metric = METRIC_WORDS.get(word.lower())
    if metric is None:
        raise UserInputError(
            f"I don't know the metric '{_short(word)}'.", hint=_OPTION_HINTS["metric"]
        )
    return metric


def _split_on_vs(text: str) -> tuple[str, str, str]:
    words = text.split()
    for index, word in enumerate(words):
        if word.lower() in {"vs", "vs.", "versus"}:
            return " ".join(words[:index]), word, " ".join(words[index + 1 :])
    return text, "", ""


def _short(word: str, limit: int = 40) -> str:
    word = word.replace("`", "'")
    return word if len(word) <= limit else word[: limit - 1] + "…"

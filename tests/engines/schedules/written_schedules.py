"""Schedules from what a person writes (a modal or the teams file), for tests that start
from text: the bot itself parses a modal's fields one by one (``handlers.schedules.actions``)
and the teams file key by key (``engines.config.teams``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from engines.schedules.model import (
    Schedule,
    check_name,
    check_timezone,
    parse_holidays,
    parse_mode,
    parse_periods,
    parse_tags,
)


def build_schedule(
    *,
    name: str,
    team: str,
    team_tags: Mapping[str, str],
    timezone: str,
    periods: str | Sequence[str],
    tags: str | Mapping[str, str] = "",
    holidays: Iterable[str | dt.date] = (),
    mode: str = "start_stop",
    source: str = "slack",
    created_by: str = "",
) -> Schedule:
    """A checked schedule from what a person wrote (a modal or the teams file).

    Raises:
        ScheduleError: the first thing wrong, in words for the person who wrote it.
    """
    period_text = periods if isinstance(periods, str) else "\n".join(periods)
    return Schedule(
        name=check_name(name),
        team=team,
        timezone=check_timezone(timezone),
        periods=parse_periods(period_text),
        tags=parse_tags(tags) if isinstance(tags, str) else dict(tags),
        team_tags=dict(team_tags),
        holidays=parse_holidays(holidays),
        mode=parse_mode(mode),
        source=source,
        created_by=created_by,
    )

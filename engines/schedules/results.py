"""What ``/cost schedule`` answers: the schedules of a team, one schedule, or the outcome of a
pause, resume, keep or skip, each with the CLI's ``--json`` shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.schedules.enforcement import ScheduleView


@dataclass(frozen=True)
class ScheduleListResult:
    subject: str
    views: tuple[ScheduleView, ...]

    def as_json(self) -> dict[str, Any]:
        return {"team": self.subject, "groups": [_view_json(view) for view in self.views]}


@dataclass(frozen=True)
class ScheduleDetailResult:
    view: ScheduleView

    def as_json(self) -> dict[str, Any]:
        return _view_json(self.view)


@dataclass(frozen=True)
class ScheduleOutcome:
    """A pause, resume, keep or skip: done (``ok``) or refused, in words."""

    ok: bool
    text: str
    hint: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "text": self.text}


def _view_json(view: ScheduleView) -> dict[str, Any]:
    schedule = view.schedule
    return {
        "key": schedule.name,
        "team": schedule.team,
        "periods": schedule.describe_periods(),
        "timezone": schedule.timezone,
        "mode": schedule.mode.value,
        "paused": schedule.paused,
        "cost": str(view.saving.monthly),
        "resources": {d.resource.resource_id: d.desired.value for d in view.resources},
    }


ScheduleResult = ScheduleListResult | ScheduleDetailResult | ScheduleOutcome
"""What any ``/cost schedule`` question answers."""

"""From a parsed request to its planned answer: shared by /cost and the CLI.

``plan_answer`` hands the request to its feature's planner, which does the fast checks (team
exists, periods parse) so that mistakes are answered in the ack; the returned ``Work``
carries the slow part for after it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engines.errors import UserInputError
from handlers.cost.questions import (
    plan_compare,
    plan_forecast,
    plan_team,
    plan_top,
    plan_trend,
    plan_unit,
    plan_untagged,
)
from handlers.deps import Deps
from handlers.digests.questions import plan_digest
from handlers.parsing import (
    AuditRequest,
    CompareRequest,
    CostCommand,
    DigestRequest,
    ForecastRequest,
    RightsizeRequest,
    ScheduleRequest,
    SpotRequest,
    SpotTeamRequest,
    TeamCostRequest,
    TopRequest,
    TrendRequest,
    UnitCostRequest,
    UntaggedRequest,
)
from handlers.rightsizing.questions import plan_audit, plan_rightsize
from handlers.schedules.questions import plan_schedule
from handlers.spot.questions import plan_spot, plan_spot_team
from handlers.work import Work


def plan_answer(request: CostCommand, *, deps: Deps, asked_by: str = "") -> Work[Any]:
    """Checks ``request`` against the teams file and periods and prepares its answer.

    Raises:
        UserInputError: an unknown team, an unreadable period, a bad grouping.
    """
    planner = _PLANNERS.get(type(request))
    if planner is None:
        raise UserInputError("That question has no answer yet.")
    return planner(request, deps, asked_by)


_PLANNERS: dict[type, Callable[[Any, Deps, str], Work[Any]]] = {
    TeamCostRequest: plan_team,
    TopRequest: plan_top,
    UntaggedRequest: plan_untagged,
    CompareRequest: plan_compare,
    ForecastRequest: plan_forecast,
    TrendRequest: plan_trend,
    UnitCostRequest: plan_unit,
    RightsizeRequest: plan_rightsize,
    AuditRequest: plan_audit,
    SpotRequest: plan_spot,
    SpotTeamRequest: plan_spot_team,
    ScheduleRequest: plan_schedule,
    DigestRequest: plan_digest,
}

"""``/cost spot <type>`` and ``/cost spot team``, planned: the spot prices of an instance type
in a region, and a team's spot candidates (never contradicting right-sizing).
"""

from __future__ import annotations

import difflib
from typing import Any

from engines.config.teams import find_team
from engines.errors import CostbotError, UserInputError
from engines.models import Team
from engines.rightsizing.models import Recommendation
from engines.rightsizing.pricing import REGION_LOCATIONS
from engines.spot.review import SpotOutlook, TeamSpotReport, advice_first
from handlers.deps import Deps
from handlers.parsing import (
    SpotRequest,
    SpotTeamRequest,
)
from handlers.spot.blocks import build_spot_message, build_spot_team_message
from handlers.work import Reply, Work


def plan_spot(request: SpotRequest, deps: Deps, asked_by: str) -> Work[SpotOutlook]:
    advisor = _spot_advisor(deps)
    region = request.region or advisor.default_region
    _check_region(region, deps)

    def result() -> SpotOutlook:
        return advisor.outlook(request.instance_type, region)

    def render(answer: SpotOutlook) -> Reply:
        return Reply(build_spot_message(answer, asked_by=asked_by))

    return Work(f"spot prices of *{request.instance_type}* in {region}", result, render)


def plan_spot_team(request: SpotTeamRequest, deps: Deps, asked_by: str) -> Work[TeamSpotReport]:
    advisor = _spot_advisor(deps)
    team = find_team(deps.teams, request.team)

    def result() -> TeamSpotReport:
        advice, problem = _rightsizing_first(team, deps)
        return advisor.team_report(team, advice_first=advice, rightsizing_problem=problem)

    def render(answer: TeamSpotReport) -> Reply:
        return Reply(build_spot_team_message(answer, asked_by=asked_by))

    return Work(f"spot candidates of *{team.name}*", result, render)


def _rightsizing_first(team: Team, deps: Deps) -> tuple[dict[str, str], str]:
    """What right-sizing advises first for the team's instances (so that spot never
    contradicts it), and why it could not be asked, if so.

    The findings are the same review ``/cost rightsize`` shows; the changes are every open
    or under-way one, plus the history of each instance right-sizing would change (a
    dismissed proposal lets spot be offered)."""
    if deps.changes is None:
        return {}, ""
    findings: tuple[Recommendation, ...] = ()
    problem = ""
    if deps.rightsizing is not None:
        try:
            findings = deps.rightsizing.review(team).recommendations
        except CostbotError as error:
            problem = (
                f"Right-sizing could not be checked ({error}), so idle instances may be listed."
            )
    changes = {c.id: c for c in deps.changes.unsettled()}
    for rec in findings:
        if rec.action in ("modify", "stop") and rec.monthly_saving > 0:
            for change in deps.changes.history(rec.instance.instance_id):
                changes[change.id] = change
    return advice_first(findings, list(changes.values())), problem


def _spot_advisor(deps: Deps) -> Any:
    if deps.spot is None:
        raise UserInputError("The spot advisor needs AWS access (EC2), which is not set up here.")
    return deps.spot


def _check_region(region: str, deps: Deps) -> None:
    """Refuses a region code AWS does not have, in the ack, with the closest one."""
    known = set(REGION_LOCATIONS)
    if region in known:
        return
    if deps.spot is not None:  # a region newer than the list above may be in the feed
        feed, _ = deps.spot.feed()
        known |= set(feed.regions) if feed else set()
    if region in known:
        return
    close = difflib.get_close_matches(region, sorted(known), n=2, cutoff=0.6)
    did_you_mean = f" — did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
    raise UserInputError(
        f"There is no AWS region `{region}`{did_you_mean}",
        hint="Regions look like `us-east-1`, `us-west-2`, `eu-west-1`.",
    )

"""``/cost rightsize`` and ``/cost audit``, planned: the recommendations of a team's instances
with the change behind each button, and the latest audit records.
"""

from __future__ import annotations

from collections.abc import Sequence

from engines.changes.models import OPEN, Change, ChangeRequest, State
from engines.config.teams import find_team
from engines.costs.ownership import owner_of
from engines.errors import UserInputError
from engines.models import AuditResult
from engines.rightsizing.models import Recommendation, RightsizeResult
from handlers.deps import Deps
from handlers.parsing import (
    AuditRequest,
    RightsizeRequest,
)
from handlers.rightsizing.audit_blocks import build_audit_message
from handlers.rightsizing.blocks import build_rightsize_message
from handlers.work import Reply, Work


def plan_rightsize(request: RightsizeRequest, deps: Deps, asked_by: str) -> Work[RightsizeResult]:
    if deps.rightsizing is None or deps.changes is None:
        raise UserInputError(
            "Right-sizing needs AWS access (EC2 and CloudWatch), which is not configured here."
        )
    reviewer = deps.rightsizing
    teams = [find_team(deps.teams, request.team)] if request.team else list(deps.teams.values())
    subject = teams[0].name if request.team else "all teams"

    def result() -> RightsizeResult:
        proposals: list[tuple[str, Recommendation]] = []
        lookback = 14
        for team in teams:
            review = reviewer.review(team)
            lookback = review.lookback_days
            owned = [rec for rec in review.recommendations if _owner(rec, deps) == team.name]
            proposals += _proposals(owned, team.name, deps)
        proposals.sort(key=lambda pair: -pair[1].monthly_saving)
        approvers = tuple(dict.fromkeys(a for team in teams for a in team.approvers))
        return RightsizeResult(subject, tuple(proposals), approvers, lookback)

    def render(answer: RightsizeResult) -> Reply:
        return Reply(
            build_rightsize_message(
                answer.subject,
                answer.proposals,
                approvers=answer.approvers,
                dry_run=deps.dry_run,
                lookback_days=answer.lookback_days,
                asked_by=asked_by,
            )
        )

    return Work(f"right-sizing for *{subject}*", result, render)


def _owner(recommendation: Recommendation, deps: Deps) -> str:
    """The team whose rule claims the instance (the first matching rule, as in allocation):
    a team's review shows only its own instances, never another team's that its tags
    happen to match too."""
    instance = recommendation.instance
    return owner_of(instance.account_id, instance.tags, teams=deps.teams, shared=deps.shared)


def _proposals(
    recommendations: Sequence[Recommendation], team: str, deps: Deps
) -> list[tuple[str, Recommendation]]:
    """Each recommendation with the change behind its buttons: an open change for the same
    instance is reused; a dismissed or still-snoozed one keeps the recommendation away.

    Showing recommendations makes nobody a requester: costbot proposes the changes, and
    only the owning team's approvers decide them."""
    assert deps.changes is not None
    pairs: list[tuple[str, Recommendation]] = []
    for rec in recommendations:
        if rec.action not in ("modify", "stop") or rec.monthly_saving <= 0:
            pairs.append(("", rec))
            continue
        earlier = deps.changes.history(rec.instance.instance_id)
        if any(_keeps_away(change, deps) for change in earlier):
            continue
        open_change = next((c for c in earlier if c.state in OPEN), None)
        if open_change is not None and open_change.team != team:
            # The teams file now gives the instance to another team: the old team's pending
            # change is withdrawn, and the owner decides a fresh one.
            reason = f"the teams file now gives this instance to {team}"
            deps.changes.deny(open_change.id, by="costbot", reason=reason)
            open_change = None
        if open_change is None:
            request = ChangeRequest.from_recommendation(rec, requested_by="costbot", team=team)
            open_change = deps.changes.propose(request)
        pairs.append((str(open_change.id), rec))
    return pairs


def _keeps_away(change: Change, deps: Deps) -> bool:
    if change.state is State.DISMISSED:
        return True
    return change.state is State.SNOOZED and bool(
        change.snoozed_until and change.snoozed_until > deps.now()
    )


def plan_audit(request: AuditRequest, deps: Deps, asked_by: str) -> Work[AuditResult]:
    team_name = find_team(deps.teams, request.team).name if request.team else ""

    def result() -> AuditResult:
        records = deps.audit.recent_audit(team=team_name, limit=20)
        return AuditResult(team_name or "all teams", tuple(records))

    def render(answer: AuditResult) -> Reply:
        return Reply(build_audit_message(answer.subject, answer.records))

    return Work(f"the audit log of {team_name or 'all teams'}", result, render)

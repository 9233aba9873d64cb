"""``/cost rightsize`` and ``/cost audit``, planned: the recommendations of a team's instances
and SageMaker resources with the change behind each button, and the latest audit records.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from engines.changes.models import (
    OPEN,
    SAGEMAKER_KINDS,
    Change,
    ChangeRequest,
    Kind,
    State,
    arn_account,
    arn_region,
)
from engines.config.teams import find_team
from engines.costs.ownership import owner_of
from engines.errors import UserInputError
from engines.models import AuditResult, Team
from engines.rightsizing.models import Recommendation, RightsizeResult
from engines.sagemaker.models import SageMakerRecommendation
from engines.sagemaker.results import RightsizeAnswer
from engines.sagemaker.reviewer import TRAINING_PERIOD_DAYS
from handlers.deps import Deps
from handlers.parsing import (
    AuditRequest,
    RightsizeRequest,
)
from handlers.rightsizing.audit_blocks import build_audit_message
from handlers.rightsizing.blocks import build_rightsize_message
from handlers.work import Reply, Work

logger = logging.getLogger(__name__)


def plan_rightsize(request: RightsizeRequest, deps: Deps, asked_by: str) -> Work[RightsizeAnswer]:
    if deps.rightsizing is None or deps.changes is None:
        raise UserInputError(
            "Right-sizing needs AWS access (EC2 and CloudWatch), which is not configured here."
        )
    reviewer = deps.rightsizing
    teams = [find_team(deps.teams, request.team)] if request.team else list(deps.teams.values())
    subject = teams[0].name if request.team else "all teams"

    def result() -> RightsizeAnswer:
        proposals: list[tuple[str, Recommendation]] = []
        sagemaker: list[tuple[str, SageMakerRecommendation]] = []
        notes: list[str] = []
        nothing: list[str] = []  # teams without any SageMaker resource
        lookback = 14
        for team in teams:
            review = reviewer.review(team)
            lookback = review.lookback_days
            owned = [rec for rec in review.recommendations if _owner(rec, deps) == team.name]
            proposals += _proposals(owned, team.name, deps)
            if deps.sagemaker is not None:
                found, said, empty = _review_sagemaker(team, deps)
                sagemaker += _sagemaker_proposals(found, team.name, deps)
                notes += said
                nothing += [team.name] if empty else []
        proposals.sort(key=lambda pair: -pair[1].monthly_saving)
        sagemaker.sort(key=lambda pair: -pair[1].monthly_saving)
        if nothing:
            notes.append(nothing_on_sagemaker(nothing))
        approvers = tuple(dict.fromkeys(a for team in teams for a in team.approvers))
        ec2 = RightsizeResult(subject, tuple(proposals), approvers, lookback)
        return RightsizeAnswer(ec2, tuple(sagemaker), tuple(notes))

    def render(answer: RightsizeAnswer) -> Reply:
        return Reply(
            build_rightsize_message(
                answer.subject,
                [*answer.ec2.proposals, *answer.sagemaker],
                approvers=answer.ec2.approvers,
                dry_run=deps.dry_run,
                lookback_days=answer.ec2.lookback_days,
                asked_by=asked_by,
                sagemaker_notes=answer.sagemaker_notes,
            )
        )

    return Work(f"right-sizing for *{subject}*", result, render)


def _review_sagemaker(
    team: Team, deps: Deps
) -> tuple[list[SageMakerRecommendation], list[str], bool]:
    """The team's SageMaker recommendations (only resources its rule owns among all teams),
    what to say where SageMaker was skipped, and whether the team has no SageMaker resource
    at all. A failure of the review itself never takes the instances' cards with it: it is
    logged and said."""
    assert deps.sagemaker is not None
    teams, shared = deps.rules()
    try:
        review = deps.sagemaker.review(team, teams=teams, shared=shared)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        logger.exception("the SageMaker review of %s failed (ref %s)", team.name, reference)
        said = f"{team.name} skipped: an internal error (ref {reference}); it is logged."
        return [], [said], False
    notes = [f"{team.name} skipped in {where}" for where in review.skipped]
    owned = [rec for rec in review.recommendations if rec.team == team.name]
    return owned, notes, not review.resources and not review.skipped


def nothing_on_sagemaker(teams: Sequence[str]) -> str:
    """One sentence for every team without a SageMaker resource (``/cost rightsize`` of all
    teams says it once, not once a team)."""
    who = teams[0] if len(teams) == 1 else f"{', '.join(teams[:-1])} and {teams[-1]}"
    verb = "runs" if len(teams) == 1 else "run"
    return (
        f"{who} {verb} no endpoints or notebook instances and trained nothing in the last "
        f"{TRAINING_PERIOD_DAYS} days."
    )


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
        request = ChangeRequest.from_recommendation(rec, requested_by="costbot", team=team)
        change = _change_behind(earlier, request, deps, what="instance")
        pairs.append((str(change.id), rec))
    return pairs


def _sagemaker_proposals(
    recommendations: Sequence[SageMakerRecommendation], team: str, deps: Deps
) -> list[tuple[str, SageMakerRecommendation]]:
    """As ``_proposals``, for SageMaker: one change per actionable recommendation (advice,
    such as managed spot, gets a card without buttons). The resource is its name in its
    account and region, and for an endpoint the variant too: an open change for it is
    reused, a dismissed or still-snoozed one keeps the recommendation away, and another
    team's open change is withdrawn."""
    assert deps.changes is not None
    pairs: list[tuple[str, SageMakerRecommendation]] = []
    for rec in recommendations:
        if rec.action not in SAGEMAKER_KINDS or rec.monthly_saving <= 0:
            pairs.append(("", rec))
            continue
        earlier = [c for c in deps.changes.history(rec.name) if _same_resource(c, rec)]
        if any(_keeps_away(change, deps) for change in earlier):
            continue
        request = ChangeRequest.from_sagemaker(rec, requested_by="costbot", team=team)
        change = _change_behind(earlier, request, deps, what=rec.kind.replace("-", " "))
        pairs.append((str(change.id), rec))
    return pairs


def _change_behind(
    earlier: Sequence[Change], request: ChangeRequest, deps: Deps, *, what: str
) -> Change:
    """The change behind a card's buttons: the resource's open change when it is still the
    team's and still says what the card says; otherwise a fresh proposal. A pending change
    the teams file now gives to another team, or one the recommendation has moved on from
    (4 → 2 instances proposed, 4 → 3 recommended now), is withdrawn first, so a button never
    carries out something other than its card shows. An approved or scheduled change was
    decided as it stands and is kept."""
    assert deps.changes is not None
    open_change = next((c for c in earlier if c.state in OPEN), None)
    if open_change is not None and open_change.team != request.team:
        reason = f"the teams file now gives this {what} to {request.team}"
        deps.changes.deny(open_change.id, by="costbot", reason=reason)
        open_change = None
    if open_change is not None and _moved_on(open_change, request):
        reason = f"the recommendation is now {request.from_type} → {request.to_type}"
        deps.changes.deny(open_change.id, by="costbot", reason=reason)
        open_change = None
    return open_change or deps.changes.propose(request)


def _moved_on(change: Change, request: ChangeRequest) -> bool:
    """Whether a still undecided change proposes something other than ``request``."""
    if change.state not in (State.PROPOSED, State.SNOOZED):
        return False
    proposed = (change.kind, change.from_type, change.to_type, change.endpoint_config)
    return proposed != (request.kind, request.from_type, request.to_type, request.endpoint_config)


def _same_resource(change: Change, rec: SageMakerRecommendation) -> bool:
    """Whether ``change`` is about the resource ``rec`` is about: same name, account, region
    and variant, and a notebook's change for a notebook, an endpoint's for an endpoint."""
    if not change.kind.is_sagemaker:
        return False
    notebook = change.kind is Kind.NOTEBOOK_STOP
    return (
        notebook == (rec.kind == "notebook")
        and change.account_id == arn_account(rec.arn)
        and change.region == arn_region(rec.arn)
        and change.variant == rec.variant
    )


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

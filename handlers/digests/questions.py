"""``/cost digest``, planned: a team's digest shown to the asker, or (approvers) today's digests
posted by hand.
"""

from __future__ import annotations

from engines.config.teams import find_team
from engines.digests.digest import Digest
from engines.digests.results import DigestPostResult
from engines.errors import UserInputError
from engines.models import Team
from handlers.deps import Deps
from handlers.digests.blocks import build_digest_message, build_digest_post_message
from handlers.digests.jobs import DigestJob, digest_chart_png, team_digest
from handlers.parsing import (
    DigestRequest,
)
from handlers.work import Reply, Work


def plan_digest(
    request: DigestRequest, deps: Deps, asked_by: str
) -> Work[DigestPostResult] | Work[Digest]:
    if request.post:
        if deps.outbox is None:
            raise UserInputError("Posting digests needs the outbox, which is not set up here.")

        mine = [t for t in deps.teams.values() if asked_by in t.approvers]
        if not mine:
            raise UserInputError(
                "Only a team's approvers can post its digest by hand, and you approve for no team.",
                hint="`/cost digest <team>` shows a team's digest to you alone.",
            )

        def post() -> DigestPostResult:
            run = DigestJob(deps).run(deps.now(), force=True, teams=mine)
            return DigestPostResult(
                tuple(run.queued), tuple(run.already), tuple(run.failed.items())
            )

        def render_post(result: DigestPostResult) -> Reply:
            return Reply(build_digest_post_message(result.queued, result.already, result.failed))

        return Work("today's digests", post, render_post)
    team = _digest_team(request.team, deps, asked_by)
    now = deps.now()

    def result() -> Digest:
        return team_digest(deps, team, now)

    def render(digest: Digest) -> Reply:
        drawn = digest_chart_png(team, digest)
        chart = drawn[0] if drawn else None
        return Reply(build_digest_message(digest, asked_by=asked_by), chart=chart)

    return Work(f"today's digest of *{team.name}*", result, render)


def _digest_team(name: str, deps: Deps, asked_by: str) -> Team:
    if name:
        return find_team(deps.teams, name)
    mine = [t for t in deps.teams.values() if asked_by in t.members or asked_by in t.approvers]
    if len(mine) == 1:
        return mine[0]
    names = ", ".join(t.name for t in (mine or deps.teams.values()))
    raise UserInputError(
        "Whose digest? Name the team.", hint=f"Try `/cost digest <team>` with one of: {names}."
    )

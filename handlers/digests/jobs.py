"""Digests and budget alerts, from the engines to the outbox: shared by the scheduler's jobs,
``/cost digest`` and the CLI.

The scheduler runs a ``DigestJob`` every minute and ``check_budget_alerts`` every few
hours. Both are idempotent: a digest's key is its team and local date, an alert's its
team, kind, threshold and period, and the outbox adds a key once. So a restart at
09:00:30, two overlapping runs, or a DST change still give one digest per team per day.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engines.changes.models import Change
from engines.costs.periods import billing_date
from engines.digests.budgets import Alert, alerts_to_send, evaluate_alerts
from engines.digests.digest import (
    Digest,
    build_digest,
    digest_due_date,
    digest_key,
    local_now,
    team_figures,
)
from engines.errors import CostSourceError
from engines.models import SharedCost, Team
from handlers.cost.charts import render_daily_trend_png
from handlers.deps import Deps
from handlers.digests.blocks import build_alert_message, build_digest_message

logger = logging.getLogger(__name__)

RETRY_FAILED_BUILD = dt.timedelta(minutes=15)


def team_changes(deps: Deps, team_name: str) -> list[Change]:
    if deps.changes is None:
        return []
    return deps.changes.for_team(team_name)


def team_digest(
    deps: Deps,
    team: Team,
    now: dt.datetime,
    *,
    posted_on: dt.date | None = None,
    rules: tuple[Mapping[str, Team], Sequence[SharedCost]] | None = None,
) -> Digest:
    """The team's digest at ``now``: its figures as of the billing date (the UTC date, as
    every answer), its title and key the team's local date (``posted_on``, default the local
    date at ``now``). ``rules``: the teams and shared costs the team was found in (default
    ``deps.rules()``). Raises ``CostSourceError``."""
    teams, shared = rules or deps.rules()
    return build_digest(
        deps.cost_source,
        teams,
        shared,
        team=team,
        today=billing_date(now),
        changes=team_changes(deps, team.name),
        cache=deps.allocations,
        posted_on=posted_on or local_now(team, now).date(),
        cloudwatch_for=deps.cloudwatch_for,
    )


def digest_meta(digest: Digest) -> dict[str, Any]:
    """What App Home shows of a digest without opening the message."""
    figures = digest.figures
    return {
        "date": figures.today.isoformat(),
        "currency": figures.currency,
        "month_to_date": str(figures.month_to_date),
        "data_through": figures.data_through.isoformat() if figures.data_through else None,
        "budget": None if figures.budget is None else str(figures.budget),
        "forecast": None if figures.forecast is None else str(figures.forecast.amount),
    }


def digest_chart_png(team: Team, digest: Digest) -> tuple[bytes, str] | None:
    """The digest's chart (daily cost and its 7-day average) and its title, or None."""
    figures = digest.figures
    if not figures.daily:
        return None
    title = f"{team.name} · {figures.metric.label} · last {len(figures.daily)} days"
    return render_daily_trend_png(figures.daily, title=title, currency=figures.currency), title


def digest_chart(team: Team, digest: Digest) -> dict[str, str] | None:
    """The digest's chart as an outbox upload, or None."""
    drawn = digest_chart_png(team, digest)
    if drawn is None:
        return None
    png, title = drawn
    return {
        "content_b64": base64.b64encode(png).decode(),
        "filename": f"{team.name}-{digest.figures.today.isoformat()}.png",
        "title": title,
    }


@dataclass
class DigestRun:
    """Which teams got a digest queued, which had one already, which failed (and why)."""

    queued: list[str]
    already: list[str]
    failed: dict[str, str]


MANUAL_KEY_SUFFIX = ":by-hand"
"""Appended to a digest's key when ``/cost digest post`` queues it."""


class DigestJob:
    """The every-minute job: queue each team's digest once its local time has come.

    A build that fails (the cost source is down) is tried again after
    ``RETRY_FAILED_BUILD`` rather than every minute.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._failed_at: dict[str, dt.datetime] = {}

    def __call__(self, now: dt.datetime | None = None) -> DigestRun:
        return self.run(now or self.deps.now())

    def run(
        self, now: dt.datetime, *, force: bool = False, teams: Sequence[Team] | None = None
    ) -> DigestRun:
        """Queues the due digests; ``force``: today's digest of ``teams`` (default every
        team), due or not, posted by hand: under a key of its own, so it never uses up the
        scheduled digest (once a day by hand, once on schedule)."""
        outbox = self.deps.outbox
        run = DigestRun([], [], {})
        if outbox is None:
            return run
        rules = self.deps.rules()  # one teams file for the whole run, whatever it becomes
        for team in rules[0].values() if teams is None else teams:
            day = local_now(team, now).date() if force else digest_due_date(team, now)
            if day is None:
                continue
            key = digest_key(team.name, day) + (MANUAL_KEY_SUFFIX if force else "")
            if outbox.has(key):
                run.already.append(team.name)
                continue
            failed_at = self._failed_at.get(key)
            if failed_at and now - failed_at < RETRY_FAILED_BUILD and not force:
                continue
            try:
                digest = team_digest(self.deps, team, now, posted_on=day, rules=rules)
            except Exception as error:  # one team's failure never holds up the others
                self._failed_at[key] = now
                known = isinstance(error, CostSourceError)
                run.failed[team.name] = str(error) if known else "an internal error; it is logged"
                logger.log(logging.WARNING if known else logging.ERROR,
                           "digest for %s not built: %s", team.name, error,
                           exc_info=not known)  # fmt: skip
                continue
            message = build_digest_message(digest)
            chart = self._chart(team, digest)
            if chart is not None:  # one message: the digest, its chart below it
                message = {**message, "chart": chart}
            added = outbox.enqueue(
                key,
                channel=team.channel,
                message=message,
                kind="digest",
                team=team.name,
                meta=digest_meta(digest),
            )
            (run.queued if added else run.already).append(team.name)
        return run

    def _chart(self, team: Team, digest: Digest) -> dict[str, str] | None:
        """The digest's small chart, sent in the digest's message (the outbox puts it in
        the digest's thread if Slack takes no blocks with an upload). A chart that cannot
        be drawn is logged; the digest goes out anyway."""
        try:
            return digest_chart(team, digest)
        except Exception:
            logger.exception("the chart of %s's digest could not be drawn", team.name)
            return None


@dataclass(frozen=True)
class AlertDecision:
    alert: Alert
    status: str  # sent | would send | superseded | already sent | snoozed


def check_budget_alerts(
    deps: Deps, *, now: dt.datetime, dry_run: bool = False, teams: Sequence[Team] | None = None
) -> list[AlertDecision]:
    """Evaluates every team's thresholds and queues the alerts not sent yet this period.

    Args:
        dry_run: decide only; queue nothing (``costbot alerts check --dry-run``).
    """
    decisions: list[AlertDecision] = []
    rules, shared = deps.rules()  # one teams file for the whole check, whatever it becomes
    for team in teams if teams is not None else rules.values():
        try:
            figures = team_figures(
                deps.cost_source,
                rules,
                shared,
                team=team,
                today=billing_date(now),
                cache=deps.allocations,
            )
        except CostSourceError as error:
            logger.warning("budget check for %s skipped: %s", team.name, error)
            continue
        except Exception:  # one team's failure never holds up the others
            logger.exception("budget check for %s failed", team.name)
            continue
        decisions += _decide(deps, team, evaluate_alerts(team, figures), now, dry_run)
    return decisions


def _decide(
    deps: Deps, team: Team, alerts: list[Alert], now: dt.datetime, dry_run: bool
) -> list[AlertDecision]:
    outbox = deps.outbox
    sent = outbox.has if outbox is not None else (lambda key: False)
    plan = alerts_to_send(alerts, already_sent=sent)
    decided = [AlertDecision(a, "already sent") for a in alerts if sent(a.key)]
    until = deps.snoozes.alerts_snoozed_until(team.name) if deps.snoozes else None
    if until is not None and until > now:
        return decided + [AlertDecision(a, "snoozed") for a in plan.send + plan.superseded]
    if dry_run or outbox is None:
        return (
            decided
            + [AlertDecision(a, "would send") for a in plan.send]
            + [AlertDecision(a, "superseded") for a in plan.superseded]
        )
    for alert in plan.superseded:
        outbox.enqueue(alert.key, channel=team.channel, message={}, kind="alert",
                       team=team.name, meta=alert.as_json(), superseded=True)  # fmt: skip
        decided.append(AlertDecision(alert, "superseded"))
    for alert in plan.send:
        added = outbox.enqueue(alert.key, channel=team.channel, message=build_alert_message(alert),
                               kind="alert", team=team.name, meta=alert.as_json())  # fmt: skip
        decided.append(AlertDecision(alert, "sent" if added else "already sent"))
    return decided

"""The one scheduler, in the same process as Bolt. Jobs have stable ids (FACTS: APScheduler)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.store import Store
from engines.changes.models import Outcome, State
from engines.changes.runner import ChangeRunner
from handlers.deps import Deps
from handlers.digests.jobs import DigestJob, check_budget_alerts

logger = logging.getLogger(__name__)

SEEN_REQUESTS_KEPT = dt.timedelta(days=2)
BUDGET_CHECK_EVERY = dt.timedelta(hours=3)
FIRST_BUDGET_CHECK_AFTER = dt.timedelta(minutes=2)
MINUTE = dt.timedelta(minutes=1)


def build_scheduler(
    store: Store,
    *,
    now: Callable[[], dt.datetime],
    changes: ChangeRunner | None = None,
    notify: Callable[[Outcome], object] | None = None,
    schedules: Callable[[], object] | None = None,
    deps: Deps | None = None,
    tick: dt.timedelta = MINUTE,
) -> BackgroundScheduler:
    """A background scheduler (UTC) with costbot's jobs registered; not started.

    With ``deps`` (and its outbox) it also queues each team's digest when its local time
    comes (checked every minute) and checks budgets every three hours.

    Args:
        store: the database (housekeeping).
        now: the clock.
        changes: runs right-sizing changes approved for a maintenance window.
        notify: tells the channel how such a change ended.
        deps: the bot's dependencies (digests and budget alerts; needs its outbox).
        schedules: one minute of off-hours schedules (``handlers.schedules.jobs.run_schedules`` with
            its deps and Slack client); run 5 seconds past every minute, so a 19:00 stop
            happens at 19:00:05. What was applied is in the database, so a restart
            does nothing twice.
        tick: how often the every-minute jobs run (tests shorten it; with a tick other than
            a minute, schedules run every tick instead of 5 s past each minute).
    """
    scheduler = BackgroundScheduler(
        timezone=dt.UTC, job_defaults={"coalesce": True, "max_instances": 1}
    )
    scheduler.add_job(
        prune_seen_requests,
        "interval",
        hours=1,
        id="housekeeping.prune_seen_requests",
        replace_existing=True,
        kwargs={"store": store, "now": now},
    )
    if changes is not None:
        scheduler.add_job(
            run_due_changes,
            "interval",
            seconds=tick.total_seconds(),
            id="changes.run_due",
            replace_existing=True,
            kwargs={"changes": changes, "now": now, "notify": notify, "waiting": {}},
        )
    if schedules is not None:
        every_minute: dict[str, Any] = {"trigger": "cron", "minute": "*", "second": 5}
        if tick != MINUTE:
            every_minute = {"trigger": "interval", "seconds": tick.total_seconds()}
        scheduler.add_job(
            _logged(schedules, "off-hours schedules"),
            **every_minute,
            id="schedules.evaluate",
            replace_existing=True,
            misfire_grace_time=50,
        )
    if deps is not None and deps.teams_file is not None:
        scheduler.add_job(  # digests and alerts for the teams file as it is now
            deps.follow_teams_file,
            "interval",
            seconds=tick.total_seconds(),
            id="teams.follow_file",
            replace_existing=True,
        )
    if deps is not None and deps.outbox is not None:
        scheduler.add_job(
            DigestJob(deps),
            "interval",
            seconds=tick.total_seconds(),
            id="digests.enqueue_due",
            replace_existing=True,
        )
        scheduler.add_job(
            check_budgets,
            "interval",
            seconds=BUDGET_CHECK_EVERY.total_seconds(),
            next_run_time=now() + FIRST_BUDGET_CHECK_AFTER,
            id="budgets.check",
            replace_existing=True,
            kwargs={"deps": deps},
        )
    return scheduler


def check_budgets(*, deps: Deps) -> int:
    """Queues the budget alerts that hold and were not sent yet this period."""
    decisions = check_budget_alerts(deps, now=deps.now())
    sent = [d for d in decisions if d.status == "sent"]
    logger.info("budget check: %d alert(s) queued", len(sent))
    return len(sent)


def _logged(job: Callable[[], object], what: str) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:
            logger.exception("%s failed; trying again next minute", what)

    return run


def run_due_changes(
    *,
    changes: ChangeRunner,
    now: Callable[[], dt.datetime],
    notify: Callable[[Outcome], object] | None = None,
    waiting: dict[int, str] | None = None,
) -> int:
    """Carries out the changes approved for a maintenance window that has come, and tells
    the channel how each ended (``notify``).

    A change that cannot run yet (an endpoint still Updating, AWS not answering) stays
    scheduled and is tried again next time; its thread is told why once, and again only
    when the reason changes, not once a minute.

    Args:
        changes: the changes.
        now: the clock.
        notify: tells the change's thread.
        waiting: what each waiting change's thread was last told (kept between runs).
    """
    waiting = {} if waiting is None else waiting
    due = changes.due(now())
    for change in due:
        outcome = changes.execute(change.id)
        logger.info("scheduled change %s: %s", change.id, outcome.text)
        if outcome.state is State.SCHEDULED:
            if waiting.get(change.id) == outcome.text:
                continue
            waiting[change.id] = outcome.text
            outcome = dataclasses.replace(
                outcome,
                text=f"{change.label} has not run yet: {outcome.text} I try again every minute.",
            )
        else:
            waiting.pop(change.id, None)
        if notify is not None:
            notify(outcome)
    return len(due)


def prune_seen_requests(*, store: Store, now: Callable[[], dt.datetime]) -> int:
    """Forgets de-duplication keys older than Slack could still retry (retries end in minutes)."""
    removed = store.forget_seen_before(now() - SEEN_REQUESTS_KEPT)
    logger.info("pruned %d old request keys", removed)
    return removed

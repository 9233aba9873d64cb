"""The scheduler's jobs: registered at start-up under stable ids, at the intended pace."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.interval import IntervalTrigger

from bot.app import build_deps
from bot.scheduler import build_scheduler
from bot.settings import Settings
from bot.store import Store
from engines.costs.sources.focus import FocusFileSource
from handlers.digests.jobs import DigestJob
from tests.conftest import DEMO_TEAMS, FROZEN_NOW


def test_digests_every_minute_and_budgets_every_three_hours_under_stable_ids(
    tmp_path, small_export
):
    store = Store(tmp_path / "costbot.db")
    settings = Settings(db_path=tmp_path / "costbot.db", teams_file=DEMO_TEAMS)
    deps = build_deps(
        settings, store=store, cost_source=FocusFileSource(str(small_export.path)),
        now=lambda: FROZEN_NOW,
    )  # fmt: skip

    scheduler = build_scheduler(store, now=lambda: FROZEN_NOW, changes=deps.changes, deps=deps)
    again = build_scheduler(store, now=lambda: FROZEN_NOW, changes=deps.changes, deps=deps)

    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {job.id for job in again.get_jobs()} == set(jobs)  # the same ids at every start
    assert {"digests.enqueue_due", "budgets.check", "changes.run_due"} <= set(jobs)
    digest, budgets = jobs["digests.enqueue_due"], jobs["budgets.check"]
    assert isinstance(digest.func, DigestJob)
    assert isinstance(digest.trigger, IntervalTrigger)
    assert digest.trigger.interval == dt.timedelta(minutes=1)
    assert budgets.trigger.interval == dt.timedelta(hours=3)
    assert budgets.next_run_time == FROZEN_NOW + dt.timedelta(minutes=2)  # soon after start-up


def test_without_an_outbox_no_digest_job_is_registered(tmp_path):
    store = Store(tmp_path / "costbot.db")
    scheduler = build_scheduler(store, now=lambda: FROZEN_NOW)
    assert {job.id for job in scheduler.get_jobs()} == {"housekeeping.prune_seen_requests"}


def test_a_shorter_tick_runs_the_every_minute_jobs_that_often(tmp_path, small_export):
    store = Store(tmp_path / "costbot.db")
    settings = Settings(db_path=tmp_path / "costbot.db", teams_file=DEMO_TEAMS)
    deps = build_deps(
        settings, store=store, cost_source=FocusFileSource(str(small_export.path)),
        now=lambda: FROZEN_NOW,
    )  # fmt: skip

    scheduler = build_scheduler(store, now=lambda: FROZEN_NOW, changes=deps.changes, deps=deps,
                                schedules=lambda: 0, tick=dt.timedelta(seconds=1))  # fmt: skip

    jobs = {job.id: job for job in scheduler.get_jobs()}
    for job_id in ("digests.enqueue_due", "changes.run_due", "schedules.evaluate"):
        assert jobs[job_id].trigger.interval == dt.timedelta(seconds=1), job_id

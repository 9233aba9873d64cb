"""What the listeners need from the composition root, as plain values and protocols."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from engines.changes.runner import ChangeRunner
from engines.config.teams import CostConfig
from engines.costs.allocation_cache import AllocationCache
from engines.costs.sources.protocol import Source
from engines.models import SharedCost, Team
from engines.rightsizing.fleet_review import FleetReviewer
from engines.sagemaker.reviewer import SageMakerReviewer
from engines.schedules.enforcement import OffHours
from engines.spot.review import SpotAdvisor

logger = logging.getLogger(__name__)

DEFAULT_QUESTION_SECONDS = 60.0
"""How long a question may take (``COSTBOT_QUESTION_SECONDS``)."""
_LONGEST_LIMIT = 24 * 3600.0


class AuditLog(Protocol):
    def record_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> int: ...

    def recent_audit(self, *, team: str = "", limit: int = 20) -> list[dict[str, Any]]: ...


class RequestLedger(Protocol):
    def first_time_seen(self, key: str) -> bool: ...

    def forget_seen(self, key: str) -> None: ...


class Outbox(Protocol):
    """Where scheduled messages go (``bot.outbox.Outbox``): once per key, at Slack's pace."""

    def enqueue(
        self,
        key: str,
        *,
        channel: str,
        message: dict[str, Any],
        kind: str,
        team: str = "",
        meta: dict[str, Any] | None = None,
        superseded: bool = False,
    ) -> bool: ...

    def has(self, key: str) -> bool: ...

    def last(self, *, team: str, kind: str) -> dict[str, Any] | None: ...


class CardStore(Protocol):
    """Where the blocks of channel cards are kept (``bot.store.Store``): the bot has no
    scope to read channel history, so it remembers what it last put on each card."""

    def save_card(
        self, channel: str, ts: str, *, blocks: list[dict[str, Any]], text: str
    ) -> None: ...

    def card(self, channel: str, ts: str) -> tuple[list[dict[str, Any]], str] | None: ...


class TeamsFile(Protocol):
    """The teams file followed while the bot runs (``bot.teams_file.TeamsFileWatch``)."""

    def current(self) -> CostConfig: ...


class AlertSnoozes(Protocol):
    def snooze_alerts(self, team: str, *, until: dt.datetime, by: str) -> None: ...

    def alerts_snoozed_until(self, team: str) -> dt.datetime | None: ...


_RULES_LOCK = threading.Lock()  # Deps.teams and Deps.shared change together, under it


@dataclass(frozen=True)
class Deps:
    """Everything a listener may use. Built once by ``bot.app``.

    Args:
        teams: the teams file, by team name.
        cost_source: where costs come from (``engines.costs.sources.protocol.Source``: answers
            ``costs(CostQuery)``; Cost Explorer also ``forecast``, billing files ``coverage``).
        now: the clock (UTC, timezone-aware); tests freeze it.
        audit: where actions are recorded.
        ledger: remembers request ids so Slack's retries never run anything twice.
        dry_run: when true, nothing that changes cloud resources is carried out.
        shared: shared costs from the teams file, split across teams.
        changes: carries out approved changes (None: right-sizing is not set up).
        rightsizing: reviews a team's instances (``rightsizing.fleet_review.FleetReviewer``).
        sagemaker: reviews a team's SageMaker endpoints, notebooks and training jobs
            (``engines.sagemaker.reviewer.SageMakerReviewer``); None: not set up, and
            ``/cost rightsize`` shows EC2 alone.
        spot: spot prices, candidates and fleet plans (``engines.spot.review.SpotAdvisor``).
        offhours: off-hours schedules (None: not set up).
        outbox: where digests and alerts are queued for posting (None: not set up).
        snoozes: remembers which teams silenced their alerts, and until when.
        cards: the blocks each channel card was last given, shared by every process, so a
            form submitted to another process, or tonight's run, can update the card.
        allocations: remembers the allocations of the source's answers and what every team
            reads of them, so a morning of digests and alerts allocates each question once.

        background: where clicks and approvals do their work after the ack, so that
            Bolt's listener threads are free to acknowledge the next requests within
            Slack's 3 seconds. Questions never run here: a click never waits behind them.
        questions: where ``/cost`` questions run (``run_question``), a pool of their own.
        executions: where an Approve or a Revert carries its change out (``run_change``): a
            SageMaker endpoint takes minutes to delete or re-create (waits of up to an hour),
            an EC2 resize a few, and none of that may hold up the other clicks.
        question_seconds: how long a question may take before the user is told it took
            too long (its result, if it comes later, is dropped).
        teams_file: the teams file, read again when it changes (``follow_teams_file``);
            None: the teams given stay.
        cloudwatch_for: a CloudWatch client for (account id, region), for the questions
            that read metrics themselves (``/cost unit``); None: AWS access is not set up.
    """

    teams: Mapping[str, Team]
    cost_source: Source
    now: Callable[[], dt.datetime]
    audit: AuditLog
    ledger: RequestLedger
    dry_run: bool = True
    shared: tuple[SharedCost, ...] = ()
    changes: ChangeRunner | None = None
    rightsizing: FleetReviewer | None = None
    sagemaker: SageMakerReviewer | None = None
    spot: SpotAdvisor | None = None
    offhours: OffHours | None = None
    outbox: Outbox | None = None
    snoozes: AlertSnoozes | None = None
    cards: CardStore | None = None
    allocations: AllocationCache = field(default_factory=AllocationCache)
    background: Executor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))
    questions: Executor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))
    executions: Executor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=8))
    question_seconds: float = DEFAULT_QUESTION_SECONDS
    teams_file: TeamsFile | None = None
    cloudwatch_for: Callable[[str, str], Any] | None = None

    def follow_teams_file(self) -> bool:
        """Take the teams and shared costs of the teams file when it changed (one ``stat``,
        at most every second); whether they changed. Called as each question or click
        starts, and by the scheduler before digests: an edited teams file answers the next
        question without a restart."""
        if self.teams_file is None:
            return False
        with _RULES_LOCK:  # one at a time: the newest file wins, teams and shared together
            config = self.teams_file.current()
            if config.teams is self.teams and config.shared is self.shared:
                return False
            # The one place the teams change: new objects, so answers and allocations
            # remembered for the old ones are not reused.
            object.__setattr__(self, "teams", config.teams)
            object.__setattr__(self, "shared", config.shared)
        return True

    def rules(self) -> tuple[Mapping[str, Team], Sequence[SharedCost]]:
        """The teams and shared costs as one pair, never one of an older teams file. A
        question takes them when it is planned and answers with them, so an edit while it
        waits for the pool never answers it against teams it was not asked about."""
        with _RULES_LOCK:
            return self.teams, self.shared  # the same objects: allocations are keyed by them

    def run_later(self, work: Callable[[], object], *, slow: bool = False) -> None:
        """Runs ``work`` on the clicks' pool (``background``), or with ``slow`` on the
        questions' pool (cost questions that are not typed, such as App Home's, so that
        they never hold up a click); its result is dropped, an exception is logged, never
        lost."""

        def logged() -> None:
            try:
                work()
            except Exception:
                logger.exception("background work failed")

        self.follow_teams_file()
        (self.questions if slow else self.background).submit(logged)

    def run_change(self, work: Callable[[], object]) -> None:
        """Runs ``work``, a click that carries a change out (Approve, Revert), on the
        executions' pool: it may wait for AWS for minutes, the other clicks never wait for
        it. An exception is logged, never lost."""

        def logged() -> None:
            try:
                work()
            except Exception:
                logger.exception("carrying out a change failed")

        self.follow_teams_file()
        self.executions.submit(logged)

    def run_question(
        self, work: Callable[[Callable[[], bool]], object], *, too_long: Callable[[], object]
    ) -> None:
        """Runs a question on the questions' pool under the time limit.

        ``work`` computes, then calls the ``claim`` it is handed just before answering: it
        answers only when ``claim()`` is true. When ``question_seconds`` pass first (queued
        or running), ``too_long`` answers instead, a question still queued never starts,
        and a late ``claim()`` is false, so the user gets exactly one answer.

        Args:
            work: the question; takes ``claim``.
            too_long: tells the user the question took too long.
        """
        self.follow_teams_file()
        claim = _Once()
        limit = min(self.question_seconds, _LONGEST_LIMIT)  # "inf" would overflow the wait
        timer = threading.Timer(limit, lambda: expire())
        timer.daemon = True

        def logged() -> None:
            try:
                work(claim)
            except Exception:
                logger.exception("a question failed")
            finally:
                timer.cancel()

        future = self.questions.submit(logged)

        def expire() -> None:
            if not claim():
                return
            future.cancel()  # still queued: it never starts
            logger.warning("a question took longer than %s s: answered 'too long'",
                           self.question_seconds)  # fmt: skip
            try:
                too_long()
            except Exception:
                logger.exception("telling the user a question took too long failed")

        if not future.done():
            timer.start()

    def today(self) -> dt.date:
        return self.now().astimezone(dt.UTC).date()


class _Once:
    """True for the first call only (thread-safe): who answers a question, the question or
    its time limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def __call__(self) -> bool:
        with self._lock:
            if self._taken:
                return False
            self._taken = True
            return True

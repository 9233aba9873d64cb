"""What the listeners need from the composition root, as plain values and protocols."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from engines.changes import ChangeRunner
from engines.fleet_review import FleetReviewer
from engines.models import SharedCost, Team
from engines.offhours import OffHours
from engines.spot_review import SpotAdvisor

logger = logging.getLogger(__name__)


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


class AlertSnoozes(Protocol):
    def snooze_alerts(self, team: str, *, until: dt.datetime, by: str) -> None: ...

    def alerts_snoozed_until(self, team: str) -> dt.datetime | None: ...


@dataclass(frozen=True)
class Deps:
    """Everything a listener may use. Built once by ``bot.app``.

    Args:
        teams: the teams file, by team name.
        cost_source: where costs come from (answers ``costs(CostQuery)``; Cost Explorer
            also ``forecast``).
        now: the clock (UTC, timezone-aware); tests freeze it.
        audit: where actions are recorded.
        ledger: remembers request ids so Slack's retries never run anything twice.
        dry_run: when true, nothing that changes cloud resources is carried out.
        shared: shared costs from the teams file, split across teams.
        changes: carries out approved changes (None: right-sizing is not set up).
        rightsizing: reviews a team's instances (``engines.fleet_review.FleetReviewer``).
        spot: spot prices, candidates and fleet plans (``engines.spot_review.SpotAdvisor``).
        offhours: off-hours schedules (None: not set up).
        outbox: where digests and alerts are queued for posting (None: not set up).
        snoozes: remembers which teams silenced their alerts, and until when.

        background: where slow work goes after the ack, so that Bolt's listener threads
            are free to acknowledge the next requests within Slack's 3 seconds.
    """

    teams: Mapping[str, Team]
    cost_source: Any
    now: Callable[[], dt.datetime]
    audit: AuditLog
    ledger: RequestLedger
    dry_run: bool = True
    shared: tuple[SharedCost, ...] = ()
    changes: ChangeRunner | None = None
    rightsizing: FleetReviewer | None = None
    spot: SpotAdvisor | None = None
    offhours: OffHours | None = None
    outbox: Outbox | None = None
    snoozes: AlertSnoozes | None = None
    background: Executor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))

    def run_later(self, work: Callable[[], object]) -> None:
        """Runs ``work`` on the background pool; its result is dropped, an exception is
        logged, never lost."""

        def logged() -> None:
            try:
                work()
            except Exception:
                logger.exception("background work failed")

        self.background.submit(logged)

    def today(self) -> dt.date:
        return self.now().astimezone(dt.UTC).date()

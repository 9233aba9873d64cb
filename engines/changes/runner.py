"""``ChangeRunner``: the one object the rest of costbot uses to propose, decide, execute,
revert and recover changes, and to look them up."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from typing import Any

from engines.changes.decisions import Decisions
from engines.changes.execution import Execution
from engines.changes.models import IN_FLIGHT, OPEN, Change, ChangeRequest, Outcome, State
from engines.changes.records import Records
from engines.changes.recovery import Recovery
from engines.changes.store import Audit, ChangeStore


class ChangeRunner:
    """Decides and executes changes.

    Args:
        ec2_client_for: ``(account_id, region) -> boto3 EC2 client`` (build it with
            ``engines.changes.ec2.EC2_CLIENT_CONFIG``).
        store: where changes are kept.
        audit: where every proposal, decision and EC2 call is recorded.
        dry_run: when true, EC2 calls are made with ``DryRun=True`` and change nothing.
        sleep: waits between polls (tests pass a fake).
        clock: monotonic seconds, for poll timeouts (tests pass a fake).
        poll_s: seconds between ``DescribeInstances`` polls.
        timeout_s: how long to wait for an instance to stop or start.
        now: the wall clock (UTC, timezone-aware), for timestamps.
        process_id: this process, recorded on each change it carries out, so that
            ``recover`` elsewhere leaves the changes of a live process alone.
        sagemaker_client_for: ``(account_id, region) -> boto3 SageMaker client``, for
            SageMaker changes (``Kind.is_sagemaker``); without it they are refused for now.
        sagemaker_timeout_s: how long to wait for a SageMaker resource to settle (creating,
            deleting or updating an endpoint takes minutes, a blue/green update longer);
            default ``timeout_s`` or an hour, whichever is longer.
    """

    def __init__(
        self,
        ec2_client_for: Callable[[str, str], Any],
        store: ChangeStore,
        *,
        audit: Audit,
        dry_run: bool,
        now: Callable[[], dt.datetime],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 5,
        timeout_s: float = 600,
        process_id: str = "",
        sagemaker_client_for: Callable[[str, str], Any] | None = None,
        sagemaker_timeout_s: float | None = None,
    ) -> None:
        self.process_id = process_id
        self.store = store
        self.dry_run = dry_run
        self.now = now
        records = Records(store, audit=audit, now=now, dry_run=dry_run, process_id=process_id)
        self._decisions = Decisions(records)
        self._execution = Execution(
            records,
            ec2_client_for,
            sleep=sleep,
            clock=clock,
            poll_s=poll_s,
            timeout_s=timeout_s,
            sagemaker_client_for=sagemaker_client_for,
            sagemaker_timeout_s=sagemaker_timeout_s or max(timeout_s, 3600),
        )
        self._recovery = Recovery(records, self._execution)

    # --- looking changes up ----------------------------------------------------------------

    def get(self, change_id: int) -> Change | None:
        """The change, or None when there is no such change."""
        return self.store.get_change(change_id)

    def for_team(self, team: str, states: Collection[State] | None = None) -> list[Change]:
        """Every change of ``team`` (newest first), optionally only those in ``states``.

        Args:
            team: the team that owns the changes' instances.
            states: only changes in these states (None: any state).
        """
        return self.store.list_changes(team=team, states=states, limit=None)

    def history(self, instance_id: str, *, limit: int = 20) -> list[Change]:
        """The instance's latest changes, newest first (any team, any state)."""
        return self.store.list_changes(instance_id=instance_id, limit=limit)

    def unsettled(self) -> list[Change]:
        """Every change of any team still open or under way, newest first."""
        return self.store.list_changes(states=OPEN | IN_FLIGHT, limit=None)

    def current_tags(self, change: Change) -> dict[str, str] | None:
        """The change's resource's tags as AWS has them now (None: they cannot be read), so
        a decision is taken by the team that owns the resource today."""
        return self._execution.current_tags(change)

    def remember_message(self, change_id: int, *, channel: str, ts: str) -> None:
        """Records the Slack message the change was decided on: later outcomes (tonight's
        run, a recovery after a restart) are told in its thread."""
        self.store.set_change_message(change_id, channel=channel, ts=ts)

    # --- proposals and decisions (``engines.changes.decisions``) ---------------------------

    def propose(self, request: ChangeRequest) -> Change:
        """Records a proposed change and audits it."""
        return self._decisions.propose(request)

    def approve(
        self,
        change_id: int,
        *,
        approver: str,
        approvers: Collection[str],
        second_approver: bool = False,
        at: dt.datetime | None = None,
    ) -> Outcome:
        """Approves a proposed (or snoozed) change; with ``at``, schedules it for then
        (see ``Decisions.approve``)."""
        return self._decisions.approve(
            change_id, approver=approver, approvers=approvers, second_approver=second_approver,
            at=at,
        )  # fmt: skip

    def deny(
        self,
        change_id: int,
        *,
        by: str,
        reason: str = "",
        approvers: Collection[str] | None = None,
    ) -> Outcome:
        """Denies a change that has not started."""
        return self._decisions.deny(change_id, by=by, reason=reason, approvers=approvers)

    def snooze(
        self, change_id: int, *, by: str, days: int = 30, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Puts a proposal aside for ``days``; it can still be approved meanwhile."""
        return self._decisions.snooze(change_id, by=by, days=days, approvers=approvers)

    def why_not_dismiss(
        self, change_id: int, *, by: str, approvers: Collection[str] | None = None
    ) -> Outcome | None:
        """Why ``by`` could not dismiss the change now (None: they could)."""
        return self._decisions.why_not_dismiss(change_id, by=by, approvers=approvers)

    def dismiss(
        self, change_id: int, *, by: str, reason: str, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Drops a proposal for good."""
        return self._decisions.dismiss(change_id, by=by, reason=reason, approvers=approvers)

    def due(self, now: dt.datetime) -> list[Change]:
        """Scheduled changes whose time has come (the scheduler executes them)."""
        return self._decisions.due(now)

    # --- execution and recovery (``engines.changes.execution``, ``.recovery``) -------------

    def execute(self, change_id: int) -> Outcome:
        """Carries out an approved (or due scheduled) change; exactly one caller wins."""
        return self._execution.execute(change_id)

    def revert(
        self, change_id: int, *, by: str, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Puts a done change back: the instance returns to its original type."""
        return self._execution.revert(change_id, by=by, approvers=approvers)

    def recover(
        self, now: dt.datetime | None = None, *, live: Collection[str] = ()
    ) -> list[Outcome]:
        """Settles every change a crash left half-way (see ``Recovery.recover``)."""
        return self._recovery.recover(now, live=live)

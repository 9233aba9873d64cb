"""Proposals and decisions: propose, approve (now, or for later), deny, snooze, dismiss.

Only the approvers of the team that owns the instance decide (the caller passes them; the
owner is the first matching teams-file rule, ``engines.costs.ownership.owner_of``). Proposing or
asking gives nobody rights. With four-eyes (``second_approver``) a first approval waits for a
different approver. Every decision is an atomic compare-and-set (``ChangeStore.transition``):
of fifty simultaneous Approve clicks exactly one wins, the rest are told why not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from engines.changes.models import OPEN, Change, ChangeRequest, Outcome, State
from engines.changes.records import Records
from engines.changes.texts import decision_text, only_approvers_text, people


class Decisions:
    """Records proposals and decides them.

    Args:
        records: the store, the audit trail and the clock.
    """

    def __init__(self, records: Records) -> None:
        self.records = records
        self.store = records.store
        self.now = records.now

    def propose(self, request: ChangeRequest) -> Change:
        """Records a proposed change and audits it.

        Args:
            request: the instance, the types and the saving.
        """
        change = self.store.create_change(request, now=self.now())
        self.records.audit(change, request.requested_by, "change.proposed", {})
        return change

    def approve(
        self,
        change_id: int,
        *,
        approver: str,
        approvers: Collection[str],
        second_approver: bool = False,
        at: dt.datetime | None = None,
    ) -> Outcome:
        """Approves a proposed (or snoozed) change; with ``at``, schedules it for then.

        Only the owning team's approvers decide. With ``second_approver`` (the team's
        ``require_second_approver``), the first approval is recorded and the change stays
        proposed until a different approver approves it too. Asking for or showing a change
        gives nobody any say in it.

        Args:
            change_id: the change.
            approver: who clicked (Slack user id).
            approvers: the approvers of the team that owns the instance.
            second_approver: a first approval needs a second, different approver.
            at: run it at this time instead of now ("tonight at 22:00").
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refusal = _approval_refusal(change, approver, approvers, second_approver=second_approver)
        if refusal:
            self.records.audit(change, approver, "change.approve_refused", {"why": refusal})
            return Outcome(False, refusal, change, refused=True)
        if second_approver and not change.first_approved_by:
            return self._first_approval(change, approver, approvers, at)
        new = State.APPROVED if at is None else State.SCHEDULED
        fields: dict[str, Any] = {"decided_by": approver, "decided_at": self.now()}
        if at is not None:
            fields["scheduled_for"] = at
        return self._decide(change, approver, {State.PROPOSED, State.SNOOZED}, new, **fields)

    def _first_approval(
        self,
        change: Change,
        approver: str,
        approvers: Collection[str],
        at: dt.datetime | None,
    ) -> Outcome:
        """Four-eyes: records the first approval; the change waits for a second approver.
        A first approval for a maintenance window keeps its time (``scheduled_for``), so
        the second approval cannot turn it into a change made at once."""
        if not self.store.transition(
            change.id,
            expected={change.state},
            new=change.state,
            updated_at=self.now(),
            first_approved_by=approver,
            scheduled_for=at,
        ):
            return self.records.already(change.id)
        detail = {"for_window": at.isoformat()} if at else {}
        self.records.audit(change, approver, "change.first_approval", detail)
        others = [user for user in approvers if user != approver]
        when = " for its maintenance window" if at else ""
        then = " It then runs in the next window, never at once." if at else ""
        text = (
            f"<@{approver}> approved {change.label}{when}; {change.team or 'this team'} needs "
            f"a second approver: {people(others)} can approve it now.{then}"
        )
        return Outcome(True, text, self.store.get_change(change.id))

    def deny(
        self,
        change_id: int,
        *,
        by: str,
        reason: str = "",
        approvers: Collection[str] | None = None,
    ) -> Outcome:
        """Denies a change that has not started.

        Args:
            change_id: the change.
            by: who denied it.
            reason: why (kept with the change).
            approvers: when given, only these people (the owning team's approvers) may deny.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self.records.refused(change, by, approvers, "deny")
        if refused:
            return refused
        fields = {
            "decided_by": by,
            "decided_at": self.now(),
            "reason": reason or change.reason,
        }
        return self._decide(change, by, OPEN, State.DENIED, **fields)

    def snooze(
        self, change_id: int, *, by: str, days: int = 30, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Puts a proposal aside for ``days``; it can still be approved meanwhile.

        Args:
            change_id: the change.
            by: who snoozed it.
            days: for how long.
            approvers: when given, only these people (the owning team's approvers) may.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self.records.refused(change, by, approvers, "snooze")
        if refused:
            return refused
        until = self.now() + dt.timedelta(days=days)
        fields = {"decided_by": by, "decided_at": self.now(), "snoozed_until": until}
        return self._decide(change, by, {State.PROPOSED, State.SNOOZED}, State.SNOOZED, **fields)

    def why_not_dismiss(
        self, change_id: int, *, by: str, approvers: Collection[str] | None = None
    ) -> Outcome | None:
        """Why ``by`` could not dismiss the change now (None: they could), checked before a
        form asks them for a reason."""
        change = self.store.get_change(change_id)
        if change is None:
            return None  # the submission says so
        refused = self.records.refused(change, by, approvers, "dismiss")
        if refused:
            return refused
        return (
            None
            if change.state in {State.PROPOSED, State.SNOOZED}
            else self.records.already(change.id)
        )

    def dismiss(
        self, change_id: int, *, by: str, reason: str, approvers: Collection[str] | None = None
    ) -> Outcome:
        """Drops a proposal for good.

        Args:
            change_id: the change.
            by: who dismissed it.
            reason: why (kept with the change).
            approvers: when given, only these people (the owning team's approvers) may.
        """
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        refused = self.records.refused(change, by, approvers, "dismiss")
        if refused:
            return refused
        fields = {"decided_by": by, "decided_at": self.now(), "reason": reason}
        return self._decide(change, by, {State.PROPOSED, State.SNOOZED}, State.DISMISSED, **fields)

    def due(self, now: dt.datetime) -> list[Change]:
        """Scheduled changes whose time has come (the scheduler executes them).

        Args:
            now: the current time.
        """
        scheduled = self.store.list_changes(states={State.SCHEDULED})
        return [c for c in scheduled if c.scheduled_for is not None and c.scheduled_for <= now]

    def _decide(
        self,
        change: Change,
        actor: str,
        expected: Collection[State],
        new: State,
        **fields: Any,
    ) -> Outcome:
        if not self.store.transition(
            change.id, expected=expected, new=new, updated_at=self.now(), **fields
        ):
            return self.records.already(change.id)
        after = self.store.get_change(change.id)
        detail = {"before": change.state.value, "after": new.value, **fields}
        self.records.audit(change, actor, f"change.{new.value}", detail)
        return Outcome(True, decision_text(after or change, actor), after)


def _approval_refusal(
    change: Change, approver: str, approvers: Collection[str], *, second_approver: bool
) -> str:
    """Why ``approver`` may not approve ``change``, or "" when they may."""
    if approver not in approvers:
        return only_approvers_text(change, approvers, "approve")
    if not second_approver:
        return ""
    others = [user for user in approvers if user != approver]
    if not others:
        return (
            f"{change.team or 'this team'} requires a second approver, and you are its only "
            "one: add another approver to the teams file (or drop require_second_approver)."
        )
    if change.first_approved_by == approver:
        return (
            f"you approved this already; {change.team or 'this team'} needs a second "
            f"approver: {people(others)} can approve it."
        )
    return ""

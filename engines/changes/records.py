"""What every step of a change writes to: the store, the audit trail and the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import ClientError

from engines.aws_errors import error_code
from engines.changes.ec2 import method_name
from engines.changes.models import Change, Outcome
from engines.changes.plan import Plan
from engines.changes.store import Audit, ChangeStore, db_value
from engines.changes.texts import mention, only_approvers_text, state_words


class Records:
    """The store, the audit trail and the clock, shared by decisions, executions and
    recovery.

    Args:
        store: where changes are kept.
        audit: where every proposal, decision and EC2 call is recorded.
        now: the wall clock (UTC, timezone-aware), for timestamps.
        dry_run: the audit marks records as dry runs unless told otherwise.
        process_id: this process, recorded on each change it carries out.
    """

    def __init__(
        self,
        store: ChangeStore,
        *,
        audit: Audit,
        now: Callable[[], dt.datetime],
        dry_run: bool,
        process_id: str,
    ) -> None:
        self.store = store
        self.trail = audit
        self.now = now
        self.dry_run = dry_run
        self.process_id = process_id

    def call(
        self,
        plan: Plan,
        service: str,
        action: str,
        *,
        note: dict[str, Any] | None = None,
        error_words: Callable[[ClientError], str] = error_code,
        **params: Any,
    ) -> Any:
        """One mutating AWS call of ``plan``, audited as ``<service>.<Action>`` with its
        parameters, its result (or ``error_words`` of its error) and ``note`` (what the call
        alone does not say, e.g. a deleted endpoint's tags)."""
        method = getattr(plan.client, method_name(action))
        detail: dict[str, Any] = {"change_id": plan.change.id, "params": params, **(note or {})}
        try:
            response = method(**params)
        except ClientError as error:
            detail["error"] = error_words(error)
            self.audit(plan.change, plan.actor, f"{service}.{action}", detail)
            raise
        detail["result"] = "ok"
        self.audit(plan.change, plan.actor, f"{service}.{action}", detail)
        return response

    def audit(
        self,
        change: Change,
        actor: str,
        action: str,
        detail: dict[str, Any],
        *,
        dry_run: bool | None = None,
    ) -> None:
        """Records ``action`` by ``actor`` on ``change``, with the change's figures."""
        base = {
            "change_id": change.id,
            "instance_id": change.instance_id,
            "instance_name": change.instance_name,
            "kind": change.kind.value,
            "from_type": change.from_type,
            "to_type": change.to_type,
            "monthly_saving": str(change.monthly_saving),
            "team": change.team,
            "at": self.now().isoformat(),
        }
        self.trail(
            actor=actor,
            action=action,
            target=_target(change),
            detail={**base, **{k: db_value(v) for k, v in detail.items()}},
            dry_run=self.dry_run if dry_run is None else dry_run,
        )

    def already(self, change_id: int) -> Outcome:
        """Why a request found the change decided or under way already."""
        change = self.store.get_change(change_id)
        if change is None:
            return Outcome(False, f"There is no change {change_id}.")
        who = f" by {mention(change.decided_by)}" if change.decided_by else ""
        return Outcome(
            False, f"{change.label} is already {state_words(change.state)}{who}.", change
        )

    def refused(
        self, change: Change, by: str, approvers: Collection[str] | None, verb: str
    ) -> Outcome | None:
        """An outcome refusing ``by`` unless they are one of ``approvers`` (None: checked)."""
        if approvers is None or by in approvers:
            return None
        text = only_approvers_text(change, approvers, verb)
        self.audit(change, by, f"change.{verb}_refused", {"why": text})
        return Outcome(False, text, change, refused=True)


def _target(change: Change) -> str:
    return f"{change.account_id}/{change.region}/{change.instance_id}"

"""Cross-cutting listeners' concerns, as Bolt global middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from handlers.deps import RequestLedger

logger = logging.getLogger(__name__)


def delivery_key(body: dict[str, Any]) -> str:
    """A key that is the same for every delivery of one Slack request, or "" when none is.

    Events carry ``event_id`` (kept across Slack's retries); interactions carry the
    ``trigger_id`` Slack minted for that one click.
    """
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("type") in {"block_actions", "view_submission"} and body.get("trigger_id"):
        return f"interaction:{body['trigger_id']}"
    return ""


def build_retry_guard(ledger: RequestLedger) -> Callable[..., BoltResponse | None]:
    """Middleware: a request seen before is acknowledged and not run again."""

    def skip_repeated_deliveries(
        req: BoltRequest,
        body: dict[str, Any],
        next: Callable[[], BoltResponse],  # noqa: A002
    ) -> BoltResponse | None:
        key = delivery_key(body)
        if key and not ledger.first_time_seen(key):
            retry = req.headers.get("x-slack-retry-num", ["0"])[0]
            logger.info("skipping repeated delivery %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        return next()

    return skip_repeated_deliveries

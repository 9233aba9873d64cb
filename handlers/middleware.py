"""Cross-cutting listeners' concerns, as Bolt global middleware."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse, Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient, WebhookResponse

from handlers.deps import Deps, RequestLedger

logger = logging.getLogger(__name__)


def delivery_key(body: dict[str, Any]) -> str:
    """A key that is the same for every delivery of one Slack request, or "" when none is.

    Events carry ``event_id`` (kept across Slack's retries); interactions and slash commands
    carry the ``trigger_id`` Slack minted for that one click or command, so a signed request
    replayed within the signature's five minutes runs once.
    """
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("type") in {"block_actions", "view_submission"} and body.get("trigger_id"):
        return f"interaction:{body['trigger_id']}"
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}"
    return ""


def build_retry_guard(ledger: RequestLedger) -> Callable[..., BoltResponse | None]:
    """Middleware: a request seen before is acknowledged and not run again."""

    def skip_repeated_deliveries(
        req: BoltRequest,
        body: dict[str, Any],
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        key = delivery_key(body)
        if key and not _first_time_seen(ledger, key):
            retry = req.headers.get("x-slack-retry-num", ["0"])[0]
            logger.info("skipping repeated delivery %s (retry %s)", key, retry)
            return BoltResponse(status=200, body="")
        return next()

    return skip_repeated_deliveries


def _first_time_seen(ledger: RequestLedger, key: str) -> bool:
    """True unless the ledger remembers ``key``. A database too busy to answer in time does
    not cost the ack: Slack only retries what was not acknowledged, and every change is
    claimed atomically anyway, so a repeat could not run twice."""
    try:
        return ledger.first_time_seen(key)
    except sqlite3.OperationalError as error:
        logger.warning("could not check %s for repeats (%s); handling it", key, error)
        return True


# Slack answers 429 (with Retry-After) and, rarely, 5xx at response_urls as at the Web API.
RESPONSE_URL_RETRIES = (
    ConnectionErrorRetryHandler(max_retry_count=2),
    RateLimitErrorRetryHandler(max_retry_count=3),
    ServerErrorRetryHandler(max_retry_count=2),
)


class ReliableRespond(Respond):
    """Bolt's ``respond``, with retries: Bolt's own sends once and loses the answer on a
    429 or a 5xx. What still fails is logged (never with the URL: it is a credential) and
    answered with None."""

    def __call__(  # type: ignore[override]
        self, text: str | dict[str, Any] = "", blocks: Any = None, **fields: Any
    ) -> WebhookResponse | None:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        client = WebhookClient(
            url=self.response_url,
            proxy=self.proxy,
            ssl=self.ssl,
            retry_handlers=list(RESPONSE_URL_RETRIES),
        )
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(text=text, blocks=blocks, **fields)
        try:
            response = client.send_dict(message)
        except OSError as error:  # Slack unreachable even after the retries: say so, once
            logger.warning("could not reach Slack at a response_url: %s", error)
            return None
        if response.status_code != 200:
            logger.warning(
                "Slack did not take an answer at a response_url: HTTP %s %s",
                response.status_code,
                response.body[:200],
            )
        return response


def use_reliable_respond(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Middleware: listeners' ``respond`` retries 429s and 5xx (see ``ReliableRespond``)."""
    if context.response_url:
        context["respond"] = ReliableRespond(
            response_url=context.response_url, proxy=context.client.proxy, ssl=context.client.ssl
        )
    return next()


def build_teams_follower(deps: Deps) -> Callable[..., BoltResponse]:
    """Middleware: each request sees the teams file as it is now (``Deps.follow_teams_file``:
    a ``stat`` a second at most), so a team added to it is known to the next command."""

    def follow_teams_file(next: Callable[[], BoltResponse]) -> BoltResponse:
        try:
            deps.follow_teams_file()
        except Exception:  # the teams read before still answer
            logger.exception("following the teams file failed")
        return next()

    return follow_teams_file

"""The outbox: every message costbot posts on its own (digests, alerts) goes through here.

A message is a row in the ``outbox`` table before anything is sent, under an idempotency
key (``digest:<team>:<local date>``, ``alert:<team>:budget:80:2026-11``, ...). The key is
unique in the table, so adding a message is also the atomic claim that it will be sent
once: a second process, a restart at 09:00:30 or a retried job adds nothing.

Delivery (``deliver_due``, run in a loop by ``start``) keeps Slack's rules (FACTS.md):

* at most one message per second per channel (channels are sent in parallel);
* a 429 is honoured: the message waits for its ``Retry-After``, and so does its channel;
* any other temporary failure (5xx, connection) is retried with exponential back-off
  (2, 4, 8 ... s, at most 5 minutes), for ever: nothing is dropped;
* a permanent failure (``channel_not_found``, ``not_in_channel``, ``invalid_blocks``...)
  leaves the row ``failed`` with the error, for a person to see (``costbot outbox``).

A digest's chart travels with it: the row carries the chart (``"chart"``) and goes out as one
message, the chart under the digest's blocks (``files.completeUploadExternal`` takes blocks).
When Slack refuses blocks on an upload, the row is split where it stands: the chart becomes a
row of its own (``<key>:chart``, keyed, so a second split adds nothing) that waits for the
digest and goes into its thread, and the digest is sent again as a plain message.

Each row moves ``pending → sending → sent`` by compare-and-set, so of two deliverers one
wins, and records which process claimed it (``sender``). Only the process holding the acting
lease (``bot.lease``) delivers; any process may add. A crash between ``sending`` and ``sent``
leaves the row ``sending``; ``recover`` (when a process takes the lease) puts it back to
``pending`` unless its sender is still alive. That one window, the post made but not recorded,
is the only way a message could be sent twice; every other path sends it exactly once.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.store import Store

logger = logging.getLogger(__name__)

CHANNEL_INTERVAL = dt.timedelta(seconds=1)
FIRST_BACKOFF = dt.timedelta(seconds=2)
MAX_BACKOFF = dt.timedelta(minutes=5)
IDLE_WAIT_S = 5.0  # other processes add messages too: look for them this often
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "msg_too_long",
        "no_text",
        "restricted_action",
    }
)


class DeliveryError(Exception):
    """Slack did not take the message."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited: retry after {retry_after:g} s")
        self.retry_after = retry_after


class TemporaryFailure(DeliveryError):
    """Worth trying again later (5xx, a connection problem)."""


class PermanentFailure(DeliveryError):
    """Trying again will not help (the channel is gone, the blocks are invalid)."""


class BlocksRefused(DeliveryError):
    """Slack took no blocks with an upload: send the message and its chart apart."""


BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format"})


class Poster(Protocol):
    def post(self, channel: str, message: dict[str, Any]) -> str:
        """Posts ``message`` (chat.postMessage arguments); returns its ts."""
        ...


class SlackPoster:
    """``chat.postMessage`` with Slack's failures sorted into ours.

    Args:
        client: a WebClient **without** retry handlers: the outbox does the waiting, so a
            429 never blocks a thread for its Retry-After.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def post(self, channel: str, message: dict[str, Any]) -> str:
        """Posts a message, or uploads a file when ``message`` is ``{"upload": {...}}``
        (``content_b64``, ``filename``, ``title``, ``thread_ts``: a digest's chart), or both
        as one message when it carries a ``"chart"`` (raises ``BlocksRefused`` when Slack
        takes no blocks with the upload)."""
        try:
            if "chart" in message:
                return self._upload(channel, message["chart"], message=message)
            if "upload" in message:
                return self._upload(channel, message["upload"])
            response = self.client.chat_postMessage(channel=channel, **message)
        except SlackApiError as error:
            code = str(error.response.get("error", "") if error.response is not None else "")
            if "chart" in message and code in BLOCK_ERRORS:
                raise BlocksRefused(f"Slack took no blocks with the chart ({code})") from None
            raise _classify(error) from None
        except OSError as error:  # URLError, timeouts, refused connections
            raise TemporaryFailure(f"no answer from Slack: {error}") from None
        return str(response.get("ts", ""))

    def _upload(
        self, channel: str, upload: dict[str, str], *, message: dict[str, Any] | None = None
    ) -> str:
        extra: dict[str, Any] = {}
        if upload.get("thread_ts"):
            extra["thread_ts"] = upload["thread_ts"]
        if message is not None:  # one message: the blocks, the chart below them
            extra["blocks"] = json.dumps(message.get("blocks") or [])
        response = self.client.files_upload_v2(
            channel=channel,
            content=base64.b64decode(upload["content_b64"]),
            filename=upload["filename"],
            title=upload.get("title", upload["filename"]),
            **extra,
        )
        file = response.get("file") or {}
        return str(file.get("id", "") if isinstance(file, dict) else "")


def _classify(error: SlackApiError) -> DeliveryError:
    response = error.response
    status = getattr(response, "status_code", 200)
    code = str(response.get("error", "") if response is not None else "")
    headers = getattr(response, "headers", {}) or {}
    if status == 429 or code == "ratelimited":
        after = headers.get("Retry-After") or headers.get("retry-after") or "1"
        return RateLimited(float(after[0] if isinstance(after, list) else after))
    if status >= 500 or code in {"internal_error", "service_unavailable", "fatal_error"}:
        return TemporaryFailure(f"Slack answered {status} {code}".strip())
    if code in PERMANENT_ERRORS:
        return PermanentFailure(code)
    return TemporaryFailure(code or f"HTTP {status}")


@dataclass(frozen=True)
class DeliveryPass:
    """What one ``deliver_due`` did, and when there is next something to do."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    next_wake: dt.datetime | None = None


class Outbox:
    """The persisted outbox and its deliverer.

    Args:
        store: the database (its ``outbox`` table).
        poster: what posts to Slack (``SlackPoster``; tests pass a fake).
        clock: UTC now; tests freeze it and call ``deliver_due`` themselves.
        channel_interval: the least time between two messages to one channel.
        workers: how many channels are sent to at once.
        process_id: this process, recorded on the messages it claims for sending.
        idle_wait_s: how long the delivery thread sleeps when nothing is due (messages
            other processes add do not wake it).
    """

    def __init__(
        self,
        store: Store,
        poster: Poster,
        *,
        clock: Callable[[], dt.datetime],
        channel_interval: dt.timedelta = CHANNEL_INTERVAL,
        workers: int = 16,
        process_id: str = "",
        idle_wait_s: float = IDLE_WAIT_S,
    ) -> None:
        self.process_id = process_id
        self.idle_wait_s = idle_wait_s
        self.store = store
        self.poster = poster
        self.clock = clock
        self.channel_interval = channel_interval
        self._free_at: dict[str, dt.datetime] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbox")
        self._pass_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- adding --------------------------------------------------------------------------

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
    ) -> bool:
        """Adds a message under ``key``; False (and nothing added) when the key exists.

        ``superseded``: record the key only (an alert a higher one replaces); never sent.
        """
        now = self.clock()
        added = self.store.outbox_add(
            {
                "key": key,
                "kind": kind,
                "team": team,
                "channel": channel,
                "message": json.dumps(message, default=str),
                "meta": json.dumps(meta or {}, default=str),
                "state": "superseded" if superseded else "pending",
                "next_attempt_at": now.isoformat(),
                "created_at": now.isoformat(),
            }
        )
        if added and not superseded:
            self._wake.set()
        return added

    def has(self, key: str) -> bool:
        return self.store.outbox_has(key)

    def last(self, *, team: str, kind: str) -> dict[str, Any] | None:
        """The newest message of a kind for a team, with ``meta`` parsed."""
        rows = self.store.outbox_rows(team=team, kind=kind, limit=1)
        return {**rows[0], "meta": json.loads(rows[0]["meta"] or "{}")} if rows else None

    # --- delivering ------------------------------------------------------------------------

    def recover(self, *, live: Collection[str] = ()) -> int:
        """Messages a crash left half-sent are sent again, except those a process in
        ``live`` is still sending."""
        count = self.store.outbox_requeue_sending(live=live)
        if count:
            logger.warning("outbox: %d message(s) left sending by a crash are queued again", count)
        return count

    def deliver_due(self) -> DeliveryPass:
        """Sends each channel's oldest due message (one per channel), in parallel."""
        with self._pass_lock:
            now = self.clock()
            chosen: dict[str, dict[str, Any]] = {}
            for row in self.store.outbox_due(now):
                channel = row["channel"]
                if channel not in chosen and self._due_at(row) <= now and self._ready(row):
                    chosen[channel] = row
            claimed = [
                row
                for row in chosen.values()
                if self.store.outbox_update(
                    row["id"], expected="pending", new="sending", sender=self.process_id
                )
            ]
            for row in claimed:
                self._free_at[row["channel"]] = now + self.channel_interval
            outcomes = list(self._pool.map(self._send, claimed))
            counts = {"sent": 0, "retried": 0, "failed": 0}
            for row, (outcome, started) in zip(claimed, outcomes, strict=True):
                # The next message to the channel waits a full interval from this post's
                # start, not from the pass's: a pass over many channels takes a while.
                self._free_at[row["channel"]] = max(now, started) + self.channel_interval
                counts[self._settle(row, outcome, now)] += 1
            return DeliveryPass(**counts, next_wake=self._next_wake())

    def _due_at(self, row: dict[str, Any]) -> dt.datetime:
        retry_at = dt.datetime.fromisoformat(row["next_attempt_at"])
        free_at = self._free_at.get(row["channel"])
        return max(retry_at, free_at) if free_at else retry_at

    def _next_wake(self) -> dt.datetime | None:
        due = [self._due_at(row) for row in self.store.outbox_due(self.clock()) if self._ready(row)]
        return min(due, default=None)

    def _ready(self, row: dict[str, Any]) -> bool:
        """False for a chart whose message is not sent yet (it goes into its thread)."""
        parent = json.loads(row["message"]).get("thread_of")
        if not parent:
            return True
        found = self.store.outbox_row(parent)
        return found is None or found["state"] not in ("pending", "sending")

    def _with_thread(self, message: dict[str, Any]) -> dict[str, Any]:
        """A chart waiting for its message gets that message's ts as its thread (none when
        the message failed for good: the chart goes out alone)."""
        parent = message.pop("thread_of", None)
        if parent and "upload" in message:
            found = self.store.outbox_row(parent)
            if found is not None and found["state"] == "sent" and found["message_ts"]:
                message["upload"] = {**message["upload"], "thread_ts": found["message_ts"]}
        return message

    def _send(self, row: dict[str, Any]) -> tuple[str | DeliveryError, dt.datetime]:
        """Posts one row: (its ts or the error, when the post started)."""
        started = self.clock()
        try:
            message = self._with_thread(json.loads(row["message"]))
            return self.poster.post(row["channel"], message), started
        except DeliveryError as error:
            return error, started
        except Exception as error:  # a bug or an unexpected answer: retry, and say so
            logger.exception("outbox: posting %s failed unexpectedly", row["key"])
            return TemporaryFailure(f"unexpected: {error}"), started

    def _settle(self, row: dict[str, Any], outcome: str | DeliveryError, now: dt.datetime) -> str:
        attempts = int(row["attempts"] or 0) + 1
        if isinstance(outcome, str):
            self.store.outbox_update(
                row["id"], expected="sending", new="sent", attempts=attempts,
                sent_at=self.clock().isoformat(), message_ts=outcome, last_error=None,
            )  # fmt: skip
            return "sent"
        if isinstance(outcome, BlocksRefused):
            return self._split(row, outcome, attempts=attempts, now=now)
        if isinstance(outcome, PermanentFailure):
            logger.error(
                "outbox: %s to %s failed for good: %s", row["key"], row["channel"], outcome
            )
            self.store.outbox_update(
                row["id"], expected="sending", new="failed", attempts=attempts,
                last_error=str(outcome),
            )  # fmt: skip
            return "failed"
        if isinstance(outcome, RateLimited):
            retry_at = now + dt.timedelta(seconds=outcome.retry_after)
            self._free_at[row["channel"]] = retry_at  # the whole channel waits
        else:
            retry_at = now + min(FIRST_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
        logger.warning("outbox: %s will be retried at %s: %s", row["key"], retry_at, outcome)
        self.store.outbox_update(
            row["id"], expected="sending", new="pending", attempts=attempts,
            next_attempt_at=retry_at.isoformat(), last_error=str(outcome),
        )  # fmt: skip
        return "retried"

    def _split(
        self, row: dict[str, Any], outcome: BlocksRefused, *, attempts: int, now: dt.datetime
    ) -> str:
        """The message goes again without its chart; the chart, keyed under the message,
        waits for it and goes into its thread. Both steps can be repeated after a crash."""
        message = json.loads(row["message"])
        chart = message.pop("chart")
        self.enqueue(
            f"{row['key']}:chart",
            channel=row["channel"],
            message={"upload": chart, "thread_of": row["key"]},
            kind=f"{row['kind']}_chart",
            team=row["team"] or "",
        )
        logger.warning("outbox: %s: %s; its chart goes in its thread", row["key"], outcome)
        self.store.outbox_update(
            row["id"], expected="sending", new="pending", attempts=attempts,
            message=json.dumps(message, default=str), next_attempt_at=now.isoformat(),
            last_error=str(outcome),
        )  # fmt: skip
        return "retried"

    # --- the delivery thread ------------------------------------------------------------------

    def start(self, *, live: Collection[str] = ()) -> Outbox:
        """Re-queues what a crash left half-sent (not what a process in ``live`` is still
        sending), then delivers in a background thread."""
        self.recover(live=live)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = self.deliver_due()
            except Exception:
                logger.exception("outbox: a delivery pass failed; trying again shortly")
                result = DeliveryPass(next_wake=self.clock() + FIRST_BACKOFF)
            wait = self.idle_wait_s
            if result.next_wake is not None:
                wait = min(wait, (result.next_wake - self.clock()).total_seconds())
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()

    def pending_count(self) -> int:
        return len(self.store.outbox_due(self.clock())) + len(
            self.store.outbox_rows(state="sending", limit=100_000)
        )

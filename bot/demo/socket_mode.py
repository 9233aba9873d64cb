"""Socket Mode for the Slack stand-in: Slack's side of the WebSocket, as Slack documents it.

A Socket Mode app asks ``apps.connections.open`` (with its app-level token, ``xapp-…``) for a
WebSocket URL, single-use and short-lived, and connects. Slack greets it with ``hello``, then
sends every request as an envelope::

    {"envelope_id": "…", "type": "slash_commands" | "interactive" | "events_api",
     "payload": {…}, "accepts_response_payload": true | false}

and the app acknowledges each one on the socket within 3 s: ``{"envelope_id": "…"}``, with a
``payload`` where the envelope accepts one (a slash command's reply, a view submission's
``response_action``). The payloads are those Slack POSTs in HTTP mode: a slash command's form
fields as a JSON object, an interaction's ``payload`` field, an Events API ``event_callback``.

What this server does as Slack does:

* an envelope goes to a live connection that has not been asked to refresh (Slack spreads them
  over the app's connections; here the newest gets them); with none, it waits up to the ack
  time for one before giving up (a refresh loses nothing);
* an ack later than ``ack_timeout`` is recorded (``misses``): an Events API envelope is then
  delivered again, with the same ``envelope_id`` and ``retry_attempt``/``retry_reason``, at
  most ``event_retries`` times; a command or an interaction is not (the person sees Slack's
  error, as over HTTP), and an ack that comes after all is recorded as late;
* ``refresh()`` sends ``{"type": "disconnect", "reason": "refresh_requested"}``: the app is to
  open a new connection; the old one gets nothing new and is closed when the app closes it (or
  after ``refresh_grace`` seconds);
* ``stop(abrupt=True)`` drops every TCP connection without a closing handshake, as a crashed
  server or a broken network does.

The WebSocket server is ``websockets`` (its threaded ``sync`` API). costbot's side is
slack_sdk's built-in Socket Mode client (``bot.socket_mode``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

logger = logging.getLogger("costbot.demo.socket_mode")

ENVELOPE_TYPES = {"command": "slash_commands", "event": "events_api"}
"""The stand-in's request kinds that are not interactions, and their envelope types."""
TICKET_TTL_S = 30.0  # a URL from apps.connections.open is good for this long, once
DEFAULT_REFRESH_GRACE_S = 10.0


@dataclass(frozen=True)
class Delivery:
    """What became of an envelope.

    Args:
        envelope_id: as sent.
        type: the envelope type.
        acked: whether the app acknowledged it within ``ack_timeout`` (of some attempt).
        payload: the ack's ``payload`` (None when it carried none, or no ack).
        elapsed_s: from the first send to the ack (or to giving up).
        attempts: how many times it was sent.
        error: why it was not acknowledged, in words ("" when it was).
    """

    envelope_id: str
    type: str
    acked: bool
    payload: Any
    elapsed_s: float
    attempts: int
    error: str = ""


@dataclass
class _Link:
    """One app connection."""

    connection: ServerConnection
    opened: float
    refreshing: bool = False


class SocketModeServer:
    """Slack's Socket Mode endpoint for one app.

    Args:
        app_token: the app-level token ``apps.connections.open`` takes.
        app_id: the app's id (in ``hello`` and the URL).
        ack_timeout: how long an envelope waits for its ack (Slack: 3 s).
        event_retries: how often an unacknowledged Events API envelope is sent again (Slack: 3).
        refresh_grace: how long a connection asked to refresh stays open at most.
    """

    def __init__(
        self,
        *,
        app_token: str,
        app_id: str,
        ack_timeout: float = 3.0,
        event_retries: int = 3,
        refresh_grace: float = DEFAULT_REFRESH_GRACE_S,
    ) -> None:
        self.app_token = app_token
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.event_retries = event_retries
        self.refresh_grace = refresh_grace
        self.envelopes: list[dict] = []  # every envelope sent (each attempt), in order
        self.acks: list[dict] = []  # every ack received, in order (a duplicate is kept)
        self.misses: list[dict] = []  # late or missing acks: {"envelope_id", "type", "reason"}
        self.connections_opened = 0
        self._copies_next = 0
        self._cond = threading.Condition()
        self._links: list[_Link] = []
        self._tickets: dict[str, float] = {}
        self._acked: dict[str, dict] = {}  # envelope_id -> the first ack
        self._waiting: dict[str, float] = {}  # envelope_id -> when its wait ends (monotonic)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._host = "127.0.0.1"
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SocketModeServer:
        """Listen (``port=0`` picks one; give the old port to come back where the app was)."""
        self._host = host
        self._server = serve(
            self._serve_link,
            host,
            port,
            process_request=self._check_ticket,
            compression=None,  # slack_sdk's built-in client offers no extension
            server_header="slack-standin",
            logger=logging.getLogger("costbot.demo.socket_mode.websockets"),
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"socket-mode-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, abrupt: bool = False) -> None:
        """Stop listening and close every connection: with a closing handshake (going away),
        or, ``abrupt``, by dropping the TCP connections as a crashed server does."""
        server, self._server = self._server, None
        if server is None:
            return
        with self._cond:
            links, self._links = list(self._links), []
            self._cond.notify_all()
        if abrupt:
            for link in links:
                _drop(link.connection)
        server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    # ------------------------------------------------------------------ connecting

    def open_connection(self, token: str) -> dict:
        """``apps.connections.open``: a single-use URL for the app-level token."""
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if not secrets.compare_digest(token, self.app_token):
            return {"ok": False, "error": "invalid_auth"}
        if self._server is None:
            return {"ok": False, "error": "internal_error"}
        ticket = secrets.token_hex(16)
        with self._cond:
            now = time.monotonic()
            self._tickets = {t: at for t, at in self._tickets.items() if now - at < TICKET_TTL_S}
            self._tickets[ticket] = now
        query = urllib.parse.urlencode({"ticket": ticket, "app_id": self.app_id})
        return {"ok": True, "url": f"ws://{self._host}:{self.port}/link/?{query}"}

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urllib.parse.urlsplit(request.path)
        ticket = urllib.parse.parse_qs(parts.query).get("ticket", [""])[0]
        with self._cond:
            issued = self._tickets.pop(ticket, None)
        if parts.path.rstrip("/") != "/link" or issued is None:
            return _refusal(401, "invalid or used ticket: call apps.connections.open")
        if time.monotonic() - issued > TICKET_TTL_S:
            return _refusal(401, "expired ticket: call apps.connections.open")
        return None

    def _serve_link(self, connection: ServerConnection) -> None:
        link = _Link(connection, time.monotonic())
        with self._cond:
            self._links.append(link)
            self.connections_opened += 1
            count = len(self._links)
        try:
            connection.send(json.dumps(self._hello(count)))
            with self._cond:
                self._cond.notify_all()
            for message in connection:
                self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if link in self._links:
                    self._links.remove(link)
                self._cond.notify_all()

    def _hello(self, count: int) -> dict:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": f"applink-standin-{self.port}",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    @property
    def connected(self) -> bool:
        """Whether the app has a connection that takes envelopes."""
        with self._cond:
            return any(not link.refreshing for link in self._links)

    @property
    def connection_count(self) -> int:
        with self._cond:
            return len(self._links)

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(not link.refreshing for link in self._links):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def refresh(self) -> int:
        """Ask every connection to make way for a new one (``refresh_requested``), as Slack
        does every few hours; returns how many were asked."""
        message = json.dumps(
            {
                "type": "disconnect",
                "reason": "refresh_requested",
                "debug_info": {"host": f"applink-standin-{self.port}"},
            }
        )
        with self._cond:
            links = [link for link in self._links if not link.refreshing]
            for link in links:
                link.refreshing = True
        for link in links:
            try:
                link.connection.send(message)
            except ConnectionClosed:
                continue
            timer = threading.Timer(self.refresh_grace, _close_quietly, [link.connection])
            timer.daemon = True
            timer.start()
        return len(links)

    # ------------------------------------------------------------------ envelopes

    def deliver(
        self,
        kind: str,
        payload: dict,
        *,
        copies: int = 1,
        on_attempt: Callable[[int], None] | None = None,
    ) -> Delivery:
        """Send ``payload`` as an envelope and wait for its ack.

        ``kind`` is the stand-in's (``command``, ``event``, or an interaction type such as
        ``block_actions``); ``copies`` sends the same envelope that many times at once, as
        Slack may over overlapping connections (the app is to carry it out once).
        """
        with self._cond:
            copies, self._copies_next = max(copies, self._copies_next), 0
        envelope_type = ENVELOPE_TYPES.get(kind, "interactive")
        envelope: dict[str, Any] = {
            "envelope_id": _envelope_id(),
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": _accepts_response_payload(envelope_type, payload),
        }
        if envelope_type == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        envelope_id = envelope["envelope_id"]
        retries = self.event_retries if envelope_type == "events_api" else 0
        started = time.monotonic()
        error = ""
        for attempt in range(retries + 1):
            if attempt:
                with self._cond:
                    late = self._acked.get(envelope_id)
                if late is not None:  # acked after its time, before the retry went out
                    return Delivery(envelope_id, envelope_type, True, late.get("payload"),
                                    time.monotonic() - started, attempt)  # fmt: skip
                envelope.update(retry_attempt=attempt, retry_reason="timeout")
            if on_attempt is not None:
                on_attempt(attempt)
            sent, error = self._send(envelope, copies=copies if attempt == 0 else 1)
            if sent:
                ack = self._wait_for_ack(envelope_id)
                if ack is not None:
                    return Delivery(envelope_id, envelope_type, True, ack.get("payload"),
                                    time.monotonic() - started, attempt + 1)  # fmt: skip
                error = f"no acknowledgement within {self.ack_timeout:g} s"
            with self._cond:
                self.misses.append({"envelope_id": envelope_id, "type": envelope_type,
                                    "attempt": attempt, "reason": "missing"})  # fmt: skip
        return Delivery(envelope_id, envelope_type, False, None, time.monotonic() - started,
                        retries + 1, error)  # fmt: skip

    def deliver_again(self, envelope_id: str) -> Delivery:
        """Send an envelope already sent once more, as Slack does when it holds no ack for it
        (one lost with its connection); it waits for a new ack."""
        with self._cond:
            envelope = next(e for e in reversed(self.envelopes) if e["envelope_id"] == envelope_id)
            self._acked.pop(envelope_id, None)
        started = time.monotonic()
        sent, error = self._send(envelope, copies=1)
        ack = self._wait_for_ack(envelope_id) if sent else None
        elapsed = time.monotonic() - started
        if ack is None:
            error = error or f"no acknowledgement within {self.ack_timeout:g} s"
            return Delivery(envelope_id, envelope["type"], False, None, elapsed, 1, error)
        return Delivery(envelope_id, envelope["type"], True, ack.get("payload"), elapsed, 1)

    def send_next_twice(self) -> None:
        """The next envelope goes out twice at once, as when Slack delivers it on two
        connections (the app is to carry it out once)."""
        with self._cond:
            self._copies_next = 2

    def _send(self, envelope: dict, *, copies: int) -> tuple[bool, str]:
        """Send to the newest connection that takes envelopes (waiting up to the ack time for
        one, e.g. while the app reconnects after a refresh); (sent, why not)."""
        text = json.dumps(envelope)
        deadline = time.monotonic() + self.ack_timeout
        while True:
            with self._cond:
                while True:
                    links = [link for link in self._links if not link.refreshing]
                    if links:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._server is None:
                        return False, "no Socket Mode connection"
                    self._cond.wait(remaining)
                link = links[-1]
                self._waiting[envelope["envelope_id"]] = time.monotonic() + self.ack_timeout
                self.envelopes.append(json.loads(text))
            try:
                for _ in range(copies):
                    link.connection.send(text)
                return True, ""
            except ConnectionClosed:
                with self._cond:
                    if link in self._links:
                        self._links.remove(link)
                if time.monotonic() >= deadline:
                    return False, "the Socket Mode connection closed"

    def _wait_for_ack(self, envelope_id: str) -> dict | None:
        with self._cond:
            deadline = self._waiting[envelope_id]
            while envelope_id not in self._acked:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._acked[envelope_id]

    def _receive(self, message: str | bytes) -> None:
        try:
            ack = json.loads(message)
        except ValueError:
            logger.warning("the app sent something that is not JSON on the socket")
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        if not isinstance(envelope_id, str):
            logger.warning("the app sent a message without an envelope_id on the socket")
            return
        with self._cond:
            self.acks.append(ack)
            if envelope_id in self._acked:
                return
            ends = self._waiting.get(envelope_id)
            if ends is None:
                logger.warning("an ack for an envelope never sent: %s", envelope_id)
                return
            if time.monotonic() > ends:
                sent: dict = next((e for e in reversed(self.envelopes)
                             if e["envelope_id"] == envelope_id), {})  # fmt: skip
                self.misses.append({"envelope_id": envelope_id, "type": sent.get("type"),
                                    "reason": "late"})  # fmt: skip
            self._acked[envelope_id] = ack
            self._cond.notify_all()

    def acks_for(self, envelope_id: str) -> list[dict]:
        with self._cond:
            return [ack for ack in self.acks if ack.get("envelope_id") == envelope_id]


def envelope_payload(body: str, content_type: str) -> dict:
    """The envelope payload for what Slack POSTs in HTTP mode: a slash command's form fields as
    an object, an interaction's ``payload`` field, an Events API body as it is."""
    if content_type.startswith("application/json"):
        payload = json.loads(body)
        return payload if isinstance(payload, dict) else {}
    fields = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    if set(fields) == {"payload"}:
        payload = json.loads(fields["payload"])
        return payload if isinstance(payload, dict) else {}
    return fields


def _envelope_id() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _accepts_response_payload(envelope_type: str, payload: dict) -> bool:
    """Slack takes a reply in the ack for commands, view submissions and options requests."""
    if envelope_type == "slash_commands":
        return True
    return envelope_type == "interactive" and payload.get("type") in {
        "view_submission",
        "block_suggestion",
    }


def _refusal(status: int, text: str) -> Response:
    body = text.encode()
    headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return Response(status, "Unauthorized" if status == 401 else "Refused", headers, body)


def _drop(connection: ServerConnection) -> None:
    """Close the TCP connection under a WebSocket without a closing handshake."""
    with contextlib.suppress(OSError):
        connection.socket.shutdown(socket.SHUT_RDWR)
    connection.close_socket()


def _close_quietly(connection: ServerConnection) -> None:
    try:
        connection.close(1001, "refreshed")
    except Exception:  # already gone
        logger.debug("closing a refreshed connection failed", exc_info=True)

"""Socket Mode: costbot connected to Slack over a WebSocket instead of answering HTTP.

Bolt dispatches as in HTTP mode; the connection is slack_sdk's built-in Socket Mode client
(no extra package), with what a bot that must not go deaf needs around it:

* **Reconnecting with back-off.** The built-in client retries a lost connection every ping
  interval, forever, at the same pace. Here a supervisor thread connects, notices a lost
  connection (at once when the client reports it, else within ``check_interval``) and
  reconnects, waiting ``Backoff`` between failed attempts: 1 s doubling to 30 s, with jitter,
  back to 1 s once connected. Slack's ``disconnect`` (``refresh_requested``) is the client's
  own business: it opens the new connection before closing the old one.
* **A closed peer is a lost connection.** The built-in client reads an end of stream (the
  server went away without a closing handshake: a crash, a dropped network) as "no data yet"
  and spins on it until its ping check gives up (four ping intervals). Here it is an error
  at once, so the supervisor reconnects.
* **Once per envelope.** Slack may deliver an envelope again (over a second connection
  during a refresh, or a retry after a late ack); Bolt would run the listener each time. An
  ``envelope_id`` (or an event's ``event_id``) seen in the last ``DEDUPE_SIZE`` is not run
  again, and is acknowledged once: a copy that comes while the first is running, or after
  its ack went out on the same connection, is dropped; one that comes on a newer connection
  (the ack may have been lost with the old one) gets the same ack again. (The listeners'
  middleware also runs a request once, by ``trigger_id`` or ``event_id``, across processes:
  ``handlers.middleware``.)
* **Health.** ``report()`` says whether the socket is connected, since when it is not, and
  how often it reconnected; ``/healthz`` carries it (``bot.server``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode.base_handler import BaseSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

logger = logging.getLogger("costbot.socket_mode")

DEDUPE_SIZE = 2000  # envelopes remembered; Slack's retries come within minutes
UNHEALTHY_AFTER_S = 60.0
"""/healthz fails once the socket has been down this long (a refresh takes well under a
second; the back-off tries at least twice a minute)."""


@dataclass(frozen=True)
class Backoff:
    """Delays between failed connection attempts: ``first`` doubling up to ``cap``, each
    drawn from its upper half (jitter, so that many bots do not reconnect in step)."""

    first: float = 1.0
    cap: float = 30.0

    def delay(self, failures: int, draw: Callable[[float, float], float] = random.uniform) -> float:
        """The wait after the ``failures``-th failure in a row (1, 2, …)."""
        ceiling = min(self.cap, self.first * 2 ** max(0, failures - 1))
        return draw(ceiling / 2, ceiling)


@dataclass
class _Seen:
    """An envelope being carried out (``response`` None) or acknowledged, on ``session``."""

    response: BoltResponse | None = None
    session: str | None = None


class _EndOfStream:
    """A socket whose end of stream is an error: ``recv`` returning nothing means the server
    closed the connection (slack_sdk's built-in client would call it again, at once)."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._retired = False

    def recv(self, size: int, *args: Any) -> bytes:
        data: bytes = self._sock.recv(size, *args)
        if not data and size:
            if self._retired:  # the client's reader takes EBADF as "closed on purpose"
                raise OSError(errno.EBADF, "the connection was replaced")
            raise ConnectionResetError(errno.ECONNRESET, "Slack closed the Socket Mode connection")
        return data

    def retire(self) -> None:
        """Stop reading: the reader blocked in ``recv`` returns now."""
        self._retired = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RD)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(SocketModeClient):
    """slack_sdk's built-in client, whose connections report an end of stream."""

    def connect(self) -> None:
        old = self.current_session
        if old is not None and isinstance(old.sock, _EndOfStream):
            # A refresh: Slack sends nothing more on the old connection. Its reader waits in
            # recv (3 s timeout) holding the lock that closing it takes, and the new
            # connection is read only once the old one is closed: stop the reader now.
            self.current_session_state.terminated = True
            old.sock.retire()
        super().connect()
        session = self.current_session
        if session is not None and session.sock is not None:
            session.sock = _EndOfStream(session.sock)  # type: ignore[assignment]

    def close(self) -> None:
        session = self.current_session
        if session is not None and isinstance(session.sock, _EndOfStream):
            self.current_session_state.terminated = True  # (as above: no 3 s wait)
            session.sock.retire()
        super().close()


class SocketModeRunner(BaseSocketModeHandler):
    """Runs ``app`` over Socket Mode until ``close()``.

    Args:
        app: the Bolt app (built with request verification off: Socket Mode is not signed).
        app_token: the app-level token (``xapp-…``, scope ``connections:write``).
        web_client: where ``apps.connections.open`` goes (default: the app's client).
        backoff: delays between failed connection attempts.
        check_interval: how often the supervisor looks at a connection it was told nothing of.
        ping_interval: the client's WebSocket ping interval (a silent connection is dropped
            after four).
        clock: monotonic seconds (for the health report).
    """

    def __init__(
        self,
        app: App,
        app_token: str,
        *,
        web_client: WebClient | None = None,
        backoff: Backoff = Backoff(),
        check_interval: float = 1.0,
        ping_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.app_token = app_token
        self.backoff = backoff
        self.check_interval = check_interval
        self.clock = clock
        self.client = _Client(
            app_token=app_token,
            logger=logging.getLogger("costbot.socket_mode.client"),
            web_client=web_client or app.client,
            proxy=app.client.proxy,
            auto_reconnect_enabled=False,  # the supervisor reconnects, with back-off
            ping_interval=ping_interval,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
        self.client.on_close_listeners.append(lambda code, reason: self._wake.set())
        self.client.on_error_listeners.append(self._on_error)
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._connected = False
        self._since = clock()
        self._ever_connected = False
        self.reconnects = 0
        self.failures = 0  # failed attempts in a row
        self.duplicates = 0
        self.last_error = ""
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ dispatch

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Bolt's dispatch and ack, once per envelope."""
        keys, seen, first = self._remember(req)
        if not first:
            self._repeat(client, req, seen)
            return
        started = time.time()
        try:
            response = run_bolt_app(self.app, req)
        except Exception:  # not carried out: a delivery again may try once more
            with self._lock:
                for key in keys:
                    self._seen.pop(key, None)
            raise
        with self._lock:
            seen.response, seen.session = response, client.session_id()
        try:
            send_response(client, req, response, started)
        except Exception:  # the connection went: a delivery again gets this ack
            with self._lock:
                seen.session = None
            raise

    def _remember(self, req: SocketModeRequest) -> tuple[list[str], _Seen, bool]:
        """The envelope's keys, what its first delivery left, and whether this is it."""
        keys = [req.envelope_id]
        event_id = req.payload.get("event_id") if isinstance(req.payload, dict) else None
        if isinstance(event_id, str):
            keys.append(f"event:{event_id}")
        with self._lock:
            for key in keys:
                if key in self._seen:
                    self.duplicates += 1
                    return keys, self._seen[key], False
            seen = _Seen()
            for key in keys:
                self._seen[key] = seen
            while len(self._seen) > DEDUPE_SIZE:
                self._seen.popitem(last=False)
        return keys, seen, True

    def _repeat(self, client: SocketModeClient, req: SocketModeRequest, seen: _Seen) -> None:
        with self._lock:
            response, session = seen.response, seen.session
        if response is None or session == client.session_id():
            logger.info("Socket Mode: %s %s delivered again; carried out and acked once",
                        req.type, req.envelope_id)  # fmt: skip
            return
        logger.info("Socket Mode: %s %s delivered again on a new connection; acked again, "
                    "not carried out again", req.type, req.envelope_id)  # fmt: skip
        send_response(client, req, response, time.time())

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        """Start the supervisor: it connects, and keeps the app connected until ``close()``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._supervise, name="socket-mode",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def start(self) -> None:
        """Connect and block until ``close()`` (``costbot serve``)."""
        self.connect()
        self._closing.wait()

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline or self._closing.is_set():
                return False
            self._closing.wait(0.02)
        return True

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.client.close()

    def _on_error(self, error: Exception) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        self._wake.set()

    def _supervise(self) -> None:
        while not self._closing.is_set():
            if self._connection_up():
                self._wake.wait(self.check_interval)
                self._wake.clear()
                continue
            try:
                # Only if still down once the client's own connect lock is ours: a refresh
                # in progress holds it, and ends connected.
                self.client.connect_to_new_endpoint()
            except Exception as error:  # apps.connections.open failed: Slack unreachable
                self.last_error = _reason(error)
            if self._connection_up():
                continue
            self.failures += 1
            wait = self.backoff.delay(self.failures)
            logger.warning("Socket Mode: cannot connect (%s); trying again in %.1f s",
                           self.last_error or "no connection", wait)  # fmt: skip
            self._closing.wait(wait)

    def _connection_up(self) -> bool:
        """Whether the client is connected; records a change of state."""
        with self._lock:
            up = self.client.is_connected()
            if up == self._connected:
                return up
            self._connected, self._since = up, self.clock()
            again, failures = self._ever_connected, self.failures
            if up:
                self.reconnects += 1 if again else 0
                self._ever_connected, self.failures = True, 0
        if not up:
            logger.warning("Socket Mode: connection lost (%s); reconnecting",
                           self.last_error or "closed")  # fmt: skip
        elif again:
            logger.info("Socket Mode: connected again (after %d failed attempts)", failures)
        else:
            logger.info("Socket Mode: connected")
        return up

    # ------------------------------------------------------------------ health

    def report(self) -> dict[str, Any]:
        """What ``/healthz`` says of the socket; ``healthy`` is False once it has been down
        for ``UNHEALTHY_AFTER_S``."""
        self._connection_up()  # as it is now, whether or not the supervisor looked yet
        with self._lock:
            connected, since = self._connected, self._since
        down_for = None if connected else round(self.clock() - since, 1)
        report: dict[str, Any] = {
            "connected": connected,
            "healthy": connected or (down_for is not None and down_for < UNHEALTHY_AFTER_S),
            "reconnects": self.reconnects,
        }
        if not connected:
            report.update(down_for_s=down_for, failed_attempts=self.failures)
            if self.last_error:
                report["last_error"] = self.last_error
        return report


def _reason(error: Exception) -> str:
    """One line for the log; never a token (slack_sdk's errors quote only the response)."""
    response = getattr(error, "response", None)
    if response is not None and hasattr(response, "get"):
        return f"apps.connections.open: {response.get('error') or 'refused'}"
    reason = getattr(error, "reason", None) or error
    return f"{type(error).__name__}: {reason}"

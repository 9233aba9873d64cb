"""HTTP serving: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

waitress (a production WSGI server in pure Python) runs the WSGI app. Before Bolt sees a
request, it is refused here, in one log line that names its size and the reason, never its body:

* a body over ``MAX_BODY_BYTES`` gets 413 before it is read (waitress also stops reading there);
* an unsigned or wrongly signed body gets 401;
* a signed body that is not what Slack sends (form or JSON that does not parse) gets 400.

Bolt's WSGI adapter then verifies the signature again and dispatches.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1024 * 1024
"""Slack's payloads are a few KB (a view submission with every input filled stays far below)."""
SIGNATURE_MAX_AGE_S = 5 * 60  # as Slack's own verifiers: older (or later) is a replay
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_wsgi_app(
    app: App,
    *,
    signing_secret: str,
    health: Callable[[], bool] = lambda: True,
    acting: Callable[[], bool] | None = None,
    socket: Callable[[], dict[str, Any]] | None = None,
) -> WsgiApp:
    """Routes Slack's requests to Bolt and answers health checks; everything else is 404.

    ``acting``, when given, says whether this process holds the acting lease; ``/healthz``
    then reports it (``"acting": true`` or false: a standby). ``socket``, in Socket Mode,
    reports the connection to Slack (``bot.socket_mode.SocketModeRunner.report``): it is
    under ``"socket"``, and one down for long makes ``/healthz`` fail; Slack's requests come
    over the socket then, so ``/slack/events`` is not served (Bolt verifies no signature in
    Socket Mode: a request to it would be taken as Slack's)."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)
    secret = signing_secret.encode()

    def costbot_wsgi(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and socket is not None:
            return _json(start_response, "404 Not Found", {"error": "Socket Mode: not served"})
        if path == EVENTS_PATH and method == "POST":
            refusal = _refusal(environ, secret)
            if refusal is not None:
                status, reason = refusal
                _log_refusal(path, environ.get("CONTENT_LENGTH"), reason)
                return _json(start_response, status, {"error": reason})
            return bolt(environ, start_response)
        if path == "/healthz" and method in {"GET", "HEAD"}:
            healthy = _safe(health)
            report: dict[str, Any] = {"ok": healthy}
            if socket is not None:
                report["socket"] = _socket_report(socket)
                healthy = report["ok"] = healthy and bool(report["socket"].get("healthy"))
            if acting is not None:
                report["acting"] = _safe(acting)
            status = "200 OK" if healthy else "503 Service Unavailable"
            return _json(start_response, status, report)
        if path == EVENTS_PATH:
            return _json(start_response, "405 Method Not Allowed", {"error": "POST only"})
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return costbot_wsgi


def _refusal(environ: dict[str, Any], secret: bytes) -> tuple[str, str] | None:
    """Why a request to the events path is refused, as (HTTP status, reason), or None.

    Reads the body (at most ``MAX_BODY_BYTES``) and puts it back for Bolt to read again.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return "400 Bad Request", "the Content-Length is not a number"
    if length > MAX_BODY_BYTES:
        return "413 Content Too Large", f"the body is over {MAX_BODY_BYTES} bytes"
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not _signed(secret, body, timestamp, signature):
        return "401 Unauthorized", "no valid Slack signature"
    media_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    try:  # as Bolt will parse it
        payload = parse_body(body.decode("utf-8"), media_type or None)
    except ValueError:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        payload = None
    if not isinstance(payload, dict):
        return "400 Bad Request", "a signed body that is not a Slack payload"
    return None


def _signed(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
    """Slack's v0 signature, checked over the raw bytes as sent (slack_sdk's verifier decodes
    them first, and fails on a body that is not UTF-8)."""
    if not secret:  # a secret nobody set signs nothing
        return False
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_S:
        return False
    signed = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        logger.exception("health check failed")
        return False


def _socket_report(socket: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return dict(socket())
    except Exception:
        logger.exception("health check failed")
        return {"connected": False, "healthy": False}


def _json(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _log_refusal(path: str, size: object, reason: str) -> None:
    logger.warning("refused a request to %s (%s bytes): %s", path or "?", size or "?", reason)


class _LoggedErrorTask(ErrorTask):
    """waitress's own refusals (a body over the limit, a request it cannot parse), logged as
    the app's are: one line, its size and the reason."""

    def execute(self) -> None:
        request, error = self.request, self.request.error
        if error.code < 500:  # waitress logs its own failures with their traceback
            _log_refusal(getattr(request, "path", ""), getattr(request, "content_length", 0),
                         f"{error.reason}: {error.body}")  # fmt: skip
        super().execute()


class _Channel(HTTPChannel):
    error_task_class = _LoggedErrorTask


class HttpServer:
    """A waitress server on its own thread; ``port=0`` picks a free port (tests, demo).

    Args:
        wsgi_app: what to serve.
        host, port: where to listen.
        threads: worker threads; Bolt acks on them, so keep a few free for bursts.
    """

    def __init__(
        self,
        wsgi_app: WsgiApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        ident: str = "costbot",
    ) -> None:
        self._server = create_server(
            wsgi_app,
            host=host,
            port=port,
            threads=threads,
            ident=ident,
            clear_untrusted_proxy_headers=True,
            max_request_body_size=MAX_BODY_BYTES + 1,  # waitress refuses from here (413)
        )
        self._server.channel_class = _Channel  # type: ignore[union-attr]

        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        host = self._server.effective_host  # type: ignore[union-attr]
        host = "127.0.0.1" if host in {"0.0.0.0", ""} else host
        return f"http://{host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"http-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serves until ``stop()``; then closes every socket from this same thread (closing
        them from another thread makes the loop's select fail on a closed descriptor)."""
        server = self._server
        try:
            while not self._stopping:
                server.asyncore.loop(
                    timeout=server.adj.asyncore_loop_timeout,
                    map=server._map,
                    use_poll=server.adj.asyncore_use_poll,
                    count=1,
                )
        finally:
            server.task_dispatcher.shutdown(timeout=2)
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()

    def stop(self) -> None:
        self._stopping = True
        # Wake the loop so that it sees _stopping. A loop that saw it first has closed the
        # trigger already: nothing to wake.
        with contextlib.suppress(OSError):
            self._server.pull_trigger()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

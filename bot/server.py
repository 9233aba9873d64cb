"""HTTP serving: ``POST /slack/events`` for Slack, ``GET /healthz`` for load balancers.

waitress (a production WSGI server in pure Python) runs the WSGI app; Bolt's WSGI adapter
verifies signatures and dispatches.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_wsgi_app(app: App, *, health: Callable[[], bool] = lambda: True) -> WsgiApp:
    """Routes Slack's requests to Bolt and answers health checks; everything else is 404."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def costbot_wsgi(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == EVENTS_PATH and method == "POST":
            return bolt(environ, start_response)
        if path == "/healthz" and method in {"GET", "HEAD"}:
            healthy = _safe(health)
            status = "200 OK" if healthy else "503 Service Unavailable"
            return _json(start_response, status, {"ok": healthy})
        if path == EVENTS_PATH:
            return _json(start_response, "405 Method Not Allowed", {"error": "POST only"})
        return _json(start_response, "404 Not Found", {"error": "not found"})

    return costbot_wsgi


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        logger.exception("health check failed")
        return False


def _json(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


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
        )

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
        self._server.pull_trigger()  # wake the loop so that it sees _stopping
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

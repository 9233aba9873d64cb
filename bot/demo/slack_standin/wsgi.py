"""``SlackStandIn``: the parts composed, served as one WSGI app by waitress.

Routing: ``/api/<method>`` (the Web API), ``/response/<id>`` (response_urls),
``/upload/<id>`` and ``/files/<id>`` (file uploads and their bytes), ``/ui/api/...`` (the
browser workspace's API) and ``/`` with ``/static/...`` (the page itself).
"""

from __future__ import annotations

import http
import logging
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..socket_mode import SocketModeServer
from .http_io import Response, json_response, text_response
from .ui_api import LONG_POLL_S, UiApi
from .web_api import WebApi

logger = logging.getLogger("costbot.demo.slack_standin")

STATIC_DIR = Path(__file__).parent.parent / "static"
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class SlackStandIn(UiApi, WebApi):
    """Slack's Web API, response_urls, file uploads and a browser workspace, locally.

    The keyword arguments are ``Workspace``'s; the package docstring says what it plays."""

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        """The Web API base URL for ``slack_sdk.WebClient(base_url=...)``."""
        return self.base_url + "/api/"

    def connect_bot(self, events_url: str) -> None:
        """Set where signed requests (commands, actions, events) are POSTed."""
        self.events_url = events_url

    def enable_socket_mode(self, app_token: str, **options: Any) -> SocketModeServer:
        """Socket Mode instead of HTTP (``bot.demo.socket_mode``): ``apps.connections.open``
        takes ``app_token``, and requests go to the bot as envelopes on its WebSocket."""
        self.socket_mode = SocketModeServer(app_token=app_token, app_id=self.app_id, **options)
        if self._server is not None:
            self.socket_mode.start(urllib.parse.urlsplit(self.base_url).hostname or "127.0.0.1")
        return self.socket_mode

    def start(self, host: str = "127.0.0.1", port: int = 0, *, threads: int = 16) -> str:
        """Serve the WSGI app with waitress in a daemon thread; return the base URL."""
        from bot.server import HttpServer

        self._stopping = False
        self._server = HttpServer(
            self.wsgi_app, host=host, port=port, threads=threads, ident="slack-standin"
        ).start()
        self.base_url = f"http://{host}:{self._server.port}"
        if self.socket_mode is not None and not self.socket_mode.running:
            self.socket_mode.start(host)
        return self.base_url

    def stop(self) -> None:
        """Stop serving: wake long polls, end the worker threads, close every socket."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self.socket_mode is not None:
            self.socket_mode.stop()

    def __enter__(self) -> SlackStandIn:
        if not self.base_url or self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ WSGI

    def _route(self, environ: dict) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        if path.startswith("/api/"):
            return self._handle_api(path[len("/api/") :], environ)
        if path.startswith("/response/") and method == "POST":
            return self._handle_response_url(path[len("/response/") :], environ)
        if path.startswith("/upload/") and method in ("POST", "PUT"):
            return self._handle_upload(path[len("/upload/") :], environ)
        if path.startswith("/files/") and method in ("GET", "HEAD"):
            return self._handle_file(path[len("/files/") :])
        if path == "/ui/api/state" and method == "GET":
            return json_response(self.ui_state(), headers=[("Cache-Control", "no-store")])
        if path == "/ui/api/events" and method == "GET":
            query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
            try:
                after = int(query.get("after", "0"))
                timeout = min(float(query.get("timeout", LONG_POLL_S)), LONG_POLL_S)
            except ValueError:
                return json_response({"ok": False, "error": "bad after/timeout"}, 400)
            return json_response(
                self.ui_events(after, timeout), headers=[("Cache-Control", "no-store")]
            )
        if path.startswith("/ui/api/") and method == "POST":
            return self._handle_ui_post(path, environ)
        if method in ("GET", "HEAD"):
            if path == "/favicon.ico":
                return Response(204, b"", "image/x-icon")
            name = "index.html" if path == "/" else path.removeprefix("/static/")
            if path == "/" or path.startswith("/static/"):
                target = (STATIC_DIR / name).resolve()
                if target.parent == STATIC_DIR.resolve() and target.is_file():
                    ctype = _STATIC_TYPES.get(target.suffix, "application/octet-stream")
                    return Response(
                        200, target.read_bytes(), ctype, (("Cache-Control", "no-cache"),)
                    )
        return text_response("not found", 404)

    def wsgi_app(self, environ: dict, start_response: Callable) -> list[bytes]:
        """The whole stand-in (Web API, response_urls, files, workspace) as a WSGI app."""
        try:
            response = self._route(environ)
        except Exception:
            logger.exception("slack stand-in failed on %s", environ.get("PATH_INFO"))
            response = json_response({"ok": False, "error": "internal_error"}, 500)
        phrase = http.HTTPStatus(response.status).phrase
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("X-Content-Type-Options", "nosniff"),
            *response.headers,
        ]
        start_response(f"{response.status} {phrase}", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [response.body]

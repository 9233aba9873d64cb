"""A proxy in front of moto's server that can fail or hold chosen AWS calls."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass


@dataclass
class Fault:
    status: int
    body: bytes
    content_type: str


class AwsProxy:
    """Forwards every call to ``target``; calls whose body contains a chosen text can be
    answered with an error instead (``fail_next``), or carried out with their answer held
    back until ``release`` (``hold``: the caller dies after AWS acted, before it heard)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.hold_action = ""
        self.held = threading.Event()
        self.released = threading.Event()
        self.seen: list[bytes] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                proxy.seen.append(body + self.headers.get("X-Amz-Target", "").encode())
                fault = proxy._take_fault(body, self.headers.get("X-Amz-Target", ""))
                if fault is not None:
                    self._answer(fault.status, fault.body, fault.content_type)
                    return
                status, payload, content_type = proxy._forward(self.path, body, headers)
                if proxy.hold_action and f"Action={proxy.hold_action}".encode() in body:
                    proxy.held.set()
                    proxy.released.wait(60)
                self._answer(status, payload, content_type)

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller is gone

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail_next(
        self,
        match: str,
        *,
        status: int,
        body: str,
        content_type: str = "text/xml",
        count: int = 1,
    ) -> None:
        """The next ``count`` calls whose body or X-Amz-Target contains ``match`` fail."""
        with self._lock:
            queue = self._faults.setdefault(match, deque())
            queue.extend(Fault(status, body.encode(), content_type) for _ in range(count))

    def calls_matching(self, match: str) -> int:
        return sum(1 for seen in self.seen if match.encode() in seen)

    def _take_fault(self, body: bytes, target: str) -> Fault | None:
        with self._lock:
            for match, queue in self._faults.items():
                if queue and (match.encode() in body or match in target):
                    return queue.popleft()
        return None

    def _forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        request = urllib.request.Request(self.target + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(), error.headers.get("Content-Type", "")

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

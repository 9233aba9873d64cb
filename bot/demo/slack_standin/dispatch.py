"""Slack -> bot: signed requests POSTed to the bot's events URL (or, in Socket Mode,
envelopes on its WebSocket), and how a failed or late answer shows to the person.

Signing follows ``slack_sdk.signature``: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``
(FACTS.md, Slack, "Signing"). An answer that is not 2xx, or later than ``ack_timeout``
(Slack's 3 s), becomes Slackbot's ephemeral ``dispatch_failed`` / ``operation_timeout`` note.
"""

from __future__ import annotations

import copy
import http
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..socket_mode import envelope_payload
from .workspace import CommandResult, Workspace

# The bot is local: never send its requests through a proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Dispatch(Workspace):
    """Sends the bot what Slack sends it: signed, timed, and recorded in ``bot_requests``."""

    def _sign(self, body: str) -> dict[str, str]:
        ts = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}

    def _post_to_bot(
        self, body: str, content_type: str, kind: str, headers_override: dict | None = None
    ) -> CommandResult:
        """POST a signed request to the bot from the calling thread (no lock held)."""
        if self.socket_mode is not None:
            return self._send_over_socket(body, content_type, kind)
        if not self.events_url:
            return CommandResult(0, "the bot is not connected (connect_bot was not called)", 0.0)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "Accept": "application/json,*/*",
            **self._sign(body),
        }
        for key, value in (headers_override or {}).items():
            headers = {k: v for k, v in headers.items() if k.lower() != key.lower()}
            if value is not None:
                headers[key] = value
        request = urllib.request.Request(
            self.events_url, data=body.encode(), headers=headers, method="POST"
        )
        started = time.monotonic()
        try:
            with _NO_PROXY.open(request, timeout=self.http_timeout) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            with err:
                status, text = err.code, err.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError) as err:
            reason = getattr(err, "reason", err)
            status, text = 0, f"{type(reason).__name__}: {reason}"
        result = CommandResult(status, text, time.monotonic() - started)
        with self._lock:
            self.bot_requests.append(
                {
                    "kind": kind,
                    "body": body,
                    "headers": headers,
                    "result": result,
                    "time": time.time(),
                }
            )
        return result

    def _send_over_socket(self, body: str, content_type: str, kind: str) -> CommandResult:
        """Socket Mode: the request as an envelope; its ack is the answer an HTTP 200 carries."""
        assert self.socket_mode is not None
        delivery = self.socket_mode.deliver(kind, envelope_payload(body, content_type))
        if delivery.acked:
            answer = "" if delivery.payload is None else json.dumps(delivery.payload)
            result = CommandResult(200, answer, delivery.elapsed_s)
        else:
            result = CommandResult(0, delivery.error, delivery.elapsed_s)
        with self._lock:
            self.bot_requests.append({"kind": kind, "body": body, "headers": {},
                                      "envelope_id": delivery.envelope_id, "result": result,
                                      "time": time.time()})  # fmt: skip
        return result

    def _dispatch_error(self, result: CommandResult, what: str) -> str | None:
        """The Slackbot text for a failed dispatch, or None when the bot acked in time."""
        if result.status == 0:
            return (
                f":warning: costbot did not answer: {result.body or 'no connection'}. "
                f'{what} failed with the error "dispatch_failed"'
            )
        if not 200 <= result.status < 300:
            try:
                phrase = http.HTTPStatus(result.status).phrase
            except ValueError:
                phrase = ""
            return (
                f":warning: costbot did not answer: HTTP {result.status} {phrase}".rstrip()
                + f'. {what} failed with the error "dispatch_failed"'
            )
        if result.elapsed_s > self.ack_timeout:
            return (
                f":hourglass_flowing_sand: costbot did not answer within {self.ack_timeout:g} s "
                f"(took {result.elapsed_s:.1f} s). {what} failed with the error "
                '"operation_timeout"'
            )
        return None

    def _new_trigger(self, user_id: str) -> str:
        serial = f"{next(self._ids)}{secrets.randbelow(10**6)}"
        tid = f"{serial}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[tid] = {"user": user_id, "issued": time.monotonic(), "used": False}
        return tid

    def issue_response_url(
        self, *, user_id: str, channel_id: str, command: str = "/cost", text: str = ""
    ) -> str:
        """A response_url as Slack mints for a slash command (for load generators that sign
        their own commands, e.g. benchmarks/ack_latency.py)."""
        cid = self._channel_id(channel_id) or channel_id
        return self._new_response_url(
            kind="command", user=user_id, channel=cid, command=command, text=text
        )

    def _new_response_url(self, **info: Any) -> str:

        if not self.base_url:
            raise RuntimeError("the stand-in has no base_url: call start() first")
        rid = secrets.token_urlsafe(18)
        with self._lock:
            self._response_urls[rid] = {
                **info,
                "created": time.monotonic(),
                "uses": 0,
                "echoed": False,
            }
        return f"{self.base_url}/response/{rid}"

    def _user_ref(self, user_id: str) -> dict:
        u = self._user(user_id)
        return {"id": u.id, "username": u.name, "name": u.name, "team_id": self.team_id}

    # ---- how a failed dispatch shows, and the one event the workspace sends

    def _flag_view_error(self, user_id: str, view_id: str | None, text: str) -> None:
        with self._cond:
            if view_id and view_id in self._views:
                self._views[view_id]["error"] = text
                if self._views[view_id]["kind"] == "home":
                    self._emit("home", user=user_id, view=self._view_out(view_id))
                else:
                    self._emit_modals(user_id)

    def open_app_home(self, user_id: str) -> CommandResult | None:
        """The person opened the App Home: send ``app_home_opened`` (when enabled)."""
        self._user(user_id)
        if not self.app_home_events or not (self.events_url or self.socket_mode):
            return None
        with self._lock:
            vid = self._homes.get(user_id)
            view = copy.deepcopy(self._views[vid]["view"]) if vid else None
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": "home",
            "event_ts": self._next_ts(),
        }
        if view:
            event["view"] = view
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": self._new_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        return self._post_to_bot(json.dumps(envelope), "application/json", "event")

"""The workspace the stand-in keeps: people, channels, messages, views and injected failures.

``Workspace`` holds the state every other part of the stand-in works on, under one lock (a
condition, so that the browser's long poll and ``wait_for_message`` wake on each change), and
the methods tests use to seed and read it. The parts that speak to the bot and to the
browser are the classes built on it (``dispatch``, ``interactions``, ``response_url``,
``web_api``, ``views_api``, ``files_api``, ``ui_api``), composed in ``wsgi.SlackStandIn``.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier

from .. import people
from ..socket_mode import SocketModeServer
from .blocks import with_ids
from .http_io import Response, json_response

SLACKBOT_USER_ID = "USLACKBOT"


@dataclass(frozen=True)
class CommandResult:
    """What the bot answered to a request the stand-in sent it (status 0: no answer)."""

    status: int
    body: str
    elapsed_s: float

    def json(self) -> Any:
        """The answer's body parsed as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None


class ApiError(Exception):
    """A Web API error answer: ``{"ok": false, "error": ...}`` plus extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class Workspace:
    """The stand-in's state and the methods that seed and read it (see ``SlackStandIn``)."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str,
        users: Sequence[Any] = people.USERS,
        channels: Sequence[Any] = people.CHANNELS,
        team_id: str = people.TEAM_ID,
        team_domain: str = "costbot-demo",
        team_name: str = "costbot demo",
        bot_user_id: str = people.BOT_USER_ID,
        bot_id: str = people.BOT_ID,
        app_id: str = people.APP_ID,
        bot_name: str = "costbot",
        commands: Sequence[str] | None = None,
        ack_timeout: float = 3.0,
        trigger_ttl: float = 3.0,
        http_timeout: float = 15.0,
        app_home_events: bool = True,
        channel_rate_limit: float | None = None,
        rate_limit_tolerance: float = 0.1,
        notice: str = "",
    ) -> None:
        """Set up the workspace; ``commands=None`` forwards every slash command to the bot;
        ``notice`` is a line the page always shows above the messages (the demo says there
        that its AWS is a sandbox)."""
        self.notice = notice
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.commands = tuple(commands) if commands is not None else None
        self.ack_timeout = ack_timeout
        self.trigger_ttl = trigger_ttl
        self.http_timeout = http_timeout
        self.app_home_events = app_home_events
        # Slack: about 1 chat.postMessage per second per channel, short bursts tolerated.
        self.channel_rate_limit = channel_rate_limit
        self.rate_limit_tolerance = rate_limit_tolerance
        self.rate_limited = 0  # how many posts were refused with 429
        self._last_post: dict[str, float] = {}
        self.verification_token = "demo-verification-" + secrets.token_hex(6)
        self.events_url: str | None = None
        self.socket_mode: SocketModeServer | None = None  # enable_socket_mode()
        self.base_url: str = ""
        self.calls: list[dict] = []
        self.bot_requests: list[dict] = []  # what was sent to the bot, and its answer

        self._users = {u.id: u for u in users}
        self._channels = {c.id: c for c in channels}
        self._dms = {"D" + u.id[1:]: u.id for u in users}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._messages: dict[str, dict] = {}  # ts -> message, in ts order
        self._files: dict[str, dict] = {}
        self._response_urls: dict[str, dict] = {}
        self._triggers: dict[str, dict] = {}
        self._views: dict[str, dict] = {}  # view id -> {"view", "user", "kind"}
        self._homes: dict[str, str] = {}  # user -> view id
        self._modals: dict[str, list[str]] = {}  # user -> stack of view ids
        self._failures: dict[str, deque] = {}
        self._events: deque = deque(maxlen=5000)
        self._seq = 0
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._stopping = False
        self._server: Any = None
        self._verifier = SignatureVerifier(signing_secret)

    # ------------------------------------------------------------------ small helpers

    def _next_ts(self) -> str:
        with self._lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            us = self._last_ts_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):04d}{secrets.token_hex(4).upper()}"

    def _emit(self, kind: str, **data: Any) -> None:
        """Record a workspace event for the browser's long poll (lock held or not)."""
        with self._cond:
            self._seq += 1
            self._events.append({"seq": self._seq, "type": kind, **data})
            self._cond.notify_all()

    def _user(self, user_id: str) -> Any:
        user = self._users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id!r}; known: {sorted(self._users)}")
        return user

    def _channel_id(self, channel: str | None) -> str | None:
        """Resolve an id, ``#name``, ``name`` or user id (-> DM) to a channel id."""
        if not channel:
            return None
        channel = str(channel).strip()
        if channel in self._channels or channel in self._dms:
            return channel
        if channel in self._users:
            return "D" + channel[1:]
        name = channel.lstrip("#")
        for cid, ch in self._channels.items():
            if ch.name == name:
                return cid
        return None

    def _require_channel(self, channel: str | None) -> str:
        cid = self._channel_id(channel)
        if cid is None:
            raise ApiError("channel_not_found")
        return cid

    def _channel_name(self, cid: str) -> str:
        return self._channels[cid].name if cid in self._channels else "directmessage"

    def _channel_members(self, cid: str) -> list[str]:
        if cid in self._dms:
            return [self._dms[cid], self.bot_user_id]
        return [*self._users, self.bot_user_id]

    def _bot_profile(self) -> dict:
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.bot_name,
            "deleted": False,
            "team_id": self.team_id,
            "icons": {},
        }

    def _public(self, msg: dict) -> dict:
        return copy.deepcopy({k: v for k, v in msg.items() if not k.startswith("_")})

    def _api_message(self, msg: dict) -> dict:
        """A stored message as the Web API returns it."""
        out = {
            "type": "message",
            "text": msg["text"],
            "user": msg["user"],
            "ts": msg["ts"],
            "team": self.team_id,
        }
        if msg.get("bot_id"):
            out.update(bot_id=msg["bot_id"], app_id=self.app_id, bot_profile=self._bot_profile())
        for key in ("blocks", "attachments", "files", "thread_ts", "edited", "reactions"):
            if msg.get(key):
                out[key] = copy.deepcopy(msg[key])
        return out

    # ------------------------------------------------------------------ message store

    def _store(
        self,
        *,
        channel: str,
        user: str,
        text: str = "",
        blocks: list | None = None,
        bot: bool = False,
        ephemeral_for: str | None = None,
        files: list | None = None,
        thread_ts: str | None = None,
        attachments: list | None = None,
        origin: str = "api",
        ts: str | None = None,
    ) -> dict:
        """Store a new message and tell the browser."""
        ts = ts or self._next_ts()
        msg = {
            "type": "message",
            "ts": ts,
            "channel": channel,
            "user": user,
            "bot_id": self.bot_id if bot else None,
            "text": text or "",
            "blocks": with_ids(blocks),
            "attachments": copy.deepcopy(attachments) if attachments else [],
            "ephemeral_for": ephemeral_for,
            "files": files or [],
            "thread_ts": thread_ts or None,
            "edited": None,
            "reactions": [],
            "origin": origin,
        }
        with self._cond:
            self._messages[ts] = msg
            self._emit("message", message=self._public(msg))
        return msg

    def _replace(self, ts: str, *, text: str | None, blocks: list | None, by: str) -> dict:
        with self._cond:
            msg = self._messages[ts]
            if text is not None:
                msg["text"] = text
            if blocks is not None:
                msg["blocks"] = with_ids(blocks)
            msg["edited"] = {"user": by, "ts": self._next_ts()}
            self._emit("message_changed", message=self._public(msg))
            return msg

    def _delete(self, ts: str) -> None:
        with self._cond:
            msg = self._messages.pop(ts, None)
            if msg is not None:
                self._emit("message_deleted", channel=msg["channel"], ts=ts)

    def _system_error(self, user_id: str, channel_id: str, text: str) -> dict:
        """An ephemeral note from Slackbot (how Slack shows a failed dispatch)."""
        return self._store(
            channel=channel_id,
            user=SLACKBOT_USER_ID,
            text=text,
            ephemeral_for=user_id,
            origin="slackbot",
        )

    def post_as_bot(
        self,
        channel_id: str,
        text: str,
        blocks: list | None = None,
        *,
        thread_ts: str | None = None,
        ephemeral_for: str | None = None,
    ) -> dict:
        """Store a message from the bot directly (seeding pages and tests); return it."""
        cid = self._channel_id(channel_id)
        if cid is None:
            raise ValueError(f"unknown channel {channel_id!r}")
        msg = self._store(
            channel=cid,
            user=self.bot_user_id,
            text=text,
            blocks=blocks,
            bot=True,
            thread_ts=thread_ts,
            ephemeral_for=ephemeral_for,
            origin="seed",
        )
        return self._public(msg)

    def post_as_user(self, *, user_id: str, channel_id: str, text: str) -> dict:
        """Store a person's plain message (what the composer does with non-commands)."""
        self._user(user_id)
        cid = self._channel_id(channel_id)
        if cid is None:
            raise ValueError(f"unknown channel {channel_id!r}")
        return self._public(self._store(channel=cid, user=user_id, text=text, origin="user"))

    def messages(
        self, channel_id: str | None = None, *, include_ephemeral: bool = True
    ) -> list[dict]:
        """Stored messages (copies) in ts order, of one channel or of all."""
        cid = self._channel_id(channel_id) if channel_id else None
        if channel_id and cid is None:
            raise ValueError(f"unknown channel {channel_id!r}")
        with self._lock:
            return [
                self._public(m)
                for m in self._messages.values()
                if (cid is None or m["channel"] == cid)
                and (include_ephemeral or m["ephemeral_for"] is None)
            ]

    def wait_for_message(
        self,
        predicate: Callable[[dict], bool],
        timeout: float = 5.0,
        *,
        after_ts: str | None = None,
    ) -> dict:
        """Block until a stored message (newer than ``after_ts``) matches; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = [
                    self._public(m)
                    for m in self._messages.values()
                    if after_ts is None or float(m["ts"]) > float(after_ts)
                ]
                for m in seen:
                    if predicate(m):
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    lines = [
                        f"  {m['ts']} {m['channel']} {m['bot_id'] or m['user']}"
                        + (f" (ephemeral for {m['ephemeral_for']})" if m["ephemeral_for"] else "")
                        + f": {(m['text'] or json.dumps(m['blocks']))[:100]!r}"
                        for m in seen[-20:]
                    ]
                    raise TimeoutError(
                        f"no message matched within {timeout:g} s; saw {len(seen)} message(s)"
                        + (":\n" + "\n".join(lines) if lines else "")
                    )
                self._cond.wait(remaining)

    def published_view(self, user_id: str) -> dict | None:
        """The App Home view last published for this user (None when never)."""
        with self._lock:
            vid = self._homes.get(user_id)
            return copy.deepcopy(self._views[vid]["view"]) if vid else None

    def open_modals(self, user_id: str) -> list[dict]:
        """The modal stack a user currently sees, bottom first."""
        with self._lock:
            return [copy.deepcopy(self._views[v]["view"]) for v in self._modals.get(user_id, [])]

    def file_bytes(self, file_id: str) -> bytes | None:
        """The uploaded bytes of a file (None when unknown or not uploaded)."""
        with self._lock:
            f = self._files.get(file_id)
            return f["data"] if f else None

    # ------------------------------------------------------------------ failures and rate limits

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        count: int = 1,
        error: str = "",
    ) -> None:
        """Fail the next ``count`` calls of a Web API method (or "upload", "response_url");
        ``error`` names Slack's error (``status=200, error="invalid_blocks"``: a refusal)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            for _ in range(count):
                queue.append({"status": status, "retry_after": retry_after, "error": error})

    def _take_failure(self, method: str) -> Response | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue.popleft()
        status = failure["status"]
        headers = []
        if failure["retry_after"] is not None:
            headers.append(("Retry-After", str(failure["retry_after"])))
        error = failure.get("error") or {
            429: "ratelimited",
            500: "internal_error",
            503: "service_unavailable",
        }.get(status, "fatal_error")
        return json_response({"ok": False, "error": error}, status, headers)

    def _over_channel_rate(self, channel: Any) -> Response | None:
        """A 429 when this channel had a message less than 1/rate seconds ago, else None."""
        if not self.channel_rate_limit:
            return None
        cid = self._channel_id(channel) or str(channel)
        interval = 1.0 / self.channel_rate_limit
        now = time.monotonic()
        with self._lock:
            last = self._last_post.get(cid)
            if last is None or now - last >= interval - self.rate_limit_tolerance:
                self._last_post[cid] = now
                return None
            self.rate_limited += 1
        retry_after = max(1, math.ceil(interval - (now - last)))
        return json_response(
            {"ok": False, "error": "ratelimited"}, 429, [("Retry-After", str(retry_after))]
        )

    # ------------------------------------------------------------------ view store

    def _view_for(self, user_id: str, view_id: str) -> dict:
        with self._lock:
            entry = self._views.get(view_id)
            if entry is None or entry["user"] != user_id:
                raise LookupError(f"no view {view_id} for {user_id}")
            return copy.deepcopy(entry["view"])

    def _put_view(
        self,
        user_id: str,
        view: dict,
        *,
        kind: str,
        view_id: str | None = None,
        root: str | None = None,
    ) -> dict:
        """Store a view (new, or replacing ``view_id``); return the stored Slack view object."""
        vid = view_id or self._new_id("V")
        with self._lock:
            previous = self._views.get(vid, {}).get("view", {})
            stored = {
                "id": vid,
                "team_id": self.team_id,
                "type": view.get("type", kind),
                "blocks": with_ids(view.get("blocks", [])),
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "state": {"values": {}},
                "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
                "title": copy.deepcopy(view.get("title")),
                "close": copy.deepcopy(view.get("close")),
                "submit": copy.deepcopy(view.get("submit")),
                "clear_on_close": bool(view.get("clear_on_close", False)),
                "notify_on_close": bool(view.get("notify_on_close", False)),
                "external_id": view.get("external_id", ""),
                "previous_view_id": previous.get("previous_view_id"),
                "root_view_id": previous.get("root_view_id") or root or vid,
                "app_id": self.app_id,
                "app_installed_team_id": self.team_id,
                "bot_id": self.bot_id,
            }
            self._views[vid] = {"view": stored, "user": user_id, "kind": kind, "errors": {}}
            return copy.deepcopy(stored)

    def _view_out(self, vid: str) -> dict:
        entry = self._views[vid]
        out = copy.deepcopy(entry["view"])
        out["_errors"] = dict(entry.get("errors") or {})
        out["_error"] = entry.get("error")
        return out

    def _emit_modals(self, user_id: str) -> None:
        with self._cond:
            stack = [self._view_out(v) for v in self._modals.get(user_id, []) if v in self._views]
            self._emit("modals", user=user_id, stack=stack)

"""A local stand-in for Slack, for `costbot demo` and for tests.

It plays Slack's part in both directions, on one WSGI app served by waitress:

* Slack -> bot: slash commands, Block Kit button clicks, select menus, modal submissions and
  ``app_home_opened`` events are built exactly as Slack builds them, signed with the signing
  secret (``X-Slack-Request-Timestamp`` / ``X-Slack-Signature``) and POSTed to the bot's
  events URL. The ack is treated as Slack treats it: a slash command's ack body becomes an
  ephemeral message (``response_type: in_channel`` makes it public and echoes the command),
  a non-2xx answer or one later than 3 s shows an ephemeral error from Slackbot.
* bot -> Slack: the Web API under ``<base_url>/api/<method>`` (so that
  ``slack_sdk.WebClient(base_url=standin.api_url)`` works unchanged), ``response_url``s under
  ``<base_url>/response/<id>`` (5 uses within 30 minutes, as Slack), file uploads (the
  ``files_upload_v2`` flow) with the files served back under ``<base_url>/files/<id>``.
* the browser workspace: ``GET /`` (static/index.html, app.js, style.css) and a small JSON API
  under ``/ui/api/`` with a long-poll event stream, so that messages the bot posts by itself
  appear without a reload.

Behaviour follows Slack where it matters to a bot: ``trigger_id`` is single-use and expires
after 3 s; ``chat.update``/``chat.delete`` work only on the bot's own, non-ephemeral messages;
a block_actions ``response_url`` replaces (``replace_original``) or deletes
(``delete_original``) the message holding the button (ephemeral ones too), and a slash
command's one replaces or deletes the last message it posted (its ack included), keeping that
message's visibility: an ephemeral note stays ephemeral; a slash command from a surface that
gives none comes without ``response_url`` (``send_command(response_url=False)``);
``files.completeUploadExternal`` takes ``blocks`` (ignored with ``initial_comment``), so an
answer and its chart are one message; blocks are checked against Block Kit's main limits
(``invalid_blocks``); the
block_actions payload of an ephemeral message carries no ``message`` (use
``container.message_ts``). ``fail_next`` injects 429/5xx answers; ``calls`` records every
Web API call. ``channel_rate_limit`` (messages per second per channel, off by default)
answers ``chat.postMessage`` beyond it with 429 and ``Retry-After``, as Slack does.

``enable_socket_mode(app_token)`` plays Socket Mode instead (``bot.demo.socket_mode``):
``apps.connections.open`` answers a ``ws://`` URL and the same requests go to the bot as
envelopes on its WebSocket, their acks standing for the HTTP answers.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import http
import itertools
import json
import logging
import math
import mimetypes
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.signature import SignatureVerifier

from . import people
from .socket_mode import SocketModeServer, envelope_payload

logger = logging.getLogger("costbot.demo.slack_standin")

STATIC_DIR = Path(__file__).with_name("static")
SLACKBOT_USER_ID = "USLACKBOT"

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_S = 30 * 60
LONG_POLL_S = 25.0

_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
_KNOWN_BLOCKS = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}
# The bot is local: never send its requests through a proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


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


class _ApiError(Exception):
    """A Web API error answer: ``{"ok": false, "error": ...}`` plus extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(
    data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> _Response:
    return _Response(status, json.dumps(data).encode(), headers=tuple(headers))


def _text_response(text: str, status: int = 200) -> _Response:
    return _Response(status, text.encode(), "text/plain; charset=utf-8")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _plain_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def validate_blocks(
    blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, where: str = "blocks"
) -> list[str]:
    """Check blocks against Block Kit's main limits; return Slack-style error lines (empty: ok)."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:/{where}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"[ERROR] must be less than {limit + 1} items [json-pointer:/{where}]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"/{where}/{i}"
        if not isinstance(block, dict):
            errors.append(f"[ERROR] must be an object [json-pointer:{ptr}]")
            continue
        kind = block.get("type")
        if kind not in _KNOWN_BLOCKS:
            errors.append(f"[ERROR] unsupported type: {kind} [json-pointer:{ptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                errors.append(
                    f"[ERROR] must be less than 256 characters [json-pointer:{ptr}/block_id]"
                )
            if block_id in block_ids:
                errors.append(
                    f"[ERROR] duplicate block_id: {block_id} [json-pointer:{ptr}/block_id]"
                )
            block_ids.add(block_id)
        if kind == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                errors.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/text]")
            elif _plain_len(text) > 150:
                errors.append(f"[ERROR] must be less than 151 characters [json-pointer:{ptr}/text]")
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if not text and not fields:
                errors.append(f"[ERROR] must provide text or fields [json-pointer:{ptr}]")
            if _plain_len(text) > 3000:
                errors.append(
                    f"[ERROR] must be less than 3001 characters [json-pointer:{ptr}/text]"
                )
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    errors.append(f"[ERROR] must be at most 10 items [json-pointer:{ptr}/fields]")
                else:
                    for j, field in enumerate(fields):
                        if _plain_len(field) > 2000:
                            errors.append(
                                "[ERROR] must be less than 2001 characters "
                                f"[json-pointer:{ptr}/fields/{j}]"
                            )
            if block.get("accessory") is not None:
                errors += _validate_element(block["accessory"], f"{ptr}/accessory")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                errors.append(f"[ERROR] must have 1 to 25 elements [json-pointer:{ptr}/elements]")
            else:
                seen: set[str] = set()
                for j, element in enumerate(elements):
                    errors += _validate_element(element, f"{ptr}/elements/{j}")
                    aid = element.get("action_id") if isinstance(element, dict) else None
                    if aid is None:
                        continue
                    if aid in seen:
                        errors.append(
                            f"[ERROR] duplicate action_id: {aid} [json-pointer:{ptr}/elements/{j}]"
                        )
                    seen.add(aid)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                errors.append(f"[ERROR] must have 1 to 10 elements [json-pointer:{ptr}/elements]")
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                errors.append(f"[ERROR] must provide image_url [json-pointer:{ptr}]")
            alt = block.get("alt_text")
            if not isinstance(alt, str) or not alt or len(alt) > 2000:
                errors.append(
                    f"[ERROR] alt_text: 1 to 2000 characters [json-pointer:{ptr}/alt_text]"
                )
        elif kind == "input":
            if not isinstance(block.get("label"), dict):
                errors.append(f"[ERROR] must provide a label [json-pointer:{ptr}/label]")
            if not isinstance(block.get("element"), dict):
                errors.append(f"[ERROR] must provide an element [json-pointer:{ptr}/element]")
    return errors


def _validate_element(element: Any, ptr: str) -> list[str]:
    if not isinstance(element, dict) or "type" not in element:
        return [f"[ERROR] must be an element object [json-pointer:{ptr}]"]
    errors: list[str] = []
    if len(str(element.get("action_id", ""))) > 255:
        errors.append(f"[ERROR] must be less than 256 characters [json-pointer:{ptr}/action_id]")
    if element["type"] == "button":
        text = element.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            errors.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/text]")
        elif _plain_len(text) > 75:
            errors.append(f"[ERROR] must be less than 76 characters [json-pointer:{ptr}/text]")
        if len(str(element.get("value", ""))) > 2000:
            errors.append(f"[ERROR] must be less than 2001 characters [json-pointer:{ptr}/value]")
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(f"[ERROR] must be primary or danger [json-pointer:{ptr}/style]")
    return errors


def _validate_view(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") not in ("modal", "home"):
        errors.append("[ERROR] must be modal or home [json-pointer:/view/type]")
    if view.get("type") == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or not 1 <= _plain_len(title) <= 24:
            errors.append(
                "[ERROR] title: plain_text of 1 to 24 characters [json-pointer:/view/title]"
            )
        for key in ("submit", "close"):
            if view.get(key) is not None and _plain_len(view[key]) > 24:
                errors.append(f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}]")
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            errors.append(
                "[ERROR] a view with input blocks needs submit [json-pointer:/view/submit]"
            )
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append(
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        )
    if len(str(view.get("callback_id", ""))) > 255:
        errors.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
    errors += validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, where="view/blocks")
    return errors


def _iter_elements(blocks: Sequence[dict]) -> Iterable[tuple[dict, dict]]:
    """Yield (block, element) for every interactive element in the blocks."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict):
                    yield block, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def _with_ids(blocks: list | None) -> list:
    """A copy of the blocks where each block and element has its ids, as Slack stores them.

    Slack gives a block without ``block_id`` (and an interactive element without
    ``action_id``) a random one, which then shows in payloads and API answers.
    """
    out = copy.deepcopy(blocks) if blocks else []
    for block in out:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)[:5]
    for _block, element in _iter_elements(out):
        if not element.get("action_id") and element.get("type") not in ("image",):
            element["action_id"] = secrets.token_urlsafe(4)[:5]
    return out


def _parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str | None, str, bytes]]:
    """Parse multipart/form-data into (field name, filename, content type, data) tuples."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: list[tuple[str, str | None, str, bytes]] = []
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        payload = part.get_payload(decode=True)  # bytes, or None for a nested multipart
        data = payload if isinstance(payload, bytes) else b""
        parts.append((str(name), part.get_filename(), part.get_content_type(), data))
    return parts


def _sniff_mimetype(name: str, data: bytes, declared: str | None = None) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:5] == b"<?xml" and b"<svg" in data[:500] or data.lstrip()[:4] == b"<svg":
        return "image/svg+xml"
    guessed = mimetypes.guess_type(name)[0]
    if guessed:
        return guessed
    if declared and declared != "application/octet-stream":
        return declared
    return "application/octet-stream"


class SlackStandIn:
    """Slack's Web API, response_urls, file uploads and a browser workspace, locally."""

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
        self._api = {
            "api.test": self._api_api_test,
            "auth.test": self._api_auth_test,
            "bots.info": self._api_bots_info,
            "team.info": self._api_team_info,
            "chat.postMessage": self._api_chat_post_message,
            "chat.postEphemeral": self._api_chat_post_ephemeral,
            "chat.update": self._api_chat_update,
            "chat.delete": self._api_chat_delete,
            "chat.getPermalink": self._api_chat_get_permalink,
            "conversations.info": self._api_conversations_info,
            "conversations.list": self._api_conversations_list,
            "conversations.open": self._api_conversations_open,
            "conversations.history": self._api_conversations_history,
            "conversations.replies": self._api_conversations_replies,
            "conversations.members": self._api_conversations_members,
            "users.info": self._api_users_info,
            "users.list": self._api_users_list,
            "views.open": self._api_views_open,
            "views.push": self._api_views_push,
            "views.update": self._api_views_update,
            "views.publish": self._api_views_publish,
            "files.getUploadURLExternal": self._api_files_get_upload_url,
            "files.completeUploadExternal": self._api_files_complete_upload,
            "files.info": self._api_files_info,
            "reactions.add": self._api_reactions_add,
            "reactions.remove": self._api_reactions_remove,
        }

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
            raise _ApiError("channel_not_found")
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

    def _user_obj(self, user_id: str) -> dict:
        if user_id == self.bot_user_id:
            return {
                "id": self.bot_user_id,
                "team_id": self.team_id,
                "name": self.bot_name,
                "real_name": self.bot_name,
                "is_bot": True,
                "is_app_user": False,
                "deleted": False,
                "tz": "UTC",
                "tz_offset": 0,
                "profile": {
                    "real_name": self.bot_name,
                    "display_name": self.bot_name,
                    "bot_id": self.bot_id,
                    "api_app_id": self.app_id,
                },
            }
        u = self._users[user_id]
        return {
            "id": u.id,
            "team_id": self.team_id,
            "name": u.name,
            "real_name": u.real_name,
            "is_bot": False,
            "is_admin": False,
            "deleted": False,
            "tz": "UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "profile": {
                "real_name": u.real_name,
                "display_name": u.name,
                "title": u.title,
                "email": f"{u.name}@{self.team_domain}.example",
                "team": self.team_id,
            },
        }

    def _channel_obj(self, cid: str) -> dict:
        if cid in self._dms:
            return {
                "id": cid,
                "is_im": True,
                "is_channel": False,
                "is_private": True,
                "user": self._dms[cid],
                "created": 1_700_000_000,
                "is_open": True,
            }
        ch = self._channels[cid]
        return {
            "id": cid,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_general": False,
            "is_member": True,
            "created": 1_700_000_000,
            "creator": next(iter(self._users), ""),
            "context_team_id": self.team_id,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.topic, "creator": "", "last_set": 0},
            "num_members": len(self._users) + 1,
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
    ) -> dict:
        """Store a new message and tell the browser."""
        ts = self._next_ts()
        msg = {
            "type": "message",
            "ts": ts,
            "channel": channel,
            "user": user,
            "bot_id": self.bot_id if bot else None,
            "text": text or "",
            "blocks": _with_ids(blocks),
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
                msg["blocks"] = _with_ids(blocks)
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

    def _take_failure(self, method: str) -> _Response | None:
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
        return _json_response({"ok": False, "error": error}, status, headers)

    def _over_channel_rate(self, channel: Any) -> _Response | None:
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
        return _json_response(
            {"ok": False, "error": "ratelimited"}, 429, [("Retry-After", str(retry_after))]
        )

    # ------------------------------------------------------------------ Slack -> bot

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

    def send_command(
        self,
        *,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/cost",
        headers_override: dict | None = None,
        response_url: bool = True,
    ) -> CommandResult:
        """Send a slash command as Slack does; show the ack (or the failure) to the user.

        The command is sent as typed (``/COST`` stays upper-case); ``commands`` match it
        whatever its case. ``response_url=False`` leaves the field out, as some payloads
        Slack documents do."""
        user = self._user(user_id)
        cid = self._channel_id(channel_id)
        if cid is None:
            raise ValueError(f"unknown channel {channel_id!r}")
        command = "/" + command.lstrip("/")
        known = {c.lower() for c in self.commands} if self.commands is not None else None
        if known is not None and command.lower() not in known:
            self._system_error(
                user_id,
                cid,
                f"{command} is not a valid command. In Slack, all messages that start with "
                'the "/" character are interpreted as commands.',
            )
            return CommandResult(0, "not a valid command", 0.0)
        url = self._new_response_url(
            kind="command", user=user_id, channel=cid, command=command, text=text
        )
        rid = url.rsplit("/", 1)[1]
        form = [
            ("token", self.verification_token),
            ("team_id", self.team_id),
            ("team_domain", self.team_domain),
            ("channel_id", cid),
            ("channel_name", self._channel_name(cid)),
            ("user_id", user.id),
            ("user_name", user.name),
            ("command", command),
            ("text", text),
            ("api_app_id", self.app_id),
            ("is_enterprise_install", "false"),
            ("response_url", url),
            ("trigger_id", self._new_trigger(user_id)),
        ]
        if not response_url:
            form = [(key, value) for key, value in form if key != "response_url"]
        body = urllib.parse.urlencode(form)
        result = self._post_to_bot(
            body, "application/x-www-form-urlencoded", "command", headers_override
        )
        error = self._dispatch_error(result, f"{command}")
        if error:
            self._system_error(user_id, cid, error)
            return result
        if not result.body.strip():
            return result
        parsed = result.json()
        if isinstance(parsed, dict):
            if parsed.get("text") or parsed.get("blocks") or parsed.get("attachments"):
                self._respond(rid, parsed, from_ack=True)
        elif parsed is None:  # a plain-text ack is shown as it is
            self._respond(rid, {"text": result.body}, from_ack=True)
        return result

    def _message_payload(self, user_id: str, cid: str, msg: dict) -> dict:
        is_ephemeral = msg["ephemeral_for"] is not None
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_ref(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": msg["ts"],
                "channel_id": cid,
                "is_ephemeral": is_ephemeral,
            },
            "trigger_id": self._new_trigger(user_id),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": cid, "name": self._channel_name(cid)},
            "state": {"values": {}},
            "response_url": self._new_response_url(
                kind="action", user=user_id, channel=cid, message_ts=msg["ts"]
            ),
        }
        if not is_ephemeral:  # Slack leaves the message out for ephemeral ones
            payload["message"] = self._api_message(msg)
        return payload

    def _action_item(self, block: dict, element: dict, *, selected: dict | None = None) -> dict:
        item: dict[str, Any] = {
            "action_id": element.get("action_id", ""),
            "block_id": block.get("block_id", ""),
            "type": element.get("type", "button"),
            "action_ts": self._next_ts(),
        }
        if element.get("type") == "button":
            item["text"] = copy.deepcopy(element.get("text", {"type": "plain_text", "text": ""}))
            if "value" in element:
                item["value"] = element["value"]
            if element.get("style"):
                item["style"] = element["style"]
        elif element.get("type") in ("static_select", "overflow", "radio_buttons"):
            item["selected_option"] = selected
            if element.get("placeholder"):
                item["placeholder"] = copy.deepcopy(element["placeholder"])
        return item

    def _find_element(
        self,
        blocks: list,
        action_id: str,
        value: str | None,
        *,
        block_id: str | None = None,
        types: tuple[str, ...] = ("button",),
    ) -> tuple[dict, dict]:
        found = []
        for block, element in _iter_elements(blocks):
            if element.get("type") not in types or element.get("action_id") != action_id:
                continue
            if block_id and block.get("block_id") != block_id:
                continue
            if value is not None and "button" in types and element.get("value") != value:
                continue
            found.append((block, element))
        if not found:
            available = [
                f"{e.get('action_id')}={e.get('value')!r}"
                for _, e in _iter_elements(blocks)
                if e.get("type") in types
            ]
            raise LookupError(
                f"no {'/'.join(types)} {action_id!r} (value {value!r}); there are {available}"
            )
        return found[0]

    def _visible_message(self, user_id: str, channel_id: str, message_ts: str) -> tuple[str, dict]:
        self._user(user_id)
        cid = self._channel_id(channel_id)
        with self._lock:
            msg = self._messages.get(message_ts)
            if cid is None or msg is None or msg["channel"] != cid:
                raise LookupError(f"no message {message_ts} in {channel_id}")
            if msg["ephemeral_for"] not in (None, user_id):
                raise LookupError(f"message {message_ts} is not visible to {user_id}")
            return cid, copy.deepcopy(msg)

    def _send_block_actions(self, payload: dict, where: tuple[str, str] | None) -> CommandResult:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        result = self._post_to_bot(body, "application/x-www-form-urlencoded", "block_actions")
        error = self._dispatch_error(result, "This interaction")
        if error:
            if where is not None:
                self._system_error(where[0], where[1], error)
            else:
                self._flag_view_error(
                    payload["user"]["id"], payload.get("view", {}).get("id"), error
                )
        return result

    def click(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> CommandResult:
        """Click a button of a stored message (``value`` picks among same action_ids)."""
        cid, msg = self._visible_message(user_id, channel_id, message_ts)
        block, element = self._find_element(msg["blocks"], action_id, value, block_id=block_id)
        payload = self._message_payload(user_id, cid, msg)
        payload["actions"] = [self._action_item(block, element)]
        return self._send_block_actions(payload, (user_id, cid))

    def select_option(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        option_value: str,
        block_id: str | None = None,
    ) -> CommandResult:
        """Pick an option of a static_select/overflow/radio_buttons in a stored message."""
        cid, msg = self._visible_message(user_id, channel_id, message_ts)
        types = ("static_select", "overflow", "radio_buttons")
        block, element = self._find_element(
            msg["blocks"], action_id, None, block_id=block_id, types=types
        )
        option = self._find_option(element, option_value)
        payload = self._message_payload(user_id, cid, msg)
        payload["actions"] = [self._action_item(block, element, selected=option)]
        return self._send_block_actions(payload, (user_id, cid))

    @staticmethod
    def _find_option(element: dict, option_value: str) -> dict:
        options = list(element.get("options") or [])
        for group in element.get("option_groups") or []:
            options += group.get("options") or []
        for option in options:
            if option.get("value") == option_value:
                return copy.deepcopy(option)
        raise LookupError(f"no option {option_value!r} in {element.get('action_id')!r}")

    # ---- views (App Home and modals)

    def _view_for(self, user_id: str, view_id: str) -> dict:
        with self._lock:
            entry = self._views.get(view_id)
            if entry is None or entry["user"] != user_id:
                raise LookupError(f"no view {view_id} for {user_id}")
            return copy.deepcopy(entry["view"])

    def click_view(
        self,
        *,
        user_id: str,
        view_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        option_value: str | None = None,
    ) -> CommandResult:
        """Click a button (or pick an option) in a modal or the App Home."""
        self._user(user_id)
        view = self._view_for(user_id, view_id)
        if option_value is None:
            block, element = self._find_element(view["blocks"], action_id, value, block_id=block_id)
            item = self._action_item(block, element)
        else:
            types = ("static_select", "overflow", "radio_buttons")
            block, element = self._find_element(
                view["blocks"], action_id, None, block_id=block_id, types=types
            )
            item = self._action_item(
                block, element, selected=self._find_option(element, option_value)
            )
        payload = {
            "type": "block_actions",
            "user": self._user_ref(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self._new_trigger(user_id),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [item],
        }
        return self._send_block_actions(payload, None)

    def _state_from_simple(self, view: dict, values: dict[str, Any]) -> dict:
        """Build ``view.state.values`` from ``{action_id: value}`` for the view's inputs."""
        state: dict[str, dict] = {}
        left = dict(values)
        for block, element in _iter_elements(view.get("blocks", [])):
            if block.get("type") != "input":
                continue
            aid = element.get("action_id", "")
            kind = element.get("type")
            entry: dict[str, Any] = {"type": kind}
            raw = left.pop(aid, None)
            if kind in ("static_select", "radio_buttons"):
                entry["selected_option"] = (
                    self._find_option(element, raw) if raw is not None else None
                )
            elif kind == "checkboxes":
                entry["selected_options"] = [self._find_option(element, v) for v in raw or []]
            elif kind == "datepicker":
                entry["selected_date"] = raw
            elif kind == "number_input":
                entry["value"] = None if raw is None else str(raw)
            else:
                entry["value"] = raw
            state.setdefault(block.get("block_id", ""), {})[aid] = entry
        if left:
            raise LookupError(f"the view has no input(s) {sorted(left)}")
        return state

    def submit_view(
        self,
        *,
        user_id: str,
        view_id: str,
        values: dict[str, Any] | None = None,
        state: dict | None = None,
    ) -> CommandResult:
        """Submit a modal: ``values`` is ``{action_id: value}`` (or give Slack's ``state``)."""
        self._user(user_id)
        view = self._view_for(user_id, view_id)
        if state is None:
            state = self._state_from_simple(view, values or {})
        view["state"] = {"values": state}
        with self._lock:
            self._views[view_id]["view"]["state"] = {"values": copy.deepcopy(state)}
            self._views[view_id]["errors"] = {}
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_ref(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": self._new_trigger(user_id),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        result = self._post_to_bot(body, "application/x-www-form-urlencoded", "view_submission")
        error = self._dispatch_error(result, "Submitting the form")
        if error:
            self._flag_view_error(user_id, view_id, error)
            return result
        reply = result.json() if result.body.strip() else None
        answer: dict = reply if isinstance(reply, dict) else {}
        action = answer.get("response_action")
        with self._cond:
            stack = self._modals.setdefault(user_id, [])
            if action == "errors":
                self._views[view_id]["errors"] = dict(answer.get("errors") or {})
            elif action == "update" and isinstance(answer.get("view"), dict):
                self._put_view(user_id, answer["view"], view_id=view_id, kind="modal")
            elif action == "push" and isinstance(answer.get("view"), dict):
                new = self._put_view(
                    user_id, answer["view"], kind="modal", root=stack[0] if stack else None
                )
                stack.append(new["id"])
            elif action == "clear":
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id) :]
            self._emit_modals(user_id)
        return result

    def close_view(self, *, user_id: str, view_id: str) -> CommandResult | None:
        """Close a modal (the Close button); sends ``view_closed`` when the view asks for it."""
        view = self._view_for(user_id, view_id)
        with self._cond:
            stack = self._modals.setdefault(user_id, [])
            if view_id in stack:
                del stack[stack.index(view_id) :]
            self._emit_modals(user_id)
        if not view.get("notify_on_close"):
            return None
        payload = {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_ref(user_id),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": False,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self._post_to_bot(body, "application/x-www-form-urlencoded", "view_closed")

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

    # ------------------------------------------------------------------ response_url

    def _respond(self, rid: str, data: dict, *, from_ack: bool = False) -> tuple[int, str]:
        """Apply a response_url (or slash-command ack) message; return (status, body)."""
        with self._lock:
            info = self._response_urls.get(rid)
            if info is None:
                return 404, "invalid_url"
            info = dict(info)
        text = data.get("text")
        blocks = data.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return 400, "invalid_blocks_format"
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                return 400, "invalid_blocks"
        user, cid = info["user"], info["channel"]
        is_action = info["kind"] == "action"
        # The message "original" means: the one holding the button, or for a slash command
        # the last message this response_url (or the command's ack) posted.
        original = info.get("message_ts") if is_action else info.get("last_ts")
        if not from_ack and _truthy(data.get("delete_original")):
            with self._lock:
                exists = bool(original) and original in self._messages
            if not exists:
                return 404, "message_not_found"
            self._delete(str(original))
            return 200, "ok"
        if not text and not blocks and not data.get("attachments"):
            return 400, "no_text"
        if text is not None and len(str(text)) > MAX_TEXT_CHARS:
            return 400, "msg_too_long"
        if not from_ack and _truthy(data.get("replace_original")):
            with self._lock:
                exists = bool(original) and original in self._messages
            if not exists:
                return 404, "message_not_found"
            self._replace(str(original), text=str(text or ""), blocks=blocks or [],
                          by=self.bot_user_id)  # fmt: skip
            return 200, "ok"
        in_channel = data.get("response_type") == "in_channel"
        if in_channel and info["kind"] == "command":
            with self._lock:
                echo = not self._response_urls[rid]["echoed"]
                self._response_urls[rid]["echoed"] = True
            if echo:  # Slack shows the invocation along with the first public answer
                self._store(
                    channel=cid,
                    user=user,
                    text=f"{info['command']} {info['text']}".strip(),
                    origin="command",
                )
        posted = self._store(
            channel=cid,
            user=self.bot_user_id,
            text=str(text or ""),
            blocks=blocks,
            bot=True,
            ephemeral_for=None if in_channel else user,
            thread_ts=data.get("thread_ts"),
            attachments=data.get("attachments")
            if isinstance(data.get("attachments"), list)
            else None,
            origin="ack" if from_ack else "response_url",
        )
        if not is_action:
            with self._lock:
                if rid in self._response_urls:
                    self._response_urls[rid]["last_ts"] = posted["ts"]
        return 200, "ok"

    def _handle_response_url(self, rid: str, environ: dict) -> _Response:
        body = self._read_body(environ)
        record = {"method": "response_url", "params": {}, "time": time.time(), "id": rid}
        with self._lock:
            self.calls.append(record)
        failure = self._take_failure("response_url")
        if failure is not None:
            record.update(status=failure.status, ok=False)
            return failure
        with self._lock:
            info = self._response_urls.get(rid)
            status_error = None
            if info is None:
                status_error = "invalid_url"
            elif time.monotonic() - info["created"] > RESPONSE_URL_TTL_S:
                status_error = "expired_url"
            elif info["uses"] >= RESPONSE_URL_MAX_USES:
                status_error = "used_url"
            else:
                info["uses"] += 1
        if status_error:
            record.update(status=404, ok=False, error=status_error)
            return _text_response(status_error, 404)
        try:
            data = self._parse_params(environ, body)
        except ValueError:
            record.update(status=400, ok=False, error="invalid_payload")
            return _text_response("invalid_payload", 400)
        if "payload" in data and isinstance(data["payload"], str):
            try:
                data = json.loads(data["payload"])
            except ValueError:
                return _text_response("invalid_payload", 400)
        record["params"] = data
        status, text = self._respond(rid, data)
        record.update(status=status, ok=status == 200, error=None if status == 200 else text)
        return _text_response(text, status)

    # ------------------------------------------------------------------ Web API

    def _read_body(self, environ: dict) -> bytes:
        if "_body" in environ:
            return environ["_body"]
        stream = environ.get("wsgi.input")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if stream is not None and length > 0 else b""
        environ["_body"] = body
        return body

    def _parse_params(self, environ: dict, body: bytes) -> dict[str, Any]:
        """Query string + body (form, JSON or multipart fields) as one dict."""
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        ctype = environ.get("CONTENT_TYPE", "")
        if body:
            if "json" in ctype:
                data = json.loads(body.decode("utf-8"))
                if not isinstance(data, dict):
                    raise ValueError("JSON body must be an object")
                params.update(data)
            elif ctype.startswith("multipart/form-data"):
                for name, filename, _ct, data in _parse_multipart(body, ctype):
                    params[name] = data if filename else data.decode("utf-8", "replace")
            else:
                params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return params

    def _handle_api(self, method: str, environ: dict) -> _Response:
        body = self._read_body(environ)
        record: dict[str, Any] = {"method": method, "params": {}, "time": time.time()}
        with self._lock:
            self.calls.append(record)
        try:
            params = self._parse_params(environ, body)
        except (ValueError, UnicodeDecodeError):
            record.update(status=200, ok=False, error="invalid_json")
            return _json_response({"ok": False, "error": "invalid_json"})
        token = params.pop("token", None)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        for key in _JSON_FIELDS:
            if isinstance(params.get(key), str) and params[key].strip():
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    record.update(
                        params=params, status=200, ok=False, error=f"invalid_{key}_format"
                    )
                    return _json_response({"ok": False, "error": f"invalid_{key}_format"})
        record["params"] = params
        failure = self._take_failure(method)
        if failure is None and method == "chat.postMessage":
            failure = self._over_channel_rate(params.get("channel"))
        if failure is not None:
            record.update(status=failure.status, ok=False)
            return failure
        if not token:
            answer: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif method == "apps.connections.open" and self.socket_mode is not None:
            answer = self.socket_mode.open_connection(str(token))
        elif not secrets.compare_digest(str(token), self.bot_token):
            answer = {"ok": False, "error": "invalid_auth"}
        elif method not in self._api:
            answer = {"ok": False, "error": "unknown_method", "req_method": method}
        else:
            environ["_base"] = self._request_base(environ)
            try:
                answer = {"ok": True, **self._api[method](params, environ)}
            except _ApiError as err:
                answer = {"ok": False, "error": err.error, **err.extra}
        record.update(status=200, ok=answer["ok"], error=answer.get("error"))
        headers = [("X-OAuth-Scopes", "chat:write,commands,files:write,users:read,channels:read")]
        return _json_response(answer, 200, headers)

    def _request_base(self, environ: dict) -> str:
        if self.base_url:
            return self.base_url
        host = (
            environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        )
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    @staticmethod
    def _content(
        params: dict, *, required: bool = True
    ) -> tuple[str | None, list | None, list | None]:
        text = params.get("text")
        blocks = params.get("blocks")
        attachments = params.get("attachments")
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise _ApiError(
                    "invalid_blocks", errors=errors, response_metadata={"messages": errors}
                )
        if text is not None and len(str(text)) > MAX_TEXT_CHARS:
            raise _ApiError("msg_too_long")
        if required and not text and not blocks and not attachments:
            raise _ApiError("no_text")
        return (None if text is None else str(text)), blocks, attachments

    def _api_api_test(self, params: dict, environ: dict) -> dict:
        return {"args": params} if params else {}

    def _api_auth_test(self, params: dict, environ: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_bots_info(self, params: dict, environ: dict) -> dict:
        return {"bot": {**self._bot_profile(), "user_id": self.bot_user_id, "updated": 0}}

    def _api_team_info(self, params: dict, environ: dict) -> dict:
        return {"team": {"id": self.team_id, "name": self.team_name, "domain": self.team_domain}}

    def _api_chat_post_message(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        text, blocks, attachments = self._content(params)
        msg = self._store(
            channel=cid,
            user=self.bot_user_id,
            text=text or "",
            blocks=blocks,
            attachments=attachments,
            bot=True,
            thread_ts=params.get("thread_ts"),
        )
        return {"channel": cid, "ts": msg["ts"], "message": self._api_message(msg)}

    def _api_chat_post_ephemeral(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        user = params.get("user")
        if not user:
            raise _ApiError("invalid_arguments")
        if user not in self._channel_members(cid) or user == self.bot_user_id:
            raise _ApiError("user_not_in_channel")
        text, blocks, attachments = self._content(params)
        msg = self._store(
            channel=cid,
            user=self.bot_user_id,
            text=text or "",
            blocks=blocks,
            attachments=attachments,
            bot=True,
            ephemeral_for=user,
            thread_ts=params.get("thread_ts"),
        )
        return {"message_ts": msg["ts"]}

    def _own_message(self, params: dict, verb: str) -> tuple[str, dict]:
        cid = self._require_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        with self._lock:
            msg = self._messages.get(ts)
            if msg is None or msg["channel"] != cid or msg["ephemeral_for"] is not None:
                raise _ApiError("message_not_found")
            if msg["user"] != self.bot_user_id:
                raise _ApiError(f"cant_{verb}_message")
            return cid, msg

    def _api_chat_update(self, params: dict, environ: dict) -> dict:
        cid, msg = self._own_message(params, "update")
        text, blocks, attachments = self._content(params, required=False)
        if text is None and blocks is None and attachments is None and not params.get("file_ids"):
            raise _ApiError("no_text")
        updated = self._replace(msg["ts"], text=text, blocks=blocks, by=self.bot_user_id)
        return {
            "channel": cid,
            "ts": updated["ts"],
            "text": updated["text"],
            "message": self._api_message(updated),
        }

    def _api_chat_delete(self, params: dict, environ: dict) -> dict:
        cid, msg = self._own_message(params, "delete")
        self._delete(msg["ts"])
        return {"channel": cid, "ts": msg["ts"]}

    def _api_chat_get_permalink(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        ts = str(params.get("message_ts") or "")
        with self._lock:
            if ts not in self._messages:
                raise _ApiError("message_not_found")
        return {"channel": cid, "permalink": f"{environ['_base']}/#/{cid}/{ts}"}

    def _api_conversations_info(self, params: dict, environ: dict) -> dict:
        return {"channel": self._channel_obj(self._require_channel(params.get("channel")))}

    def _api_conversations_list(self, params: dict, environ: dict) -> dict:
        types = str(params.get("types") or "public_channel")
        chans = [self._channel_obj(c) for c in self._channels] if "public_channel" in types else []
        if "im" in types:
            chans += [self._channel_obj(d) for d in self._dms]
        return {"channels": chans, "response_metadata": {"next_cursor": ""}}

    def _api_conversations_open(self, params: dict, environ: dict) -> dict:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if params.get("channel"):
            return {"channel": {"id": self._require_channel(params["channel"])}}
        if len(users) != 1 or users[0] not in self._users:
            raise _ApiError("user_not_found" if users else "users_list_not_supplied")
        return {
            "no_op": True,
            "already_open": True,
            "channel": self._channel_obj("D" + users[0][1:]),
        }

    def _history(self, cid: str, params: dict, *, thread: str | None) -> list[dict]:
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 9e12)
        with self._lock:
            found = [
                self._api_message(m)
                for m in self._messages.values()
                if m["channel"] == cid
                and m["ephemeral_for"] is None
                and oldest <= float(m["ts"]) <= latest
                and (
                    (thread is None and m["thread_ts"] in (None, m["ts"]))
                    or (thread is not None and (m["ts"] == thread or m["thread_ts"] == thread))
                )
            ]
        return found

    def _api_conversations_history(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        found = list(reversed(self._history(cid, params, thread=None)))
        limit = int(params.get("limit") or 100)
        return {
            "messages": found[:limit],
            "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _api_conversations_replies(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        found = self._history(cid, params, thread=ts)
        if not found:
            raise _ApiError("thread_not_found")
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _api_conversations_members(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        return {"members": self._channel_members(cid), "response_metadata": {"next_cursor": ""}}

    def _api_users_info(self, params: dict, environ: dict) -> dict:
        uid = params.get("user", "")
        if uid not in self._users and uid != self.bot_user_id:
            raise _ApiError("user_not_found")
        return {"user": self._user_obj(uid)}

    def _api_users_list(self, params: dict, environ: dict) -> dict:
        members = [self._user_obj(u) for u in self._users] + [self._user_obj(self.bot_user_id)]
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    # ---- views

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
                "blocks": _with_ids(view.get("blocks", [])),
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

    def _use_trigger(self, params: dict) -> str:
        tid = params.get("trigger_id")
        with self._lock:
            trig = self._triggers.get(str(tid)) if tid else None
            if trig is None:
                raise _ApiError("invalid_trigger_id")
            if trig["used"]:
                raise _ApiError("exchanged_trigger_id")
            if time.monotonic() - trig["issued"] > self.trigger_ttl:
                raise _ApiError("expired_trigger_id")
            trig["used"] = True
            return trig["user"]

    def _checked_view(self, params: dict, want: str) -> dict:
        view = params.get("view")
        errors = _validate_view(view)
        if isinstance(view, dict) and not errors:  # _validate_view fails anything but a dict
            if view.get("type") == want:
                return view
            errors = [f"[ERROR] must be {want} [json-pointer:/view/type]"]
        raise _ApiError("invalid_arguments", response_metadata={"messages": errors})

    def _api_views_open(self, params: dict, environ: dict) -> dict:
        view = self._checked_view(params, "modal")
        user = self._use_trigger(params)
        with self._cond:
            stored = self._put_view(user, view, kind="modal")
            self._modals[user] = [stored["id"]]
            self._emit_modals(user)
        return {"view": stored}

    def _api_views_push(self, params: dict, environ: dict) -> dict:
        view = self._checked_view(params, "modal")
        user = self._use_trigger(params)
        with self._cond:
            stack = self._modals.setdefault(user, [])
            if not stack:
                raise _ApiError("not_found")
            if len(stack) >= 3:
                raise _ApiError("push_limit_reached")
            stored = self._put_view(user, view, kind="modal", root=stack[0])
            stack.append(stored["id"])
            self._emit_modals(user)
        return {"view": stored}

    def _api_views_update(self, params: dict, environ: dict) -> dict:
        vid = str(params.get("view_id") or "")
        with self._lock:
            if not vid and params.get("external_id"):
                vid = next(
                    (
                        k
                        for k, e in self._views.items()
                        if e["view"]["external_id"] == params["external_id"]
                    ),
                    "",
                )
            entry = self._views.get(vid)
            if entry is None:
                raise _ApiError("not_found")
            if params.get("hash") and params["hash"] != entry["view"]["hash"]:
                raise _ApiError("hash_conflict")
            kind, user = entry["kind"], entry["user"]
        view = self._checked_view(params, "home" if kind == "home" else "modal")
        with self._cond:
            stored = self._put_view(user, view, kind=kind, view_id=vid)
            if kind == "home":
                self._emit("home", user=user, view=self._view_out(vid))
            else:
                self._emit_modals(user)
        return {"view": stored}

    def _api_views_publish(self, params: dict, environ: dict) -> dict:
        user = params.get("user_id", "")
        if user not in self._users:
            raise _ApiError("user_not_found")
        view = self._checked_view(params, "home")
        with self._cond:
            current = self._homes.get(user)
            if (
                params.get("hash")
                and current
                and params["hash"] != self._views[current]["view"]["hash"]
            ):
                raise _ApiError("hash_conflict")
            stored = self._put_view(user, view, kind="home", view_id=current)
            self._homes[user] = stored["id"]
            self._emit("home", user=user, view=self._view_out(stored["id"]))
        return {"view": stored}

    # ---- files

    def _file_obj(self, f: dict, base: str) -> dict:
        ext = Path(f["name"]).suffix.lstrip(".").lower()
        return {
            "id": f["id"],
            "created": f["created"],
            "timestamp": f["created"],
            "name": f["name"],
            "title": f["title"],
            "mimetype": f["mimetype"],
            "filetype": ext or "binary",
            "pretty_type": ext.upper() or "Binary",
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": len(f["data"] or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "alt_txt": f.get("alt_txt"),
            "url_private": f"{base}/files/{f['id']}",
            "url_private_download": f"{base}/files/{f['id']}?download=1",
            "permalink": f"{base}/files/{f['id']}",
            "channels": list(f["shares"]),
            "shares": {"public": copy.deepcopy(f["shares"])} if f["shares"] else {},
        }

    def _api_files_get_upload_url(self, params: dict, environ: dict) -> dict:
        name = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except (TypeError, ValueError):
            raise _ApiError("invalid_arguments") from None
        if not name or length < 0:
            raise _ApiError("invalid_arguments")
        fid = self._new_id("F")
        with self._lock:
            self._files[fid] = {
                "id": fid,
                "name": str(name),
                "title": str(name),
                "length": length,
                "alt_txt": params.get("alt_txt"),
                "mimetype": "application/octet-stream",
                "data": None,
                "created": int(time.time()),
                "shares": {},
            }
        return {"upload_url": f"{environ['_base']}/upload/{fid}", "file_id": fid}

    def _handle_upload(self, fid: str, environ: dict) -> _Response:
        body = self._read_body(environ)
        record = {
            "method": "upload",
            "params": {"file_id": fid, "bytes": len(body)},
            "time": time.time(),
        }
        with self._lock:
            self.calls.append(record)
        failure = self._take_failure("upload")
        if failure is not None:
            record.update(status=failure.status, ok=False)
            return failure
        ctype = environ.get("CONTENT_TYPE", "")
        declared = None
        data = body
        if ctype.startswith("multipart/form-data"):
            parts = _parse_multipart(body, ctype)
            file_parts = [p for p in parts if p[1]] or [p for p in parts if p[0] == "file"]
            if not file_parts:
                record.update(status=400, ok=False)
                return _text_response("no file in the form", 400)
            _name, _filename, declared, data = file_parts[0]
        with self._lock:
            f = self._files.get(fid)
            if f is None:
                record.update(status=404, ok=False)
                return _text_response("file_not_found", 404)
            f["data"] = bytes(data)
            f["mimetype"] = _sniff_mimetype(f["name"], f["data"], declared)
        record.update(status=200, ok=True)
        return _text_response(f"OK - {len(data)}")

    def _api_files_complete_upload(self, params: dict, environ: dict) -> dict:
        items = params.get("files")
        if not isinstance(items, list) or not items:
            raise _ApiError("invalid_arguments")
        channels: list[str] = []
        if params.get("channel_id"):
            channels.append(self._require_channel(params["channel_id"]))
        for c in str(params.get("channels") or "").split(","):
            if c.strip():
                channels.append(self._require_channel(c.strip()))
        with self._lock:
            files = []
            for item in items:
                f = self._files.get(str(item.get("id")))
                if f is None or f["data"] is None:
                    raise _ApiError("file_not_found")
                if item.get("title"):
                    f["title"] = str(item["title"])
                files.append(f)
        base = environ["_base"]
        comment = str(params.get("initial_comment") or "")
        blocks = None if comment else params.get("blocks")  # Slack: a comment wins over blocks
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise _ApiError("invalid_blocks_format") from None
        if blocks is not None and validate_blocks(blocks):
            raise _ApiError("invalid_blocks", errors=validate_blocks(blocks))
        for cid in channels:
            msg = self._store(
                channel=cid,
                user=self.bot_user_id,
                text=comment,
                blocks=blocks,
                bot=True,
                files=[self._file_obj(f, base) for f in files],
                thread_ts=params.get("thread_ts"),
                origin="upload",
            )
            with self._lock:
                for f in files:
                    f["shares"].setdefault(cid, []).append(
                        {
                            "ts": msg["ts"],
                            "channel_name": self._channel_name(cid),
                            "team_id": self.team_id,
                            "share_user_id": self.bot_user_id,
                            "reply_count": 0,
                            **({"thread_ts": msg["thread_ts"]} if msg["thread_ts"] else {}),
                        }
                    )
            with self._cond:  # the stored message carries the file objects with their shares
                msg["files"] = [self._file_obj(f, base) for f in files]
                self._emit("message_changed", message=self._public(msg))
        with self._lock:
            return {"files": [self._file_obj(f, base) for f in files]}

    def _api_files_info(self, params: dict, environ: dict) -> dict:
        with self._lock:
            f = self._files.get(str(params.get("file")))
            if f is None or f["data"] is None:
                raise _ApiError("file_not_found")
            return {"file": self._file_obj(f, environ["_base"])}

    def _handle_file(self, fid: str) -> _Response:
        with self._lock:
            f = self._files.get(fid)
            data = f["data"] if f else None
            mimetype = f["mimetype"] if f else ""
            name = f["name"] if f else ""
        if data is None:
            return _text_response("file_not_found", 404)
        safe = name.replace('"', "").replace("\r", "").replace("\n", "")
        return _Response(
            200,
            data,
            mimetype,
            (
                ("Content-Disposition", f'inline; filename="{safe}"'),
                ("Cache-Control", "max-age=3600"),
            ),
        )

    # ---- reactions

    def _reaction_target(self, params: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        msg = self._messages.get(str(params.get("timestamp") or ""))
        if msg is None or msg["channel"] != cid or msg["ephemeral_for"]:
            raise _ApiError("message_not_found")
        if not params.get("name"):
            raise _ApiError("invalid_name")
        return msg

    def _api_reactions_add(self, params: dict, environ: dict) -> dict:
        with self._cond:
            msg = self._reaction_target(params)
            name = str(params["name"]).strip(":")
            entry = next((r for r in msg["reactions"] if r["name"] == name), None)
            if entry is None:
                entry = {"name": name, "users": [], "count": 0}
                msg["reactions"].append(entry)
            if self.bot_user_id in entry["users"]:
                raise _ApiError("already_reacted")
            entry["users"].append(self.bot_user_id)
            entry["count"] = len(entry["users"])
            self._emit("message_changed", message=self._public(msg))
        return {}

    def _api_reactions_remove(self, params: dict, environ: dict) -> dict:
        with self._cond:
            msg = self._reaction_target(params)
            name = str(params["name"]).strip(":")
            entry = next((r for r in msg["reactions"] if r["name"] == name), None)
            if entry is None or self.bot_user_id not in entry["users"]:
                raise _ApiError("no_reaction")
            entry["users"].remove(self.bot_user_id)
            entry["count"] = len(entry["users"])
            if not entry["users"]:
                msg["reactions"].remove(entry)
            self._emit("message_changed", message=self._public(msg))
        return {}

    # ------------------------------------------------------------------ browser workspace API

    def ui_state(self) -> dict:
        """Everything the page needs to draw the workspace."""
        with self._lock:
            return {
                "seq": self._seq,
                "team": {"id": self.team_id, "name": self.team_name, "domain": self.team_domain},
                "notice": self.notice,
                "bot": {
                    "user_id": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "name": self.bot_name,
                    "connected": bool(self.events_url),
                },
                "users": [
                    {"id": u.id, "name": u.name, "real_name": u.real_name, "title": u.title}
                    for u in self._users.values()
                ],
                "channels": [
                    {"id": c.id, "name": c.name, "topic": c.topic} for c in self._channels.values()
                ],
                "dms": {uid: dm for dm, uid in self._dms.items()},
                "messages": [self._public(m) for m in self._messages.values()],
                "homes": {u: self._view_out(v) for u, v in self._homes.items()},
                "modals": {
                    u: [self._view_out(v) for v in stack if v in self._views]
                    for u, stack in self._modals.items()
                },
            }

    def ui_events(self, after: int, timeout: float = LONG_POLL_S) -> dict:
        """Events newer than ``after``, waiting up to ``timeout`` s for one (long poll)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if after > self._seq or (self._events and after < self._events[0]["seq"] - 1):
                    return {"seq": self._seq, "reset": True, "events": []}
                if self._seq > after or self._stopping:
                    events = [e for e in self._events if e["seq"] > after]
                    return {"seq": self._seq, "events": copy.deepcopy(events)}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"seq": self._seq, "events": []}
                self._cond.wait(remaining)

    @staticmethod
    def _in_background(target: Callable[..., Any], **kwargs: Any) -> None:
        def run() -> None:
            try:
                target(**kwargs)
            except Exception:
                logger.exception("the workspace's request to the bot failed")

        threading.Thread(target=run, name="slack-standin-dispatch", daemon=True).start()

    def _own_origins(self) -> set[str]:
        """The workspace page's origin, as the address printed or as localhost."""
        port = urllib.parse.urlsplit(self.base_url).port
        return {self.base_url, f"http://localhost:{port}"}

    def _handle_ui_post(self, path: str, environ: dict) -> _Response:
        # Only the workspace's own page may act as its people. JSON cannot be sent cross-site
        # without a CORS preflight (which this server never grants), and a page elsewhere
        # names its own Origin.
        media_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _json_response({"ok": False, "error": "expected application/json"}, 415)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in self._own_origins():
            return _json_response({"ok": False, "error": "not from this workspace's page"}, 403)
        try:
            data = json.loads(self._read_body(environ) or b"{}")
            user = str(data.get("user") or "")
            self._user(user)
        except (ValueError, TypeError) as err:
            return _json_response({"ok": False, "error": str(err)}, 400)
        try:
            if path == "/ui/api/command":
                cid = self._channel_id(data.get("channel"))
                text = str(data.get("text") or "").strip()
                if cid is None or not text.startswith("/"):
                    return _json_response(
                        {"ok": False, "error": "need a channel and a /command"}, 400
                    )
                command, _, rest = text.partition(" ")
                self._in_background(
                    self.send_command,
                    user_id=user,
                    channel_id=cid,
                    text=rest.strip(),
                    command=command,
                )
            elif path == "/ui/api/message":
                text = str(data.get("text") or "")
                if not text.strip():
                    return _json_response({"ok": False, "error": "empty message"}, 400)
                msg = self.post_as_user(
                    user_id=user, channel_id=str(data.get("channel")), text=text
                )
                return _json_response({"ok": True, "ts": msg["ts"]})
            elif path == "/ui/api/action":
                cid, msg = self._visible_message(
                    user, str(data.get("channel")), str(data.get("message_ts"))
                )
                if data.get("option_value") is not None:
                    self._find_element(
                        msg["blocks"],
                        str(data.get("action_id")),
                        None,
                        block_id=data.get("block_id"),
                        types=("static_select", "overflow", "radio_buttons"),
                    )
                    self._in_background(
                        self.select_option,
                        user_id=user,
                        channel_id=cid,
                        message_ts=msg["ts"],
                        action_id=str(data.get("action_id")),
                        option_value=str(data["option_value"]),
                        block_id=data.get("block_id"),
                    )
                else:
                    self._find_element(
                        msg["blocks"],
                        str(data.get("action_id")),
                        data.get("value"),
                        block_id=data.get("block_id"),
                    )
                    self._in_background(
                        self.click,
                        user_id=user,
                        channel_id=cid,
                        message_ts=msg["ts"],
                        action_id=str(data.get("action_id")),
                        value=data.get("value"),
                        block_id=data.get("block_id"),
                    )
            elif path == "/ui/api/view_action":
                self._view_for(user, str(data.get("view_id")))
                self._in_background(
                    self.click_view,
                    user_id=user,
                    view_id=str(data.get("view_id")),
                    action_id=str(data.get("action_id")),
                    value=data.get("value"),
                    block_id=data.get("block_id"),
                    option_value=data.get("option_value"),
                )
            elif path == "/ui/api/view_submission":
                self._view_for(user, str(data.get("view_id")))
                state = data.get("state") if isinstance(data.get("state"), dict) else {}
                self._in_background(
                    self.submit_view, user_id=user, view_id=str(data.get("view_id")), state=state
                )
            elif path == "/ui/api/view_close":
                self._view_for(user, str(data.get("view_id")))
                self._in_background(self.close_view, user_id=user, view_id=str(data.get("view_id")))
            elif path == "/ui/api/app_home":
                self._in_background(self.open_app_home, user_id=user)
            else:
                return _json_response({"ok": False, "error": "not found"}, 404)
        except LookupError as err:
            return _json_response({"ok": False, "error": str(err)}, 404)
        except ValueError as err:
            return _json_response({"ok": False, "error": str(err)}, 400)
        return _json_response({"ok": True}, 202)

    # ------------------------------------------------------------------ WSGI

    def _route(self, environ: dict) -> _Response:
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
            return _json_response(self.ui_state(), headers=[("Cache-Control", "no-store")])
        if path == "/ui/api/events" and method == "GET":
            query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
            try:
                after = int(query.get("after", "0"))
                timeout = min(float(query.get("timeout", LONG_POLL_S)), LONG_POLL_S)
            except ValueError:
                return _json_response({"ok": False, "error": "bad after/timeout"}, 400)
            return _json_response(
                self.ui_events(after, timeout), headers=[("Cache-Control", "no-store")]
            )
        if path.startswith("/ui/api/") and method == "POST":
            return self._handle_ui_post(path, environ)
        if method in ("GET", "HEAD"):
            if path == "/favicon.ico":
                return _Response(204, b"", "image/x-icon")
            name = "index.html" if path == "/" else path.removeprefix("/static/")
            if path == "/" or path.startswith("/static/"):
                target = (STATIC_DIR / name).resolve()
                if target.parent == STATIC_DIR.resolve() and target.is_file():
                    ctype = _STATIC_TYPES.get(target.suffix, "application/octet-stream")
                    return _Response(
                        200, target.read_bytes(), ctype, (("Cache-Control", "no-cache"),)
                    )
        return _text_response("not found", 404)

    def wsgi_app(self, environ: dict, start_response: Callable) -> list[bytes]:
        """The whole stand-in (Web API, response_urls, files, workspace) as a WSGI app."""
        try:
            response = self._route(environ)
        except Exception:
            logger.exception("slack stand-in failed on %s", environ.get("PATH_INFO"))
            response = _json_response({"ok": False, "error": "internal_error"}, 500)
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

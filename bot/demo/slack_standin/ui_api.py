"""The browser workspace's JSON API under ``/ui/api/``: the state to draw, a long-poll event
stream (so messages the bot posts by itself appear without a reload), and the person's
actions, which go to the bot in the background as ``Interactions`` send them.

Only the workspace's own page may act as its people: a POST must be JSON (which a page
elsewhere cannot send without a CORS preflight this server never grants) and, when it names
an Origin, this workspace's.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from .http_io import Response, json_response, read_body
from .interactions import Interactions

logger = logging.getLogger("costbot.demo.slack_standin")

LONG_POLL_S = 25.0


class UiApi(Interactions):
    """What the page at ``/`` reads and does."""

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

    def _handle_ui_post(self, path: str, environ: dict) -> Response:
        # Only the workspace's own page may act as its people. JSON cannot be sent cross-site
        # without a CORS preflight (which this server never grants), and a page elsewhere
        # names its own Origin.
        media_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return json_response({"ok": False, "error": "expected application/json"}, 415)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in self._own_origins():
            return json_response({"ok": False, "error": "not from this workspace's page"}, 403)
        try:
            data = json.loads(read_body(environ) or b"{}")
            user = str(data.get("user") or "")
            self._user(user)
        except (ValueError, TypeError) as err:
            return json_response({"ok": False, "error": str(err)}, 400)
        try:
            if path == "/ui/api/command":
                cid = self._channel_id(data.get("channel"))
                text = str(data.get("text") or "").strip()
                if cid is None or not text.startswith("/"):
                    return json_response(
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
                    return json_response({"ok": False, "error": "empty message"}, 400)
                msg = self.post_as_user(
                    user_id=user, channel_id=str(data.get("channel")), text=text
                )
                return json_response({"ok": True, "ts": msg["ts"]})
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
                return json_response({"ok": False, "error": "not found"}, 404)
        except LookupError as err:
            return json_response({"ok": False, "error": str(err)}, 404)
        except ValueError as err:
            return json_response({"ok": False, "error": str(err)}, 400)
        return json_response({"ok": True}, 202)

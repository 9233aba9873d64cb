"""``response_url``s: where the bot answers a slash command or a click after its ack.

A response_url takes at most 5 posts within 30 minutes (FACTS.md, Slack). For a click,
``replace_original``/``delete_original`` act on the message holding the button; for a slash
command, on the last message the command posted (its ack included), keeping its visibility.
"""

from __future__ import annotations

import json
import time

from .blocks import MAX_TEXT_CHARS, validate_blocks
from .http_io import Response, parse_params, read_body, text_response, truthy
from .workspace import Workspace

RESPONSE_URL_MAX_USES = 5
RESPONSE_URL_TTL_S = 30 * 60


class ResponseUrls(Workspace):
    """Applies what the bot posts to a response_url (or a slash command's ack body)."""

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
        if not from_ack and truthy(data.get("delete_original")):
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
        if not from_ack and truthy(data.get("replace_original")):
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

    def _handle_response_url(self, rid: str, environ: dict) -> Response:
        body = read_body(environ)
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
            return text_response(status_error, 404)
        try:
            data = parse_params(environ, body)
        except ValueError:
            record.update(status=400, ok=False, error="invalid_payload")
            return text_response("invalid_payload", 400)
        if "payload" in data and isinstance(data["payload"], str):
            try:
                data = json.loads(data["payload"])
            except ValueError:
                return text_response("invalid_payload", 400)
        record["params"] = data
        status, text = self._respond(rid, data)
        record.update(status=status, ok=status == 200, error=None if status == 200 else text)
        return text_response(text, status)

"""The Web API under ``<base_url>/api/<method>``, as ``slack_sdk.WebClient`` calls it.

Tokens, JSON-encoded fields, injected failures and the per-channel rate limit are handled
in ``_handle_api``; each method is a ``_api_<name>`` returning the fields of an ``ok`` answer
or raising ``ApiError``. The ``views.*`` and ``files.*`` methods live in ``views_api`` and
``files_api``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, ClassVar

from .blocks import MAX_TEXT_CHARS, validate_blocks
from .files_api import FilesApi
from .http_io import Response, json_response, parse_params, read_body
from .views_api import ViewsApi
from .workspace import ApiError

_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")


class WebApi(ViewsApi, FilesApi):
    """Slack's Web API methods the bot calls, on the workspace's state."""

    _METHODS: ClassVar[dict[str, str]] = {
        "api.test": "_api_api_test",
        "auth.test": "_api_auth_test",
        "bots.info": "_api_bots_info",
        "team.info": "_api_team_info",
        "chat.postMessage": "_api_chat_post_message",
        "chat.postEphemeral": "_api_chat_post_ephemeral",
        "chat.update": "_api_chat_update",
        "chat.delete": "_api_chat_delete",
        "chat.getPermalink": "_api_chat_get_permalink",
        "conversations.info": "_api_conversations_info",
        "conversations.list": "_api_conversations_list",
        "conversations.open": "_api_conversations_open",
        "conversations.history": "_api_conversations_history",
        "conversations.replies": "_api_conversations_replies",
        "conversations.members": "_api_conversations_members",
        "users.info": "_api_users_info",
        "users.list": "_api_users_list",
        "views.open": "_api_views_open",
        "views.push": "_api_views_push",
        "views.update": "_api_views_update",
        "views.publish": "_api_views_publish",
        "files.getUploadURLExternal": "_api_files_get_upload_url",
        "files.completeUploadExternal": "_api_files_complete_upload",
        "files.info": "_api_files_info",
        "reactions.add": "_api_reactions_add",
        "reactions.remove": "_api_reactions_remove",
    }

    def _handle_api(self, method: str, environ: dict) -> Response:
        body = read_body(environ)
        record: dict[str, Any] = {"method": method, "params": {}, "time": time.time()}
        with self._lock:
            self.calls.append(record)
        try:
            params = parse_params(environ, body)
        except (ValueError, UnicodeDecodeError):
            record.update(status=200, ok=False, error="invalid_json")
            return json_response({"ok": False, "error": "invalid_json"})
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
                    return json_response({"ok": False, "error": f"invalid_{key}_format"})
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
        elif method not in self._METHODS:
            answer = {"ok": False, "error": "unknown_method", "req_method": method}
        else:
            environ["_base"] = self._request_base(environ)
            try:
                answer = {"ok": True, **getattr(self, self._METHODS[method])(params, environ)}
            except ApiError as err:
                answer = {"ok": False, "error": err.error, **err.extra}
        record.update(status=200, ok=answer["ok"], error=answer.get("error"))
        headers = [("X-OAuth-Scopes", "chat:write,commands,files:write,users:read,channels:read")]
        return json_response(answer, 200, headers)

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
                raise ApiError(
                    "invalid_blocks", errors=errors, response_metadata={"messages": errors}
                )
        if text is not None and len(str(text)) > MAX_TEXT_CHARS:
            raise ApiError("msg_too_long")
        if required and not text and not blocks and not attachments:
            raise ApiError("no_text")
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
            raise ApiError("invalid_arguments")
        if user not in self._channel_members(cid) or user == self.bot_user_id:
            raise ApiError("user_not_in_channel")
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
                raise ApiError("message_not_found")
            if msg["user"] != self.bot_user_id:
                raise ApiError(f"cant_{verb}_message")
            return cid, msg

    def _api_chat_update(self, params: dict, environ: dict) -> dict:
        cid, msg = self._own_message(params, "update")
        text, blocks, attachments = self._content(params, required=False)
        if text is None and blocks is None and attachments is None and not params.get("file_ids"):
            raise ApiError("no_text")
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
                raise ApiError("message_not_found")
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
            raise ApiError("user_not_found" if users else "users_list_not_supplied")
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
            raise ApiError("thread_not_found")
        return {"messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _api_conversations_members(self, params: dict, environ: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        return {"members": self._channel_members(cid), "response_metadata": {"next_cursor": ""}}

    def _api_users_info(self, params: dict, environ: dict) -> dict:
        uid = params.get("user", "")
        if uid not in self._users and uid != self.bot_user_id:
            raise ApiError("user_not_found")
        return {"user": self._user_obj(uid)}

    def _api_users_list(self, params: dict, environ: dict) -> dict:
        members = [self._user_obj(u) for u in self._users] + [self._user_obj(self.bot_user_id)]
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    # ---- people and channels, as the API returns them

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

    # ---- reactions

    def _reaction_target(self, params: dict) -> dict:
        cid = self._require_channel(params.get("channel"))
        msg = self._messages.get(str(params.get("timestamp") or ""))
        if msg is None or msg["channel"] != cid or msg["ephemeral_for"]:
            raise ApiError("message_not_found")
        if not params.get("name"):
            raise ApiError("invalid_name")
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
                raise ApiError("already_reacted")
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
                raise ApiError("no_reaction")
            entry["users"].remove(self.bot_user_id)
            entry["count"] = len(entry["users"])
            if not entry["users"]:
                msg["reactions"].remove(entry)
            self._emit("message_changed", message=self._public(msg))
        return {}

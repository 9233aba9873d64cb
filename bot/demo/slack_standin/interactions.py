"""What a person does, sent to the bot as Slack sends it: slash commands, clicks and menu
picks in messages, and clicks, submissions and closes in modals and the App Home.

Payloads follow Slack's: a block_actions payload from an ephemeral message carries no
``message`` (``container.message_ts`` names it); a slash command's ack body becomes an
ephemeral message (``response_type: in_channel`` makes it public and echoes the command).
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from typing import Any

from .blocks import iter_elements
from .dispatch import Dispatch
from .response_url import ResponseUrls
from .workspace import CommandResult


class Interactions(Dispatch, ResponseUrls):
    """The person's side of the workspace, as methods tests and the browser call."""

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
        for block, element in iter_elements(blocks):
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
                for _, e in iter_elements(blocks)
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
        for block, element in iter_elements(view.get("blocks", [])):
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

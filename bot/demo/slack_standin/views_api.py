"""The ``views.*`` Web API methods: modals (open, push, update) and the App Home (publish).

A modal opens only with a fresh ``trigger_id`` (single-use, expiring after ``trigger_ttl``
seconds, as Slack's), a stack holds at most three modals, and every view is checked
against Slack's limits before it is stored.
"""

from __future__ import annotations

import time

from .blocks import validate_view
from .workspace import ApiError, Workspace


class ViewsApi(Workspace):
    """``views.open``, ``views.push``, ``views.update`` and ``views.publish``."""

    def _use_trigger(self, params: dict) -> str:
        tid = params.get("trigger_id")
        with self._lock:
            trig = self._triggers.get(str(tid)) if tid else None
            if trig is None:
                raise ApiError("invalid_trigger_id")
            if trig["used"]:
                raise ApiError("exchanged_trigger_id")
            if time.monotonic() - trig["issued"] > self.trigger_ttl:
                raise ApiError("expired_trigger_id")
            trig["used"] = True
            return trig["user"]

    def _checked_view(self, params: dict, want: str) -> dict:
        view = params.get("view")
        errors = validate_view(view)
        if isinstance(view, dict) and not errors:  # validate_view fails anything but a dict
            if view.get("type") == want:
                return view
            errors = [f"[ERROR] must be {want} [json-pointer:/view/type]"]
        raise ApiError("invalid_arguments", response_metadata={"messages": errors})

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
                raise ApiError("not_found")
            if len(stack) >= 3:
                raise ApiError("push_limit_reached")
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
                raise ApiError("not_found")
            if params.get("hash") and params["hash"] != entry["view"]["hash"]:
                raise ApiError("hash_conflict")
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
            raise ApiError("user_not_found")
        view = self._checked_view(params, "home")
        with self._cond:
            current = self._homes.get(user)
            if (
                params.get("hash")
                and current
                and params["hash"] != self._views[current]["view"]["hash"]
            ):
                raise ApiError("hash_conflict")
            stored = self._put_view(user, view, kind="home", view_id=current)
            self._homes[user] = stored["id"]
            self._emit("home", user=user, view=self._view_out(stored["id"]))
        return {"view": stored}

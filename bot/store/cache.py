"""What the cost sources asked AWS, remembered in the database so it survives restarts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bot.store.database import Connection


class SourceCache(Connection):
    """The ``source_cache`` table."""

    def cached_response(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None:
        """A source's remembered answer to ``key`` if younger than ``max_age``, else None."""
        rows = list(
            self.db.query("select value, fetched_at from source_cache where key = ?", [key])
        )
        if not rows or dt.datetime.fromisoformat(rows[0]["fetched_at"]) < now - max_age:
            return None
        return json.loads(rows[0]["value"])

    def remember_response(self, key: str, value: Any, *, now: dt.datetime) -> None:
        with self._write_lock():
            self.db.execute(
                "insert or replace into source_cache (key, value, fetched_at) values (?, ?, ?)",
                [key, json.dumps(value, default=str), now.isoformat()],
            )


class StoreResponseCache:
    """The ``ResponseCache`` the engines ask for, kept in the database (survives restarts)."""

    def __init__(self, store: SourceCache) -> None:
        self.store = store

    def get(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None:
        return self.store.cached_response(key, max_age=max_age, now=now)

    def put(self, key: str, value: Any, *, now: dt.datetime) -> None:
        self.store.remember_response(key, value, now=now)

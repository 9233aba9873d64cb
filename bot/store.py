"""costbot's state: a SQLite database through sqlite-utils, with versioned migrations.

One connection per thread (Bolt runs listeners on worker threads and APScheduler on its
own), WAL so readers never block the writer, and a busy timeout so a writer waits for
another instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


def _create_audit_log(db: Database) -> None:
    db["audit_log"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "target": str,
            "detail": str,
            "dry_run": int,
        },
        pk="id",
    )
    db["audit_log"].create_index(["at"])


def _create_seen_requests(db: Database) -> None:
    db["seen_requests"].create({"key": str, "at": str}, pk="key")
    db["seen_requests"].create_index(["at"])


def _create_source_cache(db: Database) -> None:
    db["source_cache"].create({"key": str, "value": str, "fetched_at": str}, pk="key")


# Applied in order, each once, each in its own transaction. Append; never edit or reorder.
MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("0001_audit_log", _create_audit_log),
    ("0002_seen_requests", _create_seen_requests),
    ("0003_source_cache", _create_source_cache),
]


class Store:
    """The database, safe to share between threads.

    Args:
        path: a file path, or ``":memory:"`` for a private in-memory database (tests).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        # Writers in this process take turns here instead of meeting in SQLite's busy
        # handler, whose back-off sleeps would add tens of milliseconds to an ack.
        self._writer = threading.RLock()
        if self.path == ":memory:":
            conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            self._memory_conn = conn
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db.execute("PRAGMA journal_mode=WAL")  # persistent: once per database file
        self.migrate()

    @property
    def db(self) -> Database:
        """This thread's database handle."""
        database = getattr(self._local, "db", None)
        if database is None:
            database = Database(self._connect())
            self._local.db = database
        return database

    def _connect(self) -> sqlite3.Connection:
        if self._memory_conn is not None:
            return self._memory_conn
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def migrate(self) -> list[str]:
        """Applies the migrations not yet applied; returns their names."""
        db = self.db
        if "migrations" not in db.table_names():
            db["migrations"].create({"name": str, "applied_at": str}, pk="name")
        done = {row["name"] for row in db["migrations"].rows}
        applied = []
        for name, migration in MIGRATIONS:
            if name in done:
                continue
            with self._write_lock(), db.atomic():
                # Another process may have applied it meanwhile.
                if db["migrations"].count_where("name = ?", [name]):
                    continue
                migration(db)
                db["migrations"].insert({"name": name, "applied_at": _utc_now_text()})
            applied.append(name)
        return applied

    def _write_lock(self) -> threading.RLock:
        return self._writer

    def record_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
        dry_run: bool = False,
        at: dt.datetime | None = None,
    ) -> int:
        """Appends one audit record and returns its id."""
        row = {
            "at": (at or dt.datetime.now(dt.UTC)).isoformat(),
            "actor": actor,
            "action": action,
            "target": target,
            "detail": json.dumps(detail or {}, default=str, sort_keys=True),
            "dry_run": int(dry_run),
        }
        # Plain SQL: sqlite-utils' insert introspects the table on every call (hot path).
        with self._write_lock():
            cursor = self.db.execute(
                "insert into audit_log (at, actor, action, target, detail, dry_run) "
                "values (:at, :actor, :action, :target, :detail, :dry_run)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def audit_records(self, *, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.query("select * from audit_log order by id desc limit ?", [limit])
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    def first_time_seen(self, key: str, *, at: dt.datetime | None = None) -> bool:
        """Records ``key``; True the first time, False on every later call (across processes)."""
        when = (at or dt.datetime.now(dt.UTC)).isoformat()
        with self._write_lock():
            cursor = self.db.execute(
                "insert or ignore into seen_requests (key, at) values (?, ?)", [key, when]
            )
            return cursor.rowcount == 1

    def forget_seen_before(self, cutoff: dt.datetime) -> int:
        """Drops de-duplication keys older than ``cutoff``; returns how many."""
        with self._write_lock():
            cursor = self.db.execute("delete from seen_requests where at < ?", [cutoff.isoformat()])
            return cursor.rowcount

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

    def ping(self) -> bool:

        return self.db.execute("select 1").fetchone() == (1,)

    def close(self) -> None:
        database = getattr(self._local, "db", None)
        if database is not None and self._memory_conn is None:
            database.conn.close()
        self._local.db = None


def _utc_now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class StoreResponseCache:
    """The ``ResponseCache`` the engines ask for, kept in the database (survives restarts)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str, *, max_age: dt.timedelta, now: dt.datetime) -> Any | None:
        return self.store.cached_response(key, max_age=max_age, now=now)

    def put(self, key: str, value: Any, *, now: dt.datetime) -> None:
        self.store.remember_response(key, value, now=now)

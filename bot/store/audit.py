"""The audit trail, and the Slack requests already seen (Slack retries what it thinks
went unanswered; a request is handled once).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from bot.store import database
from bot.store.database import Connection

logger = logging.getLogger(__name__)

ACK_PATH_BUSY_TIMEOUT_MS = 1000  # Slack waits 3 s for an ack: never spend them all waiting here
AUDIT_WRITE_ATTEMPTS = 6  # each waits BUSY_TIMEOUT_MS: about 45 s before an audit write fails


class AuditTrail(Connection):
    """The ``audit_log`` table (``engines.changes.store.Audit``) and ``seen_requests``."""

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
        def insert() -> int:
            with self._write_lock():
                cursor = self.db.execute(
                    "insert into audit_log (at, actor, action, target, detail, dry_run) "
                    "values (:at, :actor, :action, :target, :detail, :dry_run)",
                    row,
                )
                return int(cursor.lastrowid or 0)

        # An audit record must outlast a database that another process keeps busy for a while.
        return _retry_while_busy(insert, attempts=AUDIT_WRITE_ATTEMPTS)

    def recent_audit(self, *, team: str = "", limit: int = 20) -> list[dict[str, Any]]:
        """The newest audit records, of one team's changes when ``team`` is given."""
        if not team:
            return self.audit_records(limit=limit)
        rows = self.db.query(
            "select * from audit_log where json_extract(detail, '$.team') = ? "
            "order by id desc limit ?",
            [team, limit],
        )
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    def audit_records(self, *, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.query("select * from audit_log order by id desc limit ?", [limit])
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    def first_time_seen(self, key: str, *, at: dt.datetime | None = None) -> bool:
        """Records ``key``; True the first time, False on every later call (across processes).

        It runs before Slack's ack, so it waits for a busy database only briefly and then
        raises ``sqlite3.OperationalError``."""
        when = (at or dt.datetime.now(dt.UTC)).isoformat()
        with self._write_lock():
            db = self.db
            db.execute(f"PRAGMA busy_timeout={ACK_PATH_BUSY_TIMEOUT_MS}")
            try:
                cursor = db.execute(
                    "insert or ignore into seen_requests (key, at) values (?, ?)", [key, when]
                )
            finally:
                db.execute(f"PRAGMA busy_timeout={database.BUSY_TIMEOUT_MS}")
            return cursor.rowcount == 1

    def forget_seen(self, key: str) -> None:
        """Forgets one key, so that it is new again (a claim whose work failed)."""
        with self._write_lock():
            self.db.execute("delete from seen_requests where key = ?", [key])

    def forget_seen_before(self, cutoff: dt.datetime) -> int:
        """Drops de-duplication keys older than ``cutoff``; returns how many."""
        with self._write_lock():
            cursor = self.db.execute("delete from seen_requests where at < ?", [cutoff.isoformat()])
            return cursor.rowcount


def _retry_while_busy(operation: Callable[[], Any], *, attempts: int) -> Any:
    """Runs ``operation``, again (after a pause) while SQLite says another writer holds on."""
    for attempt in range(attempts):
        try:
            return operation()
        except sqlite3.OperationalError as error:
            busy = "locked" in str(error) or "busy" in str(error)
            if not busy or attempt == attempts - 1:
                raise
            logger.warning("the database is busy; trying again (%s)", error)
            time.sleep(min(0.5 * 2**attempt, 5.0))
    raise AssertionError("unreachable")

"""The running costbot processes and the acting lease (``bot.lease``): heartbeats, who acts,
and which process carries a change out.
"""

from __future__ import annotations

import datetime as dt

from bot.store.database import Connection


class ProcessTables(Connection):
    """The ``processes`` and ``lease`` tables, and the ``executor`` of a change."""

    def beat(
        self, process_id: str, *, host: str, pid: int, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        """Records that ``process_id`` is alive until ``expires_at``."""
        with self._write_lock():
            self.db.execute(
                "insert into processes (id, host, pid, started_at, heartbeat_at, expires_at) "
                "values (:id, :host, :pid, :now, :now, :expires) on conflict(id) do update "
                "set heartbeat_at = :now, expires_at = :expires",
                {"id": process_id, "host": host, "pid": pid, "now": _stamp(now),
                 "expires": _stamp(expires_at)},
            )  # fmt: skip

    def live_processes(self, now: dt.datetime) -> set[str]:
        """The processes whose heartbeat has not expired at ``now``."""
        rows = self.db.execute("select id from processes where expires_at > ?", [_stamp(now)])
        return {row[0] for row in rows}

    def forget_processes_gone_before(self, cutoff: dt.datetime) -> int:
        """Drops the heartbeats that expired before ``cutoff`` (a missing heartbeat means
        the same as an expired one: the process is gone)."""
        with self._write_lock():
            cursor = self.db.execute("delete from processes where expires_at < ?", [_stamp(cutoff)])
            return cursor.rowcount

    def forget_process(self, process_id: str) -> None:
        """A process that stops cleanly says so: nothing of it needs to expire first."""
        with self._write_lock():
            self.db.execute("delete from processes where id = ?", [process_id])

    def take_lease(
        self, name: str, holder: str, *, now: dt.datetime, expires_at: dt.datetime
    ) -> bool:
        """Takes or renews the lease ``name`` for ``holder``: True when ``holder`` holds it
        until ``expires_at``. It is taken only when free or expired (one statement, so of
        two processes at once exactly one gets it)."""
        with self._write_lock():
            cursor = self.db.execute(
                "insert into lease (name, holder, acquired_at, heartbeat_at, expires_at) "
                "values (:name, :holder, :now, :now, :expires) on conflict(name) do update "
                "set acquired_at = case when holder = :holder then acquired_at else :now end, "
                "holder = :holder, heartbeat_at = :now, expires_at = :expires "
                "where holder = :holder or expires_at <= :now",
                {"name": name, "holder": holder, "now": _stamp(now),
                 "expires": _stamp(expires_at)},
            )  # fmt: skip
            return cursor.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Gives the lease up (if ``holder`` has it), so a standby need not wait for it to
        expire."""
        with self._write_lock():
            self.db.execute("delete from lease where name = ? and holder = ?", [name, holder])

    def lease_holder(self, name: str, *, now: dt.datetime) -> str | None:
        """Who holds the lease ``name`` at ``now`` (None when nobody does)."""
        row = self.db.execute(
            "select holder from lease where name = ? and expires_at > ?", [name, _stamp(now)]
        ).fetchone()
        return row[0] if row else None

    def claim_change(self, change_id: int, *, version: int, executor: str) -> bool:
        """Makes ``executor`` the process carrying out the change, if the change is still at
        ``version`` (compare-and-set: of two recoverers one wins)."""
        with self._write_lock():
            cursor = self.db.execute(
                "update changes set executor = ?, version = version + 1 "
                "where id = ? and version = ?",
                [executor, change_id, version],
            )
            return cursor.rowcount == 1


def _stamp(when: dt.datetime) -> str:
    """A UTC time as fixed-width text, so that comparing texts compares times."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")

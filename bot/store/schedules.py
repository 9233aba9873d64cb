"""What off-hours enforcement keeps (``engines.schedules.store.ScheduleStore``): schedules
defined from Slack, pauses, overrides, the state last applied and saved capacities.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from bot.store.database import Connection
from engines.schedules.aws import Capacity
from engines.schedules.model import Override, OverrideKind


class ScheduleTables(Connection):
    """The ``schedules``, ``schedule_pauses``, ``schedule_overrides``, ``schedule_state`` and
    ``schedule_capacity`` tables."""

    def slack_schedules(self) -> list[dict[str, Any]]:
        rows = self.db.query("select definition from schedules order by created_at, name")
        return [json.loads(row["definition"]) for row in rows]

    def save_schedule(self, definition: dict[str, Any], *, at: dt.datetime) -> bool:
        """Keeps a schedule defined from Slack; False when the name is taken."""
        with self._write_lock():
            cursor = self.db.execute(
                "insert or ignore into schedules (name, team, definition, created_by, created_at)"
                " values (?, ?, ?, ?, ?)",
                [
                    definition["name"],
                    definition["team"],
                    json.dumps(definition, sort_keys=True),
                    definition.get("created_by", ""),
                    at.isoformat(),
                ],
            )
            return cursor.rowcount == 1

    def paused_schedules(self) -> set[str]:
        return {row["name"] for row in self.db.query("select name from schedule_pauses")}

    def set_paused(self, name: str, paused: bool, *, by: str, at: dt.datetime) -> bool:
        """Pauses or resumes ``name``; True when that changed something."""
        with self._write_lock():
            if paused:
                cursor = self.db.execute(
                    "insert or ignore into schedule_pauses (name, paused_by, paused_at) "
                    "values (?, ?, ?)",
                    [name, by, at.isoformat()],
                )
            else:
                cursor = self.db.execute("delete from schedule_pauses where name = ?", [name])
            return cursor.rowcount == 1

    def add_overrides(self, overrides: Sequence[Override], *, at: dt.datetime) -> list[int]:
        """Saves every override in one transaction (a command over several teams is all or
        nothing); returns their ids."""
        with self._write_lock(), self.db.atomic():
            return [self.add_override(override, at=at) for override in overrides]

    def add_override(self, override: Override, *, at: dt.datetime) -> int:
        with self._write_lock():
            cursor = self.db.execute(
                "insert into schedule_overrides "
                "(kind, team, target, starts, until, created_by, created_at) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [
                    override.kind.value,
                    override.team,
                    override.target,
                    override.starts.astimezone(dt.UTC).isoformat(),
                    override.until.astimezone(dt.UTC).isoformat(),
                    override.created_by,
                    at.isoformat(),
                ],
            )
            return int(cursor.lastrowid or 0)

    def schedule_overrides(self, *, active_at: dt.datetime) -> list[Override]:
        """Overrides not yet expired at ``active_at`` (including ones that start later)."""
        rows = self.db.query(
            "select * from schedule_overrides where until > ? order by id",
            [active_at.astimezone(dt.UTC).isoformat()],
        )
        return [
            Override(
                kind=OverrideKind(row["kind"]),
                team=row["team"],
                target=row["target"],
                starts=dt.datetime.fromisoformat(row["starts"]),
                until=dt.datetime.fromisoformat(row["until"]),
                created_by=row["created_by"],
                id=row["id"],
            )
            for row in rows
        ]

    def last_schedule_states(self) -> dict[str, str]:
        return {
            row["resource"]: row["desired"]
            for row in self.db.query("select resource, desired from schedule_state")
        }

    def record_schedule_state(
        self, key: str, *, schedule: str, desired: str, detail: str, at: dt.datetime, dry_run: bool
    ) -> None:
        with self._write_lock():
            self.db.execute(
                "insert or replace into schedule_state "
                "(resource, schedule, desired, detail, applied_at, dry_run) "
                "values (?, ?, ?, ?, ?, ?)",
                [key, schedule, desired, detail, at.isoformat(), int(dry_run)],
            )

    def save_capacity(self, key: str, capacity: Capacity, *, at: dt.datetime) -> None:
        with self._write_lock():
            self.db.execute(
                "insert or replace into schedule_capacity "
                "(resource, min_size, max_size, desired, saved_at) values (?, ?, ?, ?, ?)",
                [key, capacity.min_size, capacity.max_size, capacity.desired, at.isoformat()],
            )

    def saved_capacity(self, key: str) -> Capacity | None:
        rows = list(self.db.query("select * from schedule_capacity where resource = ?", [key]))
        if not rows:
            return None
        return Capacity(rows[0]["min_size"], rows[0]["max_size"], rows[0]["desired"])

"""costbot's state: a SQLite database through sqlite-utils, with versioned migrations.

One connection per thread (Bolt runs listeners on worker threads and APScheduler on its
own), WAL so readers never block the writer, and a busy timeout so a writer waits for
another instead of failing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from engines.changes.models import Change, ChangeRequest, State
from engines.changes.store import UPDATABLE_COLUMNS, db_value
from engines.schedules.aws import Capacity
from engines.schedules.model import Override, OverrideKind

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
ACK_PATH_BUSY_TIMEOUT_MS = 1000  # Slack waits 3 s for an ack: never spend them all waiting here
AUDIT_WRITE_ATTEMPTS = 6  # each waits BUSY_TIMEOUT_MS: about 45 s before an audit write fails


def _create_audit_log(db: Database) -> None:
    db.table("audit_log").create(
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
    db.table("audit_log").create_index(["at"])


def _create_seen_requests(db: Database) -> None:
    db.table("seen_requests").create({"key": str, "at": str}, pk="key")
    db.table("seen_requests").create_index(["at"])


def _create_source_cache(db: Database) -> None:
    db.table("source_cache").create({"key": str, "value": str, "fetched_at": str}, pk="key")


def _create_changes(db: Database) -> None:
    db.table("changes").create(
        {
            "id": int,
            "created_at": str,
            "updated_at": str,
            "state": str,
            "instance_id": str,
            "account_id": str,
            "region": str,
            "team": str,
            "from_type": str,
            "to_type": str,
            "monthly_saving": str,  # a Decimal, as text
            "requested_by": str,
            "decided_by": str,
            "decided_at": str,
            "reason": str,
            "snoozed_until": str,
            "scheduled_for": str,
            "dry_run": int,
            "last_error": str,
            "message_channel": str,
            "message_ts": str,
            "version": int,
            "direction": str,  # forward | revert: which way an execution in flight goes
            "was_running": int,  # the instance's state when the execution began
        },
        pk="id",
        not_null={"created_at", "updated_at", "state", "instance_id", "region", "version"},
        defaults={"version": 0, "dry_run": 0, "direction": "forward"},
    )
    db.table("changes").create_index(["state"])
    db.table("changes").create_index(["instance_id"])


def _add_change_kind(db: Database) -> None:
    db.table("changes").add_column("kind", str, not_null_default="resize")  # resize | stop


def _add_change_first_approval(db: Database) -> None:
    # Four-eyes (a team's require_second_approver): who approved first.
    db.table("changes").add_column("first_approved_by", str, not_null_default="")


def _create_schedules(db: Database) -> None:
    # Schedules defined from Slack (the teams file's live in the file), and which schedules
    # (from either place) are paused.
    db.table("schedules").create(
        {"name": str, "team": str, "definition": str, "created_by": str, "created_at": str},
        pk="name",
    )
    db.table("schedule_pauses").create({"name": str, "paused_by": str, "paused_at": str}, pk="name")


def _create_schedule_overrides(db: Database) -> None:
    db.table("schedule_overrides").create(
        {
            "id": int,
            "kind": str,  # keep | skip
            "team": str,
            "target": str,
            "starts": str,
            "until": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
    )
    db.table("schedule_overrides").create_index(["until"])


def _create_schedule_state(db: Database) -> None:
    # The desired state last applied to each resource: enforcement acts only on a change.
    db.table("schedule_state").create(
        {
            "resource": str,
            "schedule": str,
            "desired": str,
            "detail": str,
            "applied_at": str,
            "dry_run": int,
        },
        pk="resource",
    )
    # An Auto Scaling group's sizes before it was scaled to zero, to scale it back.
    db.table("schedule_capacity").create(
        {"resource": str, "min_size": int, "max_size": int, "desired": int, "saved_at": str},
        pk="resource",
    )


def _create_outbox(db: Database) -> None:
    db.table("outbox").create(
        {
            "id": int,
            "key": str,  # the idempotency key: digest:<team>:<local date>, alert:...
            "kind": str,  # digest | alert | ...
            "team": str,
            "channel": str,
            "message": str,  # the chat.postMessage arguments, as JSON
            "meta": str,  # what App Home and the CLI show without re-reading the message
            "state": str,  # pending | sending | sent | failed | superseded
            "attempts": int,
            "next_attempt_at": str,
            "created_at": str,
            "sent_at": str,
            "message_ts": str,
            "last_error": str,
        },
        pk="id",
        not_null={"key", "kind", "channel", "state", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("outbox").create_index(["key"], unique=True)
    db.table("outbox").create_index(["state", "next_attempt_at"])
    db.table("outbox").create_index(["team", "kind"])


def _create_alert_snoozes(db: Database) -> None:
    db.table("alert_snoozes").create({"team": str, "until": str, "by": str}, pk="team")


def _create_processes_and_lease(db: Database) -> None:
    # Every running costbot process, with its liveness heartbeat: a process whose heartbeat
    # has expired is gone, and what it left in flight may be settled by the lease's holder.
    db.table("processes").create(
        {"id": str, "host": str, "pid": int, "started_at": str, "heartbeat_at": str,
         "expires_at": str},
        pk="id",
    )  # fmt: skip
    # The one acting process (scheduler, outbox, recovery): whoever renews it before it expires.
    db.table("lease").create(
        {"name": str, "holder": str, "acquired_at": str, "heartbeat_at": str, "expires_at": str},
        pk="name",
    )
    db.table("changes").add_column("executor", str)  # the process carrying the change out
    db.table("outbox").add_column("sender", str)  # the process that claimed it for sending


def _add_change_instance_name(db: Database) -> None:
    # The instance's Name tag when proposed: messages and the audit name it, the id second.
    db.table("changes").add_column("instance_name", str, not_null_default="")


def _create_cards(db: Database) -> None:
    # The last blocks costbot gave each channel card, so a change that runs later (tonight)
    # can update its card in place: the bot cannot read channel history (no such scope).
    db.table("cards").create(
        {"channel": str, "ts": str, "text": str, "blocks": str, "updated_at": str},
        pk=("channel", "ts"),
    )


def _index_changes_by_team(db: Database) -> None:
    # A team's changes (App Home, digests) are asked for by team and state in the query.
    db.table("changes").create_index(["team", "state"])


# Applied in order, each once, each in its own transaction. Append; never edit or reorder.
MIGRATIONS: list[tuple[str, Callable[[Database], None]]] = [
    ("0001_audit_log", _create_audit_log),
    ("0002_seen_requests", _create_seen_requests),
    ("0003_source_cache", _create_source_cache),
    ("0004_changes", _create_changes),
    ("0005_outbox", _create_outbox),
    ("0006_alert_snoozes", _create_alert_snoozes),
    ("0010_schedules", _create_schedules),
    ("0011_schedule_overrides", _create_schedule_overrides),
    ("0012_schedule_state", _create_schedule_state),
    ("0020_change_kind", _add_change_kind),
    ("0030_processes_and_lease", _create_processes_and_lease),
    ("0031_change_first_approval", _add_change_first_approval),
    ("0040_change_instance_name", _add_change_instance_name),
    ("0050_cards", _create_cards),
    ("0051_changes_by_team", _index_changes_by_team),
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
            db.table("migrations").create({"name": str, "applied_at": str}, pk="name")
        done = {row["name"] for row in db.table("migrations").rows}
        applied = []
        for name, migration in MIGRATIONS:
            if name in done:
                continue
            with self._write_lock(), db.atomic():
                # Another process may have applied it meanwhile.
                if db.table("migrations").count_where("name = ?", [name]):
                    continue
                migration(db)
                db.table("migrations").insert({"name": name, "applied_at": _utc_now_text()})
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
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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

    # --- changes (``engines.changes.store.ChangeStore``) ------------------------------

    def create_change(self, request: ChangeRequest, *, now: dt.datetime) -> Change:
        """Records a new change in state ``proposed`` and returns it."""
        row = {
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "state": State.PROPOSED.value,
            "instance_id": request.instance_id,
            "account_id": request.account_id,
            "region": request.region,
            "team": request.team,
            "from_type": request.from_type,
            "to_type": request.to_type,
            "monthly_saving": str(request.monthly_saving),
            "requested_by": request.requested_by,
            "reason": request.reason,
            "message_channel": request.message_channel,
            "message_ts": request.message_ts,
            "kind": request.kind.value,
            "instance_name": request.instance_name,
        }
        columns = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        with self._write_lock():
            cursor = self.db.execute(f"insert into changes ({columns}) values ({values})", row)
            change_id = int(cursor.lastrowid or 0)
        change = self.get_change(change_id)
        assert change is not None
        return change

    def get_change(self, change_id: int) -> Change | None:
        rows = list(self.db.query("select * from changes where id = ?", [change_id]))
        return Change.from_row(rows[0]) if rows else None

    def list_changes(
        self,
        *,
        states: Collection[State] | None = None,
        instance_id: str | None = None,
        team: str | None = None,
        limit: int | None = 200,
    ) -> list[Change]:
        """Changes, newest first, optionally only in ``states``, of one instance or of one
        team; at most ``limit`` of them (None: all). The filters are the query's, so a limit
        never drops the rows asked for in favour of others."""
        where, params = ["1"], []
        if states is not None:
            where.append(f"state in ({', '.join('?' * len(states))})")
            params += [State(state).value for state in states]
        if instance_id is not None:
            where.append("instance_id = ?")
            params.append(instance_id)
        if team is not None:
            where.append("team = ?")
            params.append(team)
        sql = f"select * from changes where {' and '.join(where)} order by id desc limit ?"
        rows = self.db.query(sql, [*params, -1 if limit is None else limit])  # -1: no limit
        return [Change.from_row(row) for row in rows]

    def transition(
        self, change_id: int, *, expected: Collection[State], new: State, **fields: Any
    ) -> bool:
        """Compare-and-set: moves the change to ``new`` (setting ``fields``) only if its
        state is one of ``expected``. True when it moved.

        One ``UPDATE ... WHERE state IN (...)``: of many callers at once, exactly one wins,
        in this process and across processes.
        """
        unknown = set(fields) - UPDATABLE_COLUMNS
        if unknown:
            raise ValueError(f"not updatable change fields: {sorted(unknown)}")
        if not expected:
            return False
        fields.setdefault("updated_at", dt.datetime.now(dt.UTC))
        values = {name: db_value(value) for name, value in fields.items()}
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        states = {f"s{i}": State(state).value for i, state in enumerate(expected)}
        sql = (
            f"update changes set state = :new_state, version = version + 1, {assignments} "
            f"where id = :change_id and state in ({', '.join(':' + key for key in states)})"
        )
        params = {**values, **states, "new_state": State(new).value, "change_id": change_id}
        with self._write_lock():
            return self.db.execute(sql, params).rowcount == 1

    def set_change_message(self, change_id: int, *, channel: str, ts: str) -> None:
        """Remembers the Slack message that shows the change (to update it later)."""
        with self._write_lock():
            self.db.execute(
                "update changes set message_channel = ?, message_ts = ? where id = ?",
                [channel, ts, change_id],
            )

    def save_card(self, channel: str, ts: str, *, blocks: list[dict[str, Any]], text: str) -> None:
        """Remembers the blocks a channel card was last given (``card`` reads them back)."""
        row = {"channel": channel, "ts": ts, "text": text, "blocks": json.dumps(blocks),
               "updated_at": _utc_now_text()}  # fmt: skip
        with self._write_lock():
            self.db.table("cards").upsert(row, pk=("channel", "ts"))

    def card(self, channel: str, ts: str) -> tuple[list[dict[str, Any]], str] | None:
        """The blocks and text a card was last given, or None when costbot never kept them."""
        sql = "select blocks, text from cards where channel = ? and ts = ?"
        rows = list(self.db.query(sql, [channel, ts]))
        if not rows:
            return None
        return json.loads(rows[0]["blocks"]), rows[0]["text"]

    # --- off-hours schedules (``engines.schedules.store.ScheduleStore``) ---------------------

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

    # --- the outbox (``bot.outbox.Outbox``) ----------------------------------------------

    def outbox_add(self, row: dict[str, Any]) -> bool:
        """Inserts a message unless its key is already there; True when it was inserted."""
        columns = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        with self._write_lock():
            cursor = self.db.execute(
                f"insert or ignore into outbox ({columns}) values ({values})", row
            )
            return cursor.rowcount == 1

    def outbox_has(self, key: str) -> bool:
        return bool(self.db.execute("select 1 from outbox where key = ?", [key]).fetchone())

    def outbox_row(self, key: str) -> dict[str, Any] | None:
        """The message stored under ``key``, or None."""
        rows = list(self.db.query("select * from outbox where key = ?", [key]))
        return rows[0] if rows else None

    def outbox_due(self, now: dt.datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Pending messages, oldest first (due or not: the caller decides per channel)."""
        del now  # every pending row matters to the next wake-up time
        return list(
            self.db.query(
                "select * from outbox where state = 'pending' order by id limit ?", [limit]
            )
        )

    def outbox_update(self, row_id: int, *, expected: str, new: str, **fields: Any) -> bool:
        """Compare-and-set on a message's state; True when this caller moved it."""
        assignments = "".join(f", {name} = :{name}" for name in fields)
        with self._write_lock():
            cursor = self.db.execute(
                f"update outbox set state = :new{assignments} "
                "where id = :row_id and state = :expected",
                {**fields, "new": new, "row_id": row_id, "expected": expected},
            )
            return cursor.rowcount == 1

    def outbox_requeue_sending(self, *, live: Collection[str] = ()) -> int:
        """Messages a crash left in ``sending`` go back to ``pending``, except those of a
        process in ``live`` (it is still sending them)."""
        marks = ", ".join("?" * len(live))
        spare = f" and coalesce(sender, '') not in ({marks})" if live else ""
        with self._write_lock():
            return self.db.execute(
                f"update outbox set state = 'pending' where state = 'sending'{spare}", list(live)
            ).rowcount

    def outbox_rows(
        self, *, team: str = "", kind: str = "", state: str = "", limit: int = 100
    ) -> list[dict[str, Any]]:
        """Messages, newest first, optionally of one team, kind or state."""
        where, params = ["1"], []
        for column, value in (("team", team), ("kind", kind), ("state", state)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"select * from outbox where {' and '.join(where)} order by id desc limit ?"
        return list(self.db.query(sql, [*params, limit]))

    # --- alert snoozes --------------------------------------------------------------------

    def snooze_alerts(self, team: str, *, until: dt.datetime, by: str) -> None:
        with self._write_lock():
            self.db.execute(
                "insert or replace into alert_snoozes (team, until, by) values (?, ?, ?)",
                [team, until.isoformat(), by],
            )

    def alerts_snoozed_until(self, team: str) -> dt.datetime | None:
        row = self.db.execute("select until from alert_snoozes where team = ?", [team]).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    # --- processes and the acting lease (``bot.lease``) ------------------------------------

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

    def ping(self) -> bool:
        return self.db.execute("select 1").fetchone() == (1,)

    def close(self) -> None:
        database = getattr(self._local, "db", None)
        if database is not None and self._memory_conn is None:
            database.conn.close()
        self._local.db = None


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


def _stamp(when: dt.datetime) -> str:
    """A UTC time as fixed-width text, so that comparing texts compares times."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


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

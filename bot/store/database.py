"""Opening costbot's database (SQLite through sqlite-utils) and its versioned migrations.

One connection per thread (Bolt runs listeners on worker threads and APScheduler on its
own), WAL so readers never block the writer, and a busy timeout so a writer waits for
another instead of failing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


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


def _add_change_sagemaker_columns(db: Database) -> None:
    # SageMaker changes: the endpoint variant changed, and the endpoint config when proposed
    # (a deleted endpoint is re-created from it; a switched config switches back to it).
    db.table("changes").add_column("variant", str, not_null_default="")
    db.table("changes").add_column("endpoint_config", str, not_null_default="")


def _add_change_resource_tags(db: Database) -> None:
    # A deleted SageMaker endpoint's tags (JSON), recorded when it is deleted, so that a
    # revert re-creates it with the tags it had (team ownership, env).
    db.table("changes").add_column("resource_tags", str, not_null_default="")


def _add_change_resource_counts(db: Database) -> None:
    # A deleted SageMaker endpoint's instance count per variant (JSON), recorded when it is
    # deleted: its endpoint config still says the count it was made with, which may be more.
    db.table("changes").add_column("resource_counts", str, not_null_default="")


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
    ("0060_change_sagemaker", _add_change_sagemaker_columns),
    ("0061_change_resource_tags", _add_change_resource_tags),
    ("0062_change_resource_counts", _add_change_resource_counts),
]


class Connection:
    """The database, safe to share between threads: a connection per thread, the migrations
    applied on opening, and the writers of this process taking turns. The tables' methods
    build on it (``bot.store.Store`` puts them together).

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

    def ping(self) -> bool:
        return self.db.execute("select 1").fetchone() == (1,)

    def close(self) -> None:
        database = getattr(self._local, "db", None)
        if database is not None and self._memory_conn is None:
            database.conn.close()
        self._local.db = None


def _utc_now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat()

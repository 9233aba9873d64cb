"""costbot's state: a SQLite database through sqlite-utils, with versioned migrations.

``Store`` is the one object the rest of the bot holds; its methods come by table:

- ``database``: the connection per thread, the busy timeout, and the migrations;
- ``audit``: the audit trail and the Slack requests already seen;
- ``cache``: the cost sources' remembered answers (``StoreResponseCache``);
- ``changes``: the changes proposed and carried out;
- ``schedules``: what off-hours enforcement keeps;
- ``messages``: the outbox, the channel cards and the alert snoozes;
- ``processes``: the running processes and the acting lease.
"""

from __future__ import annotations

from bot.store.audit import AuditTrail
from bot.store.cache import SourceCache, StoreResponseCache
from bot.store.changes import ChangeTable
from bot.store.database import MIGRATIONS, Connection
from bot.store.messages import AlertSnoozes, CardTable, OutboxTable
from bot.store.processes import ProcessTables
from bot.store.schedules import ScheduleTables

__all__ = ["MIGRATIONS", "Store", "StoreResponseCache"]


class Store(
    AuditTrail,
    SourceCache,
    ChangeTable,
    ScheduleTables,
    OutboxTable,
    CardTable,
    AlertSnoozes,
    ProcessTables,
    Connection,
):
    """The database, safe to share between threads.

    Args:
        path: a file path, or ``":memory:"`` for a private in-memory database (tests).
    """

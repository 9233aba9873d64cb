"""What costbot posts to Slack and keeps: the outbox (``bot.outbox.Outbox``), the blocks of
channel cards, and the teams' alert snoozes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from typing import Any

from bot.store.database import Connection, _utc_now_text


class OutboxTable(Connection):
    """The ``outbox`` table: messages to post, each once."""

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


class CardTable(Connection):
    """The ``cards`` table: the last blocks of each channel card, to update it in place."""

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


class AlertSnoozes(Connection):
    """The ``alert_snoozes`` table."""

    def snooze_alerts(self, team: str, *, until: dt.datetime, by: str) -> None:
        with self._write_lock():
            self.db.execute(
                "insert or replace into alert_snoozes (team, until, by) values (?, ?, ?)",
                [team, until.isoformat(), by],
            )

    def alerts_snoozed_until(self, team: str) -> dt.datetime | None:
        row = self.db.execute("select until from alert_snoozes where team = ?", [team]).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

"""The changes costbot proposes and carries out (``engines.changes.store.ChangeStore``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from bot.store.database import Connection
from engines.changes.models import Change, ChangeRequest, State
from engines.changes.store import UPDATABLE_COLUMNS, db_value


class ChangeTable(Connection):
    """The ``changes`` table."""

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
            "variant": request.variant,
            "endpoint_config": request.endpoint_config,
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

"""How the rollup keeps up with the export files: opening (or rebuilding) its database, adding
new and changed files and removing gone ones, each change one transaction, in the background
while questions are answered from the previous data. ``RollupSource`` builds on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import duckdb

from engines.costs.query import CostResult
from engines.costs.sources.billing_files import BillingFileSource, file_identity
from engines.costs.sources.file_tables import BillingFile
from engines.costs.sources.rollup_tables import (
    BOOKKEEPING_TABLES,
    ROLLUP_FORMAT,
    SUMMED_TABLES,
    Held,
    Identity,
    derived_inserts,
    first_line,
    ingest_columns,
    next_file_id,
    read_generation,
    rollup_select,
    row_count,
    summed_tables,
)
from engines.costs.sources.schemas import BillingSchema
from engines.errors import CostSourceError

logger = logging.getLogger(__name__)


class RollupBuilding:
    """The rollup's upkeep; the state is ``RollupSource``'s (set in its ``__init__``)."""

    files: BillingFileSource
    kind: str
    schema: BillingSchema
    tag_keys: tuple[str, ...]
    background: bool
    _clock: Callable[[], float]
    _database: duckdb.DuckDBPyConnection
    _columns: tuple[str, ...]
    _wanted_keys: tuple[str, ...]
    _refresh_lock: threading.Lock
    _state_lock: threading.Lock
    _held: dict[Identity, Held]
    read_generation: int
    _failed: dict[Identity, CostSourceError]
    _last_build_s: float
    _answers: OrderedDict[tuple[object, ...], CostResult]

    def _refresh_in_background(self) -> None:
        try:
            self._refresh_quietly(self.files.matching_files())
        except CostSourceError:
            pass  # no file matches now: the next question says so
        finally:
            self._refresh_lock.release()

    def _rebuild_in_background(self) -> None:
        with self._refresh_lock:  # after a refresh under way
            self._rebuild_quietly()

    def _rebuild_quietly(self) -> None:
        """Rebuild for the wanted tag keys until they stop changing (the caller holds the
        refresh lock). A failure leaves the rollup as it was: questions go on from it."""
        while True:
            with self._state_lock:
                wanted = self._wanted_keys
            if wanted == self.tag_keys:
                return
            try:
                self._rebuild(wanted)
            except (CostSourceError, duckdb.Error):
                logger.exception("rebuilding the billing rollup for tag keys %s failed", wanted)
                return

    def _rebuild(self, tag_keys: tuple[str, ...]) -> None:
        """The summed tables again, holding ``tag_keys``: dropped, recreated and filled from
        every file held, in one transaction, so readers see the old tables or the new.
        A file changed or gone since is left out (the next refresh adds its new version)."""
        started = self._clock()
        columns = ingest_columns(self.schema, tag_keys)
        try:
            current = {file_identity(path) for path in self.files.matching_files()}
        except CostSourceError:
            current = set()
        with self._state_lock:
            held = dict(self._held)
        kept: dict[Identity, Held] = {}
        with self._database.cursor() as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                for table in SUMMED_TABLES:
                    connection.execute(f"DROP TABLE {table}")
                for statement in summed_tables(tag_keys):
                    connection.execute(statement)
                connection.execute("DELETE FROM rollup_files")
                for identity, entry in sorted(held.items(), key=lambda item: item[1].file_id):
                    if identity not in current:
                        continue
                    with contextlib.suppress(CostSourceError):  # then scanned, as new
                        kept[identity] = self._ingest(
                            connection,
                            identity[0],
                            identity,
                            entry.file_id,
                            tag_keys=tag_keys,
                            columns=columns,
                        )
                generation = read_generation(connection) + 1
                for key, value in (("tag_keys", json.dumps(tag_keys)),
                                   ("generation", str(generation))):  # fmt: skip
                    connection.execute(
                        "INSERT OR REPLACE INTO rollup_meta VALUES (?, ?)", [key, value]
                    )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        with self._state_lock:
            self.tag_keys = tag_keys
            self._columns = columns
            self._held = kept
            self._generation = generation
            self._answers.clear()
        self._last_build_s = self._clock() - started

    def _refresh_quietly(self, paths: list[str]) -> None:
        # A file it cannot read is remembered in ``_failed``: questions scan the files then,
        # and name the problem where a question needs it.
        with contextlib.suppress(CostSourceError):
            self._refresh(paths)

    def _refresh(self, paths: list[str]) -> bool:
        """Add and drop files in one transaction (readers see all of it or none)."""
        started = self._clock()
        current = {file_identity(path): path for path in paths}
        with self._state_lock:
            held = dict(self._held)
            failed = dict(self._failed)
        gone = [entry for identity, entry in held.items() if identity not in current]
        new = [
            p for identity, p in current.items() if identity not in held and identity not in failed
        ]
        if not gone and not new:
            return False
        added: dict[Identity, Held] = {}
        problems: dict[Identity, CostSourceError] = {}
        with self._database.cursor() as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                for entry in gone:
                    for table in (*SUMMED_TABLES, "rollup_files"):
                        connection.execute(
                            f"DELETE FROM {table} WHERE file_id = ?", [entry.file_id]
                        )
                next_id = next_file_id(connection)
                for path in new:
                    identity = file_identity(path)
                    try:
                        added[identity] = self._ingest(
                            connection,
                            path,
                            identity,
                            next_id,
                            tag_keys=self.tag_keys,
                            columns=self._columns,
                        )
                        next_id += 1
                    except CostSourceError as error:
                        problems[identity] = error
                generation = read_generation(connection) + 1
                connection.execute(
                    "INSERT OR REPLACE INTO rollup_meta VALUES ('generation', ?)", [str(generation)]
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        with self._state_lock:
            for entry in gone:
                self._held.pop(entry.identity, None)
            self._held.update(added)
            for identity in list(self._failed):
                if identity not in current:
                    del self._failed[identity]
            self._failed.update(problems)
            self._generation = generation
            self._answers.clear()  # answers about the data before: never asked again
        self._last_build_s = self._clock() - started
        if problems:
            raise next(iter(problems.values()))
        return True

    def _ingest(
        self,
        connection: duckdb.DuckDBPyConnection,
        path: str,
        identity: Identity,
        file_id: int,
        *,
        tag_keys: tuple[str, ...],
        columns: tuple[str, ...],
    ) -> Held:
        """Sum one file into the rollup holding ``tag_keys`` (inside the caller's
        transaction); ``columns``: what it reads of the file for them."""
        started = self._clock()
        file, lines = self.files.cleaned_lines(connection, path, columns)
        select = rollup_select(self.schema, tag_keys, lines)
        try:
            before = row_count(connection)
            connection.execute(
                f"INSERT INTO rollup_lines SELECT {file_id} AS file_id, * FROM ({select.text})",
                select.params,
            )
            rows = row_count(connection) - before
            for statement in derived_inserts(len(tag_keys)):
                connection.execute(statement, [file_id])
            first, last, count = connection.execute(
                "SELECT min(day), max(day), coalesce(sum(lines), 0) FROM rollup_lines "
                "WHERE file_id = ?",
                [file_id],
            ).fetchone() or (None, None, 0)
        except duckdb.Error as error:
            bad = self.files.value_error(connection, [file], columns)
            raise bad or CostSourceError(
                f"Could not read {self.kind} file {path}: {first_line(error)}"
            ) from None
        connection.execute(
            "INSERT INTO rollup_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                file_id,
                identity[0],
                identity[1],
                identity[2],
                file.is_parquet,
                json.dumps(file.column_types),
                json.dumps(file.reads),
                first,
                last,
                count,
                rows,
                self._clock() - started,
            ],
        )
        return Held(file_id, identity, file, first, last)

    def _open(self) -> None:
        """Read what an existing rollup holds, or (re)create its tables when it was built
        for other tag keys, another export kind or an older format."""
        wanted = {
            "format": str(ROLLUP_FORMAT),
            "schema": self.schema.name,
            "tag_keys": json.dumps(self.tag_keys),
            "files": self.files.path_or_glob,
        }
        with self._database.cursor() as connection:
            connection.execute(BOOKKEEPING_TABLES)
            meta = dict(connection.execute("SELECT key, value FROM rollup_meta").fetchall())
            if any(meta.get(key) != value for key, value in wanted.items()):
                for table in SUMMED_TABLES:
                    connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute("DELETE FROM rollup_files")
                connection.execute("DELETE FROM rollup_meta")
                for statement in summed_tables(self.tag_keys):
                    connection.execute(statement)
                for key, value in wanted.items():
                    connection.execute("INSERT INTO rollup_meta VALUES (?, ?)", [key, value])
                connection.execute("INSERT INTO rollup_meta VALUES ('generation', '0')")
                connection.execute("CHECKPOINT")
            rows = connection.execute(
                "SELECT file_id, path, size, mtime_ns, is_parquet, column_types, reads, "
                "first_day, last_day FROM rollup_files"
            ).fetchall()
            self._generation = read_generation(connection)
        for file_id, path, size, mtime, parquet, types, reads, first, last in rows:
            identity = (str(path), int(size), int(mtime))
            file = BillingFile(str(path), bool(parquet), json.loads(types), json.loads(reads))
            self._held[identity] = Held(int(file_id), identity, file, first, last)

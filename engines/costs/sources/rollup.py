"""A daily rollup of billing export files: every question it can answer, in a blink.

A month of a large organisation's export is millions of lines; each new question used to
scan them all again (and parse every line's tags). The rollup is a DuckDB database file
(next to ``COSTBOT_DB``) holding the lines summed by:

    UTC day · account · region · service · charge category · currency · the parts of the
    export (provider, billing account) · each tag key the teams file's rules use

with, per metric (billed, effective, list), the exact ``DECIMAL(38, 10)`` sum and how many
lines had an amount (a group whose lines all lack one is no group, as in a scan).

The decisions, in one place:

* **Exact.** A question over the rollup gives the same groups, to the last digit, as
  ``BillingFileSource.costs`` over the files: the same cleaning (it is the file source's own
  SQL that reads each file), the same dimension values, the same period rule. A line charged
  for more than a day (a month's tax) counts only in periods holding its whole charge
  period; the rollup keeps the UTC day its charge period ends on (rounded up), so the rule is
  the same comparison at day precision. Money is never a float.
* **What it answers.** Grouping by service, account, region, day, charge category, a tag
  key it holds, with tag filters on the keys it holds and account filters. ``by resource``,
  a tag key it does not hold, are scanned from the files as before, and only from the
  files whose charge days meet the period (the rollup knows each file's first and last day,
  so this holds whatever billing period partition a file is in).
* **Incremental.** Built per export file version (path, size, mtime): a new file
  aggregates only itself, a changed one replaces its own rows, a removed one takes them
  away. Rebuilt from scratch when the tag keys change (the teams file brings new ones:
  ``set_tag_keys`` while the bot runs) or the export kind changes.
* **Live.** Every change is one transaction and readers see the last committed version
  (DuckDB's MVCC): a rebuild drops and recreates the tables inside its transaction, so the
  new tables replace the old in one commit. A question asked while new files are added gets
  the previous data, with a note saying so; never half-built numbers, never an error. A
  question asked while the tables are rebuilt for new tag keys gets the rollup as it was
  (the same files, so the same figures: no note), or, about a key only the new one holds,
  the files' answer. The very first build is waited for.
* **Fallback.** A file the rollup cannot hold (a required column missing, a bad value) is
  not an error of the rollup: the questions are answered by scanning the files, which name
  the problem where a question needs that column.

Answers are remembered by the rollup's generation (a counter bumped by every change) and
the question, so a repeated question costs nothing until the data changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from engines.costs.coverage import Coverage, coverage_from_days
from engines.costs.query import CostGroup, CostQuery, CostResult, DimensionKind
from engines.costs.sources.answers import ServiceBreakdownMixin
from engines.costs.sources.billing_files import BillingFileSource, file_identity
from engines.costs.sources.file_tables import NULL_MACRO
from engines.costs.sources.rollup_build import RollupBuilding
from engines.costs.sources.rollup_tables import (
    Held,
    Identity,
    first_line,
    held_tag_keys,
    holds,
    ingest_columns,
    read_generation,
    rollup_query,
    row_count,
)
from engines.costs.sources.schemas import BillingSchema
from engines.costs.sources.sql import (
    referenced_columns,
)
from engines.errors import CostSourceError
from engines.words import source_name

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)


class RollupInUseError(CostSourceError):
    """Another process has the rollup open (DuckDB lets one process write a database file):
    e.g. a second costbot on the same ``COSTBOT_DB``, which then scans the files."""


def updating_note(files: int) -> str:
    """The note on an answer given from the previous data while new files are added."""
    which = "1 new or changed export file" if files == 1 else f"{files} new or changed files"
    return (
        f"Billing data is being updated ({which}): this answer is from the data as it was "
        "before. Ask again in a minute for the newest figures."
    )


@dataclass(frozen=True)
class RollupStatus:
    """What the rollup holds: for the benchmark and ``costbot`` diagnostics.

    Args:
        files: export files held.
        lines: billing lines they had.
        rows: rows of the rollup (the lines summed).
        bytes: the database file's size.
        tag_keys: the tag keys it holds.
        generation: bumped by every change.
    """

    files: int
    lines: int
    rows: int
    bytes: int
    tag_keys: tuple[str, ...]
    generation: int


class RollupSource(RollupBuilding, ServiceBreakdownMixin):
    """Costs from billing export files, answered from a daily rollup where it can.

    Args:
        files: the file source (FOCUS or CUR) whose files are rolled up; questions the
            rollup cannot answer go to it. A rollup built for other files, another export
            kind or other tag keys is rebuilt.
        path: the rollup's DuckDB database file (created when missing).
        tag_keys: the tag keys to hold (those the teams file's rules use); questions about
            other keys are scanned from the files.
        background: add new files in a background thread while questions are answered from
            the previous data (False: the first question after a change waits for it).
        memory_limit: DuckDB's memory limit for the rollup (it spills to disk beyond).
    """

    cache_size = 256
    max_dimensions: int | None = None  # SQL groups by any number

    def __init__(
        self,
        files: BillingFileSource,
        *,
        path: str | Path,
        tag_keys: Iterable[str] = (),
        background: bool = True,
        memory_limit: str = "512MB",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.files = files
        self.name = files.name
        self.kind = files.kind
        self.schema: BillingSchema = files.schema
        self.path = Path(path)
        self.tag_keys = tuple(sorted(set(tag_keys)))
        self.background = background
        self._clock = clock
        try:
            self._database = duckdb.connect(str(self.path))
            self._database.execute("SET TimeZone = 'UTC'")
            self._database.execute(f"SET memory_limit = '{memory_limit}'")
            self._database.execute("SET preserve_insertion_order = false")
            self._database.execute(NULL_MACRO)
        except duckdb.Error as error:
            kind = RollupInUseError if "lock" in str(error).lower() else CostSourceError
            raise kind(f"Cannot open the billing rollup {self.path}: {first_line(error)}") from None
        self._columns = ingest_columns(self.schema, self.tag_keys)
        self._wanted_keys = self.tag_keys  # set_tag_keys: what the next rebuild holds
        self._refresh_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._held: dict[Identity, Held] = {}
        self._generation = 0
        self._failed: dict[Identity, CostSourceError] = {}
        self._last_build_s = 0.0
        self._answers: OrderedDict[tuple[object, ...], CostResult] = OrderedDict()
        self._in_flight: dict[tuple[object, ...], threading.Lock] = {}
        self._coverage: tuple[int, Coverage | None] | None = None
        self._open()

    # --- questions --------------------------------------------------------------------------

    def costs(self, query: CostQuery) -> CostResult:
        """The cost of each group of ``query.group_by`` and currency, largest first: the
        same answer ``BillingFileSource.costs`` gives, from the rollup where it holds what
        the question needs, else from the files whose days meet the period.

        Raises:
            CostSourceError: as ``BillingFileSource.costs``.
        """
        paths = self.files.matching_files()
        notes = self._freshen(paths)
        result = None
        if self._answerable(query) and not self._cannot_hold(paths):
            result = self._remembered(query)
        if result is None:
            return self.files.costs_of_files(self._files_for(paths, query), query)
        if notes:
            result = dataclasses.replace(result, notes=result.notes + notes)
        return result

    @property
    def generation(self) -> int:
        """Bumped by every change of the data: what is derived from an answer is stale
        once it moves."""
        return self._generation

    def owned_daily_costs(
        self, query: CostQuery, owner_of: Callable[[tuple[str, ...]], str], *, owner_width: int
    ) -> dict[str, dict[str, dict[str, dict[str, Decimal]]]] | None:
        """``costs(query)``'s groups summed by owner, in the database: currency → owner →
        day → the last dimension's value → amount. Allocation in SQL: a big organisation's
        day × service × team groups never become Python objects one by one.

        ``query`` is grouped by the ``owner_width`` dimensions that decide the owner (the
        allocation's), then by day, then one more; ``owner_of`` names the owner of each
        combination of the first (``""``: nobody's, left out). The groups are exactly
        ``costs(query)``'s (the same SQL) and amounts keep its digits.

        Returns None where ``costs`` would not answer from the rollup as it is (files it
        cannot hold, data being updated): the caller asks ``costs`` then.
        """
        group_by = query.group_by
        if len(group_by) != owner_width + 2 or group_by[owner_width].kind is not DimensionKind.DAY:
            raise ValueError("owned_daily_costs: group by the owner's dimensions, day, one more")
        paths = self.files.matching_files()
        if self._freshen(paths) or not self._answerable(query) or self._cannot_hold(paths):
            return None
        keys = [f"k{n}" for n in range(owner_width)]
        columns = ", ".join([*keys, "day", "value", "currency", "amount"])
        # One row per combination, currency and day, its groups packed in one string (value
        # and amount apart by US, groups by RS): 200 teams' 200,000 groups come back as a
        # few thousand strings, not a million Python objects made one by one.
        with self._database.cursor() as connection:
            # One snapshot: the tag keys and the sums agree, even while a rebuild swaps them.
            connection.execute("BEGIN TRANSACTION")
            try:
                tag_keys = held_tag_keys(connection)
                if not holds(query, tag_keys):
                    return None
                grouped = rollup_query(query, tag_keys, ordered=False)
                rows = connection.execute(
                    f"SELECT {''.join(key + ', ' for key in keys)}currency, day, "
                    "string_agg(value || chr(31) || amount, chr(30)), "
                    "bool_or(contains(value, chr(30)) OR contains(value, chr(31))) "
                    f"FROM ({grouped.text}) AS g({columns}) GROUP BY ALL",
                    grouped.params,
                ).fetchall()
            finally:
                connection.execute("COMMIT")
        found: dict[str, dict[str, dict[str, dict[str, Decimal]]]] = {}
        owners: dict[tuple[str, ...], str] = {}
        for row in rows:
            combination = tuple(row[:owner_width])
            currency, day, packed, unpackable = row[owner_width:]
            if unpackable:
                return None  # a value holds the separators: the caller asks ``costs``
            owner = owners.get(combination)
            if owner is None:
                owner = owners[combination] = owner_of(combination)
            if not owner:
                continue
            day_rows = found.setdefault(currency, {}).setdefault(owner, {}).setdefault(day, {})
            for group in packed.split("\x1e"):
                value, _, amount = group.partition("\x1f")
                day_rows[value] = day_rows.get(value, _ZERO) + Decimal(amount)
        return found

    def coverage(self) -> Coverage | None:
        """The days the files have data for (``BillingFileSource.coverage``), from the
        rollup where it holds every file."""
        paths = self.files.matching_files()
        self._freshen(paths)
        if self._cannot_hold(paths):
            return self.files.coverage()
        remembered = self._coverage
        if remembered is not None and remembered[0] == self._generation:
            return remembered[1]
        with self._database.cursor() as connection:
            connection.execute("BEGIN TRANSACTION")
            generation = read_generation(connection)
            if remembered is not None and remembered[0] == generation:
                connection.execute("COMMIT")
                return remembered[1]
            covered = self._read_coverage(connection)
            connection.execute("COMMIT")
        self._coverage = (generation, covered)
        return covered

    def matching_files(self) -> list[str]:
        """The files the path or glob names now; ``CostSourceError`` when there are none."""
        return self.files.matching_files()

    def refresh(self) -> bool:
        """Bring the rollup up to the files now: add new file versions, drop gone ones.

        Returns whether anything changed. Waits for a refresh already under way.

        Raises:
            CostSourceError: a file cannot be read (it is left out and questions scan the
                files; the next refresh tries again only once the file changes).
        """
        with self._refresh_lock:
            return self._refresh(self.files.matching_files())

    def start_refresh(self) -> bool:
        """Start bringing the rollup up to the files in a background thread (at start-up,
        so the first build is under way before the first question); False when a refresh
        is already under way. Questions meanwhile get the previous data with a note, or,
        before the first build is done, the files' own answer."""
        if not self._refresh_lock.acquire(blocking=False):
            return False
        threading.Thread(
            target=self._refresh_in_background, name="rollup-refresh", daemon=True
        ).start()
        return True

    def set_tag_keys(self, tag_keys: Iterable[str]) -> bool:
        """Hold ``tag_keys`` from now on (the teams file changed its rules' keys).

        The rollup is rebuilt for them, in the background when ``background`` (else before
        returning): new tables from every file held, swapped in by one commit. Until then
        questions are answered from the rollup as it was, or from the files about a key
        only the new one holds. Returns whether a rebuild was started.
        """
        wanted = tuple(sorted(set(tag_keys)))
        with self._state_lock:
            if wanted == self._wanted_keys:
                return False
            self._wanted_keys = wanted
        if not self.background:
            with self._refresh_lock:
                self._rebuild_quietly()
            return True
        threading.Thread(
            target=self._rebuild_in_background, name="rollup-rebuild", daemon=True
        ).start()
        return True

    def status(self) -> RollupStatus:
        """What the rollup holds now."""
        with self._database.cursor() as connection:
            files, lines = connection.execute(
                "SELECT count(*), coalesce(sum(lines), 0) FROM rollup_files"
            ).fetchone() or (0, 0)
            rows = row_count(connection)
        size = self.path.stat().st_size if self.path.exists() else 0
        wal = self.path.with_name(self.path.name + ".wal")
        size += wal.stat().st_size if wal.exists() else 0
        return RollupStatus(
            files=int(files),
            lines=int(lines),
            rows=rows,
            bytes=size,
            tag_keys=self.tag_keys,
            generation=self._generation,
        )

    @property
    def last_build_seconds(self) -> float:
        """How long the last refresh that changed something took."""
        return self._last_build_s

    def close(self) -> None:
        """Close the database (a refresh under way finishes first)."""
        with self._refresh_lock:
            self._database.close()

    # --- keeping up with the files ----------------------------------------------------------

    def _freshen(self, paths: list[str]) -> tuple[str, ...]:
        """Make sure the rollup holds ``paths``' current versions, or say why it does not.

        A change seen while the rollup holds earlier data is added in the background (the
        question gets the earlier data and a note); the first build is waited for.
        """
        current = {file_identity(path) for path in paths}
        with self._state_lock:
            held = set(self._held)
            failed = set(self._failed)
        changed = (current - held - failed) | (held - current)
        if not changed:
            return ()
        if self._generation == 0 and self._refresh_lock.locked():
            return ()  # the first build is under way: the files answer meanwhile
        if self._generation == 0 or not self.background:
            with self._refresh_lock:
                self._refresh_quietly(self.files.matching_files())
            return ()
        self.start_refresh()
        return (updating_note(len(changed)),)

    # --- answering --------------------------------------------------------------------------

    def _answerable(self, query: CostQuery) -> bool:
        return holds(query, self.tag_keys)

    def _cannot_hold(self, paths: list[str]) -> bool:
        """Whether some current file is not in the rollup (it could not be read whole)."""
        with self._state_lock:
            return any(file_identity(path) in self._failed for path in paths) or not self._held

    def _files_for(self, paths: list[str], query: CostQuery) -> list[str]:
        """The files a scan for ``query`` must read: those whose charge days meet its period
        (by what the rollup saw of them: exact, whatever partition a file is in), and of
        the files the rollup does not know, those of the billing periods it needs."""
        with self._state_lock:
            held = dict(self._held)
        period = query.period
        unknown = set(
            self.files.files_for([p for p in paths if file_identity(p) not in held], query)
        )
        chosen = []
        for path in paths:
            entry = held.get(file_identity(path))
            if entry is None:
                if path in unknown:
                    chosen.append(path)
            elif (
                entry.first_day is not None
                and entry.last_day is not None
                and entry.first_day < period.end
                and entry.last_day >= period.start
            ):
                chosen.append(path)
        return chosen

    def _remembered(self, query: CostQuery) -> CostResult | None:
        """The answer from the rollup; None when the committed rollup does not hold a tag
        key the question needs (it was rebuilt for other keys meanwhile)."""
        with self._state_lock:  # the usual case, without a database round trip
            known = self._answers.get((self._generation, query.cache_key()))
        if known is not None:
            return known
        with self._database.cursor() as connection:
            # One snapshot: the generation, the tag keys and the sums agree, even while a
            # rebuild swaps the tables.
            connection.execute("BEGIN TRANSACTION")
            try:
                tag_keys = held_tag_keys(connection)
                if not holds(query, tag_keys):
                    return None
                key = (read_generation(connection), query.cache_key())
                with self._state_lock:
                    if key in self._answers:
                        self._answers.move_to_end(key)
                        return self._answers[key]
                    key_lock = self._in_flight.setdefault(key, threading.Lock())
                with key_lock:
                    with self._state_lock:
                        answered = self._answers.get(key)
                    if answered is None:
                        answered = self._answer(connection, query, tag_keys)
                        with self._state_lock:
                            self._answers[key] = answered
                            while len(self._answers) > self.cache_size:
                                self._answers.popitem(last=False)
                with self._state_lock:
                    self._in_flight.pop(key, None)
                return answered
            finally:
                connection.execute("COMMIT")

    def _answer(
        self, connection: duckdb.DuckDBPyConnection, query: CostQuery, tag_keys: tuple[str, ...]
    ) -> CostResult:
        sql = rollup_query(query, tag_keys)
        rows = [tuple(row) for row in connection.execute(sql.text, sql.params).fetchall()]
        with self._state_lock:
            files = [entry.file for entry in self._held.values()]
        files.sort(key=lambda file: file.path)
        columns = referenced_columns(query, self.schema)
        notes = self.files.notes_about(files, columns)
        width = len(query.group_by)
        # Summed, trimmed and sorted by the SQL as ``cost_result`` would (largest first, then
        # key and currency): a digest's 100,000 groups cost no Python sort.
        groups = tuple(
            CostGroup(tuple(row[:width]), str(row[width]), Decimal(str(row[width + 1])))
            for row in rows
        )
        return CostResult(query=query, groups=groups, source=self.name, notes=notes)

    def _read_coverage(self, connection: duckdb.DuckDBPyConnection) -> Coverage | None:
        parts = self.schema.export_parts
        part_sql = [f"coalesce(part_{n}, '')" for n in range(len(parts))]
        keys = ", ".join([*part_sql, "CAST(day AS VARCHAR)"])
        rows = connection.execute(
            f"SELECT {keys}, bool_or(usage) FROM rollup_days GROUP BY ALL"
        ).fetchall()
        days: dict[str, set[dt.date]] = {}
        usage: dict[str, set[dt.date]] = {}
        for row in rows:
            words = [
                f"{word} {value}".strip()
                for value, (_, word) in zip(row[: len(parts)], parts, strict=True)
                if value
            ]
            name = " ".join(words)
            day = dt.date.fromisoformat(str(row[len(parts)])[:10])
            days.setdefault(name, set()).add(day)
            if row[-1]:
                usage.setdefault(name, set()).add(day)
        return coverage_from_days(source_name(self.name), usage or days)  # as the files

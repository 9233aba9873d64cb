"""Billing exports on disk (FOCUS or CUR 2.0; CSV, CSV.gz or Parquet) scanned with DuckDB.

Exports can be large, so nothing is loaded into pandas: DuckDB scans the files and only the
grouped sums come back. Each file is described on its own (``DESCRIBE``) and brought to one
shape: timestamps to UTC ``TIMESTAMP``, amounts to ``DECIMAL(38, 10)``, every spelling of
null in text ('', 'NULL', 'null', 'None') to NULL, numeric account ids back to 12 digits, and
tags to the schema's format (``engines.costs.sources.file_tables``). The cleaned files are
read as one table by the SQL of ``engines.costs.sources.sql``, so the question itself is
written once for every source.

Files in AWS Data Exports' monthly partition folders (``BILLING_PERIOD=YYYY-MM/``, also
lower-case) are read with DuckDB's hive partitioning: a question reads the partitions of the
billing periods its period needs (``files_for``, ``engines.costs.sources.partitions``), and
its SQL filters on the partition column.

Answers are remembered by the question and the files' identity (path, size, mtime): an
unchanged export gives the same answer without a scan, and concurrent askers of one question
wait for one scan. One in-memory DuckDB database serves every scan, each from its own cursor.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import duckdb

from engines.costs.coverage import Coverage, coverage_from_days
from engines.costs.query import CostQuery, CostResult
from engines.costs.sources.answers import ServiceBreakdownMixin, cost_result
from engines.costs.sources.file_tables import (
    NULL_MACRO,
    BillingFile,
    first_bad_date,
    first_bad_value,
    joined_files,
    part_name,
)
from engines.costs.sources.partitions import (
    PERIOD_VALUE,
    billing_partition,
    days_of_statistics,
    partitions_for,
)
from engines.costs.sources.schemas import SCHEMAS, BillingSchema, Dialect
from engines.costs.sources.sql import (
    SqlQuery,
    bad_date_error,
    billing_periods,
    build_cost_query,
    column_read,
    missing_column_note,
    referenced_columns,
)
from engines.errors import CostSourceError
from engines.words import source_name

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
# Legacy CUR (CUR 1) CSV headers are category/Name; its Parquet spells out resource_tags_*.
_LEGACY_CUR_PREFIXES = ("lineItem/", "identity/", "bill/", "pricing/", "product/", "resourceTags/")
_EXPORT_NAMES = {"focus": "FOCUS 1.x", "cur": "CUR 2.0"}


class BillingFileSource(ServiceBreakdownMixin):
    """Costs from billing export files, for any question (``costs``).

    Subclasses set ``name``, ``kind`` (how messages name the files, e.g. "FOCUS"),
    ``export`` (what a missing column suggests the file is not) and ``schema``.

    Args:
        path_or_glob: a file, a glob such as ``exports/**/*.parquet`` (several files are
            read as one table, matched by column name), or a directory (every CSV, CSV.gz
            and Parquet file under it).
    """

    name = "files"
    max_dimensions: int | None = None  # SQL groups by any number
    kind = "billing"
    export = "billing"
    schema: BillingSchema
    cache_size = 256

    relist_after_s = 2.0  # how long a listing of the files is trusted (exports land hourly)

    def __init__(self, path_or_glob: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path_or_glob = path_or_glob
        self._clock = clock
        self._listing: tuple[float, list[str]] | None = None
        self._answers: OrderedDict[tuple[object, ...], CostResult] = OrderedDict()
        self._answers_lock = threading.Lock()
        self._scans_in_flight: dict[tuple[object, ...], threading.Lock] = {}
        self._coverage: tuple[object, Coverage | None] | None = None
        self._dates_checked: set[tuple[str, int, int]] = set()  # files (by identity) found good
        # Parquet files' first and last charge day by their footer's statistics (None: unknown)
        self._charge_days: dict[tuple[str, int, int], tuple[dt.date, dt.date] | None] = {}
        # One in-memory database, opened once (~15 ms, more than a small scan); each scan
        # takes its own cursor, as a DuckDB connection must not be shared across threads.
        self._database = duckdb.connect()
        self._database.execute("SET TimeZone = 'UTC'")
        self._database.execute(NULL_MACRO)

    def costs(self, query: CostQuery) -> CostResult:
        """The cost of each group of ``query.group_by`` and currency, largest first.

        Args:
            query: the period (by the UTC day the charge starts), metric, filter (tags must
                all match; accounts) and grouping. A missing dimension value is ``''``.

        Raises:
            CostSourceError: no file matches, a file cannot be read, lacks a column the
                question needs, or holds a value that is not a number or timestamp; the
                message names the file (and the column).
        """
        paths = self.files_for(self._matching_paths(), query)
        periods = billing_periods(query.period, margin=1)
        return self.costs_of_files(paths, query, periods=periods)

    def files_for(self, paths: list[str], query: CostQuery) -> list[str]:
        """The files of ``paths`` a question about ``query``'s period reads.

        Files in a billing period partition (``BILLING_PERIOD=YYYY-MM/``) are read for the
        periods the question's days fall in, and for the period on each side when they may
        hold its lines (a line billed next to its charge's month): a Parquet file's footer
        says which charge days it holds, so a neighbour holding none is not read. Files
        outside partitions are always read.

        Args:
            paths: the matching files.
            query: the question (its period).
        """
        needed = set(billing_periods(query.period))
        chosen = []
        for path in partitions_for(paths, query):
            found = billing_partition(path)
            if found is None or found[1] in needed or not PERIOD_VALUE.fullmatch(found[1]):
                chosen.append(path)
                continue
            days = self._charge_days_of(path)
            if days is None or (days[0] < query.period.end and days[1] >= query.period.start):
                chosen.append(path)
        return chosen

    def costs_of_files(
        self, paths: list[str], query: CostQuery, *, periods: tuple[str, ...] = ()
    ) -> CostResult:
        """``costs`` over ``paths`` only (some of the matching files, e.g. the ones whose
        charge days meet the period: ``engines.costs.sources.rollup`` knows them); no path, no
        groups. Remembered and single-flight as ``costs`` is.

        Args:
            periods: the billing periods read from files in partition folders (the SQL
                filters on the partition column); empty: all of them.
        """
        if not paths:
            return CostResult(query=query, groups=(), source=self.name)
        key = (_files_identity(paths), query.cache_key(), periods)
        with self._answers_lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
            # Single flight: concurrent askers of one question wait for one scan.
            key_lock = self._scans_in_flight.setdefault(key, threading.Lock())
        with key_lock:
            with self._answers_lock:
                answered = self._answers.get(key)
            if answered is None:
                answered = self._scan(paths, query, periods)
                self._remember(key, answered)
        with self._answers_lock:
            self._scans_in_flight.pop(key, None)
        return answered

    def coverage(self) -> Coverage | None:
        """The days the files have data for, and the gaps inside, per part of the export
        (provider and billing account, where the files say); None when they are empty.

        One scan of the charge days (grouped, so only a row per part and day comes back),
        remembered with the files' identity.
        """
        paths = self._matching_paths()
        identity = _files_identity(paths)
        remembered = self._coverage
        if remembered is not None and remembered[0] == identity:
            return remembered[1]
        covered = self._scan_coverage(paths)
        self._coverage = (identity, covered)
        return covered

    def _scan_coverage(self, paths: list[str]) -> Coverage | None:
        schema = self.schema
        parts = schema.export_parts
        columns = (schema.charge_start, schema.charge_category, *(c for c, _ in parts))
        part_sql = [f"coalesce(\"{column}\", '')" for column, _ in parts]
        day_sql = f'CAST(CAST("{schema.charge_start}" AS DATE) AS VARCHAR)'
        usage_sql = f"bool_or(lower(coalesce(\"{schema.charge_category}\", '')) = 'usage')"
        keys = ", ".join([*part_sql, day_sql])
        with self._database.cursor() as connection:
            files = [self._describe_file(connection, path, columns) for path in paths]
            for file in files:  # a date read leniently would move the coverage to year 4
                self._check_dates(connection, file)
            lines = joined_files(files, columns, schema)
            sql = (
                SqlQuery(f"SELECT {keys}, {usage_sql} FROM ")
                + lines
                + SqlQuery(f'\nWHERE "{schema.charge_start}" IS NOT NULL GROUP BY ALL')
            )
            try:
                rows = connection.execute(sql.text, sql.params).fetchall()
            except duckdb.Error as error:
                raise self._bad_value_error(connection, files, columns) or CostSourceError(
                    f"Could not read the days of the {self.kind} files: {_first_line(error)}"
                ) from None
        days: dict[str, set[dt.date]] = {}
        usage: dict[str, set[dt.date]] = {}
        for row in rows:
            name = part_name(row[: len(parts)], parts)
            day = dt.date.fromisoformat(str(row[len(parts)])[:10])
            days.setdefault(name, set()).add(day)
            if row[-1]:
                usage.setdefault(name, set()).add(day)
        # Usage days tell what the export covers; a month's tax line dated on the 1st does
        # not, nor a part (a billing account) with monthly fees only: it would look like a
        # month of gaps.
        return coverage_from_days(source_name(self.name), usage or days)

    def matching_files(self) -> list[str]:
        """The files the path or glob names now; ``CostSourceError`` when there are none."""
        return self._matching_paths()

    # --- for the rollup (``engines.costs.sources.rollup``): one file, cleaned, its lines as SQL ---

    def cleaned_lines(
        self, connection: duckdb.DuckDBPyConnection, path: str, columns: tuple[str, ...]
    ) -> tuple[BillingFile, SqlQuery]:
        """``path`` described and its dates checked, and a subquery of its lines in the one
        shape every question reads (``columns``; an optional one it lacks reads as null).

        Raises:
            CostSourceError: as ``costs`` (no such column, a bad date), naming the file.
        """
        file = self._describe_file(connection, path, columns)
        self._check_dates(connection, file)
        return file, joined_files([file], columns, self.schema)

    def value_error(
        self,
        connection: duckdb.DuckDBPyConnection,
        files: list[BillingFile],
        columns: tuple[str, ...],
    ) -> CostSourceError | None:
        """The error naming a file's value that is not a number or timestamp, if any."""
        return self._bad_value_error(connection, files, columns)

    def notes_about(self, files: list[BillingFile], columns: tuple[str, ...]) -> tuple[str, ...]:
        """The notes an answer reading ``columns`` of ``files`` carries (a missing column)."""
        return self._notes(files, columns)

    def _remember(self, key: tuple[object, ...], result: CostResult) -> None:
        with self._answers_lock:
            self._answers[key] = result
            while len(self._answers) > self.cache_size:
                self._answers.popitem(last=False)

    def _scan(self, paths: list[str], query: CostQuery, periods: tuple[str, ...]) -> CostResult:
        columns = referenced_columns(query, self.schema)
        with self._database.cursor() as connection:
            files = [self._describe_file(connection, path, columns) for path in paths]
            for file in files:
                self._check_dates(connection, file)
            rows = self._query(connection, files, columns, query, periods)
        return cost_result(query, rows, self.name, self._notes(files, columns))

    def _query(
        self,
        connection: duckdb.DuckDBPyConnection,
        files: list[BillingFile],
        columns: tuple[str, ...],
        query: CostQuery,
        periods: tuple[str, ...],
    ) -> list[tuple[str | None, ...]]:
        lines = joined_files(
            files, columns, self.schema, periods, query.cost_filter.resource_contains
        )
        sql = build_cost_query(query, self.schema, Dialect.DUCKDB, lines)
        try:
            return [tuple(row) for row in connection.execute(sql.text, sql.params).fetchall()]
        except duckdb.Error as error:
            bad_value = self._bad_value_error(connection, files, columns)
            raise bad_value or CostSourceError(
                f"Could not sum {self.kind} costs from '{files[0].path}' and the other "
                f"matching files: {_first_line(error)}"
            ) from None

    def _matching_paths(self) -> list[str]:
        """The files, listed again at most every ``relist_after_s`` (a glob per question
        was a tenth of a busy bot's time); their identity (size, mtime) is still checked
        on every question."""
        now = self._clock()
        listing = self._listing
        if listing is not None and now - listing[0] < self.relist_after_s:
            return listing[1]
        paths = self._list_paths()
        self._listing = (now, paths)
        return paths

    def _list_paths(self) -> list[str]:
        if os.path.isdir(self.path_or_glob):
            pattern = os.path.join(self.path_or_glob, "**", "*")
            candidates = [p for p in glob.glob(pattern, recursive=True) if _is_billing_file(p)]
        else:
            candidates = glob.glob(self.path_or_glob, recursive=True)
        paths = sorted(path for path in candidates if os.path.isfile(path))
        if not paths:
            raise CostSourceError(
                f"No {self.kind} files match '{self.path_or_glob}': check the path and that "
                "the export has been delivered there."
            )
        return paths

    def _describe_file(
        self, connection: duckdb.DuckDBPyConnection, path: str, columns: tuple[str, ...]
    ) -> BillingFile:
        """Read ``path``'s column names and types; fail naming the file and a missing column."""
        if not _is_billing_file(path):
            raise CostSourceError(
                f"Cannot read {self.kind} file {path}: expected a .csv, .csv.gz or .parquet file."
            )
        file = BillingFile(path, is_parquet=path.lower().endswith(_PARQUET_SUFFIXES))
        try:
            described = connection.execute(f"DESCRIBE SELECT * FROM {file.scan()}", [path])
            rows = described.fetchall()
        except duckdb.Error as error:
            raise CostSourceError(
                f"Cannot read {self.kind} file {path}: {_first_line(error)}"
            ) from None
        column_types = {str(row[0]): str(row[1]) for row in rows}
        wrong_kind = self._wrong_export(path, column_types)
        if wrong_kind:
            raise CostSourceError(wrong_kind)
        reads = {}
        for column in columns:
            found = column_read(self.schema, column, column_types.__contains__)
            if found is not None:
                reads[column] = found
            elif column not in self.schema.optional:
                raise CostSourceError(
                    f"{self.kind} file {path} has no column '{column}': is it a "
                    f"{self.export} export?"
                )
        partition = billing_partition(path)
        if (
            partition is not None
            and PERIOD_VALUE.fullmatch(partition[1])  # else not a billing period: read whole
            and partition[0].lower() not in {name.lower() for name in column_types}
        ):
            file = replace(file, partition=partition[0])
        return replace(file, column_types=column_types, reads=reads)

    def _charge_days_of(self, path: str) -> tuple[dt.date, dt.date] | None:
        """A Parquet file's first and last charge day by its footer's statistics (the file's
        data is not read); None for a CSV file or a footer without them. Once per version."""
        identity = file_identity(path)
        if identity in self._charge_days:
            return self._charge_days[identity]
        days = None
        if path.lower().endswith(_PARQUET_SUFFIXES):
            start = self.schema.charge_start
            names = (start, *self.schema.former_names.get(start, ()))
            sql = (
                "SELECT type, stats_min, stats_max FROM parquet_metadata(?) "
                "WHERE lower(path_in_schema) IN (" + ", ".join("?" for _ in names) + ")"
            )
            with self._database.cursor() as connection:
                try:
                    rows = connection.execute(sql, [path, *(n.lower() for n in names)]).fetchall()
                except duckdb.Error:
                    rows = []
            days = days_of_statistics(rows)
        self._charge_days[identity] = days
        return days

    def _notes(self, files: list[BillingFile], columns: tuple[str, ...]) -> tuple[str, ...]:
        """One note per column the question needs that some files lack or stand in for."""
        notes = []
        for column in columns:
            meaning = self.schema.when_missing.get(column)
            stand_in = self.schema.stand_ins.get(column)
            if meaning is None and stand_in is None:
                continue
            lacking = [file for file in files if file.reads.get(column) != column]
            if not lacking:
                continue
            if len(files) == 1:
                which = f"The {source_name(self.name)} {files[0].path} has"
            elif len(lacking) == len(files):
                which = f"None of the {len(files)} {self.kind} files has"
            else:
                which = (
                    f"{len(lacking)} of the {len(files)} {self.kind} files "
                    f"(e.g. {lacking[0].path}) have"
                )
            note = missing_column_note(
                self.schema,
                column,
                which=which,
                kind=self.kind,
                stand_in_read=any(f.reads.get(column) == stand_in for f in lacking),
            )
            if note is not None:
                notes.append(note)
        return tuple(notes)

    def _wrong_export(self, path: str, column_types: dict[str, str]) -> str:
        """What to do instead when ``path`` is an export of a kind this source cannot read."""
        names = set(column_types)
        if any(name.startswith(_LEGACY_CUR_PREFIXES) for name in names) or (
            "resource_tags" not in names and any(n.startswith("resource_tags_") for n in names)
        ):
            return (
                f"{self.kind} file {path} is a legacy Cost and Usage Report (CUR 1, with "
                "headers like lineItem/UsageStartDate), which costbot does not read. Create a "
                "CUR 2.0 or a FOCUS 1.x export in AWS Data Exports (Billing and Cost "
                "Management → Data Exports) and point costbot at its files."
            )
        for kind, schema in SCHEMAS.items():
            marker = schema.charge_start
            if (
                kind != self.schema.name
                and marker in names
                and self.schema.charge_start not in names
            ):
                return (
                    f"{self.kind} file {path} looks like a {_EXPORT_NAMES[kind]} export (it has "
                    f"'{marker}'): read it as one (cost source '{kind}:{self.path_or_glob}')."
                )
        return ""

    def _check_dates(self, connection: duckdb.DuckDBPyConnection, file: BillingFile) -> None:
        """Refuse a file whose date columns hold anything but ISO 8601 dates in 2000–2100.

        One scan of the date columns per file version (path, size, mtime), so only the
        first question about a new export pays for it.

        Raises:
            CostSourceError: naming the file, the row, the column and the value.
        """
        identity = file_identity(file.path)
        if identity in self._dates_checked:
            return
        dates = [column for column in self.schema.dates if column in file.column_types]
        bad = first_bad_date(connection, file, dates) if dates else None
        if bad is not None:
            where = f"{self.kind} file {file.path} row {bad.row}, {bad.column}"
            raise bad_date_error(where, bad.value, readable=bad.readable)
        self._dates_checked.add(identity)

    def _bad_value_error(
        self,
        connection: duckdb.DuckDBPyConnection,
        files: list[BillingFile],
        columns: tuple[str, ...],
    ) -> CostSourceError | None:
        """The file and column holding a value that is not a number or a timestamp, if any."""
        for file in files:
            for column in columns:
                found = first_bad_value(connection, file, column, self.schema.columns[column])
                column = file.reads.get(column, column)
                if found is not None:
                    value, expected = found
                    return CostSourceError(
                        f"{self.kind} file {file.path}, column {column}: '{value}' is not "
                        f"{expected}."
                    )
        return None


def _files_identity(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    return tuple(file_identity(path) for path in paths)


def file_identity(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return (path, stat.st_size, stat.st_mtime_ns)


def _is_billing_file(path: str) -> bool:
    return path.lower().endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""A cost source reading FOCUS 1.0 exports (CSV, CSV.gz or Parquet) with DuckDB.

FOCUS files can be large, so nothing is loaded into pandas: DuckDB scans the files and only
the grouped sums come back. Every file is read as text first and cleaned in SQL (exports spell
null as '', 'NULL', 'null' or 'None'), then amounts are summed as ``DECIMAL(38,10)`` so the
result is exact. User values (tags, accounts, dates) are always query parameters.
"""

from __future__ import annotations

import glob
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal

import duckdb

from engines.errors import CostSourceError
from engines.models import CostBreakdown, CostLine, Metric, Period
from engines.sources.base import CostFilter

METRIC_COLUMNS = {
    Metric.BILLED: "BilledCost",
    Metric.EFFECTIVE: "EffectiveCost",
    Metric.LIST: "ListCost",
}
NO_SERVICE = "(no service)"
NO_CURRENCY = "(no currency)"

_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")

# One macro turns every spelling of null in an export into NULL.
_NULL_MACRO = """
CREATE MACRO focus_value(raw) AS
    CASE WHEN trim(raw) IN ('', 'NULL', 'null', 'None') THEN NULL ELSE trim(raw) END
"""


@dataclass(frozen=True)
class _FocusFile:
    path: str
    is_parquet: bool
    column_types: dict[str, str] = field(default_factory=dict)

    def scan(self) -> str:
        """The table function reading this file, its path a ``?`` parameter."""
        if self.is_parquet:
            return "read_parquet(?)"
        return "read_csv(?, all_varchar = true, header = true)"


class FocusFileSource:
    """Cost by service from FOCUS files on disk.

    Args:
        path_or_glob: a file, a glob such as ``exports/**/*.parquet`` (several files are
            read as one table, matched by column name), or a directory (every CSV, CSV.gz
            and Parquet file under it).
    """

    name = "focus"
    cache_size = 256

    def __init__(self, path_or_glob: str) -> None:
        self.path_or_glob = path_or_glob
        # Answers keyed by the files' identity (path, size, mtime) and the question: an
        # unchanged export gives the same answer, so repeated questions cost no scan.
        self._answers: OrderedDict[tuple[object, ...], CostBreakdown] = OrderedDict()
        self._answers_lock = threading.Lock()
        self._scans_in_flight: dict[tuple[object, ...], threading.Lock] = {}
        # One in-memory database, opened once (~15 ms, more than a small scan); each scan
        # takes its own cursor, as a DuckDB connection must not be shared across threads.
        self._database = duckdb.connect()
        self._database.execute("SET TimeZone = 'UTC'")
        self._database.execute(_NULL_MACRO)

    def cost_by_service(
        self, *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        """Cost per (service, currency) for lines whose ChargePeriodStart is in ``period``.

        Args:
            period: the days to include (by ChargePeriodStart, in UTC).
            cost_filter: tags (from the ``Tags`` JSON column, all must match) and accounts
                (``SubAccountId``); empty means everything.
            metric: which cost column to sum (BilledCost, EffectiveCost or ListCost).

        Raises:
            CostSourceError: no file matches, a file cannot be read, lacks a column, or holds
                a value that is not a number or timestamp; the message names the file.
        """
        paths = self._matching_paths()
        key = (
            _files_identity(paths),
            period,
            metric,
            tuple(sorted(cost_filter.tags.items())),
            cost_filter.accounts,
        )
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
                answered = self._scan(paths, period=period, cost_filter=cost_filter, metric=metric)
                self._remember(key, answered)
        with self._answers_lock:
            self._scans_in_flight.pop(key, None)
        return answered

    def _remember(self, key: tuple[object, ...], breakdown: CostBreakdown) -> None:
        with self._answers_lock:
            self._answers[key] = breakdown
            while len(self._answers) > self.cache_size:
                self._answers.popitem(last=False)

    def _scan(
        self, paths: list[str], *, period: Period, cost_filter: CostFilter, metric: Metric
    ) -> CostBreakdown:
        columns = _needed_columns(metric, cost_filter)
        with self._database.cursor() as connection:
            files = [_describe_file(connection, path, columns) for path in paths]
            rows = _query_costs(connection, files, metric, period, cost_filter)
        lines = [
            CostLine(service, currency, _trimmed(amount)) for service, currency, amount in rows
        ]
        lines.sort(key=lambda line: (-line.amount, line.service, line.currency))
        return CostBreakdown(period=period, metric=metric, lines=tuple(lines), source=self.name)

    def matching_files(self) -> list[str]:
        """The files the path or glob names now; ``CostSourceError`` when there are none."""
        return self._matching_paths()

    def _matching_paths(self) -> list[str]:

        if os.path.isdir(self.path_or_glob):
            pattern = os.path.join(self.path_or_glob, "**", "*")
            candidates = [p for p in glob.glob(pattern, recursive=True) if _is_focus_file(p)]
        else:
            candidates = glob.glob(self.path_or_glob, recursive=True)
        paths = sorted(path for path in candidates if os.path.isfile(path))
        if not paths:
            raise CostSourceError(
                f"No FOCUS files match '{self.path_or_glob}': check the path and that the "
                "export has been delivered there."
            )
        return paths


def _files_identity(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    identity = []
    for path in paths:
        stat = os.stat(path)
        identity.append((path, stat.st_size, stat.st_mtime_ns))
    return tuple(identity)


def _is_focus_file(path: str) -> bool:
    return path.lower().endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES)


def _needed_columns(metric: Metric, cost_filter: CostFilter) -> list[str]:
    columns = ["ChargePeriodStart", "BillingCurrency", "ServiceName", METRIC_COLUMNS[metric]]
    if cost_filter.tags:
        columns.append("Tags")
    if cost_filter.accounts:
        columns.append("SubAccountId")
    return columns


def _describe_file(
    connection: duckdb.DuckDBPyConnection, path: str, columns: list[str]
) -> _FocusFile:
    """Read ``path``'s column names and types; fail naming the file and a missing column."""
    if not _is_focus_file(path):
        raise CostSourceError(
            f"Cannot read FOCUS file {path}: expected a .csv, .csv.gz or .parquet file."
        )
    file = _FocusFile(path, is_parquet=path.lower().endswith(_PARQUET_SUFFIXES))
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {file.scan()}", [path]).fetchall()
    except duckdb.Error as error:
        raise CostSourceError(f"Cannot read FOCUS file {path}: {_first_line(error)}") from None
    column_types = {str(row[0]): str(row[1]) for row in described}
    for column in columns:
        if column not in column_types:
            raise CostSourceError(
                f"FOCUS file {path} has no column '{column}': is it a FOCUS 1.0 export?"
            )
    return replace(file, column_types=column_types)


def _text_column(file: _FocusFile, column: str) -> str:
    """SQL reading ``column`` of ``file`` as cleaned text (NULL for every null spelling)."""
    column_type = file.column_types.get(column)
    if column_type is None:
        return "NULL::VARCHAR"
    if column_type.startswith(("MAP", "STRUCT")):  # Parquet tags stored as a map
        return f'CAST(to_json("{column}") AS VARCHAR)'
    if column == "SubAccountId" and column_type in _INTEGER_TYPES:
        return f"lpad(CAST(\"{column}\" AS VARCHAR), 12, '0')"  # leading zeros lost
    return f'focus_value(CAST("{column}" AS VARCHAR))'


def _file_select(file: _FocusFile, cost_column: str) -> str:
    return f"""
        SELECT ? AS file,
               {_text_column(file, "ChargePeriodStart")} AS charge_start,
               {_text_column(file, cost_column)} AS cost,
               {_text_column(file, "BillingCurrency")} AS currency,
               {_text_column(file, "ServiceName")} AS service,
               {_text_column(file, "Tags")} AS tags,
               {_text_column(file, "SubAccountId")} AS account
        FROM {file.scan()}"""


def _query_costs(
    connection: duckdb.DuckDBPyConnection,
    files: list[_FocusFile],
    metric: Metric,
    period: Period,
    cost_filter: CostFilter,
) -> list[tuple[str, str, str]]:
    cost_column = METRIC_COLUMNS[metric]
    lines_sql = "\nUNION ALL\n".join(_file_select(file, cost_column) for file in files)
    lines_params: list[object] = [value for file in files for value in (file.path, file.path)]
    where_sql, where_params = _where_clause(period, cost_filter)
    sql = f"""
        WITH lines AS ({lines_sql})
        SELECT coalesce(service, '{NO_SERVICE}'),
               coalesce(currency, '{NO_CURRENCY}'),
               CAST(sum(CAST(cost AS DECIMAL(38, 10))) AS VARCHAR)
        FROM lines
        WHERE {where_sql}
        GROUP BY ALL
        HAVING count(cost) > 0
    """
    try:
        rows = connection.execute(sql, lines_params + where_params).fetchall()
    except duckdb.ConversionException:
        raise _bad_value_error(connection, lines_sql, lines_params, cost_column) from None
    except duckdb.Error as error:
        raise CostSourceError(
            f"Could not sum FOCUS costs from '{files[0].path}' and the other matching files: "
            f"{_first_line(error)}"
        ) from None
    return [(str(service), str(currency), str(amount)) for service, currency, amount in rows]


def _where_clause(period: Period, cost_filter: CostFilter) -> tuple[str, list[object]]:
    conditions = [
        "CAST(CAST(charge_start AS TIMESTAMPTZ) AS DATE) >= ?",
        "CAST(CAST(charge_start AS TIMESTAMPTZ) AS DATE) < ?",
    ]
    params: list[object] = [period.start, period.end]
    for key, value in cost_filter.tags.items():
        conditions.append("json_extract_string(CASE WHEN json_valid(tags) THEN tags END, ?) = ?")
        params += [_json_key_path(key), value]
    if cost_filter.accounts:
        conditions.append("list_contains(?::VARCHAR[], account)")
        params.append(list(cost_filter.accounts))
    return " AND ".join(conditions), params


def _json_key_path(key: str) -> str:
    """A JSON path selecting ``key`` at the top level, quoted so dots and colons are literal."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'$."{escaped}"'


def _bad_value_error(
    connection: duckdb.DuckDBPyConnection,
    lines_sql: str,
    lines_params: list[object],
    cost_column: str,
) -> CostSourceError:
    """Find the file and column holding a value that is not a number or a timestamp."""
    sql = f"""
        WITH lines AS ({lines_sql})
        SELECT file,
               CASE WHEN try_cast(cost AS DECIMAL(38, 10)) IS NULL AND cost IS NOT NULL
                    THEN 'cost' ELSE 'charge_start' END,
               CASE WHEN try_cast(cost AS DECIMAL(38, 10)) IS NULL AND cost IS NOT NULL
                    THEN cost ELSE charge_start END
        FROM lines
        WHERE (try_cast(cost AS DECIMAL(38, 10)) IS NULL AND cost IS NOT NULL)
           OR (try_cast(charge_start AS TIMESTAMPTZ) IS NULL AND charge_start IS NOT NULL)
        LIMIT 1
    """
    found = connection.execute(sql, lines_params).fetchall()
    if not found:
        return CostSourceError("A FOCUS file holds a value that is not a number or a timestamp.")
    path, which, value = found[0]
    column = cost_column if which == "cost" else "ChargePeriodStart"
    kind = "a number" if which == "cost" else "a timestamp"
    return CostSourceError(f"FOCUS file {path}, column {column}: '{value}' is not {kind}.")


def _trimmed(amount: str) -> Decimal:
    """``'3.3000000000'`` → ``Decimal('3.3')``, never in exponent form."""
    value = Decimal(amount).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""Export files read as one table with DuckDB: each file described (``BillingFile``: its
column types, which column answers each question, its partition folder), then every file's
columns brought to one shape (timestamps to UTC, amounts to ``DECIMAL(38, 10)``, every
spelling of null to NULL, numeric account ids back to 12 digits, tags to the schema's
format), with the first bad value or date named by file and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from engines.costs.sources.schemas import BillingSchema, ColumnKind
from engines.costs.sources.sql import (
    FIRST_YEAR,
    ISO_8601,
    LAST_YEAR,
    MONEY,
    SqlQuery,
)

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")
_NUMERIC_PREFIXES = (*_INTEGER_TYPES, "DECIMAL", "DOUBLE", "FLOAT", "REAL", "USMALLINT")

# One macro turns every spelling of null in an export into NULL.
NULL_MACRO = """
CREATE OR REPLACE MACRO billing_value(raw) AS
    CASE WHEN trim(raw) IN ('', 'NULL', 'null', 'None') THEN NULL ELSE trim(raw) END
"""
_CANONICAL_TYPES = {
    ColumnKind.TIMESTAMP: "TIMESTAMP",
    ColumnKind.MONEY: MONEY,
    ColumnKind.TEXT: "VARCHAR",
    ColumnKind.ACCOUNT: "VARCHAR",
    ColumnKind.MAP: "MAP(VARCHAR, VARCHAR)",
    ColumnKind.JSON: "VARCHAR",
}
_CHECKED_CASTS = {
    ColumnKind.MONEY: (MONEY, "a number"),
    ColumnKind.TIMESTAMP: ("TIMESTAMPTZ", "a timestamp"),
}


@dataclass(frozen=True)
class BillingFile:
    """One export file as described: its column types and which column answers each."""

    path: str
    is_parquet: bool
    column_types: dict[str, str] = field(default_factory=dict)
    # Each column a question reads → the file's column answering it (the column itself, an
    # older name or a stand-in); a column absent here is read as null.
    reads: dict[str, str] = field(default_factory=dict)
    # The partition folder's key as the path spells it ("BILLING_PERIOD"), when the file is
    # in one (and has no column of that name): read with hive partitioning.
    partition: str = ""

    def read_type(self, column: str) -> tuple[str, str] | None:
        """The file's column answering ``column`` and its type; None when it has none."""
        name = self.reads.get(column)
        return None if name is None else (name, self.column_types[name])

    def scan(self) -> str:
        """The table function reading this file's own columns, its path a ``?`` parameter
        (DuckDB would otherwise add a partition folder's key as a column)."""
        if self.is_parquet:
            return "read_parquet(?, hive_partitioning = false)"
        return "read_csv(?, all_varchar = true, header = true, hive_partitioning = false)"

    def partitioned_scan(self) -> str:
        """``scan`` with DuckDB's hive partitioning: the partition folder's value is the
        column ``partition`` (text)."""
        hive = "hive_partitioning = true, hive_types_autocast = false"
        if self.is_parquet:
            return f"read_parquet(?, {hive})"
        return f"read_csv(?, all_varchar = true, header = true, {hive})"


def joined_files(
    files: list[BillingFile],
    columns: tuple[str, ...],
    schema: BillingSchema,
    periods: tuple[str, ...] = (),
    resource_contains: str = "",
) -> SqlQuery:
    """Every file, cleaned to one shape, as one subquery (``UNION ALL``); files in partition
    folders read only in the billing periods ``periods`` (all when empty).

    ``resource_contains``: only the lines whose raw resource id contains this text (no
    spaces in it, so cleaning cannot change the answer): cleaning every resource id of a
    large file first would take several times as long as reading it."""
    selects = [_file_select(file, columns, schema, periods, resource_contains) for file in files]
    text = "\nUNION ALL\n".join(select.text for select in selects)
    params = tuple(param for select in selects for param in select.params)
    return SqlQuery(f"(\n{text}\n) AS lines", params)


def _file_select(
    file: BillingFile,
    columns: tuple[str, ...],
    schema: BillingSchema,
    periods: tuple[str, ...],
    resource_contains: str = "",
) -> SqlQuery:
    expressions = [
        f'{_cleaned(file, column, schema.columns[column])} AS "{column}"' for column in columns
    ]
    select = f"SELECT {', '.join(expressions)} FROM "
    conditions: list[SqlQuery] = []
    resource = file.read_type(schema.resource) if resource_contains else None
    if resource is not None and " " not in resource_contains:
        raw = f'CAST("{resource[0]}" AS VARCHAR)'
        conditions.append(SqlQuery(f"strpos({raw}, ?) > 0", (resource_contains,)))
    if not (file.partition and periods):
        scan = SqlQuery(select + file.scan(), (file.path,))
    else:
        scan = SqlQuery(select + file.partitioned_scan(), (file.path,))
        # DuckDB reads the partition from the folder and prunes the file on this predicate.
        marks = ", ".join("?" for _ in periods)
        conditions.insert(0, SqlQuery(f'"{file.partition}" IN ({marks})', periods))
    if not conditions:
        return scan
    where = SqlQuery(" WHERE " + " AND ".join(c.text for c in conditions),
                     tuple(p for c in conditions for p in c.params))  # fmt: skip
    return scan + where


def _cleaned(file: BillingFile, column: str, kind: ColumnKind) -> str:
    """SQL reading ``column`` of ``file`` as ``kind``'s one type (NULL when absent)."""
    found = file.read_type(column)
    if found is None:
        return f"CAST(NULL AS {_CANONICAL_TYPES[kind]})"
    name, column_type = found
    quoted = f'"{name}"'
    text = f"billing_value(CAST({quoted} AS VARCHAR))"
    if kind is ColumnKind.TIMESTAMP:
        if column_type.startswith(("TIMESTAMP", "DATE")):
            return f"CAST({quoted} AS TIMESTAMP)"  # TIMESTAMPTZ → UTC (the session's zone)
        return f"CAST(CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if kind is ColumnKind.MONEY:
        if column_type.startswith(_NUMERIC_PREFIXES):
            return f"CAST({quoted} AS {MONEY})"
        return f"CAST({text} AS {MONEY})"
    if kind is ColumnKind.ACCOUNT and column_type in _INTEGER_TYPES:
        return f"lpad(CAST({quoted} AS VARCHAR), 12, '0')"  # leading zeros were lost
    if kind is ColumnKind.MAP:
        return _as_map(quoted, column_type)
    if kind is ColumnKind.JSON:
        if column_type.startswith(("MAP", "STRUCT")):
            return f"CAST(to_json({quoted}) AS VARCHAR)"
        return f"CAST({quoted} AS VARCHAR)"  # not JSON (null spellings too) reads as no tags
    return text


def _as_map(quoted: str, column_type: str) -> str:
    if column_type.startswith("MAP"):
        return f"CAST({quoted} AS MAP(VARCHAR, VARCHAR))"
    if column_type.startswith("STRUCT"):
        return f"TRY_CAST(to_json({quoted}) AS MAP(VARCHAR, VARCHAR))"
    # CSV: the map as JSON object text; anything else reads as an empty map
    return (
        f"TRY_CAST(TRY_CAST(billing_value(CAST({quoted} AS VARCHAR)) AS JSON) "
        "AS MAP(VARCHAR, VARCHAR))"
    )


def first_bad_value(
    connection: duckdb.DuckDBPyConnection, file: BillingFile, column: str, kind: ColumnKind
) -> tuple[str, str] | None:
    """The first value of a text ``column`` that does not convert to ``kind``, if any."""
    found_column = file.read_type(column)
    if kind not in _CHECKED_CASTS or found_column is None or found_column[1] != "VARCHAR":
        return None
    target, expected = _CHECKED_CASTS[kind]
    sql = f"""
        SELECT value FROM (SELECT billing_value("{found_column[0]}") AS value FROM {file.scan()})
        WHERE value IS NOT NULL AND TRY_CAST(value AS {target}) IS NULL
        LIMIT 1
    """
    found = connection.execute(sql, [file.path]).fetchall()
    return (str(found[0][0]), expected) if found else None


def part_name(values: tuple[object, ...], parts: tuple[tuple[str, str], ...]) -> str:
    """How a message names one part of an export: "AWS account 123456789012"."""
    words = [
        f"{word} {value}".strip() for value, (_, word) in zip(values, parts, strict=True) if value
    ]
    return " ".join(words)


@dataclass(frozen=True)
class BadDate:
    row: int  # as a spreadsheet shows it: a CSV's header is row 1
    column: str
    value: str
    readable: bool  # a date, but outside the years allowed


def first_bad_date(
    connection: duckdb.DuckDBPyConnection, file: BillingFile, columns: list[str]
) -> BadDate | None:
    """The first row with a date that is not ISO 8601 or not in 2000–2100, if any."""
    selects, conditions = [], []
    for n, column in enumerate(columns):
        quoted = f'"{column}"'
        if file.column_types[column].startswith(("TIMESTAMP", "DATE")):
            readable = "true"
            in_range = (
                f"{quoted} IS NULL OR {quoted} >= TIMESTAMP '{FIRST_YEAR}-01-01' "
                f"AND {quoted} < TIMESTAMP '{LAST_YEAR + 1}-01-01'"
            )
        else:
            text = f"billing_value(CAST({quoted} AS VARCHAR))"
            readable = (
                f"{text} IS NULL OR regexp_full_match({text}, '{ISO_8601}') "
                f"AND TRY_CAST({text} AS TIMESTAMPTZ) IS NOT NULL"
            )
            in_range = (
                f"{text} IS NULL "
                f"OR TRY_CAST(substr({text}, 1, 4) AS INTEGER) BETWEEN {FIRST_YEAR} AND {LAST_YEAR}"
            )
        selects.append(
            f"CAST({quoted} AS VARCHAR) AS value_{n}, "
            f"coalesce({readable}, false) AS readable_{n}, "
            f"coalesce({readable}, false) AND coalesce({in_range}, false) AS good_{n}"
        )
        conditions.append(f"NOT good_{n}")
    if file.is_parquet:
        scan = "read_parquet(?, file_row_number = true, hive_partitioning = false)"
        row = "file_row_number + 1"
    else:  # DuckDB keeps a CSV's order (preserve_insertion_order), and row 1 is the header
        scan, row = file.scan(), "row_number() OVER () + 1"
    sql = f"""
        SELECT * FROM (SELECT {row} AS row_number, {", ".join(selects)} FROM {scan})
        WHERE {" OR ".join(conditions)} ORDER BY row_number LIMIT 1
    """
    try:
        found = connection.execute(sql, [file.path]).fetchone()
    except duckdb.Error:
        return None  # an unreadable file is named by the query's own error path
    if found is None:
        return None
    for n, column in enumerate(columns):
        value, readable, good = found[1 + 3 * n : 4 + 3 * n]
        if not good:
            return BadDate(int(found[0]), column, str(value), bool(readable))
    return None

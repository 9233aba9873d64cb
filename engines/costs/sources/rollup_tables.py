"""The rollup's tables: what they hold (the lines summed by day and every held dimension, per
export file), the SQL that fills them from a file and answers a question from them, and the
few queries on their bookkeeping (generation, tag keys, file ids).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engines.costs.query import CostQuery, Dimension, DimensionKind
from engines.costs.sources.file_tables import BillingFile
from engines.costs.sources.schemas import BillingSchema, Dialect
from engines.costs.sources.sql import (
    SqlQuery,
    _cost_sql,
    _dimension_sql,
    _tag_argument,
    _tag_value,
    referenced_columns,
)
from engines.models import Metric, Period

_ZERO = Decimal(0)
ROLLUP_FORMAT = 1  # bump when the tables change: an older rollup is rebuilt
_METRICS = {Metric.BILLED: "billed", Metric.EFFECTIVE: "effective", Metric.LIST: "listed"}
_HELD = {
    DimensionKind.SERVICE,
    DimensionKind.ACCOUNT,
    DimensionKind.REGION,
    DimensionKind.DAY,
    DimensionKind.CHARGE_CATEGORY,
}
Identity = tuple[str, int, int]  # (path, size, mtime_ns)
_ANY_PERIOD = Period(dt.date(2000, 1, 1), dt.date(2000, 1, 2))

BOOKKEEPING_TABLES = """
CREATE TABLE IF NOT EXISTS rollup_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS rollup_files (
    file_id INTEGER PRIMARY KEY, path VARCHAR, size BIGINT, mtime_ns BIGINT,
    is_parquet BOOLEAN, column_types VARCHAR, reads VARCHAR,
    first_day DATE, last_day DATE, lines BIGINT, rows BIGINT, seconds DOUBLE
);
"""


@dataclass(frozen=True)
class Held:
    """One file the rollup holds (as the rollup last saw it)."""

    file_id: int
    identity: Identity
    file: BillingFile
    first_day: dt.date | None
    last_day: dt.date | None


def ingest_columns(schema: BillingSchema, tag_keys: tuple[str, ...]) -> tuple[str, ...]:
    """Every column a question the rollup answers may read, and the export's parts."""
    dimensions = [Dimension(kind) for kind in _HELD]
    columns: list[str] = []
    for metric in _METRICS:
        query_columns = referenced_columns(
            CostQuery(_ANY_PERIOD, metric, group_by=tuple(dimensions)), schema
        )
        columns.extend(query_columns)
    columns.append(schema.account)
    if tag_keys:
        columns.append(schema.tags)
    columns.extend(column for column, _ in schema.export_parts)
    return tuple(dict.fromkeys(columns))


SUMMED_TABLES = ("rollup_lines", "rollup_services", "rollup_days")
"""The rollup's tables, each per file: every held dimension; the few most questions need
(day, service, currency, tags: two orders of magnitude fewer rows); the days per part of
the export (coverage)."""
_NARROW = ["day", "whole_end", "service", "currency"]


def summed_tables(tag_keys: tuple[str, ...]) -> list[str]:
    tags = "".join(f", tag_{n} VARCHAR" for n in range(len(tag_keys)))
    sums = "".join(f", {name} DECIMAL(38, 10), {name}_n BIGINT" for name in _METRICS.values())
    return [
        "CREATE TABLE rollup_lines (file_id INTEGER, day DATE, whole_end DATE, "
        "account VARCHAR, service VARCHAR, region VARCHAR, category VARCHAR, "
        f"currency VARCHAR, part_0 VARCHAR, part_1 VARCHAR{tags}{sums}, lines BIGINT)",
        "CREATE TABLE rollup_services (file_id INTEGER, day DATE, whole_end DATE, "
        f"service VARCHAR, currency VARCHAR{tags}{sums}, lines BIGINT)",
        "CREATE TABLE rollup_days (file_id INTEGER, part_0 VARCHAR, part_1 VARCHAR, "
        "day DATE, usage BOOLEAN)",
    ]


def derived_inserts(tag_count: int) -> list[str]:
    """The narrower tables from one file's ``rollup_lines`` rows (its id a parameter)."""
    keys = ", ".join([*_NARROW, *(f"tag_{n}" for n in range(tag_count))])
    sums = ", ".join(f"sum({name}), CAST(sum({name}_n) AS BIGINT)" for name in _METRICS.values())
    return [
        f"INSERT INTO rollup_services SELECT file_id, {keys}, {sums}, CAST(sum(lines) AS BIGINT) "
        "FROM rollup_lines WHERE file_id = ? GROUP BY ALL",
        "INSERT INTO rollup_days SELECT file_id, part_0, part_1, day, "
        "bool_or(lower(category) = 'usage') FROM rollup_lines "
        "WHERE file_id = ? AND day IS NOT NULL GROUP BY ALL",
    ]


def rollup_select(schema: BillingSchema, tag_keys: tuple[str, ...], lines: SqlQuery) -> SqlQuery:
    """One file's lines (``lines``, cleaned) summed into rollup rows, every column in
    ``rollup_lines``' order but the file id."""
    start, end = f'"{schema.charge_start}"', f'"{schema.charge_end}"'
    duck = Dialect.DUCKDB
    values = [
        SqlQuery(f"CAST({start} AS DATE) AS day"),
        # The day a charge for more than a day ends on, rounded up to midnight: its whole
        # charge period is inside a period ending at midnight D exactly when this is <= D.
        SqlQuery(
            f"CASE WHEN {end} IS NULL OR {end} <= {start} + INTERVAL '1' DAY THEN NULL "
            f"ELSE CAST({end} - INTERVAL '1' MICROSECOND AS DATE) + 1 END AS whole_end"
        ),
        SqlQuery(f'"{schema.account}" AS account'),
        _dimension_sql(Dimension(DimensionKind.SERVICE), schema, duck) + SqlQuery(" AS service"),
        _dimension_sql(Dimension(DimensionKind.REGION), schema, duck) + SqlQuery(" AS region"),
        _dimension_sql(Dimension(DimensionKind.CHARGE_CATEGORY), schema, duck)
        + SqlQuery(" AS category"),
        SqlQuery(f"coalesce(\"{schema.currency}\", '') AS currency"),
    ]
    parts = [column for column, _ in schema.export_parts][:2]
    values += [SqlQuery(f'"{column}" AS part_{n}') for n, column in enumerate(parts)]
    values += [SqlQuery(f"CAST(NULL AS VARCHAR) AS part_{n}") for n in range(len(parts), 2)]
    for n, key in enumerate(tag_keys):
        argument = _tag_argument(schema, duck, key, in_where=True)
        values.append(_tag_value(schema, duck, argument) + SqlQuery(f" AS tag_{n}"))
    for metric, name in _METRICS.items():
        values.append(SqlQuery(f"{_cost_sql(schema, metric)} AS {name}"))
    inner = SqlQuery("")
    for position, value in enumerate(values):
        inner = inner + SqlQuery(", " if position else "") + value
    keys = ["day", "whole_end", "account", "service", "region", "category", "currency"]
    keys += ["part_0", "part_1", *(f"tag_{n}" for n in range(len(tag_keys)))]
    sums = ", ".join(f"sum({name}), count({name})" for name in _METRICS.values())
    ordinals = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return (
        SqlQuery(f"SELECT {', '.join(keys)}, {sums}, count(*) FROM (SELECT ")
        + inner
        + SqlQuery(" FROM ")
        + lines
        + SqlQuery(f") GROUP BY {ordinals}")
    )


def rollup_query(query: CostQuery, tag_keys: tuple[str, ...], *, ordered: bool = True) -> SqlQuery:
    """The SQL answering ``query`` from ``rollup_lines``: the rows ``build_cost_query``
    gives over the files (``ordered``: largest first, as ``cost_result`` sorts)."""
    keys = [_held_sql(dimension, tag_keys) for dimension in query.group_by] + ["currency"]
    detailed = query.cost_filter.accounts or any(
        d.kind in (DimensionKind.ACCOUNT, DimensionKind.REGION, DimensionKind.CHARGE_CATEGORY)
        for d in query.group_by
    )
    table = "rollup_lines" if detailed else "rollup_services"
    metric = _METRICS[query.metric]
    ordinals = ", ".join(str(n) for n in range(1, len(keys) + 1))
    conditions = [
        SqlQuery("day >= CAST(? AS DATE)", (query.period.start.isoformat(),)),
        SqlQuery("day < CAST(? AS DATE)", (query.period.end.isoformat(),)),
        SqlQuery(
            "(whole_end IS NULL OR whole_end <= CAST(? AS DATE))", (query.period.end.isoformat(),)
        ),
    ]
    for key, value in query.cost_filter.tags.items():
        conditions.append(SqlQuery(f"tag_{tag_keys.index(key)} = ?", (value,)))
    if query.cost_filter.accounts:
        marks = ", ".join("?" for _ in query.cost_filter.accounts)
        conditions.append(SqlQuery(f"account IN ({marks})", tuple(query.cost_filter.accounts)))
    where = SqlQuery("")
    for position, condition in enumerate(conditions):
        where = where + SqlQuery(" AND " if position else "") + condition
    # The sum as text without trailing zeros ("3.3", "100", "0"), as ``cost_result`` trims.
    text = f"CAST(sum({metric}) AS VARCHAR)"
    trimmed = f"CASE WHEN contains({text}, '.') THEN rtrim(rtrim({text}, '0'), '.') ELSE {text} END"
    amount = f"CASE WHEN sum({metric}) = 0 THEN '0' ELSE {trimmed} END"
    return (
        SqlQuery(f"SELECT {', '.join(keys)}, {amount} FROM {table} WHERE ")
        + where
        + SqlQuery(
            f" GROUP BY {ordinals} HAVING sum({metric}_n) > 0"
            + (f" ORDER BY sum({metric}) DESC, {ordinals}" if ordered else "")
        )
    )


def _held_sql(dimension: Dimension, tag_keys: tuple[str, ...]) -> str:
    kind = dimension.kind
    if kind is DimensionKind.TAG:
        return f"coalesce(tag_{tag_keys.index(dimension.tag_key)}, '')"
    return {
        DimensionKind.SERVICE: "service",
        DimensionKind.ACCOUNT: "coalesce(nullif(account, ''), '')",
        DimensionKind.REGION: "region",
        DimensionKind.DAY: "coalesce(CAST(day AS VARCHAR), '')",
        DimensionKind.CHARGE_CATEGORY: "category",
    }[kind]


def holds(query: CostQuery, tag_keys: tuple[str, ...]) -> bool:
    """Whether a rollup holding ``tag_keys`` answers ``query``."""
    for dimension in query.group_by:
        if dimension.kind is DimensionKind.TAG:
            if dimension.tag_key not in tag_keys:
                return False
        elif dimension.kind not in _HELD:
            return False
    if query.cost_filter.resource_contains:
        return False  # no resource ids in the rollup: the files answer
    return all(key in tag_keys for key in query.cost_filter.tags)


def held_tag_keys(connection: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    found = connection.execute("SELECT value FROM rollup_meta WHERE key = 'tag_keys'").fetchone()
    return tuple(json.loads(found[0])) if found else ()


def read_generation(connection: duckdb.DuckDBPyConnection) -> int:
    found = connection.execute("SELECT value FROM rollup_meta WHERE key = 'generation'").fetchone()
    return int(found[0]) if found else 0


def next_file_id(connection: duckdb.DuckDBPyConnection) -> int:
    found = connection.execute("SELECT coalesce(max(file_id), 0) + 1 FROM rollup_files").fetchone()
    return int(found[0]) if found else 1


def row_count(connection: duckdb.DuckDBPyConnection) -> int:
    found = connection.execute("SELECT count(*) FROM rollup_lines").fetchone()
    return int(found[0]) if found else 0


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

"""One query builder for billing tables: a ``CostQuery`` becomes SQL text and parameters.

The builder serves FOCUS 1.x and CUR 2.0 tables alike: a ``BillingSchema`` says which column
(or SQL) answers each logical question (when, how much, which currency, service, account,
region, resource, charge category, tags). It writes two dialects:

- ``duckdb``: exports on disk, read by ``BillingFileSource`` (FOCUS and CUR files);
- ``athena``: Athena engine 3 (Trino) tables, read by ``AthenaSource``.

The dialects differ only in the small functions at the end of this module (map and JSON
access, tag keys in the select list). The Athena SQL sticks to functions DuckDB also has, so
the Athena query for a FOCUS table runs unchanged on a DuckDB table of the same name and
shape; the tests prove the SQL that way.

What every query does:

- groups by the query's dimensions and by currency (currencies are never added together);
  a missing or null dimension value becomes ``''`` (``engines.costs.query.UNKNOWN_KEY``);
- keeps lines whose charge starts on a UTC day in the half-open period; a line charged for
  more than a day (a month's tax) only when its whole charge period is inside;
- keeps lines whose tags all match, and whose account is one of the query's accounts;
- sums the metric as ``DECIMAL(38, 10)`` (exact) and returns it as text.

User values (tag keys and values, accounts, dates) are always ``?`` parameters, never SQL
text. Athena accepts parameters only in ``WHERE``, so a tag key grouped by is written into
the select list as a string literal, after checking it against the characters AWS allows
in a tag key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from engines.costs.query import (
    CostQuery,
    Dimension,
    DimensionKind,
)
from engines.costs.sources.schemas import (
    BillingSchema,
    ColumnKind,
    Dialect,
    Field,
    MapKey,
    TagsFormat,
)
from engines.errors import CostSourceError, UserInputError
from engines.models import Metric, Period

MONEY = "DECIMAL(38, 10)"
NO_SERVICE = "(no service)"  # what ``cost_by_service`` shows for UNKNOWN_KEY
NO_CURRENCY = "(no currency)"

# AWS tag keys: letters, digits, spaces and _ . : / = + - @, at most 128 characters.
_AWS_TAG_KEY = re.compile(r"[\w .:/=+\-@]{1,128}")
# Characters every JSON encoder writes as themselves (no \-escape, no \u form).
_JSON_VERBATIM = re.compile(r"[A-Za-z0-9 _.:=+@-]+")
_TABLE_PART = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Dates as FOCUS writes them (ISO 8601): a date, optionally a time (T or a space), optionally
# a zone. Engines cast more loosely (DuckDB reads '4/1/25' as 25 January of year 4), so date
# columns are checked against this, and their years against FIRST_YEAR..LAST_YEAR. Written
# without "?" (as {0,1}), which in SQL text would read as a parameter mark.
ISO_8601 = (
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9}){0,1}){0,1}){0,1}"
    r"([Zz]|[+-]\d{2}(:{0,1}\d{2}){0,1}){0,1}"
)
FIRST_YEAR, LAST_YEAR = 2000, 2100
DATE_EXAMPLE = "2025-04-01T00:00:00Z"


@dataclass(frozen=True)
class SqlQuery:
    """SQL text with ``?`` placeholders and their values, in order."""

    text: str
    params: tuple[str, ...] = ()

    def __add__(self, other: SqlQuery) -> SqlQuery:
        return SqlQuery(self.text + other.text, self.params + other.params)


# --- the builder ----------------------------------------------------------------------------


def build_cost_query(
    query: CostQuery, schema: BillingSchema, dialect: Dialect, table: SqlQuery
) -> SqlQuery:
    """The SQL answering ``query``: one row per group, ``(*dimension values, currency, sum)``.

    Every value in a row is text; the sum is ``DECIMAL(38, 10)`` written as text. Groups with
    no amount at all (every line's amount null) are left out.

    Args:
        query: the period, metric, filter and grouping.
        schema: how the table's columns answer them.
        dialect: DuckDB or Athena.
        table: what to read, e.g. ``table_reference("billing.focus")`` or a DuckDB subquery
            (with its own parameters).

    Raises:
        UserInputError: a tag key AWS would not allow, for a dialect that cannot take it as a
            parameter.
    """
    keys = [_dimension_sql(d, schema, dialect) for d in query.group_by]
    keys.append(SqlQuery(f"coalesce({_column(schema.currency)}, '')"))
    names = [f"key_{position}" for position in range(1, len(keys))] + ["currency"]
    ordinals = ", ".join(str(position) for position in range(1, len(keys) + 1))
    line_values = [key + SqlQuery(f" AS {name}") for key, name in zip(keys, names, strict=True)]
    line_values.append(SqlQuery(f"{_cost_sql(schema, query.metric)} AS cost"))
    return (
        SqlQuery(f"SELECT {', '.join(names)}, CAST(sum(cost) AS VARCHAR)\nFROM (\n  SELECT ")
        + _joined(line_values, ",\n         ")
        + SqlQuery("\n  FROM ")
        + table
        + SqlQuery("\n  WHERE ")
        + _where_sql(query, schema, dialect)
        + SqlQuery(f"\n) AS line_costs\nGROUP BY {ordinals}\nHAVING count(cost) > 0")
    )


# --- billing periods (AWS Data Exports' partitions) --------------------------------------------

PARTITION_KEY = "billing_period"
"""The partition AWS Data Exports writes (``BILLING_PERIOD=YYYY-MM/`` folders) and its Athena
tables are partitioned by (a string ``'YYYY-MM'``)."""


def billing_periods(period: Period, *, margin: int = 0) -> tuple[str, ...]:
    """The billing periods (``'YYYY-MM'``) whose lines a question about ``period`` may read.

    AWS bills a charge in the month it is charged in, so the months the period touches hold
    its lines. Near a month's edge a line can be billed in the next or previous period (a
    late correction, a charge starting just before midnight): ``margin`` adds that many
    periods on each side.

    Args:
        period: the question's days.
        margin: billing periods to add before and after.
    """
    last = period.end - dt.timedelta(days=1)
    first_index = period.start.year * 12 + period.start.month - 1 - margin
    last_index = last.year * 12 + last.month - 1 + margin
    return tuple(
        f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(first_index, last_index + 1)
    )


def partitioned_table(table: SqlQuery, column: str, periods: Sequence[str]) -> SqlQuery:
    """``table`` read only in the billing periods ``periods`` (its partition ``column``):
    Athena then scans those partitions' files alone.

    Args:
        table: the table (``table_reference``).
        column: its partition column holding ``'YYYY-MM'``.
        periods: from ``billing_periods`` (written as literals: they are ours, not a user's).
    """
    listed = ", ".join(_literal(value) for value in periods if _PERIOD.fullmatch(value))
    return (
        SqlQuery("(SELECT * FROM ")
        + table
        + SqlQuery(f" WHERE {_quoted(column)} IN ({listed})) AS partitioned")
    )


_PERIOD = re.compile(r"\d{4}-\d{2}")


def table_reference(name: str) -> SqlQuery:
    """``"db"."table"`` for ``db.table``; refuses anything but letters, digits, ``_``, ``-``.

    Args:
        name: ``database.table`` (or just ``table``).
    """
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_TABLE_PART.fullmatch(part) for part in parts):
        raise UserInputError(
            f"'{name}' is not a table name I can use.",
            hint="Give it as database.table, with letters, digits, _ and - only.",
        )
    return SqlQuery(".".join(_quoted(part) for part in parts))


def referenced_columns(query: CostQuery, schema: BillingSchema) -> tuple[str, ...]:
    """The columns ``build_cost_query`` reads for ``query``, in a stable order.

    Args:
        query: the question.
        schema: the table's schema.
    """
    columns = [
        schema.charge_start,
        schema.charge_end,
        *schema.costs[query.metric].columns,
        schema.currency,
    ]
    for dimension in query.group_by:
        columns.extend(_dimension_columns(dimension, schema))
    if query.cost_filter.tags:
        columns.append(schema.tags)
    if query.cost_filter.accounts:
        columns.append(schema.account)
    if query.cost_filter.resource_contains:
        columns.append(schema.resource)
    return tuple(dict.fromkeys(columns))


def _dimension_columns(dimension: Dimension, schema: BillingSchema) -> list[str]:
    fields = list(_dimension_fields(dimension.kind, schema))
    if dimension.kind is DimensionKind.RESOURCE:
        fields.extend(schema.resource_name)
    return [f.column if isinstance(f, MapKey) else f for f in fields]


def _dimension_fields(kind: DimensionKind, schema: BillingSchema) -> Sequence[Field]:
    """Where a dimension's value comes from (several fields: the first non-empty wins)."""
    return {
        DimensionKind.SERVICE: schema.service,
        DimensionKind.ACCOUNT: (schema.account,),
        DimensionKind.REGION: schema.region,
        DimensionKind.RESOURCE: (schema.resource,),
        DimensionKind.DAY: (schema.charge_start,),
        DimensionKind.CHARGE_CATEGORY: (schema.charge_category,),
        DimensionKind.TAG: (schema.tags,),
    }[kind]


def _cost_sql(schema: BillingSchema, metric: Metric) -> str:
    rule = schema.costs[metric]
    return rule.template.format_map(
        {
            name: f"CAST({_column(name)} AS {MONEY})"
            if schema.columns.get(name) is ColumnKind.MONEY
            else _column(name)
            for name in rule.columns
        }
    )


def _dimension_sql(dimension: Dimension, schema: BillingSchema, dialect: Dialect) -> SqlQuery:
    kind = dimension.kind
    if kind is DimensionKind.TAG:
        argument = _tag_argument(schema, dialect, dimension.tag_key, in_where=False)
        return _wrapped("coalesce(", _tag_value(schema, dialect, argument), ", '')")
    if kind is DimensionKind.RESOURCE and schema.resource_name:
        # People read names: "nlp-finetune-g5 (i-0abc…)", the id alone without a name.
        resource = f"nullif({_column(schema.resource)}, '')"
        names = [f"nullif({_field_sql(f, dialect)}, '')" for f in schema.resource_name]
        named = f"coalesce({', '.join(names)})"
        return SqlQuery(
            f"coalesce(CASE WHEN {named} <> {resource} THEN {named} || ' (' || {resource}"
            f" || ')' END, {resource}, '')"
        )
    if kind is DimensionKind.DAY:
        day = f"CAST(CAST({_column(schema.charge_start)} AS DATE) AS VARCHAR)"
        return SqlQuery(f"coalesce({day}, '')")
    fields = _dimension_fields(kind, schema)
    candidates = [f"nullif({_field_sql(f, dialect)}, '')" for f in fields]
    return SqlQuery(f"coalesce({', '.join(candidates)}, '')")


def _field_sql(value: Field, dialect: Dialect) -> str:
    if isinstance(value, MapKey):
        return _map_value(dialect, _column(value.column), SqlQuery(_literal(value.key))).text
    return _column(value)


def _where_sql(query: CostQuery, schema: BillingSchema, dialect: Dialect) -> SqlQuery:
    start = _column(schema.charge_start)
    # A line is in the period when its charge starts on or after the first UTC midnight and
    # before the last: the same as comparing UTC days, and it lets engines skip row groups.
    end = _column(schema.charge_end)
    period_end = f"{query.period.end} 00:00:00"
    conditions = [
        SqlQuery(f"{start} >= CAST(? AS TIMESTAMP)", (f"{query.period.start} 00:00:00",)),
        SqlQuery(f"{start} < CAST(? AS TIMESTAMP)", (period_end,)),
        # A charge for more than a day (a month's tax, a monthly fee) belongs to the whole
        # charge period: counted only where all of it is inside the period, so a part of a
        # month is never compared with a whole month's tax.
        SqlQuery(
            f"({end} IS NULL OR {end} <= {start} + INTERVAL '1' DAY"
            f" OR {end} <= CAST(? AS TIMESTAMP))",
            (period_end,),
        ),
    ]
    for key, value in query.cost_filter.tags.items():
        conditions.extend(_tag_conditions(schema, dialect, key, value))
    if query.cost_filter.accounts:
        accounts = query.cost_filter.accounts
        marks = ", ".join("?" for _ in accounts)
        conditions.append(SqlQuery(f"{_column(schema.account)} IN ({marks})", tuple(accounts)))
    if query.cost_filter.resource_contains:
        # contains(), not LIKE: a LIKE pattern given as a parameter is matched the slow way.
        resource = _column(schema.resource)
        wanted = query.cost_filter.resource_contains
        conditions.append(SqlQuery(f"strpos({resource}, ?) > 0", (wanted,)))
    return _joined(conditions, "\n    AND ")


def _tag_conditions(
    schema: BillingSchema, dialect: Dialect, key: str, value: str
) -> list[SqlQuery]:
    conditions = []
    if (
        dialect is Dialect.DUCKDB
        and schema.tags_format is TagsFormat.JSON
        and _JSON_VERBATIM.fullmatch(value)
    ):
        # A cheap first cut: a value made of characters JSON never escapes appears in the
        # text as it is, so only lines containing it need their JSON parsed (~50x fewer).
        conditions.append(SqlQuery(f"contains({_column(schema.tags)}, ?)", (value,)))
    argument = _tag_argument(schema, dialect, key, in_where=True)
    conditions.append(_tag_value(schema, dialect, argument) + SqlQuery(" = ?", (value,)))
    return conditions


def _tag_argument(schema: BillingSchema, dialect: Dialect, key: str, *, in_where: bool) -> SqlQuery:
    """The tag key as the SQL needs it: the stored key for a map, a JSON path for JSON text.

    A parameter wherever the dialect takes one; Athena takes parameters only in ``WHERE``,
    so in its select list the key is a literal, after checking it is a key AWS allows.
    """
    stored_key = schema.tag_key(key)
    if dialect is Dialect.ATHENA:
        _check_tag_key(stored_key)
    if schema.tags_format is TagsFormat.MAP:
        argument = stored_key
    else:
        argument = _json_path(dialect, stored_key)
    if in_where or dialect is Dialect.DUCKDB:
        return SqlQuery("?", (argument,))
    return SqlQuery(_literal(argument))


def _tag_value(schema: BillingSchema, dialect: Dialect, argument: SqlQuery) -> SqlQuery:
    """The value of one tag, NULL when the line lacks it; ``argument`` from ``_tag_argument``."""
    tags = _column(schema.tags)
    if schema.tags_format is TagsFormat.MAP:
        return _map_value(dialect, tags, argument)
    return _json_value(dialect, tags, argument)


def _check_tag_key(key: str) -> None:
    if not _AWS_TAG_KEY.fullmatch(key):
        raise UserInputError(
            f"'{key}' is not a tag key AWS allows.",
            hint="Tag keys have letters, digits, spaces and _ . : / = + - @ only.",
        )


# --- tables lacking columns, and their dates ------------------------------------------------

NULL_TYPES = {
    ColumnKind.TIMESTAMP: "TIMESTAMP",
    ColumnKind.MONEY: MONEY,
    ColumnKind.TEXT: "VARCHAR",
    ColumnKind.ACCOUNT: "VARCHAR",
    ColumnKind.MAP: "MAP(VARCHAR, VARCHAR)",
    ColumnKind.JSON: "VARCHAR",
}
"""The type a missing column is read as (a NULL of it), in SQL both dialects run."""


def column_read(schema: BillingSchema, column: str, has: Callable[[str], bool]) -> str | None:
    """The table's column answering ``column``: itself, an older name, or its stand-in.

    Args:
        schema: the table's schema (its ``former_names`` and ``stand_ins``).
        column: a column a question reads.
        has: whether the table has a column of that name.

    Returns:
        The name to read, or None when the table has none of them.
    """
    candidates = (column, *schema.former_names.get(column, ()), schema.stand_ins.get(column))
    return next((name for name in candidates if name is not None and has(name)), None)


def projected_table(
    table: SqlQuery, schema: BillingSchema, reads: Mapping[str, str | None]
) -> SqlQuery:
    """``table`` as a subquery giving each column of ``reads`` under its schema name.

    Args:
        table: the table (e.g. ``table_reference("billing.focus")``).
        schema: what each column holds.
        reads: each column a question reads → the table's column answering it (from
            ``column_read``), or None to read it as NULL of its type.
    """
    expressions = [
        f"{_column(read)} AS {_column(column)}"
        if read is not None
        else f"CAST(NULL AS {NULL_TYPES[schema.columns[column]]}) AS {_column(column)}"
        for column, read in reads.items()
    ]
    return SqlQuery(f"(SELECT {', '.join(expressions)} FROM ") + table + SqlQuery(") AS lines")


def missing_column_note(
    schema: BillingSchema, column: str, *, which: str, kind: str, stand_in_read: bool
) -> str | None:
    """What an answer says when the table lacks ``column``; None when nothing changes.

    Args:
        schema: the table's schema (``when_missing``, ``stand_ins``).
        column: the missing column.
        which: how the note names the table(s), with its verb: "The FOCUS export x has".
        kind: "FOCUS" or "CUR".
        stand_in_read: whether the stand-in column was read in its place.
    """
    what = f"no {column} column ({kind} makes it conditional)"
    stand_in = schema.stand_ins.get(column)
    if stand_in is not None and stand_in_read:
        return f"{which} {what}: accounts are matched by its {stand_in}."
    meaning = schema.when_missing.get(column)
    if meaning is not None:
        return f"{which} {what}: {meaning}."
    return None


def bad_dates_query(table: SqlQuery, column_types: Mapping[str, str]) -> SqlQuery | None:
    """SQL finding one line whose date columns hold anything but ISO 8601 dates in
    ``FIRST_YEAR``–``LAST_YEAR``; None when there are no date columns to check.

    It answers at most one row: for each column, in order, its value as text and a verdict,
    ``''`` (good or null), ``'format'`` (not ISO 8601) or ``'year'`` (outside the years). It
    runs on Athena and DuckDB alike: ``regexp_extract`` is NULL (Athena) or ``''`` (DuckDB)
    without a match, and both have ``year`` and ``try_cast``.

    Args:
        table: the table to check.
        column_types: each date column → its type as the catalog names it (``timestamp``,
            ``date``, ``string``, ``varchar(30)``...; case does not matter).
    """
    if not column_types:
        return None
    selects, conditions = [], []
    for n, (column, column_type) in enumerate(column_types.items(), start=1):
        quoted = _column(column)
        if column_type.lower().startswith(("timestamp", "date")):
            verdict = (
                f"CASE WHEN {quoted} IS NOT NULL AND year({quoted}) NOT BETWEEN {FIRST_YEAR} "
                f"AND {LAST_YEAR} THEN 'year' ELSE '' END"
            )
        else:
            text = f"nullif(trim(CAST({quoted} AS VARCHAR)), '')"
            verdict = (
                f"CASE WHEN {text} IS NULL THEN '' "
                f"WHEN NOT coalesce(regexp_extract({text}, '^{ISO_8601}$') = {text}, false) "
                f"OR try_cast(substr({text}, 1, 10) AS DATE) IS NULL THEN 'format' "
                f"WHEN try_cast(substr({text}, 1, 4) AS INTEGER) BETWEEN {FIRST_YEAR} "
                f"AND {LAST_YEAR} THEN '' ELSE 'year' END"
            )
        selects.append(f"CAST({quoted} AS VARCHAR) AS value_{n}, {verdict} AS verdict_{n}")
        conditions.append(f"verdict_{n} <> ''")
    return (
        SqlQuery(f"SELECT * FROM (SELECT {', '.join(selects)} FROM ")
        + table
        + SqlQuery(f") AS dates\nWHERE {' OR '.join(conditions)}\nLIMIT 1")
    )


def bad_date_error(where: str, value: str, *, readable: bool) -> CostSourceError:
    """The refusal of a date that is not ISO 8601 (``readable`` False) or not in the years.

    Args:
        where: what holds it, e.g. "FOCUS file x.csv row 3, ChargePeriodStart".
        value: the value as the table holds it.
        readable: a date, but outside ``FIRST_YEAR``–``LAST_YEAR``.
    """
    if not readable:
        return CostSourceError(
            f"{where}: '{value}' is not an ISO 8601 date (e.g. {DATE_EXAMPLE}). "
            "Export dates as year-month-day, like the example."
        )
    return CostSourceError(
        f"{where}: '{value}' is outside the years {FIRST_YEAR}–{LAST_YEAR}: "
        f"check how the export writes dates (e.g. {DATE_EXAMPLE})."
    )


# --- the dialect differences ----------------------------------------------------------------


def _map_value(dialect: Dialect, map_sql: str, key: SqlQuery) -> SqlQuery:
    """The value of ``key`` in a map, NULL when absent.

    DuckDB's ``map[key]`` is NULL for a missing key; Trino's fails, and its ``element_at``
    is a list in DuckDB, so Athena asks for the key first (a form both engines run).
    """
    if dialect is Dialect.DUCKDB:
        return SqlQuery(f"{map_sql}[") + key + SqlQuery("]")
    return (
        SqlQuery(f"CASE WHEN contains(map_keys({map_sql}), ")
        + key
        + SqlQuery(f") THEN {map_sql}[")
        + key
        + SqlQuery("] END")
    )


def _json_value(dialect: Dialect, json_sql: str, path: SqlQuery) -> SqlQuery:
    """The text at ``path`` in JSON object text; NULL when absent or the text is not JSON."""
    if dialect is Dialect.DUCKDB:
        guarded = f"CASE WHEN json_valid({json_sql}) THEN {json_sql} END"
        return _wrapped(f"json_extract_string({guarded}, ", path, ")")
    return _wrapped(f"try(json_extract_scalar({json_sql}, ", path, "))")


def _json_path(dialect: Dialect, key: str) -> str:
    """A JSON path selecting ``key`` at the top level, so dots and colons stay literal."""
    if dialect is Dialect.DUCKDB:
        escaped = key.replace("\\", "\\\\").replace('"', '\\"')
        return f'$."{escaped}"'
    return f'$["{key}"]'  # Trino; Athena keys are checked first, so no quotes inside


# --- small SQL helpers ----------------------------------------------------------------------


def _column(name: str) -> str:
    return _quoted(name)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (quotes doubled), e.g. for Athena parameters.

    Args:
        text: any string.
    """
    return _literal(text)


def _wrapped(before: str, inner: SqlQuery, after: str) -> SqlQuery:
    return SqlQuery(before) + inner + SqlQuery(after)


def _joined(parts: Iterable[SqlQuery], separator: str) -> SqlQuery:
    result = SqlQuery("")
    for position, part in enumerate(parts):
        result = result + (SqlQuery(separator) if position else SqlQuery("")) + part
    return result

"""A cost source asking Amazon Athena about a FOCUS or CUR 2.0 table in S3.

The SQL is ``engines.costs.sources.sql``'s (Athena dialect), with the user's values passed as
``ExecutionParameters`` (Athena substitutes each as a SQL literal, so strings are sent
quoted). Athena runs queries asynchronously: the source starts one, polls its state until it
succeeds, fails or the deadline passes (then stops it), and pages through the results.

Athena charges by the bytes a query scans ($5 per TB, 10 MB minimum). It enforces a per-query
cap through the workgroup's ``BytesScannedCutoffPerQuery`` and cancels a query going over;
this source also stops a query whose ``Statistics.DataScannedInBytes`` passes
``scan_limit_bytes`` while it runs, and says so in plain words either way.

Before its first question, the source asks the catalog for the table's columns
(``GetTableMetadata``, once): a table lacking a conditional column (FOCUS ``Tags``,
``SubAccountId``) is read through a subquery giving NULL (or the stand-in column) in its place,
and the answer says so; a table lacking a column every export has is refused by name. Where
the catalog cannot be asked (denied, unsupported), every column is taken to be there. The
date columns are then checked once, by one small query: anything but ISO 8601 dates in
2000–2100 is refused, naming the table, the column and the value.

The boto3 ``athena`` client, the sleep and the clock are passed in; nothing here reads the
environment.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from engines.costs.query import CostQuery, CostResult
from engines.costs.sources.answers import ServiceBreakdownMixin, cost_result
from engines.costs.sources.schemas import SCHEMAS, Dialect
from engines.costs.sources.sql import (
    PARTITION_KEY,
    SqlQuery,
    bad_date_error,
    bad_dates_query,
    billing_periods,
    build_cost_query,
    column_read,
    missing_column_note,
    partitioned_table,
    projected_table,
    referenced_columns,
    sql_literal,
    table_reference,
)
from engines.errors import CostSourceError

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
PAGE_SIZE = 1000  # the most get_query_results returns at once
_SCAN_LIMIT_REASON = re.compile(r"bytes scanned|scan(ned)? limit|cutoff|data usage", re.I)
CATALOG = "AwsDataCatalog"
_EXPORT_NAMES = {"focus": "FOCUS 1.x", "cur": "CUR 2.0"}
# Errors of GetTableMetadata worth asking again next time; any other means the catalog cannot
# tell (denied, not a Glue table, unsupported) and the source goes on without it.
_PASSING_ERRORS = {
    "TooManyRequestsException",
    "ThrottlingException",
    "InternalServerException",
}

_ERROR_ADVICE = {
    "AccessDeniedException": (
        "access was denied: the bot's IAM role needs athena:StartQueryExecution, "
        "athena:GetQueryExecution, athena:GetQueryResults, athena:StopQueryExecution and "
        "athena:GetTableMetadata, glue:GetTable on the table, read access to the export's "
        "S3 bucket and write access to the results location"
    ),
    "InvalidRequestException": (
        "Athena rejected the request: check the workgroup exists and has a query result "
        "location (or pass output_location)"
    ),
    "TooManyRequestsException": "Athena is throttling requests: wait a minute and try again",
    "ThrottlingException": "Athena is throttling requests: wait a minute and try again",
    "ResourceNotFoundException": "the workgroup or query was not found",
    "InternalServerException": "Athena had an internal error: try again in a minute",
}


class AthenaSource(ServiceBreakdownMixin):
    """Costs from a FOCUS or CUR 2.0 table, asked through Athena.

    Args:
        client: a boto3 ``athena`` client.
        table: ``database.table``.
        schema: ``"focus"`` (FOCUS 1.x from AWS Data Exports: ``Tags`` a map) or ``"cur"``
            (CUR 2.0).
        workgroup: the Athena workgroup (its per-query scan cutoff applies).
        output_location: ``s3://...`` for results, when the workgroup does not set one.
        scan_limit_bytes: stop a query that has scanned more than this.
        poll_interval_s: how long to wait between state checks.
        deadline_s: stop a query still running after this long.
        sleep: waits (``time.sleep``; tests pass a fake).
        clock: seconds from a monotonic clock (``time.monotonic``; tests pass a fake).
    """

    name = "athena"
    max_dimensions: int | None = None  # SQL groups by any number

    def __init__(
        self,
        client: Any,
        *,
        table: str,
        schema: str,
        workgroup: str = "primary",
        output_location: str | None = None,
        scan_limit_bytes: int,
        poll_interval_s: float = 1.0,
        deadline_s: float = 120,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {sorted(SCHEMAS)}, not {schema!r}")
        self.client = client
        self.table = table
        self.table_sql = table_reference(table)
        self.schema = SCHEMAS[schema]
        self.workgroup = workgroup
        self.output_location = output_location
        self.scan_limit_bytes = scan_limit_bytes
        self.poll_interval_s = poll_interval_s
        self.deadline_s = deadline_s
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()  # one catalog look-up and one date check per source
        self._column_types: dict[str, str] | None = None  # lower-cased name → catalog type
        self._partition_column: str | None = None  # ``billing_period`` when partitioned by it
        self._columns_known = False  # asked the catalog (the answer may be "cannot tell")
        self._dates_checked = False

    def costs(self, query: CostQuery) -> CostResult:
        """The cost of each group of ``query.group_by`` and currency, largest first.

        Args:
            query: the period (by the UTC day the charge starts), metric, filter (tags must
                all match; accounts) and grouping. A missing dimension value is ``''``.

        Raises:
            CostSourceError: AWS refused, the query failed, went over its scan limit or took
                longer than the deadline; the table lacks a column every export has, or
                holds a date that is not ISO 8601 in 2000–2100; the message says what to do.
            UserInputError: a tag key AWS would not allow.
        """
        # Built once before asking anything, so a tag key AWS would not allow is refused first.
        sql = build_cost_query(query, self.schema, Dialect.ATHENA, self.table_sql)
        column_types = self._known_columns()
        table = self._partitions_for(query)
        notes: tuple[str, ...] = ()
        if column_types is not None:
            table, notes = self._table_for(
                referenced_columns(query, self.schema), column_types, table
            )
            self._check_dates(column_types)
        sql = build_cost_query(query, self.schema, Dialect.ATHENA, table)
        return cost_result(query, self._run(sql), self.name, notes)

    def _partitions_for(self, query: CostQuery) -> SqlQuery:
        """The table, read only in the billing periods ``query`` needs when the catalog says
        it is partitioned by them (AWS Data Exports' tables are, by ``billing_period``).

        The months the period touches and one on each side: a line billed in the period
        next to its charge's (a correction, a charge starting just before midnight) is
        still counted, so the answer is the full table's. The charge-day condition of the
        query still lets Athena skip the neighbours' row groups outside the period.
        """
        if self._partition_column is None:
            return self.table_sql
        periods = billing_periods(query.period, margin=1)
        return partitioned_table(self.table_sql, self._partition_column, periods)

    def _run(self, sql: SqlQuery) -> Iterator[list[str | None]]:
        execution_id = self._start(sql)
        self._wait(execution_id)
        return self._rows(execution_id)

    def _known_columns(self) -> dict[str, str] | None:
        """The table's columns (lower-cased names, as the catalog keeps them) and types;
        None when the catalog cannot tell. Asked once per source."""
        with self._lock:
            if not self._columns_known:
                self._column_types, self._columns_known = self._table_metadata()
            return self._column_types

    def _table_metadata(self) -> tuple[dict[str, str] | None, bool]:
        """``(columns, final)``: the catalog's columns, or None; ``final`` when not to ask again."""
        database, _, table = self.table.rpartition(".")
        try:
            response = self.client.get_table_metadata(
                CatalogName=CATALOG, DatabaseName=database or "default", TableName=table
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            return None, code not in _PASSING_ERRORS
        except BotoCoreError:  # no credentials, no network: the query will say so
            return None, False
        metadata = response.get("TableMetadata") or {}
        partition_keys = metadata.get("PartitionKeys") or []
        self._partition_column = next(
            (
                str(key["Name"])
                for key in partition_keys
                if str(key.get("Name", "")).lower() == PARTITION_KEY
                and str(key.get("Type", "string")).lower() in ("string", "varchar")
            ),
            None,
        )
        columns = [*(metadata.get("Columns") or []), *partition_keys]
        types = {str(c["Name"]).lower(): str(c.get("Type", "")) for c in columns if "Name" in c}
        return (types or None), True

    def _table_for(
        self, columns: tuple[str, ...], column_types: dict[str, str], table: SqlQuery
    ) -> tuple[SqlQuery, tuple[str, ...]]:
        """What the cost query reads for ``columns`` from ``table`` (the table, or its
        partitions), and the notes on missing ones.

        ``table`` itself when it has them all; else a subquery reading an older name or the
        stand-in where the table has one, NULL otherwise.
        """
        reads: dict[str, str | None] = {}
        notes = []
        kind = self.schema.name.upper()
        for column in columns:
            read = column_read(self.schema, column, lambda name: name.lower() in column_types)
            if read is None and column not in self.schema.optional:
                raise CostSourceError(
                    f"Athena table {self.table} has no column '{column}': is it a "
                    f"{_EXPORT_NAMES[self.schema.name]} table?"
                )
            reads[column] = read
            if read != column:
                note = missing_column_note(
                    self.schema,
                    column,
                    which=f"The {kind} table {self.table} has",
                    kind=kind,
                    stand_in_read=read is not None and read == self.schema.stand_ins.get(column),
                )
                if note is not None:
                    notes.append(note)
        if all(read == column for column, read in reads.items()):
            return table, ()
        return projected_table(table, self.schema, reads), tuple(notes)

    def _check_dates(self, column_types: dict[str, str]) -> None:
        """Refuse a table whose date columns hold anything but ISO 8601 dates in 2000–2100.

        One query, looking at the date columns only, the first time the source is asked;
        a table found good is not checked again.

        Raises:
            CostSourceError: naming the table, the column and the value.
        """
        with self._lock:
            if self._dates_checked:
                return
            dates = {
                c: column_types[c.lower()] for c in self.schema.dates if c.lower() in column_types
            }
            sql = bad_dates_query(self.table_sql, dates)
            found = next(iter(self._run(sql)), None) if sql is not None else None
            if found is not None:
                for n, column in enumerate(dates):
                    value, verdict = found[2 * n], found[2 * n + 1]
                    if verdict:
                        raise bad_date_error(
                            f"Athena table {self.table}, {column}",
                            value or "",
                            readable=verdict == "year",
                        )
            self._dates_checked = True

    def start_request(self, sql: SqlQuery) -> dict[str, Any]:
        """The ``StartQueryExecution`` arguments for ``sql``.

        Args:
            sql: the query and its parameters (sent as quoted SQL string literals).
        """
        request: dict[str, Any] = {"QueryString": sql.text, "WorkGroup": self.workgroup}
        if sql.params:  # Athena refuses an empty list
            request["ExecutionParameters"] = [sql_literal(value) for value in sql.params]
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        return request

    def _start(self, sql: SqlQuery) -> str:
        response = self._call("start_query_execution", **self.start_request(sql))
        return str(response["QueryExecutionId"])

    def _wait(self, execution_id: str) -> None:
        """Poll until the query succeeds; raise when it fails, overruns or is too slow."""
        started = self.clock()
        while True:
            execution = self._call("get_query_execution", QueryExecutionId=execution_id)
            status = execution["QueryExecution"]["Status"]
            state = status.get("State", "")
            scanned = _scanned_bytes(execution)
            if state == SUCCEEDED:
                return
            if state in (FAILED, CANCELLED):
                raise self._failure(state, status.get("StateChangeReason", ""), scanned)
            if scanned > self.scan_limit_bytes:
                self._stop(execution_id)
                raise self._over_scan_limit(scanned)
            if self.clock() - started >= self.deadline_s:
                self._stop(execution_id)
                raise CostSourceError(
                    f"The Athena cost query on {self.table} took longer than "
                    f"{self.deadline_s:g} s, so I stopped it: ask about a shorter period, or "
                    "try again when Athena is less busy."
                )
            self.sleep(self.poll_interval_s)

    def _rows(self, execution_id: str) -> Iterator[list[str | None]]:
        """Every result row, over all pages; the first row of the first page is the header."""
        token: str | None = None
        first_page = True
        while True:
            request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": PAGE_SIZE}
            if token:
                request["NextToken"] = token
            page = self._call("get_query_results", **request)
            rows = page.get("ResultSet", {}).get("Rows", [])
            for row in rows[1:] if first_page else rows:
                yield [cell.get("VarCharValue") for cell in row.get("Data", [])]
            first_page = False
            token = page.get("NextToken")
            if not token:
                return

    def _stop(self, execution_id: str) -> None:
        # the error being reported matters more than a stop that failed
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.stop_query_execution(QueryExecutionId=execution_id)

    def _failure(self, state: str, reason: str, scanned: int) -> CostSourceError:
        if _SCAN_LIMIT_REASON.search(reason) or scanned > self.scan_limit_bytes:
            return self._over_scan_limit(scanned)
        if state == CANCELLED:
            return CostSourceError(
                f"The Athena cost query on {self.table} was cancelled before it finished"
                f"{': ' + reason if reason else ''}. Ask again."
            )
        return CostSourceError(
            f"Athena could not run the cost query on {self.table}: "
            f"{reason or 'no reason given'}. Check that the table exists and is a "
            f"{self.schema.name.upper()} table."
        )

    def _over_scan_limit(self, scanned: int) -> CostSourceError:
        limit = _gigabytes(self.scan_limit_bytes)
        seen = f" (it had read {_gigabytes(scanned)} GB)" if scanned else ""
        return CostSourceError(
            f"The Athena cost query on {self.table} was stopped: it went over its scan limit "
            f"of {limit} GB{seen}. Ask about a shorter period, or raise the limit "
            f"(workgroup '{self.workgroup}', BytesScannedCutoffPerQuery)."
        )

    def _call(self, method: str, **request: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, method)(**request)
        except ClientError as error:
            raise _client_error(error) from None
        except NoCredentialsError:
            raise CostSourceError(
                "Could not ask Athena: no AWS credentials were found for the bot."
            ) from None
        except BotoCoreError as error:
            raise CostSourceError(f"Could not reach Athena: {error}") from None
        return response


def _scanned_bytes(execution: dict[str, Any]) -> int:
    statistics = execution["QueryExecution"].get("Statistics") or {}
    return int(statistics.get("DataScannedInBytes") or 0)


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:.3g}"


def _client_error(error: ClientError) -> CostSourceError:
    code = error.response.get("Error", {}).get("Code", "")
    detail = error.response.get("Error", {}).get("Message", "")
    advice = _ERROR_ADVICE.get(code, "AWS returned an error")
    suffix = f" ({code}: {detail})" if detail else f" ({code})"
    return CostSourceError(f"Could not get costs from Athena: {advice}{suffix}.")

"""A cost source asking Amazon Athena about a FOCUS or CUR 2.0 table in S3.

The SQL is ``engines.sources.sql``'s (Athena dialect), with the user's values passed as
``ExecutionParameters`` (Athena substitutes each as a SQL literal, so strings are sent
quoted). Athena runs queries asynchronously: the source starts one, polls its state until it
succeeds, fails or the deadline passes (then stops it), and pages through the results.

Athena charges by the bytes a query scans ($5 per TB, 10 MB minimum). It enforces a per-query
cap through the workgroup's ``BytesScannedCutoffPerQuery`` and cancels a query going over;
this source also stops a query whose ``Statistics.DataScannedInBytes`` passes
``scan_limit_bytes`` while it runs, and says so in plain words either way.

The boto3 ``athena`` client, the sleep and the clock are passed in; nothing here reads the
environment.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from engines.errors import CostSourceError
from engines.query import CostQuery, CostResult
from engines.sources.sql import (
    SCHEMAS,
    Dialect,
    ServiceBreakdownMixin,
    SqlQuery,
    build_cost_query,
    cost_result,
    sql_literal,
    table_reference,
)

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
PAGE_SIZE = 1000  # the most get_query_results returns at once
_SCAN_LIMIT_REASON = re.compile(r"bytes scanned|scan(ned)? limit|cutoff|data usage", re.I)

_ERROR_ADVICE = {
    "AccessDeniedException": (
        "access was denied: the bot's IAM role needs athena:StartQueryExecution, "
        "athena:GetQueryExecution, athena:GetQueryResults and athena:StopQueryExecution, "
        "glue:GetTable on the table, read access to the export's S3 bucket and write access "
        "to the results location"
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

    def costs(self, query: CostQuery) -> CostResult:
        """The cost of each group of ``query.group_by`` and currency, largest first.

        Args:
            query: the period (by the UTC day the charge starts), metric, filter (tags must
                all match; accounts) and grouping. A missing dimension value is ``''``.

        Raises:
            CostSourceError: AWS refused, the query failed, went over its scan limit or took
                longer than the deadline; the message says what to do.
            UserInputError: a tag key AWS would not allow.
        """
        sql = build_cost_query(query, self.schema, Dialect.ATHENA, self.table_sql)
        execution_id = self._start(sql)
        self._wait(execution_id)
        return cost_result(query, self._rows(execution_id), self.name)

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

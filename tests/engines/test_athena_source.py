"""Athena as a cost source: moto's Athena for the round trip, botocore's Stubber for failures.

moto does not run SQL; it replays results queued through its ``/moto-api/static/athena/
query-results`` endpoint. The results queued here are what the very SQL the source sends
answers when run on DuckDB against a table of the same name and shape, so the round trip
checks the request, the paging and the conversion against an independent Python sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import duckdb
import pytest
import requests
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.athena.models import athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from engines.errors import CostSourceError, UserInputError
from engines.models import Metric, Period
from engines.query import CostQuery
from engines.sources.athena import AthenaSource
from engines.sources.base import CostFilter
from engines.sources.sql import (
    CUR,
    FOCUS,
    BillingSchema,
    Dialect,
    build_cost_query,
    table_reference,
)
from tests.engines.billing_lines import (
    CUR_LINES,
    FOCUS_LINES,
    OCTOBER,
    as_groups,
    create_cur_table,
    create_focus_table,
    cur_expected,
    focus_expected,
    query_of,
    run_like_athena,
)

REGION = "us-east-1"
TABLE = "billing.focus_1_0"
GB = 1_000_000_000
QUERY_RESULTS = "http://motoapi.amazonaws.com/moto-api/static/athena/query-results"


class FakeTime:
    """A monotonic clock that only moves when the source sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def athena_client() -> Any:
    return boto3.client(
        "athena", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def source(client: Any, time: FakeTime | None = None, **settings: Any) -> AthenaSource:
    time = time or FakeTime()
    options: dict[str, Any] = {"table": TABLE, "schema": "focus", "scan_limit_bytes": 10 * GB}
    return AthenaSource(client, **{**options, **settings}, sleep=time.sleep, clock=time.clock)


@pytest.fixture(scope="module")
def athena_like() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE SCHEMA billing")
    create_focus_table(connection, TABLE, FOCUS_LINES)
    create_cur_table(connection, "billing.cur_2_0", CUR_LINES)
    yield connection
    connection.close()


@pytest.fixture
def moto_athena() -> Iterator[Any]:
    with mock_aws():
        yield athena_client()


def queue_answer(
    connection: duckdb.DuckDBPyConnection,
    query: CostQuery,
    *,
    schema: BillingSchema = FOCUS,
    table: str = TABLE,
) -> None:
    """Queue in moto what Athena would answer: the SQL's rows (run on DuckDB), with a header."""
    sql = build_cost_query(query, schema, Dialect.ATHENA, table_reference(table))
    rows = run_like_athena(connection, sql)
    names = [f"key_{n}" for n in range(1, len(query.group_by) + 1)] + ["currency", "_col"]
    header = {"Data": [{"VarCharValue": name} for name in names]}
    data = [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows]
    answer = {
        "rows": [header, *data],
        "column_info": [{"Name": n, "Type": "varchar"} for n in names],
    }
    response = requests.post(QUERY_RESULTS, json={"region": REGION, "results": [answer]})
    assert response.status_code == 201


def last_execution() -> Any:
    executions = athena_backends[DEFAULT_ACCOUNT_ID][REGION].executions
    return list(executions.values())[-1]


# --- round trips through moto ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "tags"),
    [(("service",), {}), (("tag:env", "day"), {"team": "nlp"}), (("account", "region"), {})],
)
def test_a_round_trip_answers_as_the_python_sum(
    moto_athena: Any,
    athena_like: duckdb.DuckDBPyConnection,
    words: tuple[str, ...],
    tags: dict[str, str],
) -> None:
    query = query_of(words, tags=tags)
    queue_answer(athena_like, query)

    result = source(moto_athena).costs(query)

    assert as_groups(result) == focus_expected(FOCUS_LINES, query)
    assert result.source == "athena"
    assert all(isinstance(group.amount, Decimal) for group in result.groups)


def test_the_request_is_the_builders_sql_with_quoted_parameters(
    moto_athena: Any, athena_like: duckdb.DuckDBPyConnection
) -> None:
    query = query_of(("service",), tags={"team": "nlp' OR '1'='1"}, accounts=("012345678901",))
    queue_answer(athena_like, query)

    result = source(moto_athena).costs(query)

    execution = last_execution()
    sql = build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference(TABLE))
    assert execution.query == sql.text
    assert execution.execution_parameters == [
        "'2026-10-01 00:00:00'",
        "'2026-11-01 00:00:00'",
        "'2026-11-01 00:00:00'",
        "'team'",
        "'team'",
        "'nlp'' OR ''1''=''1'",
        "'012345678901'",
    ]
    assert "OR '1'='1" not in execution.query
    assert result.groups == ()


def test_cur_tables_are_asked_with_the_cur_schema(
    moto_athena: Any, athena_like: duckdb.DuckDBPyConnection
) -> None:
    query = query_of(("service",), metric=Metric.EFFECTIVE, tags={"team": "nlp"})
    queue_answer(athena_like, query, schema=CUR, table="billing.cur_2_0")

    result = source(moto_athena, table="billing.cur_2_0", schema="cur").costs(query)

    assert as_groups(result) == cur_expected(CUR_LINES, query)
    assert "'SavingsPlanCoveredUsage'" in last_execution().query


def test_cost_by_service_is_costs_grouped_by_service(
    moto_athena: Any, athena_like: duckdb.DuckDBPyConnection
) -> None:
    queue_answer(athena_like, query_of(("service",)))

    breakdown = source(moto_athena).cost_by_service(
        period=OCTOBER, cost_filter=CostFilter(), metric=Metric.BILLED
    )

    lines = {(line.service, line.currency): line.amount for line in breakdown.lines}
    assert lines[("(no service)", "USD")] == Decimal("12.34") + Decimal("1.01")
    assert lines[("Amazon EC2", "(no currency)")] == Decimal("0.5")


def test_a_period_with_no_lines_is_empty(
    moto_athena: Any, athena_like: duckdb.DuckDBPyConnection
) -> None:
    query = query_of(("service",), period=Period(date(2025, 1, 1), date(2025, 2, 1)))
    queue_answer(athena_like, query)

    assert source(moto_athena).costs(query).groups == ()


def test_a_queued_query_is_polled_until_it_succeeds(
    moto_athena: Any, athena_like: duckdb.DuckDBPyConnection
) -> None:
    query = query_of(("service",))
    queue_answer(athena_like, query)
    time = FakeTime()
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 3})
    try:
        result = source(moto_athena, time, poll_interval_s=0.5).costs(query)
    finally:
        state_manager.unset_transition("athena::execution")

    assert as_groups(result) == focus_expected(FOCUS_LINES, query)
    assert time.sleeps and set(time.sleeps) == {0.5}


def test_a_workgroup_that_does_not_exist_is_reported(moto_athena: Any) -> None:
    with pytest.raises(CostSourceError, match="Athena rejected the request"):
        source(moto_athena, workgroup="nope").costs(query_of(("service",)))


# --- failures (Stubber) ---------------------------------------------------------------------


def running(scanned: int = 0, state: str = "RUNNING", reason: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {
            "QueryExecutionId": "q-1",
            "Status": status,
            "Statistics": {"DataScannedInBytes": scanned},
        }
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = athena_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_the_workgroups_scan_cutoff_is_reported_in_plain_words(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    reason = "Query cancelled! : Bytes scanned limit was exceeded"
    stubber.add_response("get_query_execution", running(10 * GB + 1, "FAILED", reason))

    with pytest.raises(CostSourceError) as caught:
        source(client).costs(query_of(("service",)))

    assert "went over its scan limit of 10 GB" in str(caught.value)
    assert "BytesScannedCutoffPerQuery" in str(caught.value)


def test_a_running_query_over_the_scan_limit_is_stopped(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_execution", running(GB))
    stubber.add_response("get_query_execution", running(3 * GB))
    stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
    time = FakeTime()

    with pytest.raises(CostSourceError, match="over its scan limit of 2 GB"):
        source(client, time, scan_limit_bytes=2 * GB).costs(query_of(("service",)))

    assert time.sleeps == [1.0]


def test_a_query_past_its_deadline_is_stopped_without_real_sleeping(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    for _ in range(6):  # at 0, 2, 4, 6, 8 and 10 s
        stubber.add_response("get_query_execution", running(state="QUEUED"))
    stubber.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
    time = FakeTime()

    with pytest.raises(CostSourceError, match="took longer than 10 s, so I stopped it"):
        source(client, time, poll_interval_s=2, deadline_s=10).costs(query_of(("service",)))

    assert time.sleeps == [2, 2, 2, 2, 2]


def test_a_failed_query_says_why(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    reason = "TABLE_NOT_FOUND: line 9:8: Table 'awsdatacatalog.billing.focus_1_0' does not exist"
    stubber.add_response("get_query_execution", running(state="FAILED", reason=reason))

    with pytest.raises(CostSourceError) as caught:
        source(client).costs(query_of(("service",)))

    assert reason in str(caught.value)
    assert "Check that the table exists and is a FOCUS table" in str(caught.value)


def test_results_are_paged_and_only_the_first_page_has_a_header(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed

    def page(*rows: tuple[str, str, str], token: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ResultSet": {"Rows": [{"Data": [{"VarCharValue": v} for v in r]} for r in rows]}
        }
        if token:
            answer["NextToken"] = token
        return answer

    request = {"QueryExecutionId": "q-1", "MaxResults": 1000}
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response("get_query_execution", running(GB, "SUCCEEDED"))
    stubber.add_response(
        "get_query_results",
        page(("key_1", "currency", "_col2"), ("EC2", "USD", "1.5000000000"), token="t-2"),
        request,
    )
    stubber.add_response(
        "get_query_results",
        page(("S3", "USD", "2.2500000000"), ("EC2", "EUR", "3")),
        {**request, "NextToken": "t-2"},
    )

    result = source(client).costs(query_of(("service",)))

    assert [(g.key, g.currency, g.amount) for g in result.groups] == [
        (("EC2",), "EUR", Decimal("3")),
        (("S3",), "USD", Decimal("2.25")),
        (("EC2",), "USD", Decimal("1.5")),
    ]


def test_the_request_names_workgroup_output_location_and_parameters(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    expected = {
        "QueryString": ANY,
        "WorkGroup": "costbot",
        "ExecutionParameters": ["'2026-10-01 00:00:00'"] + ["'2026-11-01 00:00:00'"] * 2,
        "ResultConfiguration": {"OutputLocation": "s3://results/costbot/"},
    }
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, expected)
    stubber.add_response("get_query_execution", running(state="SUCCEEDED"))
    stubber.add_response("get_query_results", {"ResultSet": {"Rows": []}})

    athena = source(client, workgroup="costbot", output_location="s3://results/costbot/")

    assert athena.costs(query_of(())).groups == ()


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("AccessDeniedException", "IAM role needs athena:StartQueryExecution"),
        ("TooManyRequestsException", "throttling"),
        ("SomethingNew", "AWS returned an error"),
    ],
)
def test_client_errors_become_advice(stubbed: tuple[Any, Stubber], code: str, advice: str) -> None:
    client, stubber = stubbed
    stubber.add_client_error("start_query_execution", code, "it went wrong")

    with pytest.raises(CostSourceError, match=advice) as caught:
        source(client).costs(query_of(("service",)))

    assert f"({code}: it went wrong)" in str(caught.value)


def test_a_tag_key_aws_would_not_allow_is_refused_before_asking(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, _ = stubbed

    with pytest.raises(UserInputError):
        source(client).costs(query_of(("tag:x'); DROP TABLE t; --",)))


def test_an_unknown_schema_or_table_name_is_refused() -> None:
    with pytest.raises(ValueError, match="schema"):
        AthenaSource(object(), table=TABLE, schema="cur1", scan_limit_bytes=GB)
    with pytest.raises(UserInputError):
        AthenaSource(object(), table="db.t; DROP", schema="cur", scan_limit_bytes=GB)

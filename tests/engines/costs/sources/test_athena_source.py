"""Athena as a cost source: moto's Athena for the round trip, botocore's Stubber for failures.

moto does not run SQL; it replays results queued through its ``/moto-api/static/athena/
query-results`` endpoint. The results queued here are what the very SQL the source sends
answers when run on DuckDB against a table of the same name and shape, so the round trip
checks the request, the paging and the conversion against an independent Python sum.

moto does not implement ``GetTableMetadata`` either: the moto client has it answered, where
botocore's Stubber answers calls, with the columns of the DuckDB table as Glue lists them
(lower-case names, Hive types); the Stubber tests validate the same answer against the API's
model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import boto3
import duckdb
import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.athena.models import athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from engines.costs.query import CostQuery
from engines.costs.sources.athena import AthenaSource
from engines.costs.sources.base import CostFilter
from engines.costs.sources.schemas import CUR, FOCUS, BillingSchema, Dialect
from engines.costs.sources.sql import (
    SqlQuery,
    bad_dates_query,
    billing_periods,
    build_cost_query,
    partitioned_table,
    projected_table,
    referenced_columns,
    sql_literal,
    table_reference,
)
from engines.errors import CostSourceError, UserInputError
from engines.models import Metric, Period
from tests.engines.billing_lines import (
    CUR_LINES,
    FOCUS_LINES,
    OCTOBER,
    _focus,
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
BILLING_ACCOUNT = "999988887777"
DATE_CHECK_NAMES = ["value_1", "verdict_1", "value_2", "verdict_2"]
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
    # Data Exports' tables are partitioned by billing period: each line in its charge's month.
    for table, start in ((TABLE, "ChargePeriodStart"),
                         ("billing.cur_2_0", "line_item_usage_start_date")):  # fmt: skip
        connection.execute(f"ALTER TABLE {table} ADD COLUMN billing_period VARCHAR")
        connection.execute(f"UPDATE {table} SET billing_period = strftime({start}, '%Y-%m')")
    # FOCUS tables from providers without tags, or without sub accounts, and two whose dates
    # were written wrong: as text in US form, and as a timestamp read as year 4.
    connection.execute(
        f"CREATE TABLE billing.focus_no_tags AS SELECT * EXCLUDE (Tags) FROM {TABLE}"
    )
    connection.execute(
        "CREATE TABLE billing.focus_no_sub AS SELECT * EXCLUDE (SubAccountId), "
        f"'{BILLING_ACCOUNT}' AS BillingAccountId FROM {TABLE}"
    )
    connection.execute(
        "CREATE TABLE billing.focus_us_dates AS SELECT * REPLACE "
        f"(CAST(ChargePeriodStart AS VARCHAR) AS ChargePeriodStart) FROM {TABLE}"
    )
    connection.execute(
        "UPDATE billing.focus_us_dates SET ChargePeriodStart = '4/1/25' WHERE rowid = 2"
    )
    connection.execute(f"CREATE TABLE billing.focus_year_4 AS SELECT * FROM {TABLE}")
    connection.execute(
        "UPDATE billing.focus_year_4 SET ChargePeriodEnd = TIMESTAMP '0004-01-25 00:00:00' "
        "WHERE rowid = 2"
    )
    yield connection
    connection.close()


_GLUE_TYPES = {"VARCHAR": "string", "DOUBLE": "double", "TIMESTAMP": "timestamp", "DATE": "date"}


def catalog_columns(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """The DuckDB table's columns as the Glue catalog keeps them: lower-case, Hive types."""
    with connection.cursor() as cursor:
        described = cursor.execute(f"DESCRIBE {table}").fetchall()
    return {
        str(name).lower(): _GLUE_TYPES.get(str(kind), str(kind).lower())
        .replace("map(varchar, varchar)", "map<string,string>")
        .replace(" ", "")
        for name, kind, *_ in described
        if str(name).lower() != "billing_period"  # a partition key, not a column
    }


def table_metadata(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """``GetTableMetadata``'s answer for a Data Exports table (partitioned by billing period)."""
    return {
        "TableMetadata": {
            "Name": table.split(".")[-1],
            "CreateTime": datetime(2026, 9, 1, tzinfo=UTC),
            "TableType": "EXTERNAL_TABLE",
            "Columns": [
                {"Name": name, "Type": kind}
                for name, kind in catalog_columns(connection, table).items()
            ],
            "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        }
    }


def partitions(table: str, query: CostQuery) -> SqlQuery:
    """The table as the source reads it for ``query``: the billing periods the question
    needs (its months and one on each side), from the table's partition column."""
    periods = billing_periods(query.period, margin=1)
    return partitioned_table(table_reference(table), "billing_period", periods)


def metadata_request(table: str) -> dict[str, str]:
    database, name = table.split(".")
    return {"CatalogName": "AwsDataCatalog", "DatabaseName": database, "TableName": name}


@pytest.fixture
def moto_athena(athena_like: duckdb.DuckDBPyConnection) -> Iterator[Any]:
    with mock_aws():
        client = athena_client()

        def table_metadata_answer(params: dict[str, Any], **_: Any) -> Any:
            asked = json.loads(params["body"])
            table = f"{asked['DatabaseName']}.{asked['TableName']}"
            return AWSResponse("https://athena", 200, {}, None), table_metadata(athena_like, table)

        client.meta.events.register("before-call.athena.GetTableMetadata", table_metadata_answer)
        yield client


def date_check(
    connection: duckdb.DuckDBPyConnection, schema: BillingSchema, table: str
) -> SqlQuery:
    """The one query checking the table's date columns, as the source sends it."""
    types = catalog_columns(connection, table)
    dates = {column: types[column.lower()] for column in schema.dates if column.lower() in types}
    sql = bad_dates_query(table_reference(table), dates)
    assert sql is not None
    return sql


def result_names(query: CostQuery) -> list[str]:
    return [f"key_{n}" for n in range(1, len(query.group_by) + 1)] + ["currency", "_col"]


def athena_answer(
    connection: duckdb.DuckDBPyConnection, sql: SqlQuery, names: list[str]
) -> list[dict[str, Any]]:
    """The rows of ``get_query_results``: a header, then the SQL's rows run on DuckDB."""
    header = {"Data": [{"VarCharValue": name} for name in names]}
    rows = run_like_athena(connection, sql)
    return [
        header,
        *({"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows),
    ]


def queue_answer(
    connection: duckdb.DuckDBPyConnection,
    query: CostQuery,
    *,
    schema: BillingSchema = FOCUS,
    table: str = TABLE,
    first_question: bool = True,
) -> None:
    """Queue in moto what Athena would answer: the SQL's rows (run on DuckDB), with a header;
    before a source's first question, the answer of its date check."""
    names = result_names(query)
    answers = [(build_cost_query(query, schema, Dialect.ATHENA, partitions(table, query)), names)]
    if first_question:
        check = date_check(connection, schema, table)
        answers.insert(0, (check, DATE_CHECK_NAMES))
    results = [
        {
            "rows": athena_answer(connection, sql, columns),
            "column_info": [{"Name": n, "Type": "varchar"} for n in columns],
        }
        for sql, columns in answers
    ]
    response = requests.post(QUERY_RESULTS, json={"region": REGION, "results": results})
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
    sql = build_cost_query(query, FOCUS, Dialect.ATHENA, partitions(TABLE, query))
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


def deny_table_metadata(stubber: Stubber, table: str = TABLE) -> None:
    message = "User is not authorized to perform: athena:GetTableMetadata"
    stubber.add_client_error(
        "get_table_metadata", "AccessDeniedException", message, 400, None, metadata_request(table)
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    """A stubbed client; the catalog refuses to list the table's columns, as it may."""
    client = athena_client()
    with Stubber(client) as stubber:
        deny_table_metadata(stubber)
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


def test_a_tag_key_aws_would_not_allow_is_refused_before_asking() -> None:
    client = athena_client()
    with Stubber(client) as stubber:  # nothing stubbed: any call would fail the test
        with pytest.raises(UserInputError):
            source(client).costs(query_of(("tag:x'); DROP TABLE t; --",)))
        stubber.assert_no_pending_responses()


def test_an_unknown_schema_or_table_name_is_refused() -> None:
    with pytest.raises(ValueError, match="schema"):
        AthenaSource(object(), table=TABLE, schema="cur1", scan_limit_bytes=GB)
    with pytest.raises(UserInputError):
        AthenaSource(object(), table="db.t; DROP", schema="cur", scan_limit_bytes=GB)


# --- tables lacking conditional columns, and dates written wrong (Stubber) -----------------


def expect_query(
    stubber: Stubber,
    connection: duckdb.DuckDBPyConnection,
    sql: SqlQuery,
    names: list[str],
    execution_id: str,
) -> None:
    """Expect ``sql`` to be sent as it is; answer with its rows when run on DuckDB."""
    request: dict[str, Any] = {"QueryString": sql.text, "WorkGroup": "primary"}
    if sql.params:
        request["ExecutionParameters"] = [sql_literal(value) for value in sql.params]
    asked = {"QueryExecutionId": execution_id}
    stubber.add_response("start_query_execution", asked, request)
    stubber.add_response("get_query_execution", running(GB, "SUCCEEDED"), asked)
    rows = athena_answer(connection, sql, names)
    stubber.add_response(
        "get_query_results", {"ResultSet": {"Rows": rows}}, {**asked, "MaxResults": 1000}
    )


def expect_columns_and_dates(
    stubber: Stubber, connection: duckdb.DuckDBPyConnection, table: str
) -> None:
    """What a source asks before its first question: the table's columns, then its dates."""
    stubber.add_response(
        "get_table_metadata", table_metadata(connection, table), metadata_request(table)
    )
    sql = date_check(connection, FOCUS, table)
    expect_query(stubber, connection, sql, DATE_CHECK_NAMES, "dates-1")


def cost_sql(query: CostQuery, table: str, reads: dict[str, str | None]) -> SqlQuery:
    """The cost query reading the table through a subquery giving each column as ``reads``."""
    columns = {column: reads.get(column, column) for column in referenced_columns(query, FOCUS)}
    projected = projected_table(partitions(table, query), FOCUS, columns)
    return build_cost_query(query, FOCUS, Dialect.ATHENA, projected)


def test_a_focus_table_without_tags_answers_everything_untagged_with_one_note(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    table = "billing.focus_no_tags"
    by_team = query_of(("tag:team", "service"))
    team_nlp = query_of(("service",), tags={"team": "nlp"})
    client = athena_client()
    with Stubber(client) as stubber:
        expect_columns_and_dates(stubber, athena_like, table)
        sql = cost_sql(by_team, table, {"Tags": None})
        expect_query(stubber, athena_like, sql, result_names(by_team), "q-1")
        # the second question asks neither the catalog nor the dates again
        sql = cost_sql(team_nlp, table, {"Tags": None})
        expect_query(stubber, athena_like, sql, result_names(team_nlp), "q-2")

        athena = source(client, table=table)
        answer, nlp_answer = athena.costs(by_team), athena.costs(team_nlp)
        stubber.assert_no_pending_responses()

    untagged = [{**line, "Tags": None} for line in FOCUS_LINES]
    assert as_groups(answer) == focus_expected(untagged, by_team)
    assert answer.groups and {group.key[0] for group in answer.groups} == {""}
    note = (
        "The FOCUS table billing.focus_no_tags has no Tags column (FOCUS makes it "
        "conditional): its costs count as untagged (tag rules match none of them)."
    )
    assert answer.notes == (note,)
    assert nlp_answer.groups == ()
    assert nlp_answer.notes == (note,)


def test_a_focus_table_without_sub_accounts_matches_accounts_by_billing_account(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    table = "billing.focus_no_sub"
    query = query_of(("account", "service"), accounts=(BILLING_ACCOUNT,))
    client = athena_client()
    with Stubber(client) as stubber:
        expect_columns_and_dates(stubber, athena_like, table)
        sql = cost_sql(query, table, {"SubAccountId": "BillingAccountId"})
        expect_query(stubber, athena_like, sql, result_names(query), "q-1")

        answer = source(client, table=table).costs(query)
        stubber.assert_no_pending_responses()

    billed_to = [{**line, "SubAccountId": BILLING_ACCOUNT} for line in FOCUS_LINES]
    assert as_groups(answer) == focus_expected(billed_to, query)
    assert answer.groups and {group.key[0] for group in answer.groups} == {BILLING_ACCOUNT}
    assert answer.notes == (
        "The FOCUS table billing.focus_no_sub has no SubAccountId column (FOCUS makes it "
        "conditional): accounts are matched by its BillingAccountId.",
    )


@pytest.mark.parametrize(
    ("table", "refusal"),
    [
        (
            "billing.focus_us_dates",
            "Athena table billing.focus_us_dates, ChargePeriodStart: '4/1/25' is not an ISO "
            "8601 date (e.g. 2025-04-01T00:00:00Z)",
        ),
        (
            "billing.focus_year_4",
            "Athena table billing.focus_year_4, ChargePeriodEnd: '0004-01-25 00:00:00' is "
            "outside the years 2000–2100",
        ),
    ],
)
def test_a_table_with_dates_that_are_not_iso_8601_in_2000_to_2100_is_refused(
    athena_like: duckdb.DuckDBPyConnection, table: str, refusal: str
) -> None:
    client = athena_client()
    with Stubber(client) as stubber:
        expect_columns_and_dates(stubber, athena_like, table)  # and no cost query

        with pytest.raises(CostSourceError) as caught:
            source(client, table=table).costs(query_of(("service",)))
        stubber.assert_no_pending_responses()

    assert refusal in str(caught.value)


def test_the_date_check_finds_nothing_in_good_text_dates(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    good = SqlQuery(
        "(SELECT * FROM (VALUES ('2025-04-01T00:00:00Z'), ('2025-04-01'), "
        "('2100-12-31 23:59:59.123+02:00'), (''), (NULL)) AS t(ChargePeriodStart))"
    )
    bad = SqlQuery(
        "(SELECT * FROM (VALUES ('2025-04-01'), ('2025-13-01')) AS t(ChargePeriodStart))"
    )
    check = {"ChargePeriodStart": "string"}

    assert run_like_athena(athena_like, bad_dates_query(good, check) or SqlQuery("")) == []
    assert run_like_athena(athena_like, bad_dates_query(bad, check) or SqlQuery("")) == [
        ("2025-13-01", "format")
    ]


@pytest.mark.parametrize("code", ["AccessDeniedException", "InvalidRequestException"])
def test_without_the_catalogs_columns_the_table_is_read_as_before(
    athena_like: duckdb.DuckDBPyConnection, code: str
) -> None:
    query = query_of(("service",), tags={"team": "nlp"})
    plain = build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference(TABLE))
    client = athena_client()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_table_metadata", code, "not allowed here", 400, None, metadata_request(TABLE)
        )
        expect_query(stubber, athena_like, plain, result_names(query), "q-1")
        expect_query(stubber, athena_like, plain, result_names(query), "q-2")  # asked once

        athena = source(client)
        answers = [athena.costs(query), athena.costs(query)]
        stubber.assert_no_pending_responses()

    for answer in answers:
        assert as_groups(answer) == focus_expected(FOCUS_LINES, query)
        assert answer.notes == ()


def test_a_table_without_a_column_every_export_has_is_refused_by_name(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    metadata = table_metadata(athena_like, TABLE)
    columns = metadata["TableMetadata"]["Columns"]
    metadata["TableMetadata"]["Columns"] = [c for c in columns if c["Name"] != "servicename"]
    client = athena_client()
    with Stubber(client) as stubber:
        stubber.add_response("get_table_metadata", metadata, metadata_request(TABLE))

        with pytest.raises(CostSourceError) as caught:
            source(client).costs(query_of(("service",)))
        stubber.assert_no_pending_responses()

    assert str(caught.value) == (
        "Athena table billing.focus_1_0 has no column 'ServiceName': is it a FOCUS 1.x table?"
    )


def test_a_throttled_catalog_is_asked_again_at_the_next_question(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    query = query_of(("tag:team",))
    plain = build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference(TABLE))
    client = athena_client()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "get_table_metadata",
            "ThrottlingException",
            "Rate exceeded",
            400,
            None,
            metadata_request(TABLE),
        )
        expect_query(stubber, athena_like, plain, result_names(query), "q-1")
        expect_columns_and_dates(stubber, athena_like, TABLE)  # asked again, then the dates
        pruned = build_cost_query(query, FOCUS, Dialect.ATHENA, partitions(TABLE, query))
        expect_query(stubber, athena_like, pruned, result_names(query), "q-2")

        athena = source(client)
        first, second = athena.costs(query), athena.costs(query)
        stubber.assert_no_pending_responses()

    assert as_groups(first) == as_groups(second) == focus_expected(FOCUS_LINES, query)
    assert first.notes == second.notes == ()


# --- partitions: only the billing periods a question needs ----------------------------------


def partitioned_focus_table(
    connection: duckdb.DuckDBPyConnection, table: str, lines: list[dict[str, Any]]
) -> None:
    """A FOCUS table partitioned by billing period, each line billed where ``billed_in`` says
    (its charge's month unless given)."""
    create_focus_table(connection, table, lines)
    connection.execute(f"ALTER TABLE {table} ADD COLUMN billing_period VARCHAR")
    connection.execute(f"UPDATE {table} SET billing_period = strftime(ChargePeriodStart, '%Y-%m')")
    for line in lines:
        if "billed_in" in line:
            connection.execute(
                f"UPDATE {table} SET billing_period = ? WHERE ChargePeriodStart = ?",
                [line["billed_in"], line["ChargePeriodStart"]],
            )


def test_a_question_reads_only_its_billing_periods_and_their_neighbours(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    table = "billing.focus_by_period"
    lines = [
        *FOCUS_LINES,
        # Charged in October's last hour, billed in November: October counts it.
        {**_focus("2026-10-31T23:00:00Z", "7.25", "Amazon EC2", tags={"team": "nlp"}),
         "billed_in": "2026-11"},
        # A year before: another partition, never read for October.
        _focus("2025-10-15T00:00:00Z", "1000", "Amazon EC2", tags={"team": "nlp"}),
    ]  # fmt: skip
    partitioned_focus_table(athena_like, table, lines)
    query = query_of(("service",), tags={"team": "nlp"})
    client = athena_client()
    with Stubber(client) as stubber:
        expect_columns_and_dates(stubber, athena_like, table)
        sql = build_cost_query(query, FOCUS, Dialect.ATHENA, partitions(table, query))
        expect_query(stubber, athena_like, sql, result_names(query), "q-1")

        answer = source(client, table=table).costs(query)
        stubber.assert_no_pending_responses()

    assert "\"billing_period\" IN ('2026-09', '2026-10', '2026-11')" in sql.text
    assert as_groups(answer) == focus_expected(lines, query)  # the whole table's answer
    assert as_groups(answer)[(("Amazon EC2",), "USD")] > Decimal("7.25")


def test_a_quarter_reads_its_three_periods_and_one_on_each_side() -> None:
    quarter = Period(date(2026, 7, 1), date(2026, 10, 1))
    assert billing_periods(quarter) == ("2026-07", "2026-08", "2026-09")
    assert billing_periods(quarter, margin=1) == (
        "2026-06", "2026-07", "2026-08", "2026-09", "2026-10",
    )  # fmt: skip
    new_year = Period(date(2026, 12, 30), date(2027, 1, 2))
    assert billing_periods(new_year, margin=1) == ("2026-11", "2026-12", "2027-01", "2027-02")


def test_a_table_not_partitioned_by_billing_period_is_read_whole(
    athena_like: duckdb.DuckDBPyConnection,
) -> None:
    query = query_of(("service",))
    metadata = table_metadata(athena_like, TABLE)
    metadata["TableMetadata"]["PartitionKeys"] = [{"Name": "year", "Type": "string"}]
    client = athena_client()
    with Stubber(client) as stubber:
        stubber.add_response("get_table_metadata", metadata, metadata_request(TABLE))
        expect_query(
            stubber, athena_like, date_check(athena_like, FOCUS, TABLE), DATE_CHECK_NAMES, "d-1"
        )
        plain = build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference(TABLE))
        expect_query(stubber, athena_like, plain, result_names(query), "q-1")

        answer = source(client).costs(query)
        stubber.assert_no_pending_responses()

    assert "billing_period" not in plain.text
    assert as_groups(answer) == focus_expected(FOCUS_LINES, query)

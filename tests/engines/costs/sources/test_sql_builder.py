"""The SQL builder, proven by running its Athena SQL on DuckDB.

Athena's SQL for a FOCUS or CUR 2.0 table runs unchanged on a DuckDB table of the same name
and shape, with each parameter put in as the quoted literal Athena would substitute. Its
answer must equal a Python sum over the lines and the answer of the DuckDB file sources
reading the same lines from Parquet (the DuckDB dialect).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engines.costs.query import CostQuery, CostResult, Dimension
from engines.costs.sources.answers import cost_result, service_breakdown
from engines.costs.sources.base import CostFilter
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import FocusFileSource
from engines.costs.sources.schemas import (
    CUR,
    FOCUS,
    FOCUS_JSON_TAGS,
    BillingSchema,
    Dialect,
    cur_tag_key,
)
from engines.costs.sources.sql import (
    SqlQuery,
    bad_dates_query,
    build_cost_query,
    projected_table,
    referenced_columns,
    table_reference,
)
from engines.errors import UserInputError
from engines.models import Metric, Period
from tests.engines.billing_lines import (
    CUR_LINES,
    DIMENSION_SETS,
    FOCUS_LINES,
    OCTOBER,
    create_cur_table,
    create_focus_table,
    cur_expected,
    focus_expected,
    query_of,
    run_like_athena,
    write_cur_parquet,
    write_focus_parquet,
)

FOCUS_TABLE = "billing.focus_1_0"
CUR_TABLE = "billing.cur_2_0"


@pytest.fixture(scope="module")
def athena_like() -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB holding the two tables as Athena would see them (same names, same shapes)."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE SCHEMA billing")
    create_focus_table(connection, FOCUS_TABLE, FOCUS_LINES)
    create_cur_table(connection, CUR_TABLE, CUR_LINES)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    return {
        "focus-json": write_focus_parquet(folder / "focus-json.parquet", FOCUS_LINES),
        "focus-map": write_focus_parquet(folder / "focus-map.parquet", FOCUS_LINES, tags_as="map"),
        "cur": write_cur_parquet(folder / "cur.parquet", CUR_LINES),
    }


@pytest.fixture(scope="module")
def files(exports: dict[str, Path]) -> dict[str, FocusFileSource | CurFileSource]:
    """The same lines read from Parquet by the file sources (one each: answers differ by query)."""
    return {
        "focus-json": FocusFileSource(str(exports["focus-json"])),
        "focus-map": FocusFileSource(str(exports["focus-map"])),
        "cur": CurFileSource(str(exports["cur"])),
    }


def athena_answer(
    connection: duckdb.DuckDBPyConnection, query: CostQuery, schema: BillingSchema, table: str
) -> CostResult:
    """The answer of Athena's SQL for ``query``, run on DuckDB as Athena would run it."""
    sql = build_cost_query(query, schema, Dialect.ATHENA, table_reference(table))
    return cost_result(query, run_like_athena(connection, sql), "athena")


def groups(result: CostResult) -> dict[tuple[tuple[str, ...], str], Decimal]:
    return {(group.key, group.currency): group.amount for group in result.groups}


# --- the same SQL on both engines -----------------------------------------------------------


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("words", DIMENSION_SETS, ids=lambda words: "+".join(words) or "total")
def test_focus_athena_sql_on_duckdb_equals_the_python_sum_and_the_file_source(
    athena_like: duckdb.DuckDBPyConnection,
    files: dict[str, FocusFileSource | CurFileSource],
    words: tuple[str, ...],
    metric: Metric,
) -> None:
    query = query_of(words, metric=metric)

    athena = athena_answer(athena_like, query, FOCUS, FOCUS_TABLE)

    assert groups(athena) == focus_expected(FOCUS_LINES, query)
    for export in ("focus-json", "focus-map"):
        assert files[export].costs(query).groups == athena.groups


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("words", DIMENSION_SETS, ids=lambda words: "+".join(words) or "total")
def test_cur_athena_sql_on_duckdb_equals_the_python_sum_and_the_file_source(
    athena_like: duckdb.DuckDBPyConnection,
    files: dict[str, FocusFileSource | CurFileSource],
    words: tuple[str, ...],
    metric: Metric,
) -> None:
    query = query_of(words, metric=metric)

    athena = athena_answer(athena_like, query, CUR, CUR_TABLE)

    assert groups(athena) == cur_expected(CUR_LINES, query)
    assert files["cur"].costs(query).groups == athena.groups


@pytest.mark.parametrize(
    ("tags", "accounts"),
    [
        ({"team": "nlp"}, ()),
        ({"team": "nlp", "env": "prod"}, ()),
        ({"user:cost.center": "ml"}, ()),
        ({"éq": "naïve"}, ()),
        ({}, ("444455556666", "111122223333")),
        ({"team": "nlp"}, ("012345678901",)),
        ({"team": "nobody"}, ()),
        ({"team": "nlp' OR '1'='1"}, ()),
    ],
)
def test_focus_filters_agree_on_both_engines(
    athena_like: duckdb.DuckDBPyConnection,
    files: dict[str, FocusFileSource | CurFileSource],
    tags: dict[str, str],
    accounts: tuple[str, ...],
) -> None:
    query = query_of(("service", "tag:env"), tags=tags, accounts=accounts)

    athena = athena_answer(athena_like, query, FOCUS, FOCUS_TABLE)

    assert groups(athena) == focus_expected(FOCUS_LINES, query)
    assert files["focus-json"].costs(query).groups == athena.groups


@pytest.mark.parametrize(
    "tags",
    [{"team": "nlp"}, {"aws:createdBy": "alice"}, {"CostCenter": "R&D 'x' \"y\""}, {"env": "x'"}],
)
def test_cur_tag_filters_agree_on_both_engines(
    athena_like: duckdb.DuckDBPyConnection,
    files: dict[str, FocusFileSource | CurFileSource],
    tags: dict[str, str],
) -> None:
    query = query_of(("account",), tags=tags)

    athena = athena_answer(athena_like, query, CUR, CUR_TABLE)

    assert groups(athena) == cur_expected(CUR_LINES, query)
    assert files["cur"].costs(query).groups == athena.groups


@pytest.mark.parametrize("wanted", ["i-", "bucket", "nb-1", "nothing-has-this"])
def test_a_resource_id_filter_agrees_on_both_engines_and_with_python(
    athena_like: duckdb.DuckDBPyConnection,
    files: dict[str, FocusFileSource | CurFileSource],
    wanted: str,
) -> None:
    """Lines whose resource id contains a text: what the digest asks to find endpoints."""
    import dataclasses

    plain = query_of(("resource", "tag:team"))
    query = dataclasses.replace(plain, cost_filter=CostFilter(resource_contains=wanted))
    kept = [line for line in FOCUS_LINES if wanted in (line["ResourceId"] or "")]
    kept_cur = [line for line in CUR_LINES if wanted in (line["line_item_resource_id"] or "")]

    assert groups(athena_answer(athena_like, query, FOCUS, FOCUS_TABLE)) == (
        focus_expected(kept, plain)
    )
    assert groups(files["focus-json"].costs(query)) == focus_expected(kept, plain)
    assert groups(files["cur"].costs(query)) == cur_expected(kept_cur, plain)
    assert query.cache_key() != plain.cache_key()


def test_a_period_outside_the_data_is_empty_on_both_engines(
    athena_like: duckdb.DuckDBPyConnection, files: dict[str, FocusFileSource | CurFileSource]
) -> None:
    from datetime import date

    query = query_of(("service",), period=Period(date(2025, 1, 1), date(2025, 2, 1)))

    assert athena_answer(athena_like, query, FOCUS, FOCUS_TABLE).groups == ()
    assert files["focus-json"].costs(query).groups == ()


# --- parameters, never SQL ------------------------------------------------------------------

HOSTILE_VALUE = "x' OR '1'='1' --"
HOSTILE_KEY = "te\"am'); DROP TABLE t; --"


@pytest.mark.parametrize("schema", [FOCUS, FOCUS_JSON_TAGS, CUR], ids=lambda s: s.name)
@pytest.mark.parametrize("dialect", list(Dialect))
def test_user_values_are_parameters_not_sql_text(schema: BillingSchema, dialect: Dialect) -> None:
    query = query_of(
        ("service",), tags={"team": HOSTILE_VALUE}, accounts=("') OR 1=1 --", "012345678901")
    )

    sql = build_cost_query(query, schema, dialect, table_reference("db.t"))

    assert HOSTILE_VALUE not in sql.text
    assert "OR 1=1" not in sql.text
    assert "012345678901" not in sql.text
    assert HOSTILE_VALUE in sql.params
    assert sql.text.count("?") == len(sql.params)


def test_duckdb_takes_any_tag_key_as_a_parameter() -> None:
    query = query_of(("tag:" + HOSTILE_KEY,), tags={HOSTILE_KEY: "v"})

    sql = build_cost_query(query, FOCUS_JSON_TAGS, Dialect.DUCKDB, table_reference("t"))

    assert "DROP" not in sql.text
    assert sum("DROP" in param for param in sql.params) == 2  # grouped by and filtered on


@pytest.mark.parametrize("words", [("tag:" + HOSTILE_KEY,), ()])
def test_athena_refuses_a_tag_key_aws_would_not_allow(words: tuple[str, ...]) -> None:
    query = query_of(words, tags={HOSTILE_KEY: "v"} if not words else None)

    with pytest.raises(UserInputError, match="not a tag key AWS allows"):
        build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference("db.t"))


def test_athena_writes_a_grouped_tag_key_as_a_literal_and_filters_by_parameters() -> None:
    query = query_of(("tag:cost-center",), tags={"team": "nlp"})

    sql = build_cost_query(query, FOCUS, Dialect.ATHENA, table_reference("db.t"))
    select_list = sql.text.split("WHERE")[0]

    assert "?" not in select_list  # Athena takes parameters only in WHERE
    assert "'cost-center'" in select_list
    month_end = "2026-11-01 00:00:00"  # the period's end, for the charge's end too
    assert sql.params == ("2026-10-01 00:00:00", month_end, month_end, "team", "team", "nlp")


def test_the_athena_sql_uses_no_duckdb_only_syntax() -> None:
    query = query_of(("service", "tag:team", "day", "region"), tags={"env": "prod"})

    for schema in (FOCUS, FOCUS_JSON_TAGS, CUR):
        text = build_cost_query(query, schema, Dialect.ATHENA, table_reference("db.t")).text
        for duckdb_only in ("::", "GROUP BY ALL", "json_extract_string", "json_valid", "list_"):
            assert duckdb_only not in text


def test_the_athena_column_and_date_checks_use_no_duckdb_only_syntax() -> None:
    query = query_of(("service", "tag:team", "account"))
    columns = dict.fromkeys(referenced_columns(query, FOCUS), None)
    lacking = build_cost_query(
        query, FOCUS, Dialect.ATHENA, projected_table(table_reference("db.t"), FOCUS, columns)
    )
    dates = {"ChargePeriodStart": "string", "ChargePeriodEnd": "timestamp"}
    checked = bad_dates_query(table_reference("db.t"), dates)

    assert checked is not None and "?" not in checked.text  # no parameter marks to fill
    for text in (lacking.text, checked.text):
        for duckdb_only in ("::", "regexp_matches", "regexp_full_match", "TIMESTAMPTZ"):
            assert duckdb_only not in text
    assert 'CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS "Tags"' in lacking.text


@pytest.mark.parametrize("name", ["db.t; DROP", 'db."t"', "a.b.c", "", "db t"])
def test_a_table_name_with_anything_but_name_characters_is_refused(name: str) -> None:
    with pytest.raises(UserInputError, match="not a table name"):
        table_reference(name)


def test_a_table_reference_is_quoted() -> None:
    assert table_reference("cost_db.focus-export") == SqlQuery('"cost_db"."focus-export"')


# --- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "stored"),
    [
        ("team", "user_team"),
        ("CostCenter", "user_cost_center"),
        ("cost-center", "user_cost_center"),
        ("user:team", "user_team"),
        ("user_team", "user_team"),
        ("aws:createdBy", "aws_created_by"),
        ("aws_created_by", "aws_created_by"),
    ],
)
def test_cur_tag_keys_follow_the_aws_prefix_and_snake_case(key: str, stored: str) -> None:
    assert cur_tag_key(key) == stored


def test_only_the_columns_a_question_needs_are_read() -> None:
    plain = query_of(("service",))
    tagged = query_of(("region", "tag:team"), metric=Metric.LIST, accounts=("1",))

    assert referenced_columns(plain, FOCUS) == (
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "BilledCost",
        "BillingCurrency",
        "ServiceName",
    )
    assert referenced_columns(tagged, FOCUS) == (
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ListCost",
        "BillingCurrency",
        "RegionId",
        "Tags",
        "SubAccountId",
    )
    assert "savings_plan_used_commitment" in referenced_columns(
        query_of((), metric=Metric.EFFECTIVE), CUR
    )


# --- answers --------------------------------------------------------------------------------


def test_rows_become_decimal_groups_sorted_largest_first() -> None:
    query = query_of(("service",))
    rows = [
        ("Amazon S3", "USD", "3.3000000000"),
        ("Amazon EC2", "USD", "120.2500000000"),
        (None, "USD", "1.0000000000"),
        ("Amazon EC2", "EUR", "120.2500000000"),
        ("Amazon EC2", None, "5"),
        ("Nothing", "USD", None),
    ]

    result = cost_result(query, rows, "test")

    assert [(g.key, g.currency, g.amount) for g in result.groups] == [
        (("Amazon EC2",), "EUR", Decimal("120.25")),
        (("Amazon EC2",), "USD", Decimal("120.25")),
        (("Amazon EC2",), "", Decimal("5")),
        (("Amazon S3",), "USD", Decimal("3.3")),
        (("",), "USD", Decimal("1")),
    ]
    assert all(isinstance(g.amount, Decimal) for g in result.groups)
    assert str(result.groups[0].amount) == "120.25"


def test_a_service_breakdown_names_the_unknowns() -> None:
    query = CostQuery(
        period=OCTOBER, cost_filter=CostFilter(), group_by=(Dimension.parse("service"),)
    )
    result = cost_result(query, [("", "USD", "2"), ("EC2", "", "1")], "test")

    breakdown = service_breakdown(result)

    assert [(line.service, line.currency) for line in breakdown.lines] == [
        ("(no service)", "USD"),
        ("EC2", "(no currency)"),
    ]
    assert breakdown.period == OCTOBER and breakdown.source == "test"

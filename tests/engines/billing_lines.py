"""Billing lines for the SQL builder and file source tests, and the answers expected of them.

The lines are typed Python values (UTC datetimes, ``Decimal`` amounts, dicts for maps). They
are written as FOCUS or CUR 2.0 tables and files by the writers below; the expected answer is
computed here in plain Python, independently of the SQL under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engines.costs.query import CostQuery, CostResult, Dimension, DimensionKind
from engines.costs.sources.base import CostFilter
from engines.costs.sources.sql import SqlQuery, sql_literal
from engines.models import Metric, Period

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1), "October 2026")
Groups = dict[tuple[tuple[str, ...], str], Decimal]
Line = dict[str, Any]
CENT = Decimal("0.01")


def at(text: str) -> dt.datetime:
    """A UTC instant as a naive datetime (how Parquet and Athena ``timestamp`` hold it)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# --- FOCUS ----------------------------------------------------------------------------------

FOCUS_TEXT_COLUMNS = (
    "BillingCurrency",
    "ServiceName",
    "SubAccountId",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "ChargeCategory",
)
FOCUS_MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost")
NLP = {"team": "nlp", "env": "prod"}
ODD = {"team": "nlp", "user:cost.center": "ml", "o'k\"ey": 'it\'s "quoted"', "éq": "naïve"}


def _focus(
    start: str,
    billed: str | None,
    service: str | None,
    *,
    currency: str | None = "USD",
    account: str | None = "012345678901",
    region: str | None = "us-east-1",
    resource: str | None = None,
    category: str | None = "Usage",
    tags: dict[str, str] | None = None,
    effective: str | None = "same",
    listed: str | None = "same",
    end: str | None = None,
    name: str | None = None,
) -> Line:
    return {
        "ChargePeriodStart": at(start),
        "ChargePeriodEnd": at(end) if end else at(start) + dt.timedelta(hours=1),
        "BilledCost": money(billed),
        "EffectiveCost": money(billed if effective == "same" else effective),
        "ListCost": money(billed if listed == "same" else listed),
        "BillingCurrency": currency,
        "ServiceName": service,
        "SubAccountId": account,
        "RegionId": region,
        "ResourceId": resource,
        "ResourceName": name,
        "ChargeCategory": category,
        "Tags": tags,
    }


FOCUS_LINES: list[Line] = [
    _focus("2026-10-01T00:00:00Z", "120.25", "Amazon EC2", resource="i-1", tags=NLP, effective="100.1", listed="150"),  # noqa: E501
    _focus("2026-10-15T06:00:00Z", "0.000123", "Amazon EC2", resource="i-1", tags=NLP, effective="0.0001"),  # noqa: E501
    _focus("2026-09-30T20:00:00-04:00", "3.333333", "Amazon S3", region="us-west-2", resource="bucket-a", tags=NLP, name="nlp-datasets"),  # noqa: E501
    _focus("2026-09-30T23:59:59Z", "999", "Amazon S3", tags=NLP),  # September in UTC
    _focus("2026-10-02T00:00:00Z", "50", "Amazon EC2", account="111122223333", resource="i-2", tags={"team": "fraud-detection"}),  # noqa: E501
    _focus("2026-10-31T23:00:00Z", "12.34", None, region=None, category="Tax"),
    _focus("2026-10-05T00:00:00Z", "-20", "Amazon EC2", category="Credit", tags=NLP, listed="0"),
    _focus("2026-10-06T00:00:00Z", "-1.5", "Amazon EC2", category="Adjustment", tags=NLP),
    _focus("2026-10-03T00:00:00Z", "300", "Amazon EC2", resource="ri-1", category="Purchase", effective="0"),  # noqa: E501
    _focus("2026-10-07T12:00:00Z", "45.678", "Amazon SageMaker", currency="EUR", account="444455556666", region="eu-west-1", resource="nb-1", tags={"team": "nlp"}),  # noqa: E501
    _focus("2026-10-08T00:00:00Z", "1234", "Amazon EC2", currency="JPY", account="444455556666", region="ap-northeast-1", tags={"team": "vision"}),  # noqa: E501
    _focus("2026-10-08T00:00:00Z", None, "Amazon EC2", tags=NLP, effective=None, listed=None),
    _focus("2026-10-09T00:00:00Z", "1.01", None, account=None, region=None, tags={}),
    _focus("2026-10-10T00:00:00Z", "2", "AWS Lambda", resource="fn-1", tags={"team": ""}),
    _focus("2026-11-01T00:00:00Z", "7", "AWS Lambda", tags=NLP),  # November
    _focus("2026-10-11T00:00:00Z", "0.5", "Amazon EC2", currency=None, tags=ODD),
    _focus("2026-10-12T00:00:00Z", "0.25", "Amazon Bedrock", resource="model-1", tags=ODD),
    # A month's support fee: only in periods holding all of October.
    _focus("2026-10-01T00:00:00Z", "100", "AWS Support", category="Fee", end="2026-11-01T00:00:00Z"),  # noqa: E501
]  # fmt: skip


def focus_expected(lines: Iterable[Line], query: CostQuery) -> Groups:
    """The groups ``query`` should find in FOCUS ``lines``, summed here in Python."""
    column = {
        Metric.BILLED: "BilledCost",
        Metric.EFFECTIVE: "EffectiveCost",
        Metric.LIST: "ListCost",
    }
    return _expected(
        lines,
        query,
        amount=lambda line: line[column[query.metric]],
        start=lambda line: line["ChargePeriodStart"],
        end=lambda line: line["ChargePeriodEnd"],
        tags=lambda line: line["Tags"] or {},
        account=lambda line: line["SubAccountId"],
        currency=lambda line: line["BillingCurrency"],
        dimension=_focus_dimension,
    )


def _focus_dimension(line: Line, dimension: Dimension) -> str | None:
    kind = dimension.kind
    if kind is DimensionKind.TAG:
        return (line["Tags"] or {}).get(dimension.tag_key)
    if kind is DimensionKind.DAY:
        return line["ChargePeriodStart"].date().isoformat()
    if kind is DimensionKind.RESOURCE and line["ResourceName"] and line["ResourceId"]:
        return f"{line['ResourceName']} ({line['ResourceId']})"  # what people read
    column = {
        DimensionKind.SERVICE: "ServiceName",
        DimensionKind.ACCOUNT: "SubAccountId",
        DimensionKind.REGION: "RegionId",
        DimensionKind.RESOURCE: "ResourceId",
        DimensionKind.CHARGE_CATEGORY: "ChargeCategory",
    }[kind]
    value: str | None = line[column]
    return value


FOCUS_TABLE_DDL = """
    CREATE TABLE {name} (
        ChargePeriodStart TIMESTAMP, ChargePeriodEnd TIMESTAMP,
        BilledCost DOUBLE, EffectiveCost DOUBLE, ListCost DOUBLE,
        BillingCurrency VARCHAR, ServiceName VARCHAR, SubAccountId VARCHAR, RegionId VARCHAR,
        ResourceId VARCHAR, ResourceName VARCHAR, ChargeCategory VARCHAR,
        Tags MAP(VARCHAR, VARCHAR)
    )
"""


def create_focus_table(connection: duckdb.DuckDBPyConnection, name: str, lines: list[Line]) -> None:
    """A table shaped as AWS Data Exports' FOCUS 1.0 in Athena: double costs, map tags."""
    connection.execute(FOCUS_TABLE_DDL.format(name=name))
    connection.executemany(
        f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "CASE WHEN ? THEN MAP(?::VARCHAR[], ?::VARCHAR[]) END)",
        [
            [
                line["ChargePeriodStart"],
                line["ChargePeriodEnd"],
                *(_float(line[c]) for c in FOCUS_MONEY_COLUMNS),
                *(line[c] for c in FOCUS_TEXT_COLUMNS),
                line["Tags"] is not None,
                list((line["Tags"] or {}).keys()),
                list((line["Tags"] or {}).values()),
            ]
            for line in lines
        ],
    )


def write_focus_parquet(path: Path, lines: list[Line], *, tags_as: str = "json") -> Path:
    """FOCUS Parquet as an export writes it: UTC timestamps, decimal costs, tags JSON or map."""
    tags: pa.Array
    if tags_as == "json":
        tags = pa.array([_json_or_none(line["Tags"]) for line in lines], pa.string())
    else:
        tags = pa.array(
            [None if line["Tags"] is None else list(line["Tags"].items()) for line in lines],
            pa.map_(pa.string(), pa.string()),
        )
    table = pa.table(
        {
            **{
                column: pa.array(
                    [line[column].replace(tzinfo=dt.UTC) for line in lines],
                    pa.timestamp("ms", tz="UTC"),
                )
                for column in ("ChargePeriodStart", "ChargePeriodEnd")
            },
            **{
                c: pa.array([line[c] for line in lines], pa.decimal128(38, 10))
                for c in FOCUS_MONEY_COLUMNS
            },
            **{c: pa.array([line[c] for line in lines], pa.string()) for c in FOCUS_TEXT_COLUMNS},
            "Tags": tags,
        }
    )
    pq.write_table(table, path)
    return path


# --- CUR 2.0 --------------------------------------------------------------------------------

CUR_MONEY_COLUMNS = (
    "line_item_unblended_cost",
    "pricing_public_on_demand_cost",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
)
CUR_TEXT_COLUMNS = (
    "line_item_line_item_type",
    "reservation_reservation_a_r_n",
    "line_item_currency_code",
    "product_servicecode",
    "line_item_product_code",
    "line_item_usage_account_id",
    "product_region_code",
    "line_item_resource_id",
)
CUR_MAP_COLUMNS = ("product", "resource_tags")
EC2 = {"servicename": "Amazon Elastic Compute Cloud", "region": "us-east-1"}
CUR_NLP = {"user_team": "nlp", "user_env": "prod"}


def _cur(
    start: str,
    line_type: str | None,
    unblended: str | None,
    *,
    code: str | None = "AmazonEC2",
    service_code: str | None = "AmazonEC2",
    product: dict[str, str] | None = None,
    currency: str | None = "USD",
    account: str | None = "012345678901",
    region: str | None = "us-east-1",
    resource: str | None = "",
    tags: dict[str, str] | None = None,
    on_demand: str | None = "same",
    end: str | None = None,
    **extra: str | None,
) -> Line:
    line: Line = {
        "line_item_usage_start_date": at(start),
        "line_item_usage_end_date": at(end) if end else at(start) + dt.timedelta(hours=1),
        "line_item_line_item_type": line_type,
        "line_item_unblended_cost": money(unblended),
        "pricing_public_on_demand_cost": money(unblended if on_demand == "same" else on_demand),
        "reservation_reservation_a_r_n": extra.pop("arn", ""),
        "line_item_currency_code": currency,
        "product_servicecode": service_code,
        "line_item_product_code": code,
        "line_item_usage_account_id": account,
        "product_region_code": region,
        "line_item_resource_id": resource,
        "product": product,
        "resource_tags": tags,
    }
    for column in CUR_MONEY_COLUMNS:
        line.setdefault(column, money(extra.pop(column, None)))
    assert not extra, extra
    return line


CUR_LINES: list[Line] = [
    _cur("2026-10-01T00:00:00Z", "Usage", "10.5", product=EC2, resource="i-1", tags=CUR_NLP, on_demand="12"),  # noqa: E501
    _cur("2026-10-01T01:00:00Z", "SavingsPlanCoveredUsage", "4", product=EC2, resource="i-1", tags=CUR_NLP, savings_plan_savings_plan_effective_cost="2.75"),  # noqa: E501
    _cur("2026-10-01T01:00:00Z", "SavingsPlanNegation", "-4", product=EC2, resource="i-1", tags=CUR_NLP, on_demand="0"),  # noqa: E501
    _cur("2026-10-01T00:00:00Z", "SavingsPlanRecurringFee", "100", code="ComputeSavingsPlans", service_code=None, resource="sp-1", savings_plan_total_commitment_to_date="100", savings_plan_used_commitment="80", on_demand=None),  # noqa: E501
    _cur("2026-10-01T00:00:00Z", "SavingsPlanUpfrontFee", "1000", code="ComputeSavingsPlans", service_code=None, resource="sp-1", on_demand=None),  # noqa: E501
    _cur("2026-10-02T00:00:00Z", "DiscountedUsage", "0", code="AmazonRDS", service_code="AmazonRDS", product={"servicename": "Amazon Relational Database Service"}, region="eu-west-1", resource="db-1", tags={"user_team": "fraud-detection"}, reservation_effective_cost="1.25", on_demand="3"),  # noqa: E501
    _cur("2026-10-01T00:00:00Z", "RIFee", "50", code="AmazonRDS", service_code="AmazonRDS", resource="ri-1", reservation_unused_amortized_upfront_fee_for_billing_period="5.5", reservation_unused_recurring_fee="2.25", on_demand=None, end="2026-11-01T00:00:00Z"),  # noqa: E501
    _cur("2026-10-01T00:00:00Z", "Fee", "300", code="AmazonRDS", service_code="AmazonRDS", resource="ri-1", arn="arn:aws:rds:us-east-1:012345678901:ri:ri-1", on_demand=None),  # noqa: E501
    _cur("2026-10-04T00:00:00Z", "Fee", "9.99", code="AWSMarketplace", service_code=None, product={"product_name": "Some Vendor Appliance"}, region="", on_demand=None),  # noqa: E501
    _cur("2026-10-31T23:00:00Z", "Tax", "12.34", product=None, region="", tags=None, on_demand=None),  # noqa: E501
    _cur("2026-10-05T00:00:00Z", "Credit", "-20", product=EC2, tags=CUR_NLP, on_demand=None),
    _cur("2026-10-06T00:00:00Z", "Refund", "-5", code="AmazonS3", service_code="AmazonS3", currency="EUR", account="444455556666", region="eu-west-1", on_demand=None),  # noqa: E501
    _cur("2026-10-07T12:00:00Z", "Usage", "45.678", code="AmazonSageMaker", service_code="AmazonSageMaker", currency="EUR", account="444455556666", region=None, product={"region": "eu-west-1"}, resource="nb-1", tags={"user_team": "nlp", "aws_created_by": "alice"}),  # noqa: E501
    _cur("2026-10-08T00:00:00Z", "Usage", "1234", currency="JPY", account="444455556666", region="ap-northeast-1", tags={"user_team": "vision"}),  # noqa: E501
    _cur("2026-09-30T23:59:59Z", "Usage", "999", product=EC2, tags=CUR_NLP),  # September
    _cur("2026-11-01T00:00:00Z", "Usage", "7", product=EC2, tags=CUR_NLP),  # November
    _cur("2026-10-09T00:00:00Z", "Usage", None, product=EC2, tags=CUR_NLP, on_demand=None),
    _cur("2026-10-10T00:00:00Z", "Usage", "0.000123", code="AWSLambda", service_code="AWSLambda", resource="fn-1", tags={"user_team": "nlp", "user_cost_center": "R&D 'x' \"y\""}),  # noqa: E501
    _cur("2026-10-11T00:00:00Z", None, "0.5", code="AmazonCloudWatch", service_code=None, currency=None, account=None, region=None, resource=None, tags={}),  # noqa: E501
]  # fmt: skip

# How the tests expect a tag key as people write it to be stored in CUR 2.0 (written out
# here rather than computed, so the expectation does not lean on the code under test).
CUR_KEYS = {
    "team": "user_team",
    "env": "user_env",
    "user_team": "user_team",
    "aws:createdBy": "aws_created_by",
    "CostCenter": "user_cost_center",
}


def amortized(line: Line) -> Decimal | None:
    """A CUR line's amortized cost, written out from AWS's formula (independently)."""
    kind = line["line_item_line_item_type"]
    if kind == "SavingsPlanCoveredUsage":
        result: Decimal | None = line["savings_plan_savings_plan_effective_cost"]
        return result
    if kind == "SavingsPlanRecurringFee":
        total, used = (
            line["savings_plan_total_commitment_to_date"],
            line["savings_plan_used_commitment"],
        )
        return None if total is None or used is None else total - used
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        result = line["reservation_effective_cost"]
        return result
    if kind == "RIFee":
        upfront = line["reservation_unused_amortized_upfront_fee_for_billing_period"]
        recurring = line["reservation_unused_recurring_fee"]
        return None if upfront is None or recurring is None else upfront + recurring
    if kind == "Fee" and line["reservation_reservation_a_r_n"]:
        return Decimal(0)
    result = line["line_item_unblended_cost"]
    return result


def cur_expected(lines: Iterable[Line], query: CostQuery) -> Groups:
    """The groups ``query`` should find in CUR ``lines``, summed here in Python."""
    amounts: dict[Metric, Callable[[Line], Decimal | None]] = {
        Metric.BILLED: lambda line: line["line_item_unblended_cost"],
        Metric.EFFECTIVE: amortized,
        Metric.LIST: lambda line: line["pricing_public_on_demand_cost"],
    }
    tag_query = CostQuery(
        period=query.period,
        metric=query.metric,
        cost_filter=CostFilter(
            tags={CUR_KEYS[k]: v for k, v in query.cost_filter.tags.items()},
            accounts=query.cost_filter.accounts,
        ),
        group_by=tuple(
            Dimension(d.kind, CUR_KEYS[d.tag_key]) if d.kind is DimensionKind.TAG else d
            for d in query.group_by
        ),
    )
    return _expected(
        lines,
        tag_query,
        amount=amounts[query.metric],
        start=lambda line: line["line_item_usage_start_date"],
        end=lambda line: line["line_item_usage_end_date"],
        tags=lambda line: line["resource_tags"] or {},
        account=lambda line: line["line_item_usage_account_id"],
        currency=lambda line: line["line_item_currency_code"],
        dimension=_cur_dimension,
    )


def _cur_dimension(line: Line, dimension: Dimension) -> str | None:
    product = line["product"] or {}
    kind = dimension.kind
    if kind is DimensionKind.TAG:
        return (line["resource_tags"] or {}).get(dimension.tag_key)
    if kind is DimensionKind.DAY:
        return line["line_item_usage_start_date"].date().isoformat()
    if kind is DimensionKind.SERVICE:
        candidates = [
            product.get("servicename"),
            product.get("product_name"),
            line["product_servicecode"],
            line["line_item_product_code"],
        ]
        return next((c for c in candidates if c), None)
    if kind is DimensionKind.REGION:
        return line["product_region_code"] or product.get("region")
    column = {
        DimensionKind.ACCOUNT: "line_item_usage_account_id",
        DimensionKind.RESOURCE: "line_item_resource_id",
        DimensionKind.CHARGE_CATEGORY: "line_item_line_item_type",
    }[kind]
    value: str | None = line[column]
    return value


CUR_TABLE_DDL = """
    CREATE TABLE {name} (
        line_item_usage_start_date TIMESTAMP,
        line_item_usage_end_date TIMESTAMP,
        {money},
        {text},
        product MAP(VARCHAR, VARCHAR),
        resource_tags MAP(VARCHAR, VARCHAR)
    )
"""


def create_cur_table(connection: duckdb.DuckDBPyConnection, name: str, lines: list[Line]) -> None:
    """A table shaped as CUR 2.0 in Athena: double amounts, ``product``/``resource_tags`` maps."""
    connection.execute(
        CUR_TABLE_DDL.format(
            name=name,
            money=", ".join(f"{c} DOUBLE" for c in CUR_MONEY_COLUMNS),
            text=", ".join(f"{c} VARCHAR" for c in CUR_TEXT_COLUMNS),
        )
    )
    slots = ", ".join("?" for _ in (*CUR_MONEY_COLUMNS, *CUR_TEXT_COLUMNS))
    a_map = "CASE WHEN ? THEN MAP(?::VARCHAR[], ?::VARCHAR[]) END"
    connection.executemany(
        f"INSERT INTO {name} VALUES (?, ?, {slots}, {a_map}, {a_map})",
        [
            [
                line["line_item_usage_start_date"],
                line["line_item_usage_end_date"],
                *(_float(line[c]) for c in CUR_MONEY_COLUMNS),
                *(line[c] for c in CUR_TEXT_COLUMNS),
                *_map_params(line["product"]),
                *_map_params(line["resource_tags"]),
            ]
            for line in lines
        ],
    )


def write_cur_parquet(path: Path, lines: list[Line]) -> Path:
    """CUR 2.0 Parquet: naive UTC timestamps, double amounts, string maps."""
    table = pa.table(
        {
            **{
                column: pa.array([line[column] for line in lines], pa.timestamp("ms"))
                for column in ("line_item_usage_start_date", "line_item_usage_end_date")
            },
            **{
                c: pa.array([_float(line[c]) for line in lines], pa.float64())
                for c in CUR_MONEY_COLUMNS
            },
            **{c: pa.array([line[c] for line in lines], pa.string()) for c in CUR_TEXT_COLUMNS},
            **{
                c: pa.array(
                    [None if line[c] is None else list(line[c].items()) for line in lines],
                    pa.map_(pa.string(), pa.string()),
                )
                for c in CUR_MAP_COLUMNS
            },
        }
    )
    pq.write_table(table, path)
    return path


NULL_SPELLINGS = ("", "NULL", "null", "None")


def write_cur_csv_gz(path: Path, lines: list[Line]) -> Path:
    """CUR 2.0 as gzip CSV: ISO timestamps, maps as JSON text, nulls spelled every which way."""
    columns = [
        "line_item_usage_start_date",
        "line_item_usage_end_date",
        *CUR_MONEY_COLUMNS,
        *CUR_TEXT_COLUMNS,
        *CUR_MAP_COLUMNS,
    ]
    with gzip.open(path, "wt", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for number, line in enumerate(lines):
            null = NULL_SPELLINGS[number % len(NULL_SPELLINGS)]
            writer.writerow([_csv_value(line[c], null) for c in columns])
    return path


def _csv_value(value: object, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


# --- shared ---------------------------------------------------------------------------------


def run_like_athena(connection: duckdb.DuckDBPyConnection, sql: SqlQuery) -> list[tuple[Any, ...]]:
    """Run Athena SQL on DuckDB as Athena runs it: each ``?`` replaced by its quoted literal."""
    pieces = sql.text.split("?")
    assert len(pieces) == len(sql.params) + 1
    text = pieces[0] + "".join(
        sql_literal(value) + piece for value, piece in zip(sql.params, pieces[1:], strict=True)
    )
    with connection.cursor() as cursor:
        return cursor.execute(text).fetchall()


def _expected(
    lines: Iterable[Line],
    query: CostQuery,
    *,
    amount: Callable[[Line], Decimal | None],
    start: Callable[[Line], dt.datetime],
    end: Callable[[Line], dt.datetime | None],
    tags: Callable[[Line], dict[str, str]],
    account: Callable[[Line], str | None],
    currency: Callable[[Line], str | None],
    dimension: Callable[[Line, Dimension], str | None],
) -> Groups:
    groups: Groups = {}
    wanted = query.cost_filter
    for line in lines:
        value = amount(line)
        line_tags = tags(line)
        if (
            value is None
            or not query.period.start <= start(line).date() < query.period.end
            or not _whole_charge_inside(start(line), end(line), query)
            or any(line_tags.get(k) != v for k, v in wanted.tags.items())
            or (wanted.accounts and account(line) not in wanted.accounts)
        ):
            continue
        key = (tuple(dimension(line, d) or "" for d in query.group_by), currency(line) or "")
        groups[key] = groups.get(key, Decimal(0)) + value
    return groups


def _whole_charge_inside(start: dt.datetime, end: dt.datetime | None, query: CostQuery) -> bool:
    """A charge for more than a day counts only where all of its charge period is inside."""
    if end is None or end - start <= dt.timedelta(days=1):
        return True
    return end <= dt.datetime.combine(query.period.end, dt.time())


def as_groups(result: CostResult) -> Groups:
    """A result's groups as ``{(key, currency): amount}``, checking each group is unique."""
    groups = {(group.key, group.currency): group.amount for group in result.groups}
    assert len(groups) == len(result.groups)
    return groups


def to_the_cent(groups: Groups) -> dict[tuple[tuple[str, ...], str], Decimal]:
    return {key: amount.quantize(CENT) for key, amount in groups.items()}


DIMENSION_SETS: list[tuple[str, ...]] = [
    (),
    ("service",),
    ("account",),
    ("region",),
    ("resource",),
    ("day",),
    ("charge_category",),
    ("tag:team",),
    ("service", "tag:team"),
    ("day", "charge_category", "account"),
]


def query_of(
    words: tuple[str, ...],
    *,
    metric: Metric = Metric.BILLED,
    tags: dict[str, str] | None = None,
    accounts: tuple[str, ...] = (),
    period: Period = OCTOBER,
) -> CostQuery:
    return CostQuery(
        period=period,
        metric=metric,
        cost_filter=CostFilter(tags=tags or {}, accounts=accounts),
        group_by=tuple(Dimension.parse(word) for word in words),
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _json_or_none(tags: dict[str, str] | None) -> str | None:
    return None if tags is None else json.dumps(tags)


def _map_params(value: dict[str, str] | None) -> list[object]:
    return [value is not None, list((value or {}).keys()), list((value or {}).values())]

"""The two billing table schemas the SQL builder serves, FOCUS 1.x and CUR 2.0: which column
(or SQL) answers each logical question (when, how much, which currency, service, account,
region, resource, charge category, tags), and how each column is read.

``engines.costs.sources.sql`` writes the queries from them.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from engines.models import Metric


class Dialect(StrEnum):
    """Which SQL engine runs the query."""

    DUCKDB = "duckdb"
    ATHENA = "athena"  # Athena engine 3, i.e. Trino


class TagsFormat(StrEnum):
    """How a table stores tags."""

    JSON = "json"  # a JSON object as text (FOCUS CSV)
    MAP = "map"  # MAP(VARCHAR, VARCHAR) (CUR 2.0, FOCUS from AWS Data Exports)


class ColumnKind(StrEnum):
    """What a column holds, so a file reader can bring it to one type whatever the file."""

    TIMESTAMP = "timestamp"  # an instant, compared in UTC
    MONEY = "money"  # an amount, summed exactly
    TEXT = "text"
    ACCOUNT = "account"  # a 12-digit AWS account id (leading zeros matter)
    MAP = "map"  # MAP(VARCHAR, VARCHAR)
    JSON = "json"  # a JSON object as text


@dataclass(frozen=True)
class MapKey:
    """One key of a map column, e.g. CUR 2.0 ``product['servicename']``."""

    column: str
    key: str


Field = str | MapKey  # a column, or one key of a map column


@dataclass(frozen=True)
class CostRule:
    """How one metric's amount of a line is computed.

    ``template`` is SQL both dialects run; ``{column}`` stands for a column, read as
    ``DECIMAL(38, 10)`` when it holds money.
    """

    template: str

    @property
    def columns(self) -> tuple[str, ...]:
        names = (name for _, name, _, _ in string.Formatter().parse(self.template) if name)
        return tuple(dict.fromkeys(names))


def _identity(key: str) -> str:
    return key


@dataclass(frozen=True)
class BillingSchema:
    """How one kind of billing table answers the logical columns of a cost question.

    Args:
        name: ``"focus"`` or ``"cur"``.
        columns: every column the SQL may read, with what it holds.
        charge_start: when the charge starts (a timestamp; its UTC day is the line's day).
        charge_end: when the charge period ends (exclusive). A line whose charge period spans
            more than a day (a month's tax, a monthly fee) counts only in periods that hold
            its whole charge period; a file without the column has one-day lines.
        costs: the amount of each metric.
        currency: the currency code of the amounts.
        service, region: candidates, the first non-empty one wins.
        account, resource, charge_category: one column each.
        tags: the tags column; ``tags_format`` says how it stores them.
        tag_key: turns a tag key as people write it into the key the table stores.
        optional: columns a file may lack (read as null) without failing the query.
        export_parts: columns naming who delivers each part of the export (provider,
            billing account), with the word that goes before a value in a message ("" for
            none); coverage and its gaps are found per part. Optional columns.
        dates: the date columns a file is checked for (strict ISO 8601, years 2000–2100)
            wherever it has them, used by the question or not.
        former_names: older names of a column, read when a file lacks the column (FOCUS
            0.5 and 1.0-preview spell some columns differently).
        stand_ins: a column read in place of a missing one that means something close,
            e.g. ``BillingAccountId`` for a missing ``SubAccountId``; the answer says so.
        when_missing: optional columns whose absence changes the answer, with what it
            means; the answer carries a note saying the column is missing.
    """

    name: str
    columns: Mapping[str, ColumnKind]
    charge_start: str
    charge_end: str
    costs: Mapping[Metric, CostRule]
    currency: str
    service: tuple[Field, ...]
    account: str
    region: tuple[Field, ...]
    resource: str
    charge_category: str
    tags: str
    tags_format: TagsFormat
    tag_key: Callable[[str], str] = _identity
    optional: frozenset[str] = field(default_factory=frozenset)
    export_parts: tuple[tuple[str, str], ...] = ()
    dates: tuple[str, ...] = ()
    former_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    when_missing: Mapping[str, str] = field(default_factory=dict)
    resource_name: tuple[Field, ...] = ()


# --- the two billing schemas ----------------------------------------------------------------

_FOCUS_COLUMNS = {
    "ChargePeriodStart": ColumnKind.TIMESTAMP,
    "ChargePeriodEnd": ColumnKind.TIMESTAMP,
    "BilledCost": ColumnKind.MONEY,
    "EffectiveCost": ColumnKind.MONEY,
    "ListCost": ColumnKind.MONEY,
    "BillingCurrency": ColumnKind.TEXT,
    "ServiceName": ColumnKind.TEXT,
    "SubAccountId": ColumnKind.ACCOUNT,
    "RegionId": ColumnKind.TEXT,
    "ResourceId": ColumnKind.TEXT,
    "ResourceName": ColumnKind.TEXT,
    "ChargeCategory": ColumnKind.TEXT,
    "Tags": ColumnKind.MAP,
    "ProviderName": ColumnKind.TEXT,
    "BillingAccountId": ColumnKind.ACCOUNT,
}

FOCUS = BillingSchema(
    name="focus",
    columns=_FOCUS_COLUMNS,
    charge_start="ChargePeriodStart",
    charge_end="ChargePeriodEnd",
    costs={
        Metric.BILLED: CostRule("{BilledCost}"),
        Metric.EFFECTIVE: CostRule("{EffectiveCost}"),
        Metric.LIST: CostRule("{ListCost}"),
    },
    currency="BillingCurrency",
    service=("ServiceName",),
    account="SubAccountId",
    region=("RegionId",),
    resource="ResourceId",
    resource_name=("ResourceName",),
    charge_category="ChargeCategory",
    tags="Tags",
    tags_format=TagsFormat.MAP,
    dates=("ChargePeriodStart", "ChargePeriodEnd"),
    export_parts=(("ProviderName", ""), ("BillingAccountId", "account")),
    # Tags and SubAccountId are conditional in FOCUS 1.0–1.2: present only where the
    # provider has tags and sub accounts; without sub accounts the billing account is it.
    optional=frozenset(
        {
            "Tags",
            "SubAccountId",
            "ProviderName",
            "BillingAccountId",
            "ChargePeriodEnd",
            "ResourceName",
        }
    ),
    when_missing={
        "Tags": "its costs count as untagged (tag rules match none of them)",
        "SubAccountId": "account rules match none of its costs",
    },
    stand_ins={"SubAccountId": "BillingAccountId"},
    # The FOCUS changelog: Region became RegionId in 1.0; AmortizedCost and ChargeType
    # became EffectiveCost and ChargeCategory in 1.0-preview.
    former_names={
        "RegionId": ("Region",),
        "EffectiveCost": ("AmortizedCost",),
        "ChargeCategory": ("ChargeType",),
    },
)
"""FOCUS 1.x as AWS Data Exports delivers it (and as Athena sees it): ``Tags`` is a map."""

FOCUS_JSON_TAGS = replace(
    FOCUS, columns={**_FOCUS_COLUMNS, "Tags": ColumnKind.JSON}, tags_format=TagsFormat.JSON
)
"""FOCUS 1.x with ``Tags`` as JSON object text (CSV exports; what FOCUS files are read as)."""

# Amortized ("effective") cost of a CUR line, as AWS computes it: the CUR query library's
# amortized-cost formula (AWS Well-Architected Labs, 300_CUR_Queries,
# "amortized_cost_by_charge_type.sql"; the same CASE is in the AWS CUR user guide's
# "Understanding Savings Plans" / "Understanding your reservations" amortization examples).
# Covered usage carries its effective cost, the recurring fee only its unused part, upfront
# fees and the negation lines are 0 (already spread over the covered usage), RIFee its unused
# amortized upfront plus unused recurring fee, an RI upfront ``Fee`` 0.
_CUR_AMORTIZED = CostRule(
    """CASE
            WHEN {line_item_line_item_type} = 'SavingsPlanCoveredUsage'
                THEN {savings_plan_savings_plan_effective_cost}
            WHEN {line_item_line_item_type} = 'SavingsPlanRecurringFee'
                THEN {savings_plan_total_commitment_to_date} - {savings_plan_used_commitment}
            WHEN {line_item_line_item_type} = 'SavingsPlanNegation' THEN 0
            WHEN {line_item_line_item_type} = 'SavingsPlanUpfrontFee' THEN 0
            WHEN {line_item_line_item_type} = 'DiscountedUsage' THEN {reservation_effective_cost}
            WHEN {line_item_line_item_type} = 'RIFee'
                THEN {reservation_unused_amortized_upfront_fee_for_billing_period}
                     + {reservation_unused_recurring_fee}
            WHEN {line_item_line_item_type} = 'Fee'
                 AND coalesce({reservation_reservation_a_r_n}, '') <> '' THEN 0
            ELSE {line_item_unblended_cost}
        END"""
)


def cur_tag_key(key: str) -> str:
    """The ``resource_tags`` key CUR 2.0 stores for a tag key as people write it.

    AWS prefixes user-defined cost allocation tags with ``user_`` and AWS-generated ones
    with ``aws_``, and writes the rest in snake case, so: ``team`` → ``user_team``,
    ``CostCenter`` → ``user_cost_center``, ``user:team`` → ``user_team``,
    ``aws:createdBy`` → ``aws_created_by``. A key already starting with ``user_`` or
    ``aws_`` is taken as stored.

    Args:
        key: the tag key as typed or as in the teams file.
    """
    if key.startswith(("user_", "aws_")):
        return key
    prefix, _, rest = key.partition(":")
    if prefix in ("user", "aws") and rest:
        return f"{prefix}_{_snake_case(rest)}"
    return f"user_{_snake_case(key)}"


def _snake_case(text: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower()


CUR = BillingSchema(
    name="cur",
    columns={
        "line_item_usage_start_date": ColumnKind.TIMESTAMP,
        "line_item_usage_end_date": ColumnKind.TIMESTAMP,
        "line_item_unblended_cost": ColumnKind.MONEY,
        "line_item_line_item_type": ColumnKind.TEXT,
        "savings_plan_savings_plan_effective_cost": ColumnKind.MONEY,
        "savings_plan_total_commitment_to_date": ColumnKind.MONEY,
        "savings_plan_used_commitment": ColumnKind.MONEY,
        "reservation_effective_cost": ColumnKind.MONEY,
        "reservation_unused_amortized_upfront_fee_for_billing_period": ColumnKind.MONEY,
        "reservation_unused_recurring_fee": ColumnKind.MONEY,
        "reservation_reservation_a_r_n": ColumnKind.TEXT,
        "pricing_public_on_demand_cost": ColumnKind.MONEY,
        "line_item_currency_code": ColumnKind.TEXT,
        "product": ColumnKind.MAP,
        "product_servicecode": ColumnKind.TEXT,
        "line_item_product_code": ColumnKind.TEXT,
        "line_item_usage_account_id": ColumnKind.ACCOUNT,
        "product_region_code": ColumnKind.TEXT,
        "line_item_resource_id": ColumnKind.TEXT,
        "resource_tags": ColumnKind.MAP,
        "bill_payer_account_id": ColumnKind.ACCOUNT,
    },
    charge_start="line_item_usage_start_date",
    charge_end="line_item_usage_end_date",
    costs={
        Metric.BILLED: CostRule("{line_item_unblended_cost}"),
        Metric.EFFECTIVE: _CUR_AMORTIZED,
        Metric.LIST: CostRule("{pricing_public_on_demand_cost}"),
    },
    currency="line_item_currency_code",
    service=(
        MapKey("product", "servicename"),
        MapKey("product", "product_name"),
        "product_servicecode",
        "line_item_product_code",
    ),
    account="line_item_usage_account_id",
    region=("product_region_code", MapKey("product", "region")),
    resource="line_item_resource_id",
    resource_name=(MapKey("resource_tags", "user_name"),),  # the Name tag
    charge_category="line_item_line_item_type",
    tags="resource_tags",
    tags_format=TagsFormat.MAP,
    tag_key=cur_tag_key,
    optional=frozenset(
        {"product", "product_servicecode", "bill_payer_account_id", "line_item_usage_end_date"}
    ),
    export_parts=(("bill_payer_account_id", "payer account"),),
    dates=("line_item_usage_start_date", "line_item_usage_end_date"),
)
"""CUR 2.0 (AWS Data Exports): fixed columns, ``product`` and ``resource_tags`` maps."""

SCHEMAS = {"focus": FOCUS, "cur": CUR}

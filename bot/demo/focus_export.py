"""A FOCUS 1.0 billing export for the demo fleet, one file per billing month.

Shaped like what AWS Data Exports delivers: daily usage lines per resource (EC2 instance-hours
at the fleet's prices, EBS volumes, S3, SageMaker, RDS, data transfer, CloudWatch, NAT), a
savings plan lowering ``EffectiveCost`` for some instances, a monthly promotional credit and,
for each closed month, sales tax per service. Costs are computed as exact ``Decimal`` values
rounded to 10 decimal places; Parquet stores them as DOUBLE (as AWS does), CSV as decimal text.

Only complete UTC days before ``now`` are billed (exports trail by a day). The same ``now`` and
``seed`` always give the same files.

Simplification: AWS bills savings-plan-covered usage at 0 on the usage line plus a recurring
fee line; here the covered line keeps ``BilledCost`` at on-demand and only ``EffectiveCost``
drops, so "effective below billed" is visible per resource.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from bot.demo.charges import (
    CHARGES,
    EC2,
    FRAUD_TRAINING_SPEND,
    MONTHLY_CREDIT,
    SAGEMAKER,
    SAVINGS_PLAN_ID,
    SAVINGS_PLAN_RATE,
    TAX_RATE,
    AwsService,
    DemoCharge,
)
from bot.demo.fleet import (
    EBS_GP3_PRICE_PER_GB_MONTH,
    FLEET,
    REGION,
    DemoInstance,
    floor_to_hour,
    launched_at,
    running_hours_on,
)
from bot.demo.sagemaker_billing import sagemaker_lines

ExportFormat = Literal["parquet", "csv"]

REGION_NAME = "US East (N. Virginia)"
PROVIDER = "AWS"
PUBLISHER = "Amazon Web Services, Inc."
CURRENCY = "USD"
SUB_ACCOUNT_NAME = "ml-platform-prod"
CREDIT_DAY_OF_MONTH = 3
# Tag keys activated as cost allocation tags: only these reach the export's Tags column.
COST_ALLOCATION_TAG_KEYS = ("team", "env", "workload_type", "Name", "model_name")

MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
NUMBER_COLUMNS = MONEY_COLUMNS + (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "ConsumedQuantity",
)
TIMESTAMP_COLUMNS = (
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)
STRING_COLUMNS = (
    "AvailabilityZone",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedUnit",
    "InvoiceIssuerName",
    "PricingCategory",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_Operation",
    "x_ServiceCode",
    "x_UsageType",
)
COLUMNS: tuple[str, ...] = tuple(sorted(STRING_COLUMNS + NUMBER_COLUMNS + TIMESTAMP_COLUMNS))

_TEN_PLACES = Decimal("1E-10")
_CENT = Decimal("0.01")

Row = dict[str, Any]


def write_focus_export(
    directory: Path,
    *,
    fleet: Sequence[DemoInstance] = FLEET,
    instance_ids: Mapping[str, str],
    account_id: str,
    now: dt.datetime,
    days: int = 75,
    fmt: ExportFormat = "parquet",
    charges: Sequence[DemoCharge] = CHARGES,
    volume_ids: Mapping[str, str] | None = None,
    seed: int = 7,
) -> list[Path]:
    """Write the export into ``directory``, one file per billing month; returns the files.

    Args:
        fleet: the instances to bill; ``instance_ids`` maps their Name to the EC2 id (a
            made-up id is used for a name missing from it, likewise for ``volume_ids``).
        now: billing covers the ``days`` complete UTC days before ``now``'s date.
        fmt: "parquet" (cost columns DOUBLE, timestamps UTC) or "csv" (decimal text).
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: use 'parquet' or 'csv'")
    context = _Context(account_id, floor_to_hour(now), instance_ids, volume_ids or {}, seed)
    rows = list(_usage_rows(context, fleet, charges, _billed_days(now, days)))
    rows += _tax_rows(context, rows)
    directory.mkdir(parents=True, exist_ok=True)
    by_month: dict[dt.date, list[Row]] = defaultdict(list)
    for row in rows:
        by_month[row["BillingPeriodStart"].date()].append(row)
    return [
        _write_month(directory, month, month_rows, fmt)
        for month, month_rows in sorted(by_month.items())
    ]


def money(value: Decimal) -> Decimal:
    """A cost rounded to 10 decimal places, as stored in the export."""
    return value.quantize(_TEN_PLACES, rounding=ROUND_HALF_UP)


def instance_hour_cost(instance: DemoInstance, hours: int) -> Decimal:
    """BilledCost of ``hours`` instance-hours at the fleet's on-demand price."""
    return money(instance.hourly_price * hours)


def daily_spend(charge: DemoCharge, day: dt.date, *, now: dt.datetime, seed: int = 7) -> Decimal:
    """What ``charge``'s line costs on ``day`` in the export written with ``now`` and ``seed``
    (0 before the charge started)."""
    context = _Context("", floor_to_hour(now), {}, {}, seed)
    quantity = _charge_quantity(context, charge, day)
    return Decimal(0) if quantity is None else money(quantity * charge.unit_price)


def export_file_name(month: dt.date, fmt: ExportFormat) -> str:
    return f"focus-1.0-{month:%Y-%m}.{fmt}"


# --- Rows -------------------------------------------------------------------------------------


class _Context:
    """What every row needs: account, clock, resource ids and the seed."""

    def __init__(
        self,
        account_id: str,
        now: dt.datetime,
        instance_ids: Mapping[str, str],
        volume_ids: Mapping[str, str],
        seed: int,
    ) -> None:
        self.account_id = account_id
        self.now = now
        self.instance_ids = instance_ids
        self.volume_ids = volume_ids
        self.seed = seed

    def instance_id(self, name: str) -> str:
        return self.instance_ids.get(name) or "i-" + _digest(f"instance|{name}")[:17]

    def volume_id(self, name: str) -> str:
        return self.volume_ids.get(name) or "vol-" + _digest(f"volume|{name}")[:17]

    def rng(self, *parts: object) -> random.Random:
        return random.Random("|".join([str(self.seed), *map(str, parts)]))


def _billed_days(now: dt.datetime, days: int) -> list[dt.date]:
    today = now.astimezone(dt.UTC).date()
    return [today - dt.timedelta(days=offset) for offset in range(days, 0, -1)]


def _usage_rows(
    context: _Context,
    fleet: Sequence[DemoInstance],
    charges: Sequence[DemoCharge],
    days: Iterable[dt.date],
) -> Iterator[Row]:
    for day in days:
        for instance in fleet:
            yield from _instance_rows(context, instance, day)
        for charge in charges:
            yield from _charge_rows(context, charge, day)
        yield from _sagemaker_rows(context, day)
        if day.day == CREDIT_DAY_OF_MONTH:
            yield _credit_row(context, day)


def _instance_rows(context: _Context, instance: DemoInstance, day: dt.date) -> Iterator[Row]:
    hours = running_hours_on(instance, day, context.now)
    if hours:
        yield _instance_hours_row(context, instance, day, hours)
    volume_hours = _volume_hours_on(instance, day, context.now)
    if volume_hours:
        yield _volume_row(context, instance, day, volume_hours)


def _instance_hours_row(context: _Context, instance: DemoInstance, day: dt.date, hours: int) -> Row:
    price = instance.hourly_price
    billed = instance_hour_cost(instance, hours)
    covered = instance.savings_plan_covered
    usage_type = f"BoxUsage:{instance.instance_type}"
    row = _base_row(context, day, service=EC2)
    row |= {
        "BilledCost": billed,
        "EffectiveCost": money(billed * SAVINGS_PLAN_RATE) if covered else billed,
        "ListCost": billed,
        "ContractedCost": billed,
        "ListUnitPrice": price,
        "ContractedUnitPrice": price,
        "ChargeDescription": (
            f"Compute Savings Plan covered usage: Linux {instance.instance_type} instance hour"
            if covered
            else f"${price} per On Demand Linux {instance.instance_type} Instance Hour"
        ),
        "AvailabilityZone": instance.availability_zone,
        "ResourceId": context.instance_id(instance.name),
        "ResourceName": instance.name,
        "ResourceType": "Instance",
        "PricingUnit": "Hours",
        "PricingQuantity": Decimal(hours),
        "ConsumedUnit": "Hours",
        "ConsumedQuantity": Decimal(hours),
        "Tags": _tags_json(instance.tags),
        "x_UsageType": usage_type,
        "x_Operation": "RunInstances",
    }
    row |= _sku(usage_type)
    if covered:
        row |= _savings_plan_columns(context)
    return row


def _savings_plan_columns(context: _Context) -> Row:
    return {
        "CommitmentDiscountId": f"arn:aws:savingsplans::{context.account_id}:{SAVINGS_PLAN_ID}",
        "CommitmentDiscountCategory": "Spend",
        "CommitmentDiscountType": "Compute Savings Plan",
        "CommitmentDiscountStatus": "Used",
        "PricingCategory": "Committed",
    }


def _volume_hours_on(instance: DemoInstance, day: dt.date, now: dt.datetime) -> int:
    """A volume exists from launch until ``now``, stopped instance or not."""
    day_start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    start = max(day_start, launched_at(instance, now))
    end = min(day_start + dt.timedelta(days=1), floor_to_hour(now))
    return max(0, int((end - start).total_seconds() // 3600))


def _volume_row(context: _Context, instance: DemoInstance, day: dt.date, hours: int) -> Row:
    hours_in_month = 24 * _days_in_month(day)
    gb_months = money(Decimal(instance.root_volume_gb * hours) / hours_in_month)
    cost = money(gb_months * EBS_GP3_PRICE_PER_GB_MONTH)
    usage_type = "EBS:VolumeUsage.gp3"
    row = _base_row(context, day, service=EC2)
    row |= {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ListUnitPrice": EBS_GP3_PRICE_PER_GB_MONTH,
        "ContractedUnitPrice": EBS_GP3_PRICE_PER_GB_MONTH,
        "ChargeDescription": "$0.08 per GB-month of General Purpose (gp3) provisioned storage",
        "AvailabilityZone": instance.availability_zone,
        "ResourceId": context.volume_id(instance.name),
        "ResourceName": f"{instance.name}-root",
        "ResourceType": "Volume",
        "PricingUnit": "GB-Mo",
        "PricingQuantity": gb_months,
        "ConsumedUnit": "GB-Mo",
        "ConsumedQuantity": gb_months,
        "Tags": _tags_json(instance.tags),
        "x_UsageType": usage_type,
        "x_Operation": "CreateVolume-Gp3",
    }
    return row | _sku(usage_type)


def _charge_rows(context: _Context, charge: DemoCharge, day: dt.date) -> Iterator[Row]:
    quantity = _charge_quantity(context, charge, day)
    if quantity is not None:
        yield _line_row(context, charge, day, quantity, money(quantity * charge.unit_price))


def _charge_quantity(context: _Context, charge: DemoCharge, day: dt.date) -> Decimal | None:
    """The charge's quantity on ``day``; None before it started."""
    offset = (day - context.now.date()).days  # negative: days before today
    if charge.started_days_ago is not None and -offset > charge.started_days_ago:
        return None
    level = charge.quantity * (1 + charge.daily_growth * offset)
    swing = Decimal(str(round(context.rng(charge.name, day).uniform(-1, 1), 6)))
    quantity = money(level * (1 + charge.jitter * swing))
    if charge.per_month:
        quantity = money(quantity / _days_in_month(day))
    return quantity


def _sagemaker_rows(context: _Context, day: dt.date) -> Iterator[Row]:
    """fraud-detection's SageMaker, resource by resource (``bot.demo.sagemaker_billing``)."""
    spend = _charge_quantity(context, FRAUD_TRAINING_SPEND, day) or Decimal(0)
    training = money(spend * FRAUD_TRAINING_SPEND.unit_price)
    for line in sagemaker_lines((context.now.date() - day).days, training):
        yield _line_row(context, line.charge, day, line.quantity, line.cost)


def _line_row(
    context: _Context, charge: DemoCharge, day: dt.date, quantity: Decimal, cost: Decimal
) -> Row:
    row = _base_row(context, day, service=charge.service)
    row |= {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ListUnitPrice": charge.unit_price,
        "ContractedUnitPrice": charge.unit_price,
        "ChargeDescription": charge.description,
        "ResourceId": charge.resource_id.format(account=context.account_id) or None,
        "ResourceName": charge.name,
        "ResourceType": charge.resource_type,
        "PricingUnit": charge.pricing_unit,
        "PricingQuantity": quantity,
        "ConsumedUnit": charge.pricing_unit,
        "ConsumedQuantity": quantity,
        "Tags": _tags_json(charge.tags),
        "x_UsageType": charge.usage_type,
        "x_Operation": charge.operation or None,
    }
    return row | _sku(charge.usage_type)


def _credit_row(context: _Context, day: dt.date) -> Row:
    row = _base_row(context, day, service=SAGEMAKER)
    row |= {
        "ChargeCategory": "Credit",
        "ChargeFrequency": "One-Time",
        "BilledCost": MONTHLY_CREDIT,
        "EffectiveCost": MONTHLY_CREDIT,
        "ListCost": Decimal(0),
        "ContractedCost": Decimal(0),
        "ChargeDescription": "AWS promotional credit: ML accelerator programme",
        "PricingCategory": None,
        "x_UsageType": "Credit",
    }
    return row


def _tax_rows(context: _Context, rows: Sequence[Row]) -> list[Row]:
    """Sales tax per service for each month that ended before ``now``."""
    billed: dict[tuple[dt.date, str], Decimal] = defaultdict(Decimal)
    categories: dict[str, tuple[str, str]] = {}
    for row in rows:
        month = row["BillingPeriodStart"].date()
        billed[month, row["ServiceName"]] += row["BilledCost"]
        categories[row["ServiceName"]] = (row["ServiceCategory"], row["x_ServiceCode"])
    taxes = []
    for (month, service_name), amount in sorted(billed.items()):
        period_start, period_end = _billing_period(month)
        if period_end > context.now:
            continue
        tax = (amount * TAX_RATE).quantize(_CENT, rounding=ROUND_HALF_UP)
        category, code = categories[service_name]
        row = _base_row(context, month, service=None)
        row |= {
            "ServiceName": service_name,
            "ServiceCategory": category,
            "x_ServiceCode": code,
            "ChargeCategory": "Tax",
            "ChargeFrequency": "Recurring",
            "ChargePeriodStart": period_start,
            "ChargePeriodEnd": period_end,
            "BilledCost": tax,
            "EffectiveCost": tax,
            "ListCost": tax,
            "ContractedCost": tax,
            "ChargeDescription": f"Sales tax ({TAX_RATE * 100:.0f}%) for {service_name}",
            "PricingCategory": None,
            "x_UsageType": "Tax",
        }
        taxes.append(row)
    return taxes


def _base_row(context: _Context, day: dt.date, *, service: AwsService | None) -> Row:
    """Columns every line shares; usage defaults, no resource."""
    period_start, period_end = _billing_period(day)
    charge_start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    row: Row = dict.fromkeys(COLUMNS)
    row |= {
        "BillingAccountId": context.account_id,
        "BillingAccountName": "costbot-demo",
        "SubAccountId": context.account_id,
        "SubAccountName": SUB_ACCOUNT_NAME,
        "BillingCurrency": CURRENCY,
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": period_end,
        "ChargePeriodStart": charge_start,
        "ChargePeriodEnd": charge_start + dt.timedelta(days=1),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        "ProviderName": PROVIDER,
        "PublisherName": PUBLISHER,
        "InvoiceIssuerName": PUBLISHER,
        "RegionId": REGION,
        "RegionName": REGION_NAME,
        "Tags": "{}",
    }
    if service is not None:
        row |= {
            "ServiceName": service.name,
            "ServiceCategory": service.category,
            "x_ServiceCode": service.code,
        }
    return row


def _billing_period(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def _days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _tags_json(tags: Mapping[str, str]) -> str:
    allocated = {key: tags[key] for key in COST_ALLOCATION_TAG_KEYS if key in tags}
    return json.dumps(allocated, separators=(",", ":"))


def _sku(usage_type: str) -> Row:
    sku = _digest(f"sku|{REGION}|{usage_type}")[:14].upper()
    return {"SkuId": sku, "SkuPriceId": f"{sku}.JRTCKXETXF.6YS6EN2CT7"}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- Files ------------------------------------------------------------------------------------


def _write_month(directory: Path, month: dt.date, rows: list[Row], fmt: ExportFormat) -> Path:
    path = directory / export_file_name(month, fmt)
    if fmt == "parquet":
        pq.write_table(_arrow_table(rows), path, compression="snappy")
    else:
        _write_csv(path, rows)
    return path


def _arrow_schema() -> pa.Schema:
    def column_type(name: str) -> pa.DataType:
        if name in NUMBER_COLUMNS:
            return pa.float64()
        if name in TIMESTAMP_COLUMNS:
            return pa.timestamp("s", tz="UTC")
        return pa.string()

    return pa.schema([(name, column_type(name)) for name in COLUMNS])


def _arrow_table(rows: Sequence[Row]) -> pa.Table:
    columns = {name: [_arrow_value(name, row[name]) for row in rows] for name in COLUMNS}
    return pa.table(columns, schema=_arrow_schema())


def _arrow_value(name: str, value: Any) -> Any:
    if value is not None and name in NUMBER_COLUMNS:
        return float(value)
    return value


def _write_csv(path: Path, rows: Sequence[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(_csv_value(row[name]) for name in COLUMNS)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)

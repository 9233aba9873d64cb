"""FOCUS exports as providers write them: the 1.0, 1.1 and 1.2 column sets, provider (``x_``)
columns, the conditional columns left out, several providers in one file, credits.

Each file is written here from rows whose sums are added up here, independently of DuckDB.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from engines.config.schema import AccountIds
from engines.config.teams import find_team, load_config
from engines.costs import questions
from engines.costs.query import CostQuery, CostResult, Dimension
from engines.costs.sources.base import CostFilter
from engines.costs.sources.focus import FocusFileSource
from engines.models import Period

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1), "October 2026")

# The FOCUS 1.0 columns (the specification's column list), then what 1.1 and 1.2 added.
FOCUS_1_0 = [
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
    "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName",
    "Tags",
]  # fmt: skip
FOCUS_1_1 = [
    *FOCUS_1_0,
    "CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails",
]  # fmt: skip
FOCUS_1_2 = [
    *FOCUS_1_1,
    "BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
    "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
]  # fmt: skip
VERSIONS = {"1.0": FOCUS_1_0, "1.1": FOCUS_1_1, "1.2": FOCUS_1_2}
# Provider columns, as AWS and Azure add them (x_ prefix), some with awkward names and values.
PROVIDER_COLUMNS = ["x_ServiceCode", "x_UsageType", "x_Operation", "x_SkuDetails", "x_Cost/Hour"]

AWS_ACCOUNT = "012345678901"
AWS_PAYER = "999988887777"
AZURE_SUBSCRIPTION = "8f3c2a1e-5b7d-4c9e-a1f2-3d4e5f6a7b8c"
GCP_PROJECT = "fraud-ml-prod-4821"


def line(**values: str) -> dict[str, str]:
    """One row with every column a FOCUS 1.2 export has filled in as a provider would."""
    start = values.pop("day", "2026-10-05")
    row = {column: "" for column in FOCUS_1_2}
    row.update(
        {
            "BillingAccountId": AWS_PAYER,
            "BillingAccountName": "Payer",
            "BillingCurrency": "USD",
            "BillingPeriodStart": "2026-10-01T00:00:00Z",
            "BillingPeriodEnd": "2026-11-01T00:00:00Z",
            "ChargePeriodStart": f"{start}T00:00:00Z",
            "ChargePeriodEnd": f"{start}T01:00:00Z",
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "BilledCost": "1",
            "EffectiveCost": "1",
            "ListCost": "1",
            "ContractedCost": "1",
            "ProviderName": "AWS",
            "PublisherName": "AWS",
            "InvoiceIssuerName": "AWS",
            "ServiceName": "Amazon EC2",
            "ServiceCategory": "Compute",
            "SubAccountId": AWS_ACCOUNT,
            "SubAccountName": "prod",
            "RegionId": "us-east-1",
            "RegionName": "US East (N. Virginia)",
            "ResourceId": "i-0abc",
            "Tags": json.dumps({"team": "nlp"}),
            "x_ServiceCode": "AmazonEC2",
            "x_UsageType": "BoxUsage:m5.large",
            "x_Operation": "RunInstances",
            "x_SkuDetails": '{"CoreCount": 2}',
            "x_Cost/Hour": "not a number, and not read",
        }
    )
    row.update(values)
    return row


ROWS = [
    line(BilledCost="120.25", EffectiveCost="100.10", ListCost="150"),
    line(
        BilledCost="3.3333333333", ServiceName="Amazon S3", RegionId="us-west-2", day="2026-10-09"
    ),
    line(BilledCost="50", Tags=json.dumps({"team": "fraud"}), SubAccountId="111122223333"),
    line(BilledCost="7", Tags="", ServiceName="AWS Lambda"),
    line(BilledCost="999", day="2026-09-30"),  # September: outside the question
    line(BilledCost="-20.00", EffectiveCost="-20.00", ListCost="0", ChargeCategory="Credit"),
]


def write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def grouped(result: CostResult) -> dict[tuple[str, ...], Decimal]:
    return {group.key: group.amount for group in result.groups}


def expected(rows: list[dict[str, str]], column: str, cost: str = "BilledCost") -> dict:
    sums: dict[tuple[str, ...], Decimal] = {}
    for row in rows:
        if row["ChargePeriodStart"][:7] == "2026-10":
            key = (row[column],)
            sums[key] = sums.get(key, Decimal(0)) + Decimal(row[cost])
    return sums


def ask(path: Path, by: str, **options: object) -> CostResult:
    query = CostQuery(OCTOBER, group_by=(Dimension.parse(by),), **options)  # type: ignore[arg-type]
    return FocusFileSource(str(path)).costs(query)


# --- the FOCUS versions ---------------------------------------------------------------------


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("by", ["service", "account", "region", "charge_category"])
def test_every_focus_version_is_read_with_provider_columns_ignored(
    tmp_path: Path, version: str, by: str
) -> None:
    columns = {"account": "SubAccountId", "region": "RegionId"}
    columns |= {"service": "ServiceName", "charge_category": "ChargeCategory"}
    path = write(tmp_path / f"focus-{version}.csv", ROWS, VERSIONS[version] + PROVIDER_COLUMNS)

    result = ask(path, by)

    assert grouped(result) == expected(ROWS, columns[by])
    assert result.notes == ()


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_tags_and_effective_cost_of_every_version(tmp_path: Path, version: str) -> None:
    path = write(tmp_path / "focus.csv", ROWS, VERSIONS[version])
    nlp = [row for row in ROWS if row["Tags"] == json.dumps({"team": "nlp"})]

    result = ask(path, "service", cost_filter=CostFilter(tags={"team": "nlp"}))

    assert grouped(result) == expected(nlp, "ServiceName")


def test_provider_columns_come_before_or_among_focus_ones_without_harm(tmp_path: Path) -> None:
    """FOCUS asks for x_ columns after its own; not every provider keeps to that."""
    columns = [PROVIDER_COLUMNS[0], *FOCUS_1_2[:20], *PROVIDER_COLUMNS[1:], *FOCUS_1_2[20:]]
    path = write(tmp_path / "focus.csv", ROWS, columns)

    assert grouped(ask(path, "service")) == expected(ROWS, "ServiceName")


def test_the_names_before_focus_1_0_are_read(tmp_path: Path) -> None:
    """The FOCUS changelog: Region became RegionId in 1.0; AmortizedCost and ChargeType
    became EffectiveCost and ChargeCategory in 1.0-preview."""
    renamed = {
        "RegionId": "Region",
        "EffectiveCost": "AmortizedCost",
        "ChargeCategory": "ChargeType",
    }
    rows = [{renamed.get(k, k): v for k, v in row.items()} for row in ROWS]
    columns = [renamed.get(column, column) for column in FOCUS_1_0]
    path = write(tmp_path / "focus-0.5.csv", rows, columns)

    assert grouped(ask(path, "region")) == expected(ROWS, "RegionId")
    assert grouped(ask(path, "charge_category")) == expected(ROWS, "ChargeCategory")
    from engines.models import Metric

    effective = ask(path, "service", metric=Metric.EFFECTIVE)
    assert grouped(effective) == expected(ROWS, "ServiceName", "EffectiveCost")


# --- conditional columns left out -----------------------------------------------------------

TEAMS = """
[teams.nlp]
tags = { team = "nlp" }
channel = "#nlp"

[teams.fraud]
accounts = ["111122223333"]
channel = "#fraud"
"""


def test_without_tags_every_cost_is_untagged_with_one_note(tmp_path: Path) -> None:
    path = write(tmp_path / "focus.csv", ROWS, [c for c in FOCUS_1_2 if c != "Tags"])
    config = load_config(TEAMS, filename="teams.toml", account_ids=AccountIds.ANY)
    source = FocusFileSource(str(path))

    answer = questions.untagged_costs(source, config.teams, config.shared, period=OCTOBER)

    # fraud's account rule still claims its line; nothing else has a team without tags
    in_october = [row for row in ROWS if row["ChargePeriodStart"][:7] == "2026-10"]
    assert answer.total == sum(
        (Decimal(r["BilledCost"]) for r in in_october if r["SubAccountId"] != "111122223333"),
        Decimal(0),
    )
    note = (
        f"The FOCUS billing export {path} has no Tags column (FOCUS makes it conditional): "
        "its costs count as untagged (tag rules match none of them)."
    )
    assert note in answer.notes
    assert len([n for n in answer.notes if "Tags" in n]) == 1


def test_without_tags_a_tag_question_answers_nothing_but_says_why(tmp_path: Path) -> None:
    path = write(tmp_path / "focus.csv", ROWS, [c for c in FOCUS_1_2 if c != "Tags"])
    config = load_config(TEAMS, filename="teams.toml", account_ids=AccountIds.ANY)
    source = FocusFileSource(str(path))

    answer = questions.team_cost(
        source, config.teams, config.shared, team=find_team(config.teams, "nlp"), period=OCTOBER
    )

    assert answer.total == 0
    assert any("has no Tags column" in note for note in answer.notes)


def test_without_sub_accounts_accounts_are_the_billing_accounts(tmp_path: Path) -> None:
    path = write(tmp_path / "focus.csv", ROWS, [c for c in FOCUS_1_2 if c != "SubAccountId"])

    result = ask(path, "account")

    assert grouped(result) == expected(ROWS, "BillingAccountId")
    assert result.notes == (
        f"The FOCUS billing export {path} has no SubAccountId column (FOCUS makes it conditional): "
        "accounts are matched by its BillingAccountId.",
    )


def test_without_any_account_column_account_rules_match_nothing(tmp_path: Path) -> None:
    without = [c for c in FOCUS_1_2 if c not in ("SubAccountId", "BillingAccountId")]
    path = write(tmp_path / "focus.csv", ROWS, without)
    config = load_config(TEAMS, filename="teams.toml", account_ids=AccountIds.ANY)
    source = FocusFileSource(str(path))

    answer = questions.top_costs(source, config.teams, config.shared, period=OCTOBER)

    by_team = {line.key: line.amount for line in answer.lines}
    assert "fraud" not in by_team
    assert by_team["(untagged)"] == Decimal("7") + Decimal("50")  # fraud's line is untagged
    assert by_team["nlp"] == Decimal("120.25") + Decimal("3.3333333333") - Decimal("20.00")
    assert (
        f"The FOCUS billing export {path} has no SubAccountId column (FOCUS makes it conditional): "
        "account rules match none of its costs."
    ) in answer.notes


def test_a_note_says_how_many_of_several_files_lack_the_column(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", ROWS[:3], FOCUS_1_2)
    lacking = write(tmp_path / "b.csv", ROWS[3:], [c for c in FOCUS_1_2 if c != "Tags"])

    result = FocusFileSource(str(tmp_path / "*.csv")).costs(
        CostQuery(OCTOBER, cost_filter=CostFilter(tags={"team": "nlp"}))
    )

    assert result.notes == (
        f"1 of the 2 FOCUS files (e.g. {lacking}) have no Tags column (FOCUS makes it "
        "conditional): its costs count as untagged (tag rules match none of them).",
    )


# --- several providers in one export --------------------------------------------------------

MULTI_CLOUD = [
    line(BilledCost="100", SubAccountId=AWS_ACCOUNT, Tags=""),
    line(
        BilledCost="40.50",
        ProviderName="Microsoft",
        BillingAccountId="7f1e2d3c-0000-4000-8000-000000000001",
        SubAccountId=AZURE_SUBSCRIPTION,
        ServiceName="Virtual Machines",
        RegionId="eastus",
        Tags=json.dumps({"team": "fraud"}),
    ),
    line(
        BilledCost="12.25",
        ProviderName="Google Cloud",
        BillingAccountId="01A2B3-C4D5E6-F7A8B9",
        SubAccountId=GCP_PROJECT,
        ServiceName="Compute Engine",
        RegionId="europe-west1",
        Tags="",
    ),
    line(BilledCost="-2.25", SubAccountId=GCP_PROJECT, ChargeCategory="Credit", Tags=""),
    line(BilledCost="9", SubAccountId="ocid1.tenancy.oc1..aaaaaaaaother", Tags=""),
]
MULTI_CLOUD_TEAMS = f"""
[teams.aws-team]
accounts = ["{AWS_ACCOUNT}"]
channel = "#aws"

[teams.fraud]
accounts = ["{AZURE_SUBSCRIPTION}"]
channel = "#fraud"

[teams.data]
accounts = ["{GCP_PROJECT}"]
channel = "#data"
"""


def test_a_multi_provider_export_is_allocated_by_each_providers_account_ids(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "focus.csv", MULTI_CLOUD, FOCUS_1_2 + PROVIDER_COLUMNS)
    config = load_config(MULTI_CLOUD_TEAMS, filename="teams.toml", account_ids=AccountIds.ANY)
    source = FocusFileSource(str(path))

    answer = questions.top_costs(source, config.teams, config.shared, period=OCTOBER)

    assert {line.key: line.amount for line in answer.lines} == {
        "aws-team": Decimal("100"),
        "fraud": Decimal("40.50"),
        "data": Decimal("10.00"),  # 12.25 less its 2.25 credit
        "(untagged)": Decimal("9"),  # an OCI compartment no team names
    }
    nlp_like = questions.team_cost(
        source, config.teams, config.shared, team=find_team(config.teams, "fraud"), period=OCTOBER
    )
    assert nlp_like.total == Decimal("40.50")
    assert [line.key for line in nlp_like.lines] == ["Virtual Machines"]


# --- credits --------------------------------------------------------------------------------


def test_credits_and_refunds_reduce_the_sum_exactly(tmp_path: Path) -> None:
    rows = [
        line(BilledCost="30.10", ServiceName="Amazon EC2"),
        line(BilledCost="-12.00", ServiceName="Amazon EC2", ChargeCategory="Credit"),
        line(BilledCost="-0.05", ServiceName="Amazon EC2", ChargeCategory="Usage"),  # refund
        line(BilledCost="-40", ServiceName="AWS Support", ChargeCategory="Credit"),
        line(BilledCost="28", ServiceName="AWS Support"),
    ]
    path = write(tmp_path / "focus.csv", rows, FOCUS_1_2)

    result = ask(path, "service")

    assert grouped(result) == {("Amazon EC2",): Decimal("18.05"), ("AWS Support",): Decimal(-12)}
    assert result.totals() == {"USD": Decimal("6.05")}
    assert [group.key for group in result.groups] == [("Amazon EC2",), ("AWS Support",)]


# --- Parquet, as AWS Data Exports delivers FOCUS --------------------------------------------


def write_parquet(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    """Typed as AWS writes it: UTC timestamps, decimals, Tags a map, x_ columns of any type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def typed(column: str) -> pa.Array:
        values = [row[column] for row in rows]
        if column.startswith(("ChargePeriod", "BillingPeriod")):
            moments = [dt.datetime.fromisoformat(value) for value in values]
            return pa.array(moments, pa.timestamp("us", tz="UTC"))
        if column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            return pa.array([Decimal(v) if v else None for v in values], pa.decimal128(38, 10))
        if column == "Tags":
            maps = [list(json.loads(v).items()) if v else [] for v in values]
            return pa.array(maps, pa.map_(pa.string(), pa.string()))
        if column == "x_SkuDetails":
            return pa.array([{"CoreCount": 2, "Os": "Linux"}] * len(rows))
        return pa.array(values, pa.string())

    pq.write_table(pa.table({column: typed(column) for column in columns}), path)
    return path


@pytest.mark.parametrize("left_out", [(), ("Tags",), ("SubAccountId",)])
def test_parquet_focus_1_2_with_provider_columns_and_conditional_ones_left_out(
    tmp_path: Path, left_out: tuple[str, ...]
) -> None:
    columns = [c for c in FOCUS_1_2 + PROVIDER_COLUMNS if c not in left_out]
    path = write_parquet(tmp_path / "focus.parquet", ROWS, columns)
    source = FocusFileSource(str(path))

    by_account = source.costs(CostQuery(OCTOBER, group_by=(Dimension.parse("account"),)))
    nlp = source.costs(CostQuery(OCTOBER, cost_filter=CostFilter(tags={"team": "nlp"})))

    account_column = "BillingAccountId" if "SubAccountId" in left_out else "SubAccountId"
    assert grouped(by_account) == expected(ROWS, account_column)
    tagged = [row for row in ROWS if row["Tags"] == json.dumps({"team": "nlp"})]
    if "Tags" in left_out:
        assert nlp.groups == ()
        assert nlp.notes == (
            f"The FOCUS billing export {path} has no Tags column (FOCUS makes it conditional): "
            "its costs count as untagged (tag rules match none of them).",
        )
    else:
        assert grouped(nlp) == expected(tagged, "ServiceName")
        assert nlp.notes == ()

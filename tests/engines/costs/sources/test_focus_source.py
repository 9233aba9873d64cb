"""FOCUS files read with DuckDB: totals checked against sums made here from the rows written."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engines.costs.query import CostQuery, CostResult, Dimension
from engines.costs.sources.base import CostFilter
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import METRIC_COLUMNS, FocusFileSource
from engines.errors import CostSourceError
from engines.models import CostBreakdown, Metric, Period

OCTOBER = Period(date(2026, 10, 1), date(2026, 11, 1), "October 2026")
COLUMNS = [
    "ChargePeriodStart",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ServiceName",
    "SubAccountId",
    "ChargeCategory",
    "Tags",
]
NLP = '{"team": "nlp", "env": "prod"}'
FRAUD = '{"team": "fraud-detection"}'

# A messy export: four spellings of null, time zones, Tax and Credit lines, two currencies.
ROWS: list[dict[str, str]] = [
    dict(zip(COLUMNS, values, strict=True))
    for values in [
        ("2026-10-01T00:00:00Z", "120.25", "100.10", "150", "USD", "Amazon EC2", "012345678901", "Usage", NLP),  # noqa: E501
        ("2026-10-15T00:00:00+00:00", "0.0000012345", "0.000001", "0.0000015", "USD", "Amazon EC2", "012345678901", "Usage", NLP),  # noqa: E501
        ("2026-09-30T20:00:00-04:00", "3.3333333333", "3", "4", "USD", "Amazon S3", "012345678901", "Usage", NLP),  # noqa: E501
        ("2026-09-30T23:59:59Z", "999", "999", "999", "USD", "Amazon S3", "012345678901", "Usage", NLP),  # noqa: E501
        ("2026-10-02 00:00:00", "50", "45", "60", "USD", "Amazon EC2", "111122223333", "Usage", FRAUD),  # noqa: E501
        ("2026-10-31T00:00:00Z", "12.34", "12.34", "12.34", "USD", "", "012345678901", "Tax", ""),
        ("2026-10-05", "-20.00", "-20.00", "0", "USD", "Amazon EC2", "012345678901", "Credit", NLP),
        ("2026-10-07T12:00:00Z", "45.678", "40", "50", "EUR", "Amazon SageMaker", "444455556666", "Usage", '{"team": "nlp"}'),  # noqa: E501
        ("2026-10-08T00:00:00Z", "NULL", "null", "None", "USD", "Amazon EC2", "012345678901", "Usage", NLP),  # noqa: E501
        ("2026-10-09T00:00:00Z", "1.01", "1", "1.5E-7", "USD", "None", "012345678901", "Usage", "null"),  # noqa: E501
        ("2026-10-10T00:00:00Z", "2", "2", "2", "USD", "AWS Lambda", "012345678901", "Usage", "{}"),
        ("2026-11-01T00:00:00Z", "7", "7", "7", "USD", "AWS Lambda", "012345678901", "Usage", NLP),
        ("2026-10-11T00:00:00Z", "0.50", "0.5", "0.5", "USD", "NULL", "012345678901", "Usage", '{"user:cost.center": "ml", "team": "nlp"}'),  # noqa: E501
    ]
]  # fmt: skip
NULL_SPELLINGS = {"", "NULL", "null", "None"}


# --- the independent answer -----------------------------------------------------------------


def present(text: str) -> str | None:
    return None if text.strip() in NULL_SPELLINGS else text.strip()


def utc_day(timestamp: str) -> date:
    return utc_moment(timestamp).date()


def utc_moment(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def expected_totals(
    rows: Iterable[dict[str, str]],
    period: Period = OCTOBER,
    *,
    column: str = "BilledCost",
    tags: dict[str, str] | None = None,
    accounts: tuple[str, ...] = (),
) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        cost = present(row[column])
        row_tags = json.loads(present(row["Tags"]) or "{}")
        if (
            cost is None
            or not period.start <= utc_day(row["ChargePeriodStart"]) < period.end
            or any(row_tags.get(key) != value for key, value in (tags or {}).items())
            or (accounts and row["SubAccountId"] not in accounts)
        ):
            continue
        key = (present(row["ServiceName"]) or "(no service)", row["BillingCurrency"])
        totals[key] = totals.get(key, Decimal("0")) + Decimal(cost)
    return totals


def as_totals(breakdown: CostBreakdown) -> dict[tuple[str, str], Decimal]:
    return {(line.service, line.currency): line.amount for line in breakdown.lines}


# --- writing files -------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as file:  # type: ignore[operator]
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    """Typed as real exports are: UTC timestamps, decimal costs, text elsewhere."""
    money = pa.decimal128(38, 10)
    columns = {
        "ChargePeriodStart": pa.array(
            [datetime.fromisoformat(r["ChargePeriodStart"]).astimezone(UTC) for r in rows],
            pa.timestamp("us", tz="UTC"),
        ),
        **{
            name: pa.array([_decimal_or_none(r[name]) for r in rows], money)
            for name in ("BilledCost", "EffectiveCost", "ListCost")
        },
        **{
            name: pa.array([r[name] for r in rows], pa.string())
            for name in ("BillingCurrency", "ServiceName", "SubAccountId", "ChargeCategory", "Tags")
        },
    }
    pq.write_table(pa.table(columns), path)
    return path


def _decimal_or_none(text: str) -> Decimal | None:
    value = present(text)
    return None if value is None else Decimal(value)


WRITERS: dict[str, Callable[[Path], Path]] = {
    "csv": lambda folder: write_csv(folder / "focus.csv", ROWS),
    "csv.gz": lambda folder: write_csv(folder / "focus.csv.gz", ROWS),
    "parquet": lambda folder: write_parquet(folder / "focus.parquet", ROWS),
}


@pytest.fixture(params=sorted(WRITERS))
def focus_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return WRITERS[request.param](tmp_path)


def costs(
    path: Path | str,
    cost_filter: CostFilter | None = None,
    metric: Metric = Metric.BILLED,
    period: Period = OCTOBER,
) -> CostBreakdown:
    source = FocusFileSource(str(path))
    return source.cost_by_service(
        period=period, cost_filter=cost_filter or CostFilter(), metric=metric
    )


# --- totals ---------------------------------------------------------------------------------


def test_everything_in_the_period_by_service_and_currency(focus_file: Path) -> None:
    breakdown = costs(focus_file)

    assert as_totals(breakdown) == expected_totals(ROWS)
    assert breakdown.source == "focus"
    assert breakdown.period == OCTOBER
    assert breakdown.metric is Metric.BILLED


def test_the_expected_answer_is_what_we_think_it_is() -> None:
    """A hand check of the independent sum, so the two cannot be wrong together."""
    assert expected_totals(ROWS) == {
        ("Amazon EC2", "USD"): Decimal("120.25") + Decimal("0.0000012345") + Decimal("50") - 20,
        ("Amazon S3", "USD"): Decimal("3.3333333333"),
        ("(no service)", "USD"): Decimal("12.34") + Decimal("1.01") + Decimal("0.50"),
        ("Amazon SageMaker", "EUR"): Decimal("45.678"),
        ("AWS Lambda", "USD"): Decimal("2"),
    }


def test_lines_are_sorted_by_amount_descending(focus_file: Path) -> None:
    amounts = [line.amount for line in costs(focus_file).lines]

    assert amounts == sorted(amounts, reverse=True)


def test_totals_to_the_cent_match_an_independent_sum(focus_file: Path) -> None:
    cent = Decimal("0.01")
    expected: dict[str, Decimal] = {}
    for (_, currency), amount in expected_totals(ROWS).items():
        expected[currency] = expected.get(currency, Decimal("0")) + amount

    totals = costs(focus_file).totals()

    assert {c: t.quantize(cent) for c, t in totals.items()} == {
        c: t.quantize(cent) for c, t in expected.items()
    }
    assert all(isinstance(amount, Decimal) for amount in totals.values())


@pytest.mark.parametrize(
    ("metric", "column"),
    [(Metric.EFFECTIVE, "EffectiveCost"), (Metric.LIST, "ListCost")],
)
def test_each_metric_sums_its_own_column(focus_file: Path, metric: Metric, column: str) -> None:
    breakdown = costs(focus_file, metric=metric)

    assert as_totals(breakdown) == expected_totals(ROWS, column=column)
    assert breakdown.metric is metric


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        {"team": "nlp"},
        {"team": "nlp", "env": "prod"},
        {"team": "fraud-detection"},
        {"user:cost.center": "ml"},
        {"team": "nobody"},
    ],
)
def test_tags_must_all_match(focus_file: Path, tags: dict[str, str]) -> None:
    breakdown = costs(focus_file, CostFilter(tags=tags))

    assert as_totals(breakdown) == expected_totals(ROWS, tags=tags)


def test_accounts_filter_by_sub_account(focus_file: Path) -> None:
    accounts = ("111122223333", "444455556666")

    breakdown = costs(focus_file, CostFilter(accounts=accounts))

    assert as_totals(breakdown) == expected_totals(ROWS, accounts=accounts)
    assert {line.currency for line in breakdown.lines} == {"USD", "EUR"}


def test_tags_and_accounts_combine(focus_file: Path) -> None:
    cost_filter = CostFilter(tags={"team": "nlp"}, accounts=("012345678901",))

    breakdown = costs(focus_file, cost_filter)

    assert as_totals(breakdown) == expected_totals(
        ROWS, tags={"team": "nlp"}, accounts=("012345678901",)
    )


def test_filter_values_are_parameters_not_sql(focus_file: Path) -> None:
    hostile = CostFilter(tags={'te"am': "x", "team": "nlp' OR '1'='1"}, accounts=("') --",))

    assert costs(focus_file, hostile).lines == ()


def test_the_period_boundaries_are_utc_days(focus_file: Path) -> None:
    """20:00 at -04:00 on Sep 30 is Oct 1 in UTC; 23:59:59Z on Sep 30 is not October."""
    first_day = Period(date(2026, 10, 1), date(2026, 10, 2))

    breakdown = costs(focus_file, period=first_day)

    assert as_totals(breakdown) == {
        ("Amazon EC2", "USD"): Decimal("120.25"),
        ("Amazon S3", "USD"): Decimal("3.3333333333"),
    }


def test_a_period_with_no_lines_is_empty(focus_file: Path) -> None:
    assert costs(focus_file, period=Period(date(2025, 1, 1), date(2025, 2, 1))).lines == ()


# --- several files --------------------------------------------------------------------------


def test_a_glob_reads_csv_gz_and_parquet_together_by_column_name(tmp_path: Path) -> None:
    write_csv(tmp_path / "part-1.csv.gz", ROWS[:5], columns=list(reversed(COLUMNS)))
    write_csv(tmp_path / "part-2.csv", ROWS[5:9])
    write_parquet(tmp_path / "part-3.parquet", ROWS[9:])

    breakdown = costs(tmp_path / "part-*")

    assert as_totals(breakdown) == expected_totals(ROWS)


def test_a_directory_reads_every_focus_file_under_it(tmp_path: Path) -> None:
    (tmp_path / "2026" / "10").mkdir(parents=True)
    write_csv(tmp_path / "2026" / "10" / "a.csv", ROWS[:7])
    write_parquet(tmp_path / "2026" / "b.parquet", ROWS[7:])
    (tmp_path / "manifest.json").write_text("{}")

    assert as_totals(costs(tmp_path)) == expected_totals(ROWS)


def test_parquet_with_map_tags_and_numeric_accounts(tmp_path: Path) -> None:
    rows = [r for r in ROWS if present(r["Tags"]) and present(r["BilledCost"])]
    table = pa.table(
        {
            "ChargePeriodStart": [r["ChargePeriodStart"] for r in rows],
            "BilledCost": [float(r["BilledCost"]) for r in rows],
            "BillingCurrency": [r["BillingCurrency"] for r in rows],
            "ServiceName": [r["ServiceName"] for r in rows],
            "SubAccountId": pa.array([int(r["SubAccountId"]) for r in rows], pa.int64()),
            "Tags": pa.array(
                [list(json.loads(r["Tags"]).items()) for r in rows],
                pa.map_(pa.string(), pa.string()),
            ),
        }
    )
    pq.write_table(table, tmp_path / "typed.parquet")
    cost_filter = CostFilter(tags={"team": "nlp"}, accounts=("012345678901",))

    breakdown = costs(tmp_path / "typed.parquet", cost_filter)

    cent = Decimal("0.01")
    expected = expected_totals(rows, tags={"team": "nlp"}, accounts=("012345678901",))
    assert {k: v.quantize(cent) for k, v in as_totals(breakdown).items()} == {
        k: v.quantize(cent) for k, v in expected.items()
    }


def test_concurrent_calls_from_several_threads_agree(focus_file: Path) -> None:
    source = FocusFileSource(str(focus_file))

    def ask(_: int) -> CostBreakdown:
        return source.cost_by_service(
            period=OCTOBER, cost_filter=CostFilter(tags={"team": "nlp"}), metric=Metric.BILLED
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(16)))

    assert all(answer == answers[0] for answer in answers)
    assert as_totals(answers[0]) == expected_totals(ROWS, tags={"team": "nlp"})


# --- errors ---------------------------------------------------------------------------------


def test_a_path_matching_nothing_says_which_path(tmp_path: Path) -> None:
    pattern = str(tmp_path / "exports" / "*.parquet")

    with pytest.raises(CostSourceError, match="No FOCUS files match") as caught:
        costs(pattern)

    assert pattern in str(caught.value)


def test_a_missing_column_names_the_file_and_column(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "a.csv", ROWS)
    no_billed = write_csv(tmp_path / "b.csv", ROWS, [c for c in COLUMNS if c != "BilledCost"])

    with pytest.raises(CostSourceError) as caught:
        costs(tmp_path / "*.csv")

    assert str(no_billed) in str(caught.value)
    assert "'BilledCost'" in str(caught.value)
    assert str(good) not in str(caught.value)


def test_a_column_only_needed_by_another_query_is_not_required(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", ROWS, [c for c in COLUMNS if c not in ("Tags", "ListCost")]
    )

    assert as_totals(costs(path)) == expected_totals(ROWS)
    with pytest.raises(CostSourceError, match="no column 'ListCost'"):
        costs(path, metric=Metric.LIST)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "focus.csv.gz"
    broken.write_bytes(b"this is not gzip")

    with pytest.raises(CostSourceError, match="Cannot read FOCUS file") as caught:
        costs(broken)

    assert str(broken) in str(caught.value)


def test_a_file_of_another_kind_is_named(tmp_path: Path) -> None:
    (tmp_path / "focus.json").write_text("{}")

    with pytest.raises(CostSourceError, match=r"focus\.json: expected a \.csv"):
        costs(tmp_path / "focus.*")


def test_a_cost_that_is_not_a_number_names_file_column_and_value(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", ROWS)
    bad = write_csv(tmp_path / "b.csv", [{**ROWS[0], "BilledCost": "twelve"}])

    with pytest.raises(CostSourceError) as caught:
        costs(tmp_path / "*.csv")

    assert str(caught.value) == f"FOCUS file {bad}, column BilledCost: 'twelve' is not a number."


def test_a_start_that_is_not_a_timestamp_is_named(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "b.csv", [{**ROWS[0], "ChargePeriodStart": "last tuesday"}])

    with pytest.raises(CostSourceError) as caught:
        costs(bad)

    assert str(caught.value) == (
        f"FOCUS file {bad} row 2, ChargePeriodStart: 'last tuesday' is not an ISO 8601 date "
        "(e.g. 2025-04-01T00:00:00Z). Export dates as year-month-day, like the example."
    )


# --- dates: ISO 8601 only, years 2000-2100 --------------------------------------------------


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("4/1/25", "is not an ISO 8601 date (e.g. 2025-04-01T00:00:00Z)"),
        ("garbage", "is not an ISO 8601 date (e.g. 2025-04-01T00:00:00Z)"),
        ("2026-13-01T00:00:00Z", "is not an ISO 8601 date (e.g. 2025-04-01T00:00:00Z)"),
        ("0004-01-01", "is outside the years 2000–2100"),
        ("2101-01-01", "is outside the years 2000–2100"),
    ],
)
def test_a_date_that_is_not_iso_8601_in_2000_to_2100_is_refused_naming_file_row_and_column(
    tmp_path: Path, written: str, complaint: str
) -> None:
    """DuckDB alone would read '4/1/25' as 25 January of year 4 and answer "no costs"."""
    rows = [ROWS[0], ROWS[1], {**ROWS[4], "ChargePeriodStart": written}, ROWS[5]]
    bad = write_csv(tmp_path / "export.csv", rows)

    with pytest.raises(CostSourceError) as caught:
        costs(bad)

    message = str(caught.value)
    assert message.startswith(f"FOCUS file {bad} row 4, ChargePeriodStart: '{written}' ")
    assert complaint in message


def test_a_bad_end_date_is_refused_too(tmp_path: Path) -> None:
    columns = [*COLUMNS, "ChargePeriodEnd"]
    rows = [{**row, "ChargePeriodEnd": "2026-10-02T00:00:00Z"} for row in ROWS[:3]]
    rows[1]["ChargePeriodEnd"] = "10/2/26"
    bad = write_csv(tmp_path / "export.csv", rows, columns)

    with pytest.raises(CostSourceError, match=r"row 3, ChargePeriodEnd: '10/2/26' is not an ISO"):
        costs(bad)


def test_a_parquet_timestamp_outside_2000_to_2100_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    starts = [datetime(2026, 10, 1), datetime(2026, 10, 2), datetime(4, 1, 25)]
    table = pa.table(
        {
            "ChargePeriodStart": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "BilledCost": pa.array([Decimal(1)] * 3, pa.decimal128(38, 10)),
            "BillingCurrency": pa.array(["USD"] * 3),
            "ServiceName": pa.array(["Amazon EC2"] * 3),
        }
    )
    pq.write_table(table, path)

    with pytest.raises(CostSourceError) as caught:
        costs(path)

    assert f"{path} row 3, ChargePeriodStart: '0004-01-25 00:00:00" in str(caught.value)
    assert "outside the years 2000–2100" in str(caught.value)


def test_iso_8601_dates_in_every_form_focus_writes_them_are_read(tmp_path: Path) -> None:
    forms = [
        "2026-10-03",
        "2026-10-03T00:00:00Z",
        "2026-10-03T00:00Z",
        "2026-10-03 00:00:00",
        "2026-10-03T00:00:00.000Z",
        "2026-10-03T02:00:00+02:00",
        "2026-10-02T20:00:00-0400",
    ]
    rows = [{**ROWS[0], "ChargePeriodStart": form, "BilledCost": "1"} for form in forms]
    path = write_csv(tmp_path / "export.csv", rows)

    source = FocusFileSource(str(path))
    result = source.costs(CostQuery(OCTOBER, group_by=(Dimension.parse("day"),)))

    assert [(g.key, g.amount) for g in result.groups] == [(("2026-10-03",), Decimal(len(forms)))]


def test_dates_are_checked_once_per_version_of_a_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", ROWS)
    source = FocusFileSource(str(path))
    costs_total(source)
    write_csv(path, [*ROWS, {**ROWS[0], "ChargePeriodStart": "4/1/25"}])
    import os

    os.utime(path, ns=(1, 1))

    with pytest.raises(CostSourceError, match="'4/1/25' is not an ISO 8601 date"):
        costs_total(source)


# --- repeated questions ---------------------------------------------------------------------


def test_a_repeated_question_is_answered_without_scanning_again(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", ROWS)
    source = FocusFileSource(str(path))
    scans = []
    real_scan = source._scan
    source._scan = lambda *a, **k: scans.append(1) or real_scan(*a, **k)  # type: ignore[method-assign]

    ask = dict(period=OCTOBER, cost_filter=CostFilter(tags={"team": "nlp"}), metric=Metric.BILLED)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: source.cost_by_service(**ask), range(16)))

    assert len(scans) == 1  # concurrent askers waited for one scan
    assert all(answer == answers[0] for answer in answers)


def test_a_changed_export_is_scanned_again(tmp_path: Path) -> None:
    import os

    path = write_csv(tmp_path / "export.csv", ROWS)
    source = FocusFileSource(str(path))
    before = costs_total(source)
    more = [*ROWS, {**ROWS[0], "BilledCost": "1000"}]
    write_csv(path, more)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems

    assert costs_total(source) == before + Decimal("1000")


def costs_total(source: FocusFileSource) -> Decimal:
    breakdown = source.cost_by_service(
        period=OCTOBER, cost_filter=CostFilter(tags={"team": "nlp"}), metric=Metric.BILLED
    )
    return breakdown.totals()["USD"]


# --- the general question: costs(query) -----------------------------------------------------

FULL_COLUMNS = [*COLUMNS, "RegionId", "ResourceId"]
ODD_TAGS = '{"o\'k\\"ey": "it\'s \\"quoted\\"", "user:cost.center": "ml", "team": "nlp"}'
# The rows above with a region and a resource each (nulls spelled every way), and more lines:
# Purchase and Adjustment, a third currency, odd tag keys and values, tags that are not JSON.
FULL_ROWS: list[dict[str, str]] = [
    {**row, "RegionId": region, "ResourceId": resource}
    for row, (region, resource) in zip(
        ROWS,
        [
            ("us-east-1", "i-1"), ("us-east-1", "i-1"), ("us-west-2", "bucket-a"),
            ("us-west-2", "bucket-a"), ("us-east-1", "i-2"), ("", ""), ("NULL", "None"),
            ("eu-west-1", "nb-1"), ("us-east-1", "i-1"), ("null", ""), (" us-east-1 ", "fn-1"),
            ("us-east-1", "fn-1"), ("us-east-1", "i-3"),
        ],
        strict=True,
    )
] + [
    dict(zip(FULL_COLUMNS, values, strict=True))
    for values in [
        ("2026-10-03T00:00:00Z", "300", "0", "300", "USD", "Amazon EC2", "012345678901", "Purchase", "", "us-east-1", "ri-1"),  # noqa: E501
        ("2026-10-06T00:00:00Z", "-1.5", "-1.5", "0", "USD", "Amazon EC2", "012345678901", "Adjustment", NLP, "", ""),  # noqa: E501
        ("2026-10-08T00:00:00Z", "1234", "1200", "1300", "JPY", "Amazon EC2", "444455556666", "Usage", '{"team": "vision"}', "ap-northeast-1", "i-9"),  # noqa: E501
        ("2026-10-12T00:00:00Z", "0.25", "0.25", "0.25", "USD", "Amazon Bedrock", "012345678901", "Usage", ODD_TAGS, "us-east-1", "model-1"),  # noqa: E501
        ("2026-10-13T00:00:00Z", "4", "4", "4", "USD", "Amazon Bedrock", "012345678901", "Usage", "None", "us-east-1", "model-1"),  # noqa: E501
        ("2026-10-14T00:00:00Z", "8", "8", "8", "USD", "Amazon Bedrock", "012345678901", "NULL", '{"team": null, "env": 3}', "us-east-1", "model-2"),  # noqa: E501
    ]
]  # fmt: skip
DIMENSIONS = {
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "resource": "ResourceId",
    "charge_category": "ChargeCategory",
}


def row_tags(row: dict[str, str]) -> dict[str, str]:
    """The row's tags as text (a JSON number or bool as JSON writes it); {} when not JSON."""
    try:
        parsed = json.loads(present(row["Tags"]) or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in parsed.items()
        if value is not None
    }


def dimension_value(row: dict[str, str], word: str) -> str:
    if word == "day":
        return utc_day(row["ChargePeriodStart"]).isoformat()
    if word.startswith("tag:"):
        return row_tags(row).get(word[4:], "")
    return present(row[DIMENSIONS[word]]) or ""


def expected_groups(
    rows: Iterable[dict[str, str]], query: CostQuery
) -> dict[tuple[tuple[str, ...], str], Decimal]:
    """The independent answer: a Python Decimal sum over the raw text of the rows."""
    column = METRIC_COLUMNS[query.metric]
    words = [dimension.label for dimension in query.group_by]
    groups: dict[tuple[tuple[str, ...], str], Decimal] = {}
    for row in rows:
        cost, tags = present(row[column]), row_tags(row)
        if (
            cost is None
            or not query.period.start <= utc_day(row["ChargePeriodStart"]) < query.period.end
            or any(tags.get(k) != v for k, v in query.cost_filter.tags.items())
            or (
                query.cost_filter.accounts and row["SubAccountId"] not in query.cost_filter.accounts
            )
        ):
            continue
        key = (
            tuple(dimension_value(row, word) for word in words),
            present(row["BillingCurrency"]) or "",
        )
        groups[key] = groups.get(key, Decimal(0)) + Decimal(cost)
    return groups


def write_full_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    """Typed as real exports are: UTC timestamps, decimal costs, text (nulls as written)."""
    money = pa.decimal128(38, 10)
    table = pa.table(
        {
            "ChargePeriodStart": pa.array(
                [utc_moment(r["ChargePeriodStart"]) for r in rows],
                pa.timestamp("us", tz="UTC"),
            ),
            **{
                c: pa.array([_decimal_or_none(r[c]) for r in rows], money)
                for c in METRIC_COLUMNS.values()
            },
            **{
                c: pa.array([r[c] for r in rows], pa.string())
                for c in FULL_COLUMNS
                if c not in METRIC_COLUMNS.values() and c != "ChargePeriodStart"
            },
        }
    )
    pq.write_table(table, path)
    return path


FULL_WRITERS: dict[str, Callable[[Path], Path]] = {
    "csv": lambda folder: write_csv(folder / "focus.csv", FULL_ROWS, FULL_COLUMNS),
    "csv.gz": lambda folder: write_csv(folder / "focus.csv.gz", FULL_ROWS, FULL_COLUMNS),
    "parquet": lambda folder: write_full_parquet(folder / "focus.parquet", FULL_ROWS),
}
GROUPINGS = [
    (),
    *[(word,) for word in [*DIMENSIONS, "day", "tag:team", "tag:env"]],
    ("service", "tag:team", "day"),
]


@pytest.fixture(scope="module", params=sorted(FULL_WRITERS))
def full_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return FULL_WRITERS[request.param](tmp_path_factory.mktemp("focus"))


@pytest.fixture(scope="module")
def full(full_file: Path) -> FocusFileSource:
    """One source per file: answers are remembered by question, and each test asks its own."""
    return FocusFileSource(str(full_file))


def ask(
    source: FocusFileSource | Path,
    words: tuple[str, ...],
    *,
    metric: Metric = Metric.BILLED,
    period: Period = OCTOBER,
    tags: dict[str, str] | None = None,
) -> CostResult:
    query = CostQuery(
        period=period,
        metric=metric,
        cost_filter=CostFilter(tags=tags or {}),
        group_by=tuple(Dimension.parse(word) for word in words),
    )
    if isinstance(source, Path):
        source = FocusFileSource(str(source))
    return source.costs(query)


def result_groups(result: CostResult) -> dict[tuple[tuple[str, ...], str], Decimal]:
    return {(group.key, group.currency): group.amount for group in result.groups}


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("words", GROUPINGS, ids=lambda words: "+".join(words) or "total")
def test_every_group_equals_an_independent_sum(
    full: FocusFileSource, words: tuple[str, ...], metric: Metric
) -> None:
    result = ask(full, words, metric=metric)

    assert result_groups(result) == expected_groups(FULL_ROWS, result.query)
    assert [g.amount for g in result.groups] == sorted(
        (g.amount for g in result.groups), reverse=True
    )


def test_the_independent_sum_is_what_we_think_it_is() -> None:
    query = CostQuery(period=OCTOBER, group_by=(Dimension.parse("charge_category"),))

    assert expected_groups(FULL_ROWS, query) == {
        (("Usage",), "USD"): Decimal("120.25") + Decimal("0.0000012345") + Decimal("3.3333333333")
        + 50 + Decimal("1.01") + 2 + Decimal("0.50") + Decimal("0.25") + 4,
        (("Usage",), "EUR"): Decimal("45.678"),
        (("Usage",), "JPY"): Decimal("1234"),
        (("Tax",), "USD"): Decimal("12.34"),
        (("Credit",), "USD"): Decimal("-20"),
        (("Purchase",), "USD"): Decimal("300"),
        (("Adjustment",), "USD"): Decimal("-1.5"),
        (("",), "USD"): Decimal("8"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "tags",
    [
        {"team": "nlp"},
        {"o'k\"ey": 'it\'s "quoted"'},
        {"user:cost.center": "ml", "team": "nlp"},
        {"env": "3"},
        {"team": "nlp' OR '1'='1"},
        {"team') OR 1=1 --": "nlp"},
    ],
)
def test_tag_filters_with_odd_keys_and_values(full: FocusFileSource, tags: dict[str, str]) -> None:
    result = ask(full, ("service", "tag:team"), tags=tags)

    assert result_groups(result) == expected_groups(FULL_ROWS, result.query)


def test_a_period_outside_the_data_is_an_empty_result(full: FocusFileSource) -> None:
    result = ask(full, ("service",), period=Period(date(2030, 1, 1), date(2030, 2, 1)))

    assert result.groups == ()
    assert result.totals() == {}


def test_a_dimension_needs_its_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", FULL_ROWS, [c for c in FULL_COLUMNS if c != "RegionId"])

    assert result_groups(ask(path, ("service",))) == expected_groups(
        FULL_ROWS, ask(path, ("service",)).query
    )
    with pytest.raises(CostSourceError) as caught:
        ask(path, ("region",))

    assert (
        str(caught.value)
        == f"FOCUS file {path} has no column 'RegionId': is it a FOCUS 1.x export?"
    )


def test_answers_are_remembered_by_the_whole_question(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", FULL_ROWS, FULL_COLUMNS)
    source = FocusFileSource(str(path))
    scans = []
    real_scan = source._scan
    source._scan = lambda *a, **k: scans.append(1) or real_scan(*a, **k)  # type: ignore[method-assign]
    by_service = CostQuery(period=OCTOBER, group_by=(Dimension.parse("service"),))
    by_region = CostQuery(period=OCTOBER, group_by=(Dimension.parse("region"),))

    first = source.costs(by_service)
    source.costs(by_region)
    again = source.costs(by_service)
    source.cost_by_service(period=OCTOBER, cost_filter=CostFilter(), metric=Metric.BILLED)

    assert len(scans) == 2  # by service (asked three ways) and by region
    assert again is first


# --- exports of another kind ----------------------------------------------------------------

LEGACY_CUR_HEADER = [
    "identity/LineItemId",
    "identity/TimeInterval",
    "bill/PayerAccountId",
    "lineItem/UsageAccountId",
    "lineItem/UsageStartDate",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "product/ProductName",
    "resourceTags/user:team",
]
LEGACY_CUR_ROW = [
    "abc123",
    "2026-10-01T00:00:00Z/2026-10-01T01:00:00Z",
    "111122223333",
    "012345678901",
    "2026-10-01T00:00:00Z",
    "1.25",
    "USD",
    "Amazon Elastic Compute Cloud",
    "nlp",
]


@pytest.mark.parametrize("source_class", [FocusFileSource, CurFileSource])
def test_a_legacy_cur_says_which_export_to_make_instead(
    tmp_path: Path, source_class: type[FocusFileSource] | type[CurFileSource]
) -> None:
    path = tmp_path / "legacy-cur.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows([LEGACY_CUR_HEADER, LEGACY_CUR_ROW])

    with pytest.raises(CostSourceError) as caught:
        source_class(str(path)).costs(CostQuery(OCTOBER))

    message = str(caught.value)
    assert f"{path} is a legacy Cost and Usage Report (CUR 1" in message
    assert "lineItem/UsageStartDate" in message
    assert "CUR 2.0 or a FOCUS 1.x export in AWS Data Exports" in message
    assert "is it a" not in message  # no longer "is it a CUR 2.0 export?"


def test_a_legacy_cur_in_parquet_is_recognised_by_its_spelled_out_tag_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "legacy.parquet"
    table = pa.table(
        {
            "line_item_usage_start_date": pa.array([datetime(2026, 10, 1)], pa.timestamp("us")),
            "line_item_unblended_cost": pa.array([1.25]),
            "line_item_currency_code": pa.array(["USD"]),
            "resource_tags_user_team": pa.array(["nlp"]),
        }
    )
    pq.write_table(table, path)

    with pytest.raises(CostSourceError, match="is a legacy Cost and Usage Report"):
        CurFileSource(str(path)).costs(CostQuery(OCTOBER))


def test_a_cur_2_file_given_as_focus_says_to_read_it_as_cur(tmp_path: Path) -> None:
    path = tmp_path / "cur2.csv"
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(
            [["line_item_usage_start_date", "line_item_unblended_cost"], ["2026-10-01", "1"]]
        )

    with pytest.raises(CostSourceError) as caught:
        FocusFileSource(str(path)).costs(CostQuery(OCTOBER))

    assert f"{path} looks like a CUR 2.0 export" in str(caught.value)
    assert f"cost source 'cur:{path}'" in str(caught.value)

"""CUR 2.0 files read with DuckDB: every answer checked against a Python sum over the lines.

The lines (``billing_lines.CUR_LINES``) hold every line item type the amortized formula
treats differently, three currencies, missing services, regions and tags; the gzip CSV spells
null four ways.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engines.costs.sources.base import CostFilter
from engines.costs.sources.cur import CurFileSource
from engines.errors import CostSourceError
from engines.models import Metric, Period
from tests.engines.billing_lines import (
    CUR_LINES,
    DIMENSION_SETS,
    OCTOBER,
    as_groups,
    cur_expected,
    query_of,
    write_cur_csv_gz,
    write_cur_parquet,
)

WRITERS: dict[str, Callable[[Path], Path]] = {
    "parquet": lambda folder: write_cur_parquet(folder / "cur-00001.snappy.parquet", CUR_LINES),
    "csv.gz": lambda folder: write_cur_csv_gz(folder / "cur-00001.csv.gz", CUR_LINES),
}


@pytest.fixture(scope="module", params=sorted(WRITERS))
def cur_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return WRITERS[request.param](tmp_path_factory.mktemp("cur"))


@pytest.fixture(scope="module")
def cur(cur_file: Path) -> CurFileSource:
    """One source per file: answers are remembered by question, and each test asks its own."""
    return CurFileSource(str(cur_file))


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("words", DIMENSION_SETS, ids=lambda words: "+".join(words) or "total")
def test_every_group_equals_the_python_sum(
    cur: CurFileSource, words: tuple[str, ...], metric: Metric
) -> None:
    query = query_of(words, metric=metric)

    result = cur.costs(query)

    assert as_groups(result) == cur_expected(CUR_LINES, query)
    assert result.source == "cur"
    assert result.query == query


def test_the_expected_effective_cost_is_what_aws_documents() -> None:
    """A hand check of the independent formula, so the two cannot be wrong together."""
    totals = cur_expected(CUR_LINES, query_of((), metric=Metric.EFFECTIVE))

    usage, covered, negation = Decimal("10.5"), Decimal("2.75"), Decimal(0)
    sp_fee, sp_upfront = Decimal("100") - Decimal("80"), Decimal(0)
    discounted, ri_fee, ri_upfront = Decimal("1.25"), Decimal("5.5") + Decimal("2.25"), 0
    others = Decimal("9.99") + Decimal("12.34") - 20 + Decimal("0.000123")
    assert totals[((), "USD")] == (
        usage + covered + negation + sp_fee + sp_upfront + discounted + ri_fee + ri_upfront + others
    )
    assert totals[((), "EUR")] == Decimal("45.678") - 5
    assert totals[((), "JPY")] == 1234


@pytest.mark.parametrize(
    "tags",
    [
        {"team": "nlp"},
        {"user_team": "nlp"},
        {"team": "nlp", "env": "prod"},
        {"aws:createdBy": "alice"},
        {"CostCenter": "R&D 'x' \"y\""},
        {"team": "nobody"},
        {"team": "nlp' OR '1'='1"},
    ],
)
def test_tags_must_all_match(cur: CurFileSource, tags: dict[str, str]) -> None:
    query = query_of(("service", "tag:team"), tags=tags)

    assert as_groups(cur.costs(query)) == cur_expected(CUR_LINES, query)


def test_accounts_filter_by_usage_account(cur: CurFileSource) -> None:
    query = query_of(("account",), accounts=("444455556666", "') OR 1=1 --"))

    groups = as_groups(cur.costs(query))

    assert groups == cur_expected(CUR_LINES, query)
    assert {currency for _, currency in groups} == {"EUR", "JPY"}


def test_a_period_outside_the_data_is_empty(cur: CurFileSource) -> None:
    query = query_of(("service",), period=Period(date(2025, 1, 1), date(2025, 2, 1)))

    assert cur.costs(query).groups == ()


def test_cost_by_service_names_missing_services(cur: CurFileSource) -> None:
    breakdown = cur.cost_by_service(period=OCTOBER, cost_filter=CostFilter(), metric=Metric.BILLED)

    lines = {(line.service, line.currency): line.amount for line in breakdown.lines}
    assert lines[("AmazonCloudWatch", "(no currency)")] == Decimal("0.5")
    assert lines[("Amazon Elastic Compute Cloud", "USD")] == Decimal("10.5") + 4 - 4 - 20
    assert breakdown.totals()["JPY"] == 1234


def test_parquet_and_csv_parts_read_as_one_table(tmp_path: Path) -> None:
    write_cur_parquet(tmp_path / "part-1.parquet", CUR_LINES[:9])
    write_cur_csv_gz(tmp_path / "part-2.csv.gz", CUR_LINES[9:])
    query = query_of(("service", "region"), metric=Metric.EFFECTIVE)

    assert as_groups(CurFileSource(str(tmp_path)).costs(query)) == cur_expected(CUR_LINES, query)


# --- errors ---------------------------------------------------------------------------------


def test_a_missing_column_names_the_file_and_column(tmp_path: Path) -> None:
    path = write_cur_parquet(tmp_path / "cur.parquet", CUR_LINES)
    import pyarrow.parquet as pq

    table = pq.read_table(path).drop_columns(["reservation_effective_cost"])
    pq.write_table(table, path)
    source = CurFileSource(str(path))

    assert source.costs(query_of(("service",))).groups  # billed cost does not need it
    with pytest.raises(CostSourceError) as caught:
        source.costs(query_of(("service",), metric=Metric.EFFECTIVE))

    assert str(caught.value) == (
        f"CUR file {path} has no column 'reservation_effective_cost': is it a CUR 2.0 export?"
    )


def test_optional_product_columns_may_be_missing(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write_cur_parquet(tmp_path / "cur.parquet", CUR_LINES)
    pq.write_table(pq.read_table(path).drop_columns(["product", "product_servicecode"]), path)

    result = CurFileSource(str(path)).costs(query_of(("service",)))

    services = {group.key[0] for group in result.groups}
    assert "AmazonEC2" in services and "Amazon Elastic Compute Cloud" not in services


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "cur.csv.gz"
    broken.write_bytes(b"not gzip at all")

    with pytest.raises(CostSourceError, match="Cannot read CUR file") as caught:
        CurFileSource(str(broken)).costs(query_of(("service",)))

    assert str(broken) in str(caught.value)


def test_a_cost_that_is_not_a_number_names_file_column_and_value(tmp_path: Path) -> None:
    good = write_cur_csv_gz(tmp_path / "a.csv.gz", CUR_LINES)
    bad = tmp_path / "b.csv.gz"
    with gzip.open(good, "rt") as source, gzip.open(bad, "wt") as target:
        target.write(source.read().replace(",10.5,", ",ten and a half,", 1))

    with pytest.raises(CostSourceError) as caught:
        CurFileSource(str(tmp_path / "*.csv.gz")).costs(query_of(("service",)))

    assert str(caught.value) == (
        f"CUR file {bad}, column line_item_unblended_cost: 'ten and a half' is not a number."
    )


def test_nothing_matching_says_so(tmp_path: Path) -> None:
    with pytest.raises(CostSourceError, match="No CUR files match"):
        CurFileSource(str(tmp_path / "*.parquet")).costs(query_of(("service",)))

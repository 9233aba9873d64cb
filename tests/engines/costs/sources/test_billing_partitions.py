"""Billing period partitions: a question reads the partitions its period needs, no others.

AWS Data Exports writes each month's files under ``BILLING_PERIOD=YYYY-MM/``. A year of them
is written here twice: in partition folders, and flat in one folder (read whole). Every
answer from the partitions must equal the flat read's, digit for digit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engines.costs.query import CostResult
from engines.costs.sources.billing_files import BillingFileSource
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import FocusFileSource
from engines.errors import CostSourceError
from engines.models import Period
from tests.engines.billing_lines import (
    OCTOBER,
    Line,
    _cur,
    _focus,
    query_of,
    write_cur_csv_gz,
    write_focus_parquet,
)

YEAR = [f"{(2025 * 12 + 10 + n) // 12}-{(2025 * 12 + 10 + n) % 12 + 1:02d}" for n in range(12)]
NOVEMBER_2025 = Period(dt.date(2025, 11, 1), dt.date(2025, 12, 1))
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def exactly(result: CostResult) -> list[tuple[tuple[str, ...], str, str]]:
    return [(group.key, group.currency, str(group.amount)) for group in result.groups]


def month_lines(month: str) -> list[Line]:
    """A few lines charged in ``month``, amounts told apart by month."""
    n = int(month[-2:])
    return [
        _focus(f"{month}-10T00:00:00Z", f"{n}.25", "Amazon EC2", resource=f"i-{month}",
               tags={"team": "nlp"}),
        _focus(f"{month}-20T05:00:00Z", f"0.0{n}", "Amazon S3", tags={"team": "vision"}),
    ]  # fmt: skip


def write_year(
    root: Path, *, key: str | None, lines: dict[str, list[Line]] | None = None
) -> list[Path]:
    """A year of FOCUS Parquet: in ``key=YYYY-MM/`` folders, or flat when ``key`` is None."""
    written = []
    for month in YEAR:
        folder = root / f"{key}={month}" if key else root
        folder.mkdir(parents=True, exist_ok=True)
        name = "part-0.parquet" if key else f"{month}.parquet"
        month_of = (lines or {}).get(month, month_lines(month))
        written.append(write_focus_parquet(folder / name, month_of))
    return written


class ReadLog:
    """Which partitions each scan reads (the folder of each file)."""

    def __init__(self, files: BillingFileSource) -> None:
        self.scans: list[list[str]] = []
        scan = files.costs_of_files

        def costs_of_files(paths, query, **options):  # type: ignore[no-untyped-def]
            self.scans.append(sorted(Path(path).parent.name for path in paths))
            return scan(paths, query, **options)

        files.costs_of_files = costs_of_files  # type: ignore[method-assign]


@pytest.mark.parametrize("key", ["BILLING_PERIOD", "billing_period"])
def test_a_one_month_question_reads_only_its_months_partition(tmp_path: Path, key: str) -> None:
    write_year(tmp_path / "by-period", key=key)
    write_year(tmp_path / "flat", key=None)
    partitioned = FocusFileSource(str(tmp_path / "by-period"))
    read = ReadLog(partitioned)
    flat = FocusFileSource(str(tmp_path / "flat"))

    for period in (OCTOBER, NOVEMBER_2025, MARCH):
        for words in (("service",), ("resource",), ("tag:team", "day")):
            question = query_of(words, period=period)
            assert exactly(partitioned.costs(question)) == exactly(flat.costs(question))

    assert len(partitioned.matching_files()) == 12
    assert (
        read.scans == [[f"{key}=2026-10"]] * 3 + [[f"{key}=2025-11"]] * 3 + [[f"{key}=2026-03"]] * 3
    )


def test_a_line_billed_in_the_next_period_still_counts(tmp_path: Path) -> None:
    late = _focus("2026-10-31T23:00:00Z", "40.5", "Amazon EC2", resource="i-late")
    lines = {"2026-11": [*month_lines("2026-11"), late]}  # charged in October, billed November
    flat_folder = _mkdir(tmp_path / "flat")
    for month in [*YEAR, "2026-11"]:
        folder = _mkdir(tmp_path / "by-period" / f"BILLING_PERIOD={month}")
        write_focus_parquet(folder / "part-0.parquet", lines.get(month, month_lines(month)))
        write_focus_parquet(flat_folder / f"{month}.parquet", lines.get(month, month_lines(month)))
    partitioned = FocusFileSource(str(tmp_path / "by-period"))
    read = ReadLog(partitioned)

    question = query_of(("resource",))
    answer = partitioned.costs(question)

    assert exactly(answer) == exactly(FocusFileSource(str(tmp_path / "flat")).costs(question))
    assert (("i-late",), "USD", "40.5") in exactly(answer)
    # November's footer says it holds an October day, so it is read; September's does not.
    assert read.scans == [["BILLING_PERIOD=2026-10", "BILLING_PERIOD=2026-11"]]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_a_partition_the_question_does_not_need_is_never_opened(tmp_path: Path) -> None:
    files = write_year(tmp_path / "by-period", key="BILLING_PERIOD")
    broken = next(path for path in files if "2026-04" in str(path))
    broken.write_bytes(b"not a parquet file")
    partitioned = FocusFileSource(str(tmp_path / "by-period"))
    write_year(tmp_path / "flat", key=None)
    (tmp_path / "flat" / "2026-04.parquet").unlink()

    question = query_of(("service",))
    flat = FocusFileSource(str(tmp_path / "flat"))
    assert exactly(partitioned.costs(question)) == exactly(flat.costs(question))
    with pytest.raises(CostSourceError, match="2026-04"):  # asked about, it is read
        partitioned.costs(query_of(("service",), period=Period(dt.date(2026, 4, 1),
                                                                dt.date(2026, 5, 1))))  # fmt: skip


def test_the_sql_reads_only_the_partitions_it_is_given(tmp_path: Path) -> None:
    files = write_year(tmp_path / "by-period", key="BILLING_PERIOD")
    source = FocusFileSource(str(tmp_path / "by-period"))
    year = Period(dt.date(2025, 11, 1), dt.date(2026, 11, 1))
    question = query_of(("service",), period=year)

    every_month = source.costs(question)
    one = source.costs_of_files([str(p) for p in files], question, periods=("2026-10",))

    october = source.costs(query_of(("service",)))
    assert exactly(one) == exactly(october)  # DuckDB's hive filter left the other 11 out
    assert exactly(one) != exactly(every_month)


def test_csv_partitions_without_footers_read_the_neighbours_too(tmp_path: Path) -> None:
    def cur_lines(month: str) -> list[Line]:
        n = int(month[-2:])
        return [_cur(f"{month}-10T00:00:00Z", "Usage", f"{n}.5", resource=f"i-{month}")]

    for month in YEAR:
        folder = _mkdir(tmp_path / "by-period" / f"BILLING_PERIOD={month}")
        write_cur_csv_gz(folder / "part-0.csv.gz", cur_lines(month))
        _mkdir(tmp_path / "flat" / month)
        write_cur_csv_gz(tmp_path / "flat" / month / "part-0.csv.gz", cur_lines(month))
    partitioned = CurFileSource(str(tmp_path / "by-period"))
    read = ReadLog(partitioned)

    question = query_of(("resource",), period=MARCH)
    flat = CurFileSource(str(tmp_path / "flat"))
    assert exactly(partitioned.costs(question)) == exactly(flat.costs(question))
    assert read.scans == [
        ["BILLING_PERIOD=2026-02", "BILLING_PERIOD=2026-03", "BILLING_PERIOD=2026-04"]
    ]


def test_a_footers_text_dates_get_a_days_slack_its_timestamps_none() -> None:
    from engines.costs.sources.partitions import days_of_statistics as _days_of_statistics

    timestamps = [("INT64", "2026-09-01 00:00:00+00", "2026-09-30 23:00:00+00")]
    assert _days_of_statistics(timestamps) == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    shifted = [("INT64", "2026-09-01 02:00:00+05:00", "2026-09-30 23:00:00-02:00")]
    assert _days_of_statistics(shifted) == (dt.date(2026, 8, 31), dt.date(2026, 10, 1))
    text = [("BYTE_ARRAY", "2026-09-01T00:00:00+09:00", "2026-09-30T20:00:00-08:00")]
    assert _days_of_statistics(text) == (dt.date(2026, 8, 31), dt.date(2026, 10, 1))
    assert _days_of_statistics([("BYTE_ARRAY", None, None)]) is None  # no statistics


def test_a_partition_folder_that_is_not_a_month_is_read_whole(tmp_path: Path) -> None:
    folder = _mkdir(tmp_path / "exports" / "billing_period=current")
    write_focus_parquet(folder / "part-0.parquet", month_lines("2026-10"))
    source = FocusFileSource(str(tmp_path / "exports"))

    answer = source.costs(query_of(("service",)))

    assert exactly(answer) == [(("Amazon EC2",), "USD", "10.25"), (("Amazon S3",), "USD", "0.01")]

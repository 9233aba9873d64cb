"""A one-month question over a year of monthly partitions reads that month, not the year.

Writes once (cached under .bench/) twelve ``BILLING_PERIOD=YYYY-MM/`` partitions, as AWS Data
Exports lays them out: ``benchmarks/cost_scan.py``'s synthetic FOCUS month, shifted to each
month from November 2025 to October 2026 (``--rows`` lines per month).

Then it asks the question the rollup cannot answer (``by resource``: every line's resource
id is not summed) for one month, and counts the files and bytes each way reads:

- **rollup on** (how the bot runs): the rollup knows each file's first and last charge day,
  so only the files whose days meet the period are scanned, whatever month is asked;
- **rollup off** (``COSTBOT_ROLLUP_DB=off``): DuckDB hive partitioning. The month's
  partition is read; the partitions on each side (where a line billed next to its charge's
  month would be) only when their Parquet footer holds a day of the period; the SQL filters
  on the ``BILLING_PERIOD`` column. The footers' bytes are counted too.

Each answer must equal a scan of all twelve partitions, digit for digit. Target: the
one-month question reads at most 1/10 of the full scan's bytes.

    .venv/bin/python benchmarks/partition_pruning.py [--rows 500000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from summary import figures_line, print_table  # noqa: E402

TARGET_SHARE = 0.1
MONTHS = 12


def partitions(rows: int, folder: Path) -> Path:
    """Twelve monthly partitions of ``rows`` lines each (generated on first use)."""
    import cost_scan

    root = folder / f"partitioned-{rows}-v{cost_scan.DATA_VERSION}"
    if (root / "complete").exists():
        return root
    import duckdb

    month = cost_scan.billing_month(rows, folder)
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for back in range(MONTHS):
        first = _month_start(dt.date(2026, 10, 1), -back)
        target = root / f"BILLING_PERIOD={first:%Y-%m}"
        target.mkdir(parents=True, exist_ok=True)
        shift = f"INTERVAL {back} MONTH"
        connection.execute(
            f"""COPY (SELECT * REPLACE (ChargePeriodStart - {shift} AS ChargePeriodStart,
                                        ChargePeriodEnd - {shift} AS ChargePeriodEnd)
                      FROM read_parquet(?))
                TO '{target / "part-00001.snappy.parquet"}' (FORMAT parquet, COMPRESSION zstd)""",
            [str(month)],
        )
    connection.close()
    (root / "complete").write_text("")
    print(f"wrote {MONTHS} partitions in {time.perf_counter() - started:.1f} s", flush=True)
    return root


def _footer_bytes(path: str) -> int:
    """The bytes of a Parquet file's footer (its metadata, length and magic at the end)."""
    with open(path, "rb") as file:
        file.seek(-8, os.SEEK_END)
        return int.from_bytes(file.read(4), "little") + 8


def _month_start(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="lines per month")
    parser.add_argument("--dir", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()

    from engines.costs.query import CostQuery, CostResult, Dimension, DimensionKind
    from engines.costs.sources.focus import FocusFileSource
    from engines.costs.sources.rollup import RollupSource
    from engines.models import Period

    root = partitions(args.rows, args.dir)
    rollup_path = args.dir / f"partitioned-{args.rows}-rollup.duckdb"
    everything = FocusFileSource(str(root))
    paths = everything.matching_files()
    sizes = {path: os.path.getsize(path) for path in paths}
    full_bytes = sum(sizes.values())

    def question(first: dt.date) -> CostQuery:
        period = Period(first, _month_start(first, 1))
        return CostQuery(period, group_by=(Dimension(DimensionKind.RESOURCE),))

    def reading(source: FocusFileSource) -> list[list[str]]:
        read: list[list[str]] = []
        scan = source.costs_of_files

        def recorded(
            chosen: list[str], query: CostQuery, *, periods: tuple[str, ...] = ()
        ) -> CostResult:
            read.append(list(chosen))
            return scan(chosen, query, periods=periods)

        source.costs_of_files = recorded  # type: ignore[method-assign]
        return read

    def footers(source: FocusFileSource) -> list[str]:
        """The files whose Parquet footer the source reads (neighbouring partitions)."""
        opened: list[str] = []
        days_of = source._charge_days_of

        def recorded(path: str) -> tuple[dt.date, dt.date] | None:
            opened.append(path)
            return days_of(path)

        source._charge_days_of = recorded  # type: ignore[method-assign]
        return opened

    started = time.perf_counter()
    files = FocusFileSource(str(root))
    rollup = RollupSource(files, path=rollup_path, tag_keys=("team",))
    rollup.refresh()
    build_s = time.perf_counter() - started
    with_rollup = reading(files)
    plain = FocusFileSource(str(root))
    without = reading(plain)
    footers_read = footers(plain)

    rows = []
    details: dict[str, object] = {"months": MONTHS, "rows_per_month": args.rows,
                                  "full_scan_files": len(paths), "full_scan_bytes": full_bytes,
                                  "rollup_build_s": round(build_s, 1)}  # fmt: skip
    exact = True
    for label, first in (("latest month", dt.date(2026, 10, 1)),
                         ("a middle month", dt.date(2026, 4, 1)),
                         ("earliest month", dt.date(2025, 11, 1))):  # fmt: skip
        asked = question(first)
        started = time.perf_counter()
        reference = everything.costs_of_files(paths, asked)
        details[f"full scan {label} s"] = round(time.perf_counter() - started, 2)
        for way, source, read in (("rollup on", rollup, with_rollup),
                                  ("rollup off", plain, without)):  # fmt: skip
            footers_read.clear()
            started = time.perf_counter()
            answer = source.costs(asked)
            seconds = time.perf_counter() - started
            exact = exact and answer.groups == reference.groups
            chosen = read[-1] if read else []
            peeked = [path for path in footers_read if path not in chosen]
            read_bytes = sum(sizes[path] for path in chosen) + sum(map(_footer_bytes, peeked))
            share = read_bytes / full_bytes
            name = f"{first:%Y-%m} by resource ({label}), {way}: share of the full scan's bytes"
            details[f"{way} {label}"] = {"files": len(chosen), "footers": len(peeked),
                                         "bytes": read_bytes, "share": round(share, 4),
                                         "seconds": round(seconds, 2)}  # fmt: skip
            met = share <= TARGET_SHARE
            plural = "s" if len(peeked) > 1 else ""
            also = f" + {len(peeked)} footer{plural}" if peeked else ""
            measured = (f"{share:.1%} ({len(chosen)} of {len(paths)} files{also}, "
                        f"{read_bytes / 1e6:.1f} MB, {seconds:.2f} s)")  # fmt: skip
            rows.append((name, f"<= {TARGET_SHARE:.0%}", measured, met))
    rows.append(("answers equal a scan of all 12 partitions", "yes", "yes" if exact else "no",
                 exact))  # fmt: skip
    details["exact"] = exact
    print(f"one month of {MONTHS} partitions, {args.rows:,} lines each ({os.cpu_count()} CPUs)")
    print_table(rows)
    scan_s = details["full scan latest month s"]
    print(f"  (full scan: {len(paths)} files, {full_bytes / 1e6:.0f} MB, {scan_s} s; "
          f"rollup up to date in {build_s:.1f} s, built once per file version)")  # fmt: skip
    met = all(row[3] for row in rows)
    details["met"] = met
    print(figures_line("partition_pruning", rows, details))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

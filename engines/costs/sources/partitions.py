"""AWS Data Exports' billing period partitions (``BILLING_PERIOD=YYYY-MM/`` folders): which
files a question's period needs, and the charge days a Parquet file's footer says it holds.
"""

from __future__ import annotations

import datetime as dt
import re

from engines.costs.query import CostQuery
from engines.costs.sources.sql import billing_periods

_PARTITION_FOLDER = re.compile(r"(?:^|[/\\])(billing_period)=([^/\\]+)(?=[/\\])", re.IGNORECASE)
PERIOD_VALUE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def billing_partition(path: str) -> tuple[str, str] | None:
    """The billing period partition folder ``path`` is in: its key as spelled and its value,
    e.g. ``("BILLING_PERIOD", "2026-10")``; None outside one."""
    found = list(_PARTITION_FOLDER.finditer(path))
    return (found[-1].group(1), found[-1].group(2)) if found else None


def partitions_for(paths: list[str], query: CostQuery) -> list[str]:
    """``paths`` without the files of billing period partitions ``query`` cannot need.

    AWS Data Exports writes each billing period's files under ``BILLING_PERIOD=YYYY-MM/``,
    and bills a charge in its own month; near a month's edge a line may be billed in the
    period next to it. So the partitions of the months the period touches, and of the one
    before and after, are kept. Files outside such folders (or in one whose value is not a
    month) are always kept.

    Args:
        paths: the matching files.
        query: the question (its period).
    """
    wanted = set(billing_periods(query.period, margin=1))
    kept = []
    for path in paths:
        found = billing_partition(path)
        if found is None or not PERIOD_VALUE.fullmatch(found[1]) or found[1] in wanted:
            kept.append(path)
    return kept


def days_of_statistics(rows: list[tuple[object, ...]]) -> tuple[dt.date, dt.date] | None:
    """The first and last UTC day of a column's row group statistics (``parquet_metadata``'s
    type, min and max); None when a row group has none.

    Timestamps (INT64) are exact: an offset is turned to UTC, a naive one is UTC already. Text
    is ISO 8601 ordered as text, whose offsets may move a day either way: a day's slack.
    """
    if not rows:
        return None
    firsts, lasts = [], []
    for physical, low, high in rows:
        try:
            if physical == "BYTE_ARRAY":
                first = dt.date.fromisoformat(str(low)[:10]) - dt.timedelta(days=1)
                last = dt.date.fromisoformat(str(high)[:10]) + dt.timedelta(days=1)
            else:
                first, last = _utc_day(str(low)), _utc_day(str(high))
        except ValueError:
            return None
        firsts.append(first)
        lasts.append(last)
    return min(firsts), max(lasts)


def _utc_day(text: str) -> dt.date:
    moment = dt.datetime.fromisoformat(text)
    return (moment.astimezone(dt.UTC) if moment.tzinfo else moment).date()

"""Periods: what a user types ("last 7d", "2026-09") as a ``Period``, and what to compare with.

Periods are half-open ranges of days, ``start`` inclusive and ``end`` exclusive, as Cost
Explorer wants them. What users type is inclusive ("2026-09-01..2026-09-15" includes the
15th), so the parsers add a day to the end. ``today`` is always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from engines.errors import UserInputError
from engines.models import Period
from engines.words import echo

FIRST_YEAR = 2000  # billing data before it is a typo ('0004-01'), as in the export readers
MAX_DAYS = 3660
"""The longest "last N days" accepted (ten years): longer is almost surely a typo."""

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ONE_DAY = timedelta(days=1)

_LAST_DAYS = re.compile(r"^(?:(?:last|past)\s*)?(\d{1,9})\s*(?:d|day|days)$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_MONTH_NAME = re.compile(r"^([a-z]{3,9})\.?(?:\s+(\d{4}))?$")
_ISO_DAY = r"\d{4}-\d{1,2}-\d{1,2}"
_DAY_RANGE = re.compile(rf"^({_ISO_DAY})(?:\s*(?:\.\.|to|–|—)\s*({_ISO_DAY}))?$")


def billing_date(now: datetime) -> date:
    """The date every answer is as of: the UTC date at ``now`` (aware).

    Billing days are UTC days: Cost Explorer, CUR and FOCUS exports all date a charge by
    its UTC day. So ``/cost team``, ``/cost top``, the digest, App Home and the budget alerts
    all see the same month to date at the same instant, whatever a team's time zone. The
    time zone decides only *when* a team's digest is posted.
    """
    return now.astimezone(UTC).date()


def parse_period(text: str, *, today: date) -> Period:
    """The period a user means.

    Understands "" / "mtd" / "this month" (month to date, today included), "yesterday",
    "today", "last 7d" / "7d" / "last 30 days" (the N whole days before today), "last month",
    "2026-09" or "september" / "sep 2026" (a calendar month; the current one up to today),
    and "2026-09-01..2026-09-15" (both ends included) or a single "2026-09-05".

    Args:
        text: what the user typed; case and extra spaces do not matter.
        today: the user's today (callers pass it; engines never read the clock).

    Raises:
        UserInputError: the text is not a period, or names one in the future; ``hint`` lists
            the forms that work.
    """
    words = " ".join(text.strip().lower().split())
    try:
        for parse in _PARSERS:
            period = parse(words, today)
            if period is not None:
                return period
    except (ValueError, OverflowError):
        raise _not_understood(text, today, why="that date is out of range") from None
    raise _not_understood(text, today)


def previous_period(period: Period) -> Period:
    """The period to compare ``period`` with.

    A calendar month (or several) → the months just before; part of a month starting on the
    1st (month to date) → the same days of the previous month, cut at that month's end;
    a rolling window ("last 7d") or anything else → the window of the same length just before.

    Args:
        period: the period being reported.
    """
    start, end = period.start, period.end
    if not period.rolling and start.day == 1 and end.day == 1:
        months = _months_between(start, end)
        previous_start = _add_months(start, -months)
        label = _month_label(previous_start) if months == 1 else f"previous {months} months"
        return Period(previous_start, start, label)
    if not period.rolling and start.day == 1 and end < _add_months(start, 1):
        previous_start = _add_months(start, -1)
        previous_end = min(previous_start + timedelta(days=period.days), start)
        month_name = _MONTH_NAMES[previous_start.month - 1]
        return Period(previous_start, previous_end, f"same days of {month_name}")
    days = period.days
    label = "previous day" if days == 1 else f"previous {days} days"
    return Period(start - timedelta(days=days), start, label, rolling=True)


# --- the parsers: each returns a Period, None (not its form) or raises UserInputError -----


def _month_to_date(words: str, today: date) -> Period | None:
    if words not in ("", "mtd", "this month", "month to date"):
        return None
    return Period(today.replace(day=1), today + _ONE_DAY, "month to date")


def _named_day(words: str, today: date) -> Period | None:
    if words == "today":
        return Period(today, today + _ONE_DAY, "today", rolling=True)
    if words == "yesterday":
        return Period(today - _ONE_DAY, today, "yesterday", rolling=True)
    return None


def _last_days(words: str, today: date) -> Period | None:
    match = _LAST_DAYS.match(words)
    if match is None:
        return None
    days = int(match.group(1))
    if not 1 <= days <= MAX_DAYS:
        raise _not_understood(words, today, why=f"the number of days must be 1 to {MAX_DAYS}")
    label = "last day" if days == 1 else f"last {days} days"
    return Period(today - timedelta(days=days), today, label, rolling=True)


def _last_month(words: str, today: date) -> Period | None:
    if words not in ("last month", "previous month"):
        return None
    this_month = today.replace(day=1)
    last_month = _add_months(this_month, -1)
    return Period(last_month, this_month, _month_label(last_month))


def _year_month(words: str, today: date) -> Period | None:
    match = _YEAR_MONTH.match(words)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise _not_understood(words, today, why=f"there is no month {month}")
    _check_year(year, words, today)
    return _calendar_month(date(year, month, 1), today, typed=words)


def _named_month(words: str, today: date) -> Period | None:
    match = _MONTH_NAME.match(words)
    month = _month_number(match.group(1)) if match else None
    if match is None or month is None:
        return None
    if match.group(2):
        _check_year(int(match.group(2)), words, today)
        return _calendar_month(date(int(match.group(2)), month, 1), today, typed=words)
    year = today.year if month <= today.month else today.year - 1
    return _calendar_month(date(year, month, 1), today, typed=words)


def _day_range(words: str, today: date) -> Period | None:
    match = _DAY_RANGE.match(words)
    if match is None:
        return None
    first = _iso_day(match.group(1), today)
    last = _iso_day(match.group(2), today) if match.group(2) else first
    if last < first:
        raise _not_understood(words, today, why=f"{first} is after {last}")
    if last > today:
        raise _not_understood(words, today, why=f"{last} is in the future")
    label = first.isoformat() if first == last else f"{first} to {last}"
    return Period(first, last + _ONE_DAY, label)


_PARSERS: tuple[Callable[[str, date], Period | None], ...] = (
    _month_to_date,
    _named_day,
    _last_days,
    _last_month,
    _year_month,
    _named_month,
    _day_range,
)


# --- helpers ------------------------------------------------------------------------------


def _calendar_month(first: date, today: date, *, typed: str) -> Period:
    label = _month_label(first)
    this_month = today.replace(day=1)
    if first > this_month:
        raise _not_understood(typed, today, why=f"{label} is in the future")
    if first == this_month:
        return Period(first, today + _ONE_DAY, f"{label} to date")
    return Period(first, _add_months(first, 1), label)


def _iso_day(text: str, today: date) -> date:
    try:
        year, month, day = (int(part) for part in text.split("-"))
        typed = date(year, month, day)
    except ValueError:
        raise _not_understood(text, today, why=f"'{text}' is not a date") from None
    _check_year(year, text, today)
    return typed


def _check_year(year: int, typed: str, today: date) -> None:
    if year < FIRST_YEAR:
        why = f"the year {year} is before {FIRST_YEAR}: write it in full, like {today.year}"
        raise _not_understood(typed, today, why=why)


def _month_number(word: str) -> int | None:
    for number, name in enumerate(_MONTH_NAMES, start=1):
        if name.lower().startswith(word):
            return number
    return None


def _month_label(first: date) -> str:
    return f"{_MONTH_NAMES[first.month - 1]} {first.year}"


def _add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after (or before) ``first``'s month."""
    year, month_index = divmod(first.year * 12 + first.month - 1 + months, 12)
    return date(year, month_index + 1, 1)


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _not_understood(text: str, today: date, *, why: str = "") -> UserInputError:
    try:
        last_month = _add_months(today.replace(day=1), -1)
    except ValueError:  # today is in year 1
        last_month = today.replace(day=1)
    examples = [
        "mtd",
        "yesterday",
        "last 7d",
        "last 30d",
        "last month",
        f"{last_month:%Y-%m}",
        _MONTH_NAMES[last_month.month - 1].lower(),
        f"{last_month:%Y-%m}-01..{last_month:%Y-%m}-15",
    ]
    message = f"I can't use '{echo(text)}' as a period" + (f": {why}" if why else "")
    return UserInputError(message, hint="Try one of: " + ", ".join(examples))

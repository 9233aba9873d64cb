"""Shared fixtures: a small FOCUS export with known totals, and a running costbot stack."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bot.logs
from bot.app import Costbot, build_costbot
from bot.demo.slack_standin import SlackStandIn
from bot.server import EVENTS_PATH, HttpServer, build_wsgi_app
from bot.settings import Settings
from bot.store import Store

FROZEN_NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
DEMO_TEAMS = Path(__file__).resolve().parent.parent / "bot" / "demo" / "teams.toml"
DEMO_NOW = dt.datetime(2026, 12, 6, 15, 0, tzinfo=dt.UTC)  # billing data through Dec 5


def write_demo_export(directory: Path, now: dt.datetime = DEMO_NOW) -> Path:
    """The demo world's FOCUS export as the demo writes it, with the clock at ``now``."""
    from bot.demo.focus_export import write_focus_export

    write_focus_export(directory, instance_ids={}, account_id="123456789012", now=now)
    return directory


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo export as of ``DEMO_NOW``, written once per module."""
    return write_demo_export(tmp_path_factory.mktemp("demo") / "focus")


SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-0000-costbot"

FOCUS_COLUMNS = [
    "BillingAccountId", "SubAccountId", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency",
    "BilledCost", "EffectiveCost", "ListCost", "ChargeCategory", "ServiceName", "RegionId",
    "ResourceId", "Tags",
]  # fmt: skip


ANY_TEAM = "any team"
"""``team=ANY_TEAM``: rows of every team and untagged ones (``team=None``: untagged only)."""


@dataclass
class SmallExport:
    """A FOCUS CSV written by the test, with totals computed from the rows it wrote.

    Every helper reads the rows charged from ``start`` (included) to ``end`` (excluded), of
    ``team`` (``None``: rows without a team tag) and, if given, of one ``service``; ``column``
    is the FOCUS cost column to add up (``BilledCost``, ``EffectiveCost`` or ``ListCost``).
    """

    path: Path
    rows: list[dict[str, str]]

    def billed(
        self, *, team: str, start: dt.date, end: dt.date, service: str | None = None
    ) -> Decimal:
        return self.total(team=team, start=start, end=end, service=service)

    def total(
        self, *, start: dt.date, end: dt.date, column: str = "BilledCost", **where
    ) -> Decimal:
        return sum((Decimal(row[column]) for row in self._rows(start, end, **where)), Decimal(0))

    def by_service(
        self, *, start: dt.date, end: dt.date, column: str = "BilledCost", **where
    ) -> dict[str, Decimal]:
        return self._grouped(lambda row: row["ServiceName"], start, end, column, **where)

    def by_day(
        self, *, start: dt.date, end: dt.date, column: str = "BilledCost", **where
    ) -> dict[dt.date, Decimal]:
        return self._grouped(_day, start, end, column, **where)

    def by_team(
        self, *, start: dt.date, end: dt.date, column: str = "BilledCost"
    ) -> dict[str | None, Decimal]:
        return self._grouped(_team, start, end, column)

    def _rows(
        self,
        start: dt.date,
        end: dt.date,
        *,
        team: str | None = ANY_TEAM,
        service: str | None = None,
    ) -> list[dict[str, str]]:
        return [
            row
            for row in self.rows
            if start <= _day(row) < end
            and team in (ANY_TEAM, _team(row))
            and service in (None, row["ServiceName"])
        ]

    def _grouped(
        self,
        key_of: Callable[[dict[str, str]], Any],
        start: dt.date,
        end: dt.date,
        column: str,
        **where,
    ) -> dict[Any, Decimal]:
        groups: dict[Any, Decimal] = {}
        for row in self._rows(start, end, **where):
            key = key_of(row)
            groups[key] = groups.get(key, Decimal(0)) + Decimal(row[column])
        return groups


def _day(row: dict[str, str]) -> dt.date:
    return dt.date.fromisoformat(row["ChargePeriodStart"][:10])


def _team(row: dict[str, str]) -> str | None:
    return json.loads(row["Tags"] or "{}").get("team")


def _export_rows() -> list[dict[str, str]]:
    rows = []
    services = {"Amazon Elastic Compute Cloud": "12.3456", "Amazon Simple Storage Service": "1.05"}
    for offset in range(60):
        day = dt.date(2026, 9, 25) + dt.timedelta(days=offset)
        for team, factor in (("fraud-detection", 3), ("nlp", 2), (None, 1)):
            for service, base in services.items():
                billed = Decimal(base) * factor + Decimal(offset) / 100
                rows.append(
                    {
                        "BillingAccountId": "123456789012",
                        "SubAccountId": "123456789012",
                        "ChargePeriodStart": f"{day}T00:00:00Z",
                        "ChargePeriodEnd": f"{day + dt.timedelta(days=1)}T00:00:00Z",
                        "BillingCurrency": "USD",
                        "BilledCost": str(billed),
                        "EffectiveCost": str(billed * Decimal("0.9")),
                        "ListCost": str(billed * Decimal("1.1")),
                        "ChargeCategory": "Usage",
                        "ServiceName": service,
                        "RegionId": "us-east-1",
                        "ResourceId": f"i-{team or 'untagged'}-{service[:10]}",
                        "Tags": json.dumps({"team": team}) if team else "",
                    }
                )
    return rows


def write_two_account_export(
    path: Path,
    spans: dict[str, tuple[dt.date, dt.date]] | None = None,
    *,
    monthly_fees: tuple[str, ...] = (),
) -> Path:
    """A FOCUS CSV of $10.00 a day of nlp's EC2 per billing account over each span (first day
    included, end excluded): by default account 111… from Jul 1 to Sep 1 and account 222…
    from Nov 1 to Dec 5, nothing between. ``monthly_fees`` accounts bill only a $99.00 fee
    (``Purchase``) on the 1st of each month of the spans.
    """
    spans = spans or {
        "111111111111": (dt.date(2026, 7, 1), dt.date(2026, 9, 2)),
        "222222222222": (dt.date(2026, 11, 1), dt.date(2026, 12, 6)),
    }
    first_days = sorted({first + dt.timedelta(days=n) for first, end in spans.values()
                         for n in range((end - first).days)})  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FOCUS_COLUMNS, "ProviderName"])
        writer.writeheader()
        lines = [
            (account, day, "Usage", "10.00")
            for account, (first, end) in spans.items()
            for day in (first + dt.timedelta(days=n) for n in range((end - first).days))
        ]
        lines += [(account, day, "Purchase", "99.00") for account in monthly_fees
                  for day in first_days if day.day == 1]  # fmt: skip
        for account, day, category, amount in lines:
            writer.writerow(
                {
                    "BillingAccountId": account,
                    "SubAccountId": account,
                    "ProviderName": "AWS",
                    "ChargePeriodStart": f"{day}T00:00:00Z",
                    "ChargePeriodEnd": f"{day + dt.timedelta(days=1)}T00:00:00Z",
                    "BillingCurrency": "USD",
                    "BilledCost": amount,
                    "EffectiveCost": amount,
                    "ListCost": amount,
                    "ChargeCategory": category,
                    "ServiceName": "Amazon Elastic Compute Cloud",
                    "RegionId": "us-east-1",
                    "ResourceId": "i-1",
                    "Tags": json.dumps({"team": "nlp"}),
                }
            )
    return path


@pytest.fixture(autouse=True)
def keep_pytest_logging(monkeypatch) -> None:
    """The CLI's process-wide logging set-up replaces the root handlers with one writing to
    the stderr of the moment, which pytest closes after the test; a later test's log record
    would then fail to print. In-process CLI runs keep pytest's capture instead (the set-up
    itself is exercised by the tests that run `costbot serve` as a process)."""
    monkeypatch.setattr(bot.logs, "configure_logging", lambda *args, **kwargs: None)


@pytest.fixture(scope="session")
def small_export(tmp_path_factory) -> SmallExport:
    path = tmp_path_factory.mktemp("focus") / "export.csv"
    rows = _export_rows()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FOCUS_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return SmallExport(path=path, rows=rows)


@dataclass
class Stack:
    """costbot serving HTTP, wired to a Slack stand-in, as in production."""

    costbot: Costbot
    server: HttpServer
    slack: SlackStandIn
    store: Store

    @property
    def events_url(self) -> str:
        return self.server.url + EVENTS_PATH


@pytest.fixture
def stack(tmp_path, small_export) -> Iterator[Stack]:
    slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    slack.start()
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        db_path=tmp_path / "costbot.db",
        teams_file=DEMO_TEAMS,
        cost_source=f"focus:{small_export.path}",
    )
    costbot = build_costbot(settings, now=lambda: FROZEN_NOW)
    server = HttpServer(
        build_wsgi_app(costbot.app, signing_secret=SIGNING_SECRET, health=costbot.store.ping)
    ).start()
    slack.connect_bot(server.url + EVENTS_PATH)
    try:
        yield Stack(costbot=costbot, server=server, slack=slack, store=costbot.store)
    finally:
        server.stop()
        # Answers still being sent finish while Slack is there: a thread that outlives its
        # test and retries against a stopped stand-in would disturb the next tests.
        costbot.deps.questions.shutdown(wait=True)
        costbot.deps.background.shutdown(wait=True)
        slack.stop()

"""Issue 13, found in the demo world on 2026-12-06 UTC (billing data through Dec 5), asked
through ``costbot cost`` as a user would: compare like with like, never against missing
data, and say which day the data runs through.

The demo world's export is written as the demo writes it (``write_focus_export``) with the
clock at 2026-12-06 15:00 UTC; the figures expected are the bot's own answers to the same
days typed out, or added up from the export's rows by the test.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import bot.app
from bot.cli import main
from handlers.blocks.common import money, percent, signed_money
from tests.conftest import DEMO_NOW, DEMO_TEAMS, write_two_account_export


@pytest.fixture(autouse=True)
def configured(demo_export: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{demo_export}/*.parquet")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    frozen = functools.partial(bot.app.build_deps, now=lambda: DEMO_NOW)
    monkeypatch.setattr(bot.app, "build_deps", frozen)


def cost(capsys, *words: str) -> str:
    code = main(["cost", *words])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in out + err
    return out


def answer(capsys, *words: str) -> dict[str, Any]:
    return json.loads(cost(capsys, *words, "--json"))


def test_the_demo_export_runs_through_the_day_before_now(demo_export: Path):
    days = {
        row["ChargePeriodStart"].date()
        for path in demo_export.glob("*.parquet")
        for row in pq.read_table(path, columns=["ChargePeriodStart"]).to_pylist()
    }
    assert max(days) == dt.date(2026, 12, 5)


@pytest.mark.parametrize("question", [("team", "fraud-detection"), ("top",)])
def test_month_to_date_compares_dec_1_to_5_with_nov_1_to_5(capsys, question):
    mtd = answer(capsys, *question)
    typed = answer(capsys, *question, "2026-12-01..2026-12-05")

    assert (mtd["period"]["start"], mtd["period"]["end"]) == ("2026-12-01", "2026-12-06")
    assert mtd["previous_period"] == {
        "start": "2026-11-01",
        "end": "2026-11-06",  # Nov 1 – 5, not Nov 1 – 6
        "label": "same days of November",
    }
    assert mtd["data_through"] == "2026-12-05"
    # The same days typed out give the same figures: one question, one answer.
    assert (mtd["total"], mtd["previous_total"]) == (typed["total"], typed["previous_total"])
    assert typed["previous_period"]["start"] == "2026-11-01"
    assert typed["previous_period"]["end"] == "2026-11-06"

    total, before = Decimal(mtd["total"]), Decimal(mtd["previous_total"])
    text = cost(capsys, *question)
    change = (
        f"{signed_money(total - before)} ({percent((total - before) / before * 100, signed=True)})"
    )
    assert f"{change} vs {money(before)} in same days of November" in text
    assert "Data through Dec 5, 2026" in text
    assert "Today's costs are still arriving" not in text  # Dec 6 is not in the figures


def test_fraud_detection_month_to_date_is_up_1_percent_not_down_16(capsys):
    text = cost(capsys, "team", "fraud-detection")
    assert "(+1.0%) vs" in text


def test_last_999d_shows_no_change_figure_and_says_once_there_is_nothing_to_compare(capsys):
    text = cost(capsys, "team", "nlp", "last", "999d")

    assert " vs $" not in text  # was "📈 +$46,718.05 vs $0.00"
    assert "%" not in text.split("By service")[0]
    assert "↑" not in text and "↓" not in text and "↗" not in text and "↘" not in text
    assert text.count("to compare with") == 1
    # clipped to the export's days (Sep 22 – Dec 5, 2026), compared with the 75 days before
    assert "There is no data for Jul 9 – Sep 21, 2026 to compare with" in text
    assert "Data through Dec 5, 2026" in text
    nothing = answer(capsys, "team", "nlp", "last", "999d")
    assert nothing["previous_period"] is None and nothing["previous_total"] is None
    assert all(group["previous"] is None for group in nothing["groups"])


def test_compare_says_which_day_the_data_runs_through(capsys):
    text = cost(capsys, "compare", "mtd", "vs", "2026-11-01..2026-11-05", "team", "nlp")
    assert "Data through Dec 5, 2026" in text
    assert "Dec 1 – Dec 5, 2026 (month to date)" in text


def test_a_gap_between_two_accounts_is_named_with_no_change_figure(capsys, tmp_path, monkeypatch):
    export = write_two_account_export(tmp_path / "two-accounts.csv")
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{export}")

    text = cost(capsys, "team", "nlp", "2026-11")

    assert "$300.00 billed cost" in text  # Nov 1 – 30, account 222… only
    assert " vs $" not in text  # was "+$300.00 vs $0.00": the gap taken as no spend
    assert "↑" not in text and "↗" not in text
    assert "There is no data for Oct 1 – Oct 31, 2026 to compare with" in text
    assert (
        "no data for AWS account 111111111111 or AWS account 222222222222 "
        "from Sep 2 to Oct 31, 2026" in text
    )
    assert "Data through Nov 30, 2026" in text  # the last day of data the answer holds
    # Days on both sides of the comparison in the data: compared as usual.
    assert "vs $50.00 in same days of November" in cost(capsys, "team", "nlp")


def _taxes(demo_export: Path, month: str) -> Decimal:
    """November's sales tax as the demo export bills it: one line per service, dated the 1st,
    charged for the whole month."""
    return sum(
        (
            Decimal(str(row["BilledCost"]))
            for path in demo_export.glob("*.parquet")
            for row in pq.read_table(
                path, columns=["ChargeCategory", "ChargePeriodStart", "BilledCost"]
            ).to_pylist()
            if row["ChargeCategory"] == "Tax"
            and row["ChargePeriodStart"].strftime("%Y-%m") == month
        ),
        Decimal(0),
    )


def test_a_months_tax_counts_in_the_whole_month_never_in_its_first_days(capsys, demo_export):
    tax = _taxes(demo_export, "2026-11")
    assert tax > 100  # the demo bills November's tax on Nov 1, for all of November

    mtd = answer(capsys, "top")
    first_days = answer(capsys, "top", "2026-11-01..2026-11-05")
    november = answer(capsys, "top", "2026-11")
    november_by_day = answer(capsys, "top", "2026-11-01..2026-11-15")

    # Dec 1–5 has no tax yet (December is not closed), so Nov 1–5 must not carry November's:
    # the comparison is then like for like, as the same days typed out.
    assert Decimal(mtd["previous_total"]) == Decimal(first_days["total"])
    untagged_now, untagged_before = (
        next(Decimal(g["cost"]) for g in a["groups"] if g["key"] == "(untagged)")
        for a in (mtd, first_days)
    )
    assert abs(untagged_now - untagged_before) < tax / 10
    # The whole month holds its tax; half a month holds none of it.
    second_half = answer(capsys, "top", "2026-11-16..2026-11-30")
    halves = Decimal(november_by_day["total"]) + Decimal(second_half["total"])
    assert Decimal(november["total"]) == halves + tax

"""costbot cost: the /cost questions from a terminal, as text or JSON, on the configured data.

The small export is configured through the environment (so no demo world starts) and the
clock is frozen at 2026-11-20, as for the Slack tests; every figure expected is added up
from the export's rows by the test.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import re
from decimal import Decimal

import pytest

import bot.app
from bot.cli import main
from bot.settings import Settings
from engines.config.schema import AccountIds
from handlers.blocks.common import money
from tests.conftest import DEMO_TEAMS, FOCUS_COLUMNS, FROZEN_NOW, SmallExport

MTD = {"start": dt.date(2026, 11, 1), "end": dt.date(2026, 11, 20)}  # today still arriving
LAST_30_DAYS = {"start": dt.date(2026, 10, 21), "end": dt.date(2026, 11, 20)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


@pytest.fixture(autouse=True)
def configured(small_export: SmallExport, tmp_path, monkeypatch):
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{small_export.path}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    frozen = functools.partial(bot.app.build_deps, now=lambda: FROZEN_NOW)
    monkeypatch.setattr(bot.app, "build_deps", frozen)

    def no_demo_world(**_):
        raise AssertionError("costbot cost started the demo world although configured")

    monkeypatch.setattr("bot.demo.world.start_demo_world", no_demo_world)


def cost(capsys, *words: str) -> tuple[int, str, str]:
    code = main(["cost", *words])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_json_has_the_documented_keys_and_the_exact_sums(capsys, small_export: SmallExport):
    code, out, _ = cost(capsys, "team", "nlp", "by", "service", "--json")

    assert code == 0
    answer = json.loads(out)
    documented = {"team", "period", "metric", "currency", "total", "groups"}
    assert documented <= answer.keys()  # README: {"team", …, "groups": [{"key", "cost"}], ...}
    assert answer["team"] == "nlp"
    assert (answer["period"]["start"], answer["period"]["end"]) == ("2026-11-01", "2026-11-20")
    assert (answer["metric"], answer["currency"]) == ("billed", "USD")
    assert DECIMAL.match(answer["total"])
    assert Decimal(answer["total"]) == small_export.total(team="nlp", **MTD)
    services = small_export.by_service(team="nlp", **MTD)
    assert all({"key", "cost"} <= group.keys() for group in answer["groups"])
    assert all(DECIMAL.match(group["cost"]) for group in answer["groups"])
    assert {group["key"]: Decimal(group["cost"]) for group in answer["groups"]} == services
    assert [group["key"] for group in answer["groups"]] == sorted(services, key=services.get)[::-1]


def test_json_of_top_and_trend(capsys, small_export: SmallExport):
    code, out, _ = cost(capsys, "top", "--json")
    assert code == 0
    teams = {group["key"]: Decimal(group["cost"]) for group in json.loads(out)["groups"]}
    by_team = small_export.by_team(**MTD)
    assert teams == {"(untagged)" if team is None else team: cost for team, cost in by_team.items()}

    code, out, _ = cost(capsys, "trend", "nlp", "--json")
    assert code == 0
    trend = json.loads(out)
    days = small_export.by_day(team="nlp", **LAST_30_DAYS)
    assert {group["key"]: Decimal(group["cost"]) for group in trend["groups"]} == {
        day.isoformat(): amount for day, amount in days.items()
    }
    assert Decimal(trend["total"]) == sum(days.values())
    assert trend["period"] == {"start": "2026-10-21", "end": "2026-11-20", "label": "last 30 days"}
    assert trend["data_through"] == "2026-11-19"


def test_trend_writes_the_chart_as_png(capsys, tmp_path, small_export: SmallExport):
    chart = tmp_path / "out.png"
    code, out, _ = cost(capsys, "trend", "nlp", "--chart", str(chart))

    assert code == 0
    assert chart.read_bytes().startswith(PNG_SIGNATURE)
    total = small_export.total(team="nlp", **LAST_30_DAYS)
    assert f"{money(total)} billed cost (unblended), Oct 21 – Nov 19, 2026" in out
    assert f"Average {money(total / 30)}/day" in out
    assert "Data through Nov 19, 2026" in out


def test_a_chart_that_cannot_be_written_or_drawn_is_said_plainly(capsys, tmp_path):
    code, out, err = cost(capsys, "trend", "nlp", "--chart", str(tmp_path / "no-dir" / "x.png"))
    assert (code, out) == (1, "")
    assert f"costbot: cannot write the chart to {tmp_path / 'no-dir' / 'x.png'}" in err

    code, out, err = cost(capsys, "team", "nlp", "--chart", str(tmp_path / "team.png"))
    assert code == 0 and "nlp · month to date" in out
    assert "only `trend` draws a chart" in err
    assert not (tmp_path / "team.png").exists()


def test_a_typo_in_a_team_exits_1_with_the_suggestion_on_stderr(capsys):
    code, out, err = cost(capsys, "team", "fraud-detectoin")

    assert code == 1
    assert out == ""
    assert "no team 'fraud-detectoin' — did you mean 'fraud-detection'?" in err


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["team", "nlp", "by", "colour"], "Group by one of: service, account, region"),
        (["top", "2026-13"], "Try one of: mtd, yesterday, last 7d"),
        (["top", "2025-01"], "There is no cost data for Jan 1 – Jan 31, 2025"),
    ],
)
def test_other_mistakes_exit_1_saying_what_would_work(capsys, words, says):
    code, out, err = cost(capsys, *words)

    assert (code, out) == (1, "")
    assert says in err


def test_help_exits_0_with_the_usage_and_the_teams(capsys):
    code, out, _ = cost(capsys, "help")

    assert code == 0
    assert "/cost team fraud-detection" in out
    assert "`fraud-detection`, `nlp`, `recommendations`" in out
    for question in ("top", "untagged", "compare", "forecast", "trend"):
        assert f"`/cost {question} " in out


# --- exports read as the FOCUS spec says ----------------------------------------------------


def use_export(monkeypatch, path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{path}")


def test_dates_written_as_4_1_25_are_refused_naming_file_row_and_column(
    capsys, monkeypatch, tmp_path, small_export: SmallExport
):
    """Read leniently, '4/1/25' was year 4: "No costs" for 2025-04 and $3,960 for 0004-01."""
    rows = [dict(row) for row in small_export.rows[:5]]
    rows[2]["ChargePeriodStart"] = "4/1/25"
    use_export(monkeypatch, tmp_path / "export.csv", rows, FOCUS_COLUMNS)

    for period in ("2025-04", "mtd"):
        code, out, err = cost(capsys, "untagged", period)

        assert (code, out) == (1, "")
        assert (
            "export.csv row 4, ChargePeriodStart: '4/1/25' is not an ISO 8601 date "
            "(e.g. 2025-04-01T00:00:00Z)"
        ) in err

    code, out, err = cost(capsys, "untagged", "0004-01")  # once answered "$3,960.00 … 4"
    assert (code, out) == (1, "")
    assert "I can't use '0004-01' as a period: the year 4 is before 2000" in err


def test_a_legacy_cur_is_told_which_export_to_make_instead(capsys, monkeypatch, tmp_path):
    row = {"lineItem/UsageStartDate": "2026-11-02T00:00:00Z", "lineItem/UnblendedCost": "1"}
    use_export(monkeypatch, tmp_path / "cur.csv", [row], list(row))

    code, out, err = cost(capsys, "top")

    assert (code, out) == (1, "")
    assert "is a legacy Cost and Usage Report (CUR 1" in err
    assert "Create a CUR 2.0 or a FOCUS 1.x export in AWS Data Exports" in err


AZURE_SUBSCRIPTION = "8f3c2a1e-5b7d-4c9e-a1f2-3d4e5f6a7b8c"
GCP_PROJECT = "fraud-ml-prod-4821"


def test_a_focus_export_of_several_clouds_is_allocated_by_their_account_ids(
    capsys, monkeypatch, tmp_path, small_export: SmallExport
):
    base = small_export.rows[-1]  # 2026-11-23: a day of this month, once the clock is frozen
    day = {
        "ChargePeriodStart": "2026-11-02T00:00:00Z",
        "ChargePeriodEnd": "2026-11-03T00:00:00Z",
        "Tags": "",
    }
    rows = [
        {**base, **day, "SubAccountId": "123456789012", "BilledCost": "100"},
        {**base, **day, "SubAccountId": AZURE_SUBSCRIPTION, "BilledCost": "40.50"},
        {**base, **day, "SubAccountId": GCP_PROJECT, "BilledCost": "12.25"},
        {**base, **day, "SubAccountId": GCP_PROJECT, "BilledCost": "-2.25"},
    ]
    use_export(monkeypatch, tmp_path / "multi.csv", rows, FOCUS_COLUMNS)
    teams = tmp_path / "teams.toml"
    teams.write_text(
        '[teams.aws-team]\naccounts = ["123456789012"]\nchannel = "#aws"\n'
        f'[teams.azure-team]\naccounts = ["{AZURE_SUBSCRIPTION}"]\nchannel = "#az"\n'
        f'[teams.gcp-team]\naccounts = ["{GCP_PROJECT}"]\nchannel = "#gcp"\n'
    )
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))

    code, out, err = cost(capsys, "top", "--json")

    assert (code, err) == (0, "")
    groups = {group["key"]: Decimal(group["cost"]) for group in json.loads(out)["groups"]}
    assert groups == {"aws-team": 100, "azure-team": Decimal("40.50"), "gcp-team": 10}


def test_with_cost_explorer_an_azure_subscription_in_the_teams_file_is_refused(
    capsys, monkeypatch, tmp_path
):
    teams = tmp_path / "teams.toml"
    teams.write_text(f'[teams.azure-team]\naccounts = ["{AZURE_SUBSCRIPTION}"]\nchannel = "#az"\n')
    monkeypatch.setenv("COSTBOT_TEAMS", str(teams))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", "ce")

    code, out, err = cost(capsys, "top")

    assert (code, out) == (2, "")  # a configuration problem, as for every teams file mistake
    assert f"'{AZURE_SUBSCRIPTION}' is not a 12-digit AWS account id (Cost Explorer" in err


def test_an_export_without_tags_answers_with_everything_untagged_and_says_why(
    capsys, monkeypatch, tmp_path, small_export: SmallExport
):
    without_tags = [column for column in FOCUS_COLUMNS if column != "Tags"]
    use_export(monkeypatch, tmp_path / "export.csv", small_export.rows, without_tags)

    code, out, err = cost(capsys, "untagged", "--json")

    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert Decimal(answer["total"]) == small_export.total(**MTD)  # every team's cost too
    tags_notes = [note for note in answer["notes"] if "Tags" in note]
    assert tags_notes == [
        f"The FOCUS billing export {tmp_path / 'export.csv'} has no Tags column (FOCUS makes it "
        "conditional): its costs count as untagged (tag rules match none of them)."
    ]

    code, out, _ = cost(capsys, "untagged")
    assert code == 0
    assert "has no Tags column (FOCUS makes it conditional)" in out


def test_credits_are_summed_and_read_as_credits(capsys, monkeypatch, tmp_path, small_export):
    base = {
        **small_export.rows[-1],
        "ChargePeriodStart": "2026-11-02T00:00:00Z",
        "ChargePeriodEnd": "2026-11-03T00:00:00Z",
    }
    base["Tags"] = json.dumps({"team": "nlp"})
    rows = [
        {**base, "ServiceName": "Amazon EC2", "BilledCost": "30.10"},
        {**base, "ServiceName": "AWS Support", "BilledCost": "-40", "ChargeCategory": "Credit"},
        {**base, "ServiceName": "AWS Support", "BilledCost": "28"},
    ]
    use_export(monkeypatch, tmp_path / "credits.csv", rows, FOCUS_COLUMNS)

    code, out, _ = cost(capsys, "team", "nlp", "--json")
    assert code == 0
    answer = json.loads(out)
    assert Decimal(answer["total"]) == Decimal("18.10")
    groups = {group["key"]: Decimal(group["cost"]) for group in answer["groups"]}
    assert groups == {"Amazon EC2": Decimal("30.10"), "AWS Support": Decimal("-12")}

    code, out, _ = cost(capsys, "team", "nlp")
    assert code == 0
    assert "  AWS Support: \u2212$12.00 (credit)" in out


@pytest.mark.parametrize(
    ("cost_source", "athena_schema", "account_ids"),
    [
        ("focus:/exports/*.parquet", "focus", AccountIds.ANY),
        ("athena:billing.focus", "focus", AccountIds.ANY),
        ("athena:billing.cur", "cur", AccountIds.AWS),
        ("cur:/cur/*.parquet", "focus", AccountIds.AWS),
        ("ce", "focus", AccountIds.AWS),
    ],
)
def test_which_account_ids_the_teams_file_may_hold_follows_the_cost_source(
    cost_source, athena_schema, account_ids
):
    settings = Settings(cost_source=cost_source, athena_schema=athena_schema)

    assert bot.app.account_ids_of(settings) is account_ids

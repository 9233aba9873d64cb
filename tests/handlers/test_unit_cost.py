"""/cost unit in Slack and `costbot cost unit … --json`: the cost per 1,000 invocations of a
team's or a model's SageMaker endpoints, from a FOCUS export and CloudWatch metrics the test
wrote (moto). The figures expected are computed from what the test wrote.

The clock is frozen at 2026-11-20 15:00 UTC: month to date is Nov 1 – 19.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

import bot.app
from bot.app import build_costbot
from bot.cli import main
from bot.demo.slack_standin import SlackStandIn
from bot.server import EVENTS_PATH, HttpServer, build_wsgi_app
from bot.settings import Settings
from handlers.blocks.common import money
from tests.conftest import BOT_TOKEN, DEMO_TEAMS, FROZEN_NOW, SIGNING_SECRET
from tests.engines.costs.test_unit_cost import (
    NOV,
    REGION,
    cost_between,
    endpoint_arn,
    invocations_between,
    put_invocations,
    write_export,
)

DEV, CHANNEL = "U0DEMODEV", "C0DEMOFRAUD"
WORKING = ":hourglass_flowing_sand: Working on"


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        put_invocations(boto3.client("cloudwatch", region_name=REGION))
        yield


@pytest.fixture
def cli(aws, tmp_path, monkeypatch):
    export = write_export(tmp_path / "export.csv")
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{export}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    frozen = functools.partial(bot.app.build_deps, now=lambda: FROZEN_NOW)
    monkeypatch.setattr(bot.app, "build_deps", frozen)


def scorer_rate() -> Decimal:
    cost = cost_between(endpoint_arn("fraud-scorer"), *NOV)
    return cost * 1000 / invocations_between("fraud-scorer", *NOV)


def test_costbot_cost_unit_json_gives_the_rate_per_endpoint_and_model(cli, capsys):
    assert main(["cost", "unit", "fraud-detection", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["data_through"] == "2026-11-19"
    assert answer["period"]["start"] == "2026-11-01" and answer["period"]["end"] == "2026-11-20"
    by_name = {line["name"]: line for line in answer["endpoints"]}
    scorer = by_name["fraud-scorer"]
    assert Decimal(scorer["cost_per_1000"]) == scorer_rate().quantize(Decimal("0.01"))
    assert scorer["invocations"] == invocations_between("fraud-scorer", *NOV)
    assert scorer["change_pct"] is not None and Decimal(scorer["change_pct"]) < 0  # cheaper
    shadow = by_name["fraud-shadow"]
    assert shadow["invocations"] == 0 and shadow["cost_per_1000"] is None
    assert Decimal(shadow["cost"]) == cost_between(endpoint_arn("fraud-shadow"), *NOV)
    assert [model["name"] for model in answer["models"]] == ["fraud-xgb", "fraud-xgb-v2"]


def test_costbot_cost_unit_text_says_no_invocations_rather_than_dividing(cli, capsys):
    assert main(["cost", "unit", "fraud-detection"]) == 0
    out = capsys.readouterr().out
    assert f"{money(scorer_rate())} per 1,000" in out
    assert "fraud-shadow" in out and "no invocations" in out


def test_costbot_cost_unit_of_an_unknown_model_suggests_the_closest(cli, capsys):
    assert main(["cost", "unit", "fraud-xgbb"]) == 1
    _, err = capsys.readouterr()
    assert "Did you mean `fraud-xgb`?" in err
    assert "Traceback" not in err


# --- in Slack -------------------------------------------------------------------------------


@pytest.fixture
def slack(aws, tmp_path) -> Iterator[SlackStandIn]:
    standin = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    standin.start()
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        db_path=tmp_path / "costbot.db",
        teams_file=DEMO_TEAMS,
        cost_source=f"focus:{write_export(tmp_path / 'export.csv')}",
        aws_region=REGION,
    )
    costbot = build_costbot(settings, now=lambda: FROZEN_NOW)
    server = HttpServer(
        build_wsgi_app(costbot.app, signing_secret=SIGNING_SECRET, health=costbot.store.ping)
    ).start()
    standin.connect_bot(server.url + EVENTS_PATH)
    try:
        yield standin
    finally:
        server.stop()
        costbot.deps.questions.shutdown(wait=True)
        costbot.deps.background.shutdown(wait=True)
        standin.stop()


def answered(standin: SlackStandIn, text: str) -> dict[str, Any]:
    result = standin.send_command(user_id=DEV, channel_id=CHANNEL, text=text)
    assert result.status == 200 and result.elapsed_s < 3.0
    return standin.wait_for_message(
        lambda m: m["origin"] == "response_url" and not m["text"].startswith(WORKING),
        timeout=15,
    )


def shown(message: dict[str, Any]) -> str:
    texts = [message["text"]]
    for block in message["blocks"]:
        for part in (block.get("text"), *block.get("fields", []), *block.get("elements", [])):
            if isinstance(part, dict):
                texts.append(part.get("text", ""))
    return "\n".join(texts)


def test_cost_unit_in_slack_shows_each_models_rate_and_the_idle_endpoint(slack):
    message = answered(slack, "unit fraud-detection")
    said = shown(message)
    assert message["ephemeral_for"] is None, said
    assert "fraud-detection · cost per 1,000 invocations" in said
    assert f"{money(scorer_rate())} per 1,000" in said
    idle = money(cost_between(endpoint_arn("fraud-shadow"), *NOV))
    assert f"*fraud-shadow* (fraud-xgb-v2)\n{idle} · no invocations" in said
    assert "Data through Nov 19, 2026" in said


def test_cost_unit_in_slack_of_an_unknown_model_is_a_warning_with_a_suggestion(slack):
    message = answered(slack, "unit bert-nr")
    said = shown(message)
    assert said.startswith(":warning:")
    assert "Did you mean `bert-ner`?" in said


def test_the_digest_shows_the_same_cost_per_1000_as_cost_unit(cli, capsys):
    """One number per fact: the digest's unit cost section is `/cost unit`'s answer."""
    assert main(["cost", "unit", "fraud-detection", "--json"]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert main(["digest", "--team", "fraud-detection", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)

    section = printed["digest"]["unit_cost"]
    assert section["period"] == asked["period"] and section["problem"] is None
    assert section["models"] == asked["models"]
    rate = next(m["cost_per_1000"] for m in section["models"] if m["name"] == "fraud-xgb")
    assert Decimal(rate) == scorer_rate().quantize(Decimal("0.01"))
    shown = "\n".join(str(block) for block in printed["message"]["blocks"])
    assert "*Cost per 1,000 invocations* · " in shown
    assert "((" not in shown and "))" not in shown  # no brackets inside brackets
    assert f"*fraud-xgb*: {money(scorer_rate())} per 1,000" in shown
    assert "*fraud-xgb-v2*: no invocations" in shown


def test_a_digest_of_a_team_without_endpoints_has_no_unit_cost(cli, capsys):
    assert main(["digest", "--team", "recommendations", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["digest"]["unit_cost"] is None
    assert "invocations" not in json.dumps(printed["message"])

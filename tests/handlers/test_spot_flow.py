"""/cost spot in the channel, on the demo world: a type's spot prices, a team's candidates,
the Fleet plan file, and the clear answers to mistakes.

The demo world's moto serves a realistic (synthesised) spot market
(``bot.demo.spot_market``). The figures expected here are computed by the test from that
market's records by sampling the price in effect at every hour of the window, not by the
engine's interval arithmetic.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest

from bot.demo.fleet import FLEET_BY_NAME
from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.demo.slack_standin import limit_violations
from bot.demo.spot_market import placement_scores, price_history
from engines.changes.models import State
from engines.errors import UserInputError
from engines.rightsizing.catalog import describe_instance_types
from engines.rightsizing.pricing import SHIPPED_SNAPSHOT
from handlers import action_ids
from handlers.blocks.common import money
from handlers.parsing import SpotRequest, SpotTeamRequest, parse_cost_command
from handlers.spot.actions import upload_plan
from handlers.spot.blocks import PLAN_STATUS_PREFIX, plan_button_value
from tests.waiting import wait_until

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
DEV, CARA, NLP = "U0DEMODEV", "U0DEMOCARA", "C0DEMONLP"
HOURS_30D = 30 * 24


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False)
    with DemoSandbox(options, now=lambda: NOW) as running:
        yield running


def ask(sandbox: DemoSandbox, text: str) -> dict:
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    result = slack.send_command(user_id=DEV, channel_id=NLP, text=text)
    assert result.status == 200 and result.elapsed_s < 3.0
    return slack.wait_for_message(
        lambda m: (
            m["channel"] == NLP and m["origin"] == "response_url" and "Working on" not in m["text"]
        ),  # the answer, in the note's place
        timeout=60,
        after_ts=before,
    )


def shown(message: dict) -> str:
    texts = [message["text"]]
    for block in message["blocks"]:
        for part in (block.get("text"), *block.get("fields", []), *block.get("elements", [])):
            if isinstance(part, dict):
                inner = part.get("text", "")  # a button's text is itself an object
                texts.append(inner.get("text", "") if isinstance(inner, dict) else inner)
    return "\n".join(texts)


def hourly_sampled_average(records: list[dict], zone: str) -> Decimal:
    """The 30-day average price of a zone, sampling the price in effect at each hour."""
    steps = sorted(
        (r["Timestamp"], Decimal(r["SpotPrice"])) for r in records if r["AvailabilityZone"] == zone
    )
    total = Decimal(0)
    for hour in range(HOURS_30D):
        moment = NOW - dt.timedelta(hours=HOURS_30D - hour)
        total += [price for at, price in steps if at <= moment][-1]
    return total / HOURS_30D


def four_places(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}/h"


def test_spot_prices_per_zone_with_saving_risk_scores_and_sources(sandbox):
    answer = ask(sandbox, "spot g5.xlarge")
    text = shown(answer)
    records = price_history("g5.xlarge", "us-east-1", now=NOW)
    zones = sorted({r["AvailabilityZone"] for r in records})
    assert len(zones) >= 3
    averages = {zone: hourly_sampled_average(records, zone) for zone in zones}
    scores = placement_scores("g5.xlarge", "us-east-1")
    for zone in zones:
        latest = next(r for r in records if r["AvailabilityZone"] == zone)  # newest first
        current = Decimal(latest["SpotPrice"])
        assert f"*{zone}* · placement {scores[zone]}/10\nnow {four_places(current)}" in text
        assert f"since {latest['Timestamp']:%b %-d}" in text
        assert f"30 d {four_places(averages[zone])}" in text
    assert "peaked at $0.9356/h in 90 days" in text  # the spike in the second zone
    cheapest = min(zones, key=averages.get)
    on_demand = SHIPPED_SNAPSHOT.prices["g5.xlarge"]
    saving = (on_demand - averages[cheapest]) * 730
    assert f"Cheapest over 30 days: *{cheapest}*" in text
    assert f"*{money(saving)}/month* per instance" in text
    assert "*On demand $1.0060/h*" in text
    assert "medium risk: 10-15% of instances interrupted a month" in text
    assert "a representative snapshot, not a download" in text
    assert "days old" in text  # the June price snapshot says its age
    assert limit_violations(answer) == []


def test_team_candidates_with_monthly_savings_total_and_risk(sandbox):
    answer = ask(sandbox, "spot team nlp")
    text = shown(answer)
    box = FLEET_BY_NAME["nlp-finetune-g5"]
    records = price_history(box.instance_type, "us-east-1", now=NOW)
    spot = hourly_sampled_average(records, box.availability_zone)
    saving = (SHIPPED_SNAPSHOT.prices[box.instance_type] - spot) * 730
    assert "*nlp-finetune-g5*" in text
    assert f"*Saves {money(saving)}/month*" in text
    assert f"*{money(saving)}/month* could be saved by running 1" in text
    for serving in ("nlp-inference-prod-1", "nlp-api-prod", "nlp-vector-db-prod"):
        assert serving not in text
    nlp_fleet = [box for box in FLEET_BY_NAME.values() if box.team == "nlp"]
    serving = sum(box.workload_type == "serving" for box in nlp_fleet)
    notebooks = sum(box.workload_type == "notebook" for box in nlp_fleet)
    assert f"stateful (serving): {serving}" in text
    assert f"stateful (notebook): {notebooks}" in text
    assert "risk:" in text
    buttons = [block["accessory"] for block in answer["blocks"] if "accessory" in block]
    assert len(buttons) == 1 and buttons[0]["action_id"] == action_ids.SPOT_PLAN
    assert limit_violations(answer) == []


def held_back_line(message: dict, name: str) -> str:
    return next(line for line in shown(message).splitlines() if f"*{name}*" in line)


def test_spot_never_contradicts_right_sizing(sandbox):
    """nlp-eval-runner-dev is idle and nlp-tokenize-batch over-provisioned: both suit spot,
    but the spot answer sends them to right-sizing first and counts no saving for them."""
    before = ask(sandbox, "spot team nlp")
    idle = held_back_line(before, "nlp-eval-runner-dev")
    assert idle.endswith("· idle: stop it first")
    big = held_back_line(before, "nlp-tokenize-batch")
    assert big.endswith("· over-provisioned: resize to c5.xlarge first")
    assert "Saves" not in idle + big
    assert "*Right-sizing first*" in shown(before)

    rightsize = ask(sandbox, "rightsize nlp")  # proposes the stop and the resize
    assert "nlp-eval-runner-dev" in shown(rightsize) and "is idle: stop it" in shown(rightsize)
    runner = sandbox.costbot.deps.changes
    stop = next(
        c for c in runner.store.list_changes(
            instance_id=sandbox.world.instance_ids["nlp-eval-runner-dev"])
        if c.state is State.PROPOSED
    )  # fmt: skip
    resize = held_back_line(ask(sandbox, "spot team nlp"), "nlp-tokenize-batch")
    assert resize.endswith("· has an open resize proposal (c5.4xlarge → c5.xlarge)")

    assert runner.dismiss(stop.id, by=DEV, reason="it runs evals on demand").ok
    after = shown(ask(sandbox, "spot team nlp"))
    box = FLEET_BY_NAME["nlp-eval-runner-dev"]
    records = price_history(box.instance_type, "us-east-1", now=NOW)
    saving = (SHIPPED_SNAPSHOT.prices[box.instance_type] - hourly_sampled_average(
        records, box.availability_zone)) * 730  # fmt: skip
    assert f"*Saves {money(saving)}/month*" in after  # the owner declined the stop


def test_the_fleet_plan_button_uploads_a_plan_built_from_the_instance(sandbox):
    answer = ask(sandbox, "spot team nlp")
    instance_id = sandbox.world.instance_ids["nlp-finetune-g5"]
    value = next(
        block["accessory"]["value"]
        for block in answer["blocks"]
        if instance_id in block.get("accessory", {}).get("value", "")
    )
    slack = sandbox.standin
    slack.click(user_id=DEV, channel_id=NLP, message_ts=answer["ts"],
                action_id=action_ids.SPOT_PLAN, value=value)  # fmt: skip
    upload = slack.wait_for_message(
        lambda m: m["channel"] == NLP and bool(m["files"]), timeout=60, after_ts=answer["ts"]
    )
    (file,) = upload["files"]
    assert file["name"] == "spot-plan-nlp-finetune-g5.json"
    plan = json.loads(slack.file_bytes(file["id"]))
    ec2 = sandbox.world.client("ec2")
    box = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    data = plan["CreateLaunchTemplate"]["LaunchTemplateData"]
    assert data["ImageId"] == box["ImageId"]
    assert data["SecurityGroupIds"] == [g["GroupId"] for g in box["SecurityGroups"]]
    assert data["IamInstanceProfile"]["Arn"] == box["IamInstanceProfile"]["Arn"]
    vpc_subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [box["VpcId"]]}])
    overrides = plan["CreateFleet"]["LaunchTemplateConfigs"][0]["Overrides"]
    assert {o["SubnetId"] for o in overrides} == {s["SubnetId"] for s in vpc_subnets["Subnets"]}
    types = {o["InstanceType"] for o in overrides}
    assert len(types) >= 3
    catalog = describe_instance_types(ec2)  # nlp-finetune-g5 runs 4 A10G of 24 GB each
    per_gpu = catalog[box["InstanceType"]].gpu_memory_per_gpu_mib
    assert all(catalog[name].gpu_memory_per_gpu_mib >= per_gpu for name in types), types
    assert "g4dn.metal" not in upload["text"]  # 8 GPUs, but 16 GB each
    assert "capacity-optimized" in upload["text"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        audit = sandbox.costbot.store.audit_records(limit=20)
        if any(r["action"] == "spot.plan" and r["target"] == instance_id for r in audit):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the plan upload was not audited")


def test_an_unknown_instance_type_gets_the_near_miss(sandbox):
    reply = ask(sandbox, "spot g5.xlarg")
    assert reply["ephemeral_for"] == DEV
    assert "There is no instance type `g5.xlarg` in us-east-1" in reply["text"]
    assert "did you mean `g5.xlarge`" in reply["text"]


def test_a_misspelt_region_is_answered_in_the_ack(sandbox):
    result = sandbox.standin.send_command(
        user_id=DEV, channel_id=NLP, text="spot g5.xlarge us-est-1"
    )
    ack = result.json()
    assert ack["text"].startswith(":warning: There is no AWS region `us-est-1`")
    assert "`us-east-1`" in ack["text"]


def test_a_team_name_where_a_type_belongs_points_to_spot_team(sandbox):
    result = sandbox.standin.send_command(user_id=DEV, channel_id=NLP, text="spot nlp")
    ack = result.json()
    assert ack["response_type"] == "ephemeral"
    assert "'nlp' is not an instance type" in ack["text"]
    assert "/cost spot team nlp" in ack["text"]


@pytest.mark.parametrize(
    ("text", "request_"),
    [
        ("spot g5.xlarge", SpotRequest("g5.xlarge")),
        ("spot G5.XLARGE us-west-2", SpotRequest("g5.xlarge", "us-west-2")),
        ("spot team nlp", SpotTeamRequest("nlp")),
    ],
)
def test_parsing_spot_questions(text, request_):
    assert parse_cost_command(text) == request_


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("spot", "needs an instance type or a team"),
        ("spot team", "needs one team name"),
        ("spot g5.xlarge us-east-1 extra", "at most a region"),
        ("spot g5.xlarge useast1", "not a region code"),
    ],
)
def test_spot_questions_that_cannot_be_read(text, says):
    with pytest.raises(UserInputError, match=says):
        parse_cost_command(text)


def test_a_plan_for_an_instance_gone_meanwhile_is_refused_to_the_clicker_only(sandbox):
    ec2 = sandbox.world.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    image = ec2.describe_instances()["Reservations"][0]["Instances"][0]["ImageId"]
    gone = ec2.run_instances(ImageId=image, InstanceType="c5.xlarge", MinCount=1, MaxCount=1,
                             SubnetId=subnet)["Instances"][0]["InstanceId"]  # fmt: skip
    ec2.terminate_instances(InstanceIds=[gone])
    told = []
    upload_plan(
        {"user": {"id": DEV}, "channel": {"id": NLP}},
        {"value": plan_button_value("", "us-east-1", gone)},
        respond=lambda **message: told.append(message),
        client=None,  # nothing may be uploaded
        deps=sandbox.costbot.deps,
    )
    (message,) = told
    assert message["response_type"] == "ephemeral" and message["replace_original"] is False
    assert f"Could not build the spot plan for {gone}" in message["text"]
    assert "is terminated" in message["text"]


# --- the fleet plan: progress, once per plan ----------------------------------------------------

FINOPS = "C0DEMOFINOPS"  # a channel of its own: a plan posted once in a channel is not posted again


def plan_view(sandbox: DemoSandbox, channel: str, ts: str, value: str) -> tuple[str, str]:
    """(the candidate's button label, the line under it) as the channel shows them now."""
    message = next(m for m in sandbox.standin.messages(channel) if m["ts"] == ts)
    blocks = message["blocks"]
    at = next(i for i, b in enumerate(blocks) if b.get("accessory", {}).get("value") == value)
    below = blocks[at + 1] if at + 1 < len(blocks) else {}
    status = ""
    if below.get("block_id", "").startswith(PLAN_STATUS_PREFIX):
        status = below["elements"][0]["text"]
    return blocks[at]["accessory"]["text"]["text"], status


def told(sandbox: DemoSandbox, channel: str, user: str, words: str, after: str) -> dict:
    return sandbox.standin.wait_for_message(
        lambda m: m["channel"] == channel and m["ephemeral_for"] == user and words in m["text"],
        timeout=60,
        after_ts=after,
    )


def uploads(sandbox: DemoSandbox, channel: str, after: str) -> list[dict]:
    return [
        m for m in sandbox.standin.messages(channel) if m["files"] and float(m["ts"]) > float(after)
    ]


def ask_spot_team(sandbox, channel: str) -> dict:
    """``/cost spot team nlp`` asked by the NLP lead in ``channel``: its answer, which takes
    the working note's place."""
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default="0", key=float)
    slack.send_command(user_id=DEV, channel_id=channel, text="spot team nlp")
    return slack.wait_for_message(
        lambda m: (
            m["channel"] == channel
            and m["origin"] == "response_url"
            and bool(m["blocks"])
            and "Working on" not in m["text"]
        ),
        timeout=60,
        after_ts=before,
    )


def test_the_fleet_plan_shows_progress_and_is_made_once(sandbox, monkeypatch):
    slack = sandbox.standin
    answer = ask_spot_team(sandbox, FINOPS)
    instance_id = sandbox.world.instance_ids["nlp-finetune-g5"]
    value = next(
        b["accessory"]["value"]
        for b in answer["blocks"]
        if instance_id in b.get("accessory", {}).get("value", "")
    )
    advisor = sandbox.costbot.deps.spot
    release = threading.Event()
    real_plan = advisor.plan

    def held_plan(*args, **kwargs):  # the plan is being made until the test says so
        assert release.wait(60)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(advisor, "plan", held_plan)

    def click(user: str = DEV):
        result = slack.click(user_id=user, channel_id=FINOPS, message_ts=answer["ts"],
                             action_id=action_ids.SPOT_PLAN, value=value)  # fmt: skip
        assert result.status == 200 and result.elapsed_s < 3.0

    click()
    making = ("Making the plan…", f":hourglass_flowing_sand: Making the fleet plan for <@{DEV}>…")
    wait_until(lambda: plan_view(sandbox, FINOPS, answer["ts"], value) == making)

    click(CARA)  # a second click while it is being made: told, nothing else
    told(sandbox, FINOPS, CARA, "Already on it", after=answer["ts"])
    assert plan_view(sandbox, FINOPS, answer["ts"], value) == making

    release.set()
    wait_until(lambda: uploads(sandbox, FINOPS, answer["ts"]))
    posted = f":white_check_mark: Fleet plan `spot-plan-nlp-finetune-g5.json` posted for <@{DEV}>."
    wait_until(lambda: plan_view(sandbox, FINOPS, answer["ts"], value) == ("Fleet plan", posted))

    click(CARA)  # the same plan again, once it is posted: nothing has changed since
    again = told(sandbox, FINOPS, CARA, "already posted in this channel", after=answer["ts"])
    assert "nothing in it has changed since" in again["text"]
    wait_until(
        lambda: plan_view(sandbox, FINOPS, answer["ts"], value)[1].endswith("changed since.")
    )
    assert len(uploads(sandbox, FINOPS, answer["ts"])) == 1


def test_a_plan_whose_upload_failed_is_posted_on_the_next_click(sandbox):
    slack, channel = sandbox.standin, "C0DEMORECS"
    answer = ask_spot_team(sandbox, channel)
    value = next(b["accessory"]["value"] for b in answer["blocks"] if "accessory" in b)
    slack.fail_next("files.completeUploadExternal", status=400)
    slack.click(user_id=DEV, channel_id=channel, message_ts=answer["ts"],
                action_id=action_ids.SPOT_PLAN, value=value)  # fmt: skip
    failed = told(sandbox, channel, DEV, "I could not upload the plan here", after=answer["ts"])
    assert failed["text"].startswith(":x:")
    wait_until(lambda: plan_view(sandbox, channel, answer["ts"], value) == ("Fleet plan", ""))
    assert uploads(sandbox, channel, answer["ts"]) == []

    slack.click(user_id=DEV, channel_id=channel, message_ts=answer["ts"],
                action_id=action_ids.SPOT_PLAN, value=value)  # fmt: skip
    (upload,) = wait_until(lambda: uploads(sandbox, channel, answer["ts"]))
    assert upload["files"][0]["name"].startswith("spot-plan-")

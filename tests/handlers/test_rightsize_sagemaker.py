"""`/cost rightsize` shows a team's SageMaker cards next to its EC2 ones, with the same buttons.

The world is moto's (EC2, SageMaker, CloudWatch), seeded by the test; prices come from the
shipped snapshots (a local AWS has no Price List API). fraud-detection runs:

- `fraud-batch`, an m5.4xlarge EC2 instance at 8% CPU (a resize card);
- `fraud-scorer`, a prod endpoint on 4 x ml.c5.xlarge at 10% of an instance → 2 instances
  ($297.84/month);
- `fraud-single`, 1 x ml.m5.2xlarge at 25% → ml.m5.xlarge in a new config ($168.63);
- `fraud-old`, 2 x ml.m5.large nobody called in 14 days → delete it ($167.90);
- `fraud-lab`, a notebook running at 22:00 in New York at 1% CPU (the agent's) → stop it.

nlp runs `nlp-old`, an idle endpoint fraud-detection never sees. The clock is 03:00 UTC,
20 days after moto created the endpoints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import bot.app
from bot.app import Costbot, build_costbot
from bot.cli import main
from bot.demo.slack_standin import SlackStandIn, limit_violations
from bot.server import EVENTS_PATH, HttpServer, build_wsgi_app
from bot.settings import Settings
from engines.changes.models import ChangeRequest, Kind, State
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.reviewer import SageMakerReviewer
from handlers import action_ids
from handlers.parsing import RightsizeRequest
from handlers.rightsizing.questions import plan_rightsize
from tests.conftest import BOT_TOKEN, DEMO_TEAMS, SIGNING_SECRET
from tests.engines.costs.test_unit_cost import write_export
from tests.engines.rightsizing.test_catalog import LINUX_IMAGE
from tests.engines.sagemaker.test_inventory import ROLE, endpoint
from tests.engines.sagemaker.test_metrics import put, put_notebook_cpu
from tests.waiting import wait_until

REGION = "us-east-1"
ALICE, BOB, DEV = "U0DEMOALICE", "U0DEMOBOB", "U0DEMODEV"
FRAUD = "C0DEMOFRAUD"
SAVING = re.compile(r"Saves \$([\d,]+\.\d\d)/month")


def fraud(**extra: str) -> dict[str, str]:
    return {"team": "fraud-detection", **extra}


def seed() -> dt.datetime:
    """The world above; returns the clock (03:00 UTC, 20 days after the endpoints)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    sm = boto3.client("sagemaker", region_name=REGION)
    cw = boto3.client("cloudwatch", region_name=REGION)
    endpoint(sm, "fraud-scorer", "ml.c5.xlarge", 4, **fraud(env="prod"))
    endpoint(sm, "fraud-single", "ml.m5.2xlarge", 1, **fraud())
    endpoint(sm, "fraud-old", "ml.m5.large", 2, **fraud())
    endpoint(sm, "nlp-old", "ml.m5.large", 1, team="nlp")
    sm.create_notebook_instance(
        NotebookInstanceName="fraud-lab",
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        Tags=[{"Key": "team", "Value": "fraud-detection"}],
    )
    created = sm.describe_endpoint(EndpointName="fraud-old")["CreationTime"].astimezone(dt.UTC)
    now = (created + dt.timedelta(days=20)).replace(hour=3, minute=0, second=0, microsecond=0)
    today = now.replace(hour=0)
    for day in range(1, 8):
        noon = today - dt.timedelta(days=day, hours=-12)
        put(cw, "fraud-scorer", "AllTraffic", noon, 30_000)
        put(cw, "fraud-scorer", "AllTraffic", noon, 40, name="CPUUtilization")  # 4 vCPUs
        put(cw, "fraud-single", "AllTraffic", noon, 5_000)
        put(cw, "fraud-single", "AllTraffic", noon, 200, name="CPUUtilization")  # 8 vCPUs
    put_notebook_cpu(cw, "fraud-lab", now - dt.timedelta(minutes=40), 1.0)

    launched = ec2.run_instances(
        ImageId=LINUX_IMAGE, MinCount=1, MaxCount=1, InstanceType="m5.4xlarge",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "team", "Value": "fraud-detection"}, {"Key": "Name", "Value": "fraud-batch"},
        ]}],
    )  # fmt: skip
    instance = launched["Instances"][0]["InstanceId"]
    data = [
        {
            "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "InstanceId", "Value": instance}],
            "Timestamp": now - dt.timedelta(hours=hour),
            "Value": 8.0,
            "Unit": "Percent",
        }
        for hour in range(1, 49)
    ]
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=data)
    return now


@dataclasses.dataclass
class World:
    slack: SlackStandIn
    costbot: Costbot
    now: dt.datetime
    nlp_change: int


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("rightsize-sagemaker")
    with mock_aws():
        now = seed()
        slack = SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
        slack.start()
        settings = Settings(
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url,
            db_path=tmp / "costbot.db",
            teams_file=DEMO_TEAMS,
            cost_source=f"focus:{write_export(tmp / 'export.csv')}",
            aws_region=REGION,
        )
        costbot = build_costbot(settings, now=lambda: now)
        # Before anyone asks: an open change of nlp's on fraud-old (the teams file used to
        # give it to nlp). fraud-detection's review withdraws it.
        assert costbot.deps.changes is not None
        stale = costbot.deps.changes.propose(
            ChangeRequest(
                instance_id="fraud-old", account_id="123456789012", region=REGION,
                from_type="ml.m5.large", to_type="ml.m5.large", monthly_saving=Decimal("1"),
                requested_by="costbot", team="nlp", kind=Kind.ENDPOINT_DELETE,
                endpoint_config="fraud-old-config",
            )
        )  # fmt: skip
        server = HttpServer(
            build_wsgi_app(costbot.app, signing_secret=SIGNING_SECRET, health=costbot.store.ping)
        ).start()
        slack.connect_bot(server.url + EVENTS_PATH)
        try:
            yield World(slack, costbot, now, stale.id)
        finally:
            server.stop()
            costbot.deps.questions.shutdown(wait=True)
            costbot.deps.background.shutdown(wait=True)
            slack.stop()


def ask(world: World, user: str = BOB, team: str = "fraud-detection") -> dict:
    before = max((m["ts"] for m in world.slack.messages()), default=None, key=float)
    world.slack.send_command(user_id=user, channel_id=FRAUD, text=f"rightsize {team}")
    return world.slack.wait_for_message(
        lambda m: (
            m["channel"] == FRAUD
            and m["ephemeral_for"] is None
            and f"{team} · right-sizing" in str(m["blocks"])
        ),
        timeout=60,
        after_ts=before,
    )


def card_of(message: dict, name: str) -> tuple[str, str]:
    """(card text, change id behind its buttons or "") of the card that names ``name``."""
    blocks = message["blocks"]
    for index, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and f"*{name}*" in text:
            following = blocks[index + 1] if index + 1 < len(blocks) else {}
            if following.get("type") == "actions":
                return text, following["block_id"].split(":")[1]
            return text, ""
    raise AssertionError(f"no card for {name}")


def first_button(message: dict, change_id: str) -> str:
    block = next(b for b in message["blocks"] if b.get("block_id") == f"rightsize:{change_id}")
    return block["elements"][0]["text"]["text"]


def savings_in_order(message: dict) -> list[Decimal]:
    return [
        Decimal(found.replace(",", ""))
        for block in message["blocks"]
        for found in SAVING.findall((block.get("text") or {}).get("text", ""))
    ]


def test_sagemaker_cards_show_next_to_the_ec2_ones_biggest_saving_first(world):
    message = ask(world)

    batch, _ = card_of(message, "fraud-batch")
    assert "`m5.4xlarge` →" in batch
    scorer, scorer_id = card_of(message, "endpoint fraud-scorer")
    assert "(variant `AllTraffic`)" in scorer and "4 → 2 × `ml.c5.xlarge`" in scorer
    assert "Saves $297.84/month" in scorer and "prod" in scorer
    single, single_id = card_of(message, "endpoint fraud-single")
    assert "`ml.m5.2xlarge` → `ml.m5.xlarge`" in single and "Saves $168.63/month" in single
    assert "UpdateEndpoint is blue/green" in single
    old, old_id = card_of(message, "endpoint fraud-old")
    assert "delete it (2 instances → none, config `fraud-old-config` kept)" in old
    assert "• 0 invocations in 14 days" in old
    lab, lab_id = card_of(message, "notebook fraud-lab")
    assert "stop it (`ml.t3.medium`)" in lab and "peak CPU 1.0%" in lab

    assert "nlp-old" not in str(message["blocks"])  # another team's endpoint never shows
    assert [first_button(message, cid) for cid in (scorer_id, single_id, old_id, lab_id)] == [
        "Approve", "Approve", "Delete", "Stop",
    ]  # fmt: skip
    savings = savings_in_order(message)
    assert savings == sorted(savings, reverse=True) and len(savings) == 5
    assert "SageMaker:" not in str(message["blocks"])  # nothing was skipped
    assert limit_violations(message) == []


def test_each_proposal_records_what_its_buttons_would_do(world):
    message = ask(world)
    store = world.costbot.store
    changes = {
        name: store.get_change(int(card_of(message, name)[1]))
        for name in ("endpoint fraud-scorer", "endpoint fraud-single", "endpoint fraud-old",
                     "notebook fraud-lab")
    }  # fmt: skip
    scorer = changes["endpoint fraud-scorer"]
    assert (scorer.kind, scorer.from_type, scorer.to_type) == (Kind.ENDPOINT_COUNT, "4", "2")
    assert (scorer.variant, scorer.endpoint_config) == ("AllTraffic", "fraud-scorer-config")
    single = changes["endpoint fraud-single"]
    assert (single.kind, single.from_type, single.to_type) == (
        Kind.ENDPOINT_CONFIG, "ml.m5.2xlarge", "ml.m5.xlarge",
    )  # fmt: skip
    assert single.endpoint_config == "fraud-single-config"
    old = changes["endpoint fraud-old"]
    assert (old.kind, old.endpoint_config, old.variant) == (
        Kind.ENDPOINT_DELETE, "fraud-old-config", "",
    )  # fmt: skip
    lab = changes["notebook fraud-lab"]
    assert (lab.kind, lab.instance_id, lab.from_type) == (
        Kind.NOTEBOOK_STOP, "fraud-lab", "ml.t3.medium",
    )  # fmt: skip
    assert all(c.team == "fraud-detection" and c.state is State.PROPOSED for c in changes.values())
    assert all(c.requested_by == "costbot" and c.region == REGION for c in changes.values())
    # nlp's stale change on fraud-old was withdrawn, not reused.
    stale = store.get_change(world.nlp_change)
    assert stale.state is State.DENIED and "gives this endpoint to fraud-detection" in stale.reason


def test_asking_again_reuses_the_open_changes(world):
    first, again = ask(world), ask(world)
    for name in ("endpoint fraud-scorer", "endpoint fraud-old", "notebook fraud-lab"):
        assert card_of(first, name)[1] == card_of(again, name)[1]


def test_another_teams_approver_is_refused_on_a_sagemaker_card(world):
    message = ask(world)
    _, change_id = card_of(message, "endpoint fraud-old")
    world.slack.click(user_id=DEV, channel_id=FRAUD, message_ts=message["ts"],
                      action_id=action_ids.RIGHTSIZE_DENY, value=change_id)  # fmt: skip
    refusal = world.slack.wait_for_message(
        lambda m: m["ephemeral_for"] == DEV and "fraud-detection's approvers" in m["text"],
        timeout=20,
    )
    assert "<@U0DEMOALICE>" in refusal["text"]
    assert world.costbot.store.get_change(int(change_id)).state is State.PROPOSED


def status_line(world: World, ts: str, change_id: str, words: str) -> str:
    def shown() -> str | None:
        current = next(m for m in world.slack.messages(FRAUD) if m["ts"] == ts)
        for block in current["blocks"]:
            if block.get("block_id") == f"rightsize_status:{change_id}":
                text = block["elements"][0]["text"]
                return text if words in text else None
        return None

    return wait_until(shown, timeout=30)


def test_deny_snooze_and_dismiss_work_on_sagemaker_cards(world):
    slack, store = world.slack, world.costbot.store
    message = ask(world)
    ts = message["ts"]
    _, scorer = card_of(message, "endpoint fraud-scorer")
    _, single = card_of(message, "endpoint fraud-single")
    _, lab = card_of(message, "notebook fraud-lab")

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=ts,
                action_id=action_ids.RIGHTSIZE_DENY, value=scorer)  # fmt: skip
    assert f"<@{ALICE}> denied" in status_line(world, ts, scorer, "denied")
    assert store.get_change(int(scorer)).state is State.DENIED

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=ts,
                action_id=action_ids.RIGHTSIZE_SNOOZE, value=single)  # fmt: skip
    status_line(world, ts, single, "snoozed")
    assert store.get_change(int(single)).state is State.SNOOZED

    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=ts,
                action_id=action_ids.RIGHTSIZE_DISMISS, value=lab)  # fmt: skip
    modal = wait_until(lambda: slack.open_modals(ALICE))[-1]
    assert modal["blocks"][0]["text"]["text"].startswith("Dismiss notebook `fraud-lab`")
    slack.submit_view(user_id=ALICE, view_id=modal["id"], values={"reason": "kept for demos"})
    status_line(world, ts, lab, "dismissed")
    assert store.get_change(int(lab)).state is State.DISMISSED

    again = str(ask(world)["blocks"])
    assert "fraud-lab" not in again and "fraud-single" not in again  # kept away
    assert "fraud-scorer" in again  # denied is not dismissed: proposed afresh


def denied_reviewer(world: World) -> SageMakerReviewer:
    """A reviewer whose SageMaker client is refused every call (AccessDeniedException)."""
    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_client_error(
        "list_endpoints",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/costbot is not authorized to "
        "perform: sagemaker:ListEndpoints",
    )
    stubber.activate()
    return SageMakerReviewer(
        sagemaker_for=lambda account, region: client,
        autoscaling_for=lambda account, region: boto3.client(
            "application-autoscaling", region_name=region
        ),
        cloudwatch_for=lambda account, region: boto3.client("cloudwatch", region_name=region),
        prices=SageMakerPriceBook(),
        targets=[("", REGION)],
        now=lambda: world.now,
    )


def texts(message: dict) -> str:
    return json.dumps(message["blocks"])


def test_sagemaker_access_denied_keeps_the_ec2_cards_and_says_why_in_one_line(world):
    deps = dataclasses.replace(world.costbot.deps, sagemaker=denied_reviewer(world))
    work = plan_rightsize(RightsizeRequest(team="fraud-detection"), deps, BOB)
    answer = work.result()
    message = work.render(answer).message

    assert card_of(message, "fraud-batch")[1]  # the EC2 card, with its buttons
    assert answer.sagemaker == ()
    lines = [
        element["text"]
        for block in message["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
        if "SageMaker" in element["text"]
    ]
    assert lines == [
        "SageMaker: fraud-detection skipped in us-east-1: costbot may not call "
        "list_endpoints: grant it that permission to review SageMaker."
    ]
    assert "Traceback" not in texts(message) and "arn:aws" not in texts(message)


def test_a_team_without_sagemaker_is_told_so_in_one_line(world):
    work = plan_rightsize(RightsizeRequest(team="recommendations"), world.costbot.deps, BOB)
    message = work.reply().message
    assert (
        "SageMaker: recommendations runs no endpoints or notebook instances and trained "
        "nothing in the last 30 days." in texts(message)
    )


def test_costbot_cost_rightsize_json_includes_the_sagemaker_recommendations(
    world, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("COSTBOT_TEAMS", str(DEMO_TEAMS))
    monkeypatch.setenv("COSTBOT_COST_SOURCE", f"focus:{write_export(tmp_path / 'e.csv')}")
    monkeypatch.setenv("COSTBOT_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    frozen = functools.partial(bot.app.build_deps, now=lambda: world.now)
    monkeypatch.setattr(bot.app, "build_deps", frozen)

    assert main(["cost", "rightsize", "fraud-detection", "--json"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert [group["name"] for group in answer["groups"]] == ["fraud-batch"]
    by_name = {(rec["name"], rec["action"]): rec for rec in answer["sagemaker"]}
    old = by_name[("fraud-old", "delete-endpoint")]
    assert old["monthly_saving"] == "167.90" and old["change"] is not None
    assert by_name[("fraud-single", "switch-endpoint-config")]["to"] == "1 x ml.m5.xlarge"
    assert "nlp-old" not in {name for name, _ in by_name}
    assert answer["sagemaker_notes"] == []


def test_a_pending_change_the_recommendation_moved_on_from_is_withdrawn(world):
    """A button must never carry out something other than its card shows: a pending 4 → 3
    proposal left from an earlier review is withdrawn when the review now says 4 → 2."""
    runner = world.costbot.deps.changes
    assert runner is not None
    _, current = card_of(ask(world), "endpoint fraud-scorer")
    runner.deny(int(current), by="costbot", reason="test: make room for an older proposal")
    older = runner.propose(
        ChangeRequest(
            instance_id="fraud-scorer", account_id="123456789012", region=REGION,
            from_type="4", to_type="3", monthly_saving=Decimal("1"), requested_by="costbot",
            team="fraud-detection", kind=Kind.ENDPOINT_COUNT, variant="AllTraffic",
            endpoint_config="fraud-scorer-config",
        )
    )  # fmt: skip

    _, shown = card_of(ask(world), "endpoint fraud-scorer")

    assert int(shown) != older.id
    fresh = world.costbot.store.get_change(int(shown))
    assert (fresh.from_type, fresh.to_type, fresh.state) == ("4", "2", State.PROPOSED)
    withdrawn = world.costbot.store.get_change(older.id)
    assert withdrawn.state is State.DENIED
    assert "the recommendation is now 4 → 2" in withdrawn.reason


def test_an_endpoint_retagged_to_another_team_is_no_longer_its_old_team_to_decide(world):
    """Ownership is allocation: once the endpoint's tags give it to nlp, fraud-detection's
    approver cannot delete it on the old card; the proposal is withdrawn and nothing runs."""
    message = ask(world)
    _, change_id = card_of(message, "endpoint fraud-old")
    sm = boto3.client("sagemaker", region_name=REGION)
    arn = sm.describe_endpoint(EndpointName="fraud-old")["EndpointArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "nlp"}])
    try:
        world.slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                          action_id=action_ids.RIGHTSIZE_APPROVE, value=change_id)  # fmt: skip
        told = world.slack.wait_for_message(
            lambda m: m["ephemeral_for"] == ALICE and "now belongs to nlp" in m["text"],
            timeout=20,
        )
        assert "`/cost rightsize nlp`" in told["text"]
        change = world.costbot.store.get_change(int(change_id))
        assert change.state is State.DENIED and "now give it to nlp" in change.reason
        assert "fraud-old" in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}
        card = wait_until(lambda: withdrawn_on_card(world, message["ts"], change_id), timeout=20)
        assert "now belongs to nlp" in card
    finally:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "fraud-detection"}])


def test_an_endpoint_retagged_while_the_dismiss_form_is_open_is_not_dismissed_for_nlp(world):
    """Dismiss keeps a resource away from the team's reviews for good, so it is a decision
    like any other: once the tags give the endpoint to nlp, fraud-detection's form withdraws
    the proposal instead of dismissing it."""
    slack = world.slack
    message = ask(world)
    _, old = card_of(message, "endpoint fraud-old")
    slack.click(user_id=ALICE, channel_id=FRAUD, message_ts=message["ts"],
                action_id=action_ids.RIGHTSIZE_DISMISS, value=old)  # fmt: skip
    modal = wait_until(lambda: slack.open_modals(ALICE))[-1]
    sm = boto3.client("sagemaker", region_name=REGION)
    arn = sm.describe_endpoint(EndpointName="fraud-old")["EndpointArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "nlp"}])
    newest = max((m["ts"] for m in slack.messages()), key=float)
    try:
        slack.submit_view(user_id=ALICE, view_id=modal["id"], values={"reason": "not ours"})
        told = slack.wait_for_message(
            lambda m: m["ephemeral_for"] == ALICE and "now belongs to nlp" in m["text"],
            timeout=20,
            after_ts=newest,
        )
        assert "`/cost rightsize nlp`" in told["text"]
        change = world.costbot.store.get_change(int(old))
        assert change.state is State.DENIED and "now give it to nlp" in change.reason
        # Everyone sees it withdrawn on the card, with no button left that could only
        # answer "already denied"; the other cards keep theirs.
        card = wait_until(lambda: withdrawn_on_card(world, message["ts"], old), timeout=20)
        assert "now belongs to nlp" in card and "<@costbot>" not in card
    finally:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "fraud-detection"}])


def withdrawn_on_card(world: World, ts: str, change_id: str) -> str:
    """The card's line for ``change_id`` once it has one and no buttons ("" until then)."""
    (card,) = [m for m in world.slack.messages(FRAUD) if m["ts"] == ts]
    ids = {block.get("block_id") for block in card["blocks"]}
    if f"rightsize:{change_id}" in ids:
        return ""
    lines = [b for b in card["blocks"] if b.get("block_id") == f"rightsize_status:{change_id}"]
    assert any(i and i.startswith("rightsize:") for i in ids)  # the other cards' buttons stay
    return lines[0]["elements"][0]["text"] if lines else ""

"""SageMaker cards as Block Kit (pure builders): what each says, which buttons they carry, what
Revert promises, and Slack's limits with many cards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.demo.slack_standin import limit_violations
from engines.changes.models import Change, Kind, State
from engines.rightsizing.models import Finding, Instance, Recommendation, Risk
from engines.sagemaker.models import SageMakerAction, SageMakerRecommendation
from handlers.rightsizing.blocks import build_rightsize_message, card_buttons
from handlers.rightsizing.questions import nothing_on_sagemaker

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:"


def sagemaker(action: SageMakerAction, saving: str = "100.00", **extra) -> SageMakerRecommendation:
    kind = "notebook" if action is SageMakerAction.STOP_NOTEBOOK else "endpoint"
    if action in (SageMakerAction.USE_MANAGED_SPOT, SageMakerAction.ADD_CHECKPOINTS):
        kind = "training-job"
    values = {
        "kind": kind, "name": "fraud-<x>", "arn": f"{ARN}{kind}/fraud-x",
        "finding": Finding.OVER_PROVISIONED, "action": action, "current_type": "ml.p3.2xlarge",
        "recommended_type": "ml.p3.2xlarge", "current_count": 2, "recommended_count": 2,
        "current_hourly": Decimal("3.825"), "recommended_hourly": Decimal("1.91"),
        "monthly_saving": Decimal(saving), "risk": Risk.HIGH, "reason": "Add checkpoints first.",
        "risk_note": "Without checkpoints an interrupted job starts over.",
        "evidence": ("spot assumed 50% below on-demand (AWS quotes up to 90%)",),
    }  # fmt: skip
    return SageMakerRecommendation(**{**values, **extra})  # type: ignore[arg-type]


def ec2(n: int) -> Recommendation:
    instance = Instance(instance_id=f"i-{n:04d}", instance_type="m5.2xlarge", state="running",
                        region="us-east-1", tags={"Name": f"web-{n}"})  # fmt: skip
    return Recommendation(
        instance=instance, finding=Finding.OVER_PROVISIONED, current_type="m5.2xlarge",
        recommended_type="m5.xlarge", current_hourly=Decimal("0.384"),
        recommended_hourly=Decimal("0.192"), monthly_saving=Decimal(n), risk=None, reason="low",
    )  # fmt: skip


def change(kind: Kind, state: State = State.PROPOSED, **extra) -> Change:
    values = {
        "id": 9, "created_at": NOW, "updated_at": NOW, "state": state, "instance_id": "fraud-x",
        "account_id": "123456789012", "region": "us-east-1", "team": "fraud-detection",
        "from_type": "ml.m5.large", "to_type": "ml.m5.large", "monthly_saving": Decimal("10"),
        "requested_by": "costbot", "kind": kind,
    }  # fmt: skip
    return Change(**{**values, **extra})  # type: ignore[arg-type]


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def actions(message: dict) -> list[dict]:
    return [b for b in message["blocks"] if b["type"] == "actions"]


def build(pairs, **extra) -> dict:
    return build_rightsize_message(
        "fraud-detection", pairs, approvers=["U0DEMOALICE"], dry_run=False, lookback_days=14,
        **extra,
    )  # fmt: skip


def test_training_advice_is_a_card_without_buttons_stating_the_spot_assumption():
    message = build([("", sagemaker(SageMakerAction.ADD_CHECKPOINTS, "1234.50"))])

    (card,) = [text for text in sections(message) if "training job" in text]
    assert card.startswith(
        ":arrow_down: *training job fraud-&lt;x&gt;* ran on demand: "
        "add checkpoints, then train on managed spot (2 × `ml.p3.2xlarge`)"
    )
    assert "*Saves about $1,234.50/month* · high risk · assumes spot 50% below on-demand" in card
    assert "• spot assumed 50% below on-demand" in card
    assert ":warning: Without checkpoints an interrupted job starts over." in card
    assert "costbot changes nothing here" in card
    assert actions(message) == []


def test_autoscaling_advice_is_a_card_without_buttons_about_the_endpoints_autoscaling():
    rec = sagemaker(
        SageMakerAction.LOWER_AUTOSCALING_MIN,
        "335.80",
        current_count=6,
        recommended_count=2,
        current_type="ml.m5.large",
        variant="AllTraffic",
    )
    message = build([("", rec)])

    (card,) = [text for text in sections(message) if "endpoint" in text]
    assert "6 → 2 × `ml.m5.large`, once autoscaling allows it" in card
    assert "_Advice for the endpoint's autoscaling: costbot changes nothing here._" in card
    assert actions(message) == []
    assert "could be saved by 1 piece of advice (" in sections(message)[0]  # not "0 changes"


def test_sagemaker_and_ec2_cards_are_ranked_together_by_saving():
    message = build([
        ("1", ec2(150)),
        ("2", sagemaker(SageMakerAction.DELETE_ENDPOINT, "300.00", config_name="cfg")),
        ("3", sagemaker(SageMakerAction.STOP_NOTEBOOK, "20.00")),
    ])  # fmt: skip

    assert [a["block_id"] for a in actions(message)] == [
        "rightsize:2", "rightsize:1", "rightsize:3",
    ]  # fmt: skip
    verbs = [a["elements"][0]["text"]["text"] for a in actions(message)]
    assert verbs == ["Delete", "Approve", "Stop"]
    assert "*$470.00/month* could be saved by 3 changes" in sections(message)[0]


def test_a_skipped_sagemaker_is_one_escaped_line():
    message = build([("1", ec2(5))], sagemaker_notes=["a skipped in <eu-west-1>: denied", "b"])

    lines = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert "SageMaker: a skipped in &lt;eu-west-1&gt;: denied · b" in lines


def test_sixty_cards_with_long_evidence_stay_within_slacks_limits():
    long = tuple(f"evidence line {n} " + "x" * 80 for n in range(60))
    pairs = [(str(n), ec2(n + 1)) for n in range(20)]
    pairs += [
        (str(100 + n), sagemaker(SageMakerAction.SET_INSTANCE_COUNT, f"{n + 50}.00",
                                 evidence=long, variant="AllTraffic"))
        for n in range(40)
    ]  # fmt: skip
    message = build(pairs)

    assert limit_violations(message) == []
    assert len(message["blocks"]) <= 50
    assert all(len(text) <= 3000 for text in sections(message))
    assert "…and 50 smaller ones." in str(message["blocks"])


@pytest.mark.parametrize(
    ("kind", "verb"),
    [(Kind.ENDPOINT_DELETE, "Delete"), (Kind.NOTEBOOK_STOP, "Stop"),
     (Kind.ENDPOINT_COUNT, "Approve"), (Kind.ENDPOINT_CONFIG, "Approve")],
)  # fmt: skip
def test_a_sagemaker_change_offers_its_own_verb(kind, verb):
    buttons = card_buttons(change(kind))
    assert buttons[0]["text"]["text"] == verb
    assert [b["text"]["text"] for b in buttons][1:] == [
        "Tonight at 22:00", "Deny", "Snooze 30 days", "Dismiss", "Ask for approval",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "extra", "promise"),
    [
        (Kind.ENDPOINT_DELETE, {"endpoint_config": "fraud-old-config"},
         "The endpoint is re-created from fraud-old-config"),
        (Kind.NOTEBOOK_STOP, {}, "The notebook is started again"),
        (Kind.ENDPOINT_COUNT, {"variant": "AllTraffic", "from_type": "4", "to_type": "2"},
         "Variant AllTraffic goes back to 4 instances."),
        (Kind.ENDPOINT_CONFIG, {"endpoint_config": "single-config", "from_type": "ml.m5.2xlarge"},
         "The endpoint switches back to single-config (ml.m5.2xlarge)"),
    ],
)  # fmt: skip
def test_revert_on_a_done_sagemaker_change_says_what_it_undoes(kind, extra, promise):
    (revert,) = card_buttons(change(kind, State.DONE, **extra))
    assert revert["text"]["text"] == "Revert"
    text = revert["confirm"]["text"]["text"]  # type: ignore[index]
    assert text.startswith(promise) and "instance is stopped" not in text


def test_teams_without_sagemaker_are_named_in_one_sentence():
    assert nothing_on_sagemaker(["nlp"]).startswith("nlp runs no endpoints")
    assert nothing_on_sagemaker(["a", "b", "c"]).startswith("a, b and c run no endpoints")


def test_training_advice_is_counted_as_advice_and_said_to_have_run_on_demand():
    message = build([
        ("1", ec2(150)),
        ("", sagemaker(SageMakerAction.USE_MANAGED_SPOT, "80.00")),
    ])  # fmt: skip

    assert "could be saved by 1 change and 1 piece of advice" in sections(message)[0]
    assert " ran on demand: train on managed spot" in sections(message)[-1]
    assert "over-provisioned: train" not in str(message)

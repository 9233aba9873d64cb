"""The fleet plan's desk: one claim per plan across the clicks' threads, and progress lines on
the plan message that never undo each other. Slack is a recorded ``respond``."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from engines.rightsizing.models import Instance
from engines.spot.review import FeedStatus, SpotCandidate, TeamSpotReport
from handlers.spot.actions import PlanDesk
from handlers.spot.blocks import build_spot_team_message, plan_button_value

NOW = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)


def candidate(name: str) -> SpotCandidate:
    box = Instance(
        instance_id=f"i-{name}",
        instance_type="c5.xlarge",
        state="running",
        region="us-east-1",
        tags={"Name": name},
        availability_zone="us-east-1a",
    )
    return SpotCandidate(box, "batch workload", Decimal("0.17"), Decimal("0.07"), None)


def plan_message() -> dict:
    report = TeamSpotReport(
        "nlp", (candidate("alpha"), candidate("beta")), (), FeedStatus("snapshot", NOW), NOW
    )
    message = build_spot_team_message(report)
    return {"ts": "1700000000.000100", "text": message["text"], "blocks": message["blocks"]}


def click_body(message: dict) -> dict:
    return {"user": {"id": "U1"}, "channel": {"id": "C1"}, "message": message,
            "container": {"message_ts": message["ts"]}}  # fmt: skip


def lines(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if "accessory" in block:
            out.append(f"[{block['accessory']['text']['text']}]")
        elif block["type"] == "context" and block.get("block_id", "").startswith("spot_plan"):
            out.append(block["elements"][0]["text"])
    return out


def test_only_one_of_many_simultaneous_clicks_claims_the_plan():
    desk = PlanDesk()
    start = threading.Barrier(16)

    def claim() -> bool:
        start.wait()
        return desk.start("C1|1700000000.000100|acct|us-east-1|i-alpha")

    with ThreadPoolExecutor(max_workers=16) as pool:
        claims = list(pool.map(lambda _: claim(), range(16)))
    assert claims.count(True) == 1
    desk.finish("C1|1700000000.000100|acct|us-east-1|i-alpha")
    assert desk.start("C1|1700000000.000100|acct|us-east-1|i-alpha")  # free again once made


def test_two_plans_made_at_once_on_one_message_both_show():
    message = plan_message()
    alpha = plan_button_value("", "us-east-1", "i-alpha")
    beta = plan_button_value("", "us-east-1", "i-beta")
    sent: list[dict] = []
    desk = PlanDesk()
    body = click_body(message)  # both clicks carry the message as it was before either
    desk.show(body, lambda **m: sent.append(m), alpha, "making alpha", busy=True)
    desk.show(body, lambda **m: sent.append(m), beta, "making beta", busy=True)
    assert lines(sent[-1]["blocks"]) == [
        "[Making the plan…]",
        "making alpha",
        "[Making the plan…]",
        "making beta",
    ]
    desk.show(body, lambda **m: sent.append(m), alpha, "alpha posted", busy=False)
    assert lines(sent[-1]["blocks"]) == [
        "[Fleet plan]",
        "alpha posted",
        "[Making the plan…]",
        "making beta",
    ]
    desk.show(body, lambda **m: sent.append(m), beta, "", busy=False)  # failed: told the clicker
    assert lines(sent[-1]["blocks"]) == ["[Fleet plan]", "alpha posted", "[Fleet plan]"]
    assert all(m["replace_original"] is True and m["text"] == message["text"] for m in sent)


def test_an_ephemeral_plan_message_is_not_rewritten():
    """Slack sends no blocks for an ephemeral message: the progress goes to the clicker."""
    body = click_body(plan_message())
    del body["message"]
    sent: list[dict] = []
    assert PlanDesk().show(body, lambda **m: sent.append(m), "v", "making", busy=True) is False
    assert sent == []

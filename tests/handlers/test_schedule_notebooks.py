"""A SageMaker notebook instance in an off-hours schedule, as the channel sees it: listed with
its kind, warned about before the stop, stopped at the boundary (demo world, moved clock).

Wednesday Nov 18 2026, 19:45 New York: fraud-detection's ``fraud-dev-hours`` (mon-fri
08:00-20:00, ``env=dev``) is about to stop its dev boxes, and now a notebook too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from bot.demo.sandbox import DemoOptions, DemoSandbox
from bot.demo.slack_standin import limit_violations
from handlers.schedules.jobs import run_schedules
from tests.handlers.test_schedule_flow import BOB, FRAUD, Clock

NEW_YORK = ZoneInfo("America/New_York")
CLOCK = Clock(dt.datetime(2026, 11, 18, 19, 45, tzinfo=NEW_YORK).astimezone(dt.UTC))
NOTEBOOK = "fraud-explore-carol"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[DemoSandbox]:
    options = DemoOptions(
        workdir=tmp_path_factory.mktemp("demo"), run_scheduler=False, dry_run=False
    )
    with DemoSandbox(options, now=CLOCK) as running:
        running.world.client("sagemaker").create_notebook_instance(
            NotebookInstanceName=NOTEBOOK,
            InstanceType="ml.t3.medium",
            RoleArn="arn:aws:iam::123456789012:role/demo-notebooks",
            Tags=[{"Key": "team", "Value": "fraud-detection"}, {"Key": "env", "Value": "dev"}],
        )
        yield running


def notebook_status(sandbox: DemoSandbox) -> str:
    described = sandbox.world.client("sagemaker").describe_notebook_instance(
        NotebookInstanceName=NOTEBOOK
    )
    return str(described["NotebookInstanceStatus"])


def command(sandbox: DemoSandbox, text: str, expect: str) -> dict:
    slack = sandbox.standin
    before = max((m["ts"] for m in slack.messages()), default=None, key=float)
    slack.send_command(user_id=BOB, channel_id=FRAUD, text=text)
    return slack.wait_for_message(
        lambda m: (
            m["channel"] == FRAUD
            and expect in (m["text"] + str(m["blocks"]))
            and "Working on" not in m["text"]
        ),
        timeout=30,
        after_ts=before,
    )


def test_the_schedule_shows_the_notebook_with_its_kind(sandbox):
    listed = command(sandbox, "schedule list fraud-detection", "off-hours schedules")
    assert "1 SageMaker notebook instance" in str(listed["blocks"])
    assert limit_violations(listed) == []

    shown = command(sandbox, "schedule show fraud-dev-hours", NOTEBOOK)
    line = next(
        row for block in shown["blocks"] if "text" in block
        for row in block["text"]["text"].splitlines() if NOTEBOOK in row
    )  # fmt: skip
    assert "SageMaker notebook instance, ml.t3.medium" in line
    assert "is InService, should be running" in line
    assert limit_violations(shown) == []


def test_the_notebook_is_in_the_warning_and_stopped_at_eight(sandbox):
    CLOCK.set_local(2026, 11, 18, 19, 45)
    run_schedules(sandbox.costbot.deps, sandbox.costbot.app.client)
    warning = sandbox.standin.wait_for_message(
        lambda m: (
            m["channel"] == FRAUD and "fraud-dev-hours" in m["text"] and NOTEBOOK in m["text"]
        ),
        timeout=10,
    )
    assert "At 20:00 EST" in warning["text"]

    CLOCK.set_local(2026, 11, 18, 20, 0)
    run_schedules(sandbox.costbot.deps, sandbox.costbot.app.client)
    assert notebook_status(sandbox) == "Stopped"
    CLOCK.set_local(2026, 11, 19, 8, 0)
    run_schedules(sandbox.costbot.deps, sandbox.costbot.app.client)
    assert notebook_status(sandbox) == "InService"

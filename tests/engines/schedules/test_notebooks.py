"""SageMaker notebook instances in off-hours schedules, on moto's SageMaker with a real Store.

A notebook is selected by the schedule's tags as an EC2 instance is, stopped outside hours
(StopNotebookInstance) and started inside them (StartNotebookInstance), once per change of
desired state; a dry run only describes it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from moto import mock_aws

from bot.store import Store
from engines.schedules.model import ResourceKind, ScheduleError
from tests.engines.schedules.test_enforcement import (
    ALICE,
    BOB,
    TEAM,
    CountingClients,
    launch,
    local,
    make_offhours,
    run_minutes,
)
from tests.engines.schedules.written_schedules import build_schedule

ROLE = "arn:aws:iam::123456789012:role/notebooks"


@pytest.fixture
def aws():
    with mock_aws():
        yield CountingClients()


@pytest.fixture
def store():
    return Store(":memory:")


def notebook(aws: CountingClients, name: str, **tags: str) -> str:
    aws("sagemaker").create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return name


def status(aws: CountingClients, name: str) -> str:
    return aws("sagemaker").describe_notebook_instance(NotebookInstanceName=name)[
        "NotebookInstanceStatus"
    ]


def schedule_actions(store: Store) -> list[dict[str, Any]]:
    return [r for r in store.audit_records() if r["action"].startswith("schedule.")]


def test_a_notebook_is_stopped_in_the_evening_and_started_in_the_morning(aws, store):
    dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    prod = notebook(aws, "fraud-batch", team="fraud-detection", env="prod")
    offhours = make_offhours(aws, store)

    run_minutes(offhours, local(2026, 11, 18, 18, 50), 20)  # Wednesday 18:50 .. 19:09
    assert status(aws, dev) == "Stopped" and status(aws, prod) == "InService"
    assert aws.calls == Counter(stop_notebook_instance=1)

    run_minutes(offhours, local(2026, 11, 19, 8, 55), 10)  # Thursday 08:55 .. 09:04
    assert status(aws, dev) == "InService"
    assert aws.calls == Counter(stop_notebook_instance=1, start_notebook_instance=1)

    start, stop = schedule_actions(store)  # newest first
    assert (start["action"], stop["action"]) == ("schedule.start", "schedule.stop")
    assert stop["target"] == "fraud-explore"
    assert stop["detail"]["result"] == "sagemaker:StopNotebookInstance"
    assert stop["detail"]["resource"] == "notebook::us-east-1:fraud-explore"
    assert stop["detail"]["reason"] == "outside its hours"


def test_notebooks_and_instances_are_selected_by_the_same_tags(aws, store):
    box = launch(aws, "dev-box", team="fraud-detection", env="dev")
    notebook(aws, "fraud-explore", team="fraud-detection", env="dev", Name="Exploration")
    notebook(aws, "nlp-explore", team="nlp", env="dev")  # another team's
    notebook(aws, "untagged")
    offhours = make_offhours(aws, store)
    [schedule] = offhours.schedules()

    view = offhours.view(schedule, local(2026, 11, 18, 12, 0), offhours.inventory())

    chosen = {(d.resource.kind, d.resource.resource_id) for d in view.resources}
    assert chosen == {(ResourceKind.EC2, box), (ResourceKind.NOTEBOOK, "fraud-explore")}
    [kept] = [d.resource for d in view.resources if d.resource.kind is ResourceKind.NOTEBOOK]
    assert (kept.label, kept.size, kept.state) == (
        "Exploration (fraud-explore)", "ml.t3.medium", "InService",
    )  # fmt: skip


def test_a_dry_run_describes_the_notebook_and_says_which_call_it_would_make(aws, store):
    dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store, dry_run=True)

    run_minutes(offhours, local(2026, 11, 18, 19, 0), 3)

    assert status(aws, dev) == "InService" and aws.calls == Counter()
    [record] = schedule_actions(store)
    assert record["action"] == "schedule.stop" and record["dry_run"] == 1
    assert record["detail"]["result"] == "dry run: would call sagemaker:StopNotebookInstance"


def test_a_notebook_started_by_hand_after_the_stop_stays_up_until_the_next_boundary(aws, store):
    dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    offhours.enforce(local(2026, 11, 18, 19, 0))
    assert status(aws, dev) == "Stopped"

    aws("sagemaker").start_notebook_instance(NotebookInstanceName=dev)  # needed at 23:00
    run_minutes(offhours, local(2026, 11, 18, 23, 0), 30)
    assert status(aws, dev) == "InService"

    # 09:00 the schedule wants it up (it is: no call); 19:00 it is stopped again.
    offhours.enforce(local(2026, 11, 19, 9, 0))
    offhours.enforce(local(2026, 11, 19, 19, 0))
    assert status(aws, dev) == "Stopped"
    assert aws.calls == Counter(stop_notebook_instance=2, start_notebook_instance=1)  # 1 by hand


def test_a_notebook_stopped_by_hand_in_working_hours_is_not_started_again(aws, store):
    dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    offhours.enforce(local(2026, 11, 19, 9, 0))

    aws("sagemaker").stop_notebook_instance(NotebookInstanceName=dev)  # done for the day
    run_minutes(offhours, local(2026, 11, 19, 12, 0), 30)

    assert status(aws, dev) == "Stopped"
    assert aws.calls == Counter(stop_notebook_instance=1)  # by hand; the 19:00 stop needs none
    offhours.enforce(local(2026, 11, 19, 19, 0))
    assert aws.calls == Counter(stop_notebook_instance=1)


class BetweenStates(CountingClients):
    """moto's notebooks change state at once; this one reports ``status`` for a while, as a
    real notebook does for minutes after a start, stop or update."""

    def __init__(self) -> None:
        super().__init__()
        self.status = ""

    def __call__(self, service: str) -> Any:
        client = super().__call__(service)
        if service != "sagemaker":
            return client
        outer = self

        class Described:
            def __getattr__(self, name: str) -> Any:
                method = getattr(client, name)
                if name != "describe_notebook_instance" or not outer.status:
                    return method

                def described(**params: Any) -> Any:
                    return {**method(**params), "NotebookInstanceStatus": outer.status}

                return described

        return Described()


@pytest.mark.parametrize(
    ("busy", "verb", "at"),
    [
        ("Pending", "stop", (2026, 11, 18, 19, 0)),
        ("Updating", "stop", (2026, 11, 18, 19, 0)),
        ("Stopping", "start", (2026, 11, 19, 9, 0)),
        ("Updating", "start", (2026, 11, 19, 9, 0)),
    ],
)
def test_a_notebook_between_states_is_left_for_the_next_pass_with_the_reason(store, busy, verb, at):
    with mock_aws():
        aws = BetweenStates()
        dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
        offhours = make_offhours(aws, store)
        if verb == "start":
            offhours.enforce(local(2026, 11, 18, 19, 0))  # stopped the evening before
        aws.status = busy
        now = local(*at)

        run_minutes(offhours, now, 3)  # three passes: nothing called, one record of why
        assert aws.calls[f"{verb}_notebook_instance"] == 0
        [waited] = [r for r in schedule_actions(store) if "deferred" in r["detail"]]
        done, needed = ("stopped", "InService") if verb == "stop" else ("started", "Stopped")
        assert waited["action"] == f"schedule.{verb}"
        assert waited["detail"]["deferred"] == (
            f"fraud-explore is {busy}: it can be {done} once it is {needed}, so it is left "
            "for the next pass"
        )

        aws.status = ""  # settled: the next pass does it
        [done] = offhours.enforce(now + dt.timedelta(minutes=3))
        assert done.ok and done.action == verb
        assert status(aws, dev) == ("Stopped" if verb == "stop" else "InService")


def test_a_stopping_notebook_counts_as_stopped_and_a_pending_one_as_started(store):
    with mock_aws():
        aws = BetweenStates()
        notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
        offhours = make_offhours(aws, store)
        aws.status = "Stopping"  # someone stopped it a moment before 19:00
        [stop] = offhours.enforce(local(2026, 11, 18, 19, 0))
        aws.status = "Pending"  # and started it a moment before 09:00
        [start] = offhours.enforce(local(2026, 11, 19, 9, 0))

    assert (stop.detail, start.detail) == ("already Stopping", "already Pending")
    assert aws.calls == Counter() and schedule_actions(store) == []


def test_keep_names_a_notebook_and_holds_its_stop(aws, store):
    dev = notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    offhours.enforce(local(2026, 11, 18, 12, 0))

    _, kept = offhours.keep("fraud-explore", "22:00", by=BOB, now=local(2026, 11, 18, 18, 0))

    assert [r.kind for r in kept] == [ResourceKind.NOTEBOOK]
    offhours.enforce(local(2026, 11, 18, 19, 0))
    assert status(aws, dev) == "InService"
    offhours.enforce(local(2026, 11, 18, 22, 0))
    assert status(aws, dev) == "Stopped"


def test_the_warning_before_a_stop_names_the_notebook(aws, store):
    notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)

    [warning] = offhours.warnings_due(local(2026, 11, 18, 18, 45))

    assert [r.resource_id for r in warning.resources] == ["fraud-explore"]


def test_a_notebooks_saving_uses_sagemaker_notebook_prices(aws, store):
    notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    asked = []

    def notebook_hourly(instance_type: str, region: str) -> Decimal:
        asked.append((instance_type, region))
        return Decimal("0.05")

    offhours = make_offhours(aws, store, notebook_hourly=notebook_hourly)
    [schedule] = offhours.schedules()
    view = offhours.view(schedule, local(2026, 11, 18, 12, 0), offhours.inventory())

    # 730 h a month minus 50 h a week of hours on: 512.7 h off x $0.05
    assert view.saving.monthly == Decimal("25.64")
    assert asked == [("ml.t3.medium", "us-east-1")]


def test_notebook_tags_are_read_once_then_again_after_the_refresh_passes(aws, store):
    from engines.schedules.aws import TAG_REFRESH_PASSES

    notebook(aws, "fraud-explore", team="fraud-detection", env="dev")
    offhours = make_offhours(aws, store)
    [target] = offhours.targets
    reads = Counter[str]()
    inner = target.client_for

    def counting(service: str) -> Any:
        client = inner(service)
        if service != "sagemaker":
            return client

        class Counted:
            def get_paginator(self, name: str) -> Any:
                reads[name] += 1
                return client.get_paginator(name)

            def __getattr__(self, name: str) -> Any:
                return getattr(client, name)

        return Counted()

    target.client_for = counting
    for _ in range(TAG_REFRESH_PASSES):
        offhours.inventory()
    assert reads == Counter(list_notebook_instances=TAG_REFRESH_PASSES, list_tags=1)

    arn = aws("sagemaker").list_notebook_instances()["NotebookInstances"][0]["NotebookInstanceArn"]
    aws("sagemaker").delete_tags(ResourceArn=arn, TagKeys=["env"])  # opted out
    [resource] = offhours.inventory()
    assert reads["list_tags"] == 2 and "env" not in resource.tags
    [new] = [notebook(aws, "fraud-new", team="fraud-detection", env="dev")]
    assert new in {r.resource_id for r in offhours.inventory()}  # a new one: read at once


def test_a_schedule_over_a_team_without_resources_names_every_kind(aws, store):
    offhours = make_offhours(aws, store)
    nothing = build_schedule(
        name="nights", team=TEAM.name, team_tags=TEAM.tags, timezone="America/New_York",
        periods="mon-fri 08:00-20:00", tags="env=dev",
    )  # fmt: skip
    with pytest.raises(ScheduleError) as refused:
        offhours.create(nothing, by=ALICE, now=local(2026, 11, 18, 12, 0))
    assert "no EC2 instance, RDS instance, Auto Scaling group or SageMaker notebook instance" in (
        str(refused.value)
    )


def test_without_the_right_to_list_notebooks_the_other_schedules_keep_working(aws, store, caplog):
    from botocore.exceptions import ClientError

    dev = launch(aws, "dev-box", team="fraud-detection", env="dev")

    class Denied:
        def get_paginator(self, name: str) -> Any:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "ListNotebookInstances")

    offhours = make_offhours(lambda s: Denied() if s == "sagemaker" else aws(s), store)
    offhours.enforce(local(2026, 11, 18, 19, 0))

    assert aws.calls == Counter(stop_instances=1)
    assert [r.resource_id for r in offhours.inventory()] == [dev]
    assert "SageMaker notebook instances in us-east-1 are left out of schedules" in caplog.text

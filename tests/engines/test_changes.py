"""Carrying out instance type changes: on moto's EC2, with a real Store, never really sleeping.

moto lets a *running* instance change type (real EC2 refuses), so the tests record the
instance's state at the moment of every ``ModifyInstanceAttribute`` and insist on "stopped".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from bot.store import Store
from engines.changes.models import IN_FLIGHT, ChangeRequest, Direction, Kind, State
from engines.changes.runner import ChangeRunner
from engines.rightsizing.models import Finding, Instance, Recommendation, Risk

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
ALICE, BOB, CAROL, MALLORY = "UALICE", "UBOB", "UCAROL", "UMALLORY"
APPROVERS = (ALICE, CAROL)
MUTATING = {"stop_instances", "start_instances", "modify_instance_attribute"}


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an ``Exception``, so nothing rolls it back."""


@dataclass
class Call:
    name: str
    params: dict[str, Any]
    state: str  # the instance's state when the call was made


class RecordingEC2:
    """Wraps a boto3 EC2 client: records every call (and the instance's state at the time),
    and raises queued errors instead of making chosen calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.failures: dict[str, list[BaseException]] = {}
        self.stuck_state = ""  # when set, DescribeInstances reports this state
        self.stick_after: tuple[str, str] = ("", "")  # (call, state): stuck after that call
        self._lock = threading.Lock()

    def fail(self, name: str, *errors: BaseException) -> None:
        self.failures.setdefault(name, []).extend(errors)

    def mutations(self) -> list[Call]:
        return [call for call in self.calls if call.name in MUTATING]

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**params: Any) -> Any:
            state = ""
            if name in MUTATING:
                instance_id = params.get("InstanceId") or params["InstanceIds"][0]
                state = describe(self.client, instance_id)["State"]["Name"]
            with self._lock:
                self.calls.append(Call(name, params, state))
                queued = self.failures.get(name)
                error = queued.pop(0) if queued else None
            if error is not None:
                raise error
            response = method(**params)
            if name == self.stick_after[0]:
                self.stuck_state = self.stick_after[1]
            if name == "describe_instances" and self.stuck_state:
                for reservation in response["Reservations"]:
                    for instance in reservation["Instances"]:
                        instance["State"] = {"Code": 64, "Name": self.stuck_state}
            return response

        return call


class FakeTime:
    """``sleep`` advances ``clock``; nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_error(code: str, message: str = "", operation: str = "StartInstances") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def describe(client: Any, instance_id: str) -> dict[str, Any]:
    return client.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


@pytest.fixture(scope="module")
def moto_ec2() -> Iterator[None]:
    # One moto for the module (starting one costs about a second): every test launches its own
    # instance and looks only at that one.
    with mock_aws():
        yield


@pytest.fixture
def ec2(moto_ec2):
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def instance_id(ec2) -> str:
    return launch(ec2)


def launch(ec2, **extra: Any) -> str:
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge", **extra
    )
    return reservation["Instances"][0]["InstanceId"]


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "x.db")


@pytest.fixture
def recorder(ec2) -> RecordingEC2:
    return RecordingEC2(ec2)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_runner(
    client: Any, store: Store, fake_time: FakeTime, *, dry_run: bool = False, **options: Any
) -> ChangeRunner:
    clients: dict[tuple[str, str], Any] = {(ACCOUNT, REGION): client}
    return ChangeRunner(
        lambda account, region: clients[(account, region)],
        store,
        audit=store.record_audit,
        dry_run=dry_run,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        poll_s=5,
        timeout_s=600,
        now=options.pop("now", lambda: NOW),
        **options,
    )


@pytest.fixture
def runner(recorder, store, fake_time) -> ChangeRunner:
    return make_runner(recorder, store, fake_time)


def propose(runner: ChangeRunner, instance_id: str, *, requested_by: str = BOB) -> int:
    recommendation = Recommendation(
        instance=Instance(instance_id, "m5.xlarge", "running", REGION, account_id=ACCOUNT),
        finding=Finding.OVER_PROVISIONED,
        current_type="m5.xlarge",
        recommended_type="m5.large",
        current_hourly=Decimal("0.192"),
        recommended_hourly=Decimal("0.096"),
        monthly_saving=Decimal("70.08"),
        risk=Risk.LOW,
        reason="CPU p95 was 9% over 14 days.",
    )
    request = ChangeRequest.from_recommendation(
        recommendation, requested_by=requested_by, team="nlp"
    )
    return runner.propose(request).id


def approved(runner: ChangeRunner, instance_id: str) -> int:
    change_id = propose(runner, instance_id)
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS).ok
    return change_id


def actions(store: Store) -> list[str]:
    return [record["action"] for record in reversed(store.audit_records(limit=1000))]


# --- the happy path ---------------------------------------------------------------------


def test_a_change_stops_modifies_and_starts_the_instance(runner, recorder, store, ec2, instance_id):
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert outcome.state is State.DONE
    assert [(c.name, c.state) for c in recorder.mutations()] == [
        ("stop_instances", "running"),
        ("modify_instance_attribute", "stopped"),  # real EC2 requires it
        ("start_instances", "stopped"),
    ]
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "running")
    assert "now m5.large (was m5.xlarge)" in outcome.text
    assert "$70.08/month" in outcome.text


def test_everything_is_audited_with_before_after_and_dollars(runner, store, instance_id):
    change_id = approved(runner, instance_id)
    runner.execute(change_id)

    assert actions(store) == [
        "change.proposed",
        "change.approved",
        "change.forward.started",
        "ec2.StopInstances",
        "ec2.ModifyInstanceAttribute",
        "ec2.StartInstances",
        "change.done",
    ]
    done = store.audit_records(limit=1)[0]
    assert done["actor"] == ALICE
    assert done["target"] == f"{ACCOUNT}/{REGION}/{instance_id}"
    assert done["detail"]["before"] == "m5.xlarge"
    assert done["detail"]["after"] == "m5.large"
    assert done["detail"]["monthly_saving"] == "70.08"
    assert done["dry_run"] == 0


def test_a_stopped_instance_is_changed_and_left_stopped(runner, recorder, ec2, instance_id):
    ec2.stop_instances(InstanceIds=[instance_id])
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert [c.name for c in recorder.mutations()] == ["modify_instance_attribute"]
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "stopped")
    assert "left stopped, as it was before" in outcome.text
    assert outcome.change.was_running is False


# --- exactly once -----------------------------------------------------------------------


def test_fifty_concurrent_approve_and_execute_clicks_change_the_instance_once(
    runner, recorder, store, ec2, instance_id
):
    change_id = propose(runner, instance_id)
    barrier = threading.Barrier(50)
    approvals, executions = [], []
    lock = threading.Lock()

    def click() -> None:
        barrier.wait()
        approval = runner.approve(change_id, approver=ALICE, approvers=APPROVERS)
        execution = runner.execute(change_id)
        with lock:
            approvals.append(approval.ok)
            executions.append(execution)

    threads = [threading.Thread(target=click) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert approvals.count(True) == 1
    assert [e.ok for e in executions].count(True) == 1
    modifies = [c for c in recorder.calls if c.name == "modify_instance_attribute"]
    assert len(modifies) == 1
    assert store.get_change(change_id).state is State.DONE
    assert describe(ec2, instance_id)["InstanceType"] == "m5.large"
    losers = [e.text for e in executions if not e.ok]
    assert all("already" in text or "being carried out" in text for text in losers), losers


def test_the_store_compare_and_set_has_exactly_one_winner(store, runner, instance_id):
    change_id = propose(runner, instance_id)
    barrier = threading.Barrier(50)
    wins = []

    def attempt() -> None:
        barrier.wait()
        wins.append(store.transition(change_id, expected={State.PROPOSED}, new=State.APPROVED))

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1
    assert store.get_change(change_id).version == 1


def test_transition_refuses_columns_it_must_not_set(store, runner, instance_id):
    change_id = propose(runner, instance_id)
    with pytest.raises(ValueError, match="version"):
        store.transition(change_id, expected={State.PROPOSED}, new=State.APPROVED, version=9)


# --- who may approve --------------------------------------------------------------------


def test_an_outsider_cannot_approve_and_nothing_changes(runner, recorder, store, instance_id):
    change_id = propose(runner, instance_id)
    before = store.get_change(change_id)

    outcome = runner.approve(change_id, approver=MALLORY, approvers=APPROVERS)

    assert not outcome.ok and outcome.refused
    assert outcome.text == f"only nlp's approvers can approve this: <@{ALICE}> or <@{CAROL}>."
    assert store.get_change(change_id) == before
    assert not runner.execute(change_id).ok
    assert recorder.mutations() == []
    assert "change.approve_refused" in actions(store)


def test_asking_for_a_change_gives_no_say_in_it(runner, store, instance_id):
    # Bob's asking does not let him deny, and Alice's asking does not stop her approving.
    change_id = propose(runner, instance_id, requested_by=BOB)
    outcome = runner.deny(change_id, by=BOB, approvers=APPROVERS)
    assert outcome.refused and store.get_change(change_id).state is State.PROPOSED

    mine = propose(runner, instance_id, requested_by=ALICE)
    assert runner.approve(mine, approver=ALICE, approvers=[ALICE]).state is State.APPROVED


def test_a_teams_only_approver_decides_alone_without_four_eyes(runner, instance_id):
    change_id = propose(runner, instance_id)
    outcome = runner.approve(change_id, approver=ALICE, approvers=[ALICE])
    assert outcome.ok and outcome.state is State.APPROVED


def test_four_eyes_needs_a_second_different_approver(runner, recorder, store, instance_id):
    change_id = propose(runner, instance_id)

    first = runner.approve(change_id, approver=ALICE, approvers=APPROVERS, second_approver=True)
    assert first.ok and first.state is State.PROPOSED
    assert f"<@{CAROL}> can approve it now" in first.text
    again = runner.approve(change_id, approver=ALICE, approvers=APPROVERS, second_approver=True)
    assert again.refused and "second approver" in again.text
    assert not runner.execute(change_id).ok and recorder.mutations() == []

    second = runner.approve(change_id, approver=CAROL, approvers=APPROVERS, second_approver=True)
    assert second.state is State.APPROVED
    assert store.get_change(change_id).first_approved_by == ALICE
    assert store.get_change(change_id).decided_by == CAROL


def test_four_eyes_first_approval_for_a_window_is_recorded_with_its_time(
    runner, store, instance_id
):
    change_id = propose(runner, instance_id)
    tonight = NOW.replace(hour=22, minute=0)

    first = runner.approve(
        change_id, approver=ALICE, approvers=APPROVERS, second_approver=True, at=tonight
    )

    assert first.state is State.PROPOSED and "for its maintenance window" in first.text
    assert "never at once" in first.text
    assert store.get_change(change_id).scheduled_for == tonight
    assert not runner.execute(change_id).ok  # still waits for the second approver


def test_four_eyes_with_a_single_approver_says_to_add_one(runner, store, instance_id):
    change_id = propose(runner, instance_id)
    outcome = runner.approve(change_id, approver=ALICE, approvers=[ALICE], second_approver=True)
    assert outcome.refused and "add another approver" in outcome.text
    assert store.get_change(change_id).state is State.PROPOSED


def test_deny_snooze_and_dismiss_are_decisions_that_block_execution(runner, store, ec2):
    denied, snoozed, dismissed = (propose(runner, launch(ec2)) for _ in range(3))

    assert runner.deny(denied, by=ALICE, reason="batch job peaks on Mondays").ok
    assert runner.snooze(snoozed, by=ALICE).ok
    assert runner.dismiss(dismissed, by=CAROL, reason="being replaced").ok

    assert store.get_change(denied).state is State.DENIED
    assert store.get_change(snoozed).snoozed_until == NOW + dt.timedelta(days=30)
    assert store.get_change(dismissed).reason == "being replaced"
    for change_id in (denied, dismissed):
        outcome = runner.approve(change_id, approver=ALICE, approvers=APPROVERS)
        assert not outcome.ok and "already" in outcome.text
    assert runner.approve(snoozed, approver=ALICE, approvers=APPROVERS).ok


def test_an_outsider_cannot_deny_when_approvers_are_given(runner, instance_id):
    change_id = propose(runner, instance_id)
    outcome = runner.deny(change_id, by=MALLORY, approvers=APPROVERS)
    assert not outcome.ok and outcome.refused
    assert "approvers can deny this" in outcome.text


def test_a_change_approved_for_tonight_runs_only_when_due(recorder, store, fake_time, ec2):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, now=lambda: clock["now"])
    change_id = propose(runner, launch(ec2))
    tonight = NOW.replace(hour=22)

    outcome = runner.approve(change_id, approver=ALICE, approvers=APPROVERS, at=tonight)
    assert outcome.state is State.SCHEDULED
    assert not runner.execute(change_id).ok
    assert runner.due(NOW) == []

    clock["now"] = tonight
    assert [c.id for c in runner.due(tonight)] == [change_id]
    assert runner.execute(change_id).ok


def test_an_instance_change_due_after_its_window_is_withdrawn_and_a_late_click_says_by_whom(
    recorder, store, fake_time, ec2
):
    clock = {"now": NOW}
    runner = make_runner(recorder, store, fake_time, now=lambda: clock["now"])
    change_id = propose(runner, launch(ec2))
    tonight = NOW.replace(hour=22)
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS, at=tonight).ok

    clock["now"] = tonight + dt.timedelta(hours=4)  # 02:00: the window has ended
    outcome = runner.execute(change_id)

    assert not outcome.ok and outcome.state is State.DENIED
    assert recorder.mutations() == []  # the instance was never touched
    assert "did not run" in outcome.text and "22:00 to 02:00 UTC" in outcome.text
    late = runner.deny(change_id, by=ALICE, approvers=APPROVERS)  # a click on a stale card
    assert not late.ok and late.text.endswith("is already denied by costbot.")
    assert "<@costbot>" not in late.text  # Slack would show an unknown user


def test_a_change_approved_for_tonight_says_by_when_it_starts_in_the_zone_of_its_time(runner, ec2):
    """The card gives the start in UTC; the deadline is UTC too, and says so: a team in
    Berlin reading "starts by 01:00" would take it for its own 01:00, an hour early."""
    change_id = propose(runner, launch(ec2))
    tonight = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC)  # 22:00 in Berlin

    outcome = runner.approve(change_id, approver=ALICE, approvers=APPROVERS, at=tonight)

    assert "for 2026-11-20 21:00 UTC" in outcome.text
    assert "it starts by 01:00 UTC or not at all" in outcome.text


# --- failures and rollback --------------------------------------------------------------


def test_no_capacity_on_start_restores_the_original_type_and_starts_it(
    runner, recorder, store, ec2, instance_id
):
    failures = [client_error("InsufficientInstanceCapacity", "no m5.large capacity in us-east-1a")]

    def no_capacity_once(**_: Any) -> None:
        if failures:
            raise failures.pop()

    ec2.meta.events.register("before-call.ec2.StartInstances", no_capacity_once)
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.state is State.ROLLED_BACK
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.xlarge", "running")
    assert "InsufficientInstanceCapacity" in outcome.text
    assert "rolled it back" in outcome.text and "m5.xlarge again" in outcome.text
    assert not outcome.instance_may_be_stopped
    assert "InsufficientInstanceCapacity" in outcome.change.last_error
    assert all(c.state == "stopped" for c in recorder.calls if c.name.startswith("modify"))
    assert "change.rolled_back" in actions(store)


def test_when_even_the_rollback_fails_the_message_says_the_instance_may_be_stopped(
    runner, recorder, ec2, instance_id
):
    recorder.fail(
        "start_instances",
        client_error("InsufficientInstanceCapacity"),
        client_error("InsufficientInstanceCapacity"),
    )
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert outcome.instance_may_be_stopped
    assert "MAY BE STOPPED" in outcome.text
    assert describe(ec2, instance_id)["State"]["Name"] == "stopped"


def test_an_instance_that_never_stops_times_out_without_really_sleeping(
    runner, recorder, fake_time, instance_id
):
    change_id = approved(runner, instance_id)
    recorder.stick_after = ("stop_instances", "stopping")

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert "still stopping after 600 s" in outcome.text
    assert outcome.instance_may_be_stopped
    assert set(fake_time.sleeps) == {5}
    assert fake_time.now >= 600
    assert [c.name for c in recorder.mutations()] == ["stop_instances"]


def test_a_refused_stop_rolls_back_without_touching_anything_else(
    runner, recorder, ec2, instance_id
):
    recorder.fail("stop_instances", client_error("OperationNotPermitted", "DisableApiStop"))
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.state is State.ROLLED_BACK
    assert [c.name for c in recorder.mutations()] == ["stop_instances"]
    assert describe(ec2, instance_id)["InstanceType"] == "m5.xlarge"


def test_an_out_of_date_change_is_refused_before_touching_the_instance(
    runner, recorder, ec2, instance_id
):
    change_id = approved(runner, instance_id)
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "c5.xlarge"})

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert "now c5.xlarge, not m5.xlarge" in outcome.text
    assert recorder.mutations() == []


def test_an_auto_scaling_group_member_is_refused(runner, recorder, ec2):
    tags = [{"Key": "aws:autoscaling:groupName", "Value": "web"}]
    instance_id = launch(ec2, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert "Auto Scaling group web" in outcome.text
    assert recorder.mutations() == []


# --- crashes ----------------------------------------------------------------------------


def test_a_crash_after_the_stop_is_rolled_back_at_start_up(
    recorder, store, fake_time, ec2, instance_id
):
    first = make_runner(recorder, store, fake_time)
    change_id = approved(first, instance_id)
    recorder.fail("modify_instance_attribute", SimulatedCrash())
    with pytest.raises(SimulatedCrash):
        first.execute(change_id)
    assert store.get_change(change_id).state is State.MODIFYING
    assert describe(ec2, instance_id)["State"]["Name"] == "stopped"

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.ROLLED_BACK]
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.xlarge", "running")
    recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
    assert recovered[0]["detail"]["decision"] == "roll back"
    assert recovered[0]["detail"]["state_at_crash"] == "modifying"


def test_a_crash_after_the_type_change_is_finished_at_start_up(
    recorder, store, fake_time, ec2, instance_id
):
    first = make_runner(recorder, store, fake_time)
    change_id = approved(first, instance_id)
    recorder.fail("start_instances", SimulatedCrash())
    with pytest.raises(SimulatedCrash):
        first.execute(change_id)
    assert store.get_change(change_id).state is State.STARTING

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.DONE]
    assert "After a restart I finished" in outcomes[0].text
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "running")
    recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
    assert recovered[0]["detail"]["decision"] == "finish"
    assert store.list_changes(states=IN_FLIGHT) == []


# --- revert -----------------------------------------------------------------------------


def test_revert_puts_the_original_type_back(runner, recorder, store, ec2, instance_id):
    change_id = approved(runner, instance_id)
    assert runner.execute(change_id).ok

    outcome = runner.revert(change_id, by=CAROL)

    assert outcome.ok, outcome.text
    assert outcome.state is State.REVERTED
    assert outcome.change.direction is Direction.REVERT
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.xlarge", "running")
    modifies = [c for c in recorder.calls if c.name == "modify_instance_attribute"]
    assert [(c.params["InstanceType"]["Value"], c.state) for c in modifies] == [
        ("m5.large", "stopped"),
        ("m5.xlarge", "stopped"),
    ]
    assert store.audit_records(limit=1)[0]["actor"] == CAROL
    assert not runner.revert(change_id, by=CAROL).ok


def test_a_failed_revert_leaves_the_change_done(runner, recorder, ec2, instance_id):
    change_id = approved(runner, instance_id)
    runner.execute(change_id)
    recorder.fail("start_instances", client_error("InsufficientInstanceCapacity"))

    outcome = runner.revert(change_id, by=CAROL)

    assert outcome.state is State.DONE
    assert "revert failed" in outcome.change.last_error
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.large", "running")


# --- dry runs ---------------------------------------------------------------------------


def test_a_dry_run_sends_dry_run_on_every_call_and_changes_nothing(
    recorder, store, fake_time, ec2, instance_id
):
    runner = make_runner(recorder, store, fake_time, dry_run=True)
    change_id = approved(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert outcome.text.startswith("Dry run: I would have stopped")
    assert "Nothing was changed" in outcome.text
    assert outcome.state is State.DONE and outcome.change.dry_run
    mutations = recorder.mutations()
    assert [c.name for c in mutations] == [
        "stop_instances",
        "modify_instance_attribute",
        "start_instances",
    ]
    assert all(c.params.get("DryRun") is True for c in mutations)
    instance = describe(ec2, instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("m5.xlarge", "running")
    ec2_records = [r for r in store.audit_records() if r["action"].startswith("ec2.")]
    assert {r["detail"]["result"] for r in ec2_records} == {"DryRunOperation"}
    assert all(r["dry_run"] == 1 for r in ec2_records)
    assert not runner.revert(change_id, by=ALICE).ok  # nothing to revert


def test_a_dry_run_without_permission_names_the_missing_action(store, fake_time):
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    instance_id = "i-0123456789abcdef0"
    running = {
        "Reservations": [
            {
                "Instances": [
                    {
                        "InstanceId": instance_id,
                        "InstanceType": "m5.xlarge",
                        "State": {"Code": 16, "Name": "running"},
                    }
                ]
            }
        ]
    }
    with Stubber(client) as stubber:
        stubber.add_response("describe_instances", running, {"InstanceIds": [instance_id]})
        stubber.add_client_error(
            "stop_instances",
            service_error_code="UnauthorizedOperation",
            expected_params={"InstanceIds": [instance_id], "DryRun": True},
        )
        runner = make_runner(client, store, fake_time, dry_run=True)
        change_id = approved(runner, instance_id)

        outcome = runner.execute(change_id)

        stubber.assert_no_pending_responses()
    assert not outcome.ok
    assert "not allowed to call ec2:StopInstances" in outcome.text
    assert "Add ec2:StopInstances to its IAM policy" in outcome.text
    assert outcome.state is State.FAILED


def test_dry_run_operation_from_the_stubbed_api_counts_as_success(store, fake_time):
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    instance_id = "i-0123456789abcdef0"
    stopped = {
        "Reservations": [
            {
                "Instances": [
                    {
                        "InstanceId": instance_id,
                        "InstanceType": "m5.xlarge",
                        "State": {"Code": 80, "Name": "stopped"},
                    }
                ]
            }
        ]
    }
    with Stubber(client) as stubber:
        stubber.add_response("describe_instances", stopped, {"InstanceIds": [instance_id]})
        stubber.add_client_error(
            "modify_instance_attribute",
            service_error_code="DryRunOperation",
            expected_params={
                "InstanceId": instance_id,
                "InstanceType": {"Value": "m5.large"},
                "DryRun": True,
            },
        )
        runner = make_runner(client, store, fake_time, dry_run=True)
        outcome = runner.execute(approved(runner, instance_id))
        stubber.assert_no_pending_responses()
    assert outcome.ok
    assert "left it stopped, as it was" in outcome.text


# --- stopping an idle instance ----------------------------------------------------------


def approved_stop(runner: ChangeRunner, instance_id: str) -> int:
    recommendation = Recommendation(
        instance=Instance(instance_id, "m5.xlarge", "running", REGION, account_id=ACCOUNT),
        finding=Finding.IDLE,
        current_type="m5.xlarge",
        recommended_type="",
        current_hourly=Decimal("0.192"),
        recommended_hourly=Decimal("0"),
        monthly_saving=Decimal("140.16"),
        risk=Risk.LOW,
        reason="CPU p95 was 0.4% and network 2 KB/s over 14 days.",
        action="stop",
    )
    request = ChangeRequest.from_recommendation(recommendation, requested_by=BOB, team="nlp")
    change = runner.propose(request)
    assert change.kind is Kind.STOP and change.label == f"`{instance_id}` (stop: idle m5.xlarge)"
    assert runner.approve(change.id, approver=ALICE, approvers=APPROVERS).ok
    return change.id


def state_of(ec2, instance_id: str) -> tuple[str, str]:
    instance = describe(ec2, instance_id)
    return instance["InstanceType"], instance["State"]["Name"]


def test_an_approved_stop_stops_the_instance_and_keeps_its_type(
    runner, recorder, store, ec2, instance_id
):
    change_id = approved_stop(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert outcome.state is State.DONE
    assert [c.name for c in recorder.mutations()] == ["stop_instances"]
    assert state_of(ec2, instance_id) == ("m5.xlarge", "stopped")
    assert "is stopped" in outcome.text and "$140.16/month" in outcome.text
    done = store.audit_records(limit=1)[0]
    assert done["action"] == "change.done" and done["detail"]["kind"] == "stop"


def test_reverting_a_stop_starts_the_instance_again(runner, recorder, ec2, instance_id):
    change_id = approved_stop(runner, instance_id)
    runner.execute(change_id)

    outcome = runner.revert(change_id, by=CAROL)

    assert outcome.ok, outcome.text
    assert outcome.state is State.REVERTED
    assert "running again" in outcome.text
    assert [c.name for c in recorder.mutations()] == ["stop_instances", "start_instances"]
    assert state_of(ec2, instance_id) == ("m5.xlarge", "running")


def test_a_start_without_capacity_leaves_the_stop_done_and_says_so(
    runner, recorder, ec2, instance_id
):
    change_id = approved_stop(runner, instance_id)
    runner.execute(change_id)
    recorder.fail("start_instances", client_error("InsufficientInstanceCapacity", "No m5.xlarge"))

    outcome = runner.revert(change_id, by=CAROL)

    assert not outcome.ok
    assert outcome.state is State.DONE  # still stopped, still revertable
    assert "Starting" in outcome.text and "InsufficientInstanceCapacity" in outcome.text
    assert state_of(ec2, instance_id) == ("m5.xlarge", "stopped")


def test_a_failed_stop_leaves_the_instance_running(runner, recorder, ec2, instance_id):
    change_id = approved_stop(runner, instance_id)
    recorder.fail("stop_instances", client_error("UnauthorizedOperation", operation="Stop"))

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.state is State.ROLLED_BACK
    assert state_of(ec2, instance_id) == ("m5.xlarge", "running")


def test_an_instance_already_stopped_is_not_touched(runner, recorder, ec2, instance_id):
    ec2.stop_instances(InstanceIds=[instance_id])
    change_id = approved_stop(runner, instance_id)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert "already stopped" in outcome.text
    assert recorder.mutations() == []


def test_a_dry_run_stop_asks_ec2_with_dry_run_and_changes_nothing(
    recorder, store, fake_time, ec2, instance_id
):
    runner = make_runner(recorder, store, fake_time, dry_run=True)
    change_id = approved_stop(runner, instance_id)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert outcome.text.startswith(f"Dry run: I would have stopped `{instance_id}`")
    assert [(c.name, c.params.get("DryRun")) for c in recorder.mutations()] == [
        ("stop_instances", True)
    ]
    assert state_of(ec2, instance_id) == ("m5.xlarge", "running")


@pytest.mark.parametrize("direction", ["forward", "revert"])
@pytest.mark.parametrize("ec2_got_the_call", [False, True])
def test_a_crash_in_the_middle_is_finished_at_start_up(
    direction, ec2_got_the_call, recorder, store, fake_time, ec2, instance_id
):
    first = make_runner(recorder, store, fake_time)
    change_id = approved_stop(first, instance_id)
    if direction == "revert":
        assert first.execute(change_id).ok
    call = "stop_instances" if direction == "forward" else "start_instances"
    original = getattr(recorder.client, call)

    def dies(**params):  # the process dies just before, or just after, EC2 hears the call
        if ec2_got_the_call:
            original(**params)
        raise SimulatedCrash()

    recorder.client = _Patched(recorder.client, call, dies)
    with pytest.raises(SimulatedCrash):
        first.execute(change_id) if direction == "forward" else first.revert(change_id, by=CAROL)
    assert store.get_change(change_id).state in IN_FLIGHT
    recorder.client = recorder.client.inner

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    wanted = (State.DONE, "stopped") if direction == "forward" else (State.REVERTED, "running")
    assert [o.state for o in outcomes] == [wanted[0]]
    assert state_of(ec2, instance_id) == ("m5.xlarge", wanted[1])
    assert "After a restart I finished" in outcomes[0].text
    recovered = [r for r in store.audit_records() if r["action"] == "change.recovered"]
    assert recovered[0]["detail"]["decision"] == "finish"


class _Patched:
    """A client with one method replaced."""

    def __init__(self, inner, name, replacement) -> None:
        self.inner, self._name, self._replacement = inner, name, replacement

    def __getattr__(self, name):
        return self._replacement if name == self._name else getattr(self.inner, name)

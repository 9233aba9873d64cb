"""Carrying out SageMaker changes on moto's SageMaker, with a real Store, never really sleeping:
deleting and re-creating an endpoint, setting a variant's instance count, stopping and
starting a notebook instance. (Switching an endpoint config needs ``UpdateEndpoint``, which
moto lacks: ``test_sagemaker_config_switch.py`` covers it with a Stubber.)

moto settles at once (a deleted endpoint is gone, a stopped notebook is ``Stopped``), so the
tests script the in-between statuses SageMaker really reports (``Deleting``, ``Updating``)
where the waiting matters.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bot.demo.moto_sagemaker import install_update_endpoint
from bot.store import Store
from engines.changes.models import ChangeRequest, Direction, Kind, State
from engines.changes.runner import ChangeRunner
from engines.sagemaker.models import Finding, Risk, SageMakerAction, SageMakerRecommendation
from tests.engines.test_changes import FakeTime, SimulatedCrash

NOW = dt.datetime(2026, 12, 6, 15, 0, tzinfo=dt.UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/fraud:1"
ALICE, BOB = "UALICE", "UBOB"
APPROVERS = (ALICE,)
MUTATING = {
    "delete_endpoint",
    "create_endpoint",
    "update_endpoint_weights_and_capacities",
    "create_endpoint_config",
    "update_endpoint",
    "delete_endpoint_config",
    "stop_notebook_instance",
    "start_notebook_instance",
}
DESCRIBES = {
    "describe_endpoint": "EndpointStatus",
    "describe_notebook_instance": "NotebookInstanceStatus",
}


@dataclass
class Call:
    name: str
    params: dict[str, Any]


class RecordingSageMaker:
    """Wraps a boto3 SageMaker client: records every call, raises queued errors instead of
    making chosen calls, and reports scripted statuses (what SageMaker shows while it works)
    from Describe calls after a chosen call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[Call] = []
        self.failures: dict[str, list[BaseException | None]] = {}
        self.scripts: dict[str, list[str]] = {}  # after this call: statuses to report
        self.statuses: list[str] = []
        self.crash_after: set[str] = set()  # the process dies just after these calls
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def fail(self, name: str, *errors: BaseException | None) -> None:
        """The next calls of ``name`` raise these errors in turn (None: that call works)."""
        self.failures.setdefault(name, []).extend(errors)

    def after(self, name: str, *statuses: str) -> None:
        """After ``name`` is called, Describe reports ``statuses`` one per call first."""
        self.scripts[name] = list(statuses)

    def mutations(self) -> list[Call]:
        return [call for call in self.calls if call.name in MUTATING]

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**params: Any) -> Any:
            with self._lock:
                self.calls.append(Call(name, params))
                queued = self.failures.get(name)
                error = queued.pop(0) if queued else None
                scripted = self.statuses.pop(0) if name in DESCRIBES and self.statuses else ""
            if error is not None:
                raise error
            if scripted:
                faked = copy.deepcopy(self._last[name])
                faked[DESCRIBES[name]] = scripted
                return faked
            response = method(**params)
            if name in DESCRIBES:
                self._last[name] = response
            self.statuses.extend(self.scripts.pop(name, []))
            if name in self.crash_after:
                raise SimulatedCrash()
            return response

        return call


@pytest.fixture(scope="module")
def moto_sagemaker() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def sm(moto_sagemaker) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def recorder(sm) -> RecordingSageMaker:
    return RecordingSageMaker(sm)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "x.db")


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_runner(client: Any, store: Store, fake_time: FakeTime, **options: Any) -> ChangeRunner:
    def no_ec2(account: str, region: str) -> Any:
        raise AssertionError("a SageMaker change asked for an EC2 client")

    return ChangeRunner(
        no_ec2,
        store,
        audit=store.record_audit,
        dry_run=options.pop("dry_run", False),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        poll_s=5,
        timeout_s=600,
        now=lambda: NOW,
        sagemaker_client_for=options.pop("sagemaker_client_for", lambda account, region: client),
        **options,
    )


@pytest.fixture
def runner(recorder, store, fake_time) -> ChangeRunner:
    return make_runner(recorder, store, fake_time)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_endpoint(sm: Any, *, count: int = 4, **tags: str) -> tuple[str, str]:
    """An InService endpoint on ml.m5.xlarge with ``count`` instances: (name, config)."""
    name = unique("fraud")
    sm.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": f"{name}-model",
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.xlarge",
        "InitialVariantWeight": 1.0,
    }
    sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[variant])
    tag_list = [{"Key": key, "Value": value} for key, value in tags.items()]
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", Tags=tag_list)
    return name, f"{name}-config"


def make_notebook(sm: Any) -> str:
    name = unique("lab")
    sm.create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.xlarge", RoleArn=ROLE
    )
    return name


def recommendation(
    action: SageMakerAction, name: str, config: str = "", **extra: Any
) -> SageMakerRecommendation:
    kind = "notebook" if action is SageMakerAction.STOP_NOTEBOOK else "endpoint"
    resource = "notebook-instance" if kind == "notebook" else "endpoint"
    fields: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name}",
        "finding": Finding.IDLE,
        "action": action,
        "current_type": "ml.t3.xlarge" if kind == "notebook" else "ml.m5.xlarge",
        "recommended_type": "",
        "current_count": 4,
        "recommended_count": 0,
        "current_hourly": Decimal("0.23"),
        "recommended_hourly": None,
        "monthly_saving": Decimal("672.80"),
        "risk": Risk.LOW,
        "reason": "No invocations in 14 days.",
        "risk_note": "Revert re-creates it.",
        "variant": "AllTraffic" if kind == "endpoint" else "",
        "team": "fraud-detection",
        "config_name": config,
    }
    return SageMakerRecommendation(**{**fields, **extra})


def approved(runner: ChangeRunner, rec: SageMakerRecommendation) -> int:
    request = ChangeRequest.from_sagemaker(rec, requested_by=BOB, team="fraud-detection")
    change_id = runner.propose(request).id
    assert runner.approve(change_id, approver=ALICE, approvers=APPROVERS).ok
    return change_id


def delete_change(runner: ChangeRunner, name: str, config: str) -> int:
    return approved(runner, recommendation(SageMakerAction.DELETE_ENDPOINT, name, config))


def count_change(
    runner: ChangeRunner, name: str, config: str, before: int = 4, after: int = 2
) -> int:
    rec = recommendation(
        SageMakerAction.SET_INSTANCE_COUNT,
        name,
        config,
        finding=Finding.OVER_PROVISIONED,
        current_count=before,
        recommended_count=after,
        reason="At most 40 invocations per instance per minute over 14 days.",
    )
    return approved(runner, rec)


def notebook_change(runner: ChangeRunner, name: str) -> int:
    return approved(runner, recommendation(SageMakerAction.STOP_NOTEBOOK, name))


def endpoint_of(sm: Any, name: str) -> dict[str, Any] | None:
    try:
        return sm.describe_endpoint(EndpointName=name)
    except ClientError:
        return None


def tags_of(sm: Any, name: str) -> dict[str, str]:
    arn = sm.describe_endpoint(EndpointName=name)["EndpointArn"]
    return {tag["Key"]: tag["Value"] for tag in sm.list_tags(ResourceArn=arn)["Tags"]}


def count_of(sm: Any, name: str) -> int:
    return sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentInstanceCount"]


def notebook_status(sm: Any, name: str) -> str:
    return sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]


def audited(store: Store, prefix: str = "") -> list[dict[str, Any]]:
    records = reversed(store.audit_records(limit=1000))
    return [r for r in records if r["action"].startswith(prefix)]


def actions(store: Store) -> list[str]:
    return [record["action"] for record in audited(store)]


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# --- deleting an idle endpoint, and re-creating it ----------------------------------------


def test_an_idle_endpoint_is_deleted_and_its_revert_recreates_it_with_its_tags(
    runner, recorder, store, sm
):
    name, config = make_endpoint(sm, team="fraud", env="dev", model_name="fraud-v1")
    change_id = delete_change(runner, name, config)

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert outcome.state is State.DONE
    assert endpoint_of(sm, name) is None
    assert sm.describe_endpoint_config(EndpointConfigName=config)["EndpointConfigName"] == config
    assert sm.describe_model(ModelName=f"{name}-model")["ModelName"] == f"{name}-model"
    assert f"endpoint `{name}` (ml.m5.xlarge) is deleted" in outcome.text
    assert f"endpoint config `{config}` and model are kept" in outcome.text
    assert "$672.80/month" in outcome.text
    assert "instance type" not in outcome.text and "started again" not in outcome.text
    assert [c.name for c in recorder.mutations()] == ["delete_endpoint"]

    reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.ok, reverted.text
    assert reverted.state is State.REVERTED
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", config)
    assert tags_of(sm, name) == {"team": "fraud", "env": "dev", "model_name": "fraud-v1"}
    assert f"endpoint `{name}` is back: re-created from `{config}` with its tags" in reverted.text
    assert [c.name for c in recorder.mutations()] == ["delete_endpoint", "create_endpoint"]


def test_every_sagemaker_call_is_audited_with_its_parameters_and_result(
    runner, recorder, store, sm
):
    name, config = make_endpoint(sm, team="fraud")
    change_id = delete_change(runner, name, config)
    runner.execute(change_id)
    runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert actions(store) == [
        "change.proposed",
        "change.approved",
        "change.forward.started",
        "sagemaker.DeleteEndpoint",
        "change.done",
        "change.revert.started",
        "sagemaker.CreateEndpoint",
        "change.reverted",
    ]
    calls = audited(store, "sagemaker.")
    assert len(calls) == len(recorder.mutations())
    delete, create = (call["detail"] for call in calls)
    assert delete["params"] == {"EndpointName": name}
    assert delete["tags"] == {"team": "fraud"}  # what the revert re-applies
    assert delete["result"] == "ok"
    assert create["params"] == {
        "EndpointName": name,
        "EndpointConfigName": config,
        "Tags": [{"Key": "team", "Value": "fraud"}],
    }
    assert all(call["target"] == f"{ACCOUNT}/{REGION}/{name}" for call in calls)


def test_the_delete_waits_while_sagemaker_says_deleting_without_really_sleeping(
    runner, recorder, sm, fake_time
):
    name, config = make_endpoint(sm)
    change_id = delete_change(runner, name, config)
    recorder.after("delete_endpoint", "Deleting", "Deleting")

    outcome = runner.execute(change_id)

    assert outcome.state is State.DONE, outcome.text
    assert fake_time.sleeps == [5, 5]


def test_an_endpoint_moved_to_another_config_is_not_deleted(runner, recorder, store, sm):
    name, config = make_endpoint(sm)
    change_id = delete_change(runner, name, config)
    other = unique("other-config")
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": f"{name}-model",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=other, ProductionVariants=[variant])
    sm.delete_endpoint(EndpointName=name)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=other)  # redeployed meanwhile

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.state is State.FAILED
    assert f"now uses endpoint config `{other}`, not `{config}`" in outcome.text
    assert "out of date" in outcome.text
    assert recorder.mutations() == []
    assert endpoint_of(sm, name) is not None
    assert "change.invalid" in actions(store)


def test_an_endpoint_whose_config_is_gone_is_not_deleted(runner, recorder, sm):
    name, config = make_endpoint(sm)
    change_id = delete_change(runner, name, config)
    sm.delete_endpoint_config(EndpointConfigName=config)

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert "no longer exists, so a revert could not re-create the endpoint" in outcome.text
    assert recorder.mutations() == []


def test_a_revert_refuses_when_an_endpoint_of_that_name_exists_again(runner, recorder, sm):
    name, config = make_endpoint(sm)
    change_id = delete_change(runner, name, config)
    assert runner.execute(change_id).ok
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)  # someone re-made it

    outcome = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert not outcome.ok
    assert outcome.state is State.DONE
    assert (
        f"an endpoint named `{name}` exists again (InService); I will not replace it"
        in outcome.text
    )
    assert [c.name for c in recorder.mutations()] == ["delete_endpoint"]


def test_a_revert_refuses_when_the_kept_config_was_deleted(runner, recorder, sm):
    name, config = make_endpoint(sm)
    change_id = delete_change(runner, name, config)
    assert runner.execute(change_id).ok
    sm.delete_endpoint_config(EndpointConfigName=config)

    outcome = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert outcome.state is State.DONE
    assert f"its endpoint config `{config}` was deleted, so I cannot re-create" in outcome.text
    assert [c.name for c in recorder.mutations()] == ["delete_endpoint"]


def test_a_delete_that_ends_failed_is_put_back_in_service(runner, recorder, store, sm):
    name, config = make_endpoint(sm, team="fraud")
    change_id = delete_change(runner, name, config)
    recorder.after("delete_endpoint", "Deleting", "Failed")

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.state is State.ROLLED_BACK
    assert "Deleting endpoint" in outcome.text
    assert f"I put it back: it is in service on endpoint config `{config}`" in outcome.text
    assert [c.name for c in recorder.mutations()] == ["delete_endpoint", "create_endpoint"]
    assert tags_of(sm, name) == {"team": "fraud"}
    assert "change.rolled_back" in actions(store)


# --- setting a variant's instance count ---------------------------------------------------


def test_an_over_provisioned_endpoint_gets_fewer_instances_and_its_revert_puts_them_back(
    runner, recorder, store, sm, fake_time
):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(runner, name, config)
    recorder.after("update_endpoint_weights_and_capacities", "Updating")

    outcome = runner.execute(change_id)

    assert outcome.state is State.DONE, outcome.text
    assert count_of(sm, name) == 2
    assert fake_time.sleeps == [5]
    assert (
        f"endpoint `{name}` is now running 2 instances in variant AllTraffic (was 4 instances"
        in outcome.text
    )
    assert recorder.mutations()[0].params == {
        "EndpointName": name,
        "DesiredWeightsAndCapacities": [{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    }

    reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert count_of(sm, name) == 4
    assert "running 4 instances in variant AllTraffic again" in reverted.text
    assert [r["action"] for r in audited(store, "sagemaker.")] == [
        "sagemaker.UpdateEndpointWeightsAndCapacities"
    ] * 2


def test_a_count_changed_since_the_recommendation_is_refused(runner, recorder, sm):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(runner, name, config)
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}],
    )

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert (
        "variant AllTraffic now runs 3 instances, not 4; the recommendation is out of date"
        in outcome.text
    )
    assert recorder.mutations() == []


def test_an_update_that_fails_half_way_is_rolled_back_to_the_original_count(
    runner, recorder, store, sm
):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(runner, name, config)
    recorder.after("update_endpoint_weights_and_capacities", "Updating", "Failed")

    outcome = runner.execute(change_id)

    assert outcome.state is State.ROLLED_BACK, outcome.text
    assert count_of(sm, name) == 4
    counts = [
        c.params["DesiredWeightsAndCapacities"][0]["DesiredInstanceCount"]
        for c in recorder.mutations()
    ]
    assert counts == [2, 4]
    assert f"Changing endpoint `{name}` failed" in outcome.text
    assert "running 4 instances in variant AllTraffic, as it was before" in outcome.text
    assert store.get_change(change_id).last_error.startswith(f"endpoint `{name}` is Failed")


def test_when_the_rollback_fails_too_the_text_is_loud_and_names_the_sagemaker_console(
    runner, recorder, sm
):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(runner, name, config)
    recorder.after("update_endpoint_weights_and_capacities", "Failed")
    limit = client_error(
        "ResourceLimitExceeded", "account limit", "UpdateEndpointWeightsAndCapacities"
    )
    recorder.fail("update_endpoint_weights_and_capacities", None, limit)  # the rollback fails

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert outcome.instance_may_be_stopped
    assert outcome.text.startswith(":rotating_light:")
    assert f"Endpoint `{name}` MAY BE IN A BROKEN STATE RIGHT NOW" in outcome.text
    assert "it should be running 4 instances in variant AllTraffic" in outcome.text
    assert "SageMaker console" in outcome.text and "EC2" not in outcome.text


# --- stopping a notebook instance ---------------------------------------------------------


def test_a_notebook_is_stopped_and_its_revert_starts_it(runner, recorder, store, sm):
    name = make_notebook(sm)
    change_id = notebook_change(runner, name)

    outcome = runner.execute(change_id)

    assert outcome.state is State.DONE, outcome.text
    assert notebook_status(sm, name) == "Stopped"
    assert (
        f"notebook instance `{name}` (ml.t3.xlarge) is stopped; its storage volume and files "
        "are kept" in outcome.text
    )

    reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert notebook_status(sm, name) == "InService"
    assert f"reverted notebook instance `{name}`; it is in service again" in reverted.text
    assert [c.name for c in recorder.mutations()] == [
        "stop_notebook_instance",
        "start_notebook_instance",
    ]
    assert [r["action"] for r in audited(store, "sagemaker.")] == [
        "sagemaker.StopNotebookInstance",
        "sagemaker.StartNotebookInstance",
    ]


def test_a_notebook_already_stopped_is_not_touched(runner, recorder, sm):
    name = make_notebook(sm)
    change_id = notebook_change(runner, name)
    sm.stop_notebook_instance(NotebookInstanceName=name)

    outcome = runner.execute(change_id)

    assert outcome.state is State.FAILED
    assert "the notebook instance is already Stopped; there is nothing to stop" in outcome.text
    assert recorder.mutations() == []


def test_a_notebook_that_does_not_start_again_leaves_the_stop_done(runner, recorder, sm):
    name = make_notebook(sm)
    change_id = notebook_change(runner, name)
    assert runner.execute(change_id).ok
    recorder.fail(
        "start_notebook_instance",
        client_error("ResourceLimitExceeded", "no ml.t3.xlarge capacity", "StartNotebookInstance"),
    )

    outcome = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert not outcome.ok
    assert outcome.state is State.DONE
    assert f"Starting notebook instance `{name}` failed" in outcome.text
    assert "I put it back: it is stopped, as it was before" in outcome.text
    assert notebook_status(sm, name) == "Stopped"


def test_a_notebook_that_never_stops_times_out_after_an_hour_and_is_started_again(
    runner, recorder, sm, fake_time
):
    name = make_notebook(sm)
    change_id = notebook_change(runner, name)
    polls = 3600 // 5 + 1  # SageMaker's hour, not the runner's ten EC2 minutes
    recorder.after("stop_notebook_instance", *["Stopping"] * polls)

    outcome = runner.execute(change_id)

    assert outcome.state is State.ROLLED_BACK, outcome.text
    assert f"notebook instance `{name}` was still Stopping after 3600 s" in outcome.text
    assert sum(fake_time.sleeps) == 3600
    assert [c.name for c in recorder.mutations()] == [
        "stop_notebook_instance",
        "start_notebook_instance",
    ]
    assert notebook_status(sm, name) == "InService"
    assert "I put it back: it is in service, as it was before" in outcome.text


# --- dry runs --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Kind.ENDPOINT_DELETE, Kind.ENDPOINT_COUNT, Kind.NOTEBOOK_STOP])
def test_a_dry_run_only_looks_says_what_it_would_call_and_changes_nothing(
    kind, recorder, store, sm, fake_time
):
    runner = make_runner(recorder, store, fake_time, dry_run=True)
    if kind is Kind.NOTEBOOK_STOP:
        name = make_notebook(sm)
        change_id, would = notebook_change(runner, name), "sagemaker:StopNotebookInstance"
    else:
        name, config = make_endpoint(sm, count=4, team="fraud")
        change = delete_change if kind is Kind.ENDPOINT_DELETE else count_change
        change_id = change(runner, name, config)
        would = {
            Kind.ENDPOINT_DELETE: "sagemaker:DeleteEndpoint",
            Kind.ENDPOINT_COUNT: "sagemaker:UpdateEndpointWeightsAndCapacities",
        }[kind]

    outcome = runner.execute(change_id)

    assert outcome.ok, outcome.text
    assert (outcome.state, outcome.change.dry_run) == (State.DONE, True)
    assert recorder.mutations() == []
    assert {c.name for c in recorder.calls} <= {
        "describe_endpoint",
        "describe_endpoint_config",
        "list_tags",
        "describe_notebook_instance",
    }
    assert would in outcome.text
    assert "SageMaker has no dry-run mode" in outcome.text
    assert "Permissions were not checked by this dry run" in outcome.text
    if kind is Kind.NOTEBOOK_STOP:
        assert notebook_status(sm, name) == "InService"
    else:
        assert count_of(sm, name) == 4
    done = audited(store, "change.dry_run.done")[0]
    assert done["dry_run"] and not done["detail"]["permissions_checked"]
    assert audited(store, "sagemaker.") == []


# --- crashes and recovery -------------------------------------------------------------


def test_a_crash_before_the_delete_call_leaves_the_endpoint_serving(recorder, store, sm, fake_time):
    name, config = make_endpoint(sm)
    change_id = delete_change(make_runner(recorder, store, fake_time), name, config)
    recorder.fail("delete_endpoint", SimulatedCrash())
    with pytest.raises(SimulatedCrash):
        make_runner(recorder, store, fake_time).execute(change_id)
    assert store.get_change(change_id).state is State.STOPPING

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.ROLLED_BACK]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    recovered = audited(store, "change.recovered")[0]["detail"]
    assert (recovered["decision"], recovered["state_at_crash"]) == ("roll back", "stopping")
    assert "a restart interrupted the change" in outcomes[0].text


def test_a_crash_after_the_delete_call_is_finished_and_the_revert_still_has_the_tags(
    recorder, store, sm, fake_time
):
    name, config = make_endpoint(sm, team="fraud", env="dev")
    change_id = delete_change(make_runner(recorder, store, fake_time), name, config)
    recorder.after("delete_endpoint", "Deleting")
    recorder.crash_after = {"delete_endpoint"}
    with pytest.raises(SimulatedCrash):
        make_runner(recorder, store, fake_time).execute(change_id)
    recorder.crash_after = set()
    assert store.get_change(change_id).tags == {"team": "fraud", "env": "dev"}

    restarted = make_runner(recorder, store, fake_time)
    outcomes = restarted.recover(NOW)

    assert [o.state for o in outcomes] == [State.DONE]
    assert outcomes[0].text.startswith("After a restart I finished: ")
    assert audited(store, "change.recovered")[0]["detail"]["decision"] == "finish"
    assert endpoint_of(sm, name) is None

    reverted = restarted.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert tags_of(sm, name) == {"team": "fraud", "env": "dev"}


def test_a_crash_while_the_count_updates_is_finished_once_sagemaker_is_done(
    recorder, store, sm, fake_time
):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(make_runner(recorder, store, fake_time), name, config)
    recorder.after("update_endpoint_weights_and_capacities", "Updating")
    recorder.crash_after = {"update_endpoint_weights_and_capacities"}
    with pytest.raises(SimulatedCrash):
        make_runner(recorder, store, fake_time).execute(change_id)
    recorder.crash_after = set()
    assert store.get_change(change_id).state is State.MODIFYING

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.DONE], outcomes[0].text
    assert count_of(sm, name) == 2
    detail = audited(store, "change.recovered")[0]["detail"]
    assert (detail["decision"], detail["found"]) == ("finish", "InService with 2 instances")


def test_a_crash_while_a_notebook_starts_again_is_finished(recorder, store, sm, fake_time):
    name = make_notebook(sm)
    runner = make_runner(recorder, store, fake_time)
    change_id = notebook_change(runner, name)
    assert runner.execute(change_id).ok
    recorder.after("start_notebook_instance", "Pending", "Pending")
    recorder.crash_after = {"start_notebook_instance"}
    with pytest.raises(SimulatedCrash):
        make_runner(recorder, store, fake_time).revert(change_id, by=ALICE, approvers=APPROVERS)
    recorder.crash_after = set()
    assert store.get_change(change_id).state is State.STARTING

    outcomes = make_runner(recorder, store, fake_time).recover(NOW)

    assert [o.state for o in outcomes] == [State.REVERTED], outcomes[0].text
    assert notebook_status(sm, name) == "InService"
    assert fake_time.sleeps == [5]  # waited out "Pending"
    detail = audited(store, "change.recovered")[0]["detail"]
    assert (detail["decision"], detail["state_at_crash"]) == ("finish", "starting")


# --- claiming, access, and the stored columns ------------------------------------------


def test_of_five_simultaneous_executions_exactly_one_changes_the_count(runner, recorder, store, sm):
    name, config = make_endpoint(sm, count=4)
    change_id = count_change(runner, name, config)
    barrier = threading.Barrier(5)
    outcomes = []

    def execute() -> None:
        barrier.wait()
        outcomes.append(runner.execute(change_id))

    threads = [threading.Thread(target=execute) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(o.ok for o in outcomes) == [False] * 4 + [True]
    assert [c.name for c in recorder.mutations()] == ["update_endpoint_weights_and_capacities"]
    assert all(
        "is already done" in o.text or "being carried out" in o.text for o in outcomes if not o.ok
    )
    assert store.get_change(change_id).state is State.DONE
    assert len(audited(store, "change.forward.started")) == 1


def test_without_sagemaker_access_a_change_waits_and_nothing_is_touched(
    recorder, store, sm, fake_time
):
    name, config = make_endpoint(sm)
    runner = ChangeRunner(
        lambda account, region: None,
        store,
        audit=store.record_audit,
        dry_run=False,
        now=lambda: NOW,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    change_id = delete_change(runner, name, config)

    outcome = runner.execute(change_id)

    assert not outcome.ok
    assert outcome.text == "costbot has no SageMaker access configured."
    assert store.get_change(change_id).state is State.APPROVED
    assert endpoint_of(sm, name) is not None


def test_another_change_in_flight_on_the_endpoint_makes_this_one_wait(runner, recorder, store, sm):
    name, config = make_endpoint(sm, count=4)
    first = count_change(runner, name, config)
    second = delete_change(runner, name, config)
    assert store.transition(first, expected={State.APPROVED}, new=State.MODIFYING)

    outcome = runner.execute(second)

    assert outcome.text == f"change {first} is being carried out on the same resource."
    assert store.get_change(second).state is State.APPROVED
    assert recorder.mutations() == []


def test_a_change_in_flight_elsewhere_under_the_same_name_does_not_hold_this_one(
    runner, recorder, store, sm
):
    # Names are unique only per account, region and kind of resource: another account's
    # endpoint, or a notebook instance, may be called the same.
    name, config = make_endpoint(sm, count=4)
    elsewhere = recommendation(
        SageMakerAction.SET_INSTANCE_COUNT, name, config, current_count=4, recommended_count=2,
        arn=f"arn:aws:sagemaker:eu-west-1:210987654321:endpoint/{name}",
    )  # fmt: skip
    other_account = approved(runner, elsewhere)
    notebook = approved(runner, recommendation(SageMakerAction.STOP_NOTEBOOK, name))
    assert store.transition(other_account, expected={State.APPROVED}, new=State.MODIFYING)
    assert store.transition(notebook, expected={State.APPROVED}, new=State.STOPPING)
    change_id = count_change(runner, name, config)

    outcome = runner.execute(change_id)

    assert outcome.state is State.DONE, outcome.text
    assert count_of(sm, name) == 2


def test_reverting_a_type_switch_keeps_the_instance_count_it_runs_now(runner, recorder, store, sm):
    # The endpoint was made with 4 instances and set to 2 since (a done count change); a
    # type switch then runs 2 on the smaller type. Reverting the switch puts the type back,
    # not the 4 instances the original endpoint config was made with.
    install_update_endpoint()  # moto lacks UpdateEndpoint: the demo's stand-in
    name, config = make_endpoint(sm, count=4)
    assert runner.execute(count_change(runner, name, config, before=4, after=2)).ok
    rec = recommendation(
        SageMakerAction.SWITCH_ENDPOINT_CONFIG, name, config,
        finding=Finding.OVER_PROVISIONED, current_count=2,
        recommended_type="ml.m5.large", current_type="ml.m5.xlarge",
    )  # fmt: skip
    switch = approved(runner, rec)
    assert runner.execute(switch).ok
    assert count_of(sm, name) == 2

    reverted = runner.revert(switch, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config
    assert count_of(sm, name) == 2


def test_a_type_switch_reverts_even_after_someone_deleted_the_config_it_made(
    runner, recorder, store, sm
):
    # SageMaker lets a config in use be deleted (the endpoint keeps running); tidying up
    # costbot's new config must not make the revert impossible: it needs only the kept one.
    install_update_endpoint()  # moto lacks UpdateEndpoint: the demo's stand-in
    name, config = make_endpoint(sm, count=2)
    rec = recommendation(
        SageMakerAction.SWITCH_ENDPOINT_CONFIG, name, config,
        finding=Finding.OVER_PROVISIONED, current_count=2,
        recommended_type="ml.m5.large", current_type="ml.m5.xlarge",
    )  # fmt: skip
    switch = approved(runner, rec)
    assert runner.execute(switch).ok
    made = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    sm.delete_endpoint_config(EndpointConfigName=made)

    reverted = runner.revert(switch, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == config


def test_a_type_switch_of_one_variant_leaves_the_other_variants_count_alone(
    runner, recorder, store, sm
):
    # Two variants, both made with 4 instances; Shadow was set to 1 since. Switching
    # AllTraffic to a smaller type must not bring Shadow back to the 4 its config says.
    install_update_endpoint()  # moto lacks UpdateEndpoint: the demo's stand-in
    name = unique("fraud")
    config = f"{name}-config"
    sm.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
    )
    variants = [
        {"VariantName": variant, "ModelName": f"{name}-model", "InitialInstanceCount": 4,
         "InstanceType": "ml.m5.xlarge", "InitialVariantWeight": weight}
        for variant, weight in (("AllTraffic", 0.9), ("Shadow", 0.1))
    ]  # fmt: skip
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "Shadow", "DesiredInstanceCount": 1}],
    )
    rec = recommendation(
        SageMakerAction.SWITCH_ENDPOINT_CONFIG, name, config,
        finding=Finding.OVER_PROVISIONED, recommended_type="ml.m5.large",
    )  # fmt: skip

    outcome = runner.execute(approved(runner, rec))

    assert outcome.state is State.DONE, outcome.text
    counts = {
        v["VariantName"]: v["CurrentInstanceCount"]
        for v in sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    }
    assert counts == {"AllTraffic": 4, "Shadow": 1}


def test_a_deleted_endpoint_comes_back_with_the_instance_counts_it_ran(runner, recorder, store, sm):
    # Made with 4 instances and set to 2 since; then idle and deleted. Its config still
    # says 4: Revert must bring back the 2 it ran, not double its cost.
    name, config = make_endpoint(sm, count=4)
    assert runner.execute(count_change(runner, name, config, before=4, after=2)).ok
    change_id = delete_change(runner, name, config)
    assert runner.execute(change_id).ok

    reverted = runner.revert(change_id, by=ALICE, approvers=APPROVERS)

    assert reverted.state is State.REVERTED, reverted.text
    assert count_of(sm, name) == 2


def test_variant_endpoint_config_and_tags_round_trip_through_the_store(runner, store, sm):
    name, config = make_endpoint(sm, team="fraud")
    change_id = count_change(runner, name, config)

    change = store.get_change(change_id)

    assert (change.kind, change.instance_id, change.variant, change.endpoint_config) == (
        Kind.ENDPOINT_COUNT,
        name,
        "AllTraffic",
        config,
    )
    assert (change.from_type, change.to_type, change.account_id, change.region) == (
        "4",
        "2",
        ACCOUNT,
        REGION,
    )
    assert change.label == f"endpoint `{name}` (variant AllTraffic: 4 → 2 instances)"
    assert store.transition(
        change_id,
        expected={State.APPROVED},
        new=State.APPROVED,
        resource_tags=json.dumps({"team": "fraud"}),
    )
    again = Store(store.path).get_change(change_id)
    assert again.tags == {"team": "fraud"}
    assert again.direction is Direction.FORWARD

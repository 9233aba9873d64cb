"""The EC2 catalog: instance-type facts and instances, against moto's EC2 (real type data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engines.rightsizing.catalog import (
    ASG_TAG,
    CatalogError,
    describe_instance_types,
    describe_instances,
    parse_instance_type,
    platform_of,
)

REGION = "us-east-1"
LINUX_IMAGE = "ami-0123456789abcdef0"  # moto launches unknown images as Linux


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def count_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """Every request the client makes for ``operation``, recorded as it is built."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    client.meta.events.register(f"before-parameter-build.ec2.{operation}", record)
    return seen


def refuse(client: Any, operation: str, code: str) -> None:
    """Make every ``operation`` call fail with ``code`` (as AWS would, HTTP 403)."""

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        error = {"Error": {"Code": code, "Message": "You are not authorized."}}
        return SimpleNamespace(status_code=403), error | {"ResponseMetadata": {}}

    client.meta.events.register(f"before-call.ec2.{operation}", answer)


def launch(ec2: Any, instance_type: str = "m5.large", **extra: Any) -> str:
    answer = ec2.run_instances(
        ImageId=LINUX_IMAGE, MinCount=1, MaxCount=1, InstanceType=instance_type, **extra
    )
    return str(answer["Instances"][0]["InstanceId"])


def name_tag(name: str, **more: str) -> list[dict[str, Any]]:
    tags = [{"Key": "Name", "Value": name}] + [{"Key": k, "Value": v} for k, v in more.items()]
    return [{"ResourceType": "instance", "Tags": tags}]


# --- Instance types -----------------------------------------------------------------------------


def test_m5_large_has_two_vcpus_and_8_gib(ec2: Any) -> None:
    facts = describe_instance_types(ec2, ["m5.large"])["m5.large"]

    assert (facts.vcpus, facts.memory_mib) == (2, 8192)
    assert "x86_64" in facts.architectures
    assert (facts.gpus, facts.gpu_memory_mib, facts.gpu_model) == (0, 0, "")
    assert facts.current_generation  # moto leaves the flag out: counted as current


def test_g4dn_xlarge_has_one_t4_gpu(ec2: Any) -> None:
    facts = describe_instance_types(ec2, ["g4dn.xlarge"])["g4dn.xlarge"]

    assert (facts.vcpus, facts.memory_mib) == (4, 16384)
    assert (facts.gpus, facts.gpu_memory_mib, facts.gpu_model) == (1, 16384, "T4")


def test_names_a_region_does_not_offer_are_left_out_without_failing(ec2: Any) -> None:
    facts = describe_instance_types(ec2, ["m5.large", "x9.nonexistent", "m5.large"])

    assert set(facts) == {"m5.large"}


def test_many_names_go_in_filter_chunks_of_one_hundred(ec2: Any) -> None:
    everything = describe_instance_types(ec2)
    names = sorted(everything)[:250]
    calls = count_calls(ec2, "DescribeInstanceTypes")

    facts = describe_instance_types(ec2, names)

    assert set(facts) == set(names)
    assert len(calls) == 3
    assert all(len(call["Filters"][0]["Values"]) <= 100 for call in calls)


def test_no_names_lists_every_type_of_the_region(ec2: Any) -> None:
    facts = describe_instance_types(ec2)

    assert len(facts) > 500
    assert facts["c5.large"].vcpus == 2
    assert facts["g5.12xlarge"].gpus == 4


def test_gpu_entries_are_summed_and_the_generation_flag_is_read() -> None:
    item = {
        "InstanceType": "p9.test",
        "CurrentGenerationFlag": False,
        "VCpuInfo": {"DefaultVCpus": 96},
        "MemoryInfo": {"SizeInMiB": 1179648},
        "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        "GpuInfo": {
            "Gpus": [
                {"Name": "A100", "Count": 8, "MemoryInfo": {"SizeInMiB": 40960}},
                {"Name": "A100", "Count": 2, "MemoryInfo": {"SizeInMiB": 40960}},
            ]
        },
    }

    facts = parse_instance_type(item)

    assert (facts.gpus, facts.gpu_memory_mib, facts.gpu_model) == (10, 409600, "A100")
    assert not facts.current_generation


def test_a_refused_type_listing_says_so(ec2: Any) -> None:
    refuse(ec2, "DescribeInstanceTypes", "UnauthorizedOperation")

    with pytest.raises(CatalogError, match="EC2 refused to list instance types"):
        describe_instance_types(ec2, ["m5.large"])


# --- Instances ----------------------------------------------------------------------------------


def test_instances_carry_state_tags_platform_and_launch_time(ec2: Any) -> None:
    instance_id = launch(ec2, TagSpecifications=name_tag("fraud-etl-prod", team="fraud"))

    [instance] = describe_instances(ec2, region=REGION, account_id="111122223333")

    assert instance.instance_id == instance_id
    assert (instance.instance_type, instance.state, instance.region) == (
        "m5.large",
        "running",
        REGION,
    )
    assert instance.account_id == "111122223333"
    assert instance.tags == {"Name": "fraud-etl-prod", "team": "fraud"}
    assert instance.name == "fraud-etl-prod"
    assert (instance.platform, instance.architecture) == ("Linux/UNIX", "x86_64")
    assert isinstance(instance.launch_time, dt.datetime)
    assert (instance.lifecycle, instance.auto_scaling_group) == ("on-demand", "")
    assert not instance.stop_protected


def test_the_account_defaults_to_the_reservation_owner(ec2: Any) -> None:
    launch(ec2)

    [instance] = describe_instances(ec2, region=REGION)

    assert instance.account_id == "123456789012"  # moto's default account


def test_spot_instances_are_marked_spot(ec2: Any) -> None:
    launch(ec2, InstanceMarketOptions={"MarketType": "spot"})

    [instance] = describe_instances(ec2, region=REGION)

    assert instance.lifecycle == "spot"


def test_stop_protection_is_read_from_disable_api_stop(ec2: Any) -> None:
    protected = launch(ec2, DisableApiStop=True)
    launch(ec2)

    instances = {i.instance_id: i for i in describe_instances(ec2, region=REGION)}

    assert [i for i, instance in instances.items() if instance.stop_protected] == [protected]


def test_auto_scaling_members_carry_their_group(ec2: Any) -> None:
    ec2.create_launch_template(
        LaunchTemplateName="etl-template",
        LaunchTemplateData={"ImageId": LINUX_IMAGE, "InstanceType": "m5.xlarge"},
    )
    boto3.client("autoscaling", region_name=REGION).create_auto_scaling_group(
        AutoScalingGroupName="etl-workers",
        LaunchTemplate={"LaunchTemplateName": "etl-template"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=["us-east-1a"],
    )

    [instance] = describe_instances(ec2, region=REGION)

    assert instance.auto_scaling_group == "etl-workers"
    assert instance.tags[ASG_TAG] == "etl-workers"


def test_stop_protection_is_asked_only_for_running_and_stopped_instances(ec2: Any) -> None:
    launch(ec2)
    stopped = launch(ec2)
    ec2.stop_instances(InstanceIds=[stopped])
    terminated = launch(ec2)
    ec2.terminate_instances(InstanceIds=[terminated])
    calls = count_calls(ec2, "DescribeInstanceAttribute")

    instances = describe_instances(ec2, region=REGION)

    assert sorted(i.state for i in instances) == ["running", "stopped", "terminated"]
    assert len(calls) == 2
    assert terminated not in {call["InstanceId"] for call in calls}
    assert {call["Attribute"] for call in calls} == {"disableApiStop"}


def test_unknown_stop_protection_counts_as_not_protected(ec2: Any) -> None:
    launch(ec2, DisableApiStop=True)
    refuse(ec2, "DescribeInstanceAttribute", "UnauthorizedOperation")

    [instance] = describe_instances(ec2, region=REGION)

    assert not instance.stop_protected


def test_filters_are_passed_to_describe_instances(ec2: Any) -> None:
    launch(ec2)
    stopped = launch(ec2)
    ec2.stop_instances(InstanceIds=[stopped])

    running = describe_instances(
        ec2, region=REGION, filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )

    assert [i.state for i in running] == ["running"]


def test_a_refused_instance_listing_says_so(ec2: Any) -> None:
    refuse(ec2, "DescribeInstances", "UnauthorizedOperation")

    with pytest.raises(CatalogError, match="EC2 refused to list instances"):
        describe_instances(ec2, region=REGION)


@pytest.mark.parametrize(
    ("item", "platform"),
    [
        ({"PlatformDetails": "Red Hat Enterprise Linux"}, "Red Hat Enterprise Linux"),
        ({"Platform": "windows"}, "Windows"),
        ({}, "Linux/UNIX"),
    ],
)
def test_platform_prefers_platform_details(item: dict[str, Any], platform: str) -> None:
    assert platform_of(item) == platform

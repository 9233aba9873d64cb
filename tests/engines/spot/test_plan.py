"""The spot plan: compatible types, the requests' shape (checked against botocore's service
models), ids copied from the running instance, and the plan running as-is in moto."""

from __future__ import annotations

import datetime as dt

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from engines.rightsizing.catalog import describe_instance_types
from engines.rightsizing.models import InstanceTypeFacts
from engines.rightsizing.pricing import PriceBook
from engines.spot.advisor_feed import load_snapshot
from engines.spot.plan import SpotPlanError, compatible_types
from engines.spot.review import SpotAdvisor

REGION = "us-east-1"
NOW = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
GIB = 1024


def facts(name, vcpus, memory_gib, gpus=0, gpu_mib=0, maker="", arch="x86_64"):
    return InstanceTypeFacts(
        instance_type=name,
        vcpus=vcpus,
        memory_mib=memory_gib * GIB,
        architectures=(arch,),
        gpus=gpus,
        gpu_memory_mib=gpus * gpu_mib,
        gpu_manufacturer=maker,
    )


CATALOG = {
    f.instance_type: f
    for f in (
        facts("g5.xlarge", 4, 16, 1, 22888, "NVIDIA"),
        facts("g5.2xlarge", 8, 32, 1, 22888, "NVIDIA"),
        facts("g5.4xlarge", 16, 64, 1, 22888, "NVIDIA"),
        facts("g6.xlarge", 4, 16, 1, 22888, "NVIDIA"),
        facts("g4dn.xlarge", 4, 16, 1, 15360, "NVIDIA"),  # less GPU memory
        facts("g4ad.xlarge", 4, 16, 1, 8192, "AMD"),
        facts("g4ad.2xlarge", 8, 32, 1, 24576, "AMD"),  # not CUDA
        facts("g5g.xlarge", 4, 8, 1, 15360, "NVIDIA", arch="arm64"),
        facts("m5.xlarge", 4, 16),
        facts("m5.2xlarge", 8, 32),
        facts("m6i.xlarge", 4, 16),
        facts("r5.xlarge", 4, 32),
        facts("m5.8xlarge", 32, 128),  # 8x: too big
    )
}


def test_gpu_work_stays_on_enough_nvidia_gpu_memory_nearest_size_first():
    assert compatible_types(CATALOG["g5.xlarge"], CATALOG) == [
        "g5.xlarge",
        "g6.xlarge",
        "g5.2xlarge",
    ]


def test_more_but_smaller_gpus_do_not_replace_bigger_ones():
    """Eight 16 GiB T4s hold more in total than four 24 GiB A10Gs, but a model sharded for
    24 GiB per GPU does not fit on any of them."""
    multi = {
        f.instance_type: f
        for f in (
            facts("g5.12xlarge", 48, 192, 4, 22888, "NVIDIA"),
            facts("g4dn.metal", 96, 384, 8, 16384, "NVIDIA"),
            facts("g6.12xlarge", 48, 192, 4, 22888, "NVIDIA"),
            facts("g5.24xlarge", 96, 384, 4, 22888, "NVIDIA"),
        )
    }
    assert multi["g4dn.metal"].gpu_memory_mib > multi["g5.12xlarge"].gpu_memory_mib
    assert compatible_types(multi["g5.12xlarge"], multi) == [
        "g5.12xlarge",
        "g6.12xlarge",
        "g5.24xlarge",
    ]


def test_a_g5_12xlarge_plan_keeps_24_gib_per_gpu_in_the_real_catalog(aws):
    """AWS's own DescribeInstanceTypes data (as moto ships it), read by our catalog."""
    catalog = describe_instance_types(boto3.client("ec2", region_name=REGION))
    current = catalog["g5.12xlarge"]
    assert (current.gpus, current.gpu_memory_per_gpu_mib) == (4, 22888)  # 4 x A10G
    metal = catalog["g4dn.metal"]
    assert (metal.gpus, metal.gpu_memory_per_gpu_mib) == (8, 16384)  # 8 x T4, more in total
    found = compatible_types(current, catalog)
    assert "g4dn.metal" not in found and "g4dn.12xlarge" not in found
    assert len(found) >= 3
    for name in found:
        other = catalog[name]
        assert other.gpu_memory_per_gpu_mib >= current.gpu_memory_per_gpu_mib, name
        assert current.gpus <= other.gpus <= 2 * current.gpus, name
        assert other.gpu_manufacturer == "NVIDIA", name


def test_cpu_work_never_pays_for_a_gpu_and_stays_within_twice_the_size():
    found = compatible_types(CATALOG["m5.xlarge"], CATALOG)
    assert found[0] == "m5.xlarge"
    assert set(found[1:]) == {"m6i.xlarge", "r5.xlarge", "m5.2xlarge"}
    assert found[1] == "m6i.xlarge"  # the same size first


def test_types_without_a_spot_market_come_last():
    found = compatible_types(CATALOG["m5.xlarge"], CATALOG, spot_types={"m5.2xlarge"})
    assert found[1] == "m5.2xlarge"


def test_the_size_limit_widens_when_fewer_than_three_types_qualify():
    small = {name: CATALOG[name] for name in ("g5.xlarge", "g5.4xlarge", "g6.xlarge")}
    assert compatible_types(small["g5.xlarge"], small) == ["g5.xlarge", "g6.xlarge", "g5.4xlarge"]


# --- The plan, from a running instance in moto ------------------------------------------------


@pytest.fixture(scope="module")
def aws():
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def box(aws) -> dict[str, str]:
    return launch_training_box()


@pytest.fixture(scope="module")
def document(box) -> dict:
    return SHARED_ADVISOR.plan(box["instance_id"], account_id="", region=REGION).document


def launch_training_box() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i * 16}.0/20", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate(("us-east-1a", "us-east-1b", "us-east-1c"))
    }
    other_vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.10.0.0/20", AvailabilityZone="us-east-1d")
    group = ec2.create_security_group(GroupName="trainers", Description="t", VpcId=vpc)["GroupId"]
    ec2.create_key_pair(KeyName="ml-key")
    iam.create_role(RoleName="trainer", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName="trainer")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="trainer", RoleName="trainer")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image,
        InstanceType="g5.xlarge",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets["us-east-1b"],
        SecurityGroupIds=[group],
        KeyName="ml-key",
        IamInstanceProfile={"Name": "trainer"},
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 500, "VolumeType": "gp3"}}
        ],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": "nlp-finetune"},
                    {"Key": "team", "Value": "nlp"},
                    {"Key": "workload_type", "Value": "training"},
                ],
            }
        ],
    )["Instances"][0]
    return {
        "instance_id": instance["InstanceId"],
        "image": image,
        "group": group,
        "profile_arn": profile["Arn"],
        **{f"subnet_{zone[-1]}": subnet for zone, subnet in subnets.items()},
    }


SHARED_ADVISOR = SpotAdvisor(  # module-wide: the region's catalog is read once
    ec2_for=lambda account, region: boto3.client("ec2", region_name=region),
    prices=PriceBook(),
    load_feed=load_snapshot,
    targets=[("", REGION)],
    now=lambda: NOW,
    default_region=REGION,
)


def test_every_id_in_the_plan_comes_from_the_running_instance(box):
    plan = SHARED_ADVISOR.plan(box["instance_id"], account_id="", region=REGION)
    data = plan.document["CreateLaunchTemplate"]["LaunchTemplateData"]
    assert data["ImageId"] == box["image"]
    assert data["SecurityGroupIds"] == [box["group"]]
    assert data["KeyName"] == "ml-key"
    assert data["IamInstanceProfile"] == {"Arn": box["profile_arn"]}
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 500
    tags = {t["Key"]: t["Value"] for t in data["TagSpecifications"][0]["Tags"]}
    assert tags["team"] == "nlp"  # the cost stays with the team

    fleet = plan.document["CreateFleet"]
    assert fleet["Type"] in {"maintain", "request"}
    assert fleet["SpotOptions"]["AllocationStrategy"] == "capacity-optimized"
    overrides = fleet["LaunchTemplateConfigs"][0]["Overrides"]
    types = {o["InstanceType"] for o in overrides}
    subnets = {o["SubnetId"] for o in overrides}
    assert len(types) >= 3 and "g5.xlarge" in types
    assert subnets == {box["subnet_a"], box["subnet_b"], box["subnet_c"]}  # only its VPC's
    assert len(overrides) == len(types) * len(subnets)

    group = plan.document["CreateAutoScalingGroup"]
    policy = group["MixedInstancesPolicy"]
    assert policy["InstancesDistribution"]["SpotAllocationStrategy"] == "capacity-optimized"
    assert policy["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0
    assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == list(
        plan.instance_types
    )
    assert set(group["VPCZoneIdentifier"].split(",")) == subnets
    assert "SpotFleetRequestConfig" not in str(plan.document)  # not the legacy spot fleet


def test_the_requests_match_the_aws_api_shapes(document):
    session = botocore.session.get_session()
    ec2, autoscaling = session.get_service_model("ec2"), session.get_service_model("autoscaling")
    for model, operation in (
        (ec2, "CreateLaunchTemplate"),
        (ec2, "CreateFleet"),
        (autoscaling, "CreateAutoScalingGroup"),
    ):
        shape = model.operation_model(operation).input_shape
        report = ParamValidator().validate(document[operation], shape)
        assert not report.has_errors(), report.generate_report()


def test_the_plan_runs_as_is(document):
    ec2 = boto3.client("ec2", region_name=REGION)
    template = ec2.create_launch_template(**document["CreateLaunchTemplate"])
    assert template["LaunchTemplate"]["LaunchTemplateName"] == "nlp-finetune-spot"
    fleet = ec2.create_fleet(**document["CreateFleet"])
    assert fleet["FleetId"].startswith("fleet-")
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.create_auto_scaling_group(**document["CreateAutoScalingGroup"])
    groups = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    assert (
        groups[0]["MixedInstancesPolicy"]["InstancesDistribution"]["SpotAllocationStrategy"]
        == "capacity-optimized"
    )


def test_a_vanished_instance_is_a_clear_error(aws):
    with pytest.raises(SpotPlanError, match="i-0123456789abcdef0 no longer exists"):
        SHARED_ADVISOR.plan("i-0123456789abcdef0", account_id="", region=REGION)

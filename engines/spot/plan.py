"""A spot plan you can run: a launch template, an EC2 Fleet and an Auto Scaling group with a
``MixedInstancesPolicy``, diversified over compatible types and every zone of the VPC.

Everything in the plan comes from the running instance: its AMI, security groups, key pair,
IAM instance profile, root and data volumes, tags (so the cost stays with its team) and the
subnets of its VPC, one per Availability Zone. No placeholder ids.

Diversification is what makes spot survivable: ``capacity-optimized`` places instances in the
pools (type x zone) with the most spare capacity, so more pools mean fewer interruptions.
``compatible_types`` picks types that can run the same work: the same architecture, at least
the vCPUs, memory, GPUs and GPU memory (in total *and per GPU*: work sized for a 24 GiB GPU
does not fit on a 16 GiB one, however many there are), the same GPU maker, and not more than
twice the size (wider if fewer than three types qualify).

The legacy ``RequestSpotFleet`` is deliberately not offered: AWS recommends EC2 Fleet or
Auto Scaling groups instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.errors import CostbotError
from engines.rightsizing.models import Instance, InstanceTypeFacts

ALLOCATION_STRATEGY = "capacity-optimized"
MIN_TYPES = 3
MAX_TYPES = 6
SIZE_LIMITS = (2, 4)
"""A compatible type has at most this many times the vCPUs and memory (2x first, then 4x)."""


class SpotPlanError(CostbotError):
    """The plan cannot be built (the instance is gone, EC2 refused, ...)."""


@dataclass(frozen=True)
class Volume:
    device_name: str
    size_gib: int
    volume_type: str
    iops: int | None = None
    throughput: int | None = None


@dataclass(frozen=True)
class LaunchBasis:
    """What a replacement launched on spot must look like, read from the running instance."""

    instance: Instance
    image_id: str
    vpc_id: str
    subnet_id: str
    availability_zone: str
    security_group_ids: tuple[str, ...]
    key_name: str = ""
    instance_profile_arn: str = ""
    volumes: tuple[Volume, ...] = ()
    subnets_by_zone: Mapping[str, str] = field(default_factory=dict)


# --- Compatible types ---------------------------------------------------------------------------


def compatible_types(
    current: InstanceTypeFacts,
    catalog: Mapping[str, InstanceTypeFacts],
    *,
    spot_types: set[str] | None = None,
) -> list[str]:
    """The current type first, then up to ``MAX_TYPES - 1`` others that can run its work.

    Ranked by closeness in size (the smallest sufficient first), then current generation,
    then name. Types the advisor data lists with a spot market (``spot_types``) are
    preferred when given.

    Args:
        current: the facts of the type the instance runs.
        catalog: the region's instance types.
        spot_types: types known to have a spot market in the region (None: no preference).
    """
    for limit in SIZE_LIMITS:
        found = [
            facts
            for name, facts in catalog.items()
            if name != current.instance_type and _can_replace(current, facts, limit)
        ]
        if len(found) + 1 >= MIN_TYPES:
            break
    found.sort(
        key=lambda facts: (
            spot_types is not None and facts.instance_type not in spot_types,
            facts.vcpus / max(current.vcpus, 1) + facts.memory_mib / max(current.memory_mib, 1),
            not facts.current_generation,
            facts.instance_type,
        )
    )
    return [current.instance_type, *[facts.instance_type for facts in found[: MAX_TYPES - 1]]]


def _can_replace(current: InstanceTypeFacts, other: InstanceTypeFacts, limit: int) -> bool:
    if not set(current.architectures) & set(other.architectures):
        return False
    if other.vcpus < current.vcpus or other.memory_mib < current.memory_mib:
        return False
    if other.vcpus > current.vcpus * limit or other.memory_mib > current.memory_mib * limit:
        return False
    if other.gpus < current.gpus or other.gpu_memory_mib < current.gpu_memory_mib:
        return False
    if other.gpu_memory_per_gpu_mib < current.gpu_memory_per_gpu_mib:
        return False  # a model sized for one GPU's memory must fit on each one
    if current.gpus == 0 and other.gpus > 0:
        return False  # never pay for a GPU the work does not use
    if other.gpu_manufacturer != current.gpu_manufacturer:
        return False  # CUDA work stays on NVIDIA
    return current.gpus == 0 or other.gpus <= current.gpus * limit


# --- The plan -----------------------------------------------------------------------------------


def build_spot_plan(
    basis: LaunchBasis, instance_types: Sequence[str], *, capacity: int = 1
) -> dict[str, Any]:
    """The three requests, ready for ``aws ... --cli-input-json`` (or boto3), as one document.

    ``CreateLaunchTemplate`` holds everything but the type; ``CreateFleet`` (type
    ``maintain``: interrupted capacity is replaced) and ``CreateAutoScalingGroup`` (with a
    ``MixedInstancesPolicy``, 100 % spot) both override the type across ``instance_types``
    and the VPC's zones, with the ``capacity-optimized`` strategy. Use one of the two.

    Args:
        basis: the running instance's launch facts, with its VPC's subnets per zone.
        instance_types: the types to diversify over, the current one first.
        capacity: how many instances to keep running.
    """
    name = _plan_name(basis.instance)
    subnets = [basis.subnets_by_zone[zone] for zone in sorted(basis.subnets_by_zone)] or [
        basis.subnet_id
    ]
    template = {"LaunchTemplateName": name, "Version": "$Latest"}
    tags = _tags(basis.instance)
    return {
        "_about": (
            f"Spot plan for {basis.instance.name} ({basis.instance.instance_id}, "
            f"{basis.instance.instance_type} in {basis.availability_zone}), made by costbot. "
            f"Create the launch template, then EITHER the EC2 Fleet OR the Auto Scaling group. "
            f"Every id comes from the running instance and its VPC."
        ),
        "how_to_use": [
            "jq .CreateLaunchTemplate plan.json > lt.json && "
            "aws ec2 create-launch-template --cli-input-json file://lt.json",
            "jq .CreateFleet plan.json > fleet.json && "
            "aws ec2 create-fleet --cli-input-json file://fleet.json",
            "or: jq .CreateAutoScalingGroup plan.json > asg.json && "
            "aws autoscaling create-auto-scaling-group --cli-input-json file://asg.json",
        ],
        "region": basis.instance.region,
        "instance_types": list(instance_types),
        "subnets": dict(sorted(basis.subnets_by_zone.items()))
        or {basis.availability_zone: basis.subnet_id},
        "CreateLaunchTemplate": {
            "LaunchTemplateName": name,
            "VersionDescription": f"spot replacement for {basis.instance.instance_id}",
            "LaunchTemplateData": _launch_template_data(basis, tags),
        },
        "CreateFleet": {
            "Type": "maintain",
            "ReplaceUnhealthyInstances": True,
            "TargetCapacitySpecification": {
                "TotalTargetCapacity": capacity,
                "SpotTargetCapacity": capacity,
                "OnDemandTargetCapacity": 0,
                "DefaultTargetCapacityType": "spot",
            },
            "SpotOptions": {
                "AllocationStrategy": ALLOCATION_STRATEGY,
                "InstanceInterruptionBehavior": "terminate",
            },
            "LaunchTemplateConfigs": [
                {
                    "LaunchTemplateSpecification": template,
                    "Overrides": [
                        {"InstanceType": instance_type, "SubnetId": subnet}
                        for instance_type in instance_types
                        for subnet in subnets
                    ],
                }
            ],
            "TagSpecifications": [{"ResourceType": "fleet", "Tags": tags}],
        },
        "CreateAutoScalingGroup": {
            "AutoScalingGroupName": name,
            "MinSize": 0,
            "MaxSize": capacity,
            "DesiredCapacity": capacity,
            "VPCZoneIdentifier": ",".join(subnets),
            "CapacityRebalance": True,
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": template,
                    "Overrides": [{"InstanceType": t} for t in instance_types],
                },
                "InstancesDistribution": {
                    "OnDemandBaseCapacity": 0,
                    "OnDemandPercentageAboveBaseCapacity": 0,
                    "SpotAllocationStrategy": ALLOCATION_STRATEGY,
                },
            },
            "Tags": [{**tag, "PropagateAtLaunch": True} for tag in tags],
        },
    }


def _launch_template_data(basis: LaunchBasis, tags: list[dict[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {"ImageId": basis.image_id}
    if basis.security_group_ids:
        data["SecurityGroupIds"] = list(basis.security_group_ids)
    if basis.key_name:
        data["KeyName"] = basis.key_name
    if basis.instance_profile_arn:
        data["IamInstanceProfile"] = {"Arn": basis.instance_profile_arn}
    if basis.volumes:
        data["BlockDeviceMappings"] = [_mapping(volume) for volume in basis.volumes]
    data["MetadataOptions"] = {"HttpTokens": "required"}
    data["TagSpecifications"] = [
        {"ResourceType": "instance", "Tags": tags},
        {"ResourceType": "volume", "Tags": tags},
    ]
    return data


def _mapping(volume: Volume) -> dict[str, Any]:
    ebs: dict[str, Any] = {
        "VolumeSize": volume.size_gib,
        "VolumeType": volume.volume_type,
        "DeleteOnTermination": True,
    }
    if volume.iops and volume.volume_type in {"gp3", "io1", "io2"}:
        ebs["Iops"] = volume.iops
    if volume.throughput and volume.volume_type == "gp3":
        ebs["Throughput"] = volume.throughput
    return {"DeviceName": volume.device_name, "Ebs": ebs}


def _tags(instance: Instance) -> list[dict[str, str]]:
    """The instance's own tags (AWS-reserved ``aws:`` ones cannot be set), so cost
    allocation keeps working, plus where the plan came from."""
    tags = {k: v for k, v in instance.tags.items() if not k.lower().startswith("aws:")}
    tags["costbot:spot-plan-for"] = instance.instance_id
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _plan_name(instance: Instance) -> str:
    base = "".join(c if c.isalnum() or c in "-_" else "-" for c in instance.name)[:80]
    return f"{base}-spot"


# --- EC2 adapter --------------------------------------------------------------------------------


def describe_launch_basis(ec2: Any, instance: Instance) -> LaunchBasis:
    """Reads the launch facts of ``instance`` and its VPC's subnets (one per zone).

    In each zone the instance's own subnet is used where it runs; elsewhere the VPC's
    subnet with the most free addresses.

    Raises:
        SpotPlanError: the instance is gone or EC2 refused.
    """
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance.instance_id])["Reservations"]
        items = [item for r in reservations for item in r.get("Instances", [])]
        if not items:
            raise SpotPlanError(f"{instance.instance_id} no longer exists.")
        item = items[0]
        volumes = _volumes(ec2, item)
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [item["VpcId"]]}])
    except ClientError as error:
        details = error.response.get("Error", {})
        raise SpotPlanError(
            f"EC2 refused to describe {instance.instance_id} "
            f"({details.get('Code', 'error')}: {details.get('Message', '')})."
        ) from None
    except BotoCoreError as error:
        raise SpotPlanError(f"Could not reach EC2: {error}") from None
    zone = item.get("Placement", {}).get("AvailabilityZone", "")
    return LaunchBasis(
        instance=instance,
        image_id=item["ImageId"],
        vpc_id=item["VpcId"],
        subnet_id=item["SubnetId"],
        availability_zone=zone,
        security_group_ids=tuple(g["GroupId"] for g in item.get("SecurityGroups", [])),
        key_name=item.get("KeyName", ""),
        instance_profile_arn=item.get("IamInstanceProfile", {}).get("Arn", ""),
        volumes=volumes,
        subnets_by_zone=_subnet_per_zone(subnets.get("Subnets", []), own=(zone, item["SubnetId"])),
    )


def _volumes(ec2: Any, item: dict[str, Any]) -> tuple[Volume, ...]:
    devices = {
        m["Ebs"]["VolumeId"]: m["DeviceName"]
        for m in item.get("BlockDeviceMappings", [])
        if "Ebs" in m
    }
    if not devices:
        return ()
    found = ec2.describe_volumes(VolumeIds=list(devices))["Volumes"]
    return tuple(
        Volume(
            device_name=devices[v["VolumeId"]],
            size_gib=int(v["Size"]),
            volume_type=v.get("VolumeType", "gp3"),
            iops=v.get("Iops"),
            throughput=v.get("Throughput"),
        )
        for v in sorted(found, key=lambda v: devices[v["VolumeId"]])
    )


def _subnet_per_zone(subnets: list[dict[str, Any]], *, own: tuple[str, str]) -> dict[str, str]:
    best: dict[str, dict[str, Any]] = {}
    for subnet in subnets:
        zone = subnet["AvailabilityZone"]
        free = int(subnet.get("AvailableIpAddressCount", 0))
        if zone not in best or free > int(best[zone].get("AvailableIpAddressCount", 0)):
            best[zone] = subnet
    chosen = {zone: subnet["SubnetId"] for zone, subnet in best.items()}
    own_zone, own_subnet = own
    if own_zone:
        chosen[own_zone] = own_subnet
    return chosen

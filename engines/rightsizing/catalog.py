"""What EC2 has: instance-type facts and the account's instances, as right-sizing needs them.

``describe_instance_types`` turns ``DescribeInstanceTypes`` into ``InstanceTypeFacts`` (vCPUs,
memory, architectures, GPUs, current generation). ``describe_instances`` turns
``DescribeInstances`` into ``Instance`` records: state, tags, platform, architecture, launch
time, spot lifecycle, the Auto Scaling group (from the ``aws:autoscaling:groupName`` tag) and
stop protection.

**Stop protection costs one call per instance.** ``DescribeInstances`` does not carry
``DisableApiStop``; only ``DescribeInstanceAttribute`` does, one instance per call. It is asked
only for running and stopped instances (pending, stopping and terminated ones are not
right-sized). When that call fails (no ``ec2:DescribeInstanceAttribute`` permission, an old
endpoint or emulator without the attribute, the instance vanished meanwhile) the answer is
"unknown", recorded as **not protected**: the worst outcome is a recommendation whose stop is
then refused by EC2, which says why. moto 5.x does answer ``disableApiStop``.

The ``ec2`` client is passed in (its region and retry configuration are the caller's); nothing
here reads the environment or the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.errors import CostbotError
from engines.rightsizing.models import Instance, InstanceTypeFacts

ASG_TAG = "aws:autoscaling:groupName"
STOP_PROTECTION_STATES = frozenset({"running", "stopped"})
"""Only instances in these states are asked about ``disableApiStop`` (one call each)."""
FILTER_VALUES_PER_CALL = 100
"""Instance-type names sent per ``DescribeInstanceTypes`` filter (kept well under limits)."""


class CatalogError(CostbotError):
    """EC2 could not say which instance types or instances there are."""


# --- Instance types -----------------------------------------------------------------------------


def describe_instance_types(
    ec2: Any, names: Collection[str] | None = None
) -> dict[str, InstanceTypeFacts]:
    """Facts for instance types in the client's region, by type name.

    Names are matched with the ``instance-type`` filter rather than the ``InstanceTypes``
    parameter, so a name the region does not offer is simply absent from the answer (the
    parameter would fail the whole call with ``InvalidInstanceType``).

    Args:
        ec2: a boto3 EC2 client.
        names: the types wanted; None asks for every type the region offers (one paginated
            sweep, about 900 types in a large region).

    Raises:
        CatalogError: EC2 refused or could not be reached.
    """
    facts: dict[str, InstanceTypeFacts] = {}
    for request in _type_requests(names):
        for page in _pages(ec2, "describe_instance_types", request):
            for item in page.get("InstanceTypes", []):
                parsed = parse_instance_type(item)
                facts[parsed.instance_type] = parsed
    return facts


def parse_instance_type(item: dict[str, Any]) -> InstanceTypeFacts:
    """One ``DescribeInstanceTypes`` entry as ``InstanceTypeFacts``.

    GPU count and memory are summed over the ``GpuInfo.Gpus`` entries; the model is their
    names joined. A missing ``CurrentGenerationFlag`` (moto leaves it out) counts as current.

    Args:
        item: one element of the response's ``InstanceTypes``.
    """
    gpus = item.get("GpuInfo", {}).get("Gpus", [])
    return InstanceTypeFacts(
        instance_type=item["InstanceType"],
        vcpus=int(item.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
        memory_mib=int(item.get("MemoryInfo", {}).get("SizeInMiB", 0)),
        architectures=tuple(item.get("ProcessorInfo", {}).get("SupportedArchitectures", [])),
        gpus=sum(int(gpu.get("Count", 0)) for gpu in gpus),
        gpu_memory_mib=sum(
            int(gpu.get("Count", 0)) * int(gpu.get("MemoryInfo", {}).get("SizeInMiB", 0))
            for gpu in gpus
        ),
        gpu_model="+".join(sorted({str(gpu.get("Name", "")) for gpu in gpus} - {""})),
        current_generation=bool(item.get("CurrentGenerationFlag", True)),
        gpu_manufacturer="+".join(
            sorted({str(gpu.get("Manufacturer", "")) for gpu in gpus} - {""})
        ),
    )


def _type_requests(names: Collection[str] | None) -> Iterator[dict[str, Any]]:
    if names is None:
        yield {}
        return
    wanted = sorted(set(names))
    for start in range(0, len(wanted), FILTER_VALUES_PER_CALL):
        chunk = wanted[start : start + FILTER_VALUES_PER_CALL]
        yield {"Filters": [{"Name": "instance-type", "Values": chunk}]}


# --- Instances ----------------------------------------------------------------------------------


def describe_instances(
    ec2: Any,
    *,
    region: str,
    account_id: str = "",
    filters: Sequence[dict[str, Any]] = (),
) -> list[Instance]:
    """The instances the client can see, with stop protection, in ``DescribeInstances`` order.

    Calls: the ``DescribeInstances`` pages, plus one ``DescribeInstanceAttribute`` per running
    or stopped instance (see the module docstring; a failed one counts as not protected).
    Termination protection is not asked (``termination_protected`` stays False).

    Args:
        ec2: a boto3 EC2 client for ``region``.
        region: recorded on each ``Instance`` (the client's region).
        account_id: recorded on each ``Instance``; empty takes the reservation's ``OwnerId``.
        filters: ``DescribeInstances`` filters, e.g. ``[{"Name": "instance-state-name",
            "Values": ["running"]}]``; none lists every instance.

    Raises:
        CatalogError: ``DescribeInstances`` was refused or EC2 could not be reached.
    """
    request: dict[str, Any] = {"Filters": list(filters)} if filters else {}
    instances: list[Instance] = []
    for page in _pages(ec2, "describe_instances", request):
        for reservation in page.get("Reservations", []):
            owner = account_id or str(reservation.get("OwnerId", ""))
            for item in reservation.get("Instances", []):
                protected = _stop_protected(ec2, item)
                instances.append(
                    parse_instance(item, region=region, account_id=owner, stop_protected=protected)
                )
    return instances


def parse_instance(
    item: dict[str, Any], *, region: str, account_id: str = "", stop_protected: bool = False
) -> Instance:
    """One ``DescribeInstances`` instance as an ``Instance``.

    Args:
        item: one element of a reservation's ``Instances``.
        region: the region it runs in.
        account_id: the owning account.
        stop_protected: whether ``DisableApiStop`` is on (asked separately).
    """
    tags = {tag["Key"]: tag.get("Value", "") for tag in item.get("Tags", [])}
    return Instance(
        instance_id=item["InstanceId"],
        instance_type=item["InstanceType"],
        state=item.get("State", {}).get("Name", "unknown"),
        region=region,
        account_id=account_id,
        tags=tags,
        platform=platform_of(item),
        architecture=item.get("Architecture", "x86_64"),
        launch_time=item.get("LaunchTime"),
        lifecycle=item.get("InstanceLifecycle") or "on-demand",
        auto_scaling_group=tags.get(ASG_TAG, ""),
        stop_protected=stop_protected,
        availability_zone=item.get("Placement", {}).get("AvailabilityZone", ""),
    )


def platform_of(item: dict[str, Any]) -> str:
    """``PlatformDetails`` ("Linux/UNIX", "Windows", "Red Hat Enterprise Linux", ...).

    Older answers (and moto) lack it and only set ``Platform: windows`` for Windows.

    Args:
        item: one ``DescribeInstances`` instance.
    """
    details = item.get("PlatformDetails")
    if details:
        return str(details)
    return "Windows" if str(item.get("Platform", "")).lower() == "windows" else "Linux/UNIX"


def _stop_protected(ec2: Any, item: dict[str, Any]) -> bool:
    """``DisableApiStop`` of a running or stopped instance; False when unknown."""
    if item.get("State", {}).get("Name") not in STOP_PROTECTION_STATES:
        return False
    try:
        answer = ec2.describe_instance_attribute(
            InstanceId=item["InstanceId"], Attribute="disableApiStop"
        )
    except (ClientError, BotoCoreError):
        return False  # unknown: see the module docstring
    return bool(answer.get("DisableApiStop", {}).get("Value", False))


# --- Calls --------------------------------------------------------------------------------------


def _pages(ec2: Any, method: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    try:
        yield from ec2.get_paginator(method).paginate(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        raise CatalogError(f"EC2 refused {_what(method)} ({code}: {message}).") from None
    except BotoCoreError as error:
        raise CatalogError(f"Could not reach EC2 for {_what(method)}: {error}") from None


def _what(method: str) -> str:
    return "to list instance types" if method == "describe_instance_types" else "to list instances"

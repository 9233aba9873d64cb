"""The thin AWS side of off-hours schedules: find EC2 instances, RDS instances, Auto
Scaling groups and SageMaker notebook instances with their tags, and stop or start one of
them.

Dry runs: EC2 calls go through the real path with ``DryRun=True`` (``DryRunOperation`` is
success). RDS, Auto Scaling and SageMaker have no ``DryRun`` parameter, so a dry run there
describes the resource (the permission to read it is checked) and reports the call it would
have made.

An Auto Scaling group is "stopped" by setting min, max and desired to 0; its earlier sizes
are handed back to the caller (``StopResult.capacity``) to be remembered and restored.

A notebook instance is stopped with ``StopNotebookInstance`` (from ``InService``) and started
with ``StartNotebookInstance`` (from ``Stopped``). One that is ``Pending``, ``Stopping`` or
``Updating`` when its stop or start is due cannot take it yet: the action raises
``NotYet`` and the next pass (a minute later) tries again. A ``Stopping`` notebook counts as
stopped and a ``Pending`` one as started, as EC2's ``stopping`` and ``pending`` do.
``ListNotebookInstances`` carries no tags, so each notebook's are read with ``ListTags``
(one call a notebook): they are kept for ``TAG_REFRESH_PASSES`` inventories and read again
then, and at once for a notebook not seen before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import explain
from engines.schedules.model import ResourceKind, ScheduledResource
from engines.words import plural

logger = logging.getLogger(__name__)

RDS_RUNNING = "available"
RDS_STOPPED = "stopped"
EC2_RUNNING = {"pending", "running"}
EC2_STOPPED = {"stopping", "stopped"}
NOTEBOOK_RUNNING = {"InService", "Pending"}
NOTEBOOK_BUSY = {"Pending", "Stopping", "Updating"}  # between states: act on the next pass
NOTEBOOK_GONE = {"Deleting"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_DONE = {"stop": "stopped", "start": "started"}
TAG_REFRESH_PASSES = 15
"""A notebook's tags are read again every this many inventories (15 minutes at one a minute)."""


class ActionError(Exception):
    """A stop or start failed; the message is fit for the audit log and the channel."""


class NotYet(ActionError):
    """The resource is between states (a notebook ``Pending``, ``Stopping`` or ``Updating``):
    nothing was called, and the next pass tries again."""


@dataclass(frozen=True)
class Capacity:
    min_size: int
    max_size: int
    desired: int

    def as_dict(self) -> dict[str, int]:
        return {"min_size": self.min_size, "max_size": self.max_size, "desired": self.desired}


@dataclass(frozen=True)
class ActionResult:
    """What a stop or start did: ``called`` is False when the resource already was so."""

    called: bool
    detail: str
    capacity: Capacity | None = None  # an ASG's sizes before it was scaled to zero
    extra: dict[str, Any] = field(default_factory=dict)


def _tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


@dataclass
class AwsScheduleTarget:
    """One account and region's resources. Clients are made by ``client_for(service)``."""

    client_for: Callable[[str], Any]
    region: str
    account_id: str = ""
    # notebook ARN -> (the inventory its tags were read in, the tags)
    _notebook_tags: dict[str, tuple[int, dict[str, str]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _passes: int = field(default=0, init=False, repr=False)

    # --- inventory -----------------------------------------------------------------------

    def inventory(self) -> list[ScheduledResource]:
        """Every tagged EC2 instance (not terminated), RDS instance, ASG and SageMaker
        notebook instance (not being deleted)."""
        return [*self._instances(), *self._databases(), *self._groups(), *self._notebooks()]

    def _instances(self) -> Iterator[ScheduledResource]:
        paginator = self.client_for("ec2").get_paginator("describe_instances")
        filters = [{"Name": "instance-state-name", "Values": [*EC2_RUNNING, *EC2_STOPPED]}]
        for page in paginator.paginate(Filters=filters):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = _tag_dict(instance.get("Tags"))
                    if "aws:autoscaling:groupName" in tags:
                        continue  # the group is scheduled, not its members
                    state = instance["State"]["Name"]
                    yield ScheduledResource(
                        kind=ResourceKind.EC2,
                        resource_id=instance["InstanceId"],
                        name=tags.get("Name", instance["InstanceId"]),
                        tags=tags,
                        region=self.region,
                        running=state in EC2_RUNNING,
                        size=instance["InstanceType"],
                        account_id=self.account_id,
                        state=state,
                    )

    def _databases(self) -> Iterator[ScheduledResource]:
        paginator = self.client_for("rds").get_paginator("describe_db_instances")
        for page in paginator.paginate():
            for database in page["DBInstances"]:
                tags = _tag_dict(database.get("TagList"))
                status = database["DBInstanceStatus"]
                yield ScheduledResource(
                    kind=ResourceKind.RDS,
                    resource_id=database["DBInstanceIdentifier"],
                    name=tags.get("Name", database["DBInstanceIdentifier"]),
                    tags=tags,
                    region=self.region,
                    running=status != RDS_STOPPED and status != "stopping",
                    size=database["DBInstanceClass"],
                    account_id=self.account_id,
                    state=status,
                    multi_az=bool(database.get("MultiAZ")),
                )

    def _groups(self) -> Iterator[ScheduledResource]:
        paginator = self.client_for("autoscaling").get_paginator("describe_auto_scaling_groups")
        for page in paginator.paginate():
            for group in page["AutoScalingGroups"]:
                tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
                types = [i.get("InstanceType", "") for i in group.get("Instances", [])]
                yield ScheduledResource(
                    kind=ResourceKind.ASG,
                    resource_id=group["AutoScalingGroupName"],
                    name=tags.get("Name", group["AutoScalingGroupName"]),
                    tags=tags,
                    region=self.region,
                    running=group["DesiredCapacity"] > 0,
                    size=next((t for t in types if t), ""),
                    count=group["DesiredCapacity"],
                    account_id=self.account_id,
                    state=plural(group["DesiredCapacity"], "instance"),
                )

    def _notebooks(self) -> list[ScheduledResource]:
        """The notebook instances; none (and a warning) when costbot may not list them, so
        a role granted before notebooks were scheduled keeps its EC2, RDS and ASG
        schedules working."""
        try:
            return list(self._listed_notebooks())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in DENIED:
                raise
            logger.warning(
                "SageMaker notebook instances in %s are left out of schedules: %s",
                self.region,
                explain(error),
            )
            return []

    def _listed_notebooks(self) -> Iterator[ScheduledResource]:
        client = self.client_for("sagemaker")
        self._passes += 1
        seen: dict[str, tuple[int, dict[str, str]]] = {}
        paginator = client.get_paginator("list_notebook_instances")
        for page in paginator.paginate():
            for notebook in page["NotebookInstances"]:
                status = notebook["NotebookInstanceStatus"]
                if status in NOTEBOOK_GONE:
                    continue
                arn = notebook["NotebookInstanceArn"]
                read = self._notebook_tags.get(arn)
                if read is None or self._passes - read[0] >= TAG_REFRESH_PASSES:
                    listed = client.get_paginator("list_tags").paginate(ResourceArn=arn)
                    tags = {t["Key"]: t.get("Value", "") for p in listed for t in p["Tags"]}
                    read = (self._passes, tags)
                seen[arn] = read
                name = notebook["NotebookInstanceName"]
                yield ScheduledResource(
                    kind=ResourceKind.NOTEBOOK,
                    resource_id=name,
                    name=read[1].get("Name", name),
                    tags=read[1],
                    region=self.region,
                    running=status in NOTEBOOK_RUNNING,
                    size=notebook.get("InstanceType", ""),
                    account_id=self.account_id,
                    state=status,
                )
        self._notebook_tags = seen  # notebooks gone are forgotten

    # --- actions -------------------------------------------------------------------------

    def stop(self, resource: ScheduledResource, *, dry_run: bool) -> ActionResult:
        try:
            if resource.kind is ResourceKind.EC2:
                return self._ec2("stop", resource, dry_run)
            if resource.kind is ResourceKind.RDS:
                return self._rds("stop", resource, dry_run)
            if resource.kind is ResourceKind.NOTEBOOK:
                return self._notebook("stop", resource, dry_run)
            return self._scale_to_zero(resource, dry_run)
        except (ClientError, BotoCoreError) as error:
            raise ActionError(f"stopping {resource.label} failed: {explain(error)}") from error

    def start(
        self, resource: ScheduledResource, *, dry_run: bool, capacity: Capacity | None = None
    ) -> ActionResult:
        try:
            if resource.kind is ResourceKind.EC2:
                return self._ec2("start", resource, dry_run)
            if resource.kind is ResourceKind.RDS:
                return self._rds("start", resource, dry_run)
            if resource.kind is ResourceKind.NOTEBOOK:
                return self._notebook("start", resource, dry_run)
            return self._scale_back(resource, capacity, dry_run)
        except (ClientError, BotoCoreError) as error:
            raise ActionError(f"starting {resource.label} failed: {explain(error)}") from error

    def _ec2(self, verb: str, resource: ScheduledResource, dry_run: bool) -> ActionResult:
        already = EC2_STOPPED if verb == "stop" else EC2_RUNNING
        if resource.state in already:
            return ActionResult(False, f"already {resource.state}")
        method = getattr(self.client_for("ec2"), f"{verb}_instances")
        if dry_run:
            try:
                method(InstanceIds=[resource.resource_id], DryRun=True)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "DryRunOperation":
                    return ActionResult(True, f"dry run: ec2:{verb.title()}Instances would work")
                raise
            raise ActionError(f"ec2:{verb.title()}Instances ignored DryRun=True: check it now")
        method(InstanceIds=[resource.resource_id])
        return ActionResult(True, f"ec2:{verb.title()}Instances")

    def _rds(self, verb: str, resource: ScheduledResource, dry_run: bool) -> ActionResult:
        client = self.client_for("rds")
        current = client.describe_db_instances(DBInstanceIdentifier=resource.resource_id)
        status = current["DBInstances"][0]["DBInstanceStatus"]
        target, needed = (
            (RDS_STOPPED, RDS_RUNNING) if verb == "stop" else (RDS_RUNNING, RDS_STOPPED)
        )
        if status in {target, "stopping" if verb == "stop" else "starting"}:
            return ActionResult(False, f"already {status}")
        if status != needed:
            raise ActionError(
                f"{resource.label} is {status}; it can be {_DONE[verb]} when {needed}"
            )
        if dry_run:
            return ActionResult(True, f"dry run: would call rds:{verb.title()}DBInstance")
        getattr(client, f"{verb}_db_instance")(DBInstanceIdentifier=resource.resource_id)
        return ActionResult(True, f"rds:{verb.title()}DBInstance")

    def _notebook(self, verb: str, resource: ScheduledResource, dry_run: bool) -> ActionResult:
        """Stops (from ``InService``) or starts (from ``Stopped``) a notebook instance, as
        its status is now (``DescribeNotebookInstance``), not as the inventory saw it."""
        client = self.client_for("sagemaker")
        name = resource.resource_id
        status = client.describe_notebook_instance(NotebookInstanceName=name)[
            "NotebookInstanceStatus"
        ]
        done = {"Stopped", "Stopping", "Failed"} if verb == "stop" else NOTEBOOK_RUNNING
        needed = "InService" if verb == "stop" else "Stopped"
        if status in done:
            return ActionResult(False, f"already {status}")
        if status in NOTEBOOK_BUSY:
            raise NotYet(
                f"{resource.label} is {status}: it can be {_DONE[verb]} once it is {needed}, "
                "so it is left for the next pass"
            )
        if status != needed:
            raise ActionError(
                f"{resource.label} is {status}; it can be {_DONE[verb]} when {needed}"
            )
        call = f"sagemaker:{verb.title()}NotebookInstance"
        if dry_run:
            return ActionResult(True, f"dry run: would call {call}")
        getattr(client, f"{verb}_notebook_instance")(NotebookInstanceName=name)
        return ActionResult(True, call)

    def _describe_group(self, name: str) -> dict[str, Any]:
        groups = self.client_for("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"]
        if not groups:
            raise ActionError(f"the Auto Scaling group {name} no longer exists")
        return groups[0]

    def _scale_to_zero(self, resource: ScheduledResource, dry_run: bool) -> ActionResult:
        group = self._describe_group(resource.resource_id)
        before = Capacity(group["MinSize"], group["MaxSize"], group["DesiredCapacity"])
        if before.desired == 0 and before.min_size == 0:
            return ActionResult(False, "already at 0 instances")
        if dry_run:
            return ActionResult(True, f"dry run: would scale from {before.desired} to 0", before)
        self.client_for("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=resource.resource_id, MinSize=0, MaxSize=0, DesiredCapacity=0
        )
        return ActionResult(True, f"scaled from {before.desired} to 0", before)

    def _scale_back(
        self, resource: ScheduledResource, capacity: Capacity | None, dry_run: bool
    ) -> ActionResult:
        group = self._describe_group(resource.resource_id)
        if group["DesiredCapacity"] > 0:
            return ActionResult(False, f"already at {plural(group['DesiredCapacity'], 'instance')}")
        if capacity is None:
            raise ActionError(
                f"I do not know the size {resource.label} had before it was scaled to zero, "
                "so I left it at 0"
            )
        if dry_run:
            return ActionResult(True, f"dry run: would scale back to {capacity.desired}")
        self.client_for("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=resource.resource_id,
            MinSize=capacity.min_size,
            MaxSize=capacity.max_size,
            DesiredCapacity=capacity.desired,
        )
        return ActionResult(True, f"scaled back to {capacity.desired}")

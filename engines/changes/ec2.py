"""The EC2 side of a change: the client configuration, and reading ``DescribeInstances``.

Throttling (``RequestLimitExceeded``) is the client's business: build the clients that
``ec2_client_for`` returns with ``EC2_CLIENT_CONFIG`` (explicit, adaptive retries). Polling
also tolerates a throttled ``DescribeInstances`` and simply asks again.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from engines.aws_errors import error_code
from engines.changes.models import ChangeError

EC2_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
"""The botocore config for the EC2 clients ``ec2_client_for`` returns."""

RUNNING_LIKE = frozenset({"running", "pending"})
GONE = frozenset({"shutting-down", "terminated"})


def describe(client: Any, instance_id: str) -> dict[str, Any]:
    response = client.describe_instances(InstanceIds=[instance_id])
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            return dict(instance)
    raise ChangeError(f"`{instance_id}` was not found")


def describe_tolerating_throttling(client: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        return describe(client, instance_id)
    except ClientError as error:
        if error_code(error) in ("RequestLimitExceeded", "Throttling"):
            return None
        raise


def settled_elsewhere(state: str, wanted: str) -> bool:
    if state in GONE:
        return True
    return wanted == "running" and state == "stopped"


def method_name(action: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")

"""The SageMaker side of a change: reading endpoints, endpoint configs and notebook
instances, and naming the endpoint config a type switch creates.

Every reader returns None when the resource does not exist (SageMaker answers a
``ValidationException`` "Could not find …" / "RecordNotFound"), so callers tell "gone" from
"could not look". Throttling is the client's business (the bot builds its clients with
adaptive retries); polling also tolerates a throttled Describe and asks again.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from engines.aws_errors import error_code
from engines.changes.models import Change, ChangeError

ENDPOINT_MOVING = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
"""Endpoint statuses that change by themselves: wait them out."""
NOTEBOOK_MOVING = frozenset({"Pending", "Stopping", "Updating", "Deleting"})
"""Notebook instance statuses that change by themselves: wait them out."""
GONE = "Gone"
"""The status this module gives a resource that no longer exists."""
NAME_LIMIT = 63
"""SageMaker's limit on endpoint config names (``^[a-zA-Z0-9](-*[a-zA-Z0-9])*``)."""

_THROTTLED = frozenset({"ThrottlingException", "Throttling", "RequestLimitExceeded"})
_NOT_FOUND = ("could not find", "recordnotfound", "does not exist", "not found")


def not_found(error: ClientError) -> bool:
    """Whether SageMaker said the resource does not exist."""
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return error_code(error) in ("ValidationException", "ResourceNotFound") and any(
        words in message for words in _NOT_FOUND
    )


def throttled(error: ClientError) -> bool:
    return error_code(error) in _THROTTLED


def describe_endpoint(client: Any, name: str) -> dict[str, Any] | None:
    """``DescribeEndpoint``, or None when there is no such endpoint."""
    return _describe(client.describe_endpoint, EndpointName=name)


def describe_config(client: Any, name: str) -> dict[str, Any] | None:
    """``DescribeEndpointConfig``, or None when there is no such config."""
    return _describe(client.describe_endpoint_config, EndpointConfigName=name)


def describe_notebook(client: Any, name: str) -> dict[str, Any] | None:
    """``DescribeNotebookInstance``, or None when there is no such notebook instance."""
    return _describe(client.describe_notebook_instance, NotebookInstanceName=name)


def _describe(method: Any, **params: Any) -> dict[str, Any] | None:
    try:
        return dict(method(**params))
    except ClientError as error:
        if not_found(error):
            return None
        raise


def endpoint_status(endpoint: dict[str, Any] | None) -> str:
    return GONE if endpoint is None else str(endpoint.get("EndpointStatus", ""))


def notebook_status(notebook: dict[str, Any] | None) -> str:
    return GONE if notebook is None else str(notebook.get("NotebookInstanceStatus", ""))


def variant_count(endpoint: dict[str, Any], variant: str) -> int:
    """The variant's instance count: the current one, or the desired one while it updates."""
    for summary in endpoint.get("ProductionVariants", []):
        if summary.get("VariantName") == variant:
            count = summary.get("CurrentInstanceCount", summary.get("DesiredInstanceCount"))
            return int(count or 0)
    raise ChangeError(f"the endpoint has no variant {variant}")


def variant_type(config: dict[str, Any], variant: str) -> str:
    """The variant's instance type in an endpoint config ("" for a serverless variant)."""
    for spec in config.get("ProductionVariants", []):
        if spec.get("VariantName") == variant:
            return str(spec.get("InstanceType", ""))
    raise ChangeError(f"the endpoint config has no variant {variant}")


def has_variant(endpoint: dict[str, Any], variant: str) -> bool:
    return any(s.get("VariantName") == variant for s in endpoint.get("ProductionVariants", []))


def switched_config_name(change: Change) -> str:
    """The endpoint config a type switch creates: the old name, the new type and the
    change's id (``fraud-v1-ml-m5-large-c12``); the same for every attempt of one change,
    so a retry or a recovery finds the one already made."""
    suffix = f"-{change.to_type.replace('.', '-')}-c{change.id}"
    suffix = re.sub(r"[^a-zA-Z0-9-]", "-", suffix)
    base = change.endpoint_config[: max(1, NAME_LIMIT - len(suffix))].rstrip("-")
    return (base + suffix)[:NAME_LIMIT]


_CONFIG_COPIED = (
    "DataCaptureConfig",
    "KmsKeyId",
    "AsyncInferenceConfig",
    "ExplainerConfig",
    "ShadowProductionVariants",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
)


def switched_config(
    old: dict[str, Any], name: str, variant: str, instance_type: str, counts: dict[str, int]
) -> dict[str, Any]:
    """``CreateEndpointConfig``'s parameters: ``old`` copied, with ``variant`` on
    ``instance_type``, and every variant starting with the instance count it runs now
    (``counts``, by variant name): an ``UpdateEndpoint`` takes the new config's counts, which
    may differ from the old config's after a count change, on this variant or another."""
    variants = []
    for spec in old.get("ProductionVariants", []):
        spec = dict(spec)
        if spec.get("VariantName") == variant:
            spec["InstanceType"] = instance_type
        if spec.get("VariantName") in counts and "InitialInstanceCount" in spec:
            spec["InitialInstanceCount"] = counts[spec["VariantName"]]
        variants.append(spec)
    params: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": variants}
    params.update({key: old[key] for key in _CONFIG_COPIED if old.get(key)})
    return params


def running_counts(endpoint: dict[str, Any]) -> dict[str, int]:
    """Each variant's instance count now (the desired one while it updates), by name."""
    return {
        str(summary["VariantName"]): variant_count(endpoint, str(summary["VariantName"]))
        for summary in endpoint.get("ProductionVariants", [])
        if "CurrentInstanceCount" in summary or "DesiredInstanceCount" in summary
    }


def settable_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags as ``CreateEndpoint`` takes them, without AWS's own (``aws:`` is reserved)."""
    return [{"Key": k, "Value": v} for k, v in tags.items() if not k.startswith("aws:")]


def endpoint_tags(client: Any, arn: str) -> dict[str, str]:
    """The endpoint's tags (``ListTags``, every page)."""
    tags: dict[str, str] = {}
    params: dict[str, Any] = {"ResourceArn": arn}
    while True:
        response = client.list_tags(**params)
        tags.update({tag["Key"]: tag["Value"] for tag in response.get("Tags", [])})
        if not response.get("NextToken"):
            return tags
        params["NextToken"] = response["NextToken"]

"""``UpdateEndpoint`` for the demo's moto, which does not implement it.

costbot switches an endpoint to a smaller instance type by making a new endpoint config and
calling ``UpdateEndpoint`` (``engines.changes.sagemaker``). moto answers that call with "not
yet implemented", so without this the demo could propose a smaller type but every approval
would end rolled back. ``install_update_endpoint`` teaches moto's SageMaker responses the call:
the endpoint moves to the new config at once (real SageMaker goes through ``Updating`` for
minutes and rolls back by itself when the new instances fail; the changes engine's tests cover
that with a Stubber). A moto that implements the call itself is left alone.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import AWSValidationException
from moto.sagemaker.responses import SageMakerResponse

_RETAINED = ("CurrentInstanceCount", "DesiredInstanceCount", "CurrentWeight", "DesiredWeight")
"""What ``RetainAllVariantProperties`` keeps of a variant through an update."""


def install_update_endpoint() -> None:
    """Adds ``UpdateEndpoint`` to moto's SageMaker (once; idempotent)."""
    if not hasattr(SageMakerResponse, "update_endpoint"):
        SageMakerResponse.update_endpoint = _update_endpoint  # type: ignore[attr-defined]


def _update_endpoint(self: Any) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise AWSValidationException(f'Could not find endpoint "{name}".')
    if endpoint.endpoint_status != "InService":
        raise AWSValidationException(
            f"Cannot update in-progress endpoint: endpoint {name} is {endpoint.endpoint_status}."
        )
    config = backend.describe_endpoint_config(config_name)  # raises for an unknown config
    running = {v["VariantName"]: v for v in endpoint.production_variants}
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    if self._get_param("RetainAllVariantProperties"):  # counts and weights as they run now
        for variant in endpoint.production_variants:
            kept = running.get(variant["VariantName"], {})
            variant.update({key: kept[key] for key in _RETAINED if key in kept})
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})

"""Carrying out a SageMaker change, and putting it back on failure.

``Execution`` claims, finishes and rolls back every change the same way; for a SageMaker
change (``Kind.is_sagemaker``) it hands the steps to ``SageMakerSteps``:

- ``validate`` looks before touching (Describe calls only): the resource exists, is settled,
  and is still in the shape the change starts from. A change that must not run raises
  ``MustNotRun``, one that may run later ``NotNow``.
- ``carry_out`` makes the change, one audited mutating call at a time (``sagemaker.<Action>``
  in the audit), and polls until the resource has settled;
- ``restore`` puts the resource back in the shape the execution started from (rollback);
- ``settle`` and ``in_target_shape`` tell crash recovery where the resource is;
- ``would_call`` says what a dry run would have called (SageMaker has no ``DryRun``).

Per kind (forward; revert the other way):

- ``ENDPOINT_DELETE``: ``DeleteEndpoint``, wait until it is gone. Its tags are read while
  validating and kept on the change (``resource_tags``), and so are its variants' instance
  counts (``resource_counts``); the revert is ``CreateEndpoint`` from the kept endpoint
  config with those tags, waiting for ``InService``, then the counts it ran when deleted
  (``UpdateEndpointWeightsAndCapacities``, when the config says others).
- ``ENDPOINT_COUNT``: ``UpdateEndpointWeightsAndCapacities`` to the new count, wait for
  ``InService``, check the count.
- ``ENDPOINT_CONFIG``: ``CreateEndpointConfig`` (a copy of the endpoint's config with the
  variant on the new type and every variant's current count), ``UpdateEndpoint`` to it,
  wait for ``InService``. SageMaker's update is blue/green and rolls back by itself: an
  endpoint back on its old config is a failure, reported as rolled back. The revert is
  ``UpdateEndpoint`` back to the kept config, keeping the instance counts the variants run
  now (the new config is left in place, unused).
- ``NOTEBOOK_STOP``: ``StopNotebookInstance``, wait for ``Stopped``; the revert starts it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from engines.aws_errors import aws_words, explain
from engines.changes.models import Change, ChangeError, Direction, Kind
from engines.changes.plan import MustNotRun, NotNow, Plan
from engines.changes.records import Records
from engines.changes.sagemaker_api import (
    ENDPOINT_MOVING,
    GONE,
    NOTEBOOK_MOVING,
    describe_config,
    describe_endpoint,
    describe_notebook,
    endpoint_status,
    endpoint_tags,
    has_variant,
    notebook_status,
    running_counts,
    settable_tags,
    switched_config,
    switched_config_name,
    throttled,
    variant_count,
    variant_type,
)
from engines.changes.texts import sagemaker_what

logger = logging.getLogger(__name__)

IN_SERVICE, STOPPED = "InService", "Stopped"


def configs(change: Change, direction: Direction) -> tuple[str, str]:
    """An endpoint config switch's (original, target) configs for ``direction``."""
    kept, made = change.endpoint_config, switched_config_name(change)
    return (kept, made) if direction is Direction.FORWARD else (made, kept)


class SageMakerSteps:
    """The SageMaker steps of an execution (see the module's docstring).

    Args:
        records: the store, the audit trail and the clock.
        sleep: waits between polls.
        clock: monotonic seconds, for poll timeouts.
        poll_s: seconds between Describe polls.
        timeout_s: how long to wait for a resource to settle.
    """

    def __init__(
        self,
        records: Records,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        poll_s: float,
        timeout_s: float,
    ) -> None:
        self.records = records
        self.sleep = sleep
        self.clock = clock
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    # --- validation --------------------------------------------------------------------

    def validate(self, change: Change, client: Any, direction: Direction, actor: str) -> Plan:
        """The plan, after looking: raises ``MustNotRun`` or ``NotNow`` when it must not run."""
        original, target = change.from_type, change.to_type
        if direction is Direction.REVERT:
            original, target = target, original
        plan = Plan(change, client, original, target, True, direction, actor)
        check = {
            Kind.ENDPOINT_DELETE: self._check_delete,
            Kind.ENDPOINT_COUNT: self._check_count,
            Kind.ENDPOINT_CONFIG: self._check_switch,
            Kind.NOTEBOOK_STOP: self._check_notebook,
        }[change.kind]
        try:
            claim = check(plan)
        except (ClientError, BotoCoreError) as error:
            raise NotNow(
                f"I could not look at {sagemaker_what(change)}: {explain(error)}"
            ) from error
        return Plan(change, client, original, target, True, direction, actor, claim)

    def _check_delete(self, plan: Plan) -> dict[str, Any]:
        change = plan.change
        endpoint = describe_endpoint(plan.client, change.instance_id)
        config = describe_config(plan.client, change.endpoint_config)
        if plan.direction is Direction.REVERT:
            if endpoint is not None:
                raise MustNotRun(
                    f"an endpoint named `{change.instance_id}` exists again "
                    f"({endpoint_status(endpoint)}); I will not replace it."
                )
            if config is None:
                raise MustNotRun(
                    f"its endpoint config `{change.endpoint_config}` was deleted, so I cannot "
                    "re-create the endpoint from it."
                )
            return {}
        endpoint = _in_service(endpoint)
        _on_config(endpoint, change.endpoint_config)
        if config is None:
            raise MustNotRun(
                f"its endpoint config `{change.endpoint_config}` no longer exists, so a revert "
                "could not re-create the endpoint; I will not delete it."
            )
        tags = endpoint_tags(plan.client, endpoint["EndpointArn"])
        return {
            "resource_tags": json.dumps(tags, sort_keys=True),
            "resource_counts": json.dumps(running_counts(endpoint), sort_keys=True),
        }

    def _check_count(self, plan: Plan) -> dict[str, Any]:
        change = plan.change
        endpoint = _in_service(describe_endpoint(plan.client, change.instance_id))
        if not has_variant(endpoint, change.variant):
            raise MustNotRun(f"the endpoint has no variant {change.variant} any more.")
        count = variant_count(endpoint, change.variant)
        if str(count) != plan.original_type:
            raise MustNotRun(
                f"variant {change.variant} now runs {count} instances, not "
                f"{plan.original_type}; the recommendation is out of date."
            )
        if not plan.target_type.isdigit() or int(plan.target_type) < 1:
            raise MustNotRun(f"{plan.target_type!r} is not an instance count I can set.")
        return {}

    def _check_switch(self, plan: Plan) -> dict[str, Any]:
        change = plan.change
        original, target = configs(change, plan.direction)
        endpoint = _in_service(describe_endpoint(plan.client, change.instance_id))
        _on_config(endpoint, original)
        config = describe_config(plan.client, original)
        if config is None and plan.direction is Direction.FORWARD:
            raise MustNotRun(f"its endpoint config `{original}` no longer exists.")
        # A revert needs only the kept config: the one costbot made may have been deleted
        # since (SageMaker allows it while the endpoint uses it), the endpoint still on it.
        try:
            itype = plan.original_type if config is None else variant_type(config, change.variant)
        except ChangeError as error:
            raise MustNotRun(f"{error}.") from error
        if itype != plan.original_type:
            raise MustNotRun(
                f"variant {change.variant} now runs on {itype or 'serverless'}, not "
                f"{plan.original_type}; the recommendation is out of date."
            )
        if plan.direction is Direction.REVERT and describe_config(plan.client, target) is None:
            raise MustNotRun(f"the endpoint config `{target}` to switch back to was deleted.")
        return {}

    def _check_notebook(self, plan: Plan) -> dict[str, Any]:
        notebook = describe_notebook(plan.client, plan.change.instance_id)
        if notebook is None:
            raise MustNotRun("the notebook instance no longer exists.")
        status = notebook_status(notebook)
        if status in NOTEBOOK_MOVING:
            raise NotNow(f"the notebook instance is {status}; try again once it has settled.")
        if plan.direction is Direction.FORWARD and status != IN_SERVICE:
            raise MustNotRun(
                f"the notebook instance is already {status}; there is nothing to stop."
            )
        if plan.direction is Direction.REVERT and status != STOPPED:
            raise MustNotRun(
                f"the notebook instance is already {status}; someone started it again."
            )
        if notebook.get("InstanceType") != plan.change.from_type:
            raise MustNotRun(
                f"the notebook instance is now {notebook.get('InstanceType')}, not "
                f"{plan.change.from_type}; the recommendation is out of date."
            )
        return {}

    # --- carrying out and putting back ---------------------------------------------------

    def carry_out(self, plan: Plan) -> None:
        """Makes the change (forward or revert) and waits until it has settled; raises on
        any failure (``Execution`` then calls ``restore``)."""
        change, forward = plan.change, plan.direction is Direction.FORWARD
        if change.kind is Kind.ENDPOINT_DELETE and forward:
            self._delete(plan)
        elif change.kind is Kind.ENDPOINT_DELETE:
            self._create(plan)
        elif change.kind is Kind.ENDPOINT_COUNT:
            self._set_count(plan, int(plan.target_type))
        elif change.kind is Kind.ENDPOINT_CONFIG:
            if forward:
                self._make_switched_config(plan)
            self._switch(plan, configs(change, plan.direction)[1])
        else:
            self._power(plan, STOPPED if forward else IN_SERVICE)
        done, where = self.in_target_shape(plan)
        if not done:
            raise ChangeError(f"{sagemaker_what(change)} is {where} afterwards")

    def restore(self, plan: Plan) -> None:
        """Puts the resource back as the execution found it; raises when it cannot."""
        change, forward = plan.change, plan.direction is Direction.FORWARD
        found = self.settle(plan)
        if change.kind is Kind.ENDPOINT_DELETE:
            if forward and found is None:
                self._create(plan)
            elif not forward and found is not None:
                self._delete(plan)
        elif change.kind is Kind.ENDPOINT_COUNT:
            count = int(plan.original_type)
            if found is None or variant_count(found, change.variant) != count:
                self._set_count(plan, count)
        elif change.kind is Kind.ENDPOINT_CONFIG:
            original = configs(change, plan.direction)[0]
            if found is None or found.get("EndpointConfigName") != original:
                self._switch(plan, original)
        else:
            wanted = IN_SERVICE if forward else STOPPED
            if notebook_status(found) != wanted:
                self._power(plan, wanted)
        back, where = self._in_shape(plan, False)
        if not back:
            raise ChangeError(f"{sagemaker_what(change)} is {where}")

    def _delete(self, plan: Plan) -> None:
        tags = _tags(plan)
        self.call(plan, "DeleteEndpoint", {"tags": tags}, EndpointName=plan.instance_id)
        self.wait(plan, GONE)

    def _create(self, plan: Plan) -> None:
        change = plan.change
        tags = settable_tags(_tags(plan))
        params: dict[str, Any] = {
            "EndpointName": change.instance_id,
            "EndpointConfigName": change.endpoint_config,
        }
        if tags:
            params["Tags"] = tags
        self.call(plan, "CreateEndpoint", None, **params)
        endpoint = self.wait(plan, IN_SERVICE) or {}
        # The config says the counts the endpoint was made with; it ran these when deleted.
        ran, made = _counts(plan), running_counts(endpoint)
        differ = [
            {"VariantName": variant, "DesiredInstanceCount": count}
            for variant, count in sorted(ran.items())
            if variant in made and made[variant] != count
        ]
        if not differ:
            return
        try:  # the endpoint serves again either way: never undo that for its counts
            self.call(
                plan,
                "UpdateEndpointWeightsAndCapacities",
                None,
                EndpointName=plan.instance_id,
                DesiredWeightsAndCapacities=differ,
            )
            self.wait(plan, IN_SERVICE)
        except (ClientError, BotoCoreError, ChangeError) as error:
            logger.warning("%s is back with its config's counts: %s", plan.instance_id, error)

    def _set_count(self, plan: Plan, count: int) -> None:
        capacity = {"VariantName": plan.change.variant, "DesiredInstanceCount": count}
        self.call(
            plan,
            "UpdateEndpointWeightsAndCapacities",
            None,
            EndpointName=plan.instance_id,
            DesiredWeightsAndCapacities=[capacity],
        )
        self.wait(plan, IN_SERVICE)

    def _make_switched_config(self, plan: Plan) -> None:
        """Creates the new endpoint config, unless an earlier attempt already did."""
        change = plan.change
        old_name, new_name = configs(change, Direction.FORWARD)
        if describe_config(plan.client, new_name) is not None:
            return
        old = describe_config(plan.client, old_name)
        endpoint = describe_endpoint(plan.client, change.instance_id)
        if old is None or endpoint is None:
            raise ChangeError(f"the endpoint or its config `{old_name}` disappeared")
        counts = running_counts(endpoint)
        params = switched_config(old, new_name, change.variant, plan.target_type, counts)
        self.call(plan, "CreateEndpointConfig", None, **params)

    def _switch(self, plan: Plan, config: str) -> None:
        """``UpdateEndpoint`` to ``config``. Back to the kept config (a revert, a rollback)
        the variants keep the instance counts and weights they run now
        (``RetainAllVariantProperties``): that config still says the count it was made with,
        which a count change since may have lowered."""
        back = {"RetainAllVariantProperties": True} if config == plan.change.endpoint_config else {}
        self.call(
            plan,
            "UpdateEndpoint",
            None,
            EndpointName=plan.instance_id,
            EndpointConfigName=config,
            **back,
        )
        endpoint = self.wait(plan, IN_SERVICE)
        now_on = (endpoint or {}).get("EndpointConfigName", "")
        if now_on != config:
            reason = aws_words((endpoint or {}).get("FailureReason", ""))
            raise ChangeError(
                f"SageMaker rolled the update back by itself; the endpoint is on `{now_on}`"
                + (f" ({reason})" if reason else "")
            )

    def _power(self, plan: Plan, wanted: str) -> None:
        action = "StopNotebookInstance" if wanted == STOPPED else "StartNotebookInstance"
        self.call(plan, action, None, NotebookInstanceName=plan.instance_id)
        self.wait(plan, wanted)

    # --- where the resource is -----------------------------------------------------------

    def look(self, plan: Plan) -> tuple[dict[str, Any] | None, str]:
        """The resource's description (None when it is gone) and its status."""
        if plan.change.kind is Kind.NOTEBOOK_STOP:
            notebook = describe_notebook(plan.client, plan.instance_id)
            return notebook, notebook_status(notebook)
        endpoint = describe_endpoint(plan.client, plan.instance_id)
        return endpoint, endpoint_status(endpoint)

    def settle(self, plan: Plan) -> dict[str, Any] | None:
        """Waits out a status that changes by itself (Updating, Deleting, Stopping…);
        returns the resource's description then (None when it is gone)."""
        moving = NOTEBOOK_MOVING if plan.change.kind is Kind.NOTEBOOK_STOP else ENDPOINT_MOVING
        found, status = self.look(plan)
        if status in moving:
            return self.wait(plan, "", settled=True)
        return found

    def in_target_shape(self, plan: Plan) -> tuple[bool, str]:
        """Whether the resource is where the execution takes it, and its status in words."""
        return self._in_shape(plan, True)

    def _in_shape(self, plan: Plan, target: bool) -> tuple[bool, str]:
        change, forward = plan.change, plan.direction is Direction.FORWARD
        found, status = self.look(plan)
        words = "gone" if status == GONE else status
        if change.kind is Kind.NOTEBOOK_STOP:
            return status == (STOPPED if forward == target else IN_SERVICE), words
        if change.kind is Kind.ENDPOINT_DELETE:
            if forward == target:
                return found is None, words
            on_config = (
                found is not None and found.get("EndpointConfigName") == change.endpoint_config
            )
            return status == IN_SERVICE and on_config, words
        if found is None or status != IN_SERVICE:
            return False, words
        if change.kind is Kind.ENDPOINT_COUNT:
            count = variant_count(found, change.variant)
            wanted = plan.target_type if target else plan.original_type
            return str(count) == wanted, f"{words} with {count} instances"
        config = found.get("EndpointConfigName", "")
        wanted = configs(change, plan.direction)[1 if target else 0]
        return config == wanted, f"{words} on `{config}`"

    def wait(self, plan: Plan, wanted: str, *, settled: bool = False) -> dict[str, Any] | None:
        """Polls Describe (with the injected sleep and clock) until the status is ``wanted``
        (``GONE``: the resource no longer exists), or with ``settled`` until it no longer
        changes by itself. Raises ``ChangeError`` on a timeout or when it settles elsewhere
        (an endpoint ``Failed``, a notebook that stopped while starting)."""
        moving = NOTEBOOK_MOVING if plan.change.kind is Kind.NOTEBOOK_STOP else ENDPOINT_MOVING
        what = sagemaker_what(plan.change)
        deadline = self.clock() + self.timeout_s
        while True:
            found, status = self._look_tolerating_throttling(plan)
            if status and (status == wanted or (settled and status not in moving)):
                return found
            if status and status not in moving:
                reason = aws_words((found or {}).get("FailureReason", ""))
                raise ChangeError(f"{what} is {status}, not {wanted}. {reason}".strip())
            if self.clock() >= deadline:
                raise ChangeError(
                    f"{what} was still {status or 'unknown'} after {self.timeout_s:.0f} s "
                    f"waiting for {wanted or 'it to settle'}"
                )
            self.sleep(self.poll_s)

    def _look_tolerating_throttling(self, plan: Plan) -> tuple[dict[str, Any] | None, str]:
        try:
            return self.look(plan)
        except ClientError as error:
            if throttled(error):
                return None, ""
            raise

    # --- calls -----------------------------------------------------------------------

    def call(self, plan: Plan, action: str, note: dict[str, Any] | None, **params: Any) -> Any:
        """One mutating SageMaker call, audited (``sagemaker.<Action>``) with its result and
        ``note`` (what the call alone does not say, e.g. a deleted endpoint's tags)."""
        return self.records.call(
            plan, "sagemaker", action, note=note, error_words=explain, **params
        )

    def would_call(self, plan: Plan) -> list[str]:
        """What a real execution would call, in words, for a dry run."""
        change, name = plan.change, f"`{plan.instance_id}`"
        forward = plan.direction is Direction.FORWARD
        if change.kind is Kind.ENDPOINT_DELETE and forward:
            tags = _tags(plan)
            return [
                f"called sagemaker:DeleteEndpoint on {name} (its {len(tags)} tags recorded "
                f"for the revert; endpoint config `{change.endpoint_config}` and model kept)",
                "waited until it was gone",
            ]
        if change.kind is Kind.ENDPOINT_DELETE:
            return [
                f"called sagemaker:CreateEndpoint {name} from endpoint config "
                f"`{change.endpoint_config}` with its {len(change.tags)} tags",
                "waited until it was InService",
            ]
        if change.kind is Kind.ENDPOINT_COUNT:
            return [
                f"called sagemaker:UpdateEndpointWeightsAndCapacities on {name} to set variant "
                f"{change.variant} to {plan.target_type} instances (from {plan.original_type})",
                "waited until it was InService",
            ]
        if change.kind is Kind.ENDPOINT_CONFIG:
            original, target = configs(change, plan.direction)
            made = (
                [
                    f"called sagemaker:CreateEndpointConfig `{target}` (a copy of `{original}` "
                    f"with variant {change.variant} on {plan.target_type})"
                ]
                if forward
                else []
            )
            return [
                *made,
                f"called sagemaker:UpdateEndpoint on {name} to use `{target}` (blue/green: "
                "SageMaker rolls it back by itself if the new fleet fails)",
                "waited until it was InService",
            ]
        action = "StopNotebookInstance" if forward else "StartNotebookInstance"
        wanted = STOPPED if forward else IN_SERVICE
        return [f"called sagemaker:{action} on {name}", f"waited until it was {wanted}"]


def _tags(plan: Plan) -> dict[str, str]:
    """The endpoint's tags: kept on the change, or read by this execution's validation."""
    return plan.change.tags or dict(json.loads(plan.claim_fields.get("resource_tags", "{}")))


def _counts(plan: Plan) -> dict[str, int]:
    """The deleted endpoint's instance counts: kept on the change, or read by validation."""
    return plan.change.counts or dict(json.loads(plan.claim_fields.get("resource_counts", "{}")))


def _in_service(endpoint: dict[str, Any] | None) -> dict[str, Any]:
    if endpoint is None:
        raise MustNotRun("the endpoint no longer exists.")
    status = endpoint_status(endpoint)
    if status in ENDPOINT_MOVING:
        raise NotNow(f"the endpoint is {status}; try again once it is InService.")
    if status != IN_SERVICE:
        raise MustNotRun(f"the endpoint is {status}, not InService.")
    return endpoint


def _on_config(endpoint: dict[str, Any], expected: str) -> None:
    actual = endpoint.get("EndpointConfigName", "")
    if actual != expected:
        raise MustNotRun(
            f"the endpoint now uses endpoint config `{actual}`, not `{expected}`; the "
            "recommendation is out of date."
        )

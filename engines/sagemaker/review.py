"""A team's SageMaker inventory reviewed in one call: every rule, biggest saving first.

``review_inventory`` puts ``inventory`` (what the team runs), ``metrics`` (how much each
endpoint variant was called) and ``recommendations`` (the rules) together. It is pure: the
caller fetches the inventory and the traffic (``list_inventory``, ``fetch_endpoint_traffic``)
with its own clients and passes them in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace

from engines.sagemaker.models import (
    EndpointTraffic,
    Inventory,
    NotebookActivity,
    SageMakerRecommendation,
)
from engines.sagemaker.prices import SageMakerPriceBook
from engines.sagemaker.recommendations import (
    review_endpoint,
    review_notebook,
    review_training_job,
)


def review_inventory(
    inventory: Inventory,
    traffic: Mapping[tuple[str, str], EndpointTraffic],
    *,
    prices: SageMakerPriceBook,
    now: dt.datetime,
    timezone: str,
    notebook_activity: Mapping[str, NotebookActivity] | None = None,
    period_days: int = 30,
) -> list[SageMakerRecommendation]:
    """Every recommendation for the team's endpoints, notebooks and training jobs.

    Args:
        inventory: from ``engines.sagemaker.inventory.list_inventory``.
        traffic: (endpoint, variant) -> its traffic (``fetch_endpoint_traffic``).
        prices: the SageMaker price book.
        now: the current time, timezone-aware.
        timezone: the team's time zone, for notebooks left running after hours.
        notebook_activity: notebook name -> its recent CPU peak; notebooks without one are
            not judged.
        period_days: the training period's length in days.

    Returns:
        The recommendations, the largest monthly saving first, each carrying the team.
    """
    found: list[SageMakerRecommendation] = []
    for endpoint in inventory.endpoints:
        by_variant = {
            variant.name: traffic[(endpoint.name, variant.name)]
            for variant in endpoint.variants
            if (endpoint.name, variant.name) in traffic
        }
        found.extend(review_endpoint(endpoint, by_variant, prices=prices, now=now))
    activity = notebook_activity or {}
    for notebook in inventory.notebooks:
        rec = review_notebook(
            notebook, activity.get(notebook.name), prices=prices, now=now, timezone=timezone
        )
        if rec is not None:
            found.append(rec)
    for job in inventory.training_jobs:
        rec = review_training_job(job, prices=prices, period_days=period_days)
        if rec is not None:
            found.append(rec)
    found.sort(key=lambda rec: (-rec.monthly_saving, rec.kind, rec.name))
    return [replace(rec, team=inventory.team) for rec in found]


def recommendations_as_json(recs: list[SageMakerRecommendation]) -> list[dict[str, object]]:
    """The recommendations as plain JSON values (Decimals as strings), for ``--json``."""
    return [
        {
            "kind": rec.kind,
            "name": rec.name,
            "variant": rec.variant or None,
            "finding": rec.finding.value,
            "action": rec.action.value,
            "from": f"{rec.current_count} x {rec.current_type}",
            "to": f"{rec.recommended_count} x {rec.recommended_type}"
            if rec.recommended_type
            else None,
            "monthly_saving": str(rec.monthly_saving),
            "risk": rec.risk.value if rec.risk else None,
            "reason": rec.reason,
            "risk_note": rec.risk_note,
            "evidence": list(rec.evidence),
        }
        for rec in recs
    ]

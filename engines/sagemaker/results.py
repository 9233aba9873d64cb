"""``/cost rightsize``'s answer: EC2's recommendations with the team's SageMaker ones next to
them, each with the change behind its buttons, and why SageMaker was skipped where it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.rightsizing.models import RightsizeResult
from engines.sagemaker.models import SageMakerRecommendation
from engines.sagemaker.review import recommendations_as_json


@dataclass(frozen=True)
class RightsizeAnswer:
    """EC2's ``RightsizeResult`` and the SageMaker proposals of the same teams.

    Args:
        ec2: the instances' recommendations (``engines.rightsizing.models``).
        sagemaker: (change id, recommendation), biggest saving first; the id is "" for
            advice only (managed spot, checkpoints) or nothing to save.
        sagemaker_notes: one sentence per place SageMaker was skipped, or found nothing.
    """

    ec2: RightsizeResult
    sagemaker: tuple[tuple[str, SageMakerRecommendation], ...] = ()
    sagemaker_notes: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return self.ec2.subject

    def as_json(self) -> dict[str, Any]:
        """EC2's JSON, plus ``sagemaker`` (each recommendation with its ``change``) and
        ``sagemaker_notes``."""
        rows = recommendations_as_json([rec for _, rec in self.sagemaker])
        return {
            **self.ec2.as_json(),
            "sagemaker": [
                {**row, "change": change_id or None}
                for (change_id, _), row in zip(self.sagemaker, rows, strict=True)
            ],
            "sagemaker_notes": list(self.sagemaker_notes),
        }

"""SageMaker cards on the right-sizing message: what, the finding, from → to, the saving, the
risk and the evidence, in the same shape as an instance's card (pure builders).

``handlers.rightsizing.blocks`` puts these next to the EC2 cards and adds the buttons; this
module only says what a SageMaker recommendation, a change's verb and its revert mean.
"""

from __future__ import annotations

from collections.abc import Sequence

from engines.changes.models import SAGEMAKER_KINDS, Change, Kind
from engines.sagemaker.models import SageMakerAction, SageMakerRecommendation
from engines.sagemaker.recommendations import ASSUMED_SPOT_DISCOUNT
from engines.words import plural, risk_label
from handlers.blocks.common import clip, escape, money

SECTION_LIMIT = 3000  # Slack's section text limit
KIND_WORDS = {"endpoint": "endpoint", "notebook": "notebook", "training-job": "training job"}
VERBS = {Kind.STOP: "Stop", Kind.NOTEBOOK_STOP: "Stop", Kind.ENDPOINT_DELETE: "Delete"}
"""The first button's word for a kind of change; "Approve" for the others."""
TRAINING_ADVICE = (SageMakerAction.USE_MANAGED_SPOT, SageMakerAction.ADD_CHECKPOINTS)


def verb_for(kind: Kind) -> str:
    """ "Delete" for an idle endpoint, "Stop" for an idle instance or notebook, else
    "Approve"."""
    return VERBS.get(kind, "Approve")


def sagemaker_kind(rec: SageMakerRecommendation) -> Kind | None:
    """The change a recommendation makes; None for advice only (managed spot, checkpoints)."""
    return SAGEMAKER_KINDS.get(rec.action)


def sagemaker_card_text(rec: SageMakerRecommendation, *, icon: str = "") -> str:
    """The card's mrkdwn: resource, finding, from → to, saving and risk, reason, evidence
    lines, the risk note, and (training) the spot discount assumed. At most 3,000 chars."""
    what = f"{KIND_WORDS.get(rec.kind, rec.kind)} {escape(rec.name)}"
    variant = f" (variant `{escape(rec.variant)}`)" if rec.variant else ""
    risk = f" · {risk_label(rec.risk)}" if rec.risk else ""
    saving = f"*Saves {money(rec.monthly_saving)}/month*{risk}"
    if rec.action in TRAINING_ADVICE:
        saving = (
            f"*Saves about {money(rec.monthly_saving)}/month*{risk} · assumes spot "
            f"{ASSUMED_SPOT_DISCOUNT * 100:.0f}% below on-demand"
        )
    lines = [
        f"{icon} *{what}*{variant} {_finding_words(rec)}: {_target(rec)}".lstrip(),
        saving,
        escape(rec.reason),
        *(f"• {escape(line)}" for line in rec.evidence),
    ]
    if rec.risk_note:
        lines.append(f":warning: {escape(rec.risk_note)}")
    if sagemaker_kind(rec) is None:
        about = "endpoint's autoscaling" if rec.kind == "endpoint" else "training job's code"
        lines.append(f"_Advice for the {about}: costbot changes nothing here._")
    return clip("\n".join(lines), SECTION_LIMIT)


def _finding_words(rec: SageMakerRecommendation) -> str:
    """ "is idle", "is over-provisioned", or for a training job "ran on demand"."""
    if rec.action in TRAINING_ADVICE:
        return "ran on demand"
    return f"is {rec.finding.value}"


def _target(rec: SageMakerRecommendation) -> str:
    count, kind = rec.current_count, f"`{rec.current_type}`"
    if rec.action is SageMakerAction.DELETE_ENDPOINT:
        kept = f", config `{escape(rec.config_name)}` kept" if rec.config_name else ""
        return f"delete it ({plural(count, 'instance')} → none{kept})"
    if rec.action is SageMakerAction.SET_INSTANCE_COUNT:
        return f"{count} → {rec.recommended_count} × {kind}"
    if rec.action is SageMakerAction.SWITCH_ENDPOINT_CONFIG:
        return f"{kind} → `{rec.recommended_type}` (× {count}, in a new endpoint config)"
    if rec.action is SageMakerAction.STOP_NOTEBOOK:
        return f"stop it ({kind})"
    if rec.action is SageMakerAction.LOWER_AUTOSCALING_MIN:
        return f"{count} → {rec.recommended_count} × {kind}, once autoscaling allows it"
    if rec.action is SageMakerAction.ADD_CHECKPOINTS:
        return f"add checkpoints, then train on managed spot ({count} × {kind})"
    return f"train on managed spot ({count} × {kind})"


def revert_text(change: Change) -> str:
    """What Revert does to ``change``, for its confirmation dialog (plain text)."""
    config = change.endpoint_config or "its saved config"
    texts = {
        Kind.STOP: "The instance is started again.",
        Kind.RESIZE: ("The instance is stopped, set back to its original type and started again."),
        Kind.ENDPOINT_DELETE: (
            f"The endpoint is re-created from {config}; it answers again once it is in "
            "service, after several minutes."
        ),
        Kind.ENDPOINT_COUNT: (
            f"Variant {change.variant} goes back to {change.from_type} instances."
        ),
        Kind.ENDPOINT_CONFIG: (
            f"The endpoint switches back to {config} ({change.from_type}), blue/green as before."
        ),
        Kind.NOTEBOOK_STOP: "The notebook is started again; it takes a few minutes.",
    }
    return clip(texts[change.kind], 300)


def summary_note(notes: Sequence[str]) -> str:
    """One line for every place SageMaker was skipped or found nothing."""
    return clip("SageMaker: " + " · ".join(notes), SECTION_LIMIT)

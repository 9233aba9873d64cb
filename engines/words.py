"""The words people read: labels for stored values, plurals, source names, echoed input.

One place for the word guide (``docs/WORDS.md``): engines and handlers both build their
sentences from these helpers, so "risk VeryLow", "start_stop" or "2 change(s)" never reach
a person. Pure functions of strings; nothing here knows Slack.
"""

from __future__ import annotations

DONE, INPUT, FAILED = ":white_check_mark:", ":warning:", ":x:"
"""One emoji per kind of reply: done, about your input, we (or AWS) failed."""

ECHO_LIMIT = 80
"""At most this many characters of what someone typed are repeated back to them."""

_IRREGULAR = {"day": "days", "change": "changes", "GPU": "GPUs", "person": "people"}


def plural(count: int, singular: str, plural_form: str = "") -> str:
    """``1 change``, ``2 changes``, ``0 schedules``: the count and the right form, never "(s)".

    Args:
        count: how many.
        singular: the word for one (``"schedule"``).
        plural_form: the word for several when adding "s" or "es" is wrong.
    """
    return f"{count:,} {singular if count == 1 else plural_form or plural_of(singular)}"


def plural_of(word: str) -> str:
    """``schedule`` → ``schedules``, ``match`` → ``matches``, ``policy`` → ``policies``."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in set("aeiou"):
        return word[:-1] + "ies"
    return word + "s"


RISK_LABELS = {
    "VeryLow": "very low risk",
    "Low": "low risk",
    "Medium": "medium risk",
    "High": "high risk",
}


def risk_label(risk: str | None) -> str:
    """AWS Compute Optimizer's performance risk (``VeryLow``) as words (``very low risk``)."""
    if not risk:
        return ""
    return RISK_LABELS.get(str(risk), f"{_spaced(str(risk))} risk")


MODE_LABELS = {"start_stop": "stops and starts", "stop_only": "stops only"}


def mode_label(mode: str) -> str:
    """An off-hours schedule's mode (``start_stop``) as words (``stops and starts``)."""
    return MODE_LABELS.get(str(mode), str(mode).replace("_", " "))


ROLE_LABELS = {"approver": "you approve its changes", "member": "you are a member"}


def role_label(role: str) -> str:
    """A person's role in a team (``approver``) as a phrase (``you approve its changes``)."""
    return ROLE_LABELS.get(role, f"you are a {role}")


SOURCE_NAMES = {
    "ce": "AWS Cost Explorer",
    "focus": "FOCUS billing export",
    "cur": "CUR 2.0 billing export",
    "athena": "CUR 2.0 billing export in Amazon Athena",
    "files": "billing export files",
}


def source_name(source: str) -> str:
    """The one display name of a cost source kind (``focus`` → ``FOCUS billing export``)."""
    return SOURCE_NAMES.get(source, source)


AUDIT_ACTIONS = {
    "change.proposed": "proposed",
    "change.approved": "approved",
    "change.first_approval": "approved (first of two)",
    "change.scheduled": "approved for later",
    "change.denied": "denied",
    "change.snoozed": "snoozed",
    "change.dismissed": "dismissed",
    "change.expired": "withdrew (its window ended before it ran)",
    "change.forward.started": "started",
    "change.revert.started": "started reverting",
    "change.done": "finished",
    "change.reverted": "reverted",
    "change.rolling_back": "is rolling back",
    "change.rolled_back": "rolled back",
    "change.failed": "FAILED",
    "change.invalid": "did not start",
    "change.recovered": "recovered after a restart",
    "change.dry_run.done": "rehearsed (dry run worked)",
    "change.dry_run.failed": "rehearsed (dry run failed)",
    "change.approval_asked": "asked for approval of",
    "command": "asked",
    "schedule.stop": "off-hours schedule stopped",
    "schedule.start": "off-hours schedule started",
    "schedule.created": "created the off-hours schedule",
    "schedule.paused": "paused the off-hours schedule",
    "schedule.resumed": "resumed the off-hours schedule",
    "schedule.override.keep": "kept running",
    "schedule.override.skip": "skipped tomorrow for",
    "spot.plan": "downloaded a fleet plan for",
    "alerts.snoozed": "snoozed the budget alerts of",
}


def audit_action_label(action: str) -> str:
    """An audit record's action (``change.proposed``, ``ec2.stop_instances``) as words."""
    if action in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[action]
    for prefix, service in (("ec2.", "EC2"), ("sagemaker.", "SageMaker")):
        if action.startswith(prefix):
            call = action.removeprefix(prefix)  # ``StopInstances`` or ``stop_instances``
            if "_" in call or call.islower():
                call = "".join(part.capitalize() for part in call.split("_"))
            return f"called {service} {call} on"
    if action.startswith("change.") and action.endswith("_refused"):
        return f"was refused: {action[7:-8].replace('_', ' ')}"
    return action.removeprefix("change.").replace("_", " ").replace(".", " ")


def change_summary(kind: str, from_type: str, to_type: str) -> str:
    """What a change does, in words: ``stop (idle)`` or ``c5.4xlarge → c5.xlarge``.

    Args:
        kind: ``resize``, ``stop`` or a SageMaker kind (``sagemaker-…``; "" for records from
            before kinds: a stop keeps the type).
        from_type: the type before (an endpoint variant's instance count for a count change).
        to_type: the type after (the same type for a stop or a delete).
    """
    sagemaker = {
        "sagemaker-endpoint-delete": "delete endpoint (idle)",
        "sagemaker-notebook-stop": "stop notebook (idle)",
        "sagemaker-endpoint-count": f"{from_type or '?'} → {to_type or '?'} instances",
    }
    if kind in sagemaker:
        return sagemaker[kind]
    if kind == "stop" or (not kind and from_type and from_type == to_type):
        return "stop (idle)"
    return f"{from_type or '?'} → {to_type or '?'}"


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """What someone typed, repeated back: one line, at most ``limit`` characters (…)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def mrkdwn_safe(text: str) -> str:
    """Cloud or user text made safe for Slack mrkdwn (its three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _spaced(word: str) -> str:
    """``VeryLow`` → ``very low``."""
    out = "".join(f" {c.lower()}" if c.isupper() else c for c in word).strip()
    return out.replace("_", " ")

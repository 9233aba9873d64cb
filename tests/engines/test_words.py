"""The word guide's helpers (docs/WORDS.md): what a person reads instead of stored values."""

from __future__ import annotations

import re

import pytest

from engines.costs.sources.athena import AthenaSource
from engines.costs.sources.cost_explorer import CostExplorerSource
from engines.costs.sources.cur import CurFileSource
from engines.costs.sources.focus import FocusFileSource
from engines.rightsizing.models import Risk
from engines.schedules.model import Mode
from engines.words import (
    audit_action_label,
    change_summary,
    echo,
    mode_label,
    plural,
    risk_label,
    role_label,
    source_name,
)


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [
        (0, "schedule", "0 schedules"),
        (1, "change", "1 change"),
        (2, "change", "2 changes"),
        (1, "resource", "1 resource"),
        (5, "resource", "5 resources"),
        (3, "match", "3 matches"),
        (2, "policy", "2 policies"),
        (2, "day", "2 days"),
        (1200, "instance", "1,200 instances"),
    ],
)
def test_plurals_are_real_words(count, word, expected):
    assert plural(count, word) == expected
    assert "(s)" not in plural(count, word)


def test_every_risk_reads_as_words():
    labels = {risk: risk_label(risk) for risk in Risk}
    assert labels[Risk.VERY_LOW] == "very low risk"
    assert labels[Risk.HIGH] == "high risk"
    for label in labels.values():
        assert re.fullmatch(r"[a-z ]+ risk", label), label  # never "VeryLow"
    assert risk_label(None) == ""


def test_every_mode_reads_as_words():
    assert mode_label(Mode.START_STOP) == "stops and starts"
    assert mode_label(Mode.STOP_ONLY) == "stops only"
    assert all("_" not in mode_label(mode) for mode in Mode)


def test_roles_read_as_phrases():
    assert role_label("approver") == "you approve its changes"
    assert role_label("member") == "you are a member"


@pytest.mark.parametrize(
    "source", [FocusFileSource, CurFileSource, AthenaSource, CostExplorerSource]
)
def test_every_cost_source_has_one_display_name(source):
    name = source_name(source.name)
    assert name != source.name and name[0].isupper(), name
    assert source_name("focus") == "FOCUS billing export"


def test_an_idle_stop_reads_as_a_stop_not_as_the_same_type_twice():
    assert change_summary("stop", "c5.xlarge", "c5.xlarge") == "stop (idle)"
    assert change_summary("", "c5.xlarge", "c5.xlarge") == "stop (idle)"  # records before kinds
    assert change_summary("resize", "c5.4xlarge", "c5.xlarge") == "c5.4xlarge → c5.xlarge"
    assert change_summary("sagemaker-endpoint-count", "4", "2") == "4 → 2 instances"
    assert change_summary("sagemaker-endpoint-delete", "ml.m5.xlarge", "ml.m5.xlarge") == (
        "delete endpoint (idle)"
    )
    assert change_summary("sagemaker-notebook-stop", "ml.t3.xlarge", "ml.t3.xlarge") == (
        "stop notebook (idle)"
    )
    assert change_summary("sagemaker-endpoint-config", "ml.m5.xlarge", "ml.m5.large") == (
        "ml.m5.xlarge → ml.m5.large"
    )


def test_audit_actions_read_as_words():
    assert audit_action_label("change.proposed") == "proposed"
    assert audit_action_label("change.denied") == "denied"
    assert audit_action_label("ec2.stop_instances") == "called EC2 StopInstances on"
    assert audit_action_label("ec2.StopInstances") == "called EC2 StopInstances on"
    assert audit_action_label("sagemaker.DeleteEndpoint") == "called SageMaker DeleteEndpoint on"
    assert audit_action_label("change.deny_refused") == "was refused: deny"
    # costbot withdraws a change whose maintenance window ended: "costbot expired web-1" is no
    # sentence, and does not say why
    assert audit_action_label("change.expired") == "withdrew (its window ended before it ran)"
    for action in ("change.proposed", "change.dry_run.done", "schedule.override.skip"):
        assert "." not in audit_action_label(action) and "_" not in audit_action_label(action)


def test_echoed_input_is_one_line_of_at_most_80_characters():
    long = "x" * 5000
    assert len(echo(long)) == 80 and echo(long).endswith("…")
    assert echo("nlp") == "nlp"
    assert echo("two\nlines") == "two lines"
    assert echo("y" * 80) == "y" * 80

"""The digest's unit cost section: for teams with SageMaker endpoint lines, ``/cost unit``'s own
answer (cost per 1,000 invocations per model, with the trend); nothing, and no CloudWatch
call, for the others; a digest all the same when CloudWatch fails.

The billing export and the CloudWatch metrics are ``tests/engines/costs/test_unit_cost.py``'s
(fraud-detection: fraud-scorer and fraud-shadow; nlp: ner-tagger; recommendations: none).
The billing date is 2026-11-20: month to date is Nov 1 – 19.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from engines.config.teams import find_team, load_config
from engines.costs.query import CostQuery, DimensionKind
from engines.costs.sources.focus import FocusFileSource
from engines.costs.sources.rollup import RollupSource
from engines.costs.unit_cost import endpoint_owners, unit_cost
from engines.digests.digest import build_digest, unit_cost_period
from engines.models import Period
from tests.conftest import DEMO_TEAMS
from tests.engines.costs.test_unit_cost import NOV, REGION, put_invocations, write_export

TODAY = dt.date(2026, 11, 20)
CONFIG = load_config(DEMO_TEAMS.read_text(), filename="teams.toml")


class AskedSource:
    """The export file source, remembering each question that reads resource ids."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.by_resource: list[CostQuery] = []

    def costs(self, query: CostQuery) -> Any:
        if any(d.kind is DimensionKind.RESOURCE for d in query.group_by):
            self.by_resource.append(query)
        return self.inner.costs(query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def world(tmp_path):
    with mock_aws():
        put_invocations(boto3.client("cloudwatch", region_name=REGION))
        source = AskedSource(FocusFileSource(str(write_export(tmp_path / "export.csv"))))
        clients: Counter[str] = Counter()
        team_now = [""]

        def cloudwatch_for(account: str, region: str) -> Any:
            clients[team_now[0]] += 1
            return boto3.client("cloudwatch", region_name=region)

        def digest(team: str, cloudwatch: Any = cloudwatch_for):
            team_now[0] = team
            return build_digest(source, CONFIG.teams, CONFIG.shared, team=find_team(
                CONFIG.teams, team), today=TODAY, cloudwatch_for=cloudwatch)  # fmt: skip

        yield digest, source, clients, cloudwatch_for


def test_a_team_with_endpoints_gets_unit_cost_answer_the_same_as_cost_unit(world):
    digest, source, _, cloudwatch_for = world
    section = digest("fraud-detection").unit_cost

    asked = unit_cost(source, CONFIG.teams, subject="fraud-detection",
                      period=Period(*NOV, "month to date"), cloudwatch_for=cloudwatch_for,
                      today=TODAY)  # fmt: skip

    assert section is not None and section.answer is not None and section.problem == ""
    assert (section.period.start, section.period.end) == NOV
    assert section.answer.models == asked.models  # one number per fact
    assert section.answer.as_json()["models"] == asked.as_json()["models"]
    [xgb, v2] = section.answer.models
    assert xgb.name == "fraud-xgb" and xgb.now.per_thousand is not None
    assert xgb.change_pct is not None and xgb.change_pct < 0  # cheaper than in October
    assert v2.name == "fraud-xgb-v2" and v2.now.invocations == 0


def test_teams_without_endpoints_get_no_section_and_no_cloudwatch_call(world):
    digest, source, clients, _ = world
    digests = {name: digest(name) for name in ("recommendations", "fraud-detection", "nlp")}

    assert digests["recommendations"].unit_cost is None
    assert digests["recommendations"].as_json()["unit_cost"] is None
    assert digests["nlp"].unit_cost is not None  # ner-tagger
    assert clients == Counter({"fraud-detection": 1, "nlp": 1})
    # recommendations: one organisation-wide question over endpoint lines, never its own
    # by-resource question; the two others ask theirs (now and the days before).
    wide = [q for q in source.by_resource if q.cost_filter.resource_contains]
    own = [q for q in source.by_resource if not q.cost_filter.resource_contains]
    assert {q.cost_filter.resource_contains for q in wide} == {":endpoint/"}
    assert {q.period for q in wide} == {unit_cost_period(TODAY)}
    assert {q.cost_filter.tags["team"] for q in own} == {"fraud-detection", "nlp"}


def test_cloudwatch_failing_leaves_the_digest_whole_and_says_so(world):
    digest, _, _, _ = world

    def refused(account: str, region: str) -> Any:
        class Denied:
            def get_paginator(self, name: str) -> Any:
                error = {"Error": {"Code": "AccessDenied", "Message": "no cloudwatch:ListMetrics"}}
                raise ClientError(error, "ListMetrics")

        return Denied()

    broken = digest("fraud-detection", refused)
    whole = digest("fraud-detection")

    assert broken.figures == whole.figures and broken.movers == whole.movers
    section = broken.unit_cost
    assert section is not None and section.answer is None
    assert section.problem.startswith("I could not read the invocations from CloudWatch (")
    assert "AccessDenied" in section.problem
    shown = broken.as_json()["unit_cost"]
    assert shown["problem"] == section.problem and shown["models"] == []


def test_endpoint_owners_follow_each_teams_rule_from_one_question(world, tmp_path):
    _, source, _, _ = world
    period = Period(*NOV)
    assert endpoint_owners(source, CONFIG.teams, period=period) == {"fraud-detection", "nlp"}
    rollup = RollupSource(source.inner, path=tmp_path / "rollup.duckdb", tag_keys=("team",))
    rollup.refresh()
    # The rollup holds no resource ids: the files answer, with the same owners.
    assert endpoint_owners(rollup, CONFIG.teams, period=period) == {"fraud-detection", "nlp"}
    october = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 2))
    assert endpoint_owners(source, CONFIG.teams, period=october) == {"fraud-detection", "nlp"}
    empty = Period(dt.date(2026, 9, 1), dt.date(2026, 9, 2))
    assert endpoint_owners(source, CONFIG.teams, period=empty) == frozenset()


def test_a_source_that_cannot_pick_endpoint_lines_cannot_tell_the_owners(world):
    _, source, _, _ = world

    class TwoDimensions(AskedSource):  # as Cost Explorer: two groupings at most
        max_dimensions = 2

    assert endpoint_owners(TwoDimensions(source.inner), CONFIG.teams, period=Period(*NOV)) is None

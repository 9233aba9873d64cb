"""Unit cost: what 1,000 invocations of a SageMaker endpoint cost, per endpoint and per model.

The cost comes from the billing data: the lines of real-time endpoints (their resource id
is the endpoint's ARN, ``arn:aws:sagemaker:<region>:<account>:endpoint/<name>``), grouped by
resource and by the ``model_name`` tag. The invocations come from CloudWatch
(``AWS/SageMaker`` ``Invocations``, Sum per ``EndpointName`` and ``VariantName``), asked in
batches of ``GetMetricData`` over the same days. The period is compared as every cost
question is (``engines.costs.asking.ask_about``): the same covered days before, or no trend.

The digest shows the same answer for teams that have endpoints (``engines.digests.digest``);
``endpoint_owners`` tells which teams those are from one organisation-wide question over the
endpoint lines alone, so a morning of digests neither scans the billing data by resource nor
calls CloudWatch for a team without endpoints.

Pure apart from the cost source and the CloudWatch clients it is handed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engines.config.teams import find_team
from engines.costs.answers import DEFAULT_CURRENCY, NO_VALUE
from engines.costs.asking import ask_about, team_filter
from engines.costs.query import CostQuery, Dimension, DimensionKind
from engines.costs.sources.base import CostFilter
from engines.costs.sources.protocol import Source
from engines.errors import CostSourceError, UnknownTeamError, UserInputError
from engines.models import Metric, Period, Team
from engines.words import echo

MODEL_TAG = "model_name"
"""The tag that names the model an endpoint serves."""
NAMESPACE, METRIC = "AWS/SageMaker", "Invocations"
MAX_QUERIES = 500  # GetMetricData: queries per call
MAX_DATAPOINTS = 100_800  # GetMetricData: datapoints per call
DEFAULT_VARIANT = "AllTraffic"  # the variant name SageMaker gives when none is chosen
_DAY_SECONDS = 86_400
_THOUSAND = Decimal(1000)
_ZERO = Decimal(0)
# "(?:sagemaker)": a bare colon-word-colon would read as an emoji code to the workspace check.
_ENDPOINT_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:sagemaker):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):endpoint/(?P<name>.+)",
    re.IGNORECASE,
)

# Sources show a named resource as "name (id)"; SageMaker names hold no parentheses.
_NAMED_RESOURCE = re.compile(r".+ \((?P<id>[^()]+)\)")
ENDPOINT_MARK = ":endpoint/"
"""What every endpoint's ARN contains: a coarse cut the billing data is asked with;
``_ENDPOINT_ARN`` then decides, as for ``unit_cost``."""

CloudWatchFor = Callable[[str, str], Any]
"""A CloudWatch client for (account id, region)."""


@dataclass(frozen=True)
class Usage:
    """Cost and invocations of one period; ``per_thousand`` is None without invocations."""

    cost: Decimal
    invocations: int

    @property
    def per_thousand(self) -> Decimal | None:
        if self.invocations <= 0:
            return None
        return self.cost * _THOUSAND / Decimal(self.invocations)


@dataclass(frozen=True)
class UnitLine:
    """One endpoint or one model: this period, and the period compared with (or None)."""

    name: str
    now: Usage
    before: Usage | None = None
    model: str = ""  # an endpoint's model (the ``model_name`` tag), "" for a model's line
    endpoints: tuple[str, ...] = ()  # a model's endpoints
    arn: str = ""

    @property
    def change_pct(self) -> Decimal | None:
        """The change of the cost per 1,000 invocations, in percent; None without a fair
        comparison or without invocations on either side."""
        if self.before is None:
            return None
        now, then = self.now.per_thousand, self.before.per_thousand
        if now is None or then is None or not then:
            return None
        return (now - then) / then * 100

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **({"arn": self.arn, "model": self.model} if self.arn else {}),
            **({"endpoints": list(self.endpoints)} if not self.arn else {}),
            "cost": str(self.now.cost),
            "invocations": self.now.invocations,
            "cost_per_1000": _cents(self.now.per_thousand),
            "previous": None
            if self.before is None
            else {
                "cost": str(self.before.cost),
                "invocations": self.before.invocations,
                "cost_per_1000": _cents(self.before.per_thousand),
            },
            "change_pct": _cents(self.change_pct),
        }


@dataclass(frozen=True)
class UnitCost:
    """``/cost unit``'s answer: per endpoint and per model, largest cost first."""

    subject: str
    period: Period
    previous_period: Period | None
    metric: Metric
    currency: str
    endpoints: tuple[UnitLine, ...]
    models: tuple[UnitLine, ...]
    notes: tuple[str, ...] = ()
    data_through: dt.date | None = None
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "period": {
                "start": str(self.period.start),
                "end": str(self.period.end),
                "label": self.period.label,
            },  # fmt: skip
            "previous_period": None
            if self.previous_period is None
            else {"start": str(self.previous_period.start), "end": str(self.previous_period.end)},
            "metric": self.metric.value,
            "currency": self.currency,
            "endpoints": [line.as_json() for line in self.endpoints],
            "models": [line.as_json() for line in self.models],
            "notes": list(self.notes),
            "data_through": str(self.data_through) if self.data_through else None,
            "source": self.source,
        }


CLOUDWATCH_DAYS_KEPT = 455
"""CloudWatch keeps 1-hour datapoints (a day's Sum) for 455 days."""


def unit_cost(
    source: Source,
    teams: Mapping[str, Team],
    *,
    subject: str,
    period: Period,
    cloudwatch_for: CloudWatchFor,
    metric: Metric = Metric.BILLED,
    today: dt.date | None = None,
) -> UnitCost:
    """The cost per 1,000 invocations of a team's endpoints, or of a model's.

    Args:
        source: where costs come from.
        teams: the teams file's teams.
        subject: a team (its rule picks the lines) or a model (the ``model_name`` tag).
        period: the period, clipped and compared as ``engines.costs.questions.team_cost``.
        cloudwatch_for: a CloudWatch client for an endpoint's account and region.
        metric: billed, effective or list.
        today: the billing date (UTC).

    Raises:
        UserInputError: neither a team nor a model seen in the billing data, with the
            closest names; or a period CloudWatch no longer holds the invocations of.
    """
    team = _team_named(teams, subject)
    noting, fair, notes = ask_about(source, period, today)
    period, before = fair.period, fair.previous
    kept_from = (today or period.end) - dt.timedelta(days=CLOUDWATCH_DAYS_KEPT)
    if period.start < kept_from:
        raise UserInputError(
            f"CloudWatch keeps a day's invocations for {CLOUDWATCH_DAYS_KEPT} days (15 "
            f"months), so I cannot count them before {kept_from:%b %-d, %Y}: ask about a "
            f"period from then on, e.g. `/cost unit {subject.strip()} last 90d`."
        )
    if before is not None and before.start < kept_from:
        last = before.end - dt.timedelta(days=1)
        notes = (*notes, f"No trend: CloudWatch no longer holds the invocations of "
                 f"{before.start:%b %-d, %Y} to {last:%b %-d}.")  # fmt: skip
        before = None
    cost_filter = team_filter(team) if team else CostFilter(tags={MODEL_TAG: subject.strip()})
    now = _endpoint_costs(noting, period, metric, cost_filter)
    if team is None and not any(now.values()):
        _refuse_unknown(noting, teams, subject, period, metric)
    then = _endpoint_costs(noting, before, metric, cost_filter) if before else {}
    currency = _main_currency(now)
    costs_now = now.get(currency, {})
    costs_then = then.get(currency, {})
    arns = sorted(costs_now.keys() | costs_then.keys())
    span = Period(before.start if before else period.start, period.end)
    counted = count_invocations(arns, span, cloudwatch_for)
    invocations_now = {arn: _within(days, period) for arn, days in counted.items()}
    invocations_then = (
        {arn: _within(days, before) for arn, days in counted.items()} if before else {}
    )

    endpoints: list[UnitLine] = []
    for arn in arns:
        models_now = costs_now.get(arn, {})
        models_then = costs_then.get(arn, {})
        cost_now = sum(models_now.values(), _ZERO)
        cost_then = sum(models_then.values(), _ZERO)
        model = max(models_now or models_then, key=lambda m: (models_now or models_then)[m])
        endpoints.append(
            UnitLine(
                name=_endpoint_name(arn),
                arn=arn,
                model=model,
                now=Usage(cost_now, invocations_now.get(arn, 0)),
                before=Usage(cost_then, invocations_then.get(arn, 0)) if before else None,
            )
        )
    endpoints.sort(key=lambda line: (-line.now.cost, line.name))
    notes += fair.notes + noting.notes()
    if not endpoints:
        notes += (f"No SageMaker endpoint costs of {subject.strip()} in this period.",)
    idle = [line.name for line in endpoints if line.now.cost and not line.now.invocations]
    if idle:
        notes += (f"No invocations in this period: {', '.join(idle)} (its cost serves nobody).",)
    return UnitCost(
        subject=team.name if team else subject.strip(),
        period=period,
        previous_period=before,
        metric=metric,
        currency=currency,
        endpoints=tuple(endpoints),
        models=_by_model(endpoints, compared=before is not None),
        notes=notes,
        data_through=fair.data_through,
        source=noting.name,
    )


def endpoint_owners(
    source: Source, teams: Mapping[str, Team], *, period: Period, metric: Metric = Metric.BILLED
) -> frozenset[str] | None:
    """The teams with SageMaker endpoint lines in ``period``, as ``unit_cost`` picks a team's
    lines (its tags and accounts), from one question over the endpoint lines of the whole
    organisation (grouped by resource, account and the teams' tag keys). A billing export
    answers it from the lines whose resource id looks like an endpoint's; asked again with
    the same period it is the source's remembered answer.

    Returns None when the source cannot pick lines by resource id (Cost Explorer) or group
    that finely: then only asking each team tells.
    """
    keys = tuple(sorted({key for team in teams.values() for key in team.tags}))
    group_by = (
        Dimension(DimensionKind.RESOURCE),
        Dimension(DimensionKind.ACCOUNT),
        *(Dimension(DimensionKind.TAG, key) for key in keys),
    )
    if source.max_dimensions is not None and len(group_by) > source.max_dimensions:
        return None
    endpoints_only = CostFilter(resource_contains=ENDPOINT_MARK)
    try:
        result = source.costs(CostQuery(period, metric, endpoints_only, group_by))
    except CostSourceError:
        return None
    lines = [
        (group.key[1], dict(zip(keys, group.key[2:], strict=True)))
        for group in result.groups
        if _ENDPOINT_ARN.search(group.key[0] or "")  # also "name (arn)"
    ]
    return frozenset(
        team.name
        for team in teams.values()
        if any(_picks(team_filter(team), account, tags) for account, tags in lines)
    )


def _picks(cost_filter: CostFilter, account: str, tags: Mapping[str, str]) -> bool:
    """Whether a line of ``account`` with ``tags`` passes ``cost_filter`` (tags and accounts),
    as the sources filter: every tag equal, the account one of them (when any)."""
    if cost_filter.accounts and account not in cost_filter.accounts:
        return False
    return all(tags.get(key) == value for key, value in cost_filter.tags.items())


def count_invocations(
    arns: list[str], period: Period, cloudwatch_for: CloudWatchFor
) -> dict[str, dict[dt.date, int]]:
    """Invocations per endpoint ARN and day (UTC) over ``period``, from CloudWatch.

    The variants of each endpoint are those CloudWatch lists (``ListMetrics``, one paginated
    call per account and region); an endpoint it does not list (no data in its last two
    weeks) is asked under SageMaker's default variant name. ``GetMetricData`` is called with
    at most 500 queries and 100,800 datapoints each (``Sum``, one datapoint a day).
    """
    by_place: dict[tuple[str, str], list[str]] = {}
    for arn in arns:
        match = _ENDPOINT_ARN.fullmatch(arn)
        if match:
            by_place.setdefault((match["account"], match["region"]), []).append(arn)
    counts: dict[str, dict[dt.date, int]] = {arn: {} for arn in arns}
    days = max((period.end - period.start).days, 1)
    batch = max(1, min(MAX_QUERIES, MAX_DATAPOINTS // days))
    for (account, region), place_arns in sorted(by_place.items()):
        client = cloudwatch_for(account, region)
        # An ARN lowercases the endpoint's name; CloudWatch keeps the name as created.
        names = {_endpoint_name(arn).lower(): arn for arn in place_arns}
        variants = _variants(client, set(names))
        queries = [
            (names[name], metric_dims)
            for name in sorted(names)
            for metric_dims in sorted(
                variants.get(name) or {(_endpoint_name(names[name]), DEFAULT_VARIANT)}
            )
        ]
        for first in range(0, len(queries), batch):
            chunk = queries[first : first + batch]
            for arn, day, value in _metric_data(client, chunk, period):
                counts[arn][day] = counts[arn].get(day, 0) + value
    return counts


def _variants(client: Any, names: set[str]) -> dict[str, set[tuple[str, str]]]:
    """(endpoint name, variant) as CloudWatch lists them, by lowercased endpoint name."""
    found: dict[str, set[tuple[str, str]]] = {}
    paginator = client.get_paginator("list_metrics")
    for page in paginator.paginate(Namespace=NAMESPACE, MetricName=METRIC):
        for listed in page.get("Metrics", []):
            dims = {d["Name"]: d["Value"] for d in listed.get("Dimensions", [])}
            name, variant = dims.get("EndpointName"), dims.get("VariantName")
            if name and name.lower() in names and variant and len(dims) == 2:
                found.setdefault(name.lower(), set()).add((name, variant))
    return found


def _metric_data(
    client: Any, chunk: list[tuple[str, tuple[str, str]]], period: Period
) -> list[tuple[str, dt.date, int]]:
    ids = {f"q{index}": arn for index, (arn, _) in enumerate(chunk)}
    queries = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": METRIC,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": _DAY_SECONDS,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, (_, (endpoint, variant)) in enumerate(chunk)
    ]
    start = dt.datetime.combine(period.start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), dt.UTC)
    found: list[tuple[str, dt.date, int]] = []
    token = ""
    while True:
        extra = {"NextToken": token} if token else {}
        response = client.get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end, **extra
        )
        for result in response.get("MetricDataResults", []):
            arn = ids[result["Id"]]
            for stamp, value in zip(result["Timestamps"], result["Values"], strict=False):
                found.append((arn, stamp.astimezone(dt.UTC).date(), int(round(value))))
        token = response.get("NextToken", "")
        if not token:
            return found


def _within(days: Mapping[dt.date, int], period: Period | None) -> int:
    if period is None:
        return 0
    return sum(count for day, count in days.items() if period.start <= day < period.end)


Costs = dict[str, dict[str, dict[str, Decimal]]]  # currency → endpoint ARN → model → amount


def _endpoint_costs(
    source: Source, period: Period, metric: Metric, cost_filter: CostFilter
) -> Costs:
    """Endpoint lines only: a resource id that is an endpoint's ARN (SageMaker's notebooks,
    training jobs and storage have other ids)."""
    dimensions = (Dimension(DimensionKind.RESOURCE), Dimension(DimensionKind.TAG, MODEL_TAG))
    result = source.costs(CostQuery(period, metric, cost_filter, dimensions))
    costs: Costs = {}
    for group in result.groups:
        arn, model = _resource_id(group.key[0] or ""), group.key[1] or NO_VALUE
        if not _ENDPOINT_ARN.fullmatch(arn):
            continue
        per_model = costs.setdefault(group.currency, {}).setdefault(arn, {})
        per_model[model] = per_model.get(model, _ZERO) + group.amount
    return costs


def _resource_id(key: str) -> str:
    """The resource id of a resource key: the key itself, or the id in "name (id)" (how the
    sources show a line whose billing data names its resource, as FOCUS's ResourceName and
    CUR's Name tag do)."""
    named = _NAMED_RESOURCE.fullmatch(key)
    return named["id"] if named else key


def _by_model(endpoints: list[UnitLine], *, compared: bool) -> tuple[UnitLine, ...]:
    grouped: dict[str, list[UnitLine]] = {}
    for line in endpoints:
        grouped.setdefault(line.model, []).append(line)
    models = []
    for model, lines in grouped.items():
        now = Usage(sum((x.now.cost for x in lines), _ZERO), sum(x.now.invocations for x in lines))
        before = None
        if compared:
            before = Usage(
                sum((x.before.cost for x in lines if x.before), _ZERO),
                sum(x.before.invocations for x in lines if x.before),
            )
        models.append(UnitLine(model, now, before, endpoints=tuple(line.name for line in lines)))
    return tuple(sorted(models, key=lambda line: (-line.now.cost, line.name)))


def _team_named(teams: Mapping[str, Team], subject: str) -> Team | None:
    try:
        return find_team(teams, subject)
    except UnknownTeamError:
        return None


def _refuse_unknown(
    source: Source, teams: Mapping[str, Team], subject: str, period: Period, metric: Metric
) -> None:
    """Raises: neither a team nor a model with endpoint costs in ``period``."""
    seen = _endpoint_costs(source, period, metric, CostFilter())
    models = sorted({m for by_arn in seen.values() for per in by_arn.values() for m in per}
                    - {NO_VALUE})  # fmt: skip
    wanted = subject.strip().lower()
    names = {name.lower(): name for name in [*teams, *models]}
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.6)
    close = close or [n for n in sorted(names) if wanted and n.startswith(wanted)][:1]
    did_you_mean = f" Did you mean `{names[close[0]]}`?" if close else ""
    known = "Models with endpoint costs: " + (", ".join(models) or "none in this period")
    raise UserInputError(
        f"'{echo(subject.strip())}' is neither a team nor a model (the `{MODEL_TAG}` tag) "
        f"with SageMaker endpoint costs in {period.describe()}.{did_you_mean}",
        hint=f"Teams: {', '.join(sorted(teams))}. {known}.",
    )


def _main_currency(costs: Costs) -> str:
    totals = {
        code: sum((abs(a) for per in by_arn.values() for a in per.values()), _ZERO)
        for code, by_arn in costs.items()
    }
    return max(totals, key=lambda code: totals[code]) if totals else DEFAULT_CURRENCY


def _endpoint_name(arn: str) -> str:
    match = _ENDPOINT_ARN.fullmatch(arn)
    return match["name"] if match else arn


def _cents(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))

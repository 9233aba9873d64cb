"""Cost allocation: every cost line goes to exactly one team, shared cost or "untagged".

Nothing is dropped and nothing is counted twice. For each currency (never added together)::

    sum over teams (direct + shared shares) + untagged + unsplit shared == the source's total

exactly, not just to the cent; ``CurrencyAllocation.check_invariant`` proves it and
``allocate`` calls it before returning.

Rules (the decisions, in one place):

* A rule (a team's or a shared cost's) is its ``tags`` and ``accounts``, read exactly as a
  ``CostFilter``: every tag must match AND, when accounts are given, the line's account must
  be one of them. So a team with only ``accounts`` claims whole accounts, a team with only
  ``tags`` claims tagged lines in any account, and a team with both claims its tagged lines
  in its accounts — the same lines a team's ``CostFilter`` asks the source for. A rule
  with neither matches nothing.
* Shared rules are checked first, in file order, then team rules, in file order. The first
  rule that matches takes the line. A line that other rules match too is reported in
  ``overlaps`` (under the rule that took it) and counted once.
* A line no rule matches is ``untagged``.
* A shared cost is split once per currency, over its whole amount in the period:

  - ``"proportional"``: by each sharing team's direct cost in the same currency. A team
    whose direct cost is zero or negative (credits exceed charges) weighs nothing. When no
    sharing team has a positive direct cost the cost stays *unsplit*, with the reason.
  - ``"even"``: equal parts.
  - fixed percentages: those parts (the teams file makes them add up to 100).

  A negative shared cost (a credit or refund on a shared account) is split by the same
  weights, so every share is zero or negative: no team's share has the opposite sign.
* Shares are exact: each is a multiple of a cent (or of the amount's own smallest digit when
  the source is more precise), and the largest-remainder method hands out the leftover units
  (ties go to the team listed first), so the shares add up to the shared amount exactly.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, localcontext
from fractions import Fraction
from typing import TypeVar

from engines.costs.query import CostResult, Dimension, DimensionKind
from engines.models import Metric, Period, SharedCost, Team

ExtraKey = tuple[str, ...]
"""The values of the dimensions the result was grouped by beyond allocation's, in order."""

_K = TypeVar("_K")
_ZERO = Decimal(0)
_CENT_EXPONENT = -2
# Sums are exact (huge precision) and any rounding would raise instead of passing silently.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[Inexact])


class AllocationInvariantError(RuntimeError):
    """The parts of an allocation do not add up to the source's total (a bug, never data)."""


def _sum(values: Iterable[Decimal]) -> Decimal:
    with localcontext(_EXACT):
        return sum(values, _ZERO)


# --- what an allocation answers ----------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    """Cost that several rules match, counted once under ``claimed_by``.

    Rules are named as in the teams file: ``teams.<name>`` or ``shared.<name>``.
    """

    claimed_by: str
    also_matched: tuple[str, ...]
    amount: Decimal


@dataclass(frozen=True)
class SharedSplit:
    """One shared cost in one currency and how it was divided.

    Args:
        name: the shared cost's name (``[shared.<name>]``).
        amount: its whole amount in the period.
        by_key: the amount by extra key (e.g. by service).
        shares: each sharing team's part; empty when unsplit.
        method: how it was divided, in plain words.
        unsplit_reason: why it could not be divided; empty when it was.
    """

    name: str
    amount: Decimal
    by_key: dict[ExtraKey, Decimal]
    shares: dict[str, Decimal]
    method: str
    unsplit_reason: str = ""

    @property
    def is_split(self) -> bool:
        return not self.unsplit_reason


@dataclass(frozen=True)
class TeamAllocation:
    """One team's cost in one currency: its own lines and its parts of shared costs.

    Args:
        direct: the lines the team's rule took, by extra key.
        shared: its share of each shared cost it takes part in, by shared cost name.
    """

    direct: dict[ExtraKey, Decimal]
    shared: dict[str, Decimal]

    @property
    def direct_total(self) -> Decimal:
        return _sum(self.direct.values())

    @property
    def shared_total(self) -> Decimal:
        return _sum(self.shared.values())

    @property
    def total(self) -> Decimal:
        return _sum((self.direct_total, self.shared_total))


@dataclass(frozen=True)
class CurrencyAllocation:
    """The allocation of one currency's cost.

    Args:
        currency: ISO code.
        teams: every team, in file order.
        untagged: the cost no rule matched, by extra key.
        shared: every shared cost that matched a line in this currency, in file order.
        overlaps: cost more than one rule matched.
        total: the source's total for this currency, summed straight from its groups.
    """

    currency: str
    teams: dict[str, TeamAllocation]
    untagged: dict[ExtraKey, Decimal]
    shared: tuple[SharedSplit, ...]
    overlaps: tuple[Overlap, ...]
    total: Decimal

    @property
    def untagged_total(self) -> Decimal:
        return _sum(self.untagged.values())

    @property
    def unsplit_shared(self) -> tuple[SharedSplit, ...]:
        """The shared costs that could not be divided (each says why)."""
        return tuple(split for split in self.shared if not split.is_split)

    @property
    def unsplit_total(self) -> Decimal:
        return _sum(split.amount for split in self.unsplit_shared)

    @property
    def allocated_total(self) -> Decimal:
        """Teams (direct + shares) + untagged + unsplit shared: equals ``total``."""
        teams = _sum(team.total for team in self.teams.values())
        return _sum((teams, self.untagged_total, self.unsplit_total))

    def check_invariant(self) -> None:
        """Raise ``AllocationInvariantError`` unless the parts add up to ``total`` exactly."""
        for split in self.shared:
            if split.is_split and _sum(split.shares.values()) != split.amount:
                raise AllocationInvariantError(
                    f"{self.currency}: the shares of {split.name} add up to "
                    f"{_sum(split.shares.values())}, not {split.amount}"
                )
        if self.allocated_total != self.total:
            raise AllocationInvariantError(
                f"{self.currency}: allocated {self.allocated_total}, source total {self.total}"
            )


@dataclass(frozen=True)
class Allocation:
    """Cost by team, per currency (largest total first), for one period and metric.

    ``extra_dimensions`` name the parts of every ``ExtraKey`` (e.g. ``(service,)``).
    """

    period: Period
    metric: Metric
    source: str
    extra_dimensions: tuple[Dimension, ...]
    currencies: dict[str, CurrencyAllocation]

    def check_invariant(self) -> None:
        """Raise ``AllocationInvariantError`` unless every currency adds up exactly."""
        for currency in self.currencies.values():
            currency.check_invariant()


# --- what to ask the source for ----------------------------------------------------------


def allocation_dimensions(
    teams: Mapping[str, Team], shared: Sequence[SharedCost] = ()
) -> tuple[Dimension, ...]:
    """The dimensions a cost query must group by so ``allocate`` can apply every rule.

    ``account`` when any rule names accounts, then ``tag:<key>`` for every tag key any rule
    uses, sorted. Nothing more: Cost Explorer groups by at most two dimensions.

    Args:
        teams: the teams, as ``load_config`` returns them.
        shared: the shared costs.
    """
    rules = [(team.tags, team.accounts) for team in teams.values()]
    rules += [(cost.tags, cost.accounts) for cost in shared]
    account = (Dimension(DimensionKind.ACCOUNT),) if any(acc for _, acc in rules) else ()
    keys = sorted({key for tags, _ in rules for key in tags})
    return account + tuple(Dimension(DimensionKind.TAG, key) for key in keys)


# --- allocating --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    label: str  # teams.<name> or shared.<name>
    name: str
    is_shared: bool
    tags: dict[str, str]
    accounts: tuple[str, ...]

    def matches(self, account: str, tags: Mapping[str, str]) -> bool:
        if not self.tags and not self.accounts:
            return False
        if any(tags.get(key) != value for key, value in self.tags.items()):
            return False
        return not self.accounts or account in self.accounts


@dataclass(frozen=True)
class _Layout:
    """Where the account, each tag and the extra dimensions sit in a group's key."""

    account: int | None
    tags: dict[str, int]
    extra: tuple[int, ...]

    def read(self, key: tuple[str, ...]) -> tuple[str, dict[str, str], ExtraKey]:
        account = key[self.account] if self.account is not None else ""
        tags = {tag: key[index] for tag, index in self.tags.items()}
        return account, tags, tuple(key[index] for index in self.extra)

    def pickers(
        self,
    ) -> tuple[Callable[[tuple[str, ...]], tuple[str, ...]], Callable[[tuple[str, ...]], ExtraKey]]:
        """Fast readers of a key's rule part (account and tags) and of its extra key."""
        rule_part = ([] if self.account is None else [self.account]) + list(self.tags.values())
        return _picker(tuple(rule_part)), _picker(self.extra)


def _picker(positions: tuple[int, ...]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """A function taking these positions of a key, as a tuple (fast: ``itemgetter``)."""
    if not positions:
        return lambda key: ()
    if len(positions) == 1:
        (only,) = positions
        return lambda key: (key[only],)
    return operator.itemgetter(*positions)


@dataclass
class _Tally:
    """Running sums for one currency while the groups are read."""

    direct: dict[str, dict[ExtraKey, Decimal]]
    shared: dict[str, dict[ExtraKey, Decimal]]
    untagged: dict[ExtraKey, Decimal]
    overlaps: dict[tuple[str, tuple[str, ...]], Decimal]
    total: Decimal = _ZERO


def allocate(
    result: CostResult,
    *,
    teams: Mapping[str, Team],
    shared: Sequence[SharedCost] = (),
) -> Allocation:
    """Allocate a grouped cost result to teams, shared costs and "untagged".

    Args:
        result: a source's answer to a query grouped by ``allocation_dimensions(teams,
            shared)`` in any order, plus any extra dimensions (e.g. ``service``); the extra
            dimensions' values, in query order, key each team's direct cost and untagged.
        teams: the teams in file order (the order decides overlaps).
        shared: the shared costs in file order; ``among`` empty means every team.

    Raises:
        ValueError: the result is not grouped by a dimension the rules need, a shared cost
            names a team not in ``teams``, or an amount is not a finite number.
    """
    dimensions = result.query.group_by
    layout = key_layout(dimensions, allocation_dimensions(teams, shared))
    rules = ordered_rules(teams, shared)
    _check_shared_teams(teams, shared)
    with localcontext(_EXACT):
        tallies = _tally(result, layout, rules)
        currencies = {
            currency: _currency_allocation(currency, tally, teams, shared)
            for currency, tally in _largest_first(tallies)
        }
    allocation = Allocation(
        period=result.query.period,
        metric=result.query.metric,
        source=result.source,
        extra_dimensions=tuple(dimensions[index] for index in layout.extra),
        currencies=currencies,
    )
    allocation.check_invariant()
    return allocation


def key_layout(dimensions: tuple[Dimension, ...], needed: tuple[Dimension, ...]) -> _Layout:
    missing = [d.label for d in needed if d not in dimensions]
    if missing:
        raise ValueError(
            f"the cost result is not grouped by {', '.join(missing)}: "
            "group by allocation_dimensions(teams, shared) plus any extra dimensions"
        )
    positions = {dimension: dimensions.index(dimension) for dimension in needed}
    account = positions.pop(Dimension(DimensionKind.ACCOUNT), None)
    tags = {dimension.tag_key: index for dimension, index in positions.items()}
    used = {*tags.values(), *([] if account is None else [account])}
    extra = tuple(index for index in range(len(dimensions)) if index not in used)
    return _Layout(account=account, tags=tags, extra=extra)


def ordered_rules(teams: Mapping[str, Team], shared: Sequence[SharedCost]) -> list[_Rule]:
    shared_rules = [
        _Rule(f"shared.{s.name}", s.name, True, dict(s.tags), tuple(s.accounts)) for s in shared
    ]
    team_rules = [
        _Rule(f"teams.{name}", name, False, dict(team.tags), tuple(team.accounts))
        for name, team in teams.items()
    ]
    return shared_rules + team_rules


def _check_shared_teams(teams: Mapping[str, Team], shared: Sequence[SharedCost]) -> None:
    for cost in shared:
        unknown = [name for name in _sharing_teams(cost, teams) if name not in teams]
        if unknown:
            raise ValueError(f"shared cost {cost.name} names unknown teams: {', '.join(unknown)}")


def _sharing_teams(cost: SharedCost, teams: Mapping[str, Team]) -> tuple[str, ...]:
    if isinstance(cost.split, dict):
        return tuple(cost.split)
    return cost.among or tuple(teams)


_Claim = tuple[str, tuple[str, ...]] | None
"""A combination's overlap: (the rule that took it, the others that match), or None."""


def _tally(result: CostResult, layout: _Layout, rules: list[_Rule]) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = {}
    # Which rules match depends on the account and tags only, not on the extra key (day,
    # service...): decide it once per combination, or a big org's day × service × team
    # groups would try every rule on every group (200 teams × 400,000 groups). Per currency
    # and combination, remember where its cost goes: a digest's groups then cost two
    # lookups and an addition each.
    combination_of, extra_of = layout.pickers()
    matching: dict[tuple[str, ...], list[_Rule]] = {}
    targets: dict[tuple[str, tuple[str, ...]], tuple[_Tally, dict[ExtraKey, Decimal], _Claim]] = {}
    for group in result.groups:
        amount = group.amount
        if not amount.is_finite():
            raise ValueError(f"cost group {group.key} has amount {group.amount}")
        key = group.key
        combination = combination_of(key)
        target = targets.get((group.currency, combination))
        if target is None:
            tally = tallies.setdefault(group.currency, _Tally({}, {}, {}, {}))
            matched = matching.get(combination)
            if matched is None:
                account, tags, _ = layout.read(key)
                matched = matching[combination] = [r for r in rules if r.matches(account, tags)]
            overlap: _Claim = None
            if not matched:
                by_key = tally.untagged
            else:
                winner = matched[0]
                by_key = (tally.shared if winner.is_shared else tally.direct).setdefault(
                    winner.name, {}
                )
                if len(matched) > 1:
                    overlap = (winner.label, tuple(rule.label for rule in matched[1:]))
            target = targets[(group.currency, combination)] = (tally, by_key, overlap)
        tally, by_key, overlap = target
        tally.total += amount
        extra_key = extra_of(key)
        by_key[extra_key] = by_key.get(extra_key, _ZERO) + amount
        if overlap is not None:
            _add(tally.overlaps, overlap, amount)
    return tallies


def direct_costs(
    result: CostResult, *, teams: Mapping[str, Team], shared: Sequence[SharedCost] = ()
) -> dict[str, dict[str, dict[ExtraKey, Decimal]]]:
    """Each team's own cost lines (``TeamAllocation.direct``) per currency, without
    splitting shared costs: what ``allocate`` gives as ``direct``, for a caller that takes
    the shares from another allocation (a digest's service detail over its last two weeks,
    split as its six weeks are).

    Raises:
        ValueError: as ``allocate``.
    """
    layout = key_layout(result.query.group_by, allocation_dimensions(teams, shared))
    _check_shared_teams(teams, shared)
    with localcontext(_EXACT):
        tallies = _tally(result, layout, ordered_rules(teams, shared))
    return {
        currency: {name: dict(tally.direct.get(name, {})) for name in teams}
        for currency, tally in tallies.items()
    }


def _add(sums: dict[_K, Decimal], key: _K, amount: Decimal) -> None:
    sums[key] = sums.get(key, _ZERO) + amount


def _largest_first(tallies: dict[str, _Tally]) -> list[tuple[str, _Tally]]:
    return sorted(tallies.items(), key=lambda item: (-item[1].total, item[0]))


def _currency_allocation(
    currency: str, tally: _Tally, teams: Mapping[str, Team], shared: Sequence[SharedCost]
) -> CurrencyAllocation:
    direct_totals = {name: _sum(tally.direct.get(name, {}).values()) for name in teams}
    splits = tuple(
        _split_shared(cost, tally.shared[cost.name], direct_totals, teams, currency)
        for cost in shared
        if cost.name in tally.shared
    )
    team_allocations = {
        name: TeamAllocation(
            direct=dict(tally.direct.get(name, {})),
            shared={s.name: s.shares[name] for s in splits if name in s.shares},
        )
        for name in teams
    }
    overlaps = tuple(
        Overlap(claimed_by=winner, also_matched=others, amount=amount)
        for (winner, others), amount in sorted(tally.overlaps.items())
    )
    return CurrencyAllocation(
        currency=currency,
        teams=team_allocations,
        untagged=dict(tally.untagged),
        shared=splits,
        overlaps=overlaps,
        total=tally.total,
    )


# --- splitting a shared cost -------------------------------------------------------------


def _split_shared(
    cost: SharedCost,
    by_key: dict[ExtraKey, Decimal],
    direct_totals: Mapping[str, Decimal],
    teams: Mapping[str, Team],
    currency: str,
) -> SharedSplit:
    amount = _sum(by_key.values())
    sharing = _sharing_teams(cost, teams)
    weights, method, reason = _weights(cost, sharing, direct_totals, currency)
    shares = split_exactly(amount, weights) if not reason else {}
    return SharedSplit(cost.name, amount, dict(by_key), shares, method, reason)


def _weights(
    cost: SharedCost, sharing: tuple[str, ...], direct_totals: Mapping[str, Decimal], currency: str
) -> tuple[dict[str, Decimal], str, str]:
    """Each sharing team's weight, the method in words, and why it cannot split (or "")."""
    names = ", ".join(sharing)
    if not sharing:
        return {}, "no teams", "there are no teams to share it among"
    if isinstance(cost.split, dict):
        parts = ", ".join(f"{team} {percent}%" for team, percent in cost.split.items())
        return dict(cost.split), f"fixed percentages: {parts}", ""
    if cost.split == "even":
        return {team: Decimal(1) for team in sharing}, f"evenly among {names}", ""
    weights = {team: max(direct_totals.get(team, _ZERO), _ZERO) for team in sharing}
    method = f"in proportion to the direct {currency} cost of {names}"
    if not any(weights.values()):
        reason = (
            f"split in proportion to direct cost, but {names} had no direct {currency} cost "
            "(or only credits) to weigh it by"
        )
        return weights, method, reason
    return weights, method, ""


def split_exactly(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Divide ``amount`` by ``weights`` so the parts add up to ``amount`` exactly.

    Every part is a multiple of one cent, or of the amount's smallest digit when that is
    finer. Each part first gets the whole units of its exact quota; the units left over go
    one each to the largest remainders (ties: the first listed). A negative amount is split
    as its absolute value, then negated, so all parts share its sign.

    Args:
        amount: a finite Decimal.
        weights: a weight of 0 or more per part, not all 0; order breaks ties.

    Raises:
        ValueError: a weight is negative, or all are 0.
    """
    if any(weight < 0 for weight in weights.values()) or not any(weights.values()):
        raise ValueError(f"weights must be 0 or more and not all 0, got {dict(weights)}")
    exponent = min(_exponent(amount), _CENT_EXPONENT)
    units = Fraction(amount) / Fraction(10) ** exponent
    sign, units_left = (-1 if units < 0 else 1), abs(int(units))
    total_weight = sum((Fraction(weight) for weight in weights.values()), Fraction(0))
    quotas = {
        name: units_left * Fraction(weight) / total_weight for name, weight in weights.items()
    }
    parts = {name: math.floor(quota) for name, quota in quotas.items()}
    leftover = units_left - sum(parts.values())
    order = list(weights)
    by_remainder = sorted(order, key=lambda name: (parts[name] - quotas[name], order.index(name)))
    for name in by_remainder[:leftover]:
        parts[name] += 1
    return {name: Decimal(f"{sign * part}E{exponent}") for name, part in parts.items()}


def _exponent(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"cannot split {amount}")
    return exponent
